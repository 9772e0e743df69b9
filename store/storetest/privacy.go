package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
)

// testAccessAndErasure: a household's access export holds its entry, deliveries with their history,
// the replies from its number and the bounces of its address; erasure leaves none of its contacts or
// messages, keeps the deliveries anonymous so the counts stay, and leaves a household that shares its
// number its own replies.
func testAccessAndErasure(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	l := relais.Lesson{Title: "Les fractions", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1", SegmentBudget: 3}
	must(t, db.CreateLesson(ctx, &l))
	const phone, email, shared = "+33612000001", "famille.durand@example.org", "+33612000099"
	hs := []relais.Household{
		{ExternalRef: "DURAND-17", Region: "IDF", Language: "fr", Profile: relais.ProfileMobileData,
			Pupils: []relais.Pupil{{Grade: 5, Language: "fr", School: "0751234A", Class: "0751234A-5B"}},
			Phone:  phone, Email: email, PostalAddress: "Famille Durand\n3 rue des Lilas\n75020 Paris", Consent: true},
		{ExternalRef: "MARTIN-2", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileSMSOnly, Phone: shared, Consent: true},
	}
	must(t, db.UpsertHouseholds(ctx, hs))
	ids, err := db.PlanPage(ctx, []relais.Delivery{
		{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelSMS},
		{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelEmail},
		{LessonID: l.ID, HouseholdID: hs[1].ID, Channel: relais.ChannelSMS},
	}, []relais.SenderChoice{{HouseholdID: hs[0].ID, Sender: "Ecole-IDF"}})
	must(t, err)
	_, err = db.AdvanceDelivery(ctx, ids[0], relais.DeliverySent, "twilio: sent to "+phone, "SM1")
	must(t, err)
	_, err = db.AdvanceDelivery(ctx, ids[1], relais.DeliverySent, "accepted for "+email, "<m1@relais>")
	must(t, err)
	must(t, db.SaveInbound(ctx, relais.InboundMessage{Phone: phone, Body: "Merci, c'est Paul Durand"}))
	must(t, db.SaveInbound(ctx, relais.InboundMessage{Phone: shared, Body: "STOP"}))
	_, err = db.RecordBounce(ctx, relais.EmailBounce{Recipient: email, DeliveryID: ids[1], MessageID: "<m1@relais>",
		Action: "delayed", Status: "4.2.2", Diagnostic: "mailbox of " + email + " full"})
	must(t, err)

	rec, err := db.HouseholdRecord(ctx, hs[0].ID)
	must(t, err)
	if rec.Household.Phone != phone || rec.Household.Email != email || rec.Household.ExternalRef != "DURAND-17" ||
		rec.Household.SMSSender != "Ecole-IDF" ||
		len(rec.Household.Pupils) != 1 || rec.Household.Pupils[0].Class != "0751234A-5B" ||
		len(rec.Deliveries) != 2 || len(rec.Inbound) != 1 || len(rec.Bounces) != 1 || rec.Deliveries[0].LessonTitle != "Les fractions" {
		t.Fatalf("access export = %+v", rec)
	}
	if got := rec.Deliveries[0].Events; len(got) < 2 || !slices.ContainsFunc(got, func(e relais.EventRecord) bool { return strings.Contains(e.Detail, phone) }) {
		t.Errorf("the SMS's history in the export = %+v", got)
	}
	if rec.Inbound[0].Body != "Merci, c'est Paul Durand" || rec.Bounces[0].Status != "4.2.2" {
		t.Errorf("replies %+v, bounces %+v", rec.Inbound, rec.Bounces)
	}
	before, err := db.DeliveryCounts(ctx, l.ID)
	must(t, err)

	must(t, db.EraseHousehold(ctx, hs[0].ID))
	rec, err = db.HouseholdRecord(ctx, hs[0].ID)
	must(t, err)
	want := relais.HouseholdData{ID: hs[0].ID, ExternalRef: relais.ErasedRef(hs[0].ID), Region: "IDF", Language: "fr",
		Pupils: []relais.Pupil{{Grade: 5, Language: "fr"}}, Profile: relais.ProfileMobileData, CreatedAt: rec.Household.CreatedAt}
	if diff := cmp.Diff(want, rec.Household); diff != "" {
		t.Errorf("erased household (-want +got):\n%s", diff)
	}
	for _, d := range rec.Deliveries {
		for _, e := range d.Events {
			if strings.Contains(e.Detail, phone) || strings.Contains(e.Detail, email) {
				t.Errorf("delivery %d keeps %q in its history", d.ID, e.Detail)
			}
		}
	}
	msgs, err := db.InboundMessages(ctx, relais.Page{Limit: 100})
	must(t, err)
	if len(msgs) != 1 || msgs[0].Phone != shared {
		t.Errorf("replies after erasure = %+v, want only the other household's", msgs)
	}
	after, err := db.DeliveryCounts(ctx, l.ID)
	must(t, err)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("counts changed by erasure (-before +after):\n%s", diff)
	}
	if got, err := db.HouseholdsByPhone(ctx, phone); err != nil || len(got) != 0 {
		t.Errorf("households with the erased number = %v, %v", got, err)
	}
	if err := db.EraseHousehold(ctx, 9999); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("erase a missing household: %v", err)
	}
	// Imported again (the family came back), it is a new household: the erased one stays anonymous.
	must(t, db.UpsertHouseholds(ctx, []relais.Household{{ExternalRef: "DURAND-17", Language: "fr", Grades: []int{5},
		Profile: relais.ProfileSMSOnly, Phone: phone, Consent: true}}))
	if again, err := db.HouseholdRecord(ctx, hs[0].ID); err != nil || again.Household.Phone != "" {
		t.Errorf("erased household after a new import = %+v, %v", again.Household, err)
	}
}

// Erased gives db a household with contacts, a reply, a bounce and a delivery history that names its
// addresses, erases it, and returns what must then be found nowhere in the database: its reference,
// phone, email, the lines of its postal address and the words of its reply. Each engine's test
// searches its own tables for them.
func Erased(t *testing.T, db relais.Store) []string {
	t.Helper()
	ctx := context.Background()
	const ref, phone, email, reply = "OKONKWO-4411", "+33698765432", "okonkwo.family@example.org", "Adaeze Okonkwo says thank you"
	address := []string{"Famille Okonkwo", "12 impasse des Glycines", "69003 Lyon"}
	l := relais.Lesson{Title: "Les volcans", Subject: "science", Grade: 6, Language: "fr", TeacherID: "t1", SegmentBudget: 3}
	must(t, db.CreateLesson(ctx, &l))
	hs := []relais.Household{{ExternalRef: ref, Region: "ARA", Language: "fr", Grades: []int{6}, Profile: relais.ProfileMobileData,
		Phone: phone, Email: email, PostalAddress: strings.Join(address, "\n"), Consent: true}}
	must(t, db.UpsertHouseholds(ctx, hs))
	ids, err := db.PlanDeliveries(ctx, []relais.Delivery{
		{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelSMS},
		{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelEmail},
	})
	must(t, err)
	_, err = db.AdvanceDelivery(ctx, ids[0], relais.DeliverySent, "sent to "+phone, "SM9")
	must(t, err)
	_, err = db.AdvanceDelivery(ctx, ids[1], relais.DeliverySent, "accepted for "+email, "<m9@relais>")
	must(t, err)
	must(t, db.SaveInbound(ctx, relais.InboundMessage{Phone: phone, Body: reply}))
	_, err = db.RecordBounce(ctx, relais.EmailBounce{Recipient: email, DeliveryID: ids[1], MessageID: "<m9@relais>",
		Action: "failed", Status: "5.1.1", Hard: true, Diagnostic: "no mailbox " + email})
	must(t, err)
	must(t, db.EraseHousehold(ctx, hs[0].ID))
	return append([]string{ref, phone, email, reply}, address...)
}

// testRetention: replies and bounce reports older than their retention go, newer ones stay, and a zero
// period keeps everything.
func testRetention(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	for _, days := range []int{400, 100, 10} {
		at := now.AddDate(0, 0, -days)
		must(t, db.SaveInbound(ctx, relais.InboundMessage{Phone: "+33612000001", Body: fmt.Sprint(days, " days ago"), ReceivedAt: at}))
		_, err := db.RecordBounce(ctx, relais.EmailBounce{Recipient: "a@example.org", MessageID: fmt.Sprint("<", days, "@relais>"),
			Action: "failed", Status: "5.1.1", Hard: true, At: at})
		must(t, err)
	}
	if p, err := db.PruneFamilyData(ctx, now, relais.Retention{}); err != nil || p != (relais.Pruned{}) {
		t.Errorf("prune with no retention = %+v, %v; want nothing", p, err)
	}
	p, err := db.PruneFamilyData(ctx, now, relais.Retention{Replies: 180 * 24 * time.Hour, Bounces: 30 * 24 * time.Hour})
	must(t, err)
	if want := (relais.Pruned{Replies: 1, Bounces: 2}); p != want {
		t.Errorf("pruned %+v, want %+v (a reply of 400 days, bounces of 400 and 100)", p, want)
	}
	msgs, err := db.InboundMessages(ctx, relais.Page{Limit: 10})
	must(t, err)
	var bodies []string
	for _, m := range msgs {
		bodies = append(bodies, m.Body)
	}
	slices.Sort(bodies)
	if diff := cmp.Diff([]string{"10 days ago", "100 days ago"}, bodies); diff != "" {
		t.Errorf("replies kept (-want +got):\n%s", diff)
	}
}

// testDeliveryRetention: the settled deliveries last changed before the cut-off go with their history
// and contact claims, one a day younger stays, one still pending stays however old, and the lesson's
// counts do not change.
func testDeliveryRetention(t *testing.T, open Open) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	clock := now
	db := open(t, func() time.Time { return clock })
	l := relais.Lesson{Title: "Les volcans", Subject: "science", Grade: 6, Language: "fr", TeacherID: "t1", SegmentBudget: 3}
	must(t, db.CreateLesson(ctx, &l))
	hs := []relais.Household{
		{ExternalRef: "A", Language: "fr", Grades: []int{6}, Profile: relais.ProfileMobileData, Phone: "+33612000001", Email: "a@example.org", Consent: true},
		{ExternalRef: "B", Language: "fr", Grades: []int{6}, Profile: relais.ProfileMobileData, Phone: "+33612000002", Email: "b@example.org", Consent: true},
	}
	must(t, db.UpsertHouseholds(ctx, hs))
	const keep = 90 * 24 * time.Hour
	at := func(ago time.Duration, d relais.Delivery, status relais.DeliveryStatus, reason string) int64 {
		t.Helper()
		clock = now.Add(-ago)
		ids, err := db.PlanDeliveries(ctx, []relais.Delivery{d})
		must(t, err)
		if status != relais.DeliveryPending {
			_, err = db.AdvanceDelivery(ctx, ids[0], status, reason, "P"+fmt.Sprint(ids[0]))
			must(t, err)
		}
		return ids[0]
	}
	day := 24 * time.Hour
	sentLongAgo := at(400*day, relais.Delivery{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelSMS}, relais.DeliverySent, "sent to +33612000001")
	stillPending := at(400*day, relais.Delivery{LessonID: l.ID, HouseholdID: hs[1].ID, Channel: relais.ChannelSMS}, relais.DeliveryPending, "")
	failedJustOver := at(keep+time.Minute, relais.Delivery{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelEmail}, relais.DeliveryFailed, "mailbox full")
	deliveredJustUnder := at(keep-time.Minute, relais.Delivery{LessonID: l.ID, HouseholdID: hs[1].ID, Channel: relais.ChannelEmail}, relais.DeliveryDelivered, "")
	clock = now
	before, err := db.DeliveryCounts(ctx, l.ID)
	must(t, err)

	p, err := db.PruneFamilyData(ctx, now, relais.Retention{Deliveries: keep})
	must(t, err)
	if want := (relais.Pruned{Deliveries: 2}); p != want {
		t.Errorf("pruned %+v, want %+v (deliveries %d and %d)", p, want, sentLongAgo, failedJustOver)
	}
	var kept []int64
	for _, h := range hs {
		rec, err := db.HouseholdRecord(ctx, h.ID)
		must(t, err)
		for _, d := range rec.Deliveries {
			kept = append(kept, d.ID)
		}
	}
	slices.Sort(kept)
	if diff := cmp.Diff([]int64{stillPending, deliveredJustUnder}, kept); diff != "" {
		t.Errorf("deliveries kept (-want +got):\n%s", diff)
	}
	after, err := db.DeliveryCounts(ctx, l.ID)
	must(t, err)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("counts changed by retention (-before +after):\n%s", diff)
	}
	if p, err := db.PruneFamilyData(ctx, now, relais.Retention{Deliveries: keep}); err != nil || p != (relais.Pruned{}) {
		t.Errorf("second pass = %+v, %v; want nothing", p, err)
	}
	// The household of the pruned deliveries can have the lesson again: nothing stops a new plan.
	if again, err := db.DeliveryCounts(ctx, l.ID); err != nil || !cmp.Equal(before, again) {
		t.Errorf("counts after a second pass = %+v, %v", again, err)
	}
}

// testRemovedRetention: a full import marks the households it did not list, one listed again is back,
// and retention erases those removed before its cut-off, not those removed since nor erased ones again.
func testRemovedRetention(t *testing.T, open Open) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	clock := now.AddDate(0, 0, -100)
	db := open(t, func() time.Time { return clock })
	household := func(ref string) relais.Household {
		return relais.Household{ExternalRef: ref, Language: "fr", Grades: []int{4}, Profile: relais.ProfileSMSOnly,
			Phone: "+3361200" + fmt.Sprintf("%04d", len(ref)*7+int(ref[len(ref)-1])), Consent: true}
	}
	hs := []relais.Household{household("R1"), household("R2"), household("R3")}
	must(t, db.UpsertHouseholds(ctx, hs))
	if n, err := db.MarkRemoved(ctx, []string{"R1"}, clock); err != nil || n != 2 {
		t.Fatalf("mark removed 100 days ago = %d, %v; want 2 (R2, R3)", n, err)
	}
	if h, err := db.Household(ctx, hs[1].ID); err != nil || !h.RemovedAt.Equal(clock) {
		t.Errorf("R2's removal = %v, %v; want %v", h.RemovedAt, err, clock)
	}
	if rec, err := db.HouseholdRecord(ctx, hs[1].ID); err != nil || !rec.Household.RemovedAt.Equal(clock) {
		t.Errorf("R2's access export: removed at %v, %v; want %v", rec.Household.RemovedAt, err, clock)
	}
	if h, err := db.Household(ctx, hs[0].ID); err != nil || !h.RemovedAt.IsZero() {
		t.Errorf("R1, listed, removed at %v, %v", h.RemovedAt, err)
	}
	clock = now.AddDate(0, 0, -10)
	must(t, db.UpsertHouseholds(ctx, []relais.Household{household("R3")})) // back in a partial import
	r4 := []relais.Household{household("R4")}
	must(t, db.UpsertHouseholds(ctx, r4))
	if n, err := db.MarkRemoved(ctx, []string{"R1", "R3"}, clock); err != nil || n != 1 {
		t.Fatalf("mark removed 10 days ago = %d, %v; want 1 (R4; R2 is already)", n, err)
	}
	clock = now
	p, err := db.PruneFamilyData(ctx, now, relais.Retention{Removed: 30 * 24 * time.Hour})
	must(t, err)
	if want := (relais.Pruned{Households: 1}); p != want {
		t.Errorf("pruned %+v, want %+v (R2)", p, want)
	}
	refs := map[int64]string{}
	for _, h := range append(hs, r4...) {
		rec, err := db.HouseholdRecord(ctx, h.ID)
		must(t, err)
		refs[h.ID] = rec.Household.ExternalRef + " " + rec.Household.Phone
	}
	want := map[int64]string{hs[0].ID: "R1 " + hs[0].Phone, hs[1].ID: relais.ErasedRef(hs[1].ID) + " ",
		hs[2].ID: "R3 " + hs[2].Phone, r4[0].ID: "R4 " + r4[0].Phone}
	if diff := cmp.Diff(want, refs); diff != "" {
		t.Errorf("households after retention (-want +got):\n%s", diff)
	}
	if p, err := db.PruneFamilyData(ctx, now.AddDate(0, 0, 1), relais.Retention{Removed: 30 * 24 * time.Hour}); err != nil || p != (relais.Pruned{}) {
		t.Errorf("second pass = %+v, %v; want nothing", p, err)
	}
	// The erased household is not marked again; R3 left out now is.
	if n, err := db.MarkRemoved(ctx, []string{"R1"}, now); err != nil || n != 1 {
		t.Errorf("mark removed now = %d, %v; want 1 (R3)", n, err)
	}
}

// testMediaRetention: the lessons whose files have aged out are those aired last, and changed last,
// before the cut-off and not being processed; their locations come back, and once forgotten they do
// not come back again.
func testMediaRetention(t *testing.T, open Open) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	clock := now
	db := open(t, func() time.Time { return clock })
	st := relais.Station{Name: "Balapan", Kind: relais.StationTV, TimeZone: "UTC"}
	must(t, db.CreateStation(ctx, &st))
	lesson := func(title string, changed time.Duration, status relais.LessonStatus, aired ...int) int64 {
		t.Helper()
		clock = now.Add(-changed)
		l := relais.Lesson{Title: title, Subject: "science", Grade: 6, Language: "fr", TeacherID: "t1", SegmentBudget: 3}
		must(t, db.CreateLesson(ctx, &l))
		must(t, db.SetLessonStatus(ctx, l.ID, status, nil))
		key := fmt.Sprintf("lessons/%d/", l.ID)
		must(t, db.SetLessonMediaPath(ctx, l.ID, key+"source.mp4"))
		must(t, db.PutRendition(ctx, relais.Rendition{LessonID: l.ID, Kind: relais.RenditionTV, Path: key + "tv.ts"}))
		must(t, db.PutRendition(ctx, relais.Rendition{LessonID: l.ID, Kind: relais.RenditionLowband, Path: key + "lowband.opus"}))
		must(t, db.PutWorksheet(ctx, relais.Worksheet{LessonID: l.ID, Path: key + "worksheet.pdf", Bytes: 1, Generated: true}))
		for _, daysAgo := range aired {
			slots := []relais.Slot{{Day: now.AddDate(0, 0, -daysAgo).Format(time.DateOnly), Start: fmt.Sprintf("%02d:00", l.ID),
				Duration: 30 * time.Minute}}
			must(t, db.AddSlots(ctx, st.ID, nil, slots, func([]relais.Slot) error { return nil }))
			must(t, db.Assign(ctx, []relais.Assignment{{SlotID: slots[0].ID, LessonID: l.ID}}))
		}
		clock = now
		return l.ID
	}
	day := 24 * time.Hour
	agedOut := lesson("aired 100 days ago", 200*day, relais.LessonPublished, 150, 100)
	lesson("aired again 30 days ago", 200*day, relais.LessonPublished, 150, 30)
	lesson("changed 10 days ago", 10*day, relais.LessonReady)
	lesson("processing", 200*day, relais.LessonProcessing)
	neverAired := lesson("never aired", 120*day, relais.LessonRejected)

	files := func() []relais.LessonFiles {
		t.Helper()
		got, err := db.AgedMedia(ctx, now.Add(-90*day), 10)
		must(t, err)
		return got
	}
	locs := func(id int64) []string {
		k := fmt.Sprintf("lessons/%d/", id)
		return []string{k + "lowband.opus", k + "source.mp4", k + "tv.ts", k + "worksheet.pdf"}
	}
	want := []relais.LessonFiles{{LessonID: agedOut, Locations: locs(agedOut)}, {LessonID: neverAired, Locations: locs(neverAired)}}
	if diff := cmp.Diff(want, files()); diff != "" {
		t.Errorf("aged media (-want +got):\n%s", diff)
	}
	must(t, db.ForgetMedia(ctx, agedOut, now))
	if diff := cmp.Diff(want[1:], files()); diff != "" {
		t.Errorf("aged media after forgetting lesson %d (-want +got):\n%s", agedOut, diff)
	}
	l, err := db.Lesson(ctx, agedOut)
	must(t, err)
	rs, err := db.Renditions(ctx, agedOut)
	must(t, err)
	if _, werr := db.Worksheet(ctx, agedOut); l.MediaPath != "" || len(rs) != 0 || relais.ErrorCode(werr) != relais.ENOTFOUND || l.Title != "aired 100 days ago" {
		t.Errorf("forgotten lesson: %+v, renditions %+v, worksheet %v", l, rs, werr)
	}
}

// testDeliveryRetentionBatches: more deliveries than one batch holds, old and young, go and stay
// exactly, and the counts do not move.
func testDeliveryRetentionBatches(t *testing.T, open Open) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	clock := now
	db := open(t, func() time.Time { return clock })
	l := relais.Lesson{Title: "Les volcans", Subject: "science", Grade: 6, Language: "fr", TeacherID: "t1", SegmentBudget: 3}
	must(t, db.CreateLesson(ctx, &l))
	const old, young = 1200, 300 // more old ones than one batch (1,000) holds
	hs := make([]relais.Household, old+young)
	for i := range hs {
		hs[i] = relais.Household{ExternalRef: fmt.Sprint("H", i), Language: "fr", Grades: []int{6}, Profile: relais.ProfileSMSOnly, Consent: true}
	}
	must(t, db.UpsertHouseholds(ctx, hs))
	plan := func(from, to int, ago time.Duration) {
		t.Helper()
		clock = now.Add(-ago)
		ds := make([]relais.Delivery, 0, to-from)
		for _, h := range hs[from:to] {
			ds = append(ds, relais.Delivery{LessonID: l.ID, HouseholdID: h.ID, Channel: relais.ChannelSMS,
				Status: relais.DeliverySkipped, Reason: "no usable phone, email or postal address"})
		}
		_, err := db.PlanDeliveries(ctx, ds)
		must(t, err)
	}
	plan(0, old, 200*24*time.Hour)
	plan(old, old+young, 10*24*time.Hour)
	clock = now
	before, err := db.DeliveryCounts(ctx, l.ID)
	must(t, err)
	if len(before) != 1 || before[0].Count != old+young || before[0].Status != relais.DeliverySkipped {
		t.Fatalf("counts before = %+v, want %d skipped", before, old+young)
	}
	p, err := db.PruneFamilyData(ctx, now, relais.Retention{Deliveries: 90 * 24 * time.Hour})
	must(t, err)
	if p.Deliveries != old {
		t.Errorf("pruned %d deliveries, want %d", p.Deliveries, old)
	}
	after, err := db.DeliveryCounts(ctx, l.ID)
	must(t, err)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("counts changed (-before +after):\n%s", diff)
	}
	for _, i := range []int{0, old - 1, old, old + young - 1} {
		rec, err := db.HouseholdRecord(ctx, hs[i].ID)
		must(t, err)
		if want := i >= old; (len(rec.Deliveries) == 1) != want {
			t.Errorf("household %d (%d of %d old) keeps %d deliveries", i, min(i+1, old), old, len(rec.Deliveries))
		}
	}
}
