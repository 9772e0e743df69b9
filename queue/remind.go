package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/fanout"
)

// ScheduleReminders queues a reminder task for each coming airing of a published lesson, at the
// airing minus the reminder lead. It runs when a lesson is published and when its slots change; a
// task already queued for the same airing is left as it is, and a task whose airing was moved or
// cancelled finds nothing to remind of when it runs.
func (w *Worker) ScheduleReminders(ctx context.Context, lessonID int64) error {
	if w.cfg.ReminderLead <= 0 || w.pipeline.Airings == nil {
		return nil
	}
	l, err := w.store.Lesson(ctx, lessonID)
	if err != nil || l.Status != relais.LessonPublished {
		return err
	}
	airings, err := w.pipeline.Airings(ctx, lessonID)
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

// handleRemind plans and queues the reminders of one airing, if the lesson still airs then: to the
// households of the lesson's grade in the station's region that the lesson reaches by SMS. Each family
// gets one reminder per lesson, whatever the number of airings.
func (w *Worker) handleRemind(ctx context.Context, t *asynq.Task) error {
	var p RemindPayload
	if err := decode(t, &p); err != nil {
		return err
	}
	l, err := w.store.Lesson(ctx, p.LessonID)
	if err != nil {
		return w.lessonGone(p.LessonID, err)
	}
	if l.Status != relais.LessonPublished || w.pipeline.Airings == nil {
		return nil
	}
	airings, err := w.pipeline.Airings(ctx, l.ID)
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
	for after := int64(0); ; {
		hs, err := w.store.Households(ctx, relais.HouseholdFilter{Grade: l.Grade, Region: airing.Region,
			Page: relais.Page{After: after, Limit: w.cfg.FanoutPageSize}})
		if err != nil {
			return err
		}
		var ds []relais.Delivery
		for _, h := range hs {
			if l.Region != "" && h.Region != l.Region {
				continue
			}
			for _, r := range fanout.Routes(h) {
				if r.Channel == relais.ChannelSMS && r.Skip == "" {
					ds = append(ds, relais.Delivery{LessonID: l.ID, HouseholdID: h.ID, Channel: relais.ChannelReminder})
				}
			}
		}
		ids, err := w.store.PlanDeliveries(ctx, ds)
		if err != nil {
			return err
		}
		if err := w.queueSends(ctx, relais.ChannelReminder, ids); err != nil {
			return err
		}
		if len(hs) < w.cfg.FanoutPageSize {
			return nil
		}
		after = hs[len(hs)-1].ID
	}
}

// airingOf returns the airing a reminder page is about, the next one of the lesson.
func (w *Worker) airingOf(ctx context.Context, lessonID int64) (*relais.Airing, error) {
	if w.pipeline.Airings == nil {
		return nil, nil
	}
	as, err := w.pipeline.Airings(ctx, lessonID)
	if err != nil || len(as) == 0 {
		return nil, err
	}
	now := w.now()
	for i := range as {
		if as[i].Start.After(now.Add(-time.Minute)) {
			return &as[i], nil
		}
	}
	return nil, nil
}
