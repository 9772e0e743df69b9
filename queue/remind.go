package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
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
	for after := int64(0); ; {
		f := l.AudienceFilter()
		f.Region, f.Page = airing.Region, relais.Page{After: after, Limit: w.cfg.FanoutPageSize}
		hs, err := w.store.Households(ctx, f)
		if err != nil {
			return err
		}
		// Reminders go on the channels that follow the ones the lesson reaches the household by.
		byChannel := map[relais.ChannelName][]relais.Delivery{}
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
			if err := w.queueSends(ctx, ch, ids); err != nil {
				return err
			}
		}
		if len(hs) < w.cfg.FanoutPageSize {
			return nil
		}
		after = hs[len(hs)-1].ID
	}
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
