package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/channels/email"
	"github.com/relais-edu/relais/channels/postal"
	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/store/postgres"
	"github.com/relais-edu/relais/store/sqlite"
)

func TestMain(m *testing.M) {
	if url := os.Getenv("RELAIS_FANOUT_CHILD"); url != "" { // a worker process of BenchmarkFanoutScale
		os.Exit(fanoutChildMain(url, os.Getenv("RELAIS_FANOUT_CHILD_REDIS")))
	}
	os.Exit(testenv.Main(m))
}

// fakeChannel answers each send with the next scripted result for that household, then success.
type fakeChannel struct {
	mu     sync.Mutex
	name   relais.ChannelName
	script map[int64][]error // by household id
	sent   map[int64]int     // successful sends by household id
	calls  int
}

var _ channels.Channel = (*fakeChannel)(nil)

func (f *fakeChannel) Name() relais.ChannelName { return f.name }

func (f *fakeChannel) Send(_ context.Context, m channels.Message) (channels.Receipt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if s := f.script[m.Household.ID]; len(s) > 0 {
		f.script[m.Household.ID] = s[1:]
		if s[0] != nil {
			return channels.Receipt{}, s[0]
		}
	}
	f.sent[m.Household.ID]++
	return channels.Receipt{ProviderID: fmt.Sprintf("P%d", m.Delivery.ID), Status: relais.DeliveryQueued}, nil
}

type fixture struct {
	w      *Worker
	store  relais.Store
	client *Client
	insp   *asynq.Inspector
	ch     *fakeChannel
	lesson relais.Lesson
	hs     []relais.Household
}

func newFixture(t testing.TB, households int, edit func(*Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	addr, db := testenv.Redis(t)
	redis := asynq.RedisClientOpt{Addr: addr, DB: db}
	store := openStore(t)
	client := NewClient(redis)
	insp := asynq.NewInspector(redis)
	t.Cleanup(func() { client.Close(); insp.Close() })
	ch := &fakeChannel{name: relais.ChannelSMS, script: map[int64][]error{}, sent: map[int64]int{}}
	cfg := DefaultConfig()
	cfg.MediaDir = t.TempDir()
	if edit != nil {
		edit(&cfg)
	}
	w := NewWorker(redis, store, relaisRegistry(ch), Pipeline{}, Links{}, client, cfg, slog.New(slog.DiscardHandler))
	f := &fixture{w: w, store: store, client: client, insp: insp, ch: ch}
	f.lesson = relais.Lesson{Title: "T", Subject: "s", Grade: 5, Language: "fr", TeacherID: "t"}
	if err := store.CreateLesson(ctx, &f.lesson); err != nil {
		t.Fatal(err)
	}
	store.PutDigest(ctx, relais.Digest{LessonID: f.lesson.ID, Language: "fr", Body: "Leçon", Encoding: "GSM-7", Segments: 1})
	store.SetLessonStatus(ctx, f.lesson.ID, relais.LessonPublished, nil)
	for i := 0; i < households; i++ {
		f.hs = append(f.hs, relais.Household{ExternalRef: fmt.Sprint("H", i), Region: "IDF", Language: "fr", Grades: []int{5},
			Profile: relais.ProfileSMSOnly, Phone: fmt.Sprintf("+336120000%02d", i), Consent: true})
	}
	if err := store.UpsertHouseholds(ctx, f.hs); err != nil {
		t.Fatal(err)
	}
	return f
}

// forEachStore runs test on each store engine, as subtests named after them: the queue runs on the
// real database of either (newFixture opens the one of the subtest).
func forEachStore(t *testing.T, test func(t *testing.T)) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, test)
	}
}

// openStore opens a new store on the engine of the forEachStore subtest t runs in (SQLite outside
// one): a PostgreSQL database of the test cluster holding the schema, or a SQLite file.
func openStore(t testing.TB) relais.Store {
	t.Helper()
	ctx := context.Background()
	var store relais.Store
	var err error
	if slices.Contains(strings.Split(t.Name(), "/"), "postgres") {
		url := testenv.PostgresFrom(t, "relais_queue", func(ctx context.Context, url string) error {
			db, err := postgres.Open(ctx, url)
			if err != nil {
				return err
			}
			return db.Close()
		})
		store, err = postgres.Open(ctx, url)
	} else {
		store, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "relais.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// relaisRegistry registers chans (fakes standing in for providers) and knows the rules of Relais'
// channels, as main wires them.
func relaisRegistry(chans ...channels.Channel) *channels.Registry {
	return channels.NewRegistry(chans...).Know(sms.Rules{}, sms.ReminderRules{}, email.Rules{}, &postal.Channel{})
}

func task(typ string, payload any) *asynq.Task {
	b, _ := json.Marshal(payload)
	return asynq.NewTask(typ, b)
}

// plan writes one pending SMS delivery per household and returns their ids.
func (f *fixture) plan(t testing.TB) []int64 {
	t.Helper()
	var ds []relais.Delivery
	for _, h := range f.hs {
		ds = append(ds, relais.Delivery{LessonID: f.lesson.ID, HouseholdID: h.ID, Channel: relais.ChannelSMS})
	}
	ids, err := f.store.PlanDeliveries(context.Background(), ds)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func (f *fixture) statuses(t testing.TB, ids []int64) []relais.DeliveryStatus {
	t.Helper()
	ds, err := f.store.DeliveriesByIDs(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	var out []relais.DeliveryStatus
	for _, d := range ds {
		out = append(out, d.Status)
	}
	return out
}

func TestSendRetriesOnlyWhatDidNotGo(t *testing.T) {
	forEachStore(t, func(t *testing.T) {
		f := newFixture(t, 3, nil)
		ids := f.plan(t)
		f.ch.script[f.hs[1].ID] = []error{&channels.SendError{Kind: channels.Retryable, Code: "500", Err: errors.New("twilio 500")}}
		send := task(TypeSend, SendPayload{Channel: relais.ChannelSMS, DeliveryIDs: ids})

		err := f.w.handleSend(context.Background(), send)
		var se *channels.SendError
		if !errors.As(err, &se) || se.Kind != channels.Retryable {
			t.Fatalf("first run: err = %v, want the retryable failure so asynq retries", err)
		}
		if diff := cmp.Diff([]relais.DeliveryStatus{"queued", "pending", "queued"}, f.statuses(t, ids)); diff != "" {
			t.Errorf("after first run (-want +got):\n%s", diff)
		}
		// asynq runs the task again: only the failed delivery goes; then a third run sends nothing.
		for run := 2; run <= 3; run++ {
			if err := f.w.handleSend(context.Background(), send); err != nil {
				t.Fatalf("run %d: %v", run, err)
			}
		}
		want := map[int64]int{f.hs[0].ID: 1, f.hs[1].ID: 1, f.hs[2].ID: 1}
		if diff := cmp.Diff(want, f.ch.sent); diff != "" {
			t.Errorf("provider accepted per household (-want +got):\n%s", diff)
		}
		if f.ch.calls != 4 {
			t.Errorf("provider called %d times, want 4 (3 + one retry)", f.ch.calls)
		}
		ds, _ := f.store.DeliveriesByIDs(context.Background(), ids)
		var attempts []int
		for _, d := range ds {
			attempts = append(attempts, d.Attempts)
		}
		if diff := cmp.Diff([]int{1, 2, 1}, attempts); diff != "" {
			t.Errorf("attempts per delivery (-want +got):\n%s", diff)
		}
	})
}

func TestPermanentFailureMarksTheContactAndIsNotRetried(t *testing.T) {
	forEachStore(t, func(t *testing.T) {
		f := newFixture(t, 2, nil)
		ids := f.plan(t)
		f.ch.script[f.hs[0].ID] = []error{&channels.SendError{Kind: channels.Permanent, Code: "21211", Contact: relais.ContactInvalid,
			Err: errors.New("invalid To")}}
		f.ch.script[f.hs[1].ID] = []error{&channels.SendError{Kind: channels.Permanent, Code: "21610", Contact: relais.ContactOptedOut,
			Err: errors.New("unsubscribed recipient")}}
		if err := f.w.handleSend(context.Background(), task(TypeSend, SendPayload{Channel: relais.ChannelSMS, DeliveryIDs: ids})); err != nil {
			t.Fatalf("a page of permanent failures is done, not retried: %v", err)
		}
		if diff := cmp.Diff([]relais.DeliveryStatus{"failed", "failed"}, f.statuses(t, ids)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		h0, _ := f.store.Household(context.Background(), f.hs[0].ID)
		h1, _ := f.store.Household(context.Background(), f.hs[1].ID)
		if h0.PhoneStatus != relais.ContactInvalid || !h1.SMSOptOut {
			t.Errorf("contacts: h0 phone %q, h1 opted out %v", h0.PhoneStatus, h1.SMSOptOut)
		}
		ds, _ := f.store.DeliveriesByIDs(context.Background(), ids[:1])
		if ds[0].Reason != "permanent failure (code 21211): invalid To" {
			t.Errorf("reason = %q", ds[0].Reason)
		}
	})
}

func TestThrottlingWaitsWithoutUsingARetry(t *testing.T) {
	forEachStore(t, func(t *testing.T) {
		throttled := fmt.Errorf("send: %w", &channels.SendError{Kind: channels.Throttled, RetryAfter: 7 * time.Second, Err: errors.New("429")})
		if isFailure(throttled) {
			t.Error("a throttled send counts as a failure")
		}
		if d := retryDelay(1, throttled, nil); d != 7*time.Second {
			t.Errorf("retry delay = %s, want the provider's Retry-After 7s", d)
		}
		retryable := &channels.SendError{Kind: channels.Retryable, Err: errors.New("500")}
		if !isFailure(retryable) {
			t.Error("a 500 does not count as a failure")
		}
		if isFailure(errBacklog{wait: time.Second}) || retryDelay(1, errBacklog{wait: 3 * time.Second}, nil) != 3*time.Second {
			t.Error("a waiting fan-out uses a retry or the wrong delay")
		}
	})
}

func TestQuietHoursDeferWithoutDropping(t *testing.T) {
	forEachStore(t, func(t *testing.T) {
		paris, _ := time.LoadLocation("Europe/Paris")
		f := newFixture(t, 2, func(c *Config) {
			c.SendWindow = func(h relais.Household, ch relais.ChannelName, now time.Time) time.Time {
				return sms.NextSendTime(now, paris, sms.DefaultQuietHours())
			}
		})
		// Saturday 27 March 2027, 23:30 in Paris; the next day is a Sunday (quiet all day) and the clocks
		// go forward that night: the window opens on Monday 29 March at 08:00 CEST. (A date in the future,
		// so that asynq keeps the task scheduled.)
		f.w.now = func() time.Time { return time.Date(2027, 3, 27, 23, 30, 0, 0, paris) }
		ids := f.plan(t)
		if err := f.w.handleSend(context.Background(), task(TypeSend, SendPayload{Channel: relais.ChannelSMS, DeliveryIDs: ids})); err != nil {
			t.Fatal(err)
		}
		if f.ch.calls != 0 {
			t.Errorf("sent %d SMS in quiet hours", f.ch.calls)
		}
		if diff := cmp.Diff([]relais.DeliveryStatus{"pending", "pending"}, f.statuses(t, ids)); diff != "" {
			t.Errorf("deferred deliveries (-want +got):\n%s", diff)
		}
		scheduled, err := f.insp.ListScheduledTasks(QueueSend)
		if err != nil || len(scheduled) != 1 {
			t.Fatalf("scheduled sends = %d (%v), want 1", len(scheduled), err)
		}
		want := time.Date(2027, 3, 29, 8, 1, 0, 0, paris)
		if !scheduled[0].NextProcessAt.Equal(want) {
			t.Errorf("deferred to %s, want %s", scheduled[0].NextProcessAt.In(paris), want)
		}
		var p SendPayload
		json.Unmarshal(scheduled[0].Payload, &p)
		if diff := cmp.Diff(ids, p.DeliveryIDs); diff != "" {
			t.Errorf("deferred ids (-want +got):\n%s", diff)
		}
		// When the window opens the same task sends them.
		f.w.now = func() time.Time { return want }
		if err := f.w.handleSend(context.Background(), task(TypeSend, p)); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]relais.DeliveryStatus{"queued", "queued"}, f.statuses(t, ids)); diff != "" {
			t.Errorf("after the window opened (-want +got):\n%s", diff)
		}
	})
}

func TestFanoutPagesAndReRunsAreIdempotent(t *testing.T) {
	forEachStore(t, func(t *testing.T) {
		f := newFixture(t, 25, func(c *Config) {
			c.FanoutPageSize = 4
			c.FanoutSegment = 10
			c.FanoutSlice = 0 // a page per task: every run queues its continuation
			c.SendPageSize[relais.ChannelSMS] = 4
		})
		ctx := context.Background()
		// One household of another grade is not targeted.
		other := []relais.Household{{ExternalRef: "X", Language: "fr", Grades: []int{3}, Profile: relais.ProfileSMSOnly,
			Phone: "+33612999999", Consent: true}}
		f.store.UpsertHouseholds(ctx, other)

		// Segments of household ids (0, 10], (10, 20], (20, 30]; pages of 4 cut at a segment's end.
		want := []FanoutPayload{
			{LessonID: f.lesson.ID},
			{LessonID: f.lesson.ID, After: 0, Until: 10},
			{LessonID: f.lesson.ID, After: 4, Until: 10},
			{LessonID: f.lesson.ID, After: 8, Until: 10},
			{LessonID: f.lesson.ID, After: 10, Until: 20},
			{LessonID: f.lesson.ID, After: 14, Until: 20},
			{LessonID: f.lesson.ID, After: 18, Until: 20},
			{LessonID: f.lesson.ID, After: 20, Until: 30},
			{LessonID: f.lesson.ID, After: 24, Until: 30},
		}
		ran := f.fanOut(t)
		sort.SliceStable(ran, func(i, j int) bool { return ran[i].After < ran[j].After })
		if diff := cmp.Diff(want, ran); diff != "" {
			t.Errorf("fan-out tasks (-want +got):\n%s", diff)
		}
		// A re-run of the whole fan-out (asynq re-delivers a task on shutdown) plans and queues nothing new.
		f.fanOut(t)
		ds, err := f.store.Deliveries(ctx, relais.DeliveryFilter{LessonID: f.lesson.ID, Page: relais.Page{Limit: 100}})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 25 {
			t.Errorf("%d deliveries, want 25 (one per targeted household)", len(ds))
		}
		pending, err := f.insp.ListPendingTasks(QueueSend, asynq.PageSize(100))
		if err != nil {
			t.Fatal(err)
		}
		var sizes []int
		queued := map[int64]bool{}
		for _, ti := range pending {
			var p SendPayload
			json.Unmarshal(ti.Payload, &p)
			sizes = append(sizes, len(p.DeliveryIDs))
			for _, id := range p.DeliveryIDs {
				if queued[id] {
					t.Errorf("delivery %d queued twice", id)
				}
				queued[id] = true
			}
		}
		sort.Ints(sizes)
		// Pages of 4, 4 and 2 households in each of the first two segments, then 4 and 1, in send tasks of
		// at most 4.
		if diff := cmp.Diff([]int{1, 2, 2, 4, 4, 4, 4, 4}, sizes); diff != "" {
			t.Errorf("send task sizes (-want +got):\n%s", diff)
		}
	})
}

// fanOut runs a lesson's fan-out as a worker would, from its publish task to its last continuation, and
// returns the payloads of the tasks it ran. A task stays in Redis while it runs, as with asynq.
func (f *fixture) fanOut(t *testing.T) []FanoutPayload {
	t.Helper()
	ctx := context.Background()
	if err := f.client.Publish(ctx, f.lesson.ID); err != nil {
		t.Fatal(err)
	}
	var ran []FanoutPayload
	for {
		queued, err := f.insp.ListPendingTasks(QueueDefault, asynq.PageSize(100))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ti := range queued {
			if ti.Type != TypeFanout {
				continue
			}
			n++
			if len(ran) > 50 {
				t.Fatal("fan-out does not end")
			}
			var p FanoutPayload
			json.Unmarshal(ti.Payload, &p)
			if err := f.w.handleFanout(ctx, task(TypeFanout, p)); err != nil {
				t.Fatal(err)
			}
			ran = append(ran, p)
			if err := f.insp.DeleteTask(QueueDefault, ti.ID); err != nil {
				t.Fatal(err)
			}
		}
		if n == 0 {
			return ran
		}
	}
}

func TestFanoutWaitsWhileTheSendQueueIsFull(t *testing.T) {
	forEachStore(t, func(t *testing.T) {
		f := newFixture(t, 3, func(c *Config) { c.MaxSendBacklog, c.BacklogWait = 0, 100*time.Millisecond })
		ids := f.plan(t)
		if err := f.w.queueSends(context.Background(), relais.ChannelSMS, ids); err != nil {
			t.Fatal(err)
		}
		err := f.w.handleFanout(context.Background(), task(TypeFanout, FanoutPayload{LessonID: f.lesson.ID, Until: 100}))
		var bl errBacklog
		if !errors.As(err, &bl) {
			t.Fatalf("err = %v, want the backlog wait", err)
		}
	})
}

// A backlog that drains within BacklogWait holds the fan-out for that moment only: the page is
// planned, not put off by 2 s.
func TestFanoutGoesOnWhenTheBacklogDrainsWithinItsWait(t *testing.T) {
	f := newFixture(t, 3, func(c *Config) { c.MaxSendBacklog, c.BacklogWait = 0, 10*time.Second })
	ids := f.plan(t)
	if err := f.w.queueSends(context.Background(), relais.ChannelSMS, ids); err != nil {
		t.Fatal(err)
	}
	drained := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, err := f.insp.DeleteAllPendingTasks(QueueSend)
		drained <- err
	}()
	start := time.Now()
	err := f.w.handleFanout(context.Background(), task(TypeFanout, FanoutPayload{LessonID: f.lesson.ID, Until: 100}))
	if err != nil {
		t.Fatalf("fan-out: %v, want it to plan once the backlog drained", err)
	}
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 300*time.Millisecond || took > 5*time.Second {
		t.Errorf("the fan-out took %s; it should have waited for the drain (300 ms) and no longer", took)
	}
}

// Fan-out tasks waiting for the backlog hold task slots that the sends need to drain it: beyond a
// quarter of the slots they wait in Redis instead.
func TestFanoutWaitersLeaveSlotsToTheSends(t *testing.T) {
	f := newFixture(t, 3, func(c *Config) { c.MaxSendBacklog, c.BacklogWait, c.Concurrency = 0, 2*time.Second, 4 })
	ids := f.plan(t)
	if err := f.w.queueSends(context.Background(), relais.ChannelSMS, ids); err != nil {
		t.Fatal(err)
	}
	type result struct {
		err  error
		took time.Duration
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			start := time.Now()
			err := f.w.handleFanout(context.Background(), task(TypeFanout, FanoutPayload{LessonID: f.lesson.ID, Until: 100}))
			results <- result{err, time.Since(start)}
		}()
	}
	var waited, gaveBack int
	for range 2 {
		r := <-results
		var bl errBacklog
		switch {
		case errors.As(r.err, &bl) && r.took < time.Second:
			gaveBack++
		case errors.As(r.err, &bl) && r.took >= 2*time.Second:
			waited++
		default:
			t.Errorf("fan-out: %v after %s", r.err, r.took)
		}
	}
	if waited != 1 || gaveBack != 1 {
		t.Errorf("%d fan-outs waited BacklogWait and %d gave their slot back at once; want one each (one slot of four may wait)", waited, gaveBack)
	}
}

// Backlog reads asynq's keys itself: it must count what asynq's own inspector counts.
func TestBacklogCountsWhatTheInspectorCounts(t *testing.T) {
	f := newFixture(t, 0, nil)
	ctx := context.Background()
	for i := range 7 {
		opts := []asynq.Option{asynq.Queue(QueueSend)}
		if i%3 == 0 {
			opts = append(opts, asynq.ProcessIn(time.Hour))
		}
		if err := f.client.enqueue(ctx, TypeSend, SendPayload{Channel: relais.ChannelSMS, DeliveryIDs: []int64{int64(i)}}, opts...); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.client.Backlog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, err := f.insp.GetQueueInfo(QueueSend)
	if err != nil {
		t.Fatal(err)
	}
	if want := info.Pending + info.Scheduled + info.Retry; got != want || info.Pending != 4 || info.Scheduled != 3 {
		t.Errorf("Backlog = %d; the inspector counts %d pending, %d scheduled, %d retry", got, info.Pending, info.Scheduled, info.Retry)
	}
}

func TestStatusUpdatesAreAppliedInOneBatch(t *testing.T) {
	forEachStore(t, func(t *testing.T) {
		f := newFixture(t, 3, nil)
		ids := f.plan(t)
		var tasks []*asynq.Task
		for _, a := range []relais.DeliveryAdvance{
			{ID: ids[0], Status: relais.DeliverySent, ProviderID: "SM0"},
			{ID: ids[0], Status: relais.DeliveryDelivered},
			{ID: ids[1], Status: relais.DeliveryUndelivered, Detail: "twilio: undelivered (error 30003)"},
			{ID: ids[0], Status: relais.DeliverySent},      // a late callback never moves a delivery back
			{ID: 999999, Status: relais.DeliveryDelivered}, // gone: the others still apply
		} {
			tasks = append(tasks, task(TypeStatus, a))
		}
		batch := aggregateStatus(statusGroup, tasks)
		if batch.Type() != TypeStatusBatch {
			t.Fatalf("aggregated type %s", batch.Type())
		}
		if err := f.w.handleStatusBatch(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]relais.DeliveryStatus{"delivered", "undelivered", "pending"}, f.statuses(t, ids)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

// Callbacks of one message can sit in a batch in any order: the "sent" read after "delivered" is
// still applied first, so the history has the provider's own "sent".
func TestStatusBatchAppliesEachDeliveryInPipelineOrder(t *testing.T) {
	forEachStore(t, func(t *testing.T) {
		f := newFixture(t, 1, nil)
		ids := f.plan(t)
		batch := aggregateStatus(statusGroup, []*asynq.Task{
			task(TypeStatus, relais.DeliveryAdvance{ID: ids[0], Status: relais.DeliveryDelivered, Detail: "twilio: delivered"}),
			task(TypeStatus, relais.DeliveryAdvance{ID: ids[0], Status: relais.DeliverySent, Detail: "twilio: sent", ProviderID: "SM0"}),
		})
		if err := f.w.handleStatusBatch(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		evs, err := f.store.DeliveryEvents(context.Background(), ids[0])
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			got = append(got, string(e.Status)+" "+e.Detail)
		}
		if diff := cmp.Diff([]string{"pending ", "sent twilio: sent", "delivered twilio: delivered"}, got); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}
	})
}

func TestResendAfterASoftBounce(t *testing.T) {
	forEachStore(t, func(t *testing.T) {
		f := newFixture(t, 0, nil)
		ctx := context.Background()
		mail := &fakeChannel{name: relais.ChannelEmail, script: map[int64][]error{}, sent: map[int64]int{}}
		f.w.channels = relaisRegistry(f.ch, mail)
		hs := []relais.Household{
			{ExternalRef: "E1", Language: "fr", Grades: []int{5}, Profile: relais.ProfileBroadband, Email: "a@example.org", Consent: true},
			{ExternalRef: "E2", Language: "fr", Grades: []int{5}, Profile: relais.ProfileBroadband, Email: "b@example.org", Consent: true},
			{ExternalRef: "E3", Language: "fr", Grades: []int{5}, Profile: relais.ProfileBroadband, Email: "c@example.org", Consent: true},
		}
		if err := f.store.UpsertHouseholds(ctx, hs); err != nil {
			t.Fatal(err)
		}
		var ds []relais.Delivery
		for _, h := range hs {
			ds = append(ds, relais.Delivery{LessonID: f.lesson.ID, HouseholdID: h.ID, Channel: relais.ChannelEmail})
		}
		ids, err := f.store.PlanDeliveries(ctx, ds)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			f.store.AdvanceDelivery(ctx, id, relais.DeliverySent, "accepted by provider", fmt.Sprint("M", id))
		}
		f.store.SetEmailOptOut(ctx, "b@example.org", true) // unsubscribed since: not sent again
		mail.script[hs[2].ID] = []error{&channels.SendError{Kind: channels.Permanent, Code: "550", Contact: relais.ContactInvalid, Err: errors.New("5.1.1 no such user")}}

		for _, id := range ids {
			if err := f.w.handleResend(ctx, task(TypeResend, ResendPayload{DeliveryID: id})); err != nil {
				t.Fatalf("resend %d: %v", id, err)
			}
		}
		if diff := cmp.Diff(map[int64]int{hs[0].ID: 1}, mail.sent); diff != "" {
			t.Errorf("sent again (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]relais.DeliveryStatus{"sent", "sent", "failed"}, f.statuses(t, ids)); diff != "" {
			t.Errorf("statuses (-want +got):\n%s", diff)
		}
		for i, want := range []string{"sent again after a soft bounce", "not sent again: opted out of email"} {
			evs, _ := f.store.DeliveryEvents(ctx, ids[i])
			if last := evs[len(evs)-1]; last.Detail != want {
				t.Errorf("delivery %d last event %q, want %q", i, last.Detail, want)
			}
		}
		if h, _ := f.store.Household(ctx, hs[2].ID); h.EmailStatus != relais.ContactInvalid {
			t.Errorf("address after a 5.1.1 on resend: %q", h.EmailStatus)
		}
	})
}

func TestRemindersFollowTheirAiring(t *testing.T) {
	forEachStore(t, func(t *testing.T) {
		paris, _ := time.LoadLocation("Europe/Paris")
		now := time.Date(2027, 5, 3, 8, 0, 0, 0, paris)
		f := newFixture(t, 0, func(c *Config) { c.ReminderLead = time.Hour })
		ctx := context.Background()
		f.w.now = func() time.Time { return now }
		remind := &fakeChannel{name: relais.ChannelReminder, script: map[int64][]error{}, sent: map[int64]int{}}
		f.w.channels = relaisRegistry(f.ch, remind)
		hs := []relais.Household{
			{ExternalRef: "R1", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileBroadcastOnly, Phone: "+33612000201", Consent: true},
			{ExternalRef: "R2", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileSMSOnly, Phone: "+33612000202", Consent: true},
			{ExternalRef: "R3", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileBroadband, Email: "r3@example.org", Consent: true},
			{ExternalRef: "R4", Region: "Almaty", Language: "kk", Grades: []int{5}, Profile: relais.ProfileSMSOnly, Phone: "+77012000204", Consent: true},
		}
		if err := f.store.UpsertHouseholds(ctx, hs); err != nil {
			t.Fatal(err)
		}
		airing := relais.Airing{Station: "France 4", Kind: relais.StationTV, Start: time.Date(2027, 5, 4, 10, 0, 0, 0, paris), Region: "IDF"}
		airings := []relais.Airing{airing}
		f.w.pipeline.Airings = func(context.Context, int64) ([]relais.Airing, error) { return airings, nil }

		if err := f.w.ScheduleReminders(ctx, f.lesson.ID); err != nil {
			t.Fatal(err)
		}
		scheduled, err := f.insp.ListScheduledTasks(QueueDefault)
		if err != nil || len(scheduled) != 1 {
			t.Fatalf("scheduled reminders = %d (%v), want 1", len(scheduled), err)
		}
		if want := airing.Start.Add(-time.Hour); !scheduled[0].NextProcessAt.Equal(want) {
			t.Errorf("reminder at %s, want %s (an hour before)", scheduled[0].NextProcessAt, want)
		}
		var p RemindPayload
		json.Unmarshal(scheduled[0].Payload, &p)

		// The slot moved to 14:00: the 10:00 reminder sends nothing and queues one for 13:00.
		airings = []relais.Airing{{Station: "France 4", Kind: relais.StationTV, Start: time.Date(2027, 5, 4, 14, 0, 0, 0, paris), Region: "IDF"}}
		if err := f.w.handleRemind(ctx, task(TypeRemind, p)); err != nil {
			t.Fatal(err)
		}
		if ds, _ := f.store.Deliveries(ctx, relais.DeliveryFilter{Channel: relais.ChannelReminder}); len(ds) != 0 {
			t.Errorf("a moved airing planned %d reminders", len(ds))
		}
		scheduled, _ = f.insp.ListScheduledTasks(QueueDefault)
		var moved RemindPayload
		for _, ti := range scheduled {
			json.Unmarshal(ti.Payload, &p)
			if p.Start == airings[0].Start.Unix() {
				moved = p
			}
		}
		if moved.Start == 0 {
			t.Fatal("no reminder queued for the new time")
		}

		// At 13:00 the reminder goes to the IDF families the lesson reaches by SMS, once each.
		now = time.Date(2027, 5, 4, 13, 0, 0, 0, paris)
		for run := 0; run < 2; run++ {
			if err := f.w.handleRemind(ctx, task(TypeRemind, moved)); err != nil {
				t.Fatal(err)
			}
		}
		pending, _ := f.insp.ListPendingTasks(QueueSend)
		for _, ti := range pending {
			var sp SendPayload
			json.Unmarshal(ti.Payload, &sp)
			if err := f.w.handleSend(ctx, task(TypeSend, sp)); err != nil {
				t.Fatal(err)
			}
		}
		if diff := cmp.Diff(map[int64]int{hs[0].ID: 1, hs[1].ID: 1}, remind.sent); diff != "" {
			t.Errorf("reminded households (-want +got):\n%s", diff)
		}

		// Cancelled: nothing more is planned.
		airings = nil
		if err := f.w.handleRemind(ctx, task(TypeRemind, moved)); err != nil {
			t.Fatal(err)
		}
		if ds, _ := f.store.Deliveries(ctx, relais.DeliveryFilter{Channel: relais.ChannelReminder}); len(ds) != 2 {
			t.Errorf("%d reminder deliveries, want 2", len(ds))
		}
	})
}

// resumedFanout returns the payload of the one fan-out continuation waiting in Redis, queued by
// goOnLater after an error, and deletes it.
func (f *fixture) resumedFanout(t *testing.T) FanoutPayload {
	t.Helper()
	scheduled, err := f.insp.ListScheduledTasks(QueueDefault, asynq.PageSize(100))
	if err != nil {
		t.Fatal(err)
	}
	if len(scheduled) != 1 || scheduled[0].Type != TypeFanout {
		t.Fatalf("%d tasks waiting after the error, want one fan-out continuation", len(scheduled))
	}
	if wait := time.Until(scheduled[0].NextProcessAt); wait <= 0 || wait > f.w.cfg.FanoutResume {
		t.Errorf("continuation runs in %v, want within FanoutResume (%v)", wait, f.w.cfg.FanoutResume)
	}
	var p FanoutPayload
	if err := json.Unmarshal(scheduled[0].Payload, &p); err != nil {
		t.Fatal(err)
	}
	if err := f.insp.DeleteTask(QueueDefault, scheduled[0].ID); err != nil {
		t.Fatal(err)
	}
	return p
}

// failingPlans fails the plan of its failAt-th page (counting from 1), as a database that is
// locked or gone for a moment does.
type failingPlans struct {
	relais.Store
	failAt int
	pages  int
}

func (s *failingPlans) PlanPage(ctx context.Context, ds []relais.Delivery, choices []relais.SenderChoice) ([]int64, error) {
	if s.pages++; s.pages == s.failAt {
		return nil, errors.New("database is locked")
	}
	return s.Store.PlanPage(ctx, ds, choices)
}

// TestFanoutGoesOnFromWhereAnErrorStoppedIt: a fan-out that fails after planning some pages queues
// the rest from the first page it did not plan, instead of failing and running again from its start:
// the sends of the pages planned before the error (done and gone from Redis when the retry comes) are
// not queued a second time, and every household is planned and queued once. A run that fails on its
// first page fails as before, for asynq to retry.
func TestFanoutGoesOnFromWhereAnErrorStoppedIt(t *testing.T) {
	forEachStore(t, func(t *testing.T) {
		f := newFixture(t, 10, func(c *Config) {
			c.FanoutPageSize, c.FanoutSegment, c.FanoutSlice = 2, 0, time.Minute // one run for the lesson
		})
		ctx := context.Background()
		plans := &failingPlans{Store: f.store, failAt: 3}
		f.w.store = plans
		queued := map[int64]int{}
		takeSends := func() { // the senders take the queued pages and are done with them
			t.Helper()
			pending, err := f.insp.ListPendingTasks(QueueSend, asynq.PageSize(100))
			if err != nil {
				t.Fatal(err)
			}
			for _, ti := range pending {
				var p SendPayload
				json.Unmarshal(ti.Payload, &p)
				for _, id := range p.DeliveryIDs {
					queued[id]++
				}
				if err := f.insp.DeleteTask(QueueSend, ti.ID); err != nil {
					t.Fatal(err)
				}
			}
		}

		if err := f.w.handleFanout(ctx, task(TypeFanout, FanoutPayload{LessonID: f.lesson.ID})); err != nil {
			t.Fatalf("fan-out failing on its third page: %v, want the rest queued", err)
		}
		takeSends()
		if len(queued) != 4 {
			t.Errorf("%d deliveries queued before the error, want the 4 of the two pages planned", len(queued))
		}
		rest := f.resumedFanout(t)
		if want := (FanoutPayload{LessonID: f.lesson.ID, After: f.hs[3].ID}); rest != want {
			t.Fatalf("continuation %+v, want %+v (from the first page not planned)", rest, want)
		}

		// The continuation fails on its first page: nothing planned, the task fails for asynq to retry.
		plans.pages, plans.failAt = 0, 1
		if err := f.w.handleFanout(ctx, task(TypeFanout, rest)); err == nil || !strings.Contains(err.Error(), "database is locked") {
			t.Fatalf("continuation failing on its first page: %v, want its error", err)
		}
		if scheduled, _ := f.insp.ListScheduledTasks(QueueDefault); len(scheduled) != 0 {
			t.Errorf("%d tasks queued by a run that planned nothing, want none", len(scheduled))
		}
		// Its retry plans the rest.
		if err := f.w.handleFanout(ctx, task(TypeFanout, rest)); err != nil {
			t.Fatal(err)
		}
		takeSends()
		ds, err := f.store.Deliveries(ctx, relais.DeliveryFilter{LessonID: f.lesson.ID, Page: relais.Page{Limit: 100}})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != len(f.hs) {
			t.Errorf("%d deliveries planned, want %d (one per household)", len(ds), len(f.hs))
		}
		for _, d := range ds {
			if queued[d.ID] != 1 {
				t.Errorf("delivery %d (household %d) queued %d times, want once", d.ID, d.HouseholdID, queued[d.ID])
			}
		}
	})
}

// TestFanoutPageIsPlannedWholeOrNotAtAll: a statement that times out in the middle of a page (a
// planner of another process holds one of its keys) leaves none of the page planned, and the re-run
// of the task plans every household once.
func TestFanoutPageIsPlannedWholeOrNotAtAll(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		f := newFixture(t, 0, func(c *Config) { c.FanoutPageSize, c.FanoutSegment = 2, 0 }) // one run for the lesson
		ctx := context.Background()
		var hs []relais.Household
		for i := range 5 {
			hs = append(hs, relais.Household{ExternalRef: fmt.Sprint("M", i), Language: "fr", Grades: []int{5},
				Profile: relais.ProfileMobileData, Phone: fmt.Sprintf("+336130000%02d", i), Email: fmt.Sprintf("m%d@example.org", i), Consent: true})
		}
		if err := f.store.UpsertHouseholds(ctx, hs); err != nil {
			t.Fatal(err)
		}
		pool := f.store.(*postgres.DB).Pool()
		if _, err := pool.Exec(ctx, `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET statement_timeout = 300', current_database()); END $$`); err != nil {
			t.Fatal(err)
		}
		pool.Reset() // sessions opened from now on have the timeout
		// Another planner holds the SMS delivery of the fourth household: the second page waits for it.
		blocker, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer blocker.Rollback(ctx) // a failing test must not leave it holding its connection
		if _, err := blocker.Exec(ctx, `SET LOCAL statement_timeout = 0`); err != nil {
			t.Fatal(err)
		}
		if _, err := blocker.Exec(ctx, `INSERT INTO deliveries (lesson_id, household_id, channel, status, created_at, updated_at)
			VALUES ($1, $2, 'sms', 'pending', now(), now())`, f.lesson.ID, hs[3].ID); err != nil {
			t.Fatal(err)
		}
		// The run plans its first page, times out on the second, and queues the rest from there.
		if err := f.w.handleFanout(ctx, task(TypeFanout, FanoutPayload{LessonID: f.lesson.ID})); err != nil {
			t.Fatalf("fan-out with a page held: %v, want the rest queued", err)
		}
		rest := f.resumedFanout(t)
		if want := (FanoutPayload{LessonID: f.lesson.ID, After: hs[1].ID}); rest != want {
			t.Fatalf("continuation %+v, want %+v", rest, want)
		}
		perHousehold := func() map[int64]int {
			t.Helper()
			ds, err := f.store.Deliveries(ctx, relais.DeliveryFilter{LessonID: f.lesson.ID, Page: relais.Page{Limit: 100}})
			if err != nil {
				t.Fatal(err)
			}
			n := map[int64]int{}
			for _, d := range ds {
				n[d.HouseholdID]++
			}
			return n
		}
		// The first page is planned, the second not at all (its email deliveries went with it).
		if diff := cmp.Diff(map[int64]int{hs[0].ID: 2, hs[1].ID: 2}, perHousehold()); diff != "" {
			t.Errorf("planned after the timeout (-want +got):\n%s", diff)
		}
		if err := blocker.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		if err := f.w.handleFanout(ctx, task(TypeFanout, rest)); err != nil {
			t.Fatal(err)
		}
		want := map[int64]int{}
		for _, h := range hs {
			want[h.ID] = 2
		}
		if diff := cmp.Diff(want, perHousehold()); diff != "" {
			t.Errorf("planned after the re-run (-want +got):\n%s", diff)
		}
		pending, err := f.insp.ListPendingTasks(QueueSend, asynq.PageSize(100))
		if err != nil {
			t.Fatal(err)
		}
		queued := map[int64]int{}
		for _, ti := range pending {
			var p SendPayload
			json.Unmarshal(ti.Payload, &p)
			for _, id := range p.DeliveryIDs {
				queued[id]++
			}
		}
		if len(queued) != 10 {
			t.Errorf("%d deliveries queued, want 10", len(queued))
		}
		for id, n := range queued {
			if n != 1 {
				t.Errorf("delivery %d queued %d times", id, n)
			}
		}
	})
}
