package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/sqlite"
)

// bounceData makes a data directory whose database has two email deliveries that were sent, and
// returns the directory and the reports that bounce them (hard for the first, delayed for the second).
func bounceData(t *testing.T) (dir string, ids []int64, hard, soft string) {
	t.Helper()
	ctx := context.Background()
	dir = t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "relais.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l := relais.Lesson{Title: "T", Subject: "s", Grade: 5, Language: "fr", TeacherID: "t1"}
	if err := db.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	for i, addr := range []string{"nobody@example.org", "full@example.net"} {
		h := relais.Household{ExternalRef: fmt.Sprint("E", i), Language: "fr", Grades: []int{5},
			Profile: relais.ProfileBroadband, Email: addr}
		if err := db.UpsertHouseholds(ctx, []relais.Household{h}); err != nil {
			t.Fatal(err)
		}
		hs, _ := db.Households(ctx, relais.HouseholdFilter{Page: relais.Page{Limit: 10}})
		got, err := db.PlanDeliveries(ctx, []relais.Delivery{{LessonID: l.ID, HouseholdID: hs[len(hs)-1].ID, Channel: relais.ChannelEmail}})
		if err != nil {
			t.Fatal(err)
		}
		db.AdvanceDelivery(ctx, got[0], relais.DeliverySent, "", "")
		ids = append(ids, got[0])
	}
	read := func(name string, from string, id int64) string {
		b, err := os.ReadFile(filepath.Join("..", "..", "channels", "email", "testdata", "dsn", name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.ReplaceAll(string(b), from, fmt.Sprintf("<relais.%d.", id))
	}
	return dir, ids, read("postfix-hard.eml", "<relais.1234.", ids[0]), read("delayed.eml", "<relais.77.", ids[1])
}

func runBounces(t *testing.T, dataDir string, args ...string) (string, error) {
	t.Helper()
	out, errOut, err := runCLI(map[string]string{"RELAIS_DATA_DIR": dataDir}, append([]string{"bounces", "import"}, args...)...)
	return out + errOut, err
}

func checkBounced(t *testing.T, dataDir string, ids []int64) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dataDir, "relais.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ds, _ := db.DeliveriesByIDs(ctx, ids)
	if ds[0].Status != relais.DeliveryFailed || ds[1].Status != relais.DeliverySent {
		t.Errorf("deliveries %s and %s, want failed and sent", ds[0].Status, ds[1].Status)
	}
	h, _ := db.Household(ctx, ds[0].HouseholdID)
	if h.EmailStatus != relais.ContactInvalid {
		t.Errorf("hard-bounced address status %q", h.EmailStatus)
	}
	h, _ = db.Household(ctx, ds[1].HouseholdID)
	if h.EmailStatus != relais.ContactOK {
		t.Errorf("soft-bounced address status %q", h.EmailStatus)
	}
	evs, _ := db.DeliveryEvents(ctx, ids[1])
	if last := evs[len(evs)-1]; !strings.HasPrefix(last.Detail, "soft bounce: delayed 4.2.2") {
		t.Errorf("soft bounce not in history: %+v", last)
	}
}

func TestBouncesImportMaildir(t *testing.T) {
	dataDir, ids, hard, soft := bounceData(t)
	md := t.TempDir()
	for _, sub := range []string{"new", "cur", "tmp"} {
		os.MkdirAll(filepath.Join(md, sub), 0o700)
	}
	notDSN, _ := os.ReadFile(filepath.Join("..", "..", "channels", "email", "testdata", "dsn", "not-a-dsn.eml"))
	os.WriteFile(filepath.Join(md, "new", "1700000000.1.host"), []byte(hard), 0o600)
	os.WriteFile(filepath.Join(md, "cur", "1700000001.2.host:2,S"), []byte(soft), 0o600)
	os.WriteFile(filepath.Join(md, "cur", "1700000002.3.host:2,S"), notDSN, 0o600)
	os.WriteFile(filepath.Join(md, "tmp", "1700000003.4.host"), []byte(hard), 0o600) // being delivered: not read

	out, err := runBounces(t, dataDir, "--maildir", md)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := "2 reports, 1 other messages skipped: 1 hard bounces (addresses suppressed, 1 deliveries failed), 1 soft bounces recorded, 0 ignored\n"
	if out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	checkBounced(t, dataDir, ids)
	out, err = runBounces(t, dataDir, "--maildir", md)
	if err != nil || !strings.Contains(out, "0 hard bounces (addresses suppressed, 0 deliveries failed), 0 soft bounces recorded, 2 ignored") {
		t.Errorf("second run: %v %q", err, out)
	}
}

func TestBouncesImportMbox(t *testing.T) {
	dataDir, ids, hard, soft := bounceData(t)
	mbox := filepath.Join(t.TempDir(), "bounces.mbox")
	// mboxrd: a body line starting "From " is written ">From ".
	content := "From MAILER-DAEMON Mon Nov 23 09:00:01 2026\n" + strings.ReplaceAll(hard, "\r\n", "\n") + "\n" +
		"From mailer-daemon@relay.example Mon Nov 23 09:05:00 2026\n" + strings.Replace(soft, "Delivery incomplete", ">From the relay: delivery incomplete", 1) + "\n"
	if err := os.WriteFile(mbox, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runBounces(t, dataDir, "--mbox", mbox)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.HasPrefix(out, "2 reports, 0 other messages skipped: 1 hard bounces (addresses suppressed, 1 deliveries failed), 1 soft bounces recorded") {
		t.Errorf("output %q", out)
	}
	checkBounced(t, dataDir, ids)
}

func TestBouncesImportUsage(t *testing.T) {
	dataDir, _, _, _ := bounceData(t)
	if out, err := runBounces(t, dataDir); err == nil || !strings.Contains(out, "--maildir") {
		t.Errorf("no source: %v %q", err, out)
	}
	if _, err := runBounces(t, dataDir, "--maildir", t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a Maildir") {
		t.Errorf("empty dir: %v", err)
	}
	empty := filepath.Join(t.TempDir(), "x.mbox")
	os.WriteFile(empty, []byte("hello\n"), 0o600)
	if _, err := runBounces(t, dataDir, "--mbox", empty); err == nil || !strings.Contains(err.Error(), "not an mbox") {
		t.Errorf("not an mbox: %v", err)
	}
}
