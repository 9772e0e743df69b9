package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	relais "github.com/relais-edu/relais"
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
	checkPlans(t, conn, "fresh", lookups)
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE`); err != nil { // as autovacuum leaves a table: statistics and a visibility map
		t.Fatal(err)
	}
	checkPlans(t, conn, "analysed", []planCase{
		{`SELECT (minute - $1) / $2 AS bucket, channel, status, sum(changes), sum(opted_out) FROM delivery_minutes
			WHERE minute >= $1 AND minute < $3 AND lesson_id = $4 GROUP BY 1, 2, 3`, `(0, 60, 100, 1)`, "delivery_minutes_pkey"},
		{`SELECT channel, status, reason, count(*) FROM deliveries WHERE status IN ('failed', 'undelivered')
			AND updated_at >= $1 AND updated_at < $2 GROUP BY 1, 2, 3`, `(now(), now())`, "deliveries_failed"},
		{`SELECT min(created_at) FROM deliveries WHERE lesson_id = $1`, `(1)`, "deliveries_lesson_created"},
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
	})
}

type planCase struct{ query, args, want string }

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
		if got := strings.Join(plan, "\n"); !strings.Contains(got, tc.want) || strings.Contains(got, "Seq Scan on") {
			t.Errorf("%s plan of\n%s\n=\n%s\nwant %s", stage, tc.query, got, tc.want)
		}
	}
}
