package relais

import "time"

// ChannelName names a way of reaching a household.
type ChannelName string

const (
	ChannelSMS    ChannelName = "sms"
	ChannelEmail  ChannelName = "email"
	ChannelPostal ChannelName = "postal"
	// ChannelReminder is the SMS that reminds a family, shortly before, that its lesson airs.
	ChannelReminder ChannelName = "reminder"
)

// DeliveryStatus is where one delivery is. The provider moves it forward; it never moves back
// from a final status.
type DeliveryStatus string

const (
	DeliveryPending DeliveryStatus = "pending" // planned, not yet handed to a send task
	// DeliveryClaimed: a send attempt (Delivery.ClaimedBy) took it and is about to hand it to the provider,
	// or has and not yet recorded the answer. Nothing else calls the provider for it; a claim whose
	// attempt stopped refreshing it is reconciled (see DeliveryStore.ReclaimDeliveries).
	DeliveryClaimed     DeliveryStatus = "claimed"
	DeliveryQueued      DeliveryStatus = "queued"      // handed to the provider, or waiting in the postal batch
	DeliverySending     DeliveryStatus = "sending"     // the provider is sending it
	DeliverySent        DeliveryStatus = "sent"        // left the provider
	DeliveryDelivered   DeliveryStatus = "delivered"   // the handset or mail server has it
	DeliveryUndelivered DeliveryStatus = "undelivered" // the carrier could not deliver it
	DeliveryFailed      DeliveryStatus = "failed"      // it never left; Reason says why
	DeliverySkipped     DeliveryStatus = "skipped"     // not sent on purpose (opted out, duplicate number)
	// DeliveryUnknown: its attempt went silent between the claim and the provider's answer, and the
	// provider cannot be asked (email). Final, so that nothing re-sends it by itself (under-send rather
	// than over-send); the media unit may resend a lesson's unknowns in one action (ResendUnknown). An
	// answer learnt afterwards replaces it (see Advances).
	DeliveryUnknown DeliveryStatus = "unknown"
)

// DeliveryStatuses lists every status in pipeline order.
var DeliveryStatuses = []DeliveryStatus{DeliveryPending, DeliveryClaimed, DeliveryQueued, DeliverySending, DeliverySent,
	DeliveryDelivered, DeliveryUndelivered, DeliveryFailed, DeliverySkipped, DeliveryUnknown}

// Final reports whether no further status can follow s.
func (s DeliveryStatus) Final() bool {
	switch s {
	case DeliveryDelivered, DeliveryUndelivered, DeliveryFailed, DeliverySkipped, DeliveryUnknown:
		return true
	}
	return false
}

// rank orders statuses so that a late callback (sent after delivered) cannot move a delivery back.
func (s DeliveryStatus) rank() int {
	switch s {
	case DeliveryPending:
		return 0
	case DeliveryClaimed:
		return 1
	case DeliveryQueued:
		return 2
	case DeliverySending:
		return 3
	case DeliverySent:
		return 4
	}
	return 5
}

// Advances reports whether moving from s to next is progress. Only a claim becomes unknown (the sweep's
// word for a claim whose attempt went silent), and the provider's answer learnt after it replaces it:
// the attempt was alive after all (its outcome, committed once the database was back, comes after the
// sweep) or a status callback came. Nothing is sent again by that: it only records what happened.
func (s DeliveryStatus) Advances(next DeliveryStatus) bool {
	switch {
	case next == DeliveryUnknown:
		return s == DeliveryClaimed
	case s == DeliveryUnknown:
		return next.rank() > DeliveryClaimed.rank() && next != DeliverySkipped
	}
	return !s.Final() && next.rank() > s.rank()
}

// Delivery is one lesson going to one household over one channel. (LessonID, HouseholdID, Channel)
// is unique: it is the dedupe key every send checks.
type Delivery struct {
	ID          int64
	LessonID    int64
	HouseholdID int64
	Channel     ChannelName
	Status      DeliveryStatus
	Reason      string
	ProviderID  string
	Attempts    int
	// Occurrence is, on a reminder, the Unix time (seconds) of the airing it reminds of: each airing of
	// the lesson re-arms the family's one reminder delivery (DeliveryStore.RemindDeliveries). 0 elsewhere.
	Occurrence int64
	// ClaimedBy names the send attempt holding the claim (status claimed), ClaimedAt when it last
	// refreshed it; both stay after the claim as a record of the last attempt.
	ClaimedBy string
	ClaimedAt time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DeliveryEvent is one step of a delivery's history.
type DeliveryEvent struct {
	DeliveryID int64
	Status     DeliveryStatus
	Detail     string
	At         time.Time
}

// DeliveryFilter selects deliveries.
type DeliveryFilter struct {
	LessonID    int64
	HouseholdID int64
	Channel     ChannelName
	Status      DeliveryStatus
	// UpdatedBefore and UpdatedAfter, when set, keep deliveries whose last change is in that range.
	UpdatedBefore time.Time
	UpdatedAfter  time.Time
	Page          Page
}

// DeliveryCount is the number of deliveries of one lesson on one channel in one status.
type DeliveryCount struct {
	Channel ChannelName
	Status  DeliveryStatus
	Count   int64
}

// DeliveryAdvance is one step forward of a delivery (see DeliveryStore.AdvanceDelivery).
type DeliveryAdvance struct {
	ID         int64
	Status     DeliveryStatus
	Detail     string
	ProviderID string
}

// SendStep is what a send attempt commits between two calls of its provider: the outcomes of the
// messages the provider answered, then the claims of those it is about to hand it (see
// DeliveryStore.CommitSends).
type SendStep struct {
	Advances []DeliveryAdvance
	Claims   []int64 // pending deliveries to claim for Attempt at At
	Attempt  string
	At       time.Time
}

// ContactClaim asks that DeliveryID be the one delivery of a lesson to Contact on Channel.
type ContactClaim struct {
	LessonID   int64
	Channel    ChannelName
	Contact    string
	DeliveryID int64
}
