package relais

import (
	"context"
	"strconv"
	"time"
)

// HouseholdRecord is everything Relais holds about one household, for the family's right of access
// (GDPR article 15): its entry in the roster, every message planned or sent to it with its history,
// the SMS replies from its number and the bounce reports of its address.
type HouseholdRecord struct {
	Household  HouseholdData    `json:"household"`
	Deliveries []DeliveryRecord `json:"deliveries"`
	Inbound    []InboundRecord  `json:"inbound_messages"`
	Bounces    []BounceRecord   `json:"email_bounces"`
}

// HouseholdData is a household as the family reads it in an access export.
type HouseholdData struct {
	ID            int64     `json:"id"`
	ExternalRef   string    `json:"external_ref"`
	Region        string    `json:"region"`
	Language      string    `json:"language"`
	Pupils        []Pupil   `json:"pupils"`
	Profile       Profile   `json:"profile"`
	Phone         string    `json:"phone"`
	Email         string    `json:"email"`
	PostalAddress string    `json:"postal_address"`
	Consent       bool      `json:"consent"`
	SMSOptOut     bool      `json:"sms_opt_out"`
	EmailOptOut   bool      `json:"email_opt_out"`
	SMSSender     string    `json:"sms_sender,omitempty"` // the sender its SMS come from (Household.SMSSender)
	CreatedAt     time.Time `json:"created_at"`
	RemovedAt     time.Time `json:"removed_at,omitzero"` // when a full import left it out of the roster
}

// DataOf is h as an access export shows it.
func DataOf(h Household) HouseholdData {
	return HouseholdData{ID: h.ID, ExternalRef: h.ExternalRef, Region: h.Region, Language: h.Language, Pupils: h.Pupils,
		Profile: h.Profile, Phone: h.Phone, Email: h.Email, PostalAddress: h.PostalAddress, Consent: h.Consent,
		SMSOptOut: h.SMSOptOut, EmailOptOut: h.EmailOptOut, SMSSender: h.SMSSender, CreatedAt: h.CreatedAt, RemovedAt: h.RemovedAt}
}

// DeliveryRecord is one message to the household and what became of it.
type DeliveryRecord struct {
	ID          int64         `json:"id"`
	LessonID    int64         `json:"lesson_id"`
	LessonTitle string        `json:"lesson_title"`
	Channel     ChannelName   `json:"channel"`
	Status      string        `json:"status"`
	Reason      string        `json:"reason,omitempty"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
	Events      []EventRecord `json:"events"`
}

// EventRecord is one step of a delivery's history.
type EventRecord struct {
	Status string    `json:"status"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
}

// InboundRecord is an SMS the household's number sent.
type InboundRecord struct {
	Body       string    `json:"body"`
	ReceivedAt time.Time `json:"received_at"`
}

// BounceRecord is a bounce report about the household's address.
type BounceRecord struct {
	Action     string    `json:"action"`
	Status     string    `json:"status"`
	Hard       bool      `json:"hard"`
	Diagnostic string    `json:"diagnostic,omitempty"`
	At         time.Time `json:"at"`
}

// ErasedRef is the roster reference an erased household keeps: its id, nothing of the family's.
func ErasedRef(id int64) string { return "erased-" + strconv.FormatInt(id, 10) }

// PrivacyStore serves families' rights over their data.
type PrivacyStore interface {
	// HouseholdRecord gathers everything held about household id.
	HouseholdRecord(ctx context.Context, id int64) (HouseholdRecord, error)
	// EraseHousehold removes what identifies household id, in one transaction: its reference (ErasedRef),
	// phone, email and postal address, its consent (it is never contacted again) and the SMS sender it
	// remembers, the SMS replies from its
	// number, the bounce reports and contact claims of its addresses, and the details of its deliveries'
	// history. Its deliveries stay, anonymous, so the dashboard's counts do not change.
	EraseHousehold(ctx context.Context, id int64) error
	// PruneFamilyData removes what has aged out of the retention's periods at now (a zero period keeps
	// everything of its kind): the SMS replies received and the bounce reports recorded before their
	// cut-offs; the settled deliveries (SettledDeliveryStatuses) last changed before theirs, with their history, while the lessons' delivery counts stay as they were;
	// and the households removed from the roster (MarkRemoved) before theirs, erased as EraseHousehold
	// does. It returns how many of each.
	PruneFamilyData(ctx context.Context, now time.Time, r Retention) (Pruned, error)
	// MarkRemoved records at now that the households whose references are not in listed left the roster
	// (a full import listed the others); those in listed that were marked are back. It returns how many
	// were newly marked. Erased households are left alone.
	MarkRemoved(ctx context.Context, listed []string, now time.Time) (int64, error)
	// AgedMedia returns up to limit lessons, in id order, whose files may go: no airing on or after
	// before's day, no change since before, not being processed (uploaded or processing), and files
	// not removed yet; with the locations of their files in the MediaStore (upload, renditions,
	// worksheets, postal batches' PDFs and CSVs).
	AgedMedia(ctx context.Context, before time.Time, limit int) ([]LessonFiles, error)
	// ForgetMedia records at now that lesson id's files were removed from the MediaStore: their
	// locations are cleared, its renditions and worksheet forgotten; the lesson, its texts, its
	// deliveries and its counts stay.
	ForgetMedia(ctx context.Context, id int64, now time.Time) error
}

// LessonFiles is a lesson and the locations of its files in the MediaStore.
type LessonFiles struct {
	LessonID  int64
	Locations []string
}

// Retention is how long families' data is kept; zero keeps it.
type Retention struct {
	Replies    time.Duration // SMS replies from families (STOP, thanks, questions)
	Bounces    time.Duration // email bounce reports (the opt-out or bad-address status they set stays)
	Deliveries time.Duration // messages to families, from their last change; the lessons' counts stay
	Removed    time.Duration // households removed from the roster, from their removal; then erased
	Media      time.Duration // lessons' files, from the lesson's last airing and last change
}

// Pruned counts what one pass of retention removed.
type Pruned struct {
	Replies    int64 `json:"replies"`
	Bounces    int64 `json:"bounces"`
	Deliveries int64 `json:"deliveries"`
	Households int64 `json:"households"` // erased
	Lessons    int64 `json:"lessons"`    // whose files were removed
}

// SettledDeliveryStatuses are the statuses in which a delivery ages out: the final ones, and sent (a
// delivery report that never came will not come after the retention period). One still pending,
// claimed, queued or sending is never removed: it needs someone's attention, not forgetting.
var SettledDeliveryStatuses = []DeliveryStatus{DeliverySent, DeliveryDelivered, DeliveryUndelivered, DeliveryFailed,
	DeliverySkipped, DeliveryUnknown}
