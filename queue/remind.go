package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

// ScheduleReminders queues a reminder task for each coming airing of a published lesson (every slot
// on every station, re-runs included), at the airing minus the reminder lead. It runs when a lesson is
// published and when its slots change; a task already queued for the same airing is left as it is, and
// a task whose airing was moved or cancelled finds nothing to remind of when it runs.
func (w *Worker) ScheduleReminders(ctx context.Context, lessonID int64) error {
	if w.cfg.ReminderLead <= 0 || w.pipeline.Airings == nil && w.pipeline.AllAirings == nil {
		return nil
	}
	l, err := w.store.Lesson(ctx, lessonID)
	if err != nil || l.Status != relais.LessonPublished {
		return err
	}
	airings, err := w.comingAirings(ctx, lessonID)
	if err != nil {
		return err
	}
	now := w.now()
	for _, a := range airings {
		at := a.Start.Add(-w.cfg.ReminderLead)
		if !a.Start.After(now) {
			continue
		}
		if at.Before(now) {
			at = now // published or moved inside the lead: remind now
		}
		p := RemindPayload{LessonID: lessonID, Station: a.Station, Start: a.Start.Unix()}
		err := w.client.enqueue(ctx, TypeRemind, p, asynq.Queue(QueueDefault), asynq.ProcessAt(at), asynq.MaxRetry(w.cfg.MaxRetry),
			asynq.TaskID(fmt.Sprintf("%s:%d:%s:%d", TypeRemind, lessonID, a.Station, p.Start)))
		if err != nil {
			return err
		}
	}
	return nil
}

// comingAirings lists every coming broadcast of a lesson: AllAirings, else the first on each station.
func (w *Worker) comingAirings(ctx context.Context, lessonID int64) ([]relais.Airing, error) {
	if w.pipeline.AllAirings != nil {
		return w.pipeline.AllAirings(ctx, lessonID)
	}
	if w.pipeline.Airings != nil {
		return w.pipeline.Airings(ctx, lessonID)
	}
	return nil, nil
}

// handleRemind plans and queues the reminders of one airing, if the lesson still airs then: to the
// households of the lesson's audience in the station's region that the lesson reaches by SMS. Each family
// gets one reminder per airing, on its one reminder delivery of the lesson, which each airing re-arms
// (DeliveryStore.RemindDeliveries): a second run of the task, or a second station airing the lesson at
// the same time, plans nothing more.
func (w *Worker) handleRemind(ctx context.Context, t *asynq.Task) error {
	p, l, err := taskLesson[RemindPayload](ctx, w, t)
	if err != nil {
		return err
	}
	if l.Status != relais.LessonPublished || w.pipeline.Airings == nil && w.pipeline.AllAirings == nil {
		return nil
	}
	airings, err := w.comingAirings(ctx, l.ID)
	if err != nil {
		return err
	}
	var airing *relais.Airing
	for i, a := range airings {
		if a.Station == p.Station && a.Start.Unix() == p.Start {
			airing = &airings[i]
		}
	}
	if airing == nil {
		// The slot was moved or cancelled: remind of where it airs now, if anywhere.
		w.log.Info("reminder of a moved or cancelled airing dropped", "lesson_id", l.ID, "station", p.Station)
		return w.ScheduleReminders(ctx, l.ID)
	}
	rules := w.fanout()
	// Pages as the fan-out's (FanoutPageSize households from the start of each segment of ids): without
	// a region, a page's SMS households are the digest's page, and share the senders as it did.
	for after := int64(0); ; {
		f := l.AudienceFilter()
		f.Region, f.Page = airing.Region, relais.Page{After: after, Limit: w.cfg.FanoutPageSize}
		hs, err := w.store.Households(ctx, f)
		if err != nil {
			return err
		}
		full, next := len(hs) == w.cfg.FanoutPageSize, int64(0)
		if size := w.cfg.FanoutSegment; size > 0 {
			until := (after/size + 1) * size
			end := len(hs)
			for end > 0 && hs[end-1].ID > until {
				end--
			}
			if end < len(hs) {
				hs, full, next = hs[:end], true, until // the next segment's pages start at its start
			}
		}
		if len(hs) > 0 && next == 0 {
			next = hs[len(hs)-1].ID
		}
		// Reminders go on the channels that follow the ones the lesson reaches the household by.
		byChannel := map[relais.ChannelName][]relais.Delivery{}
		members := map[relais.ChannelName][]relais.Household{}
		var order []relais.ChannelName
		for _, h := range hs {
			for _, r := range rules.Routes(h) {
				if r.Skip != "" {
					continue
				}
				for _, f := range w.channels.Followers(r.Channel) {
					if _, seen := byChannel[f]; !seen {
						order = append(order, f)
					}
					byChannel[f] = append(byChannel[f], relais.Delivery{LessonID: l.ID, HouseholdID: h.ID, Channel: f, Occurrence: p.Start})
					members[f] = append(members[f], h)
				}
			}
		}
		for _, ch := range order {
			ids, held, err := w.store.RemindDeliveries(ctx, byChannel[ch])
			if err != nil {
				return err
			}
			if held > 0 {
				// Their reminder of an earlier airing has not gone yet: it is not taken from its send task.
				w.log.Info("reminders still pending for an earlier airing left as they are", "lesson_id", l.ID,
					"station", p.Station, "start", p.Start, "deliveries", held)
			}
			lanes, err := w.reminderLanes(ctx, ch, members[ch], ids)
			if err != nil {
				return err
			}
			if err := w.queueSendsAs(ctx, ch, ids, lanes, ""); err != nil {
				return err
			}
		}
		if !full {
			return nil
		}
		after = next
	}
}

// reminderLanes chooses the senders of a page's reminders on channel ch, when it has a pool
// (channels.Balancer): the page's households that ch follows, shared at once; it returns the lane of
// each delivery of ids, nil when ch does not balance.
func (w *Worker) reminderLanes(ctx context.Context, ch relais.ChannelName, page []relais.Household, ids []int64) ([]string, error) {
	c, ok := w.channels.Get(ch)
	if !ok || len(ids) == 0 {
		return nil, nil
	}
	b, ok := c.(channels.Balancer)
	if !ok {
		return nil, nil
	}
	byHousehold := map[int64]string{}
	for i, lane := range b.Balance(page) {
		byHousehold[page[i].ID] = lane
	}
	ds, err := w.store.DeliveriesByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	household := make(map[int64]int64, len(ds))
	for _, d := range ds {
		household[d.ID] = d.HouseholdID
	}
	lanes := make([]string, len(ids))
	for i, id := range ids {
		lanes[i] = byHousehold[household[id]]
	}
	return lanes, nil
}

// airingOf returns the airing reminder d to h is about, among the lesson's coming airings as: the one
// at d's occurrence on a station h receives (any station then, if h moved), or, for a reminder planned
// before reminders named their airing, the next one. Nil when the lesson no longer airs then.
func airingOf(as []relais.Airing, d relais.Delivery, h relais.Household, now time.Time) *relais.Airing {
	if d.Occurrence == 0 {
		for i := range as {
			if as[i].Start.After(now.Add(-time.Minute)) {
				return &as[i]
			}
		}
		return nil
	}
	var elsewhere *relais.Airing
	for i := range as {
		if as[i].Start.Unix() != d.Occurrence {
			continue
		}
		if as[i].Region == "" || as[i].Region == h.Region {
			return &as[i]
		}
		if elsewhere == nil {
			elsewhere = &as[i]
		}
	}
	return elsewhere
}
