package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	relais "github.com/relais-edu/relais"
)

// The tests below cover the methods the tests moved from store/sqlite left to other packages' tests,
// so that every method of relais.Store behaves the same on every engine.

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var ignoreCreated = cmpopts.IgnoreFields(relais.Rendition{}, "CreatedAt")

// testLessonFiles: renditions and digests are replaced by kind and language; the worksheet is missing
// until put; the pipeline's setters write their column and refuse a missing lesson.
func testLessonFiles(t *testing.T, open Open) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 123456789, time.UTC)
	db := open(t, func() time.Time { return t0 })
	l := relais.Lesson{Title: "Fractions", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1", SegmentBudget: 3}
	must(t, db.CreateLesson(ctx, &l))
	if want := t0.Truncate(time.Millisecond); !l.CreatedAt.Equal(want) || !l.UpdatedAt.Equal(want) {
		t.Errorf("created at %v, updated at %v; want %v", l.CreatedAt, l.UpdatedAt, want)
	}

	tv := relais.Rendition{LessonID: l.ID, Kind: relais.RenditionTV, Path: "/m/tv1.ts", Container: "mpegts", VideoCodec: "mpeg2video",
		AudioCodec: "mp2", Width: 1920, Height: 1080, SampleRate: 48000, Channels: 2, BitRate: 8_000_000, DurationMS: 61_000,
		Bytes: 61_000_000, IntegratedLUFS: -23.1, TruePeakDBTP: -1.5, LRA: 7.25}
	radio := relais.Rendition{LessonID: l.ID, Kind: relais.RenditionRadio, Path: "/m/r.mp2", AudioCodec: "mp2", SampleRate: 48000, Channels: 2}
	must(t, db.PutRendition(ctx, tv))
	must(t, db.PutRendition(ctx, radio))
	tv.Path, tv.Bytes = "/m/tv2.ts", 62_000_000
	must(t, db.PutRendition(ctx, tv))
	rs, err := db.Renditions(ctx, l.ID)
	must(t, err)
	if diff := cmp.Diff([]relais.Rendition{radio, tv}, rs, ignoreCreated); diff != "" {
		t.Errorf("renditions (-want +got):\n%s", diff)
	}
	if len(rs) > 0 && !rs[0].CreatedAt.Equal(t0.Truncate(time.Millisecond)) {
		t.Errorf("rendition created at %v", rs[0].CreatedAt)
	}
	if err := db.PutRendition(ctx, relais.Rendition{LessonID: 999, Kind: relais.RenditionTV, Path: "x"}); err == nil {
		t.Error("a rendition of a missing lesson was kept")
	}

	must(t, db.PutDigest(ctx, relais.Digest{LessonID: l.ID, Language: "fr", Body: "v1", Encoding: "GSM-7", Segments: 1, Characters: 2}))
	must(t, db.PutDigest(ctx, relais.Digest{LessonID: l.ID, Language: "fr", Body: "v2", Encoding: "UCS-2", Segments: 2, Characters: 80, Dropped: []string{"b", "a"}}))
	must(t, db.PutDigest(ctx, relais.Digest{LessonID: l.ID, Language: "en", Body: "en", Encoding: "GSM-7", Segments: 1, Characters: 2}))
	ds, err := db.Digests(ctx, l.ID)
	must(t, err)
	wantDigests := []relais.Digest{
		{LessonID: l.ID, Language: "en", Body: "en", Encoding: "GSM-7", Segments: 1, Characters: 2, Dropped: []string{}},
		{LessonID: l.ID, Language: "fr", Body: "v2", Encoding: "UCS-2", Segments: 2, Characters: 80, Dropped: []string{"b", "a"}},
	}
	if diff := cmp.Diff(wantDigests, ds, cmpopts.IgnoreFields(relais.Digest{}, "CreatedAt")); diff != "" {
		t.Errorf("digests (-want +got):\n%s", diff)
	}

	if _, err := db.Worksheet(ctx, l.ID); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("worksheet before any: %v, want not_found", err)
	}
	must(t, db.PutWorksheet(ctx, relais.Worksheet{LessonID: l.ID, Path: "/m/w1.pdf", Bytes: 10, Generated: true}))
	must(t, db.PutWorksheet(ctx, relais.Worksheet{LessonID: l.ID, Path: "/m/w2.pdf", Bytes: 20}))
	w, err := db.Worksheet(ctx, l.ID)
	must(t, err)
	if want := (relais.Worksheet{LessonID: l.ID, Path: "/m/w2.pdf", Bytes: 20, CreatedAt: t0.Truncate(time.Millisecond)}); !cmp.Equal(want, w) {
		t.Errorf("worksheet %+v, want %+v", w, want)
	}

	t0 = t0.Add(time.Minute)
	must(t, db.SetLessonProgress(ctx, l.ID, "transcode", 40))
	must(t, db.SetLessonDuration(ctx, l.ID, 61500*time.Millisecond))
	must(t, db.SetLessonWorksheetPath(ctx, l.ID, "/m/teacher.pdf"))
	must(t, db.SetLessonMediaPath(ctx, l.ID, "/m/upload.mp4"))
	got, err := db.Lesson(ctx, l.ID)
	must(t, err)
	if got.Step != "transcode" || got.Progress != 40 || got.DurationMS != 61500 || got.WorksheetPath != "/m/teacher.pdf" ||
		got.MediaPath != "/m/upload.mp4" || !got.UpdatedAt.Equal(t0.Truncate(time.Millisecond)) || !got.CreatedAt.Equal(l.CreatedAt) {
		t.Errorf("lesson after the setters: %+v", got)
	}
	for name, set := range map[string]func() error{
		"status":    func() error { return db.SetLessonStatus(ctx, 999, relais.LessonReady, nil) },
		"progress":  func() error { return db.SetLessonProgress(ctx, 999, "x", 1) },
		"duration":  func() error { return db.SetLessonDuration(ctx, 999, time.Second) },
		"worksheet": func() error { return db.SetLessonWorksheetPath(ctx, 999, "x") },
		"media":     func() error { return db.SetLessonMediaPath(ctx, 999, "x") },
	} {
		if err := set(); relais.ErrorCode(err) != relais.ENOTFOUND {
			t.Errorf("set %s of a missing lesson: %v, want not_found", name, err)
		}
	}
}

// testLessonsPages: lessons list newest first, by teacher and status, a page after another.
func testLessonsPages(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	var ids []int64
	for i := 0; i < 5; i++ {
		l := relais.Lesson{Title: fmt.Sprint("L", i), Subject: "maths", Grade: 5, Language: "fr", TeacherID: fmt.Sprint("t", i%2)}
		must(t, db.CreateLesson(ctx, &l))
		ids = append(ids, l.ID)
	}
	must(t, db.SetLessonStatus(ctx, ids[1], relais.LessonReady, nil))
	must(t, db.SetLessonStatus(ctx, ids[3], relais.LessonReady, nil))
	list := func(f relais.LessonFilter) []int64 {
		t.Helper()
		ls, err := db.Lessons(ctx, f)
		must(t, err)
		var out []int64
		for _, l := range ls {
			out = append(out, l.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    relais.LessonFilter
		want []int64
	}{
		{"all", relais.LessonFilter{}, []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"first page", relais.LessonFilter{Page: relais.Page{Limit: 2}}, []int64{ids[4], ids[3]}},
		{"next page", relais.LessonFilter{Page: relais.Page{Limit: 2, After: ids[3]}}, []int64{ids[2], ids[1]}},
		{"teacher t0", relais.LessonFilter{TeacherID: "t0"}, []int64{ids[4], ids[2], ids[0]}},
		{"ready", relais.LessonFilter{Status: relais.LessonReady}, []int64{ids[3], ids[1]}},
		{"t1 ready after", relais.LessonFilter{TeacherID: "t1", Status: relais.LessonReady, Page: relais.Page{After: ids[3]}}, []int64{ids[1]}},
	} {
		if diff := cmp.Diff(tc.want, list(tc.f)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

// testHouseholdContacts: contacts are found by number, statuses and opt-outs follow a number or an
// address (whatever its case) onto every household that has it, a changed contact forgets its status,
// and the filters and counts agree.
func testHouseholdContacts(t *testing.T, open Open) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	db := open(t, func() time.Time { return t0 })
	hs := []relais.Household{
		{ExternalRef: "A", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileSMSOnly, Phone: "+33612345678", Consent: true},
		{ExternalRef: "B", Region: "IDF", Language: "fr", Grades: []int{5, 3}, Profile: relais.ProfileBroadband, Phone: "+33612345678", Email: "Famille@Example.org"},
		{ExternalRef: "C", Region: "Almaty", Language: "kk", Profile: relais.ProfileBroadband, Email: "famille@example.org", PostalAddress: "1 rue X\n75001 Paris"},
		{ExternalRef: "D", Region: "Almaty", Language: "ru", Grades: []int{3}, Profile: relais.ProfileOffline},
	}
	must(t, db.UpsertHouseholds(ctx, hs))
	if n, err := db.CountHouseholds(ctx); err != nil || n != 4 {
		t.Errorf("CountHouseholds = %d, %v", n, err)
	}
	byPhone, err := db.HouseholdsByPhone(ctx, "+33612345678")
	must(t, err)
	if len(byPhone) != 2 || byPhone[0].ID != hs[0].ID || byPhone[1].ID != hs[1].ID {
		t.Errorf("HouseholdsByPhone = %+v", byPhone)
	}
	if none, err := db.HouseholdsByPhone(ctx, "+33600000000"); err != nil || len(none) != 0 {
		t.Errorf("unknown number: %v, %v", none, err)
	}
	must(t, db.SetPhoneStatus(ctx, "+33612345678", relais.ContactLandline))
	must(t, db.SetSMSOptOut(ctx, "+33612345678", true))
	must(t, db.SetEmailStatus(ctx, "FAMILLE@example.ORG", relais.ContactInvalid))
	must(t, db.SetEmailOptOut(ctx, "famille@EXAMPLE.org", true))

	got, err := db.HouseholdsByIDs(ctx, []int64{hs[0].ID, hs[1].ID, hs[2].ID, hs[3].ID, 999})
	must(t, err)
	want := map[int64]relais.Household{}
	for _, h := range hs {
		h.CreatedAt = t0
		want[h.ID] = h
	}
	for _, i := range []int{0, 1} {
		h := want[hs[i].ID]
		h.PhoneStatus, h.SMSOptOut = relais.ContactLandline, true
		want[hs[i].ID] = h
	}
	for _, i := range []int{1, 2} {
		h := want[hs[i].ID]
		h.EmailStatus, h.EmailOptOut = relais.ContactInvalid, true
		want[hs[i].ID] = h
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("households after the provider's verdicts (-want +got):\n%s", diff)
	}
	if one, err := db.Household(ctx, hs[2].ID); err != nil || !cmp.Equal(want[hs[2].ID], one) {
		t.Errorf("Household = %+v, %v", one, err)
	}
	if _, err := db.Household(ctx, 999); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("missing household: %v", err)
	}

	// A re-import with a new number forgets what was known of the old one, keeps the opt-out; the
	// same address keeps its status.
	again := []relais.Household{
		{ExternalRef: "A", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileSMSOnly, Phone: "+33699999999"},
		{ExternalRef: "B", Region: "IDF", Language: "fr", Grades: []int{5, 3}, Profile: relais.ProfileBroadband, Phone: "+33612345678", Email: "Famille@Example.org"},
	}
	must(t, db.UpsertHouseholds(ctx, again))
	got, err = db.HouseholdsByIDs(ctx, []int64{hs[0].ID, hs[1].ID})
	must(t, err)
	if a := got[hs[0].ID]; a.PhoneStatus != relais.ContactOK || !a.SMSOptOut || a.Consent {
		t.Errorf("A after a new number: status %q, opted out %v, consent %v", a.PhoneStatus, a.SMSOptOut, a.Consent)
	}
	if b := got[hs[1].ID]; b.PhoneStatus != relais.ContactLandline || b.EmailStatus != relais.ContactInvalid {
		t.Errorf("B after the same contacts: %q, %q", b.PhoneStatus, b.EmailStatus)
	}
	if empty, err := db.HouseholdsByIDs(ctx, nil); err != nil || len(empty) != 0 {
		t.Errorf("HouseholdsByIDs(nil) = %v, %v", empty, err)
	}

	list := func(f relais.HouseholdFilter) []string {
		t.Helper()
		hs, err := db.Households(ctx, f)
		must(t, err)
		var refs []string
		for _, h := range hs {
			refs = append(refs, h.ExternalRef)
		}
		return refs
	}
	for _, tc := range []struct {
		name string
		f    relais.HouseholdFilter
		want []string
	}{
		{"grade 3", relais.HouseholdFilter{Grade: 3}, []string{"B", "D"}},
		{"grade 3 after B", relais.HouseholdFilter{Grade: 3, Page: relais.Page{After: hs[1].ID}}, []string{"D"}},
		{"grade 5 in IDF", relais.HouseholdFilter{Grade: 5, Region: "IDF"}, []string{"A", "B"}},
		{"Almaty", relais.HouseholdFilter{Region: "Almaty"}, []string{"C", "D"}},
		{"broadband", relais.HouseholdFilter{Profile: relais.ProfileBroadband}, []string{"B", "C"}},
		{"grade 3 broadband", relais.HouseholdFilter{Grade: 3, Profile: relais.ProfileBroadband}, []string{"B"}},
	} {
		if diff := cmp.Diff(tc.want, list(tc.f)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}

	// A household listed twice in one import is written twice, in order.
	twice := []relais.Household{
		{ExternalRef: "E", Language: "fr", Grades: []int{1}, Profile: relais.ProfileSMSOnly, SMSOptOut: true},
		{ExternalRef: "E", Language: "en", Grades: []int{2}, Profile: relais.ProfileSMSOnly},
	}
	must(t, db.UpsertHouseholds(ctx, twice))
	if twice[0].ID == 0 || twice[0].ID != twice[1].ID {
		t.Fatalf("ids of a household listed twice: %d, %d", twice[0].ID, twice[1].ID)
	}
	e, err := db.Household(ctx, twice[0].ID)
	must(t, err)
	if e.Language != "en" || !e.SMSOptOut || !cmp.Equal([]int{2}, e.Grades) {
		t.Errorf("household listed twice: %+v", e)
	}
	if refs := list(relais.HouseholdFilter{Grade: 1}); len(refs) != 0 {
		t.Errorf("grade 1 still lists %v", refs)
	}
}

// testDeliveryListings: deliveries by ids, by filters and pages, attempts counted once per call, and
// the history of a planned-and-advanced delivery.
func testDeliveryListings(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	var lessons []int64
	for i := 0; i < 2; i++ {
		l := relais.Lesson{Title: "T", Subject: "s", Grade: 1, Language: "fr", TeacherID: "t"}
		must(t, db.CreateLesson(ctx, &l))
		lessons = append(lessons, l.ID)
	}
	hs := make([]relais.Household, 3)
	for i := range hs {
		hs[i] = relais.Household{ExternalRef: fmt.Sprint("H", i), Language: "fr", Profile: relais.ProfileBroadband}
	}
	must(t, db.UpsertHouseholds(ctx, hs))
	var plan []relais.Delivery
	for _, l := range lessons {
		for _, h := range hs {
			plan = append(plan, relais.Delivery{LessonID: l, HouseholdID: h.ID, Channel: relais.ChannelSMS},
				relais.Delivery{LessonID: l, HouseholdID: h.ID, Channel: relais.ChannelEmail})
		}
	}
	ids, err := db.PlanDeliveries(ctx, plan)
	must(t, err)
	if len(ids) != 12 {
		t.Fatalf("planned %d", len(ids))
	}
	for i := range ids {
		if i > 0 && ids[i] <= ids[i-1] {
			t.Errorf("ids not in the order planned: %v", ids)
		}
	}
	// A key listed twice in a page is planned once and handed on twice.
	dup, err := db.PlanDeliveries(ctx, []relais.Delivery{plan[0], plan[0]})
	must(t, err)
	if diff := cmp.Diff([]int64{ids[0], ids[0]}, dup); diff != "" {
		t.Errorf("a key twice (-want +got):\n%s", diff)
	}

	must(t, db.StartAttempts(ctx, []int64{ids[0], ids[1], ids[0]}))
	must(t, db.StartAttempts(ctx, []int64{ids[0]}))
	_, err = db.AdvanceDeliveries(ctx, []relais.DeliveryAdvance{
		{ID: ids[0], Status: relais.DeliveryQueued, ProviderID: "SM0"},
		{ID: ids[0], Status: relais.DeliverySent},
		{ID: ids[1], Status: relais.DeliveryFailed, Detail: "mailbox full"},
		{ID: ids[1], Status: relais.DeliveryQueued, ProviderID: "late"}, // refused, but its provider id is kept
		{ID: ids[2], Status: relais.DeliveryPending, ProviderID: "SM2"},
	})
	must(t, err)
	got, err := db.DeliveriesByIDs(ctx, []int64{ids[2], ids[1], ids[0], 999})
	must(t, err)
	type row struct {
		ID         int64
		Status     relais.DeliveryStatus
		Reason     string
		ProviderID string
		Attempts   int
	}
	var rows []row
	for _, d := range got {
		rows = append(rows, row{d.ID, d.Status, d.Reason, d.ProviderID, d.Attempts})
	}
	want := []row{{ids[0], relais.DeliverySent, "", "SM0", 2}, {ids[1], relais.DeliveryFailed, "mailbox full", "late", 1},
		{ids[2], relais.DeliveryPending, "", "SM2", 0}}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("DeliveriesByIDs (-want +got):\n%s", diff)
	}
	if d, err := db.DeliveryByProviderID(ctx, relais.ChannelSMS, "SM2"); err != nil || d.ID != ids[2] {
		t.Errorf("by provider id: %+v, %v", d, err)
	}
	for _, pid := range []string{"", "nope"} {
		if _, err := db.DeliveryByProviderID(ctx, relais.ChannelSMS, pid); relais.ErrorCode(err) != relais.ENOTFOUND {
			t.Errorf("provider id %q: %v, want not_found", pid, err)
		}
	}
	if _, err := db.DeliveryByProviderID(ctx, relais.ChannelEmail, "SM2"); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("provider id on another channel: %v", err)
	}
	if _, err := db.AdvanceDeliveries(ctx, []relais.DeliveryAdvance{{ID: ids[3], Status: relais.DeliveryQueued},
		{ID: 999, Status: relais.DeliveryQueued}}); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("advance of a missing delivery: %v", err)
	}
	if d, _ := db.DeliveriesByIDs(ctx, ids[3:4]); len(d) != 1 || d[0].Status != relais.DeliveryPending {
		t.Errorf("a page with a missing delivery wrote %+v", d)
	}

	evs, err := db.DeliveryEvents(ctx, ids[0])
	must(t, err)
	var history []string
	for _, e := range evs {
		history = append(history, string(e.Status)+" "+e.Detail)
	}
	if diff := cmp.Diff([]string{"pending ", "queued ", "sent "}, history); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}

	list := func(f relais.DeliveryFilter) []int64 {
		t.Helper()
		ds, err := db.Deliveries(ctx, f)
		must(t, err)
		var out []int64
		for _, d := range ds {
			out = append(out, d.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    relais.DeliveryFilter
		want []int64
	}{
		{"lesson 2 email", relais.DeliveryFilter{LessonID: lessons[1], Channel: relais.ChannelEmail}, []int64{ids[7], ids[9], ids[11]}},
		{"household 0", relais.DeliveryFilter{HouseholdID: hs[0].ID}, []int64{ids[0], ids[1], ids[6], ids[7]}},
		{"household 0 page", relais.DeliveryFilter{HouseholdID: hs[0].ID, Page: relais.Page{After: ids[0], Limit: 2}}, []int64{ids[1], ids[6]}},
		{"household 0 lesson 2", relais.DeliveryFilter{LessonID: lessons[1], HouseholdID: hs[0].ID}, []int64{ids[6], ids[7]}},
		{"failed", relais.DeliveryFilter{Status: relais.DeliveryFailed}, []int64{ids[1]}},
		{"page", relais.DeliveryFilter{LessonID: lessons[0], Page: relais.Page{After: ids[2], Limit: 2}}, []int64{ids[3], ids[4]}},
	} {
		if diff := cmp.Diff(tc.want, list(tc.f)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

// testClaimContacts: a page of claims where two deliveries share a contact: the first holds it, and
// a later page finds the holder.
func testClaimContacts(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	owners, err := db.ClaimContacts(ctx, []relais.ContactClaim{
		{LessonID: 1, Channel: relais.ChannelSMS, Contact: "+33611111111", DeliveryID: 20},
		{LessonID: 1, Channel: relais.ChannelSMS, Contact: "+33622222222", DeliveryID: 21},
		{LessonID: 1, Channel: relais.ChannelSMS, Contact: "+33611111111", DeliveryID: 22},
		{LessonID: 1, Channel: relais.ChannelEmail, Contact: "+33611111111", DeliveryID: 23},
	})
	must(t, err)
	if diff := cmp.Diff(map[int64]int64{20: 20, 21: 21, 22: 20, 23: 23}, owners); diff != "" {
		t.Errorf("first page (-want +got):\n%s", diff)
	}
	owners, err = db.ClaimContacts(ctx, []relais.ContactClaim{
		{LessonID: 1, Channel: relais.ChannelSMS, Contact: "+33622222222", DeliveryID: 30},
		{LessonID: 1, Channel: relais.ChannelSMS, Contact: "+33633333333", DeliveryID: 31},
	})
	must(t, err)
	if diff := cmp.Diff(map[int64]int64{30: 21, 31: 31}, owners); diff != "" {
		t.Errorf("second page (-want +got):\n%s", diff)
	}
	if owners, err := db.ClaimContacts(ctx, nil); err != nil || len(owners) != 0 {
		t.Errorf("no claims: %v, %v", owners, err)
	}
}

// testInbound: replies list newest first, a page after another.
func testInbound(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		must(t, db.SaveInbound(ctx, relais.InboundMessage{Phone: "+33611111111", Body: fmt.Sprint("reply ", i),
			ProviderID: fmt.Sprint("SM", i), ReceivedAt: at.Add(time.Duration(i) * time.Minute)}))
	}
	all, err := db.InboundMessages(ctx, relais.Page{})
	must(t, err)
	if len(all) != 3 || all[0].Body != "reply 2" || all[2].Body != "reply 0" || all[0].ProviderID != "SM2" ||
		!all[0].ReceivedAt.Equal(at.Add(2*time.Minute)) || all[0].Phone != "+33611111111" {
		t.Fatalf("InboundMessages = %+v", all)
	}
	next, err := db.InboundMessages(ctx, relais.Page{After: all[0].ID, Limit: 1})
	must(t, err)
	if len(next) != 1 || next[0].ID != all[1].ID {
		t.Errorf("next page = %+v", next)
	}
}

// testScheduleGrid: stations, templates, exceptions, slots, assignments and approvals as the scheduler
// uses them.
func testScheduleGrid(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	st := relais.Station{Name: "Balapan", Kind: relais.StationTV, Region: "Almaty", TimeZone: "Asia/Almaty", ServiceName: "Balapan",
		Playout: relais.FormatM3U, Provider: "kazteleradio"}
	must(t, db.CreateStation(ctx, &st))
	if st.ID == 0 {
		t.Fatal("no station id")
	}
	same := relais.Station{Name: "Balapan", Kind: relais.StationRadio, TimeZone: "UTC", Playout: relais.FormatFFplayout}
	if err := db.CreateStation(ctx, &same); relais.ErrorCode(err) != relais.ECONFLICT {
		t.Errorf("a second Balapan: %v, want conflict", err)
	}
	radio := relais.Station{Name: "Radio", Kind: relais.StationRadio, TimeZone: "Europe/Paris", ServiceName: "Radio", Playout: relais.FormatFFplayout}
	must(t, db.CreateStation(ctx, &radio))
	renamed := radio
	renamed.Name = "Balapan"
	if err := db.UpdateStation(ctx, renamed, nil); relais.ErrorCode(err) != relais.ECONFLICT {
		t.Errorf("renamed onto another station: %v, want conflict", err)
	}
	sts, err := db.Stations(ctx)
	must(t, err)
	if diff := cmp.Diff([]relais.Station{st, radio}, sts); diff != "" {
		t.Errorf("stations (-want +got):\n%s", diff)
	}
	if _, err := db.Station(ctx, 999); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("missing station: %v", err)
	}

	tpl := relais.Template{Weekdays: []int{1, 3, 5}, Start: "09:00", End: "10:00", SlotMin: 30, Grade: 5, Subject: "maths",
		Language: "kk", From: "2026-03-02", To: "2026-03-06"}
	slots := []relais.Slot{
		{Day: "2026-03-02", Start: "09:30", Duration: 30 * time.Minute, Grade: 5, Subject: "maths", Language: "kk"},
		{Day: "2026-03-02", Start: "09:00", Duration: 30 * time.Minute, Grade: 5, Subject: "maths", Language: "kk"},
		{Day: "2026-03-04", Start: "09:00", Duration: 30 * time.Minute, Grade: 5, Subject: "maths", Language: "kk"},
	}
	var checked []relais.Slot
	must(t, db.AddSlots(ctx, st.ID, &tpl, slots, func(existing []relais.Slot) error { checked = existing; return nil }))
	if tpl.ID == 0 || tpl.StationID != st.ID || slots[0].ID == 0 || slots[0].TemplateID != tpl.ID || slots[2].StationID != st.ID {
		t.Errorf("template %+v, slots %+v", tpl, slots)
	}
	if len(checked) != 0 {
		t.Errorf("checked against %d existing slots", len(checked))
	}
	extra := []relais.Slot{{Day: "2026-03-05", Start: "18:00", Duration: time.Hour}}
	must(t, db.AddSlots(ctx, st.ID, nil, extra, func(existing []relais.Slot) error { checked = existing; return nil }))
	if len(checked) != 1 || checked[0].ID != slots[2].ID {
		t.Errorf("the day around 2026-03-05 holds %+v, want the slot of 2026-03-04", checked)
	}
	if err := db.AddSlots(ctx, st.ID, nil, []relais.Slot{{Day: "2026-03-05", Start: "18:00", Duration: time.Hour}},
		func([]relais.Slot) error { return nil }); err == nil {
		t.Error("a second slot at the same start was kept")
	}
	tpls, err := db.Templates(ctx, st.ID)
	must(t, err)
	if diff := cmp.Diff([]relais.Template{tpl}, tpls); diff != "" {
		t.Errorf("templates (-want +got):\n%s", diff)
	}
	all, err := db.Slots(ctx, relais.SlotFilter{StationID: st.ID})
	must(t, err)
	var order []string
	for _, s := range all {
		order = append(order, s.Day+" "+s.Start)
	}
	if diff := cmp.Diff([]string{"2026-03-02 09:00", "2026-03-02 09:30", "2026-03-04 09:00", "2026-03-05 18:00"}, order); diff != "" {
		t.Errorf("slots in order (-want +got):\n%s", diff)
	}
	if s, err := db.Slot(ctx, slots[0].ID); err != nil || !cmp.Equal(slots[0], s) {
		t.Errorf("Slot = %+v, %v; want %+v", s, err, slots[0])
	}
	if _, err := db.Slot(ctx, 999); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("missing slot: %v", err)
	}

	var lessons []relais.Lesson
	for i := 0; i < 3; i++ {
		l := relais.Lesson{Title: fmt.Sprint("L", i), Subject: "maths", Grade: 5, Language: "kk", TeacherID: "t"}
		must(t, db.CreateLesson(ctx, &l))
		lessons = append(lessons, l)
	}
	must(t, db.Assign(ctx, []relais.Assignment{{SlotID: slots[1].ID, LessonID: lessons[0].ID}, {SlotID: slots[2].ID, LessonID: lessons[0].ID, Rerun: true}}))
	if err := db.Assign(ctx, []relais.Assignment{{SlotID: slots[0].ID, LessonID: lessons[1].ID}, {SlotID: slots[1].ID, LessonID: lessons[1].ID}}); relais.ErrorCode(err) != relais.ECONFLICT {
		t.Errorf("assigning a taken slot: %v, want conflict", err)
	}
	if s, _ := db.Slot(ctx, slots[0].ID); len(s.Lessons) != 0 {
		t.Errorf("a refused assignment filled slot %d", s.ID)
	}
	rerun, err := db.Slots(ctx, relais.SlotFilter{LessonID: lessons[0].ID})
	must(t, err)
	if len(rerun) != 2 || len(rerun[0].Lessons) != 1 || rerun[0].Lessons[0].Rerun || !rerun[1].Lessons[0].Rerun {
		t.Errorf("slots of lesson 0: %+v", rerun)
	}
	free, err := db.Slots(ctx, relais.SlotFilter{StationID: st.ID, From: "2026-03-02", To: "2026-03-04", Unassigned: true})
	must(t, err)
	if len(free) != 1 || free[0].ID != slots[0].ID {
		t.Errorf("free slots: %+v", free)
	}
	aired, err := db.AiredLessons(ctx)
	must(t, err)
	if diff := cmp.Diff(map[int64]bool{lessons[0].ID: true}, aired); diff != "" {
		t.Errorf("aired (-want +got):\n%s", diff)
	}
	must(t, db.Unassign(ctx, slots[2].ID))
	if s, _ := db.Slot(ctx, slots[2].ID); len(s.Lessons) != 0 {
		t.Errorf("unassigned slot %+v", s)
	}
	if err := db.Unassign(ctx, 999); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("unassign a missing slot: %v", err)
	}

	removed, err := db.AddException(ctx, relais.Exception{StationID: st.ID, Day: "2026-03-02", Reason: "holiday"})
	must(t, err)
	if len(removed) != 2 {
		t.Errorf("the holiday removed %d slots, want 2", len(removed))
	}
	_, err = db.AddException(ctx, relais.Exception{StationID: st.ID, Day: "2026-03-02", Reason: "national holiday"})
	must(t, err)
	_, err = db.AddException(ctx, relais.Exception{StationID: st.ID, Day: "2026-01-01", Reason: "new year"})
	must(t, err)
	exc, err := db.Exceptions(ctx, st.ID)
	must(t, err)
	if diff := cmp.Diff([]relais.Exception{{StationID: st.ID, Day: "2026-01-01", Reason: "new year"},
		{StationID: st.ID, Day: "2026-03-02", Reason: "national holiday"}}, exc); diff != "" {
		t.Errorf("exceptions (-want +got):\n%s", diff)
	}

	if n, err := db.Episode(ctx, lessons[2]); err != nil || n != 3 {
		t.Errorf("episode of the third lesson: %d, %v", n, err)
	}
	if _, err := db.Approval(ctx, lessons[0].ID); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("approval never asked: %v", err)
	}
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	must(t, db.SetApproval(ctx, relais.Approval{LessonID: lessons[1].ID, State: relais.Submitted, UpdatedAt: t0.Add(time.Hour)}))
	must(t, db.SetApproval(ctx, relais.Approval{LessonID: lessons[2].ID, State: relais.Submitted, UpdatedAt: t0}))
	must(t, db.SetApproval(ctx, relais.Approval{LessonID: lessons[0].ID, State: relais.Submitted, UpdatedAt: t0}))
	must(t, db.SetApproval(ctx, relais.Approval{LessonID: lessons[0].ID, State: relais.Approved, DecidedBy: "m", UpdatedAt: t0.Add(2 * time.Hour)}))
	a, err := db.Approval(ctx, lessons[0].ID)
	must(t, err)
	if want := (relais.Approval{LessonID: lessons[0].ID, State: relais.Approved, DecidedBy: "m", UpdatedAt: t0.Add(2 * time.Hour)}); !cmp.Equal(want, a) {
		t.Errorf("approval %+v, want %+v", a, want)
	}
	subs, err := db.Submitted(ctx, 10)
	must(t, err)
	var waiting []int64
	for _, s := range subs {
		waiting = append(waiting, s.Lesson.ID)
		if s.Approval.LessonID != s.Lesson.ID || s.Approval.State != relais.Submitted || s.Lesson.Title == "" {
			t.Errorf("submission %+v", s)
		}
	}
	if diff := cmp.Diff([]int64{lessons[2].ID, lessons[1].ID}, waiting); diff != "" {
		t.Errorf("submitted, the longest waiting first (-want +got):\n%s", diff)
	}
	if one, _ := db.Submitted(ctx, 1); len(one) != 1 || !one[0].Approval.UpdatedAt.Equal(t0) {
		t.Errorf("Submitted(1) = %+v", one)
	}
	if ls, err := db.ApprovedLessons(ctx); err != nil || len(ls) != 0 {
		t.Errorf("approved but not ready: %v, %v", ls, err)
	}
	must(t, db.SetLessonStatus(ctx, lessons[0].ID, relais.LessonPublished, nil))
	if ls, err := db.ApprovedLessons(ctx); err != nil || len(ls) != 1 || ls[0].ID != lessons[0].ID {
		t.Errorf("approved and published: %v, %v", ls, err)
	}
}
