package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	relais "github.com/relais-edu/relais"
)

var _ relais.PrivacyStore = (*DB)(nil)

// HouseholdRecord gathers everything held about household id.
func (db *DB) HouseholdRecord(ctx context.Context, id int64) (relais.HouseholdRecord, error) {
	h, err := db.Household(ctx, id)
	if err != nil {
		return relais.HouseholdRecord{}, err
	}
	rec := relais.HouseholdRecord{Household: relais.DataOf(h), Deliveries: []relais.DeliveryRecord{},
		Inbound: []relais.InboundRecord{}, Bounces: []relais.BounceRecord{}}
	ds, err := queryAll(ctx, db.pool, func(r rowScanner) (relais.DeliveryRecord, error) {
		var d relais.DeliveryRecord
		err := r.Scan(&d.ID, &d.LessonID, &d.LessonTitle, &d.Channel, &d.Status, &d.Reason, &d.CreatedAt, &d.UpdatedAt)
		d.CreatedAt, d.UpdatedAt, d.Events = d.CreatedAt.UTC(), d.UpdatedAt.UTC(), []relais.EventRecord{}
		return d, err
	}, `SELECT d.id, d.lesson_id, COALESCE(l.title, ''), d.channel, d.status, d.reason, d.created_at, d.updated_at
		FROM deliveries d LEFT JOIN lessons l ON l.id = d.lesson_id WHERE d.household_id = $1 ORDER BY d.id`, id)
	if err != nil {
		return rec, fmt.Errorf("household %d deliveries: %w", id, err)
	}
	rec.Deliveries = append(rec.Deliveries, ds...)
	for i := range rec.Deliveries {
		evs, err := queryAll(ctx, db.pool, func(r rowScanner) (relais.EventRecord, error) {
			var e relais.EventRecord
			err := r.Scan(&e.Status, &e.Detail, &e.At)
			e.At = e.At.UTC()
			return e, err
		}, `SELECT status, detail, at FROM delivery_events WHERE delivery_id = $1 ORDER BY id`, rec.Deliveries[i].ID)
		if err != nil {
			return rec, fmt.Errorf("household %d delivery events: %w", id, err)
		}
		rec.Deliveries[i].Events = append(rec.Deliveries[i].Events, evs...)
	}
	if h.Phone != "" {
		in, err := queryAll(ctx, db.pool, func(r rowScanner) (relais.InboundRecord, error) {
			var m relais.InboundRecord
			err := r.Scan(&m.Body, &m.ReceivedAt)
			m.ReceivedAt = m.ReceivedAt.UTC()
			return m, err
		}, `SELECT body, received_at FROM inbound_messages WHERE phone = $1 ORDER BY id`, h.Phone)
		if err != nil {
			return rec, fmt.Errorf("household %d replies: %w", id, err)
		}
		rec.Inbound = append(rec.Inbound, in...)
	}
	if h.Email != "" {
		bs, err := queryAll(ctx, db.pool, func(r rowScanner) (relais.BounceRecord, error) {
			var b relais.BounceRecord
			var at time.Time
			err := r.Scan(&b.Action, &b.Status, &b.Hard, &b.Diagnostic, &at)
			b.At = at.UTC()
			return b, err
		}, `SELECT action, status, hard, diagnostic, at FROM email_bounces WHERE recipient = $1 ORDER BY id`, h.Email)
		if err != nil {
			return rec, fmt.Errorf("household %d bounces: %w", id, err)
		}
		rec.Bounces = append(rec.Bounces, bs...)
	}
	return rec, nil
}

// EraseHousehold removes what identifies household id (relais.PrivacyStore).
func (db *DB) EraseHousehold(ctx context.Context, id int64) error {
	return db.inTx(ctx, func(tx pgx.Tx) error { return eraseTx(ctx, tx, id) })
}

// eraseTx erases household id in tx.
func eraseTx(ctx context.Context, tx pgx.Tx, id int64) error {
	{
		var phone, email string
		err := tx.QueryRow(ctx, `SELECT phone, email FROM households WHERE id = $1 FOR UPDATE`, id).Scan(&phone, &email)
		if errors.Is(err, pgx.ErrNoRows) {
			return relais.Errorf(relais.ENOTFOUND, "Household %d not found.", id)
		} else if err != nil {
			return fmt.Errorf("erase household %d: %w", id, err)
		}
		steps := []struct {
			q    string
			args []any
		}{
			// Another household sharing the number or address keeps the messages that concern it.
			{`DELETE FROM inbound_messages WHERE phone = $1 AND phone <> '' AND NOT EXISTS (SELECT 1 FROM households WHERE phone = $1 AND id <> $2)`, []any{phone, id}},
			{`DELETE FROM email_bounces WHERE recipient = $1 AND recipient <> '' AND NOT EXISTS (SELECT 1 FROM households WHERE email = $1 AND id <> $2)`, []any{email, id}},
			{`DELETE FROM contact_claims WHERE contact IN ($1, $2) AND delivery_id IN (SELECT id FROM deliveries WHERE household_id = $3)`, []any{phone, email, id}},
			{`UPDATE delivery_events SET detail = '' WHERE delivery_id IN (SELECT id FROM deliveries WHERE household_id = $1)`, []any{id}},
			// Pupils keep their grade and language (the audience counts), not their school and class.
			{`UPDATE pupils SET school = '', class = '' WHERE household_id = $1`, []any{id}},
			{`UPDATE households SET pupils = COALESCE((SELECT json_agg(json_build_object('grade', grade, 'language', language) ORDER BY grade)::text
				FROM pupils WHERE household_id = $1), '[]') WHERE id = $1`, []any{id}},
			{`UPDATE households SET external_ref = $1, phone = '', email = '', postal_address = '', consent = false,
				phone_status = '', email_status = '', removed_at = NULL WHERE id = $2`, []any{relais.ErasedRef(id), id}},
		}
		for _, s := range steps {
			if _, err := tx.Exec(ctx, s.q, s.args...); err != nil {
				return fmt.Errorf("erase household %d: %w", id, err)
			}
		}
		return nil
	}
}

// PruneFamilyData removes what has aged out (relais.PrivacyStore).
func (db *DB) PruneFamilyData(ctx context.Context, now time.Time, r relais.Retention) (relais.Pruned, error) {
	var p relais.Pruned
	prune := func(table, column string, keep time.Duration) (int64, error) {
		if keep <= 0 {
			return 0, nil
		}
		tag, err := db.pool.Exec(ctx, `DELETE FROM `+table+` WHERE `+column+` < $1`, now.Add(-keep))
		if err != nil {
			return 0, fmt.Errorf("prune %s: %w", table, err)
		}
		return tag.RowsAffected(), nil
	}
	var err error
	if p.Replies, err = prune("inbound_messages", "received_at", r.Replies); err != nil {
		return p, err
	}
	if p.Bounces, err = prune("email_bounces", "at", r.Bounces); err != nil {
		return p, err
	}
	if r.Deliveries > 0 {
		if p.Deliveries, err = db.pruneDeliveries(ctx, ts(now.Add(-r.Deliveries))); err != nil {
			return p, err
		}
	}
	if r.Removed > 0 {
		if p.Households, err = db.eraseRemoved(ctx, ts(now.Add(-r.Removed))); err != nil {
			return p, err
		}
	}
	return p, nil
}

// pruneBatch is how many deliveries or households one retention transaction removes, so that the
// writers waiting on their rows wait for a short one.
const pruneBatch = 1000

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
				FROM (SELECT id, created_at FROM deliveries WHERE id > $1 ORDER BY id LIMIT $2) b`, after, pruneBatch).Scan(&seen, &last, &newestOrNull)
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
		if seen < pruneBatch || !newest.Before(cutoff) {
			return total, nil
		}
		after = last
	}
}

// eraseRemoved erases the households removed from the roster before cutoff.
func (db *DB) eraseRemoved(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := db.inTx(ctx, func(tx pgx.Tx) error {
			ids, err := queryAll(ctx, tx, func(r rowScanner) (int64, error) {
				var id int64
				return id, r.Scan(&id)
			}, `SELECT id FROM households WHERE removed_at < $1 ORDER BY id LIMIT $2`, cutoff, pruneBatch)
			for _, id := range ids {
				if err := eraseTx(ctx, tx, id); err != nil {
					return err
				}
			}
			n = int64(len(ids))
			return err
		})
		if err != nil {
			return total, fmt.Errorf("erase removed households: %w", err)
		}
		if total += n; n < pruneBatch {
			return total, nil
		}
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

// AgedMedia finds the lessons whose files have aged out (relais.PrivacyStore).
func (db *DB) AgedMedia(ctx context.Context, before time.Time, limit int) ([]relais.LessonFiles, error) {
	ids, err := queryAll(ctx, db.pool, func(r rowScanner) (int64, error) {
		var id int64
		return id, r.Scan(&id)
	}, `SELECT id FROM lessons l WHERE media_removed_at IS NULL AND updated_at < $1 AND status NOT IN ($2, $3)
		AND NOT EXISTS (SELECT 1 FROM slot_lessons sl JOIN slots s ON s.id = sl.slot_id WHERE sl.lesson_id = l.id AND s.day >= $4)
		ORDER BY id LIMIT $5`,
		ts(before), string(relais.LessonUploaded), string(relais.LessonProcessing), before.UTC().Format(time.DateOnly), limit)
	if err != nil {
		return nil, fmt.Errorf("aged media: %w", err)
	}
	out := make([]relais.LessonFiles, 0, len(ids))
	for _, id := range ids {
		locs, err := queryAll(ctx, db.pool, func(r rowScanner) (string, error) {
			var loc string
			return loc, r.Scan(&loc)
		}, `SELECT DISTINCT loc FROM (
				SELECT media_path AS loc FROM lessons WHERE id = $1
				UNION ALL SELECT worksheet_path FROM lessons WHERE id = $1
				UNION ALL SELECT path FROM renditions WHERE lesson_id = $1
				UNION ALL SELECT path FROM worksheets WHERE lesson_id = $1
				UNION ALL SELECT pdf_path FROM postal_batches WHERE lesson_id = $1
				UNION ALL SELECT csv_path FROM postal_batches WHERE lesson_id = $1) f
			WHERE loc <> '' ORDER BY loc`, id)
		if err != nil {
			return nil, fmt.Errorf("aged media of lesson %d: %w", id, err)
		}
		out = append(out, relais.LessonFiles{LessonID: id, Locations: locs})
	}
	return out, nil
}

// ForgetMedia records that a lesson's files were removed (relais.PrivacyStore).
func (db *DB) ForgetMedia(ctx context.Context, id int64, now time.Time) error {
	return db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE lessons SET media_path = '', worksheet_path = '', media_removed_at = $2 WHERE id = $1`,
			id, ts(now)); err != nil {
			return fmt.Errorf("forget media of lesson %d: %w", id, err)
		}
		for _, q := range []string{
			`DELETE FROM renditions WHERE lesson_id = $1`,
			`DELETE FROM worksheets WHERE lesson_id = $1`,
			`UPDATE postal_batches SET pdf_path = '', csv_path = '' WHERE lesson_id = $1`,
		} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return fmt.Errorf("forget media of lesson %d: %w", id, err)
			}
		}
		return nil
	})
}
