package queue

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
)

// gatedStore holds its first CommitSends until released and counts the calls.
type gatedStore struct {
	relais.Store
	entered chan struct{}
	release chan struct{}

	mu    sync.Mutex
	calls [][]int64 // ids advanced or claimed by each call
}

func (s *gatedStore) CommitSends(ctx context.Context, steps []relais.SendStep) ([][]int64, error) {
	s.mu.Lock()
	var ids []int64
	for _, st := range steps {
		for _, a := range st.Advances {
			ids = append(ids, a.ID)
		}
		ids = append(ids, st.Claims...)
	}
	s.calls = append(s.calls, ids)
	first := len(s.calls) == 1
	s.mu.Unlock()
	if first {
		close(s.entered)
		<-s.release
	}
	return s.Store.CommitSends(ctx, steps)
}

// TestGroupCommit: outcomes handed over while a commit runs are committed together in the next
// transaction, every caller returning once its own are committed; a batch that fails (one delivery
// was deleted) is applied task by task, so only the task with that delivery sees the error; claims of
// tasks committing at once share a transaction too, a delivery both ask for going to the first.
func TestGroupCommit(t *testing.T) {
	f := newFixture(t, 5, nil)
	ids := f.plan(t)
	s := &gatedStore{Store: f.store, entered: make(chan struct{}), release: make(chan struct{})}
	g := newGroupCommit(s)
	ctx := context.Background()
	queued := func(id int64) relais.SendStep {
		return relais.SendStep{Advances: []relais.DeliveryAdvance{{ID: id, Status: relais.DeliveryQueued, Detail: "accepted by provider", ProviderID: "P"}}}
	}
	advance := func(step relais.SendStep) error {
		_, err := g.commit(ctx, step)
		return err
	}

	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = advance(queued(ids[0])) })
	<-s.entered // the first transaction is running
	for i := 1; i < 4; i++ {
		wg.Go(func() { errs[i] = advance(queued(ids[i])) })
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
	wg.Go(func() { advance(queued(ids[0])) })
	<-s.entered
	wg.Go(func() { errLast = advance(queued(ids[4])) })
	wg.Go(func() { errMissing = advance(queued(1 << 40)) })
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

	// Claims of tasks that commit at once share the transaction too; each task gets its own, and a
	// delivery both ask for goes to the one that queued first.
	s.calls = nil
	s.entered, s.release = make(chan struct{}), make(chan struct{})
	l2 := relais.Lesson{Title: "T2", Subject: "s", Grade: 5, Language: "fr", TeacherID: "t"}
	if err := f.store.CreateLesson(ctx, &l2); err != nil {
		t.Fatal(err)
	}
	var ds []relais.Delivery
	for _, h := range f.hs {
		ds = append(ds, relais.Delivery{LessonID: l2.ID, HouseholdID: h.ID, Channel: relais.ChannelSMS})
	}
	fresh, err := f.store.PlanDeliveries(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	var claimedA, claimedB []int64
	var errA, errB error
	wg.Go(func() { advance(queued(ids[0])) })
	<-s.entered
	wg.Go(func() {
		claimedA, errA = g.commit(ctx, relais.SendStep{Claims: fresh[:2], Attempt: "a", At: time.Now()})
	})
	waitUntil(t, "task a queued", func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.queue) == 1 })
	wg.Go(func() {
		claimedB, errB = g.commit(ctx, relais.SendStep{Claims: fresh[1:3], Attempt: "b", At: time.Now()})
	})
	waitUntil(t, "task b queued", func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.queue) == 2 })
	close(s.release)
	wg.Wait()
	if errA != nil || errB != nil {
		t.Fatalf("claims: %v, %v", errA, errB)
	}
	if diff := cmp.Diff([][]int64{fresh[:2], fresh[2:3]}, [][]int64{claimedA, claimedB}); diff != "" {
		t.Errorf("claimed by a and b (-want +got):\n%s", diff)
	}
	if len(s.calls) != 2 {
		t.Errorf("transactions %v, want the first alone and both claims together", s.calls)
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
