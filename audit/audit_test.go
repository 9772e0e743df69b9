package audit

import (
	"bytes"
	"context"
	"encoding/csv"
	"log/slog"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/sqlite"
)

func openStore(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "relais.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestParseFilter(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	q, _ := url.ParseQuery("actor=m&action=publish&since=2026-03-02&until=2026-03-03&after=40&limit=10")
	f, err := ParseFilter(q, paris)
	if err != nil {
		t.Fatal(err)
	}
	want := relais.AuditFilter{Actor: "m", Action: relais.AuditPublish,
		Since: time.Date(2026, 3, 2, 0, 0, 0, 0, paris), Until: time.Date(2026, 3, 4, 0, 0, 0, 0, paris), // until's day whole
		Page: relais.Page{After: 40, Limit: 10}}
	if f.Actor != want.Actor || f.Action != want.Action || !f.Since.Equal(want.Since) || !f.Until.Equal(want.Until) || f.Page != want.Page {
		t.Errorf("filter %+v, want %+v", f, want)
	}
	q, _ = url.ParseQuery("since=2026-03-02T10:00:00Z")
	if f, err := ParseFilter(q, paris); err != nil || !f.Since.Equal(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("RFC 3339 since: %v %v", f.Since, err)
	}
	for _, bad := range []string{"action=steal", "since=yesterday", "until=03/02/2026", "after=-1", "limit=x"} {
		q, _ := url.ParseQuery(bad)
		if _, err := ParseFilter(q, paris); relais.ErrorCode(err) != relais.EINVALID {
			t.Errorf("%s: %v, want invalid", bad, err)
		}
	}
}

// TestExportPages: an export holds every entry the filter selects, across pages of the store.
func TestExportPages(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	n := relais.MaxPageLimit + 5
	for i := range n {
		action := relais.AuditEdit
		if i%2 == 0 {
			action = relais.AuditPublish
		}
		if err := db.RecordAudit(ctx, &relais.AuditEntry{At: at, Actor: "m", Role: relais.RoleMedia, Action: action, Target: "lesson 1", Address: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := Export(ctx, db, relais.AuditFilter{}, &buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != n+1 {
		t.Fatalf("%d lines (%v), want %d and a header", len(recs), err, n)
	}
	if got := recs[1]; got[1] != "2026-03-02T09:00:00Z" || got[0] != "1005" || recs[n][0] != "1" {
		t.Errorf("first line %q, last id %s", got, recs[n][0])
	}
	buf.Reset()
	if err := Export(ctx, db, relais.AuditFilter{Action: relais.AuditPublish}, &buf); err != nil {
		t.Fatal(err)
	}
	if recs, _ := csv.NewReader(&buf).ReadAll(); len(recs) != (n+1)/2+1 {
		t.Errorf("publish entries: %d lines, want %d", len(recs), (n+1)/2+1)
	}
}

// TestRetention removes exactly the entries older than the retention, and stops with its context.
func TestRetention(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	db := openStore(t)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, age := range []time.Duration{400 * 24 * time.Hour, 366 * 24 * time.Hour, 364 * 24 * time.Hour, time.Hour} {
		if err := db.RecordAudit(ctx, &relais.AuditEntry{At: now.Add(-age), Actor: "a", Action: relais.AuditEdit, Target: "station 1"}); err != nil {
			t.Fatal(err)
		}
	}
	l := New(db, slog.New(slog.DiscardHandler))
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.RunRetention(ctx, time.Hour, 365*24*time.Hour, func() time.Time { return now })
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		es, err := db.AuditEntries(context.Background(), relais.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 2 {
			if !es[1].At.Equal(now.Add(-364 * 24 * time.Hour)) {
				t.Errorf("kept the wrong entries: %+v", es)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d entries left, want 2", len(es))
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunRetention did not stop with its context")
	}
	// Zero retention keeps everything and returns at once.
	New(db, slog.New(slog.DiscardHandler)).RunRetention(context.Background(), time.Hour, 0, func() time.Time { return now.Add(1000 * time.Hour) })
	if es, _ := db.AuditEntries(context.Background(), relais.AuditFilter{}); len(es) != 2 {
		t.Errorf("zero retention removed entries: %d left", len(es))
	}
}
