package queue

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

// handleFanout plans the deliveries of a run of households and queues their sends, a page at a time.
//
// The publish task cuts a lesson's households into segments of FanoutSegment household ids and queues
// a task for each segment that holds some, so that every worker process fans out segments in parallel.
// A segment's task plans pages for up to FanoutSlice, then queues its continuation (asynq re-delivers a
// task that was running at shutdown: a run re-does at most a slice). Each page is one transaction: it
// is planned whole or not at all, and a re-run of a page plans nothing new and re-queues only
// deliveries still pending. While the send backlog is full the fan-out waits in Redis, holding no
// worker.
func (w *Worker) handleFanout(ctx context.Context, t *asynq.Task) error {
	var p FanoutPayload
	if err := decode(t, &p); err != nil {
		return err
	}
	l, err := w.store.Lesson(ctx, p.LessonID)
	if err != nil {
		return w.lessonGone(p.LessonID, err)
	}
	if l.Status != relais.LessonPublished {
		return fmt.Errorf("fan-out of lesson %d in status %s: %w", l.ID, l.Status, asynq.SkipRetry)
	}
	filter := l.AudienceFilter()
	if p.After == 0 && p.Until == 0 {
		if err := w.refreshDigests(ctx, l); err != nil {
			return err
		}
		if err := w.ScheduleReminders(ctx, l.ID); err != nil {
			return err
		}
		if w.cfg.FanoutSegment > 0 {
			return w.queueSegments(ctx, l.ID, filter)
		}
	}
	deadline := time.Now().Add(w.cfg.FanoutSlice)
	for planned := false; ; planned = true {
		if full, err := w.backlogFull(ctx); err != nil {
			return w.goOnLater(ctx, p, planned, err)
		} else if full {
			if !planned {
				return errBacklog{wait: 2 * time.Second} // this task waits, and runs again as it is
			}
			return w.enqueueFanout(ctx, p, asynq.ProcessIn(2*time.Second))
		}
		filter.Page = relais.Page{After: p.After, Limit: w.cfg.FanoutPageSize}
		hs, err := w.store.Households(ctx, filter)
		if err != nil {
			return w.goOnLater(ctx, p, planned, err)
		}
		full := len(hs) == w.cfg.FanoutPageSize
		if p.Until > 0 {
			end := len(hs)
			for end > 0 && hs[end-1].ID > p.Until {
				end--
			}
			full = full && end == len(hs)
			hs = hs[:end]
		}
		if err := w.planPage(ctx, l, hs); err != nil {
			return w.goOnLater(ctx, p, planned, err)
		}
		if !full {
			w.log.Info("fan-out planned", "lesson_id", l.ID, "after", p.After, "until", p.Until)
			return nil
		}
		p.After = hs[len(hs)-1].ID
		if time.Now().After(deadline) {
			return w.enqueueFanout(ctx, p)
		}
	}
}

// goOnLater ends a run that failed (cause) after planning some pages by queueing the rest, from the
// first page not planned, FanoutResume later, instead of failing the task: asynq's retry would run the
// whole slice again from its start and queue the sends of the pages planned already a second time
// (their send tasks done and gone, the deliveries still pending are queued anew; the claim sends
// each once, but the senders read and skip the whole page again). A run that planned nothing fails
// (and is retried) as before, and so does one whose continuation cannot be queued.
func (w *Worker) goOnLater(ctx context.Context, p FanoutPayload, planned bool, cause error) error {
	if !planned || ctx.Err() != nil {
		return cause
	}
	if err := w.enqueueFanout(ctx, p, asynq.ProcessIn(w.cfg.FanoutResume)); err != nil {
		return cause
	}
	w.log.Warn("fan-out interrupted; the rest goes on in a new task", "lesson_id", p.LessonID, "after", p.After,
		"until", p.Until, "in", w.cfg.FanoutResume, "err", cause)
	return nil
}

// backlogFull reports whether the send backlog is still over MaxSendBacklog after waiting up to
// BacklogWait for the senders to take it below: a backlog that is full for a moment (the senders take
// tasks by the dozen) holds the fan-out for the moment only, and one that stays full gives the worker
// back (the caller waits in Redis). Waiting 2 s in Redis at every brief peak cost a sixth of a national
// fan-out's speed. A fan-out that waits here holds one of the worker's task slots, which its send
// tasks need to take the backlog down, so at most a quarter of the slots wait at once; the other
// fan-out tasks wait in Redis as before.
func (w *Worker) backlogFull(ctx context.Context) (bool, error) {
	backlog, err := w.client.Backlog(ctx)
	if err != nil || backlog <= w.cfg.MaxSendBacklog {
		return false, err
	}
	if w.cfg.BacklogWait <= 0 || w.backlogWaiters.Add(1) > int32(max(w.cfg.Concurrency/4, 1)) {
		w.backlogWaiters.Add(-1)
		return true, nil
	}
	defer w.backlogWaiters.Add(-1)
	until := time.Now().Add(w.cfg.BacklogWait)
	for time.Now().Before(until) {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(backlogPoll):
		}
		if backlog, err = w.client.Backlog(ctx); err != nil || backlog <= w.cfg.MaxSendBacklog {
			return false, err
		}
	}
	return true, nil
}

// backlogPoll is how often a fan-out waiting for the send backlog counts it again.
const backlogPoll = 50 * time.Millisecond

// queueSegments queues a fan-out task for each segment of FanoutSegment household ids that holds
// households of the filter: one keyset probe per such segment, none for the empty ones between.
func (w *Worker) queueSegments(ctx context.Context, lessonID int64, f relais.HouseholdFilter) error {
	size := w.cfg.FanoutSegment
	for start := int64(0); ; start += size {
		f.Page = relais.Page{After: start, Limit: 1}
		hs, err := w.store.Households(ctx, f)
		if err != nil {
			return err
		}
		if len(hs) == 0 {
			return nil
		}
		start += (hs[0].ID - 1 - start) / size * size // the segment (start, start+size] holding it
		if err := w.enqueueFanout(ctx, FanoutPayload{LessonID: lessonID, After: start, Until: start + size}); err != nil {
			return err
		}
	}
}

// enqueueFanout queues a run of a lesson's fan-out, named by its range (the publish task, named by the
// lesson alone, is running while it queues the first segment).
func (w *Worker) enqueueFanout(ctx context.Context, p FanoutPayload, opts ...asynq.Option) error {
	opts = append([]asynq.Option{asynq.Queue(QueueDefault), asynq.MaxRetry(w.cfg.MaxRetry),
		asynq.TaskID(fmt.Sprintf("%s:%d:%d:%d", TypeFanout, p.LessonID, p.After, p.Until))}, opts...)
	return w.client.enqueue(ctx, TypeFanout, p, opts...)
}

// planPage plans the deliveries of a page of households, every channel in one transaction, and
// queues the sends of those pending.
func (w *Worker) planPage(ctx context.Context, l relais.Lesson, hs []relais.Household) error {
	if len(hs) == 0 {
		return nil
	}
	rules := w.fanout()
	ds := make([]relais.Delivery, 0, 2*len(hs))
	for _, h := range hs {
		for _, r := range rules.Routes(h) {
			d := relais.Delivery{LessonID: l.ID, HouseholdID: h.ID, Channel: r.Channel}
			if r.Skip != "" {
				d.Status, d.Reason = relais.DeliverySkipped, r.Skip
			}
			ds = append(ds, d)
		}
	}
	lanes, choices, on := w.balance(ds, hs)
	if _, err := w.store.PlanPage(ctx, ds, choices); err != nil {
		return err
	}
	for j, c := range choices {
		for _, i := range on[j] {
			// The sender remembered: the one chosen, or one a fan-out of another lesson gave first.
			lanes[i] = c.Sender
		}
	}
	byChannel := map[relais.ChannelName][]int64{}
	laneNames := map[relais.ChannelName][]string{}
	var order []relais.ChannelName
	for i, d := range ds {
		if d.Status != relais.DeliveryPending {
			continue
		}
		if _, seen := byChannel[d.Channel]; !seen {
			order = append(order, d.Channel)
		}
		byChannel[d.Channel] = append(byChannel[d.Channel], d.ID)
		if lanes != nil {
			laneNames[d.Channel] = append(laneNames[d.Channel], lanes[i])
		}
	}
	for _, ch := range order {
		ls := laneNames[ch]
		if !slices.ContainsFunc(ls, func(l string) bool { return l != "" }) {
			ls = nil
		}
		if err := w.queueSendsAs(ctx, ch, byChannel[ch], ls, ""); err != nil {
			return err
		}
	}
	return nil
}

// balance chooses the lanes of the page's deliveries on channels with a pool (channels.Balancer): the
// page's households planned on one such channel (not skipped) are shared among its lanes at once,
// before their deliveries' status is known, so that a re-run of the page chooses the same. A household
// keeps the lane it remembers (Household.SMSSender) while the channel has it. It returns a lane name
// per delivery of ds ("" on other channels; nil when no channel of the page balances), and the choices
// to remember: the households given a lane other than the one they remember (their first, or one that
// replaces a lane gone), on[j] listing the deliveries of ds on choices[j]'s lane.
func (w *Worker) balance(ds []relais.Delivery, hs []relais.Household) (lanes []string, choices []relais.SenderChoice, on [][]int) {
	byID := make(map[int64]relais.Household, len(hs))
	for _, h := range hs {
		byID[h.ID] = h
	}
	batches := map[relais.ChannelName][]int{} // indices in ds
	var order []relais.ChannelName
	for i, d := range ds {
		if d.Status != relais.DeliverySkipped {
			if _, ok := batches[d.Channel]; !ok {
				order = append(order, d.Channel)
			}
			batches[d.Channel] = append(batches[d.Channel], i)
		}
	}
	chosen := map[int64]int{} // index in choices, by household
	for _, ch := range order {
		at := batches[ch]
		c, ok := w.channels.Get(ch)
		if !ok {
			continue
		}
		b, ok := c.(channels.Balancer)
		if !ok {
			continue
		}
		page := make([]relais.Household, len(at))
		for k, i := range at {
			page[k] = byID[ds[i].HouseholdID]
		}
		if lanes == nil {
			lanes = make([]string, len(ds))
		}
		for k, lane := range b.Balance(page) {
			lanes[at[k]] = lane
			h := page[k]
			if lane == "" || lane == h.SMSSender {
				continue
			}
			if j, ok := chosen[h.ID]; ok { // a second channel of the same pool
				on[j] = append(on[j], at[k])
				continue
			}
			chosen[h.ID] = len(choices)
			choices = append(choices, relais.SenderChoice{HouseholdID: h.ID, Was: h.SMSSender, Sender: lane})
			on = append(on, []int{at[k]})
		}
	}
	return lanes, choices, on
}

// refreshDigests rewrites the lesson's digests with its coming broadcasts, which the scheduler may
// have set since the lesson was processed. It runs on the first fan-out page, before any SMS is sent.
func (w *Worker) refreshDigests(ctx context.Context, l relais.Lesson) error {
	if w.pipeline.Airings == nil || w.pipeline.Digests == nil {
		return nil
	}
	airings, err := w.pipeline.Airings(ctx, l.ID)
	if err != nil || len(airings) == 0 {
		return err
	}
	ds, err := w.pipeline.Digests(ctx, l, airings)
	if err != nil {
		return fmt.Errorf("digests of lesson %d with its airings: %w", l.ID, err)
	}
	for _, d := range ds {
		d.LessonID = l.ID
		if err := w.store.PutDigest(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// queueSends splits pending delivery ids into send tasks of the channel's page size. The task id is
// the first delivery's id, so a re-run of the page does not queue the same page twice.
func (w *Worker) queueSends(ctx context.Context, ch relais.ChannelName, ids []int64) error {
	return w.queueSendsAs(ctx, ch, ids, nil, "")
}

// queueSendsAs is queueSends with each delivery's lane (nil: none chosen) and suffix added to the task ids.
func (w *Worker) queueSendsAs(ctx context.Context, ch relais.ChannelName, ids []int64, lanes []string, suffix string) error {
	size := w.cfg.SendPageSize[ch]
	if rs, ok := w.channels.Rules(ch); ok && size <= 0 {
		if p, ok := rs.(channels.Pager); ok {
			size = p.PageSize()
		}
	}
	if size <= 0 {
		size = 100
	}
	for start := 0; start < len(ids); start += size {
		page := ids[start:min(start+size, len(ids))]
		p := SendPayload{Channel: ch, DeliveryIDs: page}
		if lanes != nil {
			p.Lanes = lanes[start:min(start+size, len(ids))]
		}
		err := w.client.enqueue(ctx, TypeSend, p, asynq.Queue(QueueSend),
			asynq.TaskID(fmt.Sprintf("%s:%s:%d%s", TypeSend, ch, page[0], suffix)), asynq.MaxRetry(w.cfg.MaxRetry))
		if err != nil {
			return err
		}
	}
	return nil
}

// handleSend hands a page of deliveries to their channel, a few at a time: each delivery is claimed
// by this attempt (committed) before its provider is called, and the outcomes of a few messages are
// committed as soon as the provider answered, in the transaction that claims the next few (one commit
// per few messages, shared with the send tasks that commit at the same moment: groupCommit). A re-run
// of the page (after a crash, a retry, a lease lost) finds the deliveries this attempt sent already
// moved on, and those it claimed without an answer still claimed: it calls the provider for neither.
// A claim whose attempt died is reconciled by the sweep (sweep.go).
func (w *Worker) handleSend(ctx context.Context, t *asynq.Task) error {
	var p SendPayload
	if err := decode(t, &p); err != nil {
		return err
	}
	ch, ok := w.channels.Get(p.Channel)
	if !ok {
		return w.skipUnconfigured(ctx, p)
	}
	msgs, err := w.messages(ctx, p)
	if err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	ids := make([]int64, len(msgs))
	for i, m := range msgs {
		ids[i] = m.Delivery.ID
	}
	s := w.newSendRun(ctx, p.Channel, ids)
	defer s.stop()
	if !w.cfg.NoClaim {
		// The page is this attempt's while it runs: if it dies, the sweep sends the rest again.
		if err := w.store.ReserveDeliveries(ctx, ids, s.attempt, w.now()); err != nil {
			return err
		}
	}
	batch := max(w.cfg.ClaimBatch, 1)
	late := w.claimsLate(ch)
	// Late: the page goes to the channel at once (over one SMTP connection for email), each message
	// claimed when the channel begins it, in the commit that records the outcome of the message before
	// it, and the last outcome committed before the connection is let go (arm): one commit per message,
	// and a death leaves only the one in flight on each connection.
	if late || w.cfg.NoClaim { // NoClaim: as before the claim, the page's outcomes at its end
		batch = len(msgs)
	}
	for start := 0; start < len(msgs) && ctx.Err() == nil; start += batch {
		chunk := msgs[start:min(start+batch, len(msgs))]
		if late {
			chunk = s.arm(chunk)
		} else if chunk, err = s.claim(ctx, chunk); err != nil {
			return err
		}
		if err := s.record(chunk, w.send(ctx, s, ch, chunk)); err != nil {
			return err
		}
		if s.err != nil {
			return s.err
		}
	}
	if err := s.flush(); err != nil {
		return err
	}
	return s.finish(ctx, len(msgs))
}

// send hands msgs to ch, one by one unless it sends batches. A message not handed over because the
// context ended has errNotSent.
func (w *Worker) send(ctx context.Context, s *sendRun, ch channels.Channel, msgs []channels.Message) []channels.Result {
	if bs, ok := ch.(channels.BatchSender); ok && len(msgs) > 1 {
		if ctx.Err() != nil {
			return notSent(len(msgs), ctx.Err())
		}
		return bs.SendBatch(ctx, msgs)
	}
	results := make([]channels.Result, len(msgs))
	for i, m := range msgs {
		if ctx.Err() != nil {
			copy(results[i:], notSent(len(msgs)-i, ctx.Err()))
			break
		}
		r, err := ch.Send(ctx, m)
		results[i] = channels.Result{Receipt: r, Err: err}
		if m.Answered != nil {
			m.Answered(results[i]) // once: Answered ignores a message the channel answered already
		} else {
			s.answer(m.Delivery.ID, results[i])
		}
	}
	return results
}

func notSent(n int, cause error) []channels.Result {
	rs := make([]channels.Result, n)
	for i := range rs {
		rs[i].Err = &channels.SendError{Kind: channels.Retryable, Err: fmt.Errorf("not sent: %w", cause)}
	}
	return rs
}

// sendRun is one attempt at a send page: its claims, its heartbeat, and the outcomes not yet judged.
type sendRun struct {
	w        *Worker
	channel  relais.ChannelName
	attempt  string
	ids      []int64 // the page: every delivery the attempt may reserve or claim
	stopBeat func()
	retry    *channels.SendError
	retryIDs []int64 // released, to go again with the retry of the task
	unsure   int     // left claimed for the sweep
	// unsaved are the outcomes of messages the provider took, committed with the next claim (or by
	// flush); answered holds the deliveries whose answer was noted (answer), so that record does not
	// take an accepted one again.
	unsaved  []relais.DeliveryAdvance
	answered map[int64]bool
	// judged holds the failed messages record has judged as soon as they were answered (settle);
	// err is the first error doing so, which ends the handler.
	judged map[int64]bool
	err    error
	// refreshed is when the heartbeat last refreshed every claim of the attempt (Unix nanoseconds of
	// the time it wrote); see fence.
	refreshed atomic.Int64
}

// newSendRun names the attempt and starts its heartbeat: while the handler runs, its claims' time is
// refreshed every OrphanAfter/3, so that only the claims of a dead attempt grow old.
func (w *Worker) newSendRun(ctx context.Context, ch relais.ChannelName, ids []int64) *sendRun {
	id, _ := asynq.GetTaskID(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	s := &sendRun{w: w, channel: ch, attempt: fmt.Sprintf("%s#%x", id, b), ids: ids, answered: map[int64]bool{},
		judged: map[int64]bool{}}
	if w.cfg.NoClaim {
		s.stopBeat = func() {}
		return s
	}
	beat, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(max(w.cfg.OrphanAfter/3, 10*time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-beat.Done():
				return
			case <-tick.C:
				at := w.now()
				if err := w.store.RefreshClaims(beat, s.attempt, s.ids, at); err != nil && beat.Err() == nil {
					w.log.Warn("refresh send claims", "attempt", s.attempt, "err", err)
				} else if err == nil {
					s.refreshed.Store(at.UnixNano())
				}
			}
		}
	}()
	s.stopBeat = func() { stop(); <-done }
	return s
}

// stop ends the heartbeat and the attempt's reservations of deliveries still pending (released ones go
// with the task's retry, deferred ones with their own task).
// die, in tests, is the attempt's kill -9: its heartbeat stops and it never runs another line.
func (s *sendRun) die() {
	s.stopBeat()
	select {}
}

func (s *sendRun) stop() {
	if len(s.unsaved) > 0 { // the handler returned early: what was sent is recorded all the same
		if err := s.flushRetrying(); err != nil {
			s.w.log.Warn("record send outcomes", "attempt", s.attempt, "deliveries", len(s.unsaved), "err", err)
		}
	}
	s.stopBeat()
	if s.w.cfg.NoClaim {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.w.store.ClearReservations(ctx, s.attempt, s.ids); err != nil {
		s.w.log.Warn("clear send reservations", "attempt", s.attempt, "err", err)
	}
}

// claimsLate reports whether deliveries on ch are claimed one by one, when the channel is about to call
// its provider (channels.BeginCaller), rather than a few ahead: for a channel that cannot be asked
// afterwards (not a Reconciler), every claim a dead worker leaves is a message of unknown fate.
func (w *Worker) claimsLate(ch channels.Channel) bool {
	if w.cfg.NoClaim {
		return false
	}
	if _, ok := ch.(channels.Reconciler); ok {
		return false
	}
	b, ok := ch.(channels.BeginCaller)
	return ok && b.CallsBegin()
}

// errClaimedElsewhere is the result of a message another attempt claimed first: nothing to record.
var errClaimedElsewhere = &channels.SendError{Kind: channels.Retryable, Err: errors.New("claimed by another send attempt")}

// arm makes each message claim its delivery when the channel begins its send (Message.Begin), in the
// commit that records the outcome of the message answered before it, and judges each failure as soon
// as it is answered (settle); once the last of msgs is answered, before the channel lets go of the
// connection for another task's messages, the outcome not yet committed is. So at any moment at most
// the one message in flight on a connection is claimed without an outcome.
func (s *sendRun) arm(msgs []channels.Message) []channels.Message {
	out := make([]channels.Message, len(msgs))
	left := len(msgs)
	for i, m := range msgs {
		id := m.Delivery.ID
		m.Begin = func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := s.stepAt(ctx, []int64{id}, s.w.now(), true)
			if err != nil {
				return &channels.SendError{Kind: channels.Retryable, Err: fmt.Errorf("claim delivery %d: %w", id, err)}
			}
			if len(got) == 0 {
				return errClaimedElsewhere
			}
			return nil
		}
		m.Answered = func(r channels.Result) {
			if s.answered[id] {
				return
			}
			s.settle(m, r)
			if left--; left == 0 {
				if err := s.flush(); err != nil && s.err == nil {
					s.err = err
				}
			}
		}
		out[i] = m
	}
	return out
}

// answer notes the provider's answer to a message as soon as it comes: a message it took has its
// outcome committed with the next claim. In tests, afterSend runs here.
func (s *sendRun) answer(id int64, r channels.Result) {
	if s.answered[id] {
		return // the channel's Send answered it (Message.Answered) before returning
	}
	s.answered[id] = true
	if r.Err == nil {
		s.unsaved = append(s.unsaved, accepted(id, r.Receipt))
	}
	if s.w.afterSend != nil {
		s.w.afterSend(s.die)
	}
}

// settle notes the answer to m (answer) and, when it is a failure, judges it at once (record): a
// failure the provider certainly did not take is released, a permanent one recorded, an ambiguous one
// left to the sweep, before the next message of the page begins. The first error doing so ends the
// handler (s.err); the next message's claim would meet the same store.
func (s *sendRun) settle(m channels.Message, r channels.Result) {
	id := m.Delivery.ID
	if s.answered[id] {
		return
	}
	s.answer(id, r)
	if r.Err == nil {
		return
	}
	if err := s.record([]channels.Message{m}, []channels.Result{r}); err != nil && s.err == nil {
		s.err = err
	}
	s.judged[id] = true
}

func accepted(id int64, r channels.Receipt) relais.DeliveryAdvance {
	status := r.Status
	if status == "" {
		status = relais.DeliveryQueued
	}
	return relais.DeliveryAdvance{ID: id, Status: status, Detail: "accepted by provider", ProviderID: r.ProviderID}
}

// step commits the outcomes not yet committed and claims ids for this attempt, in one transaction
// shared with the other send tasks committing at the same moment; it returns the ids claimed. A claim
// alone (a message about to go over a connection that waits for it) goes straight to the store, not
// behind other tasks' outcomes: on PostgreSQL it is one statement.
func (s *sendRun) step(ctx context.Context, ids []int64) ([]int64, error) {
	return s.stepAt(ctx, ids, s.w.now(), false)
}

// stepAt is step with the claims' time at. A step a provider call waits for (waited: a message's
// Begin, its connection open) goes straight to a store whose writers work in parallel (PostgreSQL)
// rather than behind the commits of other tasks.
func (s *sendRun) stepAt(ctx context.Context, ids []int64, at time.Time, waited bool) ([]int64, error) {
	step := relais.SendStep{Advances: s.unsaved, Claims: ids, Attempt: s.attempt, At: at}
	var claimed []int64
	var err error
	if len(step.Advances) == 0 || waited && s.w.outcomes.writers > 1 {
		var got [][]int64
		if got, err = s.w.store.CommitSends(ctx, []relais.SendStep{step}); err == nil {
			claimed = got[0]
		}
	} else {
		claimed, err = s.w.outcomes.commit(ctx, step)
	}
	if err != nil {
		return nil, err // the outcomes stay unsaved: the next step or flush commits them
	}
	s.unsaved = nil
	return claimed, nil
}

// flush commits the outcomes not yet committed. It writes even when the handler's context has ended
// (shutdown): what was sent is recorded.
func (s *sendRun) flush() error {
	if len(s.unsaved) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := s.step(ctx, nil)
	return err
}

// flushRetrying is flush, tried again while the store fails for a reason of its own (unreachable,
// restarting: not a delivery gone) for up to OutcomeRetry, every 100 ms: the attempt knows what the
// provider said, and recorded as soon as the database is back, before the sweep finds the claims
// grown old, the outcomes are not lost (an email's would be unknown). The heartbeat goes on meanwhile.
func (s *sendRun) flushRetrying() error {
	deadline := time.Now().Add(s.w.cfg.OutcomeRetry)
	for {
		err := s.flush()
		if err == nil || relais.ErrorCode(err) != relais.EINTERNAL || !time.Now().Before(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// claim claims msgs for this attempt, committing the outcomes of those sent before, and returns those
// it holds: a delivery another attempt claimed (or sent) since the page was read is left to it.
func (s *sendRun) claim(ctx context.Context, msgs []channels.Message) ([]channels.Message, error) {
	if s.w.cfg.NoClaim {
		return msgs, nil
	}
	ids := make([]int64, len(msgs))
	for i, m := range msgs {
		ids[i] = m.Delivery.ID
	}
	at := s.w.now()
	claimed, err := s.stepAt(ctx, ids, at, false)
	if err != nil {
		return nil, err
	}
	held := msgs[:0:0]
	for _, m := range msgs {
		if _, ok := slices.BinarySearch(claimed, m.Delivery.ID); ok {
			m.Delivery.Status, m.Delivery.ClaimedBy, m.Delivery.ClaimedAt = relais.DeliveryClaimed, s.attempt, at
			m.Begin = s.fence(m.Delivery.ClaimedAt)
			held = append(held, m)
		}
	}
	return held, nil
}

// errStaleClaim is the result of a message whose claim may have aged past OrphanAfter before its
// provider call (the heartbeat could not refresh it while the message waited for its turn): the sweep
// may have taken it, so it is not sent; it stays claimed, and the sweep asks the provider and sends it.
var errStaleClaim = &channels.SendError{Kind: channels.Retryable, Err: errors.New("claim not refreshed in time: left to the sweep")}

// fence is a claimed message's Begin for a channel that claims ahead (the SMS channel calls it after
// its rate limiter's wait, right before the provider call): the message goes only while its claim,
// made at claimedAt or refreshed since, is younger than half of OrphanAfter, so that no sweep can have
// taken it (the sweep takes claims older than OrphanAfter) and the call has the other half to end in.
func (s *sendRun) fence(claimedAt time.Time) func() error {
	return func() error {
		fresh := max(claimedAt.UnixNano(), s.refreshed.Load())
		if s.w.now().Sub(time.Unix(0, fresh)) > s.w.cfg.OrphanAfter/2 {
			return errStaleClaim
		}
		return nil
	}
}

// record judges the outcomes of msgs: accepted ones are committed with the next claim (or by flush);
// permanent failures move on; a failure the provider certainly did not take releases the claim (the
// task's retry sends it); an ambiguous one stays claimed for the sweep. When some failed, every
// outcome is committed at once. It writes even when the handler's context has ended (shutdown): what
// was sent is recorded.
func (s *sendRun) record(msgs []channels.Message, results []channels.Result) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(context.Background()), 10*time.Second)
	defer cancel()
	var release []int64
	var permanent []int
	var ambiguous []relais.DeliveryEvent
	for i, res := range results {
		m := msgs[i]
		if res.Err == errClaimedElsewhere || s.judged[m.Delivery.ID] {
			continue
		}
		if res.Err == errStaleClaim {
			s.unsure++ // left claimed: the sweep asks the provider and sends it
			continue
		}
		if res.Err == nil {
			if !s.answered[m.Delivery.ID] { // a BatchSender that does not call Message.Answered
				s.unsaved = append(s.unsaved, accepted(m.Delivery.ID, res.Receipt))
			}
			continue
		}
		se := channels.ClassOf(res.Err)
		switch {
		case se.Kind == channels.Permanent:
			s.unsaved = append(s.unsaved, relais.DeliveryAdvance{ID: m.Delivery.ID, Status: relais.DeliveryFailed, Detail: se.Error()})
			permanent = append(permanent, i)
			continue
		case se.Ambiguous && !s.w.cfg.NoClaim:
			s.unsure++
			ambiguous = append(ambiguous, relais.DeliveryEvent{DeliveryID: m.Delivery.ID, Status: relais.DeliveryClaimed,
				Detail: "no clear answer from the provider, to be reconciled: " + se.Error()})
		default:
			release = append(release, m.Delivery.ID)
			s.retryIDs = append(s.retryIDs, m.Delivery.ID)
		}
		if s.retry == nil || se.Kind == channels.Throttled && se.RetryAfter > s.retry.RetryAfter {
			s.retry = se
		}
	}
	if len(release) == 0 && len(permanent) == 0 && len(ambiguous) == 0 {
		return nil
	}
	if err := s.flush(); err != nil {
		return err
	}
	for _, e := range ambiguous {
		if err := s.w.store.AddDeliveryEvent(ctx, e); err != nil {
			return err
		}
	}
	if !s.w.cfg.NoClaim {
		if _, err := s.w.store.ReleaseClaims(ctx, release, s.attempt); err != nil {
			return err
		}
	}
	for _, i := range permanent {
		if err := s.w.recordContact(ctx, msgs[i], channels.ClassOf(results[i].Err)); err != nil {
			return err
		}
	}
	return nil
}

// finish translates the page's outcome to asynq: nil when everything was sent or judged, an error
// (retried with backoff, or after Retry-After) when some were released, failed on the last try.
func (s *sendRun) finish(ctx context.Context, total int) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("send %d %s deliveries: %w", total, s.channel, err)
	}
	if s.retry == nil || len(s.retryIDs) == 0 {
		return nil // ambiguous ones are the sweep's
	}
	if lastAttempt(ctx) && s.retry.Kind != channels.Throttled {
		var advances []relais.DeliveryAdvance
		for _, id := range s.retryIDs {
			advances = append(advances, relais.DeliveryAdvance{ID: id, Status: relais.DeliveryFailed,
				Detail: fmt.Sprintf("gave up after %d tries: %v", s.w.cfg.MaxRetry+1, s.retry.Err)})
		}
		_, err := s.w.store.AdvanceDeliveries(ctx, advances)
		return err
	}
	return fmt.Errorf("send %d of %d %s deliveries: %w", len(s.retryIDs), total, s.channel, s.retry)
}

// skipUnconfigured ends the pending deliveries of a page whose channel has no sender in this
// installation: skipped, with the reason, instead of pending for ever.
func (w *Worker) skipUnconfigured(ctx context.Context, p SendPayload) error {
	ds, err := w.store.DeliveriesByIDs(ctx, p.DeliveryIDs)
	if err != nil {
		return err
	}
	var skips []relais.DeliveryAdvance
	for _, d := range ds {
		if d.Status == relais.DeliveryPending {
			skips = append(skips, relais.DeliveryAdvance{ID: d.ID, Status: relais.DeliverySkipped,
				Detail: fmt.Sprintf("the %s channel is not configured", p.Channel)})
		}
	}
	if _, err := w.store.AdvanceDeliveries(ctx, skips); err != nil {
		return err
	}
	w.log.Warn("deliveries skipped: channel not configured", "channel", p.Channel, "deliveries", len(skips))
	return nil
}

// recordContact records what a permanent failure tells about the recipient's address.
func (w *Worker) recordContact(ctx context.Context, m channels.Message, se *channels.SendError) error {
	if se.Contact == relais.ContactOK {
		return nil
	}
	_, err := w.ledger.Record(ctx, channels.Verdict{Channel: m.Delivery.Channel, DeliveryID: m.Delivery.ID,
		Contact: w.channels.ContactVerdictOf(m.Delivery.Channel, m.Household, se.Contact)})
	return err
}

// messages loads what the channel needs for the still-pending deliveries of a page, skipping (and
// recording) those that can no longer be sent and deferring those in quiet hours.
func (w *Worker) messages(ctx context.Context, p SendPayload) ([]channels.Message, error) {
	ds, err := w.store.DeliveriesByIDs(ctx, p.DeliveryIDs)
	if err != nil {
		return nil, err
	}
	var hids []int64
	for _, d := range ds {
		hids = append(hids, d.HouseholdID)
	}
	hs, err := w.store.HouseholdsByIDs(ctx, hids)
	if err != nil {
		return nil, err
	}
	now := w.now()
	deferred := map[time.Time][]int64{}
	var skips []relais.DeliveryAdvance
	skip := func(id int64, reason string) {
		skips = append(skips, relais.DeliveryAdvance{ID: id, Status: relais.DeliverySkipped, Detail: reason})
	}
	lanes := map[int64]string{}
	for i, id := range p.DeliveryIDs {
		if i < len(p.Lanes) && p.Lanes[i] != "" {
			lanes[id] = p.Lanes[i]
		}
	}
	rules := w.fanout()
	var candidates []relais.Delivery
	var claims []relais.ContactClaim
	lessonAirings := map[int64][]relais.Airing{}
	airings := map[int64]*relais.Airing{} // by reminder delivery id
	for _, d := range ds {
		if d.Status != relais.DeliveryPending {
			continue
		}
		h, ok := hs[d.HouseholdID]
		if !ok {
			skip(d.ID, "household removed")
			continue
		}
		if reason := rules.StillReachable(h, d.Channel); reason != "" {
			skip(d.ID, reason)
			continue
		}
		if w.beforeAiring(d.Channel) {
			if d.Occurrence > 0 && time.Unix(d.Occurrence, 0).Before(now) {
				skip(d.ID, "the broadcast has begun")
				continue
			}
			as, err := cached(ctx, lessonAirings, d.LessonID, w.comingAirings)
			if err != nil {
				return nil, err
			}
			a := airingOf(as, d, h, now)
			if a == nil {
				skip(d.ID, "the broadcast was cancelled")
				continue
			}
			airings[d.ID] = a
			if w.quiet(d.Channel) && w.cfg.SendWindow(h, d.Channel, now).After(a.Start) {
				skip(d.ID, "quiet hours last until after the broadcast")
				continue
			}
		}
		if w.quiet(d.Channel) {
			if at := w.cfg.SendWindow(h, d.Channel, now); at.After(now) {
				at = at.Truncate(time.Minute).Add(time.Minute) // one task per minute of opening, not per household
				deferred[at] = append(deferred[at], d.ID)
				continue
			}
		}
		candidates = append(candidates, d)
		if c := w.channels.Contact(d.Channel, h); c.Shared && c.Address != "" {
			contact := c.Address
			if d.Occurrence > 0 {
				contact += fmt.Sprintf(" @%d", d.Occurrence) // one reminder per shared phone and airing
			}
			claims = append(claims, relais.ContactClaim{LessonID: d.LessonID, Channel: d.Channel, Contact: contact, DeliveryID: d.ID})
		}
	}
	owners, err := w.store.ClaimContacts(ctx, claims)
	if err != nil {
		return nil, err
	}
	lessons := map[int64]*lessonContent{}
	var msgs []channels.Message
	var ids []int64
	for _, d := range candidates {
		if owner, claimed := owners[d.ID]; claimed && owner != d.ID {
			skip(d.ID, fmt.Sprintf("same %s contact as delivery %d", d.Channel, owner))
			continue
		}
		lc, err := cached(ctx, lessons, d.LessonID, w.loadLesson)
		if err != nil {
			return nil, err
		}
		m := w.message(d, hs[d.HouseholdID], lc)
		m.Airing = airings[d.ID]
		m.Lane = lanes[d.ID]
		msgs = append(msgs, m)
		ids = append(ids, d.ID)
	}
	if _, err := w.store.AdvanceDeliveries(ctx, skips); err != nil {
		return nil, err
	}
	if err := w.store.StartAttempts(ctx, ids); err != nil {
		return nil, err
	}
	for at, ids := range deferred {
		// Nothing is dropped: the deliveries stay pending and go out when the window opens, on their lanes.
		dp := SendPayload{Channel: p.Channel, DeliveryIDs: ids}
		if len(lanes) > 0 {
			dp.Lanes = make([]string, len(ids))
			for i, id := range ids {
				dp.Lanes[i] = lanes[id]
			}
		}
		err := w.client.enqueue(ctx, TypeSend, dp, asynq.Queue(QueueSend),
			asynq.ProcessAt(at), asynq.MaxRetry(w.cfg.MaxRetry),
			asynq.TaskID(fmt.Sprintf("%s:%s:%d:at:%d", TypeSend, p.Channel, ids[0], at.Unix())))
		if err != nil {
			return nil, err
		}
		w.log.Info("sends deferred by quiet hours", "channel", p.Channel, "deliveries", len(ids), "until", at)
	}
	return msgs, nil
}

// cached returns byID[id], loading it on the first ask.
func cached[V any](ctx context.Context, byID map[int64]V, id int64, load func(context.Context, int64) (V, error)) (V, error) {
	if v, ok := byID[id]; ok {
		return v, nil
	}
	v, err := load(ctx, id)
	if err == nil {
		byID[id] = v
	}
	return v, err
}

// quiet reports whether sends on ch wait for the end of the household's quiet hours: the channel
// keeps them (channels.QuietHoursKeeper) and quiet hours are set.
func (w *Worker) quiet(ch relais.ChannelName) bool {
	if w.cfg.SendWindow == nil {
		return false
	}
	rs, ok := w.channels.Rules(ch)
	if !ok {
		return false
	}
	q, ok := rs.(channels.QuietHoursKeeper)
	return ok && q.KeepsQuietHours()
}

// beforeAiring reports whether ch goes before a broadcast (it follows another channel: the reminder):
// its message names the airing, and it is not sent once the airing has begun or was cancelled.
func (w *Worker) beforeAiring(ch relais.ChannelName) bool {
	rs, ok := w.channels.Rules(ch)
	if !ok {
		return false
	}
	_, ok = rs.(channels.Follower)
	return ok
}

// message builds what a channel needs to send d to h.
func (w *Worker) message(d relais.Delivery, h relais.Household, lc *lessonContent) channels.Message {
	m := channels.Message{Delivery: d, Household: h, Lesson: lc.lesson, Digest: lc.digest(h.Language), Worksheet: lc.worksheet}
	if w.links.Lesson != nil {
		m.LessonURL = w.links.Lesson(d.LessonID, h.ID)
	}
	if w.links.Unsubscribe != nil && w.channels.Contact(d.Channel, h).Kind == channels.ContactEmail {
		m.UnsubscribeURL = w.links.Unsubscribe(h)
	}
	return m
}

// handleResend sends a delivery again after a soft bounce (email). Its status stays as it was (the
// relay took it before); the history records the new try, and a permanent failure fails it.
func (w *Worker) handleResend(ctx context.Context, t *asynq.Task) error {
	var p ResendPayload
	if err := decode(t, &p); err != nil {
		return err
	}
	ds, err := w.store.DeliveriesByIDs(ctx, []int64{p.DeliveryID})
	if err != nil {
		return err
	}
	if len(ds) == 0 {
		return fmt.Errorf("resend delivery %d: no such delivery: %w", p.DeliveryID, asynq.SkipRetry)
	}
	d := ds[0]
	if d.Status != relais.DeliverySent && d.Status != relais.DeliveryQueued && d.Status != relais.DeliveryDelivered {
		return nil // pending ones go with their page; failed or skipped ones stay so
	}
	ch, ok := w.channels.Get(d.Channel)
	if !ok {
		return fmt.Errorf("no %s channel is configured: %w", d.Channel, asynq.SkipRetry)
	}
	hs, err := w.store.HouseholdsByIDs(ctx, []int64{d.HouseholdID})
	if err != nil {
		return err
	}
	h, ok := hs[d.HouseholdID]
	reason := "household removed"
	if ok {
		reason = w.fanout().StillReachable(h, d.Channel)
	}
	if reason != "" {
		return w.store.AddDeliveryEvent(ctx, relais.DeliveryEvent{DeliveryID: d.ID, Status: d.Status, Detail: "not sent again: " + reason})
	}
	lc, err := w.loadLesson(ctx, d.LessonID)
	if err != nil {
		return err
	}
	m := w.message(d, h, lc)
	r, err := ch.Send(ctx, m)
	if err != nil {
		se := channels.ClassOf(err)
		if se.Kind != channels.Permanent {
			return fmt.Errorf("resend delivery %d: %w", d.ID, se)
		}
		if _, err := w.store.AdvanceDelivery(ctx, d.ID, relais.DeliveryFailed, se.Error(), ""); err != nil {
			return err
		}
		return w.recordContact(ctx, m, se)
	}
	if r.ProviderID != "" {
		if _, err := w.store.AdvanceDelivery(ctx, d.ID, d.Status, "", r.ProviderID); err != nil {
			return err
		}
	}
	return w.store.AddDeliveryEvent(ctx, relais.DeliveryEvent{DeliveryID: d.ID, Status: d.Status, Detail: "sent again after a soft bounce"})
}

type lessonContent struct {
	lesson    relais.Lesson
	digests   map[string]*relais.Digest
	worksheet *relais.Worksheet
}

// digest returns the digest in lang, else in the lesson's own language.
func (lc *lessonContent) digest(lang string) *relais.Digest {
	if d, ok := lc.digests[lang]; ok {
		return d
	}
	return lc.digests[lc.lesson.Language]
}

func (w *Worker) loadLesson(ctx context.Context, id int64) (*lessonContent, error) {
	l, err := w.store.Lesson(ctx, id)
	if err != nil {
		return nil, err
	}
	lc := &lessonContent{lesson: l, digests: map[string]*relais.Digest{}}
	ds, err := w.store.Digests(ctx, id)
	if err != nil {
		return nil, err
	}
	for i := range ds {
		lc.digests[ds[i].Language] = &ds[i]
	}
	ws, err := w.store.Worksheet(ctx, id)
	if err == nil {
		lc.worksheet = &ws
	} else if relais.ErrorCode(err) != relais.ENOTFOUND {
		return nil, err
	}
	return lc, nil
}
