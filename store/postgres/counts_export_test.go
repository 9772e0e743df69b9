package postgres

import (
	"context"

	relais "github.com/relais-edu/relais"
)

// FillBenchDeliveries adds households from..from+n/2-1 (ids 10^9 on) and their SMS and email
// deliveries of lessonID in SQL, statuses mixed as a lesson's after its sends, in transactions of
// 500,000 rows: the rows of storetest.BenchmarkDeliveryCounts, written through the counting triggers.
func (db *DB) FillBenchDeliveries(ctx context.Context, lessonID int64, from, n int) error {
	const chunk = 250_000 // households per transaction
	for lo := from; lo < from+n/2; lo += chunk {
		hi := min(lo+chunk, from+n/2) - 1
		tx, err := db.pool.Begin(ctx)
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
				'2025-01-01', '2025-01-01'
			FROM generate_series($1::bigint, $2::bigint) i, (VALUES ('sms'), ('email')) c (channel)`, lo, hi, lessonID); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
	}
	_, err := db.pool.Exec(ctx, `VACUUM ANALYZE deliveries`)
	return err
}

// ScanDeliveryCounts is DeliveryCounts as it was before the counts were kept: a count of the
// deliveries themselves, the baseline of storetest.BenchmarkDeliveryCounts.
func (db *DB) ScanDeliveryCounts(ctx context.Context, lessonID int64) ([]relais.DeliveryCount, error) {
	q, args := `SELECT channel, status, count(*) FROM deliveries WHERE lesson_id = $1`, []any{lessonID}
	if lessonID == 0 {
		q, args = `SELECT channel, status, count(*) FROM deliveries`, nil
	}
	return queryAll(ctx, db.pool, func(row rowScanner) (relais.DeliveryCount, error) {
		var c relais.DeliveryCount
		return c, row.Scan(&c.Channel, &c.Status, &c.Count)
	}, q+` GROUP BY channel, status ORDER BY channel, status`, args...)
}
