package queue

import (
	"context"
	"sync"

	relais "github.com/relais-edu/relais"
)

// groupCommit commits the outcomes of send tasks running at once in shared transactions: a task that
// has outcomes to commit while another task's commit is running waits for it to end, then commits
// its own together with those of every task that queued meanwhile (group commit, as databases do
// with their logs). Each task still waits until its own outcomes are committed before it sends its
// next message, so nothing is left unrecorded longer than before; there are only fewer transactions
// when many tasks send at once (the email send path spent a fifth of its time in them).
type groupCommit struct {
	store relais.Store

	mu    sync.Mutex
	cond  *sync.Cond
	queue []*commitRequest // waiting for the next transaction
	busy  bool             // a transaction is running
}

type commitRequest struct {
	advances []relais.DeliveryAdvance
	done     bool
	err      error
}

func newGroupCommit(store relais.Store) *groupCommit {
	g := &groupCommit{store: store}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// advance commits as (see relais.Store.AdvanceDeliveries), with the advances of other tasks queued at
// the same time, and returns once they are committed.
func (g *groupCommit) advance(ctx context.Context, as []relais.DeliveryAdvance) error {
	if len(as) == 0 {
		return nil
	}
	r := &commitRequest{advances: as}
	g.mu.Lock()
	g.queue = append(g.queue, r)
	for !r.done && g.busy {
		g.cond.Wait()
	}
	if r.done {
		g.mu.Unlock()
		return r.err
	}
	// No transaction is running and ours is not done: commit everything queued, ours included.
	batch := g.queue
	g.queue, g.busy = nil, true
	g.mu.Unlock()

	g.commit(ctx, batch)

	g.mu.Lock()
	g.busy = false
	g.cond.Broadcast()
	g.mu.Unlock()
	return r.err
}

// commit applies batch in one transaction. When that fails and the batch holds several tasks'
// advances, each task's are applied alone, so that one task's failure (a delivery deleted meanwhile)
// is not another's.
func (g *groupCommit) commit(ctx context.Context, batch []*commitRequest) {
	var all []relais.DeliveryAdvance
	for _, r := range batch {
		all = append(all, r.advances...)
	}
	_, err := g.store.AdvanceDeliveries(ctx, all)
	if err != nil && len(batch) > 1 {
		for _, r := range batch {
			_, r.err = g.store.AdvanceDeliveries(ctx, r.advances)
		}
	} else {
		for _, r := range batch {
			r.err = err
		}
	}
	g.mu.Lock()
	for _, r := range batch {
		r.done = true
	}
	g.mu.Unlock()
}
