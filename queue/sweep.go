package queue

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

// sweepLimit is how many orphaned claims of a channel one sweep takes at a time.
const sweepLimit = 100

// sweeper runs, in every worker, the sweep of orphaned claims every SweepEvery and the check of
// deliveries whose provider status never came every StatusCheckEvery. Stop ends it and waits.
type sweeper struct {
	stop func()
	wg   sync.WaitGroup
}

func (w *Worker) startSweeper() {
	if w.cfg.SweepEvery <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &sweeper{stop: cancel}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(w.cfg.SweepEvery)
		defer tick.Stop()
		var lastCheck time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if _, err := w.Sweep(ctx); err != nil && ctx.Err() == nil {
				w.log.Warn("sweep of orphaned send claims", "err", err)
			}
			if w.cfg.StatusCheckEvery > 0 && time.Since(lastCheck) >= w.cfg.StatusCheckEvery {
				lastCheck = time.Now()
				if _, err := w.CheckStatuses(ctx); err != nil && ctx.Err() == nil {
					w.log.Warn("check of provider statuses", "err", err)
				}
			}
		}
	}()
	w.sweeper = s
}

func (w *Worker) stopSweeper() {
	if w.sweeper != nil {
		w.sweeper.stop()
		w.sweeper.wg.Wait()
	}
}

// Sweep reconciles the claims of send attempts that died: claims of every channel this worker sends
// on that were not refreshed for OrphanAfter. Each is taken with a conditional update (two workers
// sweeping at once never both act on one), then:
//   - on a channel whose provider can be asked (channels.Reconciler): found there, it records what the
//     provider says (status and id); not found, it goes back to pending and is queued to be sent, on
//     the sender the household remembers (a message queued without its lane goes on it: Message.Lane),
//     the one its other messages came from;
//   - otherwise (email): it becomes unknown, shown to the media unit, who may resend a lesson's
//     unknowns; it is never sent again by itself (under-send rather than over-send).
//
// It returns how many claims it settled.
func (w *Worker) Sweep(ctx context.Context) (int, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	attempt := fmt.Sprintf("sweep#%x", b)
	settled := 0
	for _, name := range w.channels.Names() {
		ch, _ := w.channels.Get(name)
		if err := w.resendPages(ctx, name, attempt); err != nil {
			return settled, err
		}
		for {
			now := w.now()
			ds, err := w.store.ReclaimDeliveries(ctx, name, now.Add(-w.cfg.OrphanAfter), attempt, now, sweepLimit)
			if err != nil {
				return settled, err
			}
			if len(ds) == 0 {
				break
			}
			n, err := w.reconcile(ctx, ch, ds, attempt)
			settled += n
			if err != nil {
				return settled, err
			}
			if len(ds) < sweepLimit {
				break
			}
		}
	}
	return settled, nil
}

// resendPages queues again the deliveries still pending in the pages of send attempts that died (their
// reservations were not refreshed for OrphanAfter): sends resume within OrphanAfter and a sweep rather
// than asynq's 30 s lease and one-minute recoverer. The original task, when asynq runs it again, and the
// new one send each delivery once: the claim decides.
func (w *Worker) resendPages(ctx context.Context, ch relais.ChannelName, attempt string) error {
	for {
		now := w.now()
		ids, err := w.store.ReclaimReserved(ctx, ch, now.Add(-w.cfg.OrphanAfter), attempt, now, 1000)
		if err != nil || len(ids) == 0 {
			return err
		}
		// On failure (Redis down) the reservations stay the sweep's, unrefreshed: a later sweep retries.
		if err := w.queueSendsAs(ctx, ch, ids, nil, ":again:"+attempt); err != nil {
			return err
		}
		if err := w.store.ClearReservations(ctx, attempt, ids); err != nil {
			return err
		}
		w.log.Info("pages of dead send attempts queued again", "channel", ch, "deliveries", len(ids))
		if len(ids) < 1000 {
			return nil
		}
	}
}

// reconcile settles claims ds taken by the sweep attempt.
func (w *Worker) reconcile(ctx context.Context, ch channels.Channel, ds []relais.Delivery, attempt string) (int, error) {
	rec, ok := ch.(channels.Reconciler)
	var advances []relais.DeliveryAdvance
	if !ok {
		for _, d := range ds {
			advances = append(advances, relais.DeliveryAdvance{ID: d.ID, Status: relais.DeliveryUnknown,
				Detail: "its send attempt stopped before the provider answered: it may have been sent; not sent again unless resent"})
		}
		_, err := w.store.AdvanceDeliveries(ctx, advances)
		if err == nil {
			w.log.Warn("orphaned send claims marked unknown", "channel", ch.Name(), "deliveries", len(ds))
		}
		return len(advances), err
	}
	hids := make([]int64, len(ds))
	for i, d := range ds {
		hids[i] = d.HouseholdID
	}
	hs, err := w.store.HouseholdsByIDs(ctx, hids)
	if err != nil {
		return 0, err
	}
	lessons := map[int64]*lessonContent{}
	lessonAirings := map[int64][]relais.Airing{}
	var resend []int64
	for _, d := range ds {
		h, ok := hs[d.HouseholdID]
		if !ok {
			advances = append(advances, relais.DeliveryAdvance{ID: d.ID, Status: relais.DeliveryUnknown,
				Detail: "its send attempt stopped before the provider answered, and the household was removed"})
			continue
		}
		lc, ok := lessons[d.LessonID]
		if !ok {
			if lc, err = w.loadLesson(ctx, d.LessonID); err != nil {
				return 0, err
			}
			lessons[d.LessonID] = lc
		}
		m := w.message(d, h, lc)
		claimedAt := d.UpdatedAt // the claim's time: refreshes and reclaims leave updated_at
		if w.beforeAiring(d.Channel) {
			as, ok := lessonAirings[d.LessonID]
			if !ok {
				if as, err = w.comingAirings(ctx, d.LessonID); err != nil {
					return 0, err
				}
				lessonAirings[d.LessonID] = as
			}
			m.Airing = airingOf(as, d, h, claimedAt)
		}
		r, found, err := rec.Lookup(ctx, m, claimedAt)
		var se *channels.SendError
		switch {
		case errors.As(err, &se) && se.Kind == channels.Permanent:
			// The message cannot even be built again (its broadcast is gone): nobody can tell.
			advances = append(advances, relais.DeliveryAdvance{ID: d.ID, Status: relais.DeliveryUnknown,
				Detail: "its send attempt stopped before the provider answered, and it cannot be looked up: " + se.Error()})
		case err != nil:
			// The provider cannot be asked now: the claim stays the sweep's, unrefreshed, and a later
			// sweep asks again.
			w.log.Warn("look up an orphaned send at the provider", "delivery_id", d.ID, "err", err)
		case found:
			status := r.Status
			if status == "" {
				status = relais.DeliveryQueued
			}
			advances = append(advances, relais.DeliveryAdvance{ID: d.ID, Status: status, ProviderID: r.ProviderID,
				Detail: "found at the provider after its send attempt stopped"})
		default:
			resend = append(resend, d.ID)
		}
	}
	if _, err := w.store.AdvanceDeliveries(ctx, advances); err != nil {
		return 0, err
	}
	released, err := w.store.ReleaseClaims(ctx, resend, attempt)
	if err != nil {
		return len(advances), err
	}
	if len(released) > 0 {
		// No lanes: the channel sends each on the sender its household remembers (Household.SMSSender),
		// which the fan-out wrote with the page's deliveries, not on the household's first choice.
		err = w.client.enqueue(ctx, TypeSend, SendPayload{Channel: ch.Name(), DeliveryIDs: released}, asynq.Queue(QueueSend),
			asynq.TaskID(fmt.Sprintf("%s:%s:%d:again:%d", TypeSend, ch.Name(), released[0], w.now().UnixNano())),
			asynq.MaxRetry(w.cfg.MaxRetry))
		if err != nil {
			// No task will send them (Redis is down): claim them back, already stale, so that the next
			// sweep asks the provider again and queues them then.
			if _, cerr := w.store.ClaimDeliveries(ctx, released, attempt, w.now().Add(-w.cfg.OrphanAfter-time.Second)); cerr != nil {
				err = errors.Join(err, cerr)
			}
			return len(advances), err
		}
		if err := w.store.ClearReservations(ctx, attempt, released); err != nil {
			return len(advances) + len(released), err
		}
		w.log.Info("orphaned sends not found at the provider, sent again", "channel", ch.Name(), "deliveries", len(released))
	}
	return len(advances) + len(released), nil
}

// CheckStatuses asks the provider the status of deliveries left queued or sent for StatusCheckAfter
// (their callbacks were lost, or never came), on channels that can be asked (channels.StatusFetcher),
// and records what it says. Deliveries older than two days are left as they are. It returns how many
// moved.
func (w *Worker) CheckStatuses(ctx context.Context) (int, error) {
	if w.cfg.StatusCheckAfter <= 0 {
		return 0, nil
	}
	moved := 0
	now := w.now()
	for _, name := range w.channels.Names() {
		ch, _ := w.channels.Get(name)
		sf, ok := ch.(channels.StatusFetcher)
		if !ok {
			continue
		}
		for _, st := range []relais.DeliveryStatus{relais.DeliveryQueued, relais.DeliverySending, relais.DeliverySent} {
			ds, err := w.store.Deliveries(ctx, relais.DeliveryFilter{Channel: name, Status: st,
				UpdatedBefore: now.Add(-w.cfg.StatusCheckAfter), UpdatedAfter: now.Add(-48 * time.Hour),
				Page: relais.Page{Limit: sweepLimit}})
			if err != nil {
				return moved, err
			}
			var advances []relais.DeliveryAdvance
			for _, d := range ds {
				if d.ProviderID == "" {
					continue
				}
				s, err := sf.FetchStatus(ctx, d.ProviderID)
				if err != nil {
					w.log.Warn("fetch a delivery's status at the provider", "delivery_id", d.ID, "err", err)
					continue
				}
				if d.Status.Advances(s) {
					advances = append(advances, relais.DeliveryAdvance{ID: d.ID, Status: s, Detail: "status fetched from the provider"})
				}
			}
			changed, err := w.store.AdvanceDeliveries(ctx, advances)
			if err != nil {
				return moved, err
			}
			for _, c := range changed {
				if c {
					moved++
				}
			}
		}
	}
	return moved, nil
}

// handleResendUnknown moves a lesson's unknown deliveries back to pending and queues the sends of
// every pending delivery of the lesson: a re-run after the move (the queueing failed) still finds
// them. A pending delivery already in a send task is sent once all the same: the claim decides.
func (w *Worker) handleResendUnknown(ctx context.Context, t *asynq.Task) error {
	var p LessonPayload
	if err := decode(t, &p); err != nil {
		return err
	}
	moved, err := w.store.ResendUnknown(ctx, p.LessonID)
	if err != nil {
		return err
	}
	run, ok := asynq.GetTaskID(ctx)
	if !ok {
		run = fmt.Sprint(w.now().UnixNano())
	}
	after := int64(0)
	for {
		ds, err := w.store.Deliveries(ctx, relais.DeliveryFilter{LessonID: p.LessonID, Status: relais.DeliveryPending,
			Page: relais.Page{After: after, Limit: 1000}})
		if err != nil {
			return err
		}
		byChannel := map[relais.ChannelName][]int64{}
		for _, d := range ds {
			byChannel[d.Channel] = append(byChannel[d.Channel], d.ID)
		}
		for ch, ids := range byChannel {
			// Task ids of their own: the page's first send task may still be kept by asynq.
			if err := w.queueSendsAs(ctx, ch, ids, nil, ":again:"+run); err != nil {
				return err
			}
		}
		if len(ds) < 1000 {
			break
		}
		after = ds[len(ds)-1].ID
	}
	w.log.Info("unknown deliveries resent", "lesson_id", p.LessonID, "deliveries", len(moved))
	return nil
}
