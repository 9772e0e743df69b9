package channels

import (
	"context"
	"errors"
	"io"

	relais "github.com/relais-edu/relais"
)

// Verdict is what a provider, or a family through it, said after a send: a status callback, a bounce
// report, a STOP, a reply. Every verdict reaches the delivery ledger through one Recorder, which moves
// the delivery, records the event and updates the contact.
type Verdict struct {
	Channel relais.ChannelName
	// DeliveryID is the delivery the verdict is about; 0: none (a reply, a bounce of an unknown message).
	DeliveryID int64
	ProviderID string                // set on the delivery when not empty
	Status     relais.DeliveryStatus // where the delivery moves; "": it stays (a soft bounce, a reply)
	Detail     string                // recorded in the delivery's history
	// Batched: the move may be applied a moment later, with others, in pipeline order per delivery (a
	// burst of status callbacks never waits on the database). Otherwise it is applied before Record
	// returns and Outcome.Advanced says whether the delivery moved.
	Batched bool
	// Contact is what the verdict tells of the recipient's address; zero Address: nothing.
	Contact ContactVerdict
	// Bounce is the delivery status report, kept once: a report already recorded makes the verdict a
	// duplicate, and nothing else of it is applied.
	Bounce *relais.EmailBounce
	// Reply is a family's reply kept for the teacher to read.
	Reply *relais.InboundMessage
	// HouseholdIDs are the households the address belongs to, when the channel looked them up (a reply).
	HouseholdIDs []int64
}

// ContactVerdict is what a verdict tells of an address.
type ContactVerdict struct {
	Kind    ContactKind
	Address string
	// Status is invalid, landline or opted out (every household with the address).
	Status relais.ContactStatus
	// OptIn: the family opted back in (START); Status is ignored.
	OptIn bool
}

// Outcome is what recording a verdict did.
type Outcome struct {
	Duplicate bool // the report was recorded before: nothing was applied
	Advanced  bool // the delivery moved (for an unbatched verdict)
	// Unbatched: a batched verdict went straight to the store, the queue being unreachable.
	Unbatched bool
}

// Recorder records provider verdicts in the delivery ledger. queue.Ledger implements it.
type Recorder interface {
	Record(ctx context.Context, v Verdict) (Outcome, error)
}

// ContactVerdictOf is the verdict on h's address on a channel, from the channel's rules.
func (r *Registry) ContactVerdictOf(name relais.ChannelName, h relais.Household, status relais.ContactStatus) ContactVerdict {
	c := r.Contact(name, h)
	return ContactVerdict{Kind: c.Kind, Address: c.Address, Status: status}
}

// ReportReader is implemented by channels whose provider's reports are posted to Relais (email
// delivery status reports, RFC 3464): ReadReport reads one and applies it through rec.
type ReportReader interface {
	ReadReport(ctx context.Context, store DeliveryLookup, rec Recorder, r io.Reader) (ReportResult, error)
}

// DeliveryLookup finds the deliveries a report names.
type DeliveryLookup interface {
	DeliveriesByIDs(ctx context.Context, ids []int64) ([]relais.Delivery, error)
}

// ErrNotReport is returned by ReadReport for a message that is not a report (the channel's own
// error wraps it); ErrUnreadableReport for one that cannot be read.
var (
	ErrNotReport        = errors.New("not a delivery status notification")
	ErrUnreadableReport = errors.New("unreadable report")
)

// ReportResult counts what reports did.
type ReportResult struct {
	Hard    int     `json:"hard"`    // addresses suppressed
	Soft    int     `json:"soft"`    // delays and temporary failures recorded
	Ignored int     `json:"ignored"` // delivered or relayed notices, and reports already seen
	Failed  []int64 `json:"failed"`  // deliveries marked failed
	// Resend lists the deliveries whose relay gave up on a temporary failure (failed, 4.x.x): the caller
	// queues them to be sent again. A delay report is only recorded: the reporting server still tries.
	Resend []int64 `json:"resend"`
}

// Add adds the counts of o to r.
func (r *ReportResult) Add(o ReportResult) {
	r.Hard += o.Hard
	r.Soft += o.Soft
	r.Ignored += o.Ignored
	r.Failed = append(r.Failed, o.Failed...)
	r.Resend = append(r.Resend, o.Resend...)
}

// ReportReader returns the first known channel that reads reports.
func (r *Registry) ReportReader() (ReportReader, bool) {
	for _, n := range r.Known() {
		if rr, ok := r.rules[n].(ReportReader); ok {
			return rr, true
		}
	}
	return nil, false
}
