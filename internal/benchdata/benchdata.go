// Package benchdata fills the deliveries table for the benchmarks in each engine's own SQL: millions
// of rows in seconds, written through the same counting triggers as the stores' own writes. The
// stores' benchmarks and the HTTP benchmarks of the dashboards share it.
package benchdata

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// chunk is how many households one transaction adds (two deliveries each).
const chunk = 250_000

// Postgres adds households from..from+n/2-1 (ids 10^9 on) and their SMS and email deliveries of
// lessonID, statuses mixed as a lesson's after its sends (90 % delivered, 5 % sent, 2 % failed, 3 %
// pending) and updated now, as on a national morning's dashboard; then analyses the table.
func Postgres(ctx context.Context, pool *pgxpool.Pool, lessonID int64, from, n int) error {
	for lo := from; lo < from+n/2; lo += chunk {
		hi := min(lo+chunk, from+n/2) - 1
		tx, err := pool.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, `INSERT INTO households (id, external_ref, language, profile, phone, email, consent, created_at)
			SELECT 1000000000 + i, 'bench-' || i, 'fr', 'mobile_data', '+33600000000', 'a@example.org', true, now()
			FROM generate_series($1::bigint, $2::bigint) i ON CONFLICT DO NOTHING`, lo, hi); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO deliveries (lesson_id, household_id, channel, status, created_at, updated_at)
			SELECT $3, 1000000000 + i, c.channel,
				CASE WHEN i % 100 < 90 THEN 'delivered' WHEN i % 100 < 95 THEN 'sent' WHEN i % 100 < 97 THEN 'failed' ELSE 'pending' END,
				now(), now()
			FROM generate_series($1::bigint, $2::bigint) i, (VALUES ('sms'), ('email')) c (channel)`, lo, hi, lessonID); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
	}
	_, err := pool.Exec(ctx, `VACUUM ANALYZE deliveries`)
	return err
}

// SQLite is Postgres on SQLite's writer connection.
func SQLite(ctx context.Context, db *sql.DB, lessonID int64, from, n int) error {
	for lo := from; lo < from+n/2; lo += chunk {
		hi := min(lo+chunk, from+n/2) - 1
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `WITH RECURSIVE s(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM s WHERE i < ?)
			INSERT INTO households (id, external_ref, language, profile, phone, email, consent, created_at)
			SELECT 1000000000 + i, 'bench-' || i, 'fr', 'mobile_data', '+33600000000', 'a@example.org', 1, 0 FROM s
			WHERE true ON CONFLICT DO NOTHING`, lo, hi); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `WITH RECURSIVE s(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM s WHERE i < ?)
			INSERT INTO deliveries (lesson_id, household_id, channel, status, created_at, updated_at)
			SELECT ?, 1000000000 + i, c.channel,
				CASE WHEN i % 100 < 90 THEN 'delivered' WHEN i % 100 < 95 THEN 'sent' WHEN i % 100 < 97 THEN 'failed' ELSE 'pending' END,
				CAST(unixepoch('subsec') * 1000 AS INTEGER), CAST(unixepoch('subsec') * 1000 AS INTEGER)
			FROM s, (SELECT 'sms' AS channel UNION ALL SELECT 'email') c`, lo, hi, lessonID); err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Sizes reads the comma-separated numbers of deliveries in the environment variable name (def when it
// is unset or empty).
func Sizes(name string, def ...int) ([]int, error) {
	s := os.Getenv(name)
	if s == "" {
		return def, nil
	}
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 {
			return nil, fmt.Errorf("%s: %q is not a number of deliveries", name, f)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}
