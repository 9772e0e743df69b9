package queue

import (
	"context"
	"sync"

	relais "github.com/relais-edu/relais"
)

// groupCommit commits the steps of send tasks running at once (the outcomes of the messages their
// provider answered and the claims of those they are about to send, relais.SendStep) in shared
// transactions: a task that has a step to commit while another task's commit is running waits for it
// to end, then commits its own together with those of every task that queued meanwhile (group commit,
// as databases do with their logs). Each task still waits until its own step is committed before it
// sends its next message, so nothing is left unrecorded longer than before and nothing is sent
// unclaimed; there are only fewer transactions when many tasks send at once (the email send path spent
// a fifth of its time in them).
//
// A store with one writer (SQLite) runs one such transaction at a time; a store whose writers work in
// parallel (PostgreSQL: ConcurrentWriters) runs up to that many, each with the steps queued when it
// began.
type groupCommit struct {
	store   relais.Store
	writers int // transactions at once

	mu       sync.Mutex
	cond     *sync.Cond
	queue    []*commitRequest // waiting for the next transaction
	inFlight int              // transactions running
}

type commitRequest struct {
	step    relais.SendStep
	claimed []int64
	taken   bool // in a transaction
	done    bool
	err     error
}

// concurrentWriters is implemented by stores whose write transactions run in parallel.
type concurrentWriters interface {
	ConcurrentWriters() int
}

func newGroupCommit(store relais.Store) *groupCommit {
	g := &groupCommit{store: store, writers: 1}
	if c, ok := store.(concurrentWriters); ok {
		g.writers = max(c.ConcurrentWriters(), 1)
	}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// commit commits step (see relais.Store.CommitSends) with the steps of other tasks queued at the same
// time, and returns the ids it claimed once they are committed.
func (g *groupCommit) commit(ctx context.Context, step relais.SendStep) ([]int64, error) {
	if len(step.Advances) == 0 && len(step.Claims) == 0 {
		return nil, nil
	}
	r := &commitRequest{step: step}
	g.mu.Lock()
	g.queue = append(g.queue, r)
	for !r.done && (r.taken || g.inFlight >= g.writers) {
		g.cond.Wait()
	}
	if r.done {
		g.mu.Unlock()
		return r.claimed, r.err
	}
	// A writer is free and ours is in no transaction yet: commit everything queued, ours included.
	batch := g.queue
	g.queue = nil
	g.inFlight++
	for _, q := range batch {
		q.taken = true
	}
	g.mu.Unlock()

	g.apply(ctx, batch)

	g.mu.Lock()
	g.inFlight--
	g.cond.Broadcast()
	g.mu.Unlock()
	return r.claimed, r.err
}

// apply commits batch in one transaction. When that fails and the batch holds several tasks' steps,
// each task's is committed alone, so that one task's failure (a delivery deleted meanwhile) is not
// another's.
func (g *groupCommit) apply(ctx context.Context, batch []*commitRequest) {
	steps := make([]relais.SendStep, len(batch))
	for i, r := range batch {
		steps[i] = r.step
	}
	claimed, err := g.store.CommitSends(ctx, steps)
	switch {
	case err == nil:
		for i, r := range batch {
			r.claimed = claimed[i]
		}
	case len(batch) > 1:
		for _, r := range batch {
			var one [][]int64
			if one, r.err = g.store.CommitSends(ctx, []relais.SendStep{r.step}); r.err == nil {
				r.claimed = one[0]
			}
		}
	default:
		batch[0].err = err
	}
	g.mu.Lock()
	for _, r := range batch {
		r.done = true
	}
	g.mu.Unlock()
}
