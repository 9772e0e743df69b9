package email

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

// BounceStore is what the bounce intake reads: the delivery a bounced Message-ID names. What a report
// says goes to the delivery ledger as verdicts (channels.Recorder).
type BounceStore interface {
	DeliveriesByIDs(ctx context.Context, ids []int64) ([]relais.Delivery, error)
}

// IntakeResult counts what reports did (channels.ReportResult).
type IntakeResult = channels.ReportResult

// ImportDSN reads one delivery status report and applies it: a hard bounce (failed, 5.x.x) marks the
// address invalid, so no later email goes to it, and fails the delivery its Message-ID names; a soft
// bounce (delayed, or failed 4.x.x) is recorded in the delivery's history; a failed 4.x.x, whose relay
// gave up on a temporary failure, is also listed in Resend for the caller to send again (a delay is
// not: the reporting server still tries). A message that is not a report returns ErrNotDSN.
func ImportDSN(ctx context.Context, store BounceStore, rec channels.Recorder, r io.Reader) (IntakeResult, error) {
	bounces, err := ParseDSN(r)
	if err != nil {
		return IntakeResult{}, err
	}
	return ApplyBounces(ctx, store, rec, bounces)
}

// ReadReport applies one delivery status report posted to Relais (see ImportDSN): mail that is not
// a report is channels.ErrNotReport, an unreadable message channels.ErrUnreadableReport.
func (Rules) ReadReport(ctx context.Context, store channels.DeliveryLookup, rec channels.Recorder, r io.Reader) (channels.ReportResult, error) {
	bounces, err := ParseDSN(r)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe) || errors.Is(err, ErrNotDSN):
		return IntakeResult{}, err
	case err != nil:
		return IntakeResult{}, fmt.Errorf("%w: %w", channels.ErrUnreadableReport, err)
	}
	return ApplyBounces(ctx, store, rec, bounces)
}

// ApplyBounces applies parsed reports (see ImportDSN) through rec. Applying the same report twice
// changes nothing: the ledger keeps a report once.
func ApplyBounces(ctx context.Context, store BounceStore, rec channels.Recorder, bounces []Bounce) (IntakeResult, error) {
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
		v := channels.Verdict{Channel: relais.ChannelEmail, DeliveryID: deliveryID,
			Bounce: &relais.EmailBounce{Recipient: strings.ToLower(b.Recipient), DeliveryID: deliveryID, MessageID: b.MessageID,
				Action: b.Action, Status: b.Status, Hard: b.Hard, Diagnostic: b.Diagnostic}}
		if !soft {
			// A hard bounce suppresses the address, so no later email goes to it, and fails the delivery.
			v.Contact = channels.ContactVerdict{Kind: channels.ContactEmail, Address: b.Recipient, Status: relais.ContactInvalid}
			v.Status, v.Detail = relais.DeliveryFailed, "hard bounce "+b.Status
			if b.Diagnostic != "" {
				v.Detail += ": " + b.Diagnostic
			}
		}
		out, err := rec.Record(ctx, v)
		if err != nil {
			return res, fmt.Errorf("bounce of delivery %d: %w", deliveryID, err)
		}
		switch {
		case out.Duplicate:
			res.Ignored++
		case soft:
			res.Soft++
			if b.Action == "failed" && deliveryID != 0 {
				res.Resend = append(res.Resend, deliveryID)
			}
		default:
			res.Hard++
			if out.Advanced {
				res.Failed = append(res.Failed, deliveryID)
			}
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
