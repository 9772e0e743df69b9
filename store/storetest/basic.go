package storetest

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/locale"
)

func testLessonLifecycle(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	l := relais.Lesson{Title: "Fractions", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1", SegmentBudget: 3}
	if err := db.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	if l.ID == 0 || l.Status != relais.LessonUploaded {
		t.Fatalf("created lesson = %+v", l)
	}
	if err := db.SetLessonStatus(ctx, l.ID, relais.LessonRejected, relais.Errorf(relais.EINVALID, "The file is empty.")); err != nil {
		t.Fatal(err)
	}
	got, err := db.Lesson(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != relais.LessonRejected || got.StatusReason != "The file is empty." {
		t.Errorf("status = %s %q", got.Status, got.StatusReason)
	}
	if _, err := db.Lesson(ctx, 999); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("missing lesson: err = %v, want not_found", err)
	}
	other := relais.Lesson{Title: "Verbes", Subject: "français", Grade: 5, Language: "fr", TeacherID: "t2"}
	if err := db.CreateLesson(ctx, &other); err != nil {
		t.Fatal(err)
	}
	mine, err := db.Lessons(ctx, relais.LessonFilter{TeacherID: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 1 || mine[0].ID != l.ID {
		t.Errorf("t1 lessons = %+v", mine)
	}
	d := relais.Digest{LessonID: l.ID, Language: "fr", Body: "x", Encoding: "GSM-7", Segments: 1, Characters: 1, Dropped: []string{"a"}}
	if err := db.PutDigest(ctx, d); err != nil {
		t.Fatal(err)
	}
	ds, err := db.Digests(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a"}, ds[0].Dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
}

func testUpsertHouseholdsKeepsOptOut(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	hs := []relais.Household{
		{ExternalRef: "A", Language: "fr", Grades: []int{3, 5}, Profile: relais.ProfileSMSOnly, Phone: "+33612345678"},
		{ExternalRef: "B", Language: "kk", Grades: []int{5}, Profile: relais.ProfileBroadband, Email: "b@example.org"},
		{ExternalRef: "C", Language: "ru", Grades: []int{4}, Profile: relais.ProfileOffline},
	}
	if err := db.UpsertHouseholds(ctx, hs); err != nil {
		t.Fatal(err)
	}
	if err := db.SetSMSOptOut(ctx, "+33612345678", true); err != nil {
		t.Fatal(err)
	}
	// Re-import A with a grade change: the STOP the family sent must survive.
	again := []relais.Household{{ExternalRef: "A", Language: "fr", Grades: []int{4}, Profile: relais.ProfileSMSOnly, Phone: "+33612345678"}}
	if err := db.UpsertHouseholds(ctx, again); err != nil {
		t.Fatal(err)
	}
	if again[0].ID != hs[0].ID {
		t.Errorf("re-import changed id %d -> %d", hs[0].ID, again[0].ID)
	}
	a, err := db.Household(ctx, hs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !a.SMSOptOut {
		t.Error("re-import cleared the SMS opt-out")
	}
	if diff := cmp.Diff([]int{4}, a.Grades); diff != "" {
		t.Errorf("grades (-want +got):\n%s", diff)
	}
	grade5, err := db.Households(ctx, relais.HouseholdFilter{Grade: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(grade5) != 1 || grade5[0].ExternalRef != "B" {
		t.Errorf("grade 5 households = %+v", grade5)
	}
	page1, err := db.Households(ctx, relais.HouseholdFilter{Page: relais.Page{Limit: 2}})
	if err != nil {
		t.Fatal(err)
	}
	page2, err := db.Households(ctx, relais.HouseholdFilter{Page: relais.Page{Limit: 2, After: page1[1].ID}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page1) != 2 || len(page2) != 1 || page2[0].ExternalRef != "C" {
		t.Errorf("pages = %d, %d", len(page1), len(page2))
	}
	// A search finds a household by its reference or its phone, exactly, within the other filters.
	for _, tc := range []struct {
		f    relais.HouseholdFilter
		want []string
	}{
		{relais.HouseholdFilter{Search: "B"}, []string{"B"}},
		{relais.HouseholdFilter{Search: "+33612345678"}, []string{"A"}},
		{relais.HouseholdFilter{Search: "+3361234567"}, nil},
		{relais.HouseholdFilter{Search: "A", Profile: relais.ProfileBroadband}, nil},
	} {
		got, err := db.Households(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var refs []string
		for _, h := range got {
			refs = append(refs, h.ExternalRef)
		}
		if diff := cmp.Diff(tc.want, refs); diff != "" {
			t.Errorf("search %+v (-want +got):\n%s", tc.f, diff)
		}
	}
	// One import that updates a household and creates another: both are listed by their new grades.
	mixed := []relais.Household{
		{ExternalRef: "A", Language: "fr", Grades: []int{4, 6}, Profile: relais.ProfileSMSOnly, Phone: "+33612345678"},
		{ExternalRef: "D", Language: "fr", Grades: []int{6}, Profile: relais.ProfileSMSOnly, Phone: "+33612345679"},
	}
	if err := db.UpsertHouseholds(ctx, mixed); err != nil {
		t.Fatal(err)
	}
	for grade, want := range map[int][]string{4: {"A", "C"}, 6: {"A", "D"}} {
		got, err := db.Households(ctx, relais.HouseholdFilter{Grade: grade})
		if err != nil {
			t.Fatal(err)
		}
		var refs []string
		for _, h := range got {
			refs = append(refs, h.ExternalRef)
		}
		if diff := cmp.Diff(want, refs); diff != "" {
			t.Errorf("grade %d after a mixed import (-want +got):\n%s", grade, diff)
		}
	}
}

// testDeliveriesNeedTheirParents: a delivery of a lesson or to a household that does not exist, and an
// event of a delivery that does not exist, are refused and write nothing, whatever holds that rule (a
// foreign key, or the statement itself).
func testDeliveriesNeedTheirParents(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	l := relais.Lesson{Title: "T", Subject: "s", Grade: 1, Language: "en", TeacherID: "t"}
	if err := db.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	hs := []relais.Household{{ExternalRef: "A", Language: "en", Profile: relais.ProfileSMSOnly, Phone: "+447700900001"}}
	if err := db.UpsertHouseholds(ctx, hs); err != nil {
		t.Fatal(err)
	}
	h := hs[0].ID
	for _, tc := range []struct {
		name string
		ds   []relais.Delivery
	}{
		{"no such household", []relais.Delivery{{LessonID: l.ID, HouseholdID: h, Channel: relais.ChannelSMS},
			{LessonID: l.ID, HouseholdID: h + 1000, Channel: relais.ChannelSMS}}},
		{"no such lesson", []relais.Delivery{{LessonID: l.ID + 1000, HouseholdID: h, Channel: relais.ChannelSMS}}},
	} {
		if ids, err := db.PlanDeliveries(ctx, tc.ds); err == nil {
			t.Errorf("plan, %s: ids %v, no error", tc.name, ids)
		}
		reminders := slices.Clone(tc.ds)
		for i := range reminders {
			reminders[i].Channel, reminders[i].Occurrence = relais.ChannelReminder, 1<<31
		}
		if ids, _, err := db.RemindDeliveries(ctx, reminders); err == nil {
			t.Errorf("remind, %s: ids %v, no error", tc.name, ids)
		}
	}
	// The page refused is refused whole: the household that exists got nothing either.
	if ds, err := db.Deliveries(ctx, relais.DeliveryFilter{LessonID: l.ID}); err != nil || len(ds) != 0 {
		t.Errorf("deliveries after refused plans: %v, %v; want none", ds, err)
	}
	if err := db.AddDeliveryEvent(ctx, relais.DeliveryEvent{DeliveryID: 999999, Status: relais.DeliverySent, Detail: "x"}); err == nil {
		t.Error("event of no delivery: no error")
	}
	ids, err := db.PlanDeliveries(ctx, []relais.Delivery{{LessonID: l.ID, HouseholdID: h, Channel: relais.ChannelSMS}})
	if err != nil || len(ids) != 1 {
		t.Fatalf("plan: ids=%v err=%v", ids, err)
	}
	if err := db.AddDeliveryEvent(ctx, relais.DeliveryEvent{DeliveryID: ids[0], Status: relais.DeliveryPending, Detail: "note"}); err != nil {
		t.Errorf("event of a delivery: %v", err)
	}
}

func testPlanAndAdvanceDeliveries(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	l := relais.Lesson{Title: "T", Subject: "s", Grade: 1, Language: "en", TeacherID: "t"}
	if err := db.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	hs := []relais.Household{{ExternalRef: "A", Language: "en", Profile: relais.ProfileSMSOnly, Phone: "+447700900001"}}
	if err := db.UpsertHouseholds(ctx, hs); err != nil {
		t.Fatal(err)
	}
	plan := []relais.Delivery{{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelSMS}}
	ids, err := db.PlanDeliveries(ctx, plan)
	if err != nil || len(ids) != 1 {
		t.Fatalf("plan: ids=%v err=%v", ids, err)
	}
	again, err := db.PlanDeliveries(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids, again); diff != "" {
		t.Errorf("re-plan of a pending delivery (-want +got):\n%s", diff)
	}
	steps := []struct {
		status  relais.DeliveryStatus
		changed bool
	}{
		{relais.DeliveryQueued, true},
		{relais.DeliveryDelivered, true},
		{relais.DeliverySent, false}, // a late callback never moves a delivery back
		{relais.DeliveryFailed, false},
	}
	for _, s := range steps {
		changed, err := db.AdvanceDelivery(ctx, ids[0], s.status, "", "SM1")
		if err != nil {
			t.Fatal(err)
		}
		if changed != s.changed {
			t.Errorf("advance to %s: changed = %v, want %v", s.status, changed, s.changed)
		}
	}
	d, err := db.DeliveryByProviderID(ctx, relais.ChannelSMS, "SM1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != relais.DeliveryDelivered {
		t.Errorf("status = %s, want delivered", d.Status)
	}
	// Once sent, the row is no longer pending: a re-run of the fan-out page hands nothing on.
	if ids, err := db.PlanDeliveries(ctx, plan); err != nil || len(ids) != 0 {
		t.Errorf("re-plan after delivery: ids=%v err=%v", ids, err)
	}
	// Each delivery given is told its row: a new one, and one that exists and has left, with a key
	// listed twice.
	page := []relais.Delivery{
		{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelEmail, Status: relais.DeliverySkipped, Reason: "no address"},
		{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelSMS},
		{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelEmail},
	}
	if ids, err := db.PlanDeliveries(ctx, page); err != nil || len(ids) != 0 {
		t.Errorf("plan of a skip: ids=%v err=%v", ids, err)
	}
	if page[0].ID == 0 || page[0].ID != page[2].ID || page[1].ID != d.ID {
		t.Errorf("planned ids = %d, %d, %d; want a new one, %d, the new one", page[0].ID, page[1].ID, page[2].ID, d.ID)
	}
	if got := []relais.DeliveryStatus{page[0].Status, page[1].Status, page[2].Status}; !cmp.Equal(got,
		[]relais.DeliveryStatus{relais.DeliverySkipped, relais.DeliveryDelivered, relais.DeliverySkipped}) {
		t.Errorf("planned statuses = %v, want skipped, delivered, skipped", got)
	}
	evs, err := db.DeliveryEvents(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, string(e.Status)+" "+e.Detail)
	}
	// Delivered straight from queued: the lost "sent" is recorded as implied, and the late one refused.
	if diff := cmp.Diff([]string{"pending ", "queued ", "sent implied by delivered", "delivered "}, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	counts, err := db.DeliveryCounts(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]relais.DeliveryCount{{Channel: "email", Status: "skipped", Count: 1},
		{Channel: "sms", Status: "delivered", Count: 1}}, counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

// testStaffSignIn: the first sign-in of an OpenID identity creates its user, the next ones keep its id
// and take the provider's new name and role; the same subject at another issuer is another user.
func testStaffSignIn(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	if _, err := db.StaffUser(ctx, relais.StaffUserID("https://idp.example", "s1")); relais.ErrorCode(err) != relais.EUNAUTHORIZED {
		t.Fatalf("user before sign-in: err = %v, want unauthorized", err)
	}
	first, err := db.SignInStaff(ctx, relais.StaffIdentity{Issuer: "https://idp.example", Subject: "s1", Name: "Ann", Role: relais.RoleTeacher})
	if err != nil {
		t.Fatal(err)
	}
	want := relais.User{ID: relais.StaffUserID("https://idp.example", "s1"), Name: "Ann", Role: relais.RoleTeacher}
	if diff := cmp.Diff(want, first); diff != "" {
		t.Errorf("first sign-in (-want +got):\n%s", diff)
	}
	again, err := db.SignInStaff(ctx, relais.StaffIdentity{Issuer: "https://idp.example", Subject: "s1", Name: "Ann B.", Role: relais.RoleMedia})
	if err != nil {
		t.Fatal(err)
	}
	want.Name, want.Role = "Ann B.", relais.RoleMedia
	if diff := cmp.Diff(want, again); diff != "" {
		t.Errorf("second sign-in (-want +got):\n%s", diff)
	}
	got, err := db.StaffUser(ctx, want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("StaffUser (-want +got):\n%s", diff)
	}
	other, err := db.SignInStaff(ctx, relais.StaffIdentity{Issuer: "https://other.example", Subject: "s1", Name: "Bob", Role: relais.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if other.ID == want.ID {
		t.Errorf("same subject at another issuer got the same user id %s", other.ID)
	}
	if got, err := db.StaffUser(ctx, want.ID); err != nil || got.Role != relais.RoleMedia {
		t.Errorf("first user after another issuer's sign-in = %+v, %v; want role media", got, err)
	}
}

func testClaimContact(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	owner, err := db.ClaimContact(ctx, 1, relais.ChannelSMS, "+33612345678", 10)
	if err != nil || owner != 10 {
		t.Fatalf("first claim: owner=%d err=%v", owner, err)
	}
	if owner, _ := db.ClaimContact(ctx, 1, relais.ChannelSMS, "+33612345678", 11); owner != 10 {
		t.Errorf("second delivery to the same number: owner=%d, want 10", owner)
	}
	if owner, _ := db.ClaimContact(ctx, 1, relais.ChannelSMS, "+33612345678", 10); owner != 10 {
		t.Errorf("re-run of the holder: owner=%d, want 10", owner)
	}
	if owner, _ := db.ClaimContact(ctx, 2, relais.ChannelSMS, "+33612345678", 12); owner != 12 {
		t.Errorf("another lesson: owner=%d, want 12", owner)
	}
}

func testLessonStatusReasons(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	l := relais.Lesson{Title: "Fractions", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1", SegmentBudget: 3}
	if err := db.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	reload := func() relais.Lesson {
		t.Helper()
		got, err := db.Lesson(ctx, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := reload(); got.StatusReasons != nil {
		t.Errorf("a new lesson has reasons %v", got.StatusReasons)
	}

	tooBig := relais.Errorf(relais.EINVALID, "The file is %s; the limit is %s.", "3.0 GiB", "2 GiB")
	if err := db.SetLessonStatus(ctx, l.ID, relais.LessonRejected, tooBig); err != nil {
		t.Fatal(err)
	}
	got := reload()
	if want := "The file is 3.0 GiB; the limit is 2 GiB."; got.StatusReason != want {
		t.Errorf("status_reason %q, want %q", got.StatusReason, want)
	}
	if diff := cmp.Diff(map[string]string{"fr": "Le fichier fait 3.0 GiB ; la limite est de 2 GiB.",
		"kk": "Файл көлемі 3.0 GiB; шегі 2 GiB.", "ru": "Файл весит 3.0 GiB; предел — 2 GiB."}, got.StatusReasons); diff != "" {
		t.Errorf("status_reasons (-want +got):\n%s", diff)
	}
	if got.Reason("fr") != got.StatusReasons["fr"] || got.Reason("en") != got.StatusReason || got.Reason("de") != got.StatusReason {
		t.Errorf("Reason: fr %q, en %q, de %q", got.Reason("fr"), got.Reason("en"), got.Reason("de"))
	}
	listed, err := db.Lessons(ctx, relais.LessonFilter{TeacherID: "t1"})
	if err != nil || len(listed) != 1 {
		t.Fatalf("Lessons = %v, %v", listed, err)
	}
	if diff := cmp.Diff(got.StatusReasons, listed[0].StatusReasons); diff != "" {
		t.Errorf("listed status_reasons (-get +list):\n%s", diff)
	}

	// A reason that crossed a process boundary as text keeps the translations it carries.
	carried := locale.WithTranslations(relais.Errorf(relais.EINVALID, "%s", "The file has no sound track."),
		map[string]string{"fr": "Le fichier n'a pas de piste son."})
	if err := db.SetLessonStatus(ctx, l.ID, relais.LessonRejected, carried); err != nil {
		t.Fatal(err)
	}
	if got := reload(); got.StatusReason != "The file has no sound track." || got.Reason("fr") != "Le fichier n'a pas de piste son." {
		t.Errorf("carried reason: en %q, fr %q", got.StatusReason, got.Reason("fr"))
	}

	// A status without a reason clears both columns.
	if err := db.SetLessonStatus(ctx, l.ID, relais.LessonReady, nil); err != nil {
		t.Fatal(err)
	}
	if got := reload(); got.StatusReason != "" || got.StatusReasons != nil {
		t.Errorf("after ready: reason %q, reasons %v", got.StatusReason, got.StatusReasons)
	}

	// CreateLesson keeps the translations it is given.
	imported := relais.Lesson{Title: "Verbes", Subject: "français", Grade: 5, Language: "fr", TeacherID: "t2",
		Status: relais.LessonFailed, StatusReason: "Broken.", StatusReasons: map[string]string{"fr": "Cassée."}}
	if err := db.CreateLesson(ctx, &imported); err != nil {
		t.Fatal(err)
	}
	back, err := db.Lesson(ctx, imported.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(imported.StatusReasons, back.StatusReasons); diff != "" {
		t.Errorf("created status_reasons (-want +got):\n%s", diff)
	}
}
