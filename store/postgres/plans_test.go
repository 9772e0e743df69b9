package postgres_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/store/internal/sqlstore"
	"github.com/relais-edu/relais/store/postgres"
)

// TestQueriesUseIndexes checks the generic plans (those a prepared statement ends up with, parameters
// unknown) of the queries that must stay fast at national scale: each finds its index, partial indexes
// included (their condition is repeated in the query). The tables hold a few thousand analysed rows
// (fewer than ANALYZE samples, so that the statistics and the plans do not vary from run to run),
// and sequential scans are disabled so that small tables do not hide a missing index.
func TestQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	conn, err := pgx.Connect(ctx, db.Pool().Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		`INSERT INTO lessons (title, subject, grade, language, teacher_id, status, created_at, updated_at)
			SELECT 'L' || i, 'maths', 5, 'fr', 't1', 'published', now(), now() FROM generate_series(1, 20) i`,
		`INSERT INTO households (external_ref, language, profile, phone, email, created_at)
			SELECT 'h' || i, (ARRAY['fr', 'kk', 'ru'])[i % 3 + 1], 'sms_only', '+336' || lpad(i::text, 8, '0'), 'h' || i || '@example.org', now()
			FROM generate_series(1, 5000) i`,
		`INSERT INTO pupils (household_id, grade, language, school, class)
			SELECT id, id % 12 + 1, language, 'S' || id % 50, 'S' || id % 50 || '-' || id % 12 FROM households`,
		`INSERT INTO deliveries (lesson_id, household_id, channel, status, provider_id, created_at, updated_at)
			SELECT l.id, h.id, c, CASE WHEN h.id % 10 = 0 THEN 'failed' ELSE 'pending' END, 'SM' || l.id || '-' || h.id, now(), now()
			FROM lessons l, households h, (VALUES ('sms'), ('email')) ch(c) WHERE l.id <= 2`,
		`INSERT INTO contact_claims (lesson_id, channel, contact, delivery_id) SELECT lesson_id, channel, 'c' || id, id FROM deliveries`,
		`INSERT INTO delivery_events (delivery_id, status, detail, at) SELECT id, status, '', now() FROM deliveries`,
		// Smaller lessons, with deliveries in flight, claimed and reserved.
		`INSERT INTO deliveries (lesson_id, household_id, channel, status, claimed_by, claimed_at, created_at, updated_at)
			SELECT l.id, h.id, 'sms', (ARRAY['queued', 'sent', 'claimed', 'pending'])[h.id % 4 + 1], 'a' || h.id % 10, now(), now(), now()
			FROM lessons l, households h WHERE l.id > 2 AND h.id <= 200`,
		`UPDATE households SET removed_at = now() WHERE id % 100 = 0`,
		`INSERT INTO inbound_messages (phone, body, received_at) SELECT phone, 'STOP', now() FROM households WHERE id % 3 = 0`,
		`INSERT INTO email_bounces (recipient, action, status, hard, at) SELECT email, 'failed', '5.1.1', true, now() FROM households WHERE id % 3 = 0`,
		`SET enable_seqscan = off`, `SET plan_cache_mode = force_generic_plan`} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	// A fan-out's key lookups, before any statistics: the first national fan-out of a new installation
	// fills a table the planner still believes empty, and must not scan a lesson per key meanwhile.
	lookups := []planCase{
		{`SELECT d.id FROM unnest($1::bigint[], $2::bigint[], $3::text[]) WITH ORDINALITY AS u(l, h, c, n) ` + postgres.ByKey + `
			WHERE d.status = 'pending' ORDER BY u.n`, `('{1}', '{1}', '{sms}')`, "deliveries_lesson_id_household_id_channel_key"},
		{`SELECT u.d, cc.delivery_id FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY AS u(l, c, ct, d, n)
			CROSS JOIN LATERAL (SELECT delivery_id FROM contact_claims WHERE lesson_id = u.l AND channel = u.c AND contact = u.ct LIMIT 1) cc
			ORDER BY u.n`, `('{1}', '{sms}', '{x}', '{1}')`, "contact_claims_pkey"},
		{`SELECT id, status, reason, provider_id FROM deliveries WHERE id = ANY($1) ORDER BY id FOR UPDATE`, `('{1,2}')`, "deliveries_pkey"},
		{`UPDATE deliveries d SET status = u.s FROM unnest($1::bigint[], $2::text[]) AS u(id, s) WHERE d.id = u.id`,
			`('{1,2}', '{queued,queued}')`, "deliveries_pkey"},
		{`UPDATE deliveries SET attempts = attempts + 1 WHERE id = ANY($1)`, `('{1,2}')`, "deliveries_pkey"},
		{`UPDATE deliveries d SET status = 'pending', occurrence = u.o FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[]) AS u(l, h, c, o)
			WHERE d.lesson_id = u.l AND d.household_id = u.h AND d.channel = u.c AND d.occurrence < u.o AND d.status <> 'pending'`,
			`('{1}', '{1}', '{reminder}', '{1}')`, "deliveries_lesson_id_household_id_channel_key"},
		{`SELECT h.id FROM households h WHERE h.id = ANY($1)`, `('{1,2}')`, "households_pkey"},
		// A send attempt's heartbeat and its end find its page by id (no index holds claimed_by).
		{`UPDATE deliveries SET claimed_at = now() WHERE claimed_by = $1 AND status IN ('claimed', 'pending') AND id = ANY($2)`,
			`('a', '{1,2}')`, "deliveries_pkey"},
		{`UPDATE deliveries SET claimed_by = '' WHERE claimed_by = $1 AND status = 'pending' AND id = ANY($2)`, `('a', '{1,2}')`, "deliveries_pkey"},
	}
	checkPlans(t, conn, "fresh", append(lookups, sendPath...))
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE`); err != nil { // as autovacuum leaves a table: statistics and a visibility map
		t.Fatal(err)
	}
	checkPlans(t, conn, "analysed", append([]planCase{
		{`SELECT (minute - $1) / $2 AS bucket, channel, status, sum(changes), sum(opted_out) FROM delivery_minutes
			WHERE minute >= $1 AND minute < $3 AND lesson_id = $4 GROUP BY 1, 2, 3`, `(0, 60, 100, 1)`, "delivery_minutes_pkey"},
		{`SELECT channel, status, reason, count(*) FROM deliveries WHERE status IN ('failed', 'undelivered')
			AND updated_at >= $1 AND updated_at < $2 GROUP BY 1, 2, 3`, `(now(), now())`, "deliveries_failed"},
		{`SELECT (SELECT created_at FROM deliveries WHERE lesson_id = $1 AND (lesson_id, id) > ($1, $2) ORDER BY id LIMIT 1)`, `(1, 0)`,
			"deliveries_lesson on"},
		// A delivery's history: its row's implied first event by its key, its events by theirs.
		{`SELECT delivery_id, status, detail, at FROM ` + postgres.DeliveryEvents + ` WHERE delivery_id = $1 ORDER BY id`, `(1)`,
			"delivery_events_delivery"},
		{`SELECT delivery_id, status, detail, at FROM ` + postgres.DeliveryEvents + ` WHERE delivery_id = $1 ORDER BY id`, `(1)`,
			"deliveries_pkey"},
		{`SELECT channel, status, reason, count(*) AS n FROM deliveries WHERE status IN ('failed', 'undelivered') AND lesson_id = $1
			GROUP BY channel, status, reason`, `(1)`, "deliveries_lesson_status"},
		{`SELECT d.id FROM deliveries d WHERE d.channel = $1 AND d.provider_id = $2 AND d.lesson_id = $3 AND d.status = $4
			AND NOT EXISTS (SELECT 1 FROM postal_batch_deliveries p WHERE p.delivery_id = d.id) ORDER BY d.id LIMIT $5`,
			`('postal', 'batch:IDF:lesson-1', 1, 'queued', 100)`, "deliveries_lesson_status"},
		audienceCase(relais.HouseholdFilter{Audience: &relais.Audience{Grades: []int{5}, Languages: []string{"fr"}}}),
		audienceCase(relais.HouseholdFilter{Audience: &relais.Audience{Grades: []int{5, 6}, Languages: []string{"fr", "kk"},
			Regions: []string{"IDF"}, Classes: []string{"S1-5"}}}),
		audienceCase(relais.HouseholdFilter{Audience: &relais.Audience{Grades: []int{5}, Languages: []string{"fr"}}, Region: "IDF"}),
		{`DELETE FROM pupils WHERE household_id = ANY($1)`, `('{1,2}')`, "pupils_household"},
		{`SELECT h.id FROM households h WHERE h.phone = $1 AND h.phone <> ''`, `('+33612345678')`, "households_phone"},
		{`SELECT h.id FROM households h WHERE lower(h.email) = lower($1) AND h.email <> ''`, `('a@example.org')`, "households_email"},
		{`SELECT id FROM deliveries WHERE channel = $1 AND provider_id = $2 AND provider_id <> ''`, `('sms', 'SM1')`, "deliveries_provider"},
		{`SELECT d.id FROM unnest($1::bigint[], $2::bigint[], $3::text[]) WITH ORDINALITY AS u(l, h, c, n) ` + postgres.ByKey + `
			WHERE d.status = 'pending' ORDER BY u.n`, `('{1}', '{1}', '{sms}')`, "deliveries_lesson_id_household_id_channel_key"},
		{`SELECT u.d, cc.delivery_id FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY AS u(l, c, ct, d, n)
			CROSS JOIN LATERAL (SELECT delivery_id FROM contact_claims WHERE lesson_id = u.l AND channel = u.c AND contact = u.ct LIMIT 1) cc
			ORDER BY u.n`, `('{1}', '{sms}', '{x}', '{1}')`, "contact_claims_pkey"},
		{`SELECT delivery_id FROM postal_batch_deliveries WHERE batch_id = $1 AND delivery_id > $2 ORDER BY delivery_id LIMIT $3`, `(1, 0, 50)`,
			"postal_batch_deliveries_batch"},
		// A sweep: stale reservations and claims on their partial indexes (the status written in the
		// query: a bound one read the whole of deliveries_lesson_status), the deliveries left in flight.
		{`UPDATE deliveries SET claimed_by = $1, claimed_at = $2 WHERE id IN (
			SELECT id FROM deliveries WHERE status = 'pending' AND channel = $3 AND claimed_by <> '' AND claimed_at < $4 ORDER BY claimed_at
			LIMIT $5 FOR UPDATE SKIP LOCKED) AND status = 'pending' AND claimed_by <> '' AND claimed_at < $4 RETURNING id`,
			`('b', now(), 'sms', now(), 10)`, "deliveries_reserved"},
		{`UPDATE deliveries d SET claimed_by = $1, claimed_at = $2
			FROM (SELECT id, claimed_by AS held_by FROM deliveries WHERE status = 'claimed' AND channel = $3 AND claimed_at < $4
				ORDER BY claimed_at LIMIT $5 FOR UPDATE SKIP LOCKED) o
			WHERE d.id = o.id AND d.status = 'claimed' AND d.claimed_at < $4 RETURNING d.id`, `('b', now(), 'sms', now(), 10)`, "deliveries_claimed"},
		{`SELECT id FROM deliveries WHERE id > $1 AND channel = $2 AND status = $3 AND ` + sqlstore.InFlight + `
			AND updated_at < $4 AND updated_at > $5 ORDER BY id LIMIT $6`, `(0, 'sms', 'sent', now(), now(), 100)`, "deliveries_in_flight"},
		// A callback about a number or an address.
		{`UPDATE households AS h SET phone_status = $2 WHERE ` + sqlstore.Rebind(postgres.PhoneIs("+33600000003")), `('+33600000003', 'invalid')`,
			"households_phone"},
		{`UPDATE households AS h SET email_status = $2 WHERE ` + sqlstore.Rebind(postgres.EmailIs("h3@example.org")),
			`('h3@example.org', 'bounced')`, "households_email"},
		// A teacher's listing of a lesson's deliveries, a lesson's export or re-sending, a page at a time.
		{`SELECT id FROM deliveries WHERE lesson_id = $2 AND (lesson_id, id) > ($2, $1) ORDER BY id LIMIT $3`, `(0, 1, 1000)`, "deliveries_lesson"},
		{`SELECT id FROM deliveries WHERE lesson_id = $2 AND (lesson_id, id) > ($2, $1) AND status = $3 ORDER BY id LIMIT $4`, `(0, 1, 'pending', 1000)`,
			"deliveries_lesson"},
		// Staff pages: a search of households, a household's deliveries.
		{`SELECT h.id FROM households h WHERE h.id > $1 AND h.id IN (SELECT id FROM households WHERE external_ref = $2
			UNION SELECT id FROM households WHERE phone = $2 AND phone <> ''
			UNION SELECT id FROM households WHERE lower(email) = lower($2) AND email = $2 AND email <> '') ORDER BY h.id LIMIT $3`,
			`(0, 'h3', 50)`, "households_email"},
		{`SELECT id FROM deliveries WHERE +id > $1 AND ` + ofHousehold("deliveries", 2) + ` ORDER BY id LIMIT $3`, `(0, 1, 50)`, byHousehold},
		// A family's access request: its deliveries, their events, its replies and bounces.
		{`SELECT d.id, d.lesson_id, COALESCE(l.title, ''), d.channel, d.status FROM deliveries d LEFT JOIN lessons l ON l.id = d.lesson_id
			WHERE ` + ofHousehold("d", 1) + ` ORDER BY d.id`, `(1)`, byHousehold},
		{`SELECT body, received_at FROM inbound_messages WHERE phone = $1 ORDER BY id`, `('+33600000003')`, "inbound_messages_phone"},
		{`SELECT action, status, hard, diagnostic, at FROM email_bounces WHERE recipient = $1 ORDER BY id`, `('h3@example.org')`,
			"email_bounces_recipient_message_id_action_status_key"},
		// The retention pass, a batch at a time: removed households and their erasure, the claims of
		// settled deliveries. (Its walk of the deliveries is by id range, a batch per transaction, and
		// the age of replies and bounces is read once per pass over those small tables.)
		{`SELECT id FROM households WHERE removed_at IS NOT NULL AND removed_at < $1 ORDER BY removed_at, id LIMIT $2`, `(now(), 1000)`,
			"households_removed"},
		{`DELETE FROM inbound_messages WHERE phone = $1 AND NOT EXISTS (SELECT 1 FROM households h
			WHERE ` + strings.ReplaceAll(postgres.PhoneIs("+33600000003"), "?", "$1") + ` AND h.id <> $2)`, `('+33600000003', 3)`,
			"households_phone"},
		{`DELETE FROM email_bounces WHERE recipient = $1 AND NOT EXISTS (SELECT 1 FROM households h
			WHERE ` + strings.ReplaceAll(postgres.EmailIs("h3@example.org"), "?", "$1") + ` AND h.email = $1 AND h.id <> $2)`,
			`('h3@example.org', 3)`, "households_email"},
		{`DELETE FROM contact_claims WHERE contact IN ($1, $2) AND delivery_id IN (SELECT id FROM deliveries WHERE ` +
			ofHousehold("deliveries", 3) + `)`, `('+33600000003', 'h3@example.org', 3)`, "contact_claims_delivery"},
		{`DELETE FROM contact_claims WHERE contact IN ($1, $2) AND delivery_id IN (SELECT id FROM deliveries WHERE ` +
			ofHousehold("deliveries", 3) + `)`, `('+33600000003', 'h3@example.org', 3)`, byHousehold},
		{`UPDATE delivery_events SET detail = '' WHERE delivery_id IN (SELECT id FROM deliveries WHERE ` + ofHousehold("deliveries", 1) + `)`,
			`(3)`, byHousehold},
		{`DELETE FROM contact_claims WHERE delivery_id = ANY($1)`, `('{1,2,3}')`, "contact_claims_delivery"},
	}, sendPath...))
}

type planCase struct{ query, args, want string }

// byHousehold is the want of a plan that reads a household's deliveries: byHouseholdStep.
const byHousehold = "a household's deliveries on the unique key"

// byHouseholdStep is the plan step of a household's deliveries: the unique key probed a lesson at a
// time, the lessons' ids read once (a condition on household_id alone would read the whole key).
var byHouseholdStep = regexp.MustCompile(`Index (Only )?Scan using deliveries_lesson_id_household_id_channel_key on deliveries[^\n]*\n` +
	`\s*Index Cond: \(\(lesson_id = ANY \(\$\d+\)\) AND \(household_id = \$\d+\)\)`)

// ofHousehold is the store's condition on a delivery's household (d, its table or alias), the
// household bound to $n.
func ofHousehold(d string, n int) string {
	return strings.ReplaceAll(postgres.OfHousehold(d), "?", fmt.Sprintf("$%d", n))
}

// sendPath are statements of a send task as the store words them, the statuses bound: each reads
// its page by id alone. (On tables without statistics, a generic plan could AND the ids with a
// whole scan of deliveries_lesson_status for the bound status, which checkPlans refuses.)
var sendPath = []planCase{
	{`UPDATE deliveries d SET status = $1, claimed_by = c.attempt, claimed_at = c.at, updated_at = c.at
		FROM unnest($2::bigint[], $3::text[], $4::timestamptz[], $5::int[]) AS c(id, attempt, at, step)
		WHERE d.id = c.id AND d.status = $6 RETURNING d.id, c.step`,
		`('claimed', '{1,2}', '{a,a}', '{2020-01-01,2020-01-01}', '{1,1}', 'pending')`, "deliveries_pkey"},
	{`UPDATE deliveries SET claimed_at = $1 WHERE claimed_by = $2 AND status IN ($3, $4) AND id = ANY($5)`,
		`(now(), 'a', 'claimed', 'pending', '{1,2}')`, "deliveries_pkey"},
	{`UPDATE deliveries SET claimed_by = '' WHERE claimed_by = $1 AND status = $2 AND id = ANY($3)`, `('a', 'pending', '{1,2}')`,
		"deliveries_pkey"},
	{`UPDATE deliveries SET claimed_by = $1, claimed_at = $2 WHERE status = $3 AND id = ANY($4)`, `('a', now(), 'pending', '{1,2}')`,
		"deliveries_pkey"},
	{`UPDATE deliveries SET status = $1, updated_at = $2 WHERE status = $3 AND claimed_by = $4 AND id = ANY($5) RETURNING id`,
		`('pending', now(), 'claimed', 'a', '{1,2}')`, "deliveries_pkey"},
}

// audienceCase is the plan of the store's audience query for f (a page of 1000 after household 0).
func audienceCase(f relais.HouseholdFilter) planCase {
	q, args := postgres.AudienceQuery(f, relais.Page{Limit: 1000})
	var vals []string
	for _, a := range args {
		switch v := a.(type) {
		case string:
			vals = append(vals, "'"+v+"'")
		case []string:
			vals = append(vals, "'{"+strings.Join(v, ",")+"}'")
		default:
			vals = append(vals, fmt.Sprint(v))
		}
	}
	return planCase{q, "(" + strings.Join(vals, ", ") + ")", "pupils_audience"}
}

// checkPlans checks that each query's generic plan uses its index and scans no table whole.
func checkPlans(t *testing.T, conn *pgx.Conn, stage string, cases []planCase) {
	t.Helper()
	ctx := context.Background()
	for i, tc := range cases {
		name := fmt.Sprintf("%s_%d", stage, i)
		if _, err := conn.Exec(ctx, `PREPARE `+name+` AS `+tc.query); err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		rows, err := conn.Query(ctx, `EXPLAIN EXECUTE `+name+tc.args)
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		rows.Close()
		if os.Getenv("PLANS") != "" {
			t.Log(strings.Join(plan, "\n"))
		}
		got := strings.Join(plan, "\n")
		// A statement by id must not also read an index of the whole table for its other conditions.
		byIDAlone := tc.want == "deliveries_pkey" && strings.Contains(got, "deliveries_lesson_status")
		found := strings.Contains(got, tc.want) || tc.want == byHousehold && byHouseholdStep.MatchString(got)
		if !found || strings.Contains(got, "Seq Scan on") || byIDAlone {
			t.Errorf("%s plan of\n%s\n=\n%s\nwant %s", stage, tc.query, got, tc.want)
		}
	}
}

// BenchmarkHotStatements times, with the generic plans that pgx's cached statements end up with,
// statements of hot paths that read a whole table or index before migration 00019 and the
// statements that replaced them, on one database of 100,000 households, 2,000 lessons and 1,000,000
// deliveries (5 lessons, SMS and email; 1% of the last lesson's in flight, reserved or claimed: a
// household's deliveries are probed for each of the 2,000 lessons): first with the
// schema of migration 00017 and the statements of then, then with 00019 applied.
//
//	go test ./store/postgres -run '^$' -bench HotStatements -benchtime 20x
func BenchmarkHotStatements(b *testing.B) {
	ctx := context.Background()
	url := testenv.Postgres(b)
	if err := postgres.MigrateTo(ctx, url, 17); err != nil {
		b.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		`INSERT INTO lessons (title, subject, grade, language, teacher_id, status, created_at, updated_at)
			SELECT 'L' || i, 'maths', 5, 'fr', 't1', 'published', now(), now() FROM generate_series(1, 5) i`,
		`INSERT INTO households (external_ref, language, profile, phone, email, created_at)
			SELECT 'h' || i, 'fr', 'sms_only', '+336' || lpad(i::text, 8, '0'), 'h' || i || '@example.org', now()
			FROM generate_series(1, 100000) i`,
		`INSERT INTO deliveries (lesson_id, household_id, channel, status, provider_id, claimed_by, claimed_at, created_at, updated_at)
			SELECT l.id, h.id, c, CASE WHEN l.id = 5 AND h.id % 100 = 0 THEN (ARRAY['sent', 'pending', 'claimed'])[h.id / 100 % 3 + 1]
				WHEN h.id % 10 = 0 THEN 'failed' ELSE 'delivered' END, 'SM' || l.id || '-' || h.id,
			CASE WHEN l.id = 5 AND h.id % 100 = 0 THEN 'a' ELSE '' END, 'epoch'::timestamptz + h.id % 100 * interval '1 s',
			'epoch'::timestamptz + l.id * interval '1 h', 'epoch'::timestamptz + l.id * interval '1 h' + h.id % 100 * interval '1 s'
			FROM lessons l, households h, (VALUES ('sms'), ('email')) ch(c) ORDER BY l.id, h.id, c`,
		`INSERT INTO contact_claims (lesson_id, channel, contact, delivery_id) SELECT lesson_id, channel, 'c' || id, id FROM deliveries`,
		// Lessons without deliveries, which a household's deliveries are probed for too.
		`INSERT INTO lessons (title, subject, grade, language, teacher_id, status, created_at, updated_at)
			SELECT 'L' || i, 'maths', 5, 'fr', 't1', 'draft', now(), now() FROM generate_series(6, 2000) i`,
		`VACUUM ANALYZE`,
		`SET plan_cache_mode = force_generic_plan`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			b.Fatalf("%.80s: %v", q, err)
		}
	}
	var last int64 // the cursor of the last page of lesson 3
	if err := conn.QueryRow(ctx, `SELECT max(id) - 500 FROM deliveries WHERE lesson_id = 3`).Scan(&last); err != nil {
		b.Fatal(err)
	}
	batch := make([]int64, 1000)
	for i := range batch {
		batch[i] = 500_001 + int64(i)
	}
	epoch := time.Unix(0, 0)
	type statement struct {
		name, before, after string
		beforeArgs, args    []any
	}
	statements := []statement{
		// Every sweep, each channel.
		{"reclaim-reserved", `SELECT id FROM deliveries WHERE status = $1 AND channel = $2 AND claimed_by <> '' AND claimed_at < $3
			ORDER BY claimed_at LIMIT $4`, `SELECT id FROM deliveries WHERE status = 'pending' AND channel = $1 AND claimed_by <> ''
			AND claimed_at < $2 ORDER BY claimed_at LIMIT $3`, []any{"pending", "sms", epoch.Add(time.Hour), 100}, []any{"sms", epoch.Add(time.Hour), 100}},
		{"reclaim-claimed", `SELECT id FROM deliveries WHERE status = $1 AND channel = $2 AND claimed_at < $3 ORDER BY claimed_at LIMIT $4`,
			`SELECT id FROM deliveries WHERE status = 'claimed' AND channel = $1 AND claimed_at < $2 ORDER BY claimed_at LIMIT $3`,
			[]any{"claimed", "sms", epoch.Add(time.Hour), 100}, []any{"sms", epoch.Add(time.Hour), 100}},
		{"status-check", `SELECT id FROM deliveries WHERE id > $1 AND channel = $2 AND status = $3 AND updated_at < $4 AND updated_at > $5
			ORDER BY id LIMIT 100`, `SELECT id FROM deliveries WHERE id > $1 AND channel = $2 AND status = $3 AND ` + sqlstore.InFlight + `
			AND updated_at < $4 AND updated_at > $5 ORDER BY id LIMIT 100`,
			[]any{0, "sms", "sent", epoch.Add(10 * time.Hour), epoch}, []any{0, "sms", "sent", epoch.Add(10 * time.Hour), epoch}},
		// A family's access request, its erasure, the API's listing by household.
		{"household-deliveries", `SELECT id FROM deliveries WHERE household_id = $1 ORDER BY id`,
			`SELECT id FROM deliveries WHERE ` + ofHousehold("deliveries", 1) + ` ORDER BY id`, []any{50000}, []any{50000}},
		// The last page of a lesson's deliveries (a teacher's listing, a lesson's export).
		{"lesson-last-page", `SELECT id FROM deliveries WHERE id > $1 AND lesson_id = $2 ORDER BY id LIMIT 1000`,
			`SELECT id FROM deliveries WHERE lesson_id = $1 AND (lesson_id, id) > ($1, $2) ORDER BY id LIMIT 1000`,
			[]any{last, 3}, []any{3, last}},
		// A retention batch's contact claims.
		{"claims-of-batch", `SELECT count(*) FROM contact_claims WHERE delivery_id = ANY($1)`,
			`SELECT count(*) FROM contact_claims WHERE delivery_id = ANY($1)`, []any{batch}, []any{batch}},
		// An erasure: another household with the address.
		{"erase-same-address", `SELECT count(*) FROM households WHERE email = $1 AND id <> $2`,
			`SELECT count(*) FROM households h WHERE ` + sqlstore.Rebind(postgres.EmailIs("h50000@example.org")+` AND h.email = ? AND h.id <> ?`),
			[]any{"h50000@example.org", 1}, []any{"h50000@example.org", "h50000@example.org", 1}},
	}
	found := map[string]int{} // rows read by each statement before, which it must read after too
	run := func(b *testing.B, name, q string, args []any) {
		for b.Loop() {
			rows, err := conn.Query(ctx, q, args...)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				b.Fatal(err)
			}
			if want, ok := found[name]; n == 0 || ok && n != want {
				b.Fatalf("%d rows from %s, want %d (and some)", n, q, want)
			}
			found[name] = n
		}
	}
	for _, st := range statements {
		b.Run(st.name+"/before", func(b *testing.B) { run(b, st.name, st.before, st.beforeArgs) })
	}
	start := time.Now()
	if err := postgres.MigrateTo(ctx, url, 19); err != nil {
		b.Fatal(err)
	}
	b.Logf("migrations 00018-00019 on 1,000,000 deliveries: %s", time.Since(start).Round(time.Millisecond))
	if _, err := conn.Exec(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	for _, st := range statements {
		b.Run(st.name+"/after", func(b *testing.B) { run(b, st.name, st.after, st.args) })
	}
}
