package postgres

import (
	"context"
	"fmt"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/internal/sqlstore"
)

// KeptFailures reads the failures the kept counts hold (Engine.KeptFailures, migration 00006) with
// the changes not yet folded into them.
func (e engine) KeptFailures(ctx context.Context, lessonID int64, limit int) ([]relais.FailureCount, error) {
	if err := e.db.foldCountChanges(ctx); err != nil {
		return nil, fmt.Errorf("fold delivery count changes: %w", err)
	}
	where, args := `status IN ('failed', 'undelivered')`, []any{limit}
	if lessonID > 0 {
		where += ` AND lesson_id = $2`
		args = append(args, lessonID)
	}
	return queryAll(ctx, e.db.pool, sqlstore.ScanFailureCount, `SELECT channel, status, reason, sum(n)::bigint FROM (
			SELECT channel, status, reason, n FROM delivery_counts WHERE `+where+`
			UNION ALL SELECT channel, status, reason, n FROM delivery_count_changes WHERE `+where+`) c
		GROUP BY channel, status, reason HAVING sum(n) <> 0
		ORDER BY 4 DESC, channel, status, reason LIMIT $1`, args...)
}
