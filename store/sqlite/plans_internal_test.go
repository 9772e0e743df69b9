package sqlite

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/internal/sqlstore"
)

// bigScan is a plan step that reads a whole big table (by its name or by the alias the store's
// queries give it): what a statement run per send task, fan-out page, callback, sweep, dashboard view
// or family page must never do.
var bigScan = regexp.MustCompile(`(?m)^SCAN (deliveries|delivery_events|households|pupils|contact_claims|inbound_messages|email_bounces|h|d|p|ph|e)\b`)

// idWalk is a plan step that walks the rows in id order from a cursor, reading every row after it
// whatever the other conditions.
var idWalk = regexp.MustCompile(`(?m)^SEARCH (deliveries|households|h|d) USING INTEGER PRIMARY KEY \(rowid>\?\)$`)

// byLesson is a query of a lesson's deliveries in id order. (A household's, a few dozen rows found a
// lesson at a time on the unique key, are sorted.)
var byLesson = regexp.MustCompile(`(?s)FROM deliveries.*lesson_id = \?.* ORDER BY (d\.)?id`)

// ofHouseholdPlan is the plan step of a household's deliveries: the unique key probed a lesson at a
// time (a household_id alone after a key's first column would read the whole key).
const ofHouseholdPlan = "sqlite_autoindex_deliveries_1 (lesson_id=? AND household_id=?)"

// TestQueriesUseIndexes checks the plans (EXPLAIN QUERY PLAN, with the values bound as the store
// binds them: SQLite proves a partial index's condition from a bound value) of the statements of the
// hot paths, on tables of a few thousand rows and without statistics (the store runs no ANALYZE): each
// finds its index and reads no big table whole. The statements are those of the store, written out
// here as store/postgres's TestQueriesUseIndexes writes them; store/storetest checks what they do.
func TestQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "relais.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20)
			INSERT INTO lessons (title, subject, grade, language, teacher_id, status, created_at, updated_at)
			SELECT 'L' || i, 'maths', 5, 'fr', 't1', 'published', 0, 0 FROM n`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
			INSERT INTO households (external_ref, region, language, profile, phone, email, removed_at, created_at)
			SELECT 'h' || i, 'R' || i % 13, 'fr', 'sms_only', '+336' || printf('%08d', i), 'h' || i || '@example.org',
			CASE WHEN i % 100 = 0 THEN 1000 ELSE 0 END, 0 FROM n`,
		`INSERT INTO pupils (household_id, grade, language, school, class)
			SELECT id, id % 12 + 1, language, 'S' || id % 50, 'S' || id % 50 || '-' || id % 12 FROM households`,
		`INSERT INTO deliveries (lesson_id, household_id, channel, status, provider_id, claimed_by, claimed_at, created_at, updated_at)
			SELECT l.id, h.id, c.c, CASE h.id % 7 WHEN 0 THEN 'failed' WHEN 1 THEN 'queued' WHEN 2 THEN 'sent' WHEN 3 THEN 'claimed'
				WHEN 4 THEN 'delivered' ELSE 'pending' END,
			'SM' || l.id || '-' || h.id, CASE WHEN h.id % 7 IN (3, 5) THEN 'a' || h.id % 10 ELSE '' END, h.id, h.id, h.id
			FROM lessons l, households h, (SELECT 'sms' AS c UNION ALL SELECT 'email') c WHERE l.id <= 2 ORDER BY l.id, h.id`,
		`INSERT INTO delivery_events (delivery_id, status, detail, at) SELECT id, status, '', updated_at FROM deliveries`,
		`INSERT INTO contact_claims (lesson_id, channel, contact, delivery_id) SELECT lesson_id, channel, 'c' || id, id FROM deliveries`,
		`INSERT INTO inbound_messages (phone, body, received_at) SELECT phone, 'STOP', id FROM households WHERE id % 3 = 0`,
		`INSERT INTO email_bounces (recipient, action, status, hard, at) SELECT email, 'failed', '5.1.1', 1, id FROM households WHERE id % 3 = 0`,
	} {
		if _, err := db.write.ExecContext(ctx, q); err != nil {
			t.Fatalf("%.80s: %v", q, err)
		}
	}
	ids := []any{int64(1), int64(2), int64(3)}
	inFlight := `id > ? AND channel = ? AND status = ? AND ` + sqlstore.InFlight + ` AND updated_at < ? AND updated_at > ?`
	for _, tc := range []struct {
		name, query string
		args        []any
		want        string // the index the plan must use
	}{
		// A send task: its page read, claimed, counted, refreshed, released by id; advances by id.
		{"page", `SELECT ` + deliveryColumns + ` FROM deliveries WHERE id IN (?,?,?) ORDER BY id`, ids, "INTEGER PRIMARY KEY (rowid=?)"},
		{"claim", `UPDATE deliveries SET status = ?, claimed_by = ?, claimed_at = ?, updated_at = ? WHERE id = ? AND status = ? RETURNING id`,
			[]any{"claimed", "a", 1, 1, 1, "pending"}, "INTEGER PRIMARY KEY (rowid=?)"},
		{"advance", `SELECT status, provider_id FROM deliveries WHERE id = ?`, []any{1}, "INTEGER PRIMARY KEY (rowid=?)"},
		{"attempts", `UPDATE deliveries SET attempts = attempts + 1 WHERE id IN (?,?,?)`, ids, "INTEGER PRIMARY KEY (rowid=?)"},
		{"refresh", `UPDATE deliveries SET claimed_at = ? WHERE claimed_by = ? AND status IN (?, ?) AND id IN (?,?,?) RETURNING id`,
			append([]any{1, "a", "claimed", "pending"}, ids...), "INTEGER PRIMARY KEY (rowid=?)"},
		{"clear", `UPDATE deliveries SET claimed_by = '' WHERE claimed_by = ? AND status = ? AND id IN (?,?,?) RETURNING id`,
			append([]any{"a", "pending"}, ids...), "INTEGER PRIMARY KEY (rowid=?)"},
		{"release", `UPDATE deliveries SET status = ?, updated_at = ? WHERE status = ? AND claimed_by = ? AND id IN (?,?,?) RETURNING id`,
			append([]any{"pending", 1, "claimed", "a"}, ids...), "INTEGER PRIMARY KEY (rowid=?)"},
		// A fan-out page: its households on pupils_audience, their deliveries and contacts by key.
		{"audience", "", nil, "pupils_audience"},
		{"plan key", `SELECT id, status FROM deliveries WHERE lesson_id = ? AND household_id = ? AND channel = ?`, []any{1, 1, "sms"},
			"sqlite_autoindex_deliveries_1"},
		{"remind", `UPDATE deliveries SET status = ?, reason = '', provider_id = '', attempts = 0, occurrence = ?, updated_at = ?
			WHERE lesson_id = ? AND household_id = ? AND channel = ? AND occurrence < ? AND status NOT IN (?, ?) RETURNING id`,
			[]any{"pending", 2, 1, 1, 1, "reminder", 2, "pending", "claimed"}, "sqlite_autoindex_deliveries_1"},
		{"contact claim", `SELECT delivery_id FROM contact_claims WHERE lesson_id = ? AND channel = ? AND contact = ?`,
			[]any{1, "sms", "c1"}, "PRIMARY KEY (lesson_id=? AND channel=? AND contact=?)"},
		{"households by id", `SELECT ` + sqlstore.HouseholdColumns + ` FROM households h WHERE h.id IN (?,?,?)`, ids, "INTEGER PRIMARY KEY (rowid=?)"},
		// A status callback, an inbound SMS, a bounce: the delivery by provider id, the households of a
		// number or an address.
		{"callback", `SELECT ` + deliveryColumns + ` FROM deliveries WHERE channel = ? AND provider_id = ? AND provider_id <> ''`,
			[]any{"sms", "SM1-1"}, "deliveries_provider"},
		{"by phone", `SELECT ` + sqlstore.HouseholdColumns + ` FROM households h WHERE ` + sqlstore.PhoneIs("+33600000001") + ` ORDER BY h.id`,
			[]any{"+33600000001"}, "households_phone"},
		{"phone status", `UPDATE households AS h SET phone_status = ? WHERE ` + sqlstore.PhoneIs("+33600000001"), []any{"invalid", "+33600000001"},
			"households_phone"},
		{"email status", `UPDATE households AS h SET email_status = ? WHERE ` + emailIs("H1@example.org"), []any{"bounced", "H1@example.org"},
			"households_email"},
		// A sweep: stale reservations and claims, the deliveries left in flight.
		{"reclaim reserved", `UPDATE deliveries SET claimed_by = ?, claimed_at = ? WHERE id IN (
			SELECT id FROM deliveries WHERE status = ? AND channel = ? AND claimed_by <> '' AND claimed_at < ? ORDER BY claimed_at LIMIT ?)
			AND status = ? AND claimed_by <> '' AND claimed_at < ? RETURNING id`,
			[]any{"b", 1, "pending", "sms", 100, 10, "pending", 100}, "deliveries_reserved"},
		{"reclaim claimed", `SELECT id, claimed_by FROM deliveries WHERE status = ? AND channel = ? AND claimed_at < ? ORDER BY claimed_at LIMIT ?`,
			[]any{"claimed", "sms", 100, 10}, "deliveries_claimed"},
		{"in flight", `SELECT ` + deliveryColumns + ` FROM deliveries WHERE ` + inFlight + ` ORDER BY id LIMIT ?`,
			[]any{0, "sms", "sent", 100, 10, 100}, "deliveries_in_flight"},
		// Dashboard views: a lesson's failures, the period's failures, a lesson's start.
		{"lesson failures", `SELECT channel, status, reason, COUNT(*) AS n FROM deliveries WHERE status IN ('failed', 'undelivered')
			AND lesson_id = ? GROUP BY channel, status, reason ORDER BY n DESC, channel, status, reason LIMIT ?`, []any{1, 100},
			"deliveries_lesson_status"},
		{"period failures", `SELECT channel, status, reason, COUNT(*) AS n FROM deliveries WHERE status IN ('failed', 'undelivered')
			AND updated_at >= ? AND updated_at < ? GROUP BY channel, status, reason ORDER BY n DESC, channel, status, reason LIMIT ?`,
			[]any{0, 100, 100}, "deliveries_failed"},
		{"lesson start", `SELECT (SELECT created_at FROM deliveries WHERE lesson_id = ? AND id > ? ORDER BY id LIMIT 1)`, []any{1, 0},
			"deliveries_lesson (lesson_id=? AND rowid>?)"},
		// Staff pages: a search of households, a household's deliveries.
		{"search", `SELECT ` + sqlstore.HouseholdColumns + ` FROM households h WHERE h.id > ? AND h.id IN (SELECT id FROM households WHERE external_ref = ?
			UNION SELECT id FROM households WHERE phone = ? AND phone <> ''
			UNION SELECT id FROM households WHERE email = ? COLLATE NOCASE AND email = ? AND email <> '') ORDER BY h.id LIMIT ?`,
			[]any{0, "h1", "h1", "h1", "h1", 50}, "households_phone"},
		// A teacher's listing of a lesson's deliveries, the export of a lesson, its re-sending: a page
		// after a cursor.
		{"lesson deliveries", `SELECT ` + deliveryColumns + ` FROM deliveries WHERE lesson_id = ? AND id > ?
			ORDER BY id LIMIT ?`, []any{1, 0, 1000}, "deliveries_lesson (lesson_id=? AND rowid>?)"},
		{"lesson pending", `SELECT ` + deliveryColumns + ` FROM deliveries WHERE lesson_id = ? AND id > ? AND status = ?
			ORDER BY id LIMIT ?`, []any{1, 0, "pending", 1000}, "deliveries_lesson (lesson_id=? AND rowid>?)"},
		{"household deliveries", `SELECT ` + deliveryColumns + ` FROM deliveries WHERE +id > ? AND ` + ofHousehold("deliveries") +
			` ORDER BY id LIMIT ?`, []any{0, 1, 50}, ofHouseholdPlan},
		// A family's access request: its deliveries, their events, its replies and bounces.
		{"record", `SELECT d.id, d.lesson_id, COALESCE(l.title, ''), d.channel, d.status, d.reason, d.created_at, d.updated_at
			FROM deliveries d LEFT JOIN lessons l ON l.id = d.lesson_id WHERE ` + ofHousehold("d") + ` ORDER BY d.id`, []any{1},
			ofHouseholdPlan},
		{"record events", `SELECT status, detail, at FROM delivery_events WHERE delivery_id = ? ORDER BY id`, []any{1}, "delivery_events_delivery"},
		{"record replies", `SELECT body, received_at FROM inbound_messages WHERE phone = ? ORDER BY id`, []any{"+33600000003"},
			"inbound_messages_phone"},
		{"record bounces", `SELECT action, status, hard, diagnostic, at FROM email_bounces WHERE recipient = ? ORDER BY id`,
			[]any{"h3@example.org"}, "sqlite_autoindex_email_bounces_1"},
		// The retention pass, a batch at a time: removed households and their erasure, settled
		// deliveries' claims. (Its walk of the deliveries is by id range, a batch per transaction,
		// and the age of replies and bounces is read once per pass over those small tables.)
		{"removed", `SELECT id FROM households WHERE removed_at > 0 AND removed_at < ? ORDER BY removed_at, id LIMIT ?`, []any{2000, 1000},
			"households_removed"},
		{"erase replies", `DELETE FROM inbound_messages WHERE phone = ? AND NOT EXISTS (SELECT 1 FROM households h
			WHERE ` + sqlstore.PhoneIs("+33600000003") + ` AND h.id <> ?)`, []any{"+33600000003", "+33600000003", 3}, "households_phone"},
		{"erase bounces", `DELETE FROM email_bounces WHERE recipient = ? AND NOT EXISTS (SELECT 1 FROM households h
			WHERE ` + emailIs("h3@example.org") + ` AND h.email = ? AND h.id <> ?)`,
			[]any{"h3@example.org", "h3@example.org", "h3@example.org", 3}, "households_email"},
		{"erase claims", `DELETE FROM contact_claims WHERE contact IN (?, ?) AND delivery_id IN (SELECT id FROM deliveries WHERE ` +
			ofHousehold("deliveries") + `)`, []any{"+33600000003", "h3@example.org", 3}, "contact_claims_delivery"},
		{"erase claims' deliveries", `DELETE FROM contact_claims WHERE contact IN (?, ?) AND delivery_id IN (SELECT id FROM deliveries WHERE ` +
			ofHousehold("deliveries") + `)`, []any{"+33600000003", "h3@example.org", 3}, ofHouseholdPlan},
		{"erase events", `UPDATE delivery_events SET detail = '' WHERE delivery_id IN (SELECT id FROM deliveries WHERE ` +
			ofHousehold("deliveries") + `)`, []any{3}, ofHouseholdPlan},
		{"erase pupils", `UPDATE pupils SET school = '', class = '' WHERE household_id = ?`, []any{3}, "pupils_household"},
		{"prune claims", `DELETE FROM contact_claims WHERE delivery_id IN (SELECT value FROM json_each(?))`, []any{"[1,2,3]"},
			"contact_claims_delivery"},
		{"prune events", `DELETE FROM delivery_events WHERE delivery_id IN (SELECT value FROM json_each(?))`, []any{"[1,2,3]"},
			"delivery_events_delivery"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "audience" {
				tc.query, tc.args = audienceQuery(relais.HouseholdFilter{Audience: &relais.Audience{Grades: []int{5, 6},
					Languages: []string{"fr"}, Regions: []string{"R1"}}}, relais.Page{Limit: 1000})
			}
			rows, err := db.read.QueryContext(ctx, "EXPLAIN QUERY PLAN "+tc.query, tc.args...)
			if err != nil {
				t.Fatalf("%s: %v", tc.query, err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			got := strings.Join(plan, "\n")
			if os.Getenv("PLANS") != "" {
				t.Logf("%s\n%s", tc.query, got)
			}
			// A page of a lesson's or a household's deliveries is read in id order from its index,
			// not sorted: the set sorted would be the whole lesson's at every page.
			inOrder := byLesson.MatchString(tc.query)
			if !strings.Contains(got, tc.want) || bigScan.MatchString(got) || idWalk.MatchString(got) ||
				inOrder && strings.Contains(got, "TEMP B-TREE FOR ORDER BY") {
				t.Errorf("plan of\n%s\n=\n%s\nwant %s, no whole table", tc.query, got, tc.want)
			}
		})
	}
}

// BenchmarkHotStatements times statements of hot paths that read a whole table before migration
// 00023 and the statements that replaced them, on one database of 100,000 households, 2,000 lessons
// and 1,000,000 deliveries (5 lessons, SMS and email; 1% of the last lesson's in flight: a household's
// deliveries are probed for each of the 2,000 lessons), first with the schema before 00023
// (its Down) and the statements of then, then with 00023 applied.
//
//	go test ./store/sqlite -run '^$' -bench HotStatements -benchtime 20x
func BenchmarkHotStatements(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "relais.db")
	db, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5)
			INSERT INTO lessons (title, subject, grade, language, teacher_id, status, created_at, updated_at)
			SELECT 'L' || i, 'maths', 5, 'fr', 't1', 'published', 0, 0 FROM n`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
			INSERT INTO households (external_ref, language, profile, phone, email, created_at)
			SELECT 'h' || i, 'fr', 'sms_only', '+336' || printf('%08d', i), 'h' || i || '@example.org', 0 FROM n`,
		`INSERT INTO deliveries (lesson_id, household_id, channel, status, provider_id, created_at, updated_at)
			SELECT l.id, h.id, c.c, CASE WHEN l.id = 5 AND h.id % 100 = 0 THEN 'sent' WHEN h.id % 10 = 0 THEN 'failed' ELSE 'delivered' END,
			'SM' || l.id || '-' || h.id, 1000 * l.id, 1000 * l.id + h.id % 100
			FROM lessons l, households h, (SELECT 'sms' AS c UNION ALL SELECT 'email') c ORDER BY l.id, h.id, c.c`,
		`INSERT INTO contact_claims (lesson_id, channel, contact, delivery_id) SELECT lesson_id, channel, 'c' || id, id FROM deliveries`,
		// Lessons without deliveries, which a household's deliveries are probed for too.
		`WITH RECURSIVE n(i) AS (SELECT 6 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
			INSERT INTO lessons (title, subject, grade, language, teacher_id, status, created_at, updated_at)
			SELECT 'L' || i, 'maths', 5, 'fr', 't1', 'draft', 0, 0 FROM n`,
	} {
		if _, err := db.write.ExecContext(ctx, q); err != nil {
			b.Fatalf("%.80s: %v", q, err)
		}
	}
	sub, _ := fs.Sub(migrations, "migrations")
	p, err := goose.NewProvider(goose.DialectSQLite3, db.write, sub)
	if err != nil {
		b.Fatal(err)
	}
	var batch []int64
	for id := int64(500_001); id <= 501_000; id++ {
		batch = append(batch, id)
	}
	ids, _ := json.Marshal(batch)
	type statement struct {
		name, before, after string
		args                []any
	}
	statements := []statement{
		{"households-by-phone", `SELECT h.id FROM households h WHERE h.phone = ? ORDER BY h.id`,
			`SELECT h.id FROM households h WHERE ` + sqlstore.PhoneIs("+33600050000") + ` ORDER BY h.id`, []any{"+33600050000"}},
		{"households-by-email", `SELECT h.id FROM households h WHERE h.email = ? COLLATE NOCASE`,
			`SELECT h.id FROM households h WHERE ` + emailIs("H50000@example.org"), []any{"H50000@example.org"}},
		{"status-check", `SELECT id FROM deliveries WHERE id > ? AND channel = ? AND status = ? AND updated_at < ? AND updated_at > ?
			ORDER BY id LIMIT 100`, `SELECT id FROM deliveries WHERE id > ? AND channel = ? AND status = ? AND ` + sqlstore.InFlight + `
			AND updated_at < ? AND updated_at > ? ORDER BY id LIMIT 100`, []any{0, "sms", "sent", 10000, 0}},
		{"household-deliveries", `SELECT id FROM deliveries WHERE household_id = ? ORDER BY id`,
			`SELECT id FROM deliveries WHERE ` + ofHousehold("deliveries") + ` ORDER BY id`, []any{50000}},
		{"claims-of-batch", `SELECT COUNT(*) FROM contact_claims WHERE delivery_id IN (SELECT value FROM json_each(?))`,
			`SELECT COUNT(*) FROM contact_claims WHERE delivery_id IN (SELECT value FROM json_each(?))`, []any{string(ids)}},
	}
	// The last page of a lesson's deliveries: lesson 3's last 500 after its cursor.
	var last int64
	db.read.QueryRowContext(ctx, `SELECT MAX(id) - 500 FROM deliveries WHERE lesson_id = 3`).Scan(&last)
	lessonPage := statement{"lesson-last-page", `SELECT id FROM deliveries WHERE id > ? AND lesson_id = ? ORDER BY id LIMIT 1000`,
		`SELECT id FROM deliveries WHERE lesson_id = ? AND id > ? ORDER BY id LIMIT 1000`, nil}

	found := map[string]int{} // rows read by each statement before, which it must read after too
	run := func(b *testing.B, q string, args ...any) {
		name, _, _ := strings.Cut(b.Name(), "/before")
		name, _, _ = strings.Cut(name, "/after")
		for b.Loop() {
			rows, err := db.read.QueryContext(ctx, q, args...)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			rows.Close()
			if want, ok := found[name]; n == 0 || ok && n != want {
				b.Fatalf("%d rows from %s, want %d (and some)", n, q, want)
			}
			found[name] = n
		}
	}
	for _, stage := range []string{"before", "after"} {
		if stage == "before" {
			if _, err := p.DownTo(ctx, 21); err != nil {
				b.Fatal(err)
			}
		} else {
			start := time.Now()
			if _, err := p.UpTo(ctx, 23); err != nil {
				b.Fatal(err)
			}
			b.Logf("migration 00023 on 1,000,000 deliveries: %s", time.Since(start).Round(time.Millisecond))
		}
		for _, st := range statements {
			q := st.after
			if stage == "before" {
				q = st.before
			}
			b.Run(st.name+"/"+stage, func(b *testing.B) { run(b, q, st.args...) })
		}
		if stage == "before" {
			b.Run(lessonPage.name+"/before", func(b *testing.B) { run(b, lessonPage.before, last, 3) })
		} else {
			b.Run(lessonPage.name+"/after", func(b *testing.B) { run(b, lessonPage.after, 3, last) })
		}
	}
}
