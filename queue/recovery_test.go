package queue

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

// sendLog is one provider shared by two workers, with the time of every message it took.
type sendLog struct {
	*provider
	at []time.Time
}

type loggedChannel struct{ l *sendLog }

func (c loggedChannel) Name() relais.ChannelName { return c.l.name }
func (c loggedChannel) Send(ctx context.Context, m channels.Message) (channels.Receipt, error) {
	r, err := c.l.provider.Send(ctx, m)
	c.l.mu.Lock()
	c.l.at = append(c.l.at, time.Now())
	c.l.mu.Unlock()
	return r, err
}
func (c loggedChannel) Lookup(ctx context.Context, m channels.Message, since time.Time) (channels.Receipt, bool, error) {
	return askable{c.l.provider}.Lookup(ctx, m, since)
}

// A worker dies in the middle of a page (its handler stops for good: no outcome recorded, no claim
// refreshed, the task left active in Redis, as after kill -9 until asynq's lease of 30 s runs out and
// its recoverer, every minute, re-queues it). The other worker's sweep takes the dead attempt's
// claims after OrphanAfter and queues the rest of its page again: sends resume within OrphanAfter and
// a sweep or two, and every household gets one SMS. The test prints the stall.
//
//	go test ./queue -run SendsResume -v
func TestSendsResumeSoonAfterAWorkerDies(t *testing.T) {
	ctx := context.Background()
	store := stores(t)["sqlite"](t)
	log := &sendLog{provider: newProvider(relais.ChannelSMS)}
	rig := newClaimRig(t, store, 100)
	redis := rig.redis
	ids := rig.plan(t, relais.ChannelSMS)

	var workers []*Worker
	newWorker := func() *Worker {
		cfg := DefaultConfig()
		cfg.MediaDir = t.TempDir()
		cfg.Concurrency = 2
		cfg.OrphanAfter, cfg.SweepEvery = 2*time.Second, 250*time.Millisecond
		cfg.ShutdownTimeout = time.Second
		client := NewClient(redis)
		t.Cleanup(func() { client.Close() })
		w := NewWorker(redis, store, relaisRegistry(loggedChannel{log}), Pipeline{}, Links{}, client, cfg, slog.New(slog.DiscardHandler))
		workers = append(workers, w)
		return w
	}
	a := newWorker()
	var killed time.Time
	var once sync.Once
	a.afterSend = func(die func()) {
		log.mu.Lock()
		n := log.calls
		log.mu.Unlock()
		if n >= 15 {
			once.Do(func() { killed = time.Now() })
			die()
		}
	}
	if err := rig.w.client.enqueue(ctx, TypeSend, SendPayload{Channel: relais.ChannelSMS, DeliveryIDs: ids},
		asynq.Queue(QueueSend), asynq.TaskID("send:sms:dies")); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for killed.IsZero() || func() bool { log.mu.Lock(); defer log.mu.Unlock(); return log.calls < 15 }() {
		if time.Now().After(deadline) {
			t.Fatal("worker A never reached its 15th send")
		}
		time.Sleep(10 * time.Millisecond)
	}
	b := newWorker()
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, w := range workers {
			w.Shutdown()
		}
	}()
	deadline = time.Now().Add(20 * time.Second)
	for {
		st := rig.statuses(t, ids)
		if st[relais.DeliveryPending] == 0 && st[relais.DeliveryClaimed] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sends did not resume: %v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	log.mu.Lock()
	var resumed time.Time
	for _, at := range log.at {
		if at.After(killed) && (resumed.IsZero() || at.Before(resumed)) {
			resumed = at
		}
	}
	took := log.took
	log.mu.Unlock()
	stall := resumed.Sub(killed)
	t.Logf("stall after the worker's death: %v (OrphanAfter %v, sweep every %v; without the sweep: asynq's lease, 30 s, then its recoverer, up to 60 s more)",
		stall.Round(time.Millisecond), a.cfg.OrphanAfter, a.cfg.SweepEvery)
	if max := a.cfg.OrphanAfter + 4*a.cfg.SweepEvery + time.Second; stall > max {
		t.Errorf("stall %v, want at most %v", stall, max)
	}
	want := map[int64]int{}
	for _, h := range rig.hs {
		want[h.ID] = 1
	}
	if diff := cmp.Diff(want, took); diff != "" {
		t.Errorf("messages per household (-want +got):\n%s", diff)
	}
}
