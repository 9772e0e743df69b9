package relais

import (
	"fmt"
	"time"
)

// PostalBatchStatus is where a region's print run is.
type PostalBatchStatus string

const (
	PostalBatchPending PostalBatchStatus = "pending" // its deliveries are chosen; the PDF and CSV are being made
	PostalBatchReady   PostalBatchStatus = "ready"   // the PDF and CSV can be downloaded
	PostalBatchPrinted PostalBatchStatus = "printed" // the regional office printed it
	PostalBatchPosted  PostalBatchStatus = "posted"  // handed to the post: its deliveries are sent
	PostalBatchFailed  PostalBatchStatus = "failed"  // the files could not be made; Reason says why
)

// Next reports whether a batch in status s may be marked next by the media unit: ready, then printed,
// then posted (printing may go unrecorded: ready to posted is allowed).
func (s PostalBatchStatus) Next(next PostalBatchStatus) bool {
	switch next {
	case PostalBatchPrinted:
		return s == PostalBatchReady
	case PostalBatchPosted:
		return s == PostalBatchReady || s == PostalBatchPrinted
	}
	return false
}

// PostalBatch is one print run: the queued postal deliveries of one lesson in one region, as one PDF
// (a cover letter, the worksheet and the broadcast times per household) and a CSV of addresses.
type PostalBatch struct {
	ID         int64
	LessonID   int64
	Region     string
	Status     PostalBatchStatus
	Reason     string
	Households int // packets in the batch
	PDFPath    string
	PDFBytes   int64
	CSVPath    string
	CreatedBy  string // user id
	CreatedAt  time.Time
	UpdatedAt  time.Time
	PrintedAt  time.Time // zero until printed
	PostedAt   time.Time // zero until posted
}

// PostalPacket is one household of a batch with its delivery.
type PostalPacket struct {
	DeliveryID int64
	Household  Household
}

// PostalBatchFilter selects batches.
type PostalBatchFilter struct {
	LessonID int64
	Region   string
	Status   PostalBatchStatus
	Page     Page
}

// EmailBounce is one recipient of a delivery status report (RFC 3464) as recorded.
type EmailBounce struct {
	Recipient  string
	DeliveryID int64 // 0 when the report does not lead back to a delivery
	MessageID  string
	Action     string // failed, delayed, ...
	Status     string // enhanced status code, e.g. 5.1.1
	Hard       bool
	Diagnostic string
	At         time.Time
}

// PostalUnassigned is the region of households that have none, for postal batches.
const PostalUnassigned = "unassigned"

// PostalBatchKey is the provider id of a postal delivery waiting for the batch of its region and
// lesson: the postal channel sets it when it queues a packet, and a batch takes the deliveries that
// carry it (PostalStore.CreatePostalBatch).
func PostalBatchKey(region string, lessonID int64) string {
	if region == "" {
		region = PostalUnassigned
	}
	return fmt.Sprintf("batch:%s:lesson-%d", region, lessonID)
}
