package email

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/store/sqlite"
)

// bounceFixture is a store with one lesson sent by email to three households.
type bounceFixture struct {
	db         *sqlite.DB
	deliveries map[string]int64 // address -> email delivery id
}

func newBounceFixture(t *testing.T) *bounceFixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "relais.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l := relais.Lesson{Title: "Les fractions", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1"}
	if err := db.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	var hs []relais.Household
	for i, addr := range []string{"nobody@example.org", "full@example.net", "gone@example.com"} {
		hs = append(hs, relais.Household{ExternalRef: "h" + strconv.Itoa(i), Language: "fr", Grades: []int{5},
			Profile: relais.ProfileBroadband, Email: addr, Consent: true})
	}
	if err := db.UpsertHouseholds(ctx, hs); err != nil {
		t.Fatal(err)
	}
	f := &bounceFixture{db: db, deliveries: map[string]int64{}}
	for _, h := range hs {
		ids, err := db.PlanDeliveries(ctx, []relais.Delivery{{LessonID: l.ID, HouseholdID: h.ID, Channel: relais.ChannelEmail}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.AdvanceDelivery(ctx, ids[0], relais.DeliverySent, "250 OK", "<relais."+strconv.FormatInt(ids[0], 10)+".x@relais.example>"); err != nil {
			t.Fatal(err)
		}
		f.deliveries[h.Email] = ids[0]
	}
	return f
}

// report returns a fixture from testdata/dsn with the Message-ID of the bounced message pointing at
// delivery id.
func report(t *testing.T, name string, from, to int64) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "dsn", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "<relais."+strconv.FormatInt(from, 10)+".", "<relais."+strconv.FormatInt(to, 10)+".")
}

func (f *bounceFixture) delivery(t *testing.T, addr string) relais.Delivery {
	t.Helper()
	ds, err := f.db.DeliveriesByIDs(context.Background(), []int64{f.deliveries[addr]})
	if err != nil || len(ds) != 1 {
		t.Fatalf("delivery of %s: %v %v", addr, ds, err)
	}
	return ds[0]
}

func (f *bounceFixture) emailStatus(t *testing.T, addr string) relais.ContactStatus {
	t.Helper()
	hs, err := f.db.Households(context.Background(), relais.HouseholdFilter{Page: relais.Page{Limit: 100}})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if h.Email == addr {
			return h.EmailStatus
		}
	}
	t.Fatalf("no household with %s", addr)
	return ""
}

func TestImportDSNHardBounce(t *testing.T) {
	ctx := context.Background()
	f := newBounceFixture(t)
	id := f.deliveries["nobody@example.org"]
	msg := report(t, "postfix-hard.eml", 1234, id)

	got, err := ImportDSN(ctx, f.db, channels.NewLedger(f.db, nil), strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(IntakeResult{Hard: 1, Failed: []int64{id}}, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if s := f.emailStatus(t, "nobody@example.org"); s != relais.ContactInvalid {
		t.Errorf("bounced address status %q, want invalid", s)
	}
	if s := f.emailStatus(t, "full@example.net"); s != relais.ContactOK {
		t.Errorf("other address status %q, want ok", s)
	}
	d := f.delivery(t, "nobody@example.org")
	if d.Status != relais.DeliveryFailed || !strings.Contains(d.Reason, "5.1.1") || !strings.Contains(d.Reason, "User unknown") {
		t.Errorf("delivery %s %q, want failed with the 5.1.1 diagnostic", d.Status, d.Reason)
	}

	// The same report again (a mailbox read twice) changes nothing.
	again, err := ImportDSN(ctx, f.db, channels.NewLedger(f.db, nil), strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(IntakeResult{Ignored: 1}, again); diff != "" {
		t.Errorf("second import (-want +got):\n%s", diff)
	}
	evs, err := f.db.DeliveryEvents(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, string(e.Status)+":"+strings.SplitN(e.Detail, ":", 2)[0])
	}
	want := []string{"pending:", "sent:250 OK", "sent:hard bounce", "failed:hard bounce 5.1.1"}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

func TestImportDSNSoftBounce(t *testing.T) {
	ctx := context.Background()
	f := newBounceFixture(t)
	id := f.deliveries["full@example.net"]
	got, err := ImportDSN(ctx, f.db, channels.NewLedger(f.db, nil), strings.NewReader(report(t, "delayed.eml", 77, id)))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(IntakeResult{Soft: 1}, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if s := f.emailStatus(t, "full@example.net"); s != relais.ContactOK {
		t.Errorf("soft-bounced address status %q, want ok", s)
	}
	if d := f.delivery(t, "full@example.net"); d.Status != relais.DeliverySent {
		t.Errorf("delivery status %s, want sent", d.Status)
	}
	evs, err := f.db.DeliveryEvents(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if last.Status != relais.DeliverySent || !strings.HasPrefix(last.Detail, "soft bounce: delayed 4.2.2") {
		t.Errorf("last event %+v, want the soft bounce", last)
	}
}

func TestImportDSNSeveralRecipients(t *testing.T) {
	ctx := context.Background()
	f := newBounceFixture(t)
	b, err := os.ReadFile(filepath.Join("testdata", "dsn", "exchange-multi-base64.eml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ImportDSN(ctx, f.db, channels.NewLedger(f.db, nil), strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// gone@ failed 5.2.1 (hard), ok@ delivered (ignored), soft@ failed 4.4.7 (soft). The report quotes
	// no Message-ID, so no delivery is failed, but the address is suppressed.
	if diff := cmp.Diff(IntakeResult{Hard: 1, Soft: 1, Ignored: 1}, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if s := f.emailStatus(t, "gone@example.com"); s != relais.ContactInvalid {
		t.Errorf("gone@ status %q, want invalid", s)
	}
	if d := f.delivery(t, "gone@example.com"); d.Status != relais.DeliverySent {
		t.Errorf("delivery status %s, want sent", d.Status)
	}
}

func TestImportDSNRejectsOtherMail(t *testing.T) {
	f := newBounceFixture(t)
	b, err := os.ReadFile(filepath.Join("testdata", "dsn", "not-a-dsn.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ImportDSN(context.Background(), f.db, channels.NewLedger(f.db, nil), strings.NewReader(string(b))); !errors.Is(err, ErrNotDSN) {
		t.Errorf("err = %v, want ErrNotDSN", err)
	}
}

// A Message-ID that names a delivery of another channel (an SMS) does not fail it.
func TestImportDSNIgnoresOtherChannels(t *testing.T) {
	ctx := context.Background()
	f := newBounceFixture(t)
	hs, _ := f.db.Households(ctx, relais.HouseholdFilter{})
	ids, err := f.db.PlanDeliveries(ctx, []relais.Delivery{{LessonID: 1, HouseholdID: hs[0].ID, Channel: relais.ChannelSMS}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ImportDSN(ctx, f.db, channels.NewLedger(f.db, nil), strings.NewReader(report(t, "postfix-hard.eml", 1234, ids[0])))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(IntakeResult{Hard: 1}, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if ds, _ := f.db.DeliveriesByIDs(ctx, ids); ds[0].Status != relais.DeliveryPending {
		t.Errorf("sms delivery %s, want pending", ds[0].Status)
	}
}

// A relay that gave up on a temporary failure (failed, 4.x.x) asks for the delivery to be sent again;
// the address stays usable.
func TestImportDSNTemporaryFailureAsksForAResend(t *testing.T) {
	ctx := context.Background()
	f := newBounceFixture(t)
	id := f.deliveries["full@example.net"]
	failed := strings.Replace(report(t, "delayed.eml", 77, id), "Action: delayed", "Action: failed", 1)
	got, err := ImportDSN(ctx, f.db, channels.NewLedger(f.db, nil), strings.NewReader(failed))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(IntakeResult{Soft: 1, Resend: []int64{id}}, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if s := f.emailStatus(t, "full@example.net"); s != relais.ContactOK {
		t.Errorf("address status %q, want ok", s)
	}
	// The same report again changes nothing and asks for nothing.
	again, err := ImportDSN(ctx, f.db, channels.NewLedger(f.db, nil), strings.NewReader(failed))
	if err != nil || len(again.Resend) != 0 {
		t.Errorf("second import: %+v %v", again, err)
	}
}
