package sms_test

import (
	"context"
	"errors"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/channels/sms/sandbox"
)

// A message whose answer was dropped after Twilio took it is ambiguous, found again by Lookup (by To,
// newest first, matching the body), and its status fetched by SID; a message Twilio never took, or
// another body, is not found; a 503 is not ambiguous.
func TestLookupFindsAMessageWhoseAnswerWasLost(t *testing.T) {
	const (
		dropped = "+33655555555"
		broken  = "+33622222222"
	)
	r := newRig(t, sandbox.Rule{To: dropped, DropAnswer: true}, sandbox.Rule{To: broken, HTTPStatus: 503})
	ctx := context.Background()
	since := time.Now()
	m := message(3, dropped, "Leçon de géographie à 10:00")
	_, err := r.ch.Send(ctx, m)
	var se *channels.SendError
	if !errors.As(err, &se) || !se.Ambiguous || se.Kind != channels.Retryable {
		t.Fatalf("Send with a dropped answer: %v, want a retryable ambiguous SendError", err)
	}
	if _, err := r.ch.Send(ctx, message(4, broken, "x")); !errors.As(err, &se) || se.Ambiguous {
		t.Fatalf("Send answered 503: %v, want not ambiguous", err)
	}
	rc, found, err := r.ch.Lookup(ctx, m, since)
	if err != nil || !found {
		t.Fatalf("Lookup = %v, %v, %v; want found", rc, found, err)
	}
	msgs := r.sandbox.Messages()
	if rc.ProviderID != msgs[0].Sid {
		t.Errorf("Lookup found %s, the sandbox holds %s", rc.ProviderID, msgs[0].Sid)
	}
	waitFor(t, "delivered at the sandbox", func() bool {
		s, err := r.ch.FetchStatus(ctx, rc.ProviderID)
		return err == nil && s == relais.DeliveryDelivered
	})
	if _, found, err := r.ch.Lookup(ctx, message(3, dropped, "Une autre leçon"), since); err != nil || found {
		t.Errorf("Lookup of another body: found %v, %v", found, err)
	}
	if _, found, err := r.ch.Lookup(ctx, message(5, "+33677777777", "Leçon de géographie à 10:00"), since); err != nil || found {
		t.Errorf("Lookup of a message never sent: found %v, %v", found, err)
	}
	if _, found, err := r.ch.Lookup(ctx, m, time.Now().Add(time.Hour)); err != nil || found {
		t.Errorf("Lookup of a later claim: found %v, %v", found, err)
	}
}
