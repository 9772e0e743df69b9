package channels

import (
	"context"

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
