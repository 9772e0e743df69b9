package postgres

import (
	"context"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/internal/benchdata"
)

// FillBenchDeliveries adds households from..from+n/2-1 (ids 10^9 on) and their SMS and email
// deliveries of lessonID in SQL, statuses mixed as a lesson's after its sends, in transactions of
// 500,000 rows: the rows of storetest.BenchmarkDeliveryCounts, written through the counting triggers.
func (db *DB) FillBenchDeliveries(ctx context.Context, lessonID int64, from, n int) error {
	return benchdata.Postgres(ctx, db.pool, lessonID, from, n)
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
