package channels_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/store/sqlite"
)

// TestLedger records each kind of verdict in a real store.
func TestLedger(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "relais.db"))
	must(t, err)
	t.Cleanup(func() { store.Close() })
	l := relais.Lesson{Title: "T", Subject: "s", Grade: 5, Language: "fr", TeacherID: "t"}
	must(t, store.CreateLesson(ctx, &l))
	hs := []relais.Household{
		{ExternalRef: "A", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileMobileData, Phone: "+33612000001", Email: "a@example.org", Consent: true},
	}
	must(t, store.UpsertHouseholds(ctx, hs))
	ids, err := store.PlanDeliveries(ctx, []relais.Delivery{
		{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelSMS},
		{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelEmail},
	})
	must(t, err)
	var batched []relais.DeliveryAdvance
	ledger := channels.NewLedger(store, func(_ context.Context, a relais.DeliveryAdvance) error {
		batched = append(batched, a)
		return nil
	})
	household := func() relais.Household {
		t.Helper()
		got, err := store.HouseholdsByIDs(ctx, []int64{hs[0].ID})
		must(t, err)
		return got[hs[0].ID]
	}
	status := func(id int64) relais.DeliveryStatus {
		t.Helper()
		ds, err := store.DeliveriesByIDs(ctx, []int64{id})
		must(t, err)
		return ds[0].Status
	}

	// A status callback is batched: the delivery does not move until the queue applies it.
	out, err := ledger.Record(ctx, channels.Verdict{Channel: relais.ChannelSMS, DeliveryID: ids[0], ProviderID: "SM1",
		Status: relais.DeliveryDelivered, Detail: "twilio: delivered", Batched: true,
		Contact: channels.ContactVerdict{Kind: channels.ContactPhone, Address: hs[0].Phone, Status: relais.ContactLandline}})
	must(t, err)
	want := []relais.DeliveryAdvance{{ID: ids[0], Status: relais.DeliveryDelivered, Detail: "twilio: delivered", ProviderID: "SM1"}}
	if diff := cmp.Diff(want, batched); diff != "" || out.Advanced || status(ids[0]) != relais.DeliveryPending {
		t.Errorf("batched callback (-want +got):\n%s outcome %+v, status %s", diff, out, status(ids[0]))
	}
	if h := household(); h.PhoneStatus != relais.ContactLandline {
		t.Errorf("phone status = %q, want landline", h.PhoneStatus)
	}

	// The caller gone (a callback client that timed out): the verdict is recorded all the same.
	gone, cancel := context.WithCancel(ctx)
	cancel()
	_, err = channels.NewLedger(store, nil).Record(gone, channels.Verdict{Channel: relais.ChannelSMS, DeliveryID: ids[0],
		ProviderID: "SM1", Status: relais.DeliverySent, Detail: "twilio: sent"})
	if err != nil || status(ids[0]) != relais.DeliverySent {
		t.Errorf("a verdict whose caller hung up: %v, status %s; want it recorded", err, status(ids[0]))
	}

	// STOP, then START.
	stop := channels.Verdict{Channel: relais.ChannelSMS, Contact: channels.ContactVerdict{Kind: channels.ContactPhone, Address: hs[0].Phone, Status: relais.ContactOptedOut}}
	_, err = ledger.Record(ctx, stop)
	must(t, err)
	if !household().SMSOptOut {
		t.Error("STOP did not opt the number out")
	}
	stop.Contact.OptIn = true
	_, err = ledger.Record(ctx, stop)
	must(t, err)
	if household().SMSOptOut {
		t.Error("START did not opt the number back in")
	}

	// A reply is kept for the teacher.
	_, err = ledger.Record(ctx, channels.Verdict{Channel: relais.ChannelSMS,
		Reply: &relais.InboundMessage{Phone: hs[0].Phone, Body: "merci", ProviderID: "SM9", ReceivedAt: time.Now()}})
	must(t, err)
	in, err := store.InboundMessages(ctx, relais.Page{Limit: 10})
	must(t, err)
	if len(in) != 1 || in[0].Body != "merci" {
		t.Errorf("replies = %+v", in)
	}

	// A hard bounce fails the delivery now and suppresses the address; the same report again is a
	// duplicate and changes nothing.
	bounce := channels.Verdict{Channel: relais.ChannelEmail, DeliveryID: ids[1], Status: relais.DeliveryFailed, Detail: "hard bounce 5.1.1",
		Contact: channels.ContactVerdict{Kind: channels.ContactEmail, Address: hs[0].Email, Status: relais.ContactInvalid},
		Bounce:  &relais.EmailBounce{Recipient: hs[0].Email, DeliveryID: ids[1], MessageID: "<m1>", Action: "failed", Status: "5.1.1", Hard: true}}
	out, err = ledger.Record(ctx, bounce)
	must(t, err)
	if !out.Advanced || out.Duplicate || status(ids[1]) != relais.DeliveryFailed || household().EmailStatus != relais.ContactInvalid {
		t.Errorf("hard bounce: outcome %+v, status %s, email status %q", out, status(ids[1]), household().EmailStatus)
	}
	must(t, store.SetEmailStatus(ctx, hs[0].Email, relais.ContactOK))
	out, err = ledger.Record(ctx, bounce)
	must(t, err)
	if !out.Duplicate || out.Advanced || household().EmailStatus != relais.ContactOK {
		t.Errorf("the same report again: outcome %+v, email status %q", out, household().EmailStatus)
	}
}
