package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/internal/sqlstore"
)

var _ relais.PrivacyStore = (*DB)(nil)

// PruneFamilyData removes what has aged out (relais.PrivacyStore).
func (db *DB) PruneFamilyData(ctx context.Context, now time.Time, r relais.Retention) (relais.Pruned, error) {
	return db.PruneFamilyDataWith(ctx, now, r, db.pruneDeliveries)
}

// pruneDeliveries removes the settled deliveries last changed before cutoff with their history. It
// walks the deliveries in id order, a batch per transaction, from the oldest and up to the first one
// created after the cut-off (ids grow with creation, and a delivery changes after it is created):
// only the primary key is read, no index on the time of the last change is kept up on every status
// change. The deliveries of a batch are locked (one being changed now is left for the next pass),
// then recorded as a change of the lessons' counts, so that the counting trigger's subtraction on
// delete leaves the counts as they were.
func (db *DB) pruneDeliveries(ctx context.Context, cutoff time.Time) (int64, error) {
	statuses := make([]string, len(relais.SettledDeliveryStatuses))
	for i, s := range relais.SettledDeliveryStatuses {
		statuses[i] = string(s)
	}
	var total, after int64
	for {
		var n int
		var seen int64
		var last int64
		var newest time.Time
		err := db.inTx(ctx, func(tx pgx.Tx) error {
			var newestOrNull *time.Time
			err := tx.QueryRow(ctx, `SELECT count(*), COALESCE(max(id), 0), max(created_at)
				FROM (SELECT id, created_at FROM deliveries WHERE id > $1 ORDER BY id LIMIT $2) b`, after, sqlstore.PruneBatch).Scan(&seen, &last, &newestOrNull)
			if err != nil || seen == 0 {
				return err
			}
			newest = *newestOrNull
			ids, err := queryAll(ctx, tx, func(r rowScanner) (int64, error) {
				var id int64
				return id, r.Scan(&id)
			}, `SELECT id FROM deliveries WHERE id > $1 AND id <= $2 AND updated_at < $3 AND status = ANY($4) FOR UPDATE SKIP LOCKED`,
				after, last, cutoff, statuses)
			if err != nil || len(ids) == 0 {
				return err
			}
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
			n = len(ids)
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("prune deliveries: %w", err)
		}
		total += int64(n)
		if seen < sqlstore.PruneBatch || !newest.Before(cutoff) {
			return total, nil
		}
		after = last
	}
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
