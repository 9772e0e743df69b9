package sqlite

import (
	"context"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/internal/sqlstore"
)

// KeptFailures reads the failures the kept counts hold (Engine.KeptFailures, migration 00011).
func (e engine) KeptFailures(ctx context.Context, lessonID int64, limit int) ([]relais.FailureCount, error) {
	w := sqlstore.Where{SQL: `SELECT channel, status, reason, SUM(n) AS total FROM delivery_counts
		WHERE status IN ('failed', 'undelivered')`}
	w.And(lessonID > 0, `lesson_id = ?`, lessonID)
	return queryAll(ctx, e.db.read, sqlstore.ScanFailureCount, w.SQL+` GROUP BY channel, status, reason HAVING total <> 0
		ORDER BY total DESC, channel, status, reason LIMIT ?`, append(w.Args, limit)...)
}
