package queue

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
)

// gatedStore holds its first AdvanceDeliveries until released and counts the calls.
type gatedStore struct {
	relais.Store
	entered chan struct{}
	release chan struct{}

	mu    sync.Mutex
	calls [][]int64 // ids of each call
}

func (s *gatedStore) AdvanceDeliveries(ctx context.Context, as []relais.DeliveryAdvance) ([]bool, error) {
	s.mu.Lock()
	var ids []int64
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	s.calls = append(s.calls, ids)
	first := len(s.calls) == 1
	s.mu.Unlock()
	if first {
		close(s.entered)
		<-s.release
	}
	return s.Store.AdvanceDeliveries(ctx, as)
}

// TestGroupCommit: outcomes handed over while a commit runs are committed together in the next
// transaction, every caller returning once its own are committed; a batch that fails (one delivery
// was deleted) is applied task by task, so only the task with that delivery sees the error.
func TestGroupCommit(t *testing.T) {
	f := newFixture(t, 5, nil)
	ids := f.plan(t)
	s := &gatedStore{Store: f.store, entered: make(chan struct{}), release: make(chan struct{})}
	g := newGroupCommit(s)
	ctx := context.Background()
	queued := func(id int64) []relais.DeliveryAdvance {
		return []relais.DeliveryAdvance{{ID: id, Status: relais.DeliveryQueued, Detail: "accepted by provider", ProviderID: "P"}}
	}

	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = g.advance(ctx, queued(ids[0])) })
	<-s.entered // the first transaction is running
	for i := 1; i < 4; i++ {
		wg.Go(func() { errs[i] = g.advance(ctx, queued(ids[i])) })
	}
	waitUntil(t, "three tasks queued", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.queue) == 3
	})
	close(s.release)
	wg.Wait()
	for i, err := range errs[:4] {
		if err != nil {
			t.Errorf("task %d: %v", i, err)
		}
	}
	if len(s.calls) != 2 || len(s.calls[1]) != 3 {
		t.Errorf("transactions %v, want the first alone and the next three together", s.calls)
	}
	want := []relais.DeliveryStatus{relais.DeliveryQueued, relais.DeliveryQueued, relais.DeliveryQueued, relais.DeliveryQueued, relais.DeliveryPending}
	if diff := cmp.Diff(want, f.statuses(t, ids)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}

	// A delivery that does not exist fails its own task only.
	s.calls = nil
	s.entered, s.release = make(chan struct{}), make(chan struct{})
	var errLast, errMissing error
	wg.Go(func() { g.advance(ctx, queued(ids[0])) })
	<-s.entered
	wg.Go(func() { errLast = g.advance(ctx, queued(ids[4])) })
	wg.Go(func() { errMissing = g.advance(ctx, queued(1<<40)) })
	waitUntil(t, "two tasks queued", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.queue) == 2
	})
	close(s.release)
	wg.Wait()
	if errLast != nil {
		t.Errorf("the task beside the failing one: %v", errLast)
	}
	if relais.ErrorCode(errMissing) != relais.ENOTFOUND {
		t.Errorf("the task with a missing delivery: %v, want not found", errMissing)
	}
	if got := f.statuses(t, ids[4:]); got[0] != relais.DeliveryQueued {
		t.Errorf("delivery beside the failing one is %s, want queued", got[0])
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
