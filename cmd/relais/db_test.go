package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/store/postgres"
	"github.com/relais-edu/relais/store/sqlite"
)

// TestDBCopy fills an embedded installation through relais.Store, copies it into PostgreSQL with
// relais db copy, and compares every listing of both stores; the copy then refuses the target, no
// longer empty, and new rows get ids after the copied ones.
func TestDBCopy(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relais.db")
	src, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	fillInstallation(t, src)
	src.Close()

	url := testenv.Postgres(t)
	stdout, stderr, err := runCLI(nil, "db", "copy", "--from", "sqlite:"+path, "--to", url, "--batch", "3")
	if err != nil {
		t.Fatalf("db copy: %v\n%s", err, stderr)
	}
	// Every table has rows, so the copy of each is checked.
	printed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) != 3 || f[1] == "0" || f[1] != f[2] {
			t.Errorf("count line %q: want a table and the same number of rows, not 0, on both sides", line)
			continue
		}
		printed[f[0]] = true
	}
	for _, table := range postgres.CopyTables {
		if !printed[table] {
			t.Errorf("no count printed for %s:\n%s", table, stdout)
		}
	}

	src, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	want, got := listings(t, src), listings(t, dst)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listings differ after the copy (-sqlite +postgres):\n%s", diff)
	}

	_, stderr, err = runCLI(nil, "db", "copy", "--from", "sqlite:"+path, "--to", url)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("a second copy into the same database: %v (want a refusal saying it is not empty)\n%s", err, stderr)
	}

	l := relais.Lesson{Title: "After", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1"}
	if err := dst.CreateLesson(ctx, &l); err != nil {
		t.Fatalf("a new lesson after the copy: %v", err)
	}
	if l.ID <= want["lessons"].([]relais.Lesson)[0].ID {
		t.Errorf("a new lesson got id %d, not after the copied ones", l.ID)
	}
}

// TestDBCopyRefusesBadArguments: wrong engines, a missing file and a database that does not answer are
// refused, never showing the password.
func TestDBCopyRefusesBadArguments(t *testing.T) {
	existing := filepath.Join(t.TempDir(), "relais.db")
	src, err := sqlite.Open(context.Background(), existing)
	if err != nil {
		t.Fatal(err)
	}
	src.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "/tmp/x.db", "--to", "postgres://h/db"}, "sqlite:PATH"},
		{[]string{"--from", "sqlite:/tmp/x.db", "--to", "mysql://h/db"}, "postgres://"},
		{[]string{"--from", "sqlite:" + filepath.Join(t.TempDir(), "none.db"), "--to", "postgres://u:secret@h/db"}, "no such file"},
		{[]string{"--from", "sqlite:" + existing, "--to", "postgres://u:secret@" + testenv.ClosedAddr(t) + "/db?connect_timeout=2"},
			"postgres://u:xxxxx@"},
	} {
		_, _, err := runCLI(nil, append([]string{"db", "copy"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("db copy %v: %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
}

// fillInstallation writes at least one row of every table through the store's interface.
func fillInstallation(t *testing.T, s relais.Store) {
	t.Helper()
	ctx := context.Background()
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var lessons []relais.Lesson
	for i := range 3 {
		l := relais.Lesson{Title: "Fractions", Subject: "maths", Grade: 5, Language: "fr", Region: "IDF", TeacherID: "t1", Markdown: "# x"}
		check(s.CreateLesson(ctx, &l))
		lessons = append(lessons, l)
		if i == 1 {
			check(s.SetLessonStatus(ctx, l.ID, relais.LessonFailed, relais.Errorf(relais.EINVALID, "The video has no sound.")))
		}
	}
	l := lessons[0]
	check(s.SetLessonProgress(ctx, l.ID, "render", 40))
	check(s.SetLessonDuration(ctx, l.ID, 12*time.Minute))
	check(s.PutRendition(ctx, relais.Rendition{LessonID: l.ID, Kind: relais.RenditionTV, Path: "tv.ts", Container: "mpegts",
		Width: 1280, Height: 720, BitRate: 2_500_000, DurationMS: 720000, Bytes: 1 << 20, IntegratedLUFS: -23.1}))
	check(s.PutDigest(ctx, relais.Digest{LessonID: l.ID, Language: "fr", Body: "Bonjour", Encoding: "GSM-7", Segments: 1,
		Characters: 7, Dropped: []string{"image"}}))
	check(s.PutWorksheet(ctx, relais.Worksheet{LessonID: l.ID, Path: "w.pdf", Bytes: 100, Generated: true}))
	check(s.SetLessonStatus(ctx, l.ID, relais.LessonPublished, nil))

	hs := []relais.Household{
		{ExternalRef: "A", Region: "IDF", Language: "fr", Grades: []int{3, 5}, Profile: relais.ProfileMobileData,
			Phone: "+33612345678", Email: "a@example.org", PostalAddress: "1 rue X\n75001 Paris", Consent: true},
		{ExternalRef: "B", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileOffline,
			PostalAddress: "2 rue Y\n75002 Paris", Consent: true},
		{ExternalRef: "C", Region: "OCC", Language: "en", Pupils: []relais.Pupil{{Grade: 5, Language: "fr", School: "S1", Class: "S1-5A"}}, Profile: relais.ProfileSMSOnly,
			Phone: "+33698765432", Consent: true},
	}
	check(s.UpsertHouseholds(ctx, hs))
	check(s.SetSMSOptOut(ctx, "+33698765432", true))
	check(s.SetEmailStatus(ctx, "a@example.org", relais.ContactInvalid))

	ids, err := s.PlanDeliveries(ctx, []relais.Delivery{
		{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelSMS},
		{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelEmail},
		{LessonID: l.ID, HouseholdID: hs[1].ID, Channel: relais.ChannelPostal},
		{LessonID: l.ID, HouseholdID: hs[2].ID, Channel: relais.ChannelSMS},
	})
	check(err)
	_, err = s.AdvanceDeliveries(ctx, []relais.DeliveryAdvance{
		{ID: ids[0], Status: relais.DeliveryQueued, ProviderID: "SM1"},
		{ID: ids[1], Status: relais.DeliveryFailed, Detail: "mailbox full"},
		{ID: ids[2], Status: relais.DeliveryQueued, ProviderID: "IDF"},
		{ID: ids[3], Status: relais.DeliverySkipped, Detail: relais.OptedOutPrefix + "SMS"},
	})
	check(err)
	check(s.StartAttempts(ctx, ids[:2]))
	_, err = s.AdvanceDelivery(ctx, ids[0], relais.DeliveryDelivered, "handset", "")
	check(err)
	check(s.AddDeliveryEvent(ctx, relais.DeliveryEvent{DeliveryID: ids[0], Status: relais.DeliveryDelivered, Detail: "again"}))
	_, err = s.ClaimContact(ctx, l.ID, relais.ChannelSMS, "+33612345678", ids[0])
	check(err)
	_, _, err = s.RemindDeliveries(ctx, []relais.Delivery{{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelReminder,
		Occurrence: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).Unix()}})
	check(err)

	b := relais.PostalBatch{LessonID: l.ID, Region: "IDF", CreatedBy: "admin"}
	check(s.CreatePostalBatch(ctx, &b, "IDF", 0))
	check(s.SetPostalBatchReady(ctx, b.ID, "b.pdf", 2048, "b.csv"))
	_, err = s.MarkPostalBatch(ctx, b.ID, relais.PostalBatchPrinted)
	check(err)

	_, err = s.RecordBounce(ctx, relais.EmailBounce{Recipient: "a@example.org", DeliveryID: ids[1], MessageID: "<m@x>",
		Action: "failed", Status: "5.2.2", Hard: false, Diagnostic: "mailbox full", At: time.Now()})
	check(err)
	check(s.CreateToken(ctx, &relais.APIToken{Name: "Teacher", User: relais.User{ID: "t1", Role: relais.RoleTeacher}}, relais.HashToken("rl_x")))
	check(s.RecordAudit(ctx, &relais.AuditEntry{Actor: "t1", Role: relais.RoleTeacher, Action: relais.AuditSubmit, Target: "lesson 1", Address: "192.0.2.1"}))
	check(s.SetUserClasses(ctx, "t1", []string{"S1-5A", "S1-5B"}))
	check(s.SaveInbound(ctx, relais.InboundMessage{Phone: "+33612345678", Body: "merci", ProviderID: "SM9", ReceivedAt: time.Now()}))
	_, err = s.SignInStaff(ctx, relais.StaffIdentity{Issuer: "https://id.example", Subject: "s1", Name: "Ann", Role: relais.RoleMedia})
	check(err)

	st := relais.Station{Name: "France 4", Kind: relais.StationTV, TimeZone: "Europe/Paris", Playout: relais.PlayoutFormat("ffplayout")}
	check(s.CreateStation(ctx, &st))
	tpl := relais.Template{StationID: st.ID, Weekdays: []int{1, 2}, Start: "09:00", End: "10:00", SlotMin: 30, Grade: 5,
		Language: "fr", From: "2026-03-02", To: "2026-03-03"}
	check(s.AddSlots(ctx, st.ID, &tpl, []relais.Slot{
		{StationID: st.ID, Day: "2026-03-02", Start: "09:00", Duration: 30 * time.Minute, Grade: 5, Language: "fr"},
		{StationID: st.ID, Day: "2026-03-03", Start: "09:00", Duration: 30 * time.Minute, Grade: 5, Language: "fr"},
	}, func([]relais.Slot) error { return nil }))
	slots, err := s.Slots(ctx, relais.SlotFilter{StationID: st.ID})
	check(err)
	check(s.Assign(ctx, []relais.Assignment{{SlotID: slots[0].ID, LessonID: l.ID}}))
	_, err = s.AddException(ctx, relais.Exception{StationID: st.ID, Day: "2026-03-03", Reason: "strike"})
	check(err)
	check(s.SetApproval(ctx, relais.Approval{LessonID: l.ID, State: relais.Approved, DecidedBy: "admin", UpdatedAt: time.Now()}))
	check(s.SetApproval(ctx, relais.Approval{LessonID: lessons[2].ID, State: relais.Submitted, UpdatedAt: time.Now()}))
}

// listings reads everything a store holds through its interface, by name.
func listings(t *testing.T, s relais.Store) map[string]any {
	t.Helper()
	ctx := context.Background()
	out := map[string]any{}
	must := func(name string, v any, err error) {
		t.Helper()
		if err != nil && relais.ErrorCode(err) != relais.ENOTFOUND {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = v
	}
	lessons, err := s.Lessons(ctx, relais.LessonFilter{Page: relais.Page{Limit: 1000}})
	must("lessons", lessons, err)
	for _, l := range lessons {
		key := func(what string) string { return what + " of lesson " + strings.Repeat("I", int(l.ID)) }
		r, err := s.Renditions(ctx, l.ID)
		must(key("renditions"), r, err)
		d, err := s.Digests(ctx, l.ID)
		must(key("digests"), d, err)
		w, err := s.Worksheet(ctx, l.ID)
		must(key("worksheet"), w, err)
		a, err := s.Approval(ctx, l.ID)
		must(key("approval"), a, err)
		c, err := s.DeliveryCounts(ctx, l.ID)
		must(key("counts"), c, err)
		started, err := s.DeliveriesStarted(ctx, l.ID)
		must(key("started"), started, err)
		tl, err := s.DeliveryTimeline(ctx, relais.TimelineFilter{LessonID: l.ID, From: started.Truncate(time.Hour),
			To: started.Truncate(time.Hour).Add(2 * time.Hour), Bucket: time.Minute})
		must(key("timeline"), tl, err)
		pb, err := s.PostalBatches(ctx, relais.PostalBatchFilter{LessonID: l.ID})
		must(key("postal batches"), pb, err)
		for _, b := range pb {
			p, err := s.PostalPackets(ctx, b.ID, relais.Page{Limit: 1000})
			must(key("postal packets"), p, err)
		}
	}
	hs, err := s.Households(ctx, relais.HouseholdFilter{Page: relais.Page{Limit: 1000}})
	must("households", hs, err)
	g5, err := s.Households(ctx, relais.HouseholdFilter{Grade: 5, Page: relais.Page{Limit: 1000}})
	must("households of grade 5", g5, err)
	class, err := s.Households(ctx, relais.HouseholdFilter{Audience: &relais.Audience{Grades: []int{5}, Languages: []string{"fr"},
		Classes: []string{"S1-5A"}}, Page: relais.Page{Limit: 1000}})
	must("households of class S1-5A", class, err)
	cs, err := s.UserClasses(ctx, "t1")
	must("classes of t1", cs, err)
	ds, err := s.Deliveries(ctx, relais.DeliveryFilter{Page: relais.Page{Limit: 1000}})
	must("deliveries", ds, err)
	for _, d := range ds {
		ev, err := s.DeliveryEvents(ctx, d.ID)
		must("events of "+string(d.Channel)+" delivery to "+strings.Repeat("I", int(d.HouseholdID)), ev, err)
	}
	claims, err := s.ClaimContacts(ctx, []relais.ContactClaim{{LessonID: 1, Channel: relais.ChannelSMS, Contact: "+33612345678", DeliveryID: 999}})
	must("contact claims", claims, err)
	u, err := s.Tokens(ctx)
	must("tokens", u, err)
	au, err := s.AuditEntries(ctx, relais.AuditFilter{})
	must("audit log", au, err)
	in, err := s.InboundMessages(ctx, relais.Page{Limit: 1000})
	must("inbound", in, err)
	sts, err := s.Stations(ctx)
	must("stations", sts, err)
	for _, st := range sts {
		tpls, err := s.Templates(ctx, st.ID)
		must("templates", tpls, err)
		ex, err := s.Exceptions(ctx, st.ID)
		must("exceptions", ex, err)
		sl, err := s.Slots(ctx, relais.SlotFilter{StationID: st.ID})
		must("slots", sl, err)
	}
	sub, err := s.Submitted(ctx, 100)
	must("submitted", sub, err)
	bounced, err := s.RecordBounce(ctx, relais.EmailBounce{Recipient: "a@example.org", MessageID: "<m@x>", Action: "failed",
		Status: "5.2.2", At: time.Now()})
	must("bounce already recorded", !bounced, err)
	return out
}
