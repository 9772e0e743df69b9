package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pressly/goose/v3"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/storetest"
)

// TestMigrationMarksExistingNotes upgrades a database holding history from before notes were marked:
// an event repeating a status the delivery already had is a note, the rest are status changes.
func TestMigrationMarksExistingNotes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relais.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := fs.Sub(migrations, "migrations")
	p, err := goose.NewProvider(goose.DialectSQLite3, raw, sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO lessons (id, title, subject, grade, language, teacher_id, status, created_at, updated_at) VALUES (1, 'L', 's', 5, 'fr', 't1', 'published', 0, 0)`,
		`INSERT INTO households (id, external_ref, language, profile, created_at) VALUES (1, 'h1', 'fr', 'broadband', 0)`,
		`INSERT INTO deliveries (id, lesson_id, household_id, channel, status, created_at, updated_at) VALUES (1, 1, 1, 'email', 'failed', 0, 0)`,
		`INSERT INTO delivery_events (delivery_id, status, detail, at) VALUES (1, 'pending', '', 1), (1, 'sent', 'accepted by provider', 2),
			(1, 'sent', 'soft bounce: delayed 4.2.2', 3), (1, 'sent', 'sent again after a soft bounce', 4), (1, 'failed', 'hard bounce', 5)`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	type event struct {
		Status string
		Note   bool
	}
	got, err := queryAll(ctx, db.read, func(row rowScanner) (event, error) {
		var e event
		return e, row.Scan(&e.Status, &e.Note)
	}, `SELECT status, note FROM delivery_events ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	want := []event{{"pending", false}, {"sent", false}, {"sent", true}, {"sent", true}, {"failed", false}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events after the migration (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(minutesFromEvents(t, db), minutes(t, db)); diff != "" {
		t.Errorf("delivery_minutes after the migration (-from events +kept):\n%s", diff)
	}
}

// minuteRow is a row of delivery_minutes.
type minuteRow struct {
	Minute, Lesson    int64
	Channel, Status   string
	Changes, OptedOut int64
}

func minutes(t testing.TB, db *DB) []minuteRow {
	return queryMinutes(t, db, `SELECT minute, lesson_id, channel, status, changes, opted_out FROM delivery_minutes ORDER BY 1, 2, 3, 4`)
}

// minutesFromEvents computes delivery_minutes afresh from the events, the implied first ones
// (migration 00024) included.
func minutesFromEvents(t testing.TB, db *DB) []minuteRow {
	return queryMinutes(t, db, `SELECT e.at / 60000, d.lesson_id, d.channel, e.status, COUNT(*),
		SUM(e.status = 'skipped' AND d.reason LIKE 'opted out of %')
		FROM (SELECT delivery_id, status, at FROM delivery_events WHERE note = 0
			UNION ALL SELECT id, 'pending', created_at FROM deliveries WHERE implied_start) e
		JOIN deliveries d ON d.id = e.delivery_id GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`)
}

func queryMinutes(t testing.TB, db *DB, q string) []minuteRow {
	t.Helper()
	rows, err := queryAll(context.Background(), db.read, func(row rowScanner) (minuteRow, error) {
		var m minuteRow
		return m, row.Scan(&m.Minute, &m.Lesson, &m.Channel, &m.Status, &m.Changes, &m.OptedOut)
	}, q)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestTimelineUsesIndexes checks the plans of the dashboard's queries: the timeline reads the period's
// minutes, the failures of a period read deliveries_failed, a lesson's start reads one index entry.
func TestTimelineUsesIndexes(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "relais.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	plan := func(q string, args ...any) string {
		t.Helper()
		rows, err := db.read.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := ""
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			out += detail + "\n"
		}
		return out
	}
	for _, tc := range []struct{ query, want string }{
		{`SELECT (minute - 0) / 60 AS bucket, channel, status, SUM(changes), SUM(opted_out) FROM delivery_minutes
			WHERE minute >= 0 AND minute < 100 AND lesson_id = 1 GROUP BY bucket, channel, status`, "SEARCH delivery_minutes USING PRIMARY KEY (minute>? AND minute<?)"},
		{`SELECT channel, status, reason, COUNT(*) AS n FROM deliveries WHERE status IN ('failed', 'undelivered')
			AND updated_at >= 0 AND updated_at < 100 GROUP BY channel, status, reason`, "USING COVERING INDEX deliveries_failed"},
		{`SELECT (SELECT created_at FROM deliveries WHERE lesson_id = 1 AND id > 0 ORDER BY id LIMIT 1)`,
			"SEARCH deliveries USING INDEX deliveries_lesson (lesson_id=? AND rowid>?)"},
	} {
		if got := plan(tc.query); !strings.Contains(got, tc.want) || strings.Contains(got, "TEMP B-TREE FOR ORDER BY") {
			t.Errorf("plan of\n%s\n=\n%s\nwant %q", tc.query, got, tc.want)
		}
	}
}

// BenchmarkDeliveryTimeline charts a day of 1,000,000 status changes: 250,000 deliveries of 10 lessons
// over SMS, email and post, each planned, queued, sent and then delivered, failed or skipped (opted out).
// Grouping the events themselves (delivery_events joined to deliveries, on an index of at) took 1.8 s
// for the whole day on 2 cores; summing delivery_minutes takes about 20 ms, for about 10 µs more per
// status change written (the trigger).
//
//	go test ./store/sqlite -run '^$' -bench DeliveryTimeline -benchtime 10x
func BenchmarkDeliveryTimeline(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "relais.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	day := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	for _, q := range []string{
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10)
			INSERT INTO lessons (title, subject, grade, language, teacher_id, status, created_at, updated_at)
			SELECT 'L' || i, 'maths', 5, 'fr', 't1', 'published', 0, 0 FROM n`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 25000)
			INSERT INTO households (external_ref, language, profile, created_at) SELECT 'h' || i, 'fr', 'sms_only', 0 FROM n`,
		fmt.Sprintf(`INSERT INTO deliveries (lesson_id, household_id, channel, status, reason, created_at, updated_at)
			SELECT l.id, h.id, CASE h.id %% 3 WHEN 0 THEN 'sms' WHEN 1 THEN 'email' ELSE 'postal' END,
			CASE h.id %% 10 WHEN 0 THEN 'failed' WHEN 1 THEN 'skipped' ELSE 'delivered' END,
			CASE h.id %% 10 WHEN 0 THEN 'invalid number (21211)' WHEN 1 THEN 'opted out of sms' ELSE '' END, %d, %d
			FROM lessons l, households h ORDER BY l.id, h.id`, ms(day), ms(day)),
		// 250,000 deliveries spread over the day, 345 ms apart; each one's events follow within a minute.
		fmt.Sprintf(`INSERT INTO delivery_events (delivery_id, status, detail, at)
			SELECT d.id, CASE s.k WHEN 3 THEN d.status ELSE s.status END, '', %d + d.id * 345 + s.off
			FROM deliveries d, (SELECT 0 AS k, 'pending' AS status, 0 AS off UNION ALL SELECT 1, 'queued', 1000
				UNION ALL SELECT 2, 'sent', 5000 UNION ALL SELECT 3, '', 60000) s
			ORDER BY d.id, s.k`, ms(day)),
	} {
		if _, err := db.write.ExecContext(ctx, q); err != nil {
			b.Fatalf("%.80s: %v", q, err)
		}
	}
	var events, rows int64
	db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM delivery_events`).Scan(&events)
	db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM delivery_minutes`).Scan(&rows)
	b.Logf("%d events written in %s, kept as %d per-minute rows", events, time.Since(start).Round(time.Millisecond), rows)
	if diff := cmp.Diff(minutesFromEvents(b, db), minutes(b, db)); diff != "" {
		b.Fatalf("delivery_minutes (-from events +kept):\n%.2000s", diff)
	}

	for _, bc := range []struct {
		name string
		f    relais.TimelineFilter
		want int64 // status changes counted
	}{
		{"all-lessons-day-hourly", relais.TimelineFilter{From: day, To: day.Add(24 * time.Hour), Bucket: time.Hour}, events},
		{"one-lesson-day-hourly", relais.TimelineFilter{LessonID: 3, From: day, To: day.Add(24 * time.Hour), Bucket: time.Hour}, events / 10},
		{"all-lessons-hour-minutes", relais.TimelineFilter{From: day.Add(10 * time.Hour), To: day.Add(11 * time.Hour), Bucket: time.Minute}, -1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				cs, err := db.DeliveryTimeline(ctx, bc.f)
				if err != nil {
					b.Fatal(err)
				}
				var n int64
				for _, c := range cs {
					n += c.Count
				}
				if bc.want >= 0 && n != bc.want {
					b.Fatalf("counted %d status changes, want %d", n, bc.want)
				}
			}
		})
	}
	b.Run("failures-all-lessons", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.FailureCounts(ctx, relais.FailureFilter{From: day, To: day.Add(24 * time.Hour)}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestMinutesFollowEveryWriter records history through every writer of delivery_events (planning,
// advances one by one and in a page, a posted postal batch, notes and bounce reports) across minutes,
// and checks delivery_minutes holds what the events say.
func TestMinutesFollowEveryWriter(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "relais.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2025, 3, 1, 10, 0, 30, 0, time.UTC)
	db.now = func() time.Time { now = now.Add(20 * time.Second); return now }
	storetest.WriteEveryKind(t, db)

	kept := minutes(t, db)
	if diff := cmp.Diff(minutesFromEvents(t, db), kept); diff != "" {
		t.Errorf("delivery_minutes (-from events +kept):\n%s", diff)
	}
	var changes, optedOut, posted int64
	for _, m := range kept {
		changes += m.Changes
		optedOut += m.OptedOut
		if m.Channel == "postal" && m.Status == "sent" {
			posted += m.Changes
		}
	}
	// 6 planned (one skipped, opted out), 2 postal queued, 3 advanced (one skipped, opted out), 2 posted,
	// 1 delivered straight from queued, with its implied "sent"; no note.
	if changes != 15 || optedOut != 2 || posted != 2 {
		t.Errorf("kept %d changes, %d opt-outs, %d posted; want 15, 2, 2", changes, optedOut, posted)
	}
}
