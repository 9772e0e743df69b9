package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/relais-edu/relais/store/internal/sqlstore"
)

// RemoveSettled first adds a batch's deliveries to the lessons' counts, so that the counting
// trigger's subtraction on delete leaves the counts as they were (sqlstore.Engine.RemoveSettled).
func (engine) RemoveSettled(ctx context.Context, tx sqlstore.Querier, ids []int64) error {
	list, _ := json.Marshal(ids)
	for _, q := range []string{
		`INSERT INTO delivery_counts (lesson_id, channel, status, reason, n)
			SELECT lesson_id, channel, status, CASE WHEN status IN ('failed', 'undelivered') THEN reason ELSE '' END, COUNT(*)
			FROM deliveries WHERE id IN (SELECT value FROM json_each(?)) GROUP BY 1, 2, 3, 4
			ON CONFLICT (lesson_id, channel, status, reason) DO UPDATE SET n = n + excluded.n`,
		`DELETE FROM delivery_events WHERE delivery_id IN (SELECT value FROM json_each(?))`,
		`DELETE FROM contact_claims WHERE delivery_id IN (SELECT value FROM json_each(?))`,
		`DELETE FROM postal_batch_deliveries WHERE delivery_id IN (SELECT value FROM json_each(?))`,
		`DELETE FROM deliveries WHERE id IN (SELECT value FROM json_each(?))`,
	} {
		if _, err := tx.Exec(ctx, q, string(list)); err != nil {
			return err
		}
	}
	return nil
}

// MarkRemoved marks the households a full import did not list (relais.PrivacyStore).
func (db *DB) MarkRemoved(ctx context.Context, listed []string, now time.Time) (int64, error) {
	list, err := json.Marshal(listed)
	if err != nil {
		return 0, err
	}
	var n int64
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE IF NOT EXISTS roster_listed (ref TEXT PRIMARY KEY) WITHOUT ROWID`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM temp.roster_listed`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO temp.roster_listed SELECT value FROM json_each(?)`, string(list)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE households SET removed_at = 0
			WHERE removed_at > 0 AND external_ref IN (SELECT ref FROM temp.roster_listed)`); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE households SET removed_at = ?
			WHERE removed_at = 0 AND external_ref <> 'erased-' || id AND external_ref NOT IN (SELECT ref FROM temp.roster_listed)`, ms(now))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM temp.roster_listed`)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("mark households removed from the roster: %w", err)
	}
	return n, nil
}
