package email

import (
	"context"
	"fmt"
	"io"
	"strings"

	relais "github.com/relais-edu/relais"
)

// BounceStore is what the bounce intake changes.
type BounceStore interface {
	SetEmailStatus(ctx context.Context, email string, status relais.ContactStatus) error
	DeliveriesByIDs(ctx context.Context, ids []int64) ([]relais.Delivery, error)
	AdvanceDelivery(ctx context.Context, id int64, status relais.DeliveryStatus, detail, providerID string) (bool, error)
	RecordBounce(ctx context.Context, b relais.EmailBounce) (bool, error)
}

// IntakeResult counts what reports did.
type IntakeResult struct {
	Hard    int     `json:"hard"`    // addresses suppressed
	Soft    int     `json:"soft"`    // delays and temporary failures recorded
	Ignored int     `json:"ignored"` // delivered or relayed notices, and reports already seen
	Failed  []int64 `json:"failed"`  // deliveries marked failed
	// Resend lists the deliveries whose relay gave up on a temporary failure (failed, 4.x.x): the caller
	// queues them to be sent again. A delay report is only recorded: the reporting server still tries.
	Resend []int64 `json:"resend"`
}

// Add adds the counts of o to r.
func (r *IntakeResult) Add(o IntakeResult) {
	r.Hard += o.Hard
	r.Soft += o.Soft
	r.Ignored += o.Ignored
	r.Failed = append(r.Failed, o.Failed...)
	r.Resend = append(r.Resend, o.Resend...)
}

// ImportDSN reads one delivery status report and applies it: a hard bounce (failed, 5.x.x) marks the
// address invalid, so no later email goes to it, and fails the delivery its Message-ID names; a soft
// bounce (delayed, or failed 4.x.x) is recorded in the delivery's history; a failed 4.x.x, whose relay
// gave up on a temporary failure, is also listed in Resend for the caller to send again (a delay is
// not: the reporting server still tries). A message that is not a report returns ErrNotDSN.
func ImportDSN(ctx context.Context, store BounceStore, r io.Reader) (IntakeResult, error) {
	bounces, err := ParseDSN(r)
	if err != nil {
		return IntakeResult{}, err
	}
	return ApplyBounces(ctx, store, bounces)
}

// ApplyBounces applies parsed reports (see ImportDSN). Applying the same report twice changes nothing.
func ApplyBounces(ctx context.Context, store BounceStore, bounces []Bounce) (IntakeResult, error) {
	var res IntakeResult
	for _, b := range bounces {
		soft := b.Action == "delayed" || (b.Action == "failed" && !b.Hard)
		if (!b.Hard && !soft) || b.Recipient == "" {
			res.Ignored++
			continue
		}
		deliveryID, err := emailDelivery(ctx, store, b.MessageID)
		if err != nil {
			return res, err
		}
		recorded, err := store.RecordBounce(ctx, relais.EmailBounce{Recipient: strings.ToLower(b.Recipient),
			DeliveryID: deliveryID, MessageID: b.MessageID, Action: b.Action, Status: b.Status, Hard: b.Hard,
			Diagnostic: b.Diagnostic})
		if err != nil {
			return res, err
		}
		if !recorded {
			res.Ignored++
			continue
		}
		if soft {
			res.Soft++
			if b.Action == "failed" && deliveryID != 0 {
				res.Resend = append(res.Resend, deliveryID)
			}
			continue
		}
		res.Hard++
		if err := store.SetEmailStatus(ctx, b.Recipient, relais.ContactInvalid); err != nil {
			return res, fmt.Errorf("suppress bounced address: %w", err)
		}
		if deliveryID == 0 {
			continue
		}
		detail := "hard bounce " + b.Status
		if b.Diagnostic != "" {
			detail += ": " + b.Diagnostic
		}
		changed, err := store.AdvanceDelivery(ctx, deliveryID, relais.DeliveryFailed, detail, "")
		if err != nil {
			return res, fmt.Errorf("fail bounced delivery %d: %w", deliveryID, err)
		}
		if changed {
			res.Failed = append(res.Failed, deliveryID)
		}
	}
	return res, nil
}

// emailDelivery returns the id of the email delivery a Message-ID names, 0 when there is none.
func emailDelivery(ctx context.Context, store BounceStore, messageID string) (int64, error) {
	id, ok := DeliveryIDFromMessageID(messageID)
	if !ok {
		return 0, nil
	}
	ds, err := store.DeliveriesByIDs(ctx, []int64{id})
	if err != nil {
		return 0, fmt.Errorf("find bounced delivery %d: %w", id, err)
	}
	if len(ds) == 0 || ds[0].Channel != relais.ChannelEmail {
		return 0, nil
	}
	return id, nil
}
