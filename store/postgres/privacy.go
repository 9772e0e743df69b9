package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/relais-edu/relais/store/internal/sqlstore"
)

// RemoveSettled locks a batch's settled deliveries (one being changed now is left for the next
// pass), then records them as a change of the lessons' counts, so that the counting trigger's
// subtraction on delete leaves the counts as they were (sqlstore.Engine.RemoveSettled).
func (engine) RemoveSettled(ctx context.Context, tx sqlstore.Querier, ids []int64) error {
	for _, q := range []string{
		`INSERT INTO delivery_count_changes (lesson_id, channel, status, reason, n)
			SELECT lesson_id, channel, status, CASE WHEN status IN ('failed', 'undelivered') THEN reason ELSE '' END, count(*)
			FROM deliveries WHERE id = ANY($1) GROUP BY 1, 2, 3, 4`,
		`DELETE FROM delivery_events WHERE delivery_id = ANY($1)`,
		`DELETE FROM contact_claims WHERE delivery_id = ANY($1)`,
		`DELETE FROM postal_batch_deliveries WHERE delivery_id = ANY($1)`,
		`DELETE FROM deliveries WHERE id = ANY($1)`,
	} {
		if _, err := tx.Exec(ctx, q, ids); err != nil {
			return err
		}
	}
	return nil
}

// MarkRemoved marks the households a full import did not list (relais.PrivacyStore).
func (db *DB) MarkRemoved(ctx context.Context, listed []string, now time.Time) (int64, error) {
	if listed == nil {
		listed = []string{}
	}
	var n int64
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		// NOT IN over a subquery is hashed: a roster of 200,000 references is not compared row by row.
		if _, err := tx.Exec(ctx, `UPDATE households SET removed_at = NULL
			WHERE removed_at IS NOT NULL AND external_ref IN (SELECT unnest($1::text[]))`, listed); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE households SET removed_at = $2
			WHERE removed_at IS NULL AND external_ref <> 'erased-' || id AND external_ref NOT IN (SELECT unnest($1::text[]))`, listed, ts(now))
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("mark households removed from the roster: %w", err)
	}
	return n, nil
}
