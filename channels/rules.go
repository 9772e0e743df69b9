package channels

import (
	"time"

	relais "github.com/relais-edu/relais"
)

// Rules is what Relais knows of a channel whether or not its provider is configured in this process:
// the households it can reach, through the address it sends to. Fan-out, the send-time check, contact
// dedupe and what a provider's verdict means for the contact all read it from here; nothing else
// switches on a channel's name. A Channel that implements Rules brings them into the registry with it;
// Registry.Know adds the rules of channels whose provider is not configured (an API process plans SMS
// deliveries without a Twilio account).
type Rules interface {
	Name() relais.ChannelName
	// Contact is h's address on the channel and what is known against it.
	Contact(h relais.Household) Contact
}

// ContactKind is the kind of address a channel sends to. The store keeps what providers said of an
// address per kind, on every household that has it.
type ContactKind string

const (
	ContactPhone ContactKind = "phone"
	ContactEmail ContactKind = "email"
	ContactPost  ContactKind = "post"
)

// Contact is a household's address on one channel.
type Contact struct {
	Kind    ContactKind
	Address string
	// Status is what providers told of the address (invalid, landline, opted out).
	Status relais.ContactStatus
	// OptedOut: the family opted out of the channel (or of the one it rides on, for a reminder).
	OptedOut bool
	// OptOutOf names the channel a family opts out of when it opts out of this one: its own name unless
	// it rides on another (the SMS reminder on SMS). Empty: the channel's name.
	OptOutOf relais.ChannelName
	// Shared: households that share the address get one message of a lesson on the channel, not one
	// each (a family's phone given for two pupils). False for post: each household gets its packet.
	Shared bool
}

// Reach says whether a channel can carry a message to a household.
type Reach int

const (
	// Unreachable: no address, or one a provider said is invalid or a landline; fan-out falls back.
	Unreachable Reach = iota
	// Reachable: an address with nothing known against it.
	Reachable
	// OptedOut: the family asked not to be contacted this way; never used, never a fallback.
	OptedOut
)

// Reach is what c allows.
func (c Contact) Reach() Reach {
	switch {
	case c.Address == "":
		return Unreachable
	case c.OptedOut || c.Status == relais.ContactOptedOut:
		return OptedOut
	case c.Status == relais.ContactOK:
		return Reachable
	}
	return Unreachable
}

// Follower is implemented by a channel that goes, before each broadcast of a lesson, to the
// households another channel carries the lesson to (the SMS reminder follows the SMS digest). Fan-out
// plans no delivery on it; the reminder task and the publishing plan do.
type Follower interface {
	Follows() relais.ChannelName
}

// QuietHoursKeeper is implemented by channels whose messages wait for the end of the household's quiet
// hours (a text at night wakes a family; an email does not).
type QuietHoursKeeper interface {
	KeepsQuietHours() bool
}

// Router is implemented by channels that carry lessons to households of some connectivity profiles
// beyond those the fan-out policy names: fan-out asks for them after the policy's own channels. A
// channel that only stands in for others (a fallback) needs no Router.
type Router interface {
	Profiles() []relais.Profile
}

// Coster is implemented by channels that count in the publishing plan: how much one household costs
// and how fast the channel carries it. A channel without it is counted, with no estimate.
type Coster interface {
	Cost(h relais.Household, in CostInput) Cost
}

// CostInput is what a plan knows when it counts a household.
type CostInput struct {
	// Segments of the lesson's SMS digest by language; DigestSegments stands in for a language with none.
	Segments       map[string]int
	DigestSegments int
	// ReminderSegments is the size of one reminder.
	ReminderSegments int
}

// Cost is what one household costs a channel in the plan.
type Cost struct {
	// PlanName is the channel's name in the plan's counts and steps ("sms_reminder" for the reminder);
	// empty: the channel's name.
	PlanName string
	// Units are what the channel's rate counts for this household: SMS segments, 1 for an email. 0 for
	// a channel not paced by a rate (post).
	Units int64
	// Segments: the plan reports the units as segments (SMS).
	Segments bool
	// Pace is the rate the channel sends at, from the plan's configuration.
	Pace Pace
	// Rate is the channel's own rate in units per second, for a channel the plan's configuration has no
	// rate for (Pace PaceNone); 0: not paced.
	Rate float64
	// Lead: the channel hands over this long before the broadcast (the postal batch cut, the reminder);
	// 0: at publication.
	Lead LeadKind
}

// Pace names which of the plan's configured rates a channel uses.
type Pace int

const (
	PaceNone  Pace = iota // no configured rate: Cost.Rate, or a fixed lead time (post)
	PaceSMS               // PlanConfig.SMSRate × SMSSenders
	PaceEmail             // PlanConfig.EmailRate × EmailRelays
)

// LeadKind says when a channel's step happens relative to publication and broadcast.
type LeadKind int

const (
	AtPublication LeadKind = iota // sent when the lesson is published, due before the first broadcast
	BeforeAiring                  // before each airing (reminders), due by the airing
	PostedAhead                   // cut a lead time before the broadcast, or at publication when that is past (post)
)

// StepAt is when a household's step of a channel with lead kind k happens, for a lesson published at
// at and airing at airing (zero: not airing), with the configured lead.
func StepAt(k LeadKind, at, airing time.Time, lead time.Duration) time.Time {
	switch k {
	case BeforeAiring:
		return airing.Add(-lead)
	case PostedAhead:
		if !airing.IsZero() && airing.Add(-lead).After(at) {
			return airing.Add(-lead)
		}
	}
	return at
}
