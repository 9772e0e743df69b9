package relais

import (
	"context"
	"time"
)

// LessonStore keeps lessons and what the pipeline makes of them.
type LessonStore interface {
	CreateLesson(ctx context.Context, l *Lesson) error
	Lesson(ctx context.Context, id int64) (Lesson, error)
	Lessons(ctx context.Context, f LessonFilter) ([]Lesson, error)
	// SetLessonStatus moves a lesson to status with a reason shown to the teacher (nil for none): the
	// reason's message is kept in English (StatusReason) and in every other language package locale
	// writes (StatusReasons).
	SetLessonStatus(ctx context.Context, id int64, status LessonStatus, reason error) error
	// SetLessonProgress records the current step and its percent done.
	SetLessonProgress(ctx context.Context, id int64, step string, percent int) error
	SetLessonDuration(ctx context.Context, id int64, d time.Duration) error
	SetLessonWorksheetPath(ctx context.Context, id int64, path string) error
	SetLessonMediaPath(ctx context.Context, id int64, path string) error

	// PutRendition creates or replaces the rendition of its kind.
	PutRendition(ctx context.Context, r Rendition) error
	Renditions(ctx context.Context, lessonID int64) ([]Rendition, error)
	// PutDigest creates or replaces the digest of its language.
	PutDigest(ctx context.Context, d Digest) error
	Digests(ctx context.Context, lessonID int64) ([]Digest, error)
	PutWorksheet(ctx context.Context, w Worksheet) error
	// Worksheet returns ENOTFOUND when the lesson has none yet.
	Worksheet(ctx context.Context, lessonID int64) (Worksheet, error)
}

// HouseholdStore keeps the families Relais reaches.
type HouseholdStore interface {
	// UpsertHouseholds creates households or updates them by ExternalRef, in one transaction, and sets
	// their ids.
	UpsertHouseholds(ctx context.Context, hs []Household) error
	Household(ctx context.Context, id int64) (Household, error)
	Households(ctx context.Context, f HouseholdFilter) ([]Household, error)
	HouseholdsByIDs(ctx context.Context, ids []int64) (map[int64]Household, error)
	HouseholdsByPhone(ctx context.Context, phone string) ([]Household, error)
	// SetPhoneStatus records what the SMS provider said of a number, on every household that has it.
	SetPhoneStatus(ctx context.Context, phone string, status ContactStatus) error
	// SetSMSOptOut opts a number out of (or back into) SMS, on every household that has it.
	SetSMSOptOut(ctx context.Context, phone string, optOut bool) error
	SetEmailStatus(ctx context.Context, email string, status ContactStatus) error
	SetEmailOptOut(ctx context.Context, email string, optOut bool) error
	CountHouseholds(ctx context.Context) (int64, error)
}

// DeliveryStore keeps deliveries, the source of truth of the fan-out.
type DeliveryStore interface {
	// PlanDeliveries inserts deliveries in status pending; a (lesson, household, channel) that exists
	// already is left as it is. It sets each delivery's ID and Status to its row's, and returns the ids
	// of the rows now pending for those keys, so a re-run of a fan-out page hands the same rows on again.
	PlanDeliveries(ctx context.Context, ds []Delivery) ([]int64, error)
	// PlanPage is PlanDeliveries for a fan-out page, recording in the same transaction the SMS sender
	// each of senders gives its household (Household.SMSSender), in one batched write. A household that
	// no longer remembers the choice's Was (another fan-out gave it a sender meanwhile) keeps what it
	// remembers, and the choice's Sender is set to that, so that the page sends on it.
	PlanPage(ctx context.Context, ds []Delivery, senders []SenderChoice) ([]int64, error)
	// RemindDeliveries plans the reminders of one airing: each of ds (channel reminder) names its airing
	// by Occurrence. A key with no delivery gets a pending one. A delivery that reminded of an earlier
	// airing and has left (any status but pending) is re-armed: pending again for this airing, its
	// reason, provider id and attempts cleared, the re-arm recorded in its history. A delivery already
	// for this airing (the task ran twice), for a later one, or still pending for an earlier one is left
	// as it is; the last are counted in held. It returns the ids of the given keys pending for their
	// airing, so a re-run of the remind task hands the same rows on again and nothing more.
	RemindDeliveries(ctx context.Context, ds []Delivery) (ids []int64, held int, err error)
	DeliveriesByIDs(ctx context.Context, ids []int64) ([]Delivery, error)
	Deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error)
	DeliveryByProviderID(ctx context.Context, channel ChannelName, providerID string) (Delivery, error)
	// AdvanceDelivery moves a delivery to status when that is progress (see DeliveryStatus.Advances),
	// records the event, and sets providerID when not empty. It reports whether the status changed.
	AdvanceDelivery(ctx context.Context, id int64, status DeliveryStatus, detail, providerID string) (bool, error)
	// AdvanceDeliveries applies the advances of a send task's page in one transaction; each result says
	// whether that delivery's status changed.
	AdvanceDeliveries(ctx context.Context, as []DeliveryAdvance) ([]bool, error)
	// StartAttempts counts one more try of each delivery, in one transaction.
	StartAttempts(ctx context.Context, ids []int64) error
	// ClaimDeliveries moves those of ids still pending to claimed by attempt at now, atomically, and
	// returns the ids it moved (in id order): a delivery is handed to its provider only by the attempt
	// that claimed it. The claim writes no event.
	ClaimDeliveries(ctx context.Context, ids []int64, attempt string, now time.Time) ([]int64, error)
	// CommitSends applies the steps of send attempts in one transaction, in order, each step's advances
	// (as AdvanceDeliveries) before its claims (as ClaimDeliveries), and returns for each step the ids
	// it claimed, in id order: the outcome of one message and the claim of the next cost one commit,
	// and so do those of send tasks that commit at the same moment. On error nothing is applied.
	CommitSends(ctx context.Context, steps []SendStep) ([][]int64, error)
	// ReleaseClaims moves back to pending those of ids claimed by attempt (the provider certainly did
	// not take them); it returns the ids it moved.
	ReleaseClaims(ctx context.Context, ids []int64, attempt string) ([]int64, error)
	// ReserveDeliveries marks those of ids still pending as the page of attempt at now (they stay
	// pending): a reservation not refreshed for a while is a page a dead attempt will never send.
	// ClearReservations ends attempt's reservations of those of ids still pending (the attempt ended).
	// Both find the rows by id: the deliveries of an attempt are its page, and finding them by
	// attempt would scan the table (no index holds claimed_by).
	ReserveDeliveries(ctx context.Context, ids []int64, attempt string, now time.Time) error
	ClearReservations(ctx context.Context, attempt string, ids []int64) error
	// ReclaimReserved hands to attempt (at now) at most limit pending deliveries of channel reserved by
	// an attempt that has not refreshed them since before, and returns their ids: one sweeper gets them.
	ReclaimReserved(ctx context.Context, channel ChannelName, before time.Time, attempt string, now time.Time, limit int) ([]int64, error)
	// RefreshClaims sets to now the claim time of those of ids attempt still holds or reserves: the
	// attempt's heartbeat over its page.
	RefreshClaims(ctx context.Context, attempt string, ids []int64, now time.Time) error
	// ReclaimDeliveries hands to attempt (at now) at most limit claims of channel not refreshed since
	// before, each with one conditional update, and returns them, ClaimedBy naming the attempt that
	// held them (the dead one): two sweepers never take the same claim.
	ReclaimDeliveries(ctx context.Context, channel ChannelName, before time.Time, attempt string, now time.Time, limit int) ([]Delivery, error)
	// ResendUnknown moves a lesson's deliveries in status unknown back to pending and returns their ids.
	ResendUnknown(ctx context.Context, lessonID int64) ([]int64, error)
	// ClaimContacts is ClaimContact for a page of deliveries; it returns the holder of each claim by the
	// claiming delivery's id.
	ClaimContacts(ctx context.Context, claims []ContactClaim) (map[int64]int64, error)
	DeliveryEvents(ctx context.Context, id int64) ([]DeliveryEvent, error)
	// AddDeliveryEvent records a step of a delivery's history that does not change its status.
	AddDeliveryEvent(ctx context.Context, e DeliveryEvent) error
	// DeliveryCounts counts a lesson's deliveries per channel and status; lessonID 0 counts every lesson's.
	DeliveryCounts(ctx context.Context, lessonID int64) ([]DeliveryCount, error)
	// DeliveryTimeline counts the status changes of deliveries per bucket of time, channel and status
	// (timeline.go); notes added to a delivery's history without a change of status are not counted.
	DeliveryTimeline(ctx context.Context, f TimelineFilter) ([]TimelineCount, error)
	// FailureCounts groups failed and undelivered deliveries by channel, status and reason, the most
	// frequent first.
	FailureCounts(ctx context.Context, f FailureFilter) ([]FailureCount, error)
	// DeliveriesStarted returns when the lesson's first delivery was planned; zero when it has none.
	DeliveriesStarted(ctx context.Context, lessonID int64) (time.Time, error)
	// ClaimContact records that deliveryID is the one delivery of the lesson that goes to contact (a
	// phone number or an email address) on channel, and returns the delivery that holds the claim: when it
	// is another one, this delivery is a duplicate (two children, or two households, share the contact).
	ClaimContact(ctx context.Context, lessonID int64, channel ChannelName, contact string, deliveryID int64) (int64, error)
}

// TokenStore keeps API tokens, by the SHA-256 of their secret (HashToken) so a leaked database leaks
// no token. A lookup is by the hash of a random secret, through a unique index: its timing tells
// nothing of any stored secret.
type TokenStore interface {
	// CreateToken stores t with the hash of its secret and sets its id and creation time (the store's
	// now); t.User.Role must be a role and t.Name not empty.
	CreateToken(ctx context.Context, t *APIToken, tokenHash string) error
	// TokenByHash returns the token whose secret has that hash, revoked and expired ones too (see
	// APIToken.Check); EUNAUTHORIZED when there is none.
	TokenByHash(ctx context.Context, tokenHash string) (APIToken, error)
	Token(ctx context.Context, id int64) (APIToken, error)
	// Tokens lists every token, revoked ones too, in id order.
	Tokens(ctx context.Context) ([]APIToken, error)
	// RotateToken gives a token in force a new secret (the old one stops working) and expiry;
	// ECONFLICT when it is revoked.
	RotateToken(ctx context.Context, id int64, tokenHash string, expiresAt time.Time) (APIToken, error)
	// RevokeToken revokes a token at the store's now; revoking it again changes nothing.
	RevokeToken(ctx context.Context, id int64) (APIToken, error)
	// TouchToken records that a token was used at.
	TouchToken(ctx context.Context, id int64, at time.Time) error
}

// StaffStore keeps the staff who sign in through an OpenID provider (ui/oidc.go), one user per issuer
// and subject.
type StaffStore interface {
	// SignInStaff records a sign-in: it creates the user of id.Issuer and id.Subject on the first one
	// and updates their name and role on the next ones (the provider's claims decide the role), and
	// returns the user, whose ID is StaffUserID(id.Issuer, id.Subject).
	SignInStaff(ctx context.Context, id StaffIdentity) (User, error)
	// StaffUser returns a user SignInStaff made; EUNAUTHORIZED when there is none.
	StaffUser(ctx context.Context, id string) (User, error)
}

// ClassStore links teachers to the classes they teach: a teacher's lesson goes to them by default.
type ClassStore interface {
	// SetUserClasses replaces the classes userID teaches (none: an empty list).
	SetUserClasses(ctx context.Context, userID string, classes []string) error
	// UserClasses returns the classes userID teaches, sorted.
	UserClasses(ctx context.Context, userID string) ([]string, error)
}

// InboundMessage is an SMS reply that was not a keyword, kept for the teacher to read.
type InboundMessage struct {
	ID         int64
	Phone      string
	Body       string
	ProviderID string
	ReceivedAt time.Time
}

// InboundStore keeps replies.
type InboundStore interface {
	SaveInbound(ctx context.Context, m InboundMessage) error
	InboundMessages(ctx context.Context, p Page) ([]InboundMessage, error)
}

// PostalStore keeps postal batches: one print run per lesson and region (postal.go).
type PostalStore interface {
	// CreatePostalBatch creates b in status pending holding the queued postal deliveries of b.LessonID
	// whose provider id is providerID and that no other batch holds, at most max of them (0: all), in
	// id order; it sets b's id and household count. With no such delivery it creates nothing and
	// returns EINVALID.
	CreatePostalBatch(ctx context.Context, b *PostalBatch, providerID string, max int) error
	PostalBatch(ctx context.Context, id int64) (PostalBatch, error)
	PostalBatches(ctx context.Context, f PostalBatchFilter) ([]PostalBatch, error)
	// PostalPackets returns a page of a batch's households, in delivery id order after p.After.
	PostalPackets(ctx context.Context, batchID int64, p Page) ([]PostalPacket, error)
	// SetPostalBatchReady records the batch's files and moves it from pending to ready.
	SetPostalBatchReady(ctx context.Context, id int64, pdfPath string, pdfBytes int64, csvPath string) error
	// SetPostalBatchFailed moves a pending batch to failed with the reason and releases its deliveries
	// for a new batch.
	SetPostalBatchFailed(ctx context.Context, id int64, reason string) error
	// MarkPostalBatch moves a batch to printed or posted (see PostalBatchStatus.Next), ECONFLICT
	// otherwise; posted also moves the batch's deliveries to sent.
	MarkPostalBatch(ctx context.Context, id int64, status PostalBatchStatus) (PostalBatch, error)
}

// BounceStore keeps what delivery status reports said.
type BounceStore interface {
	// RecordBounce keeps b and, when it names a delivery, adds it to the delivery's history. A report
	// already recorded (same recipient, message, action and status) is ignored: it reports false.
	RecordBounce(ctx context.Context, b EmailBounce) (bool, error)
}

// PoolStats are the figures of a store's connection pool (store/postgres), shown by /metrics.
type PoolStats struct {
	Acquired, Idle, Total, Max        int32         // connections in use, open and unused, open, allowed
	Acquires, EmptyAcquires, Canceled int64         // connections taken; asked for while none was idle; waits given up
	AcquireWait                       time.Duration // time spent waiting for a connection
}

// Store is everything Relais keeps. store/sqlite (the embedded default) and store/postgres implement
// it; store/storetest checks that both behave the same.
type Store interface {
	LessonStore
	HouseholdStore
	DeliveryStore
	TokenStore
	AuditStore
	StaffStore
	ClassStore
	InboundStore
	PostalStore
	BounceStore
	ScheduleStore
	PrivacyStore
	Ping(ctx context.Context) error
	Close() error
}
