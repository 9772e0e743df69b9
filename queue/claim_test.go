package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/store/postgres"
	"github.com/relais-edu/relais/store/sqlite"
)

// provider is a fake provider that remembers every message it took, by household.
type provider struct {
	mu     sync.Mutex
	name   relais.ChannelName
	took   map[int64]int // by household id
	calls  int
	script map[int64][]error // the answer to each call for a household, then success
}

func newProvider(name relais.ChannelName) *provider {
	return &provider{name: name, took: map[int64]int{}, script: map[int64][]error{}}
}

func (p *provider) Name() relais.ChannelName { return p.name }

func (p *provider) Send(_ context.Context, m channels.Message) (channels.Receipt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if s := p.script[m.Household.ID]; len(s) > 0 {
		p.script[m.Household.ID] = s[1:]
		var se *channels.SendError
		if errors.As(s[0], &se) && se.Ambiguous {
			p.took[m.Household.ID]++ // the provider took it; its answer was lost
		}
		return channels.Receipt{}, s[0]
	}
	p.took[m.Household.ID]++
	return channels.Receipt{ProviderID: fmt.Sprintf("P%d", m.Household.ID), Status: relais.DeliveryQueued}, nil
}

// askable is a provider that can be asked what it holds (as Twilio can).
type askable struct{ *provider }

func (a askable) Lookup(_ context.Context, m channels.Message, _ time.Time) (channels.Receipt, bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.took[m.Household.ID] == 0 {
		return channels.Receipt{}, false, nil
	}
	return channels.Receipt{ProviderID: fmt.Sprintf("P%d", m.Household.ID), Status: relais.DeliverySent}, true, nil
}

// Send has the message's claim checked right before the call, as the SMS channel does after its
// rate limiter's wait.
func (a askable) Send(ctx context.Context, m channels.Message) (channels.Receipt, error) {
	if err := m.BeginSend(); err != nil {
		return channels.Receipt{}, err
	}
	return a.provider.Send(ctx, m)
}

var _ channels.Reconciler = askable{}

// claimRig is a worker on a real Redis and store, with a clock the test moves.
type claimRig struct {
	w      *Worker
	store  relais.Store
	redis  asynq.RedisClientOpt
	insp   *asynq.Inspector
	lesson relais.Lesson
	hs     []relais.Household
	mu     sync.Mutex
	now    time.Time
}

func (r *claimRig) clock() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.now }
func (r *claimRig) wait(d time.Duration) {
	r.mu.Lock()
	r.now = r.now.Add(d)
	r.mu.Unlock()
}

func stores(testing.TB) map[string]func(t testing.TB) relais.Store {
	return map[string]func(t testing.TB) relais.Store{
		"sqlite": func(t testing.TB) relais.Store {
			s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "relais.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"postgres": func(t testing.TB) relais.Store {
			s, err := postgres.Open(context.Background(), testenv.Postgres(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
}

func newClaimRig(t testing.TB, store relais.Store, households int, chans ...channels.Channel) *claimRig {
	t.Helper()
	ctx := context.Background()
	addr, db := testenv.Redis(t)
	redis := asynq.RedisClientOpt{Addr: addr, DB: db}
	client := NewClient(redis)
	insp := asynq.NewInspector(redis)
	t.Cleanup(func() { client.Close(); insp.Close() })
	cfg := DefaultConfig()
	cfg.MediaDir = t.TempDir()
	r := &claimRig{store: store, redis: redis, insp: insp, now: time.Now()}
	r.w = NewWorker(redis, store, relaisRegistry(chans...), Pipeline{}, Links{}, client, cfg, slog.New(slog.DiscardHandler))
	r.w.now = r.clock
	r.lesson = relais.Lesson{Title: "T", Subject: "s", Grade: 5, Language: "fr", TeacherID: "t"}
	if err := store.CreateLesson(ctx, &r.lesson); err != nil {
		t.Fatal(err)
	}
	store.PutDigest(ctx, relais.Digest{LessonID: r.lesson.ID, Language: "fr", Body: "Leçon", Encoding: "GSM-7", Segments: 1})
	store.SetLessonStatus(ctx, r.lesson.ID, relais.LessonPublished, nil)
	for i := 0; i < households; i++ {
		r.hs = append(r.hs, relais.Household{ExternalRef: fmt.Sprint("H", i), Region: "IDF", Language: "fr", Grades: []int{5},
			Profile: relais.ProfileBroadband, Phone: fmt.Sprintf("+336120000%02d", i), Email: fmt.Sprintf("f%d@example.org", i), Consent: true})
	}
	if err := store.UpsertHouseholds(ctx, r.hs); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *claimRig) plan(t testing.TB, ch relais.ChannelName) []int64 {
	t.Helper()
	var ds []relais.Delivery
	for _, h := range r.hs {
		ds = append(ds, relais.Delivery{LessonID: r.lesson.ID, HouseholdID: h.ID, Channel: ch})
	}
	ids, err := r.store.PlanDeliveries(context.Background(), ds)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func (r *claimRig) statuses(t testing.TB, ids []int64) map[relais.DeliveryStatus]int {
	t.Helper()
	ds, err := r.store.DeliveriesByIDs(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	out := map[relais.DeliveryStatus]int{}
	for _, d := range ds {
		out[d.Status]++
	}
	return out
}

// wantStatuses fails the test when the deliveries' statuses, counted, are not want at the step when.
func (r *claimRig) wantStatuses(t testing.TB, ids []int64, when string, want map[relais.DeliveryStatus]int) {
	t.Helper()
	if diff := cmp.Diff(want, r.statuses(t, ids)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", when, diff)
	}
}

// sweepOrphans lets the claims age past OrphanAfter and runs the sweep, which must settle want of them.
func (r *claimRig) sweepOrphans(t testing.TB, want int) {
	t.Helper()
	r.wait(r.w.cfg.OrphanAfter + time.Second)
	if n, err := r.w.Sweep(context.Background()); err != nil || n != want {
		t.Fatalf("sweep settled %d, %v; want %d", n, err, want)
	}
}

// sendWhatTheSweepQueued runs the one send task the sweep queued, as a worker would.
func (r *claimRig) sendWhatTheSweepQueued(t testing.TB) {
	t.Helper()
	tasks, err := r.insp.ListPendingTasks(QueueSend)
	if err != nil || len(tasks) != 1 {
		t.Fatalf("send tasks queued by the sweep: %d, %v", len(tasks), err)
	}
	if err := r.w.handleSend(context.Background(), asynq.NewTask(tasks[0].Type, tasks[0].Payload)); err != nil {
		t.Fatal(err)
	}
}

// wantOneEach fails the test unless took, the messages a provider took by household id, holds one for
// each household of the rig.
func (r *claimRig) wantOneEach(t testing.TB, took map[int64]int) {
	t.Helper()
	want := map[int64]int{}
	for _, h := range r.hs {
		want[h.ID] = 1
	}
	if diff := cmp.Diff(want, took); diff != "" {
		t.Errorf("messages the provider took per household (-want +got):\n%s", diff)
	}
}

// killAfter runs the send task in a goroutine that dies right after the provider's n-th call, as with
// kill -9: its heartbeat stops and no line of the handler runs after it (the goroutine blocks for good).
func (r *claimRig) killAfter(t testing.TB, n int, send *asynq.Task, calls func() int) {
	t.Helper()
	dead := make(chan struct{})
	r.w.afterSend = func(die func()) {
		if calls() == n {
			close(dead)
			die()
		}
	}
	done := make(chan error, 1)
	go func() { done <- r.w.handleSend(context.Background(), send) }()
	select {
	case <-dead:
	case err := <-done:
		t.Fatalf("the send task finished (%v) instead of dying after %d calls", err, n)
	}
	r.w.afterSend = nil
}

// A worker killed mid-page: the re-run sends only what was never claimed, the sweep asks the provider
// about the dead attempt's claims, records those it holds and sends the others: every household gets
// its SMS once, and every delivery ends with the provider's word.
func TestKilledMidPageSendsNothingTwiceAndLosesNothing(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			p := newProvider(relais.ChannelSMS)
			r := newClaimRig(t, open(t), 25, askable{p})
			ids := r.plan(t, relais.ChannelSMS)
			send := task(TypeSend, SendPayload{Channel: relais.ChannelSMS, DeliveryIDs: ids})
			calls := func() int { p.mu.Lock(); defer p.mu.Unlock(); return p.calls }

			// Claims go 10 at a time: the worker dies after the 13th call, holding 11-20.
			r.killAfter(t, 13, send, calls)
			r.wantStatuses(t, ids, "after the kill", map[relais.DeliveryStatus]int{"queued": 10, "claimed": 10, "pending": 5})
			// asynq runs the task again: it leaves the dead attempt's claims alone.
			if err := r.w.handleSend(ctx, send); err != nil {
				t.Fatal(err)
			}
			if c := calls(); c != 18 {
				t.Errorf("provider called %d times after the re-run, want 18", c)
			}
			// Too early: a claim refreshed less than OrphanAfter ago is not touched.
			r.wait(r.w.cfg.OrphanAfter / 2)
			if n, err := r.w.Sweep(ctx); err != nil || n != 0 {
				t.Fatalf("early sweep settled %d, %v", n, err)
			}
			r.wait(r.w.cfg.OrphanAfter)
			n, err := r.w.Sweep(ctx)
			if err != nil || n != 10 {
				t.Fatalf("sweep settled %d, %v; want 10", n, err)
			}
			r.wantStatuses(t, ids, "after the sweep", map[relais.DeliveryStatus]int{"queued": 15, "sent": 3, "pending": 7})
			// The sweep queued the 7 the provider never saw.
			r.sendWhatTheSweepQueued(t)
			r.wantOneEach(t, p.took)
			if c := calls(); c != 25 {
				t.Errorf("provider called %d times, want 25", c)
			}
			r.wantStatuses(t, ids, "at the end", map[relais.DeliveryStatus]int{"queued": 22, "sent": 3})
		})
	}
}

// frozenBeat is a store whose heartbeat cannot refresh claims: a database too busy to take the write.
type frozenBeat struct{ relais.Store }

func (frozenBeat) RefreshClaims(context.Context, string, []int64, time.Time) error {
	return errors.New("database is locked")
}

// An attempt whose heartbeat could not refresh its claims while it waited (a busy database, a long
// wait for the rate) does not call the provider for a claim that another worker's sweep may have
// taken meanwhile: the sweep asks the provider and sends it, and every household gets its SMS once.
func TestStaleClaimIsLeftToTheSweep(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			p := newProvider(relais.ChannelSMS)
			r := newClaimRig(t, frozenBeat{open(t)}, 5, askable{p})
			ids := r.plan(t, relais.ChannelSMS)
			calls := func() int { p.mu.Lock(); defer p.mu.Unlock(); return p.calls }

			// After its first call the attempt stalls past OrphanAfter, and a sweep runs meanwhile: it
			// finds the first message at the provider and sends nothing; the four others it queues.
			swept, stalled := 0, false
			r.w.afterSend = func(func()) {
				if calls() == 1 && !stalled {
					stalled = true
					r.wait(r.w.cfg.OrphanAfter + time.Second)
					n, err := r.w.Sweep(ctx)
					if err != nil {
						t.Error(err)
					}
					swept = n
				}
			}
			if err := r.w.handleSend(ctx, task(TypeSend, SendPayload{Channel: relais.ChannelSMS, DeliveryIDs: ids})); err != nil {
				t.Fatal(err)
			}
			r.w.afterSend = nil
			if c := calls(); c != 1 || swept != 5 {
				t.Fatalf("the stalled attempt called the provider %d times and the sweep settled %d; want 1 and 5", c, swept)
			}
			r.sendWhatTheSweepQueued(t)
			r.wantOneEach(t, p.took)
		})
	}
}

// An email whose relay dropped the connection after DATA began may have gone: it stays claimed, the
// sweep marks it unknown (email cannot be asked), and "resend unknowns" sends it again. A relay
// answer that says it did not take the message (421) releases it for the task's retry instead.
func TestAmbiguousEmailBecomesUnknownAndIsResentOnDemand(t *testing.T) {
	ctx := context.Background()
	p := newProvider(relais.ChannelEmail)
	r := newClaimRig(t, stores(t)["sqlite"](t), 4, p)
	ids := r.plan(t, relais.ChannelEmail)
	p.script[r.hs[1].ID] = []error{&channels.SendError{Kind: channels.Retryable, Ambiguous: true, Err: errors.New("connection lost in DATA")}}
	p.script[r.hs[2].ID] = []error{&channels.SendError{Kind: channels.Throttled, Code: "421", RetryAfter: time.Second, Err: errors.New("421")}}
	send := task(TypeSend, SendPayload{Channel: relais.ChannelEmail, DeliveryIDs: ids})
	if err := r.w.handleSend(ctx, send); err == nil {
		t.Fatal("first run: no error, want the throttled one retried")
	}
	r.wantStatuses(t, ids, "after the first run", map[relais.DeliveryStatus]int{"queued": 2, "claimed": 1, "pending": 1})
	if err := r.w.handleSend(ctx, send); err != nil {
		t.Fatal(err)
	}
	r.sweepOrphans(t, 1)
	r.wantStatuses(t, ids, "after the sweep", map[relais.DeliveryStatus]int{"queued": 3, "unknown": 1})
	// An unknown stays so: neither the page's re-run nor another sweep sends it.
	if err := r.w.handleSend(ctx, send); err != nil {
		t.Fatal(err)
	}
	if p.calls != 5 {
		t.Errorf("provider called %d times, want 5 (4, then the throttled one again)", p.calls)
	}
	// The media unit's one action.
	if err := r.w.client.ResendUnknown(ctx, r.lesson.ID); err != nil {
		t.Fatal(err)
	}
	tasks, err := r.insp.ListPendingTasks(QueueDefault)
	if err != nil || len(tasks) != 1 || tasks[0].Type != TypeResendUnknown {
		t.Fatalf("queued: %v, %v", tasks, err)
	}
	if err := r.w.handleResendUnknown(ctx, asynq.NewTask(tasks[0].Type, tasks[0].Payload)); err != nil {
		t.Fatal(err)
	}
	sends, err := r.insp.ListPendingTasks(QueueSend)
	if err != nil || len(sends) != 1 {
		t.Fatalf("send tasks: %v, %v", sends, err)
	}
	if err := r.w.handleSend(ctx, asynq.NewTask(sends[0].Type, sends[0].Payload)); err != nil {
		t.Fatal(err)
	}
	r.wantStatuses(t, ids, "after resending unknowns", map[relais.DeliveryStatus]int{"queued": 4})
	evs, _ := r.store.DeliveryEvents(ctx, ids[1])
	var steps []relais.DeliveryStatus
	for _, e := range evs {
		steps = append(steps, e.Status)
	}
	if diff := cmp.Diff([]relais.DeliveryStatus{"pending", "claimed", "unknown", "pending", "queued"}, steps); diff != "" {
		t.Errorf("history of the unknown (-want +got):\n%s", diff)
	}
}

// A channel with no sender in this installation (no SMTP settings): its deliveries end skipped, with
// the reason, instead of waiting for ever.
func TestUnconfiguredChannelSkipsItsDeliveries(t *testing.T) {
	ctx := context.Background()
	r := newClaimRig(t, stores(t)["sqlite"](t), 3, newProvider(relais.ChannelSMS))
	ids := r.plan(t, relais.ChannelEmail)
	if err := r.w.handleSend(ctx, task(TypeSend, SendPayload{Channel: relais.ChannelEmail, DeliveryIDs: ids})); err != nil {
		t.Fatal(err)
	}
	ds, _ := r.store.DeliveriesByIDs(ctx, ids)
	for _, d := range ds {
		if d.Status != relais.DeliverySkipped || d.Reason != "the email channel is not configured" {
			t.Errorf("delivery %d: %s %q", d.ID, d.Status, d.Reason)
		}
	}
}

// Redis is down when the sweep would queue the sends the provider never saw: it claims them back, stale,
// and the next sweep, with Redis back, asks again and queues them: nothing is left pending with no task.
func TestSweepWithRedisDownLosesNothing(t *testing.T) {
	ctx := context.Background()
	p := newProvider(relais.ChannelSMS)
	r := newClaimRig(t, stores(t)["sqlite"](t), 10, askable{p})
	ids := r.plan(t, relais.ChannelSMS)
	send := task(TypeSend, SendPayload{Channel: relais.ChannelSMS, DeliveryIDs: ids})
	r.killAfter(t, 3, send, func() int { p.mu.Lock(); defer p.mu.Unlock(); return p.calls })
	up := r.w.client
	down := NewClient(asynq.RedisClientOpt{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond})
	defer down.Close()
	r.w.client = down
	r.wait(r.w.cfg.OrphanAfter + time.Second)
	if _, err := r.w.Sweep(ctx); err == nil {
		t.Fatal("sweep with Redis down: no error")
	}
	r.wantStatuses(t, ids, "after the sweep with Redis down", map[relais.DeliveryStatus]int{"sent": 3, "claimed": 7})
	r.w.client = up
	if n, err := r.w.Sweep(ctx); err != nil || n != 7 {
		t.Fatalf("sweep with Redis back settled %d, %v", n, err)
	}
	tasks, err := r.insp.ListPendingTasks(QueueSend)
	if err != nil || len(tasks) != 1 {
		t.Fatalf("send tasks: %d, %v", len(tasks), err)
	}
	if err := r.w.handleSend(ctx, asynq.NewTask(tasks[0].Type, tasks[0].Payload)); err != nil {
		t.Fatal(err)
	}
	r.wantStatuses(t, ids, "at the end", map[relais.DeliveryStatus]int{"sent": 3, "queued": 7})
	for _, h := range r.hs {
		if p.took[h.ID] != 1 {
			t.Errorf("household %d got %d messages", h.ID, p.took[h.ID])
		}
	}
}

// lateProvider is a provider that cannot be asked and claims each message as it sends it
// (channels.BeginCaller), as the email channel does once its SMTP connection is ready.
type lateProvider struct{ *provider }

func (l lateProvider) CallsBegin() bool { return true }

func (l lateProvider) Send(ctx context.Context, m channels.Message) (channels.Receipt, error) {
	if err := m.BeginSend(); err != nil {
		return channels.Receipt{}, err
	}
	return l.provider.Send(ctx, m)
}

var _ channels.BeginCaller = lateProvider{}

// On a channel that claims as it sends, a worker killed mid-page leaves one message of unknown fate
// (the one in flight), not a batch: the rest of the page was never claimed and goes with the re-run.
func TestLateClaimsLeaveOnlyTheMessageInFlight(t *testing.T) {
	ctx := context.Background()
	p := newProvider(relais.ChannelEmail)
	r := newClaimRig(t, stores(t)["sqlite"](t), 10, lateProvider{p})
	ids := r.plan(t, relais.ChannelEmail)
	send := task(TypeSend, SendPayload{Channel: relais.ChannelEmail, DeliveryIDs: ids})
	r.killAfter(t, 4, send, func() int { p.mu.Lock(); defer p.mu.Unlock(); return p.calls })
	r.wantStatuses(t, ids, "after the kill", map[relais.DeliveryStatus]int{"queued": 3, "claimed": 1, "pending": 6})
	if err := r.w.handleSend(ctx, send); err != nil {
		t.Fatal(err)
	}
	r.sweepOrphans(t, 1)
	r.wantStatuses(t, ids, "at the end", map[relais.DeliveryStatus]int{"queued": 9, "unknown": 1})
	if p.calls != 10 {
		t.Errorf("provider called %d times, want 10", p.calls)
	}
}

// On a channel that claims as it sends, the page goes in one call and each failure is judged as soon
// as it is answered, before the next message begins: a worker killed after a message the provider
// refused for now and one it refused for good still leaves only the message in flight claimed (the
// first released, the second failed), and the re-run sends the released one.
func TestLateClaimsJudgeFailuresAtOnce(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			p := newProvider(relais.ChannelEmail)
			r := newClaimRig(t, open(t), 10, lateProvider{p})
			ids := r.plan(t, relais.ChannelEmail)
			p.script[r.hs[1].ID] = []error{&channels.SendError{Kind: channels.Retryable, Code: "451", Err: errors.New("try again later")}}
			p.script[r.hs[2].ID] = []error{&channels.SendError{Kind: channels.Permanent, Code: "554", Err: errors.New("refused")}}
			send := task(TypeSend, SendPayload{Channel: relais.ChannelEmail, DeliveryIDs: ids})
			calls := func() int { p.mu.Lock(); defer p.mu.Unlock(); return p.calls }
			r.killAfter(t, 4, send, calls)
			r.wantStatuses(t, ids, "after the kill", map[relais.DeliveryStatus]int{"queued": 1, "pending": 7, "failed": 1, "claimed": 1})
			if err := r.w.handleSend(ctx, send); err != nil {
				t.Fatal(err)
			}
			r.sweepOrphans(t, 1)
			r.wantStatuses(t, ids, "at the end", map[relais.DeliveryStatus]int{"queued": 8, "failed": 1, "unknown": 1})
			for i, h := range r.hs {
				want := 1
				if i == 2 {
					want = 0
				}
				if p.took[h.ID] != want {
					t.Errorf("household %d got %d messages, want %d", i, p.took[h.ID], want)
				}
			}
		})
	}
}

// outage is a store whose writes of the send path fail while down is set: a database restarting.
type outage struct {
	relais.Store
	down atomic.Bool
	// beforeCommit, when set, runs at the start of each CommitSends.
	beforeCommit func(steps []relais.SendStep)
}

func (o *outage) CommitSends(ctx context.Context, steps []relais.SendStep) ([][]int64, error) {
	if o.beforeCommit != nil {
		o.beforeCommit(steps)
	}
	if o.down.Load() {
		return nil, errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	return o.Store.CommitSends(ctx, steps)
}

func (o *outage) RefreshClaims(ctx context.Context, attempt string, ids []int64, at time.Time) error {
	if o.down.Load() {
		return errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	return o.Store.RefreshClaims(ctx, attempt, ids, at)
}

// The database goes down for half a second after the provider took ten SMS: the send task cannot
// commit their outcomes with the next claims and ends, but it records them once the database is back
// instead of leaving them claimed for the sweep; the page's rest stays pending for the task's retry.
func TestOutcomesOutliveADatabaseOutage(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			p := newProvider(relais.ChannelSMS)
			store := &outage{Store: open(t)}
			r := newClaimRig(t, store, 25, askable{p})
			ids := r.plan(t, relais.ChannelSMS)
			r.w.afterSend = func(func()) {
				p.mu.Lock()
				calls := p.calls
				p.mu.Unlock()
				if calls == 10 {
					store.down.Store(true)
					time.AfterFunc(500*time.Millisecond, func() { store.down.Store(false) })
				}
			}
			err := r.w.handleSend(context.Background(), task(TypeSend, SendPayload{Channel: relais.ChannelSMS, DeliveryIDs: ids}))
			if err == nil {
				t.Fatal("the send task went on through the outage")
			}
			if p.calls != 10 {
				t.Errorf("provider called %d times, want 10", p.calls)
			}
			r.wantStatuses(t, ids, "after the outage", map[relais.DeliveryStatus]int{"queued": 10, "pending": 15})
		})
	}
}

// The database stays down longer than OrphanAfter after the provider took an email: as soon as it is
// back, another worker's sweep finds the claim grown old and calls the email unknown; the attempt's
// outcome, committed right after, replaces it. The email is recorded as the relay took it, not left
// unknown for the media unit to resend (a duplicate).
func TestOutcomeAfterTheSweepReplacesUnknown(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			p := newProvider(relais.ChannelEmail)
			store := &outage{Store: open(t)}
			r := newClaimRig(t, store, 4, lateProvider{p})
			ids := r.plan(t, relais.ChannelEmail)
			swept := -1
			var outage sync.Once
			r.w.afterSend = func(func()) {
				p.mu.Lock()
				calls := p.calls
				p.mu.Unlock()
				if calls == 2 {
					outage.Do(func() {
						store.down.Store(true)
						r.wait(r.w.cfg.OrphanAfter + time.Second) // the outage outlasts OrphanAfter
					})
				}
			}
			store.beforeCommit = func(steps []relais.SendStep) {
				// The claim of the third email fails, so the attempt commits the second's outcome on its
				// own: the database is back then, and the sweep is first.
				if store.down.Load() && len(steps[0].Claims) == 0 {
					store.down.Store(false)
					var err error
					if swept, err = r.w.Sweep(ctx); err != nil {
						t.Error(err)
					}
				}
			}
			send := task(TypeSend, SendPayload{Channel: relais.ChannelEmail, DeliveryIDs: ids})
			if err := r.w.handleSend(ctx, send); err == nil {
				t.Fatal("the send task ended without retrying the email whose claim failed")
			}
			if swept != 1 {
				t.Errorf("the sweep settled %d claims, want the one whose outcome was not committed", swept)
			}
			r.wantStatuses(t, ids, "after the outage", map[relais.DeliveryStatus]int{"queued": 3, "pending": 1})
			evs, err := store.DeliveryEvents(ctx, ids[1])
			if err != nil {
				t.Fatal(err)
			}
			var steps []relais.DeliveryStatus
			for _, e := range evs {
				steps = append(steps, e.Status)
			}
			if diff := cmp.Diff([]relais.DeliveryStatus{"pending", "unknown", "queued"}, steps); diff != "" {
				t.Errorf("history of the email in doubt (-want +got):\n%s", diff)
			}
			// The task's retry sends the rest, and each family has its one email.
			store.beforeCommit = nil
			r.w.afterSend = nil
			if err := r.w.handleSend(ctx, send); err != nil {
				t.Fatal(err)
			}
			r.wantStatuses(t, ids, "at the end", map[relais.DeliveryStatus]int{"queued": 4})
			r.wantOneEach(t, p.took)
		})
	}
}
