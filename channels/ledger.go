package channels

import (
	"context"
	"fmt"
	"time"

	relais "github.com/relais-edu/relais"
)

// LedgerStore is what the ledger changes; relais.Store has it.
type LedgerStore interface {
	// Set* record what providers and families said of a phone or an email, on every household with it.
	SetPhoneStatus(ctx context.Context, phone string, status relais.ContactStatus) error
	SetSMSOptOut(ctx context.Context, phone string, optOut bool) error
	SetEmailStatus(ctx context.Context, email string, status relais.ContactStatus) error
	SetEmailOptOut(ctx context.Context, email string, optOut bool) error
	AdvanceDelivery(ctx context.Context, id int64, status relais.DeliveryStatus, detail, providerID string) (bool, error)
	SaveInbound(ctx context.Context, m relais.InboundMessage) error
	RecordBounce(ctx context.Context, b relais.EmailBounce) (bool, error)
}

// Ledger is the one path by which provider verdicts (SMS status callbacks, STOP and START replies,
// email bounces, permanent send failures) reach the store: it keeps a report once, updates the contact,
// and moves the delivery, now or in a batch through the queue. Provider packages never write the
// store themselves.
type Ledger struct {
	store LedgerStore
	batch func(ctx context.Context, a relais.DeliveryAdvance) error // nil: applied at once
}

var _ Recorder = (*Ledger)(nil)

// batchTimeout bounds the wait for the queue before a batched verdict goes straight to the store.
const batchTimeout = 2 * time.Second

// recordTimeout bounds the recording of one verdict, whatever its caller's context says.
const recordTimeout = 30 * time.Second

// NewLedger returns the ledger over store. batch, when not nil, queues a batched status move (the
// queue applies them in groups, in pipeline order per delivery: queue.Client.RecordStatus); nil: every
// move is applied at once.
func NewLedger(store LedgerStore, batch func(ctx context.Context, a relais.DeliveryAdvance) error) *Ledger {
	return &Ledger{store: store, batch: batch}
}

// Record applies v (see Verdict).
func (l *Ledger) Record(ctx context.Context, v Verdict) (Outcome, error) {
	// A verdict is what a provider or a family said. The caller hanging up (a callback client that
	// timed out under a burst, a worker shutting down after a send) does not unsay it, and a provider
	// that does not retry (Twilio) would not say it again: it is recorded on a context of its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	var out Outcome
	if v.Bounce != nil {
		recorded, err := l.store.RecordBounce(ctx, *v.Bounce)
		if err != nil {
			return out, err
		}
		if !recorded {
			return Outcome{Duplicate: true}, nil
		}
	}
	if v.Reply != nil {
		if err := l.store.SaveInbound(ctx, *v.Reply); err != nil {
			return out, err
		}
	}
	if v.Contact.Address != "" {
		var err error
		if v.Contact.OptIn {
			err = setOptOut(ctx, l.store, v.Contact.Kind, v.Contact.Address, false)
		} else {
			err = setContact(ctx, l.store, v.Contact.Kind, v.Contact.Address, v.Contact.Status)
		}
		if err != nil {
			return out, fmt.Errorf("record %s status: %w", v.Contact.Kind, err)
		}
	}
	if v.DeliveryID == 0 || v.Status == "" {
		return out, nil
	}
	if v.Batched && l.batch != nil {
		// The queue unreachable (Redis down or hung) does not lose the verdict: it goes straight to the
		// store, one transaction instead of a share of a batch. A provider that does not retry its
		// callbacks (Twilio) would otherwise take it away for good.
		bctx, cancel := context.WithTimeout(ctx, batchTimeout)
		err := l.batch(bctx, relais.DeliveryAdvance{ID: v.DeliveryID, Status: v.Status, Detail: v.Detail, ProviderID: v.ProviderID})
		cancel()
		if err == nil {
			return out, nil
		}
		out.Unbatched = true
	}
	changed, err := l.store.AdvanceDelivery(ctx, v.DeliveryID, v.Status, v.Detail, v.ProviderID)
	if err != nil {
		return out, fmt.Errorf("advance delivery %d: %w", v.DeliveryID, err)
	}
	out.Advanced = changed
	return out, nil
}

var _ LedgerStore = (relais.Store)(nil)

// setContact records what a provider said of an address, on every household that has it: an opt-out,
// or a bad address.
func setContact(ctx context.Context, s LedgerStore, kind ContactKind, addr string, status relais.ContactStatus) error {
	if status == relais.ContactOptedOut {
		return setOptOut(ctx, s, kind, addr, true)
	}
	switch kind {
	case ContactPhone:
		return s.SetPhoneStatus(ctx, addr, status)
	case ContactEmail:
		return s.SetEmailStatus(ctx, addr, status)
	}
	return nil // nothing is kept against a postal address
}

func setOptOut(ctx context.Context, s LedgerStore, kind ContactKind, addr string, optOut bool) error {
	switch kind {
	case ContactPhone:
		return s.SetSMSOptOut(ctx, addr, optOut)
	case ContactEmail:
		return s.SetEmailOptOut(ctx, addr, optOut)
	}
	return nil
}
