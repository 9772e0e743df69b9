package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

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
	rec.Deliveries, err = queryAll(ctx, db.read, func(r rowScanner) (relais.DeliveryRecord, error) {
		var d relais.DeliveryRecord
		var created, updated int64
		err := r.Scan(&d.ID, &d.LessonID, &d.LessonTitle, &d.Channel, &d.Status, &d.Reason, &created, &updated)
		d.CreatedAt, d.UpdatedAt, d.Events = fromMS(created), fromMS(updated), []relais.EventRecord{}
		return d, err
	}, `SELECT d.id, d.lesson_id, COALESCE(l.title, ''), d.channel, d.status, d.reason, d.created_at, d.updated_at
		FROM deliveries d LEFT JOIN lessons l ON l.id = d.lesson_id WHERE d.household_id = ? ORDER BY d.id`, id)
	if err != nil {
		return rec, fmt.Errorf("household %d deliveries: %w", id, err)
	}
	for i := range rec.Deliveries {
		evs, err := queryAll(ctx, db.read, func(r rowScanner) (relais.EventRecord, error) {
			var e relais.EventRecord
			var at int64
			err := r.Scan(&e.Status, &e.Detail, &at)
			e.At = fromMS(at)
			return e, err
		}, `SELECT status, detail, at FROM delivery_events WHERE delivery_id = ? ORDER BY id`, rec.Deliveries[i].ID)
		if err != nil {
			return rec, fmt.Errorf("household %d delivery events: %w", id, err)
		}
		rec.Deliveries[i].Events = append(rec.Deliveries[i].Events, evs...)
	}
	if h.Phone != "" {
		in, err := queryAll(ctx, db.read, func(r rowScanner) (relais.InboundRecord, error) {
			var m relais.InboundRecord
			var at int64
			err := r.Scan(&m.Body, &at)
			m.ReceivedAt = fromMS(at)
			return m, err
		}, `SELECT body, received_at FROM inbound_messages WHERE phone = ? ORDER BY id`, h.Phone)
		if err != nil {
			return rec, fmt.Errorf("household %d replies: %w", id, err)
		}
		rec.Inbound = append(rec.Inbound, in...)
	}
	if h.Email != "" {
		bs, err := queryAll(ctx, db.read, func(r rowScanner) (relais.BounceRecord, error) {
			var b relais.BounceRecord
			var hard int
			var at int64
			err := r.Scan(&b.Action, &b.Status, &hard, &b.Diagnostic, &at)
			b.Hard, b.At = hard == 1, fromMS(at)
			return b, err
		}, `SELECT action, status, hard, diagnostic, at FROM email_bounces WHERE recipient = ? ORDER BY id`, h.Email)
		if err != nil {
			return rec, fmt.Errorf("household %d bounces: %w", id, err)
		}
		rec.Bounces = append(rec.Bounces, bs...)
	}
	return rec, nil
}

// EraseHousehold removes what identifies household id (relais.PrivacyStore).
func (db *DB) EraseHousehold(ctx context.Context, id int64) error {
	return db.inTx(ctx, func(tx *sql.Tx) error { return eraseTx(ctx, tx, id) })
}

// eraseTx erases household id in tx.
func eraseTx(ctx context.Context, tx *sql.Tx, id int64) error {
	{
		var phone, email string
		err := tx.QueryRowContext(ctx, `SELECT phone, email FROM households WHERE id = ?`, id).Scan(&phone, &email)
		if err == sql.ErrNoRows {
			return relais.Errorf(relais.ENOTFOUND, "Household %d not found.", id)
		} else if err != nil {
			return fmt.Errorf("erase household %d: %w", id, err)
		}
		steps := []struct {
			q    string
			args []any
		}{
			// Another household sharing the number or address keeps the messages that concern it.
			{`DELETE FROM inbound_messages WHERE phone = ? AND phone <> '' AND NOT EXISTS (SELECT 1 FROM households WHERE phone = ? AND id <> ?)`, []any{phone, phone, id}},
			{`DELETE FROM email_bounces WHERE recipient = ? AND recipient <> '' AND NOT EXISTS (SELECT 1 FROM households WHERE email = ? AND id <> ?)`, []any{email, email, id}},
			{`DELETE FROM contact_claims WHERE contact IN (?, ?) AND delivery_id IN (SELECT id FROM deliveries WHERE household_id = ?)`, []any{phone, email, id}},
			{`UPDATE delivery_events SET detail = '' WHERE delivery_id IN (SELECT id FROM deliveries WHERE household_id = ?)`, []any{id}},
			// Pupils keep their grade and language (the audience counts), not their school and class.
			{`UPDATE pupils SET school = '', class = '' WHERE household_id = ?`, []any{id}},
			{`UPDATE households SET pupils = (SELECT json_group_array(json_object('grade', grade, 'language', language))
				FROM (SELECT grade, language FROM pupils WHERE household_id = ? ORDER BY grade)) WHERE id = ?`, []any{id, id}},
			{`UPDATE households SET external_ref = ?, phone = '', email = '', postal_address = '', consent = 0,
				phone_status = '', email_status = '', removed_at = 0 WHERE id = ?`, []any{relais.ErasedRef(id), id}},
		}
		for _, s := range steps {
			if _, err := tx.ExecContext(ctx, s.q, s.args...); err != nil {
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
		res, err := db.write.ExecContext(ctx, `DELETE FROM `+table+` WHERE `+column+` < ?`, now.Add(-keep).UnixMilli())
		if err != nil {
			return 0, fmt.Errorf("prune %s: %w", table, err)
		}
		return res.RowsAffected()
	}
	var err error
	if p.Replies, err = prune("inbound_messages", "received_at", r.Replies); err != nil {
		return p, err
	}
	if p.Bounces, err = prune("email_bounces", "at", r.Bounces); err != nil {
		return p, err
	}
	if r.Deliveries > 0 {
		if p.Deliveries, err = db.pruneDeliveries(ctx, ms(now.Add(-r.Deliveries))); err != nil {
			return p, err
		}
	}
	if r.Removed > 0 {
		if p.Households, err = db.eraseRemoved(ctx, ms(now.Add(-r.Removed))); err != nil {
			return p, err
		}
	}
	return p, nil
}

// pruneBatch is how many deliveries or households one retention transaction removes, so that the
// writers queued behind it wait for a short one.
const pruneBatch = 1000

// pruneDeliveries removes the settled deliveries last changed before cutoff with their history. It
// walks the deliveries in id order, a batch per transaction, from the oldest and up to the first one
// created after the cut-off (ids grow with creation, and a delivery changes after it is created):
// only the primary key is read, no index on the time of the last change is kept up on every status
// change. Each batch first adds its deliveries to the lessons' counts, so that the counting
// trigger's subtraction on delete leaves the counts as they were.
func (db *DB) pruneDeliveries(ctx context.Context, cutoff int64) (int64, error) {
	settled := `'` + strings.Join(statusNames(relais.SettledDeliveryStatuses), `', '`) + `'`
	var total, after int64
	for {
		var n, seen int
		var last, newest int64
		err := db.inTx(ctx, func(tx *sql.Tx) error {
			err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MAX(id), 0), COALESCE(MAX(created_at), 0)
				FROM (SELECT id, created_at FROM deliveries WHERE id > ? ORDER BY id LIMIT ?)`, after, pruneBatch).Scan(&seen, &last, &newest)
			if err != nil || seen == 0 {
				return err
			}
			ids, err := queryAll(ctx, tx, func(r rowScanner) (int64, error) {
				var id int64
				return id, r.Scan(&id)
			}, `SELECT id FROM deliveries WHERE id > ? AND id <= ? AND updated_at < ? AND status IN (`+settled+`)`, after, last, cutoff)
			if err != nil || len(ids) == 0 {
				return err
			}
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
				if _, err := tx.ExecContext(ctx, q, string(list)); err != nil {
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
		if seen < pruneBatch || newest >= cutoff {
			return total, nil
		}
		after = last
	}
}

// eraseRemoved erases the households removed from the roster before cutoff.
func (db *DB) eraseRemoved(ctx context.Context, cutoff int64) (int64, error) {
	var total int64
	for {
		var n int64
		err := db.inTx(ctx, func(tx *sql.Tx) error {
			ids, err := queryAll(ctx, tx, func(r rowScanner) (int64, error) {
				var id int64
				return id, r.Scan(&id)
			}, `SELECT id FROM households WHERE removed_at > 0 AND removed_at < ? ORDER BY id LIMIT ?`, cutoff, pruneBatch)
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

// statusNames are ss as strings.
func statusNames(ss []relais.DeliveryStatus) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

// AgedMedia finds the lessons whose files have aged out (relais.PrivacyStore).
func (db *DB) AgedMedia(ctx context.Context, before time.Time, limit int) ([]relais.LessonFiles, error) {
	ids, err := queryAll(ctx, db.read, func(r rowScanner) (int64, error) {
		var id int64
		return id, r.Scan(&id)
	}, `SELECT id FROM lessons l WHERE media_removed_at = 0 AND updated_at < ? AND status NOT IN (?, ?)
		AND NOT EXISTS (SELECT 1 FROM slot_lessons sl JOIN slots s ON s.id = sl.slot_id WHERE sl.lesson_id = l.id AND s.day >= ?)
		ORDER BY id LIMIT ?`,
		ms(before), string(relais.LessonUploaded), string(relais.LessonProcessing), before.UTC().Format(time.DateOnly), limit)
	if err != nil {
		return nil, fmt.Errorf("aged media: %w", err)
	}
	out := make([]relais.LessonFiles, 0, len(ids))
	for _, id := range ids {
		locs, err := queryAll(ctx, db.read, func(r rowScanner) (string, error) {
			var loc string
			return loc, r.Scan(&loc)
		}, `SELECT loc FROM (
				SELECT media_path AS loc FROM lessons WHERE id = ?1
				UNION ALL SELECT worksheet_path FROM lessons WHERE id = ?1
				UNION ALL SELECT path FROM renditions WHERE lesson_id = ?1
				UNION ALL SELECT path FROM worksheets WHERE lesson_id = ?1
				UNION ALL SELECT pdf_path FROM postal_batches WHERE lesson_id = ?1
				UNION ALL SELECT csv_path FROM postal_batches WHERE lesson_id = ?1)
			WHERE loc <> '' GROUP BY loc ORDER BY loc`, id)
		if err != nil {
			return nil, fmt.Errorf("aged media of lesson %d: %w", id, err)
		}
		out = append(out, relais.LessonFiles{LessonID: id, Locations: locs})
	}
	return out, nil
}

// ForgetMedia records that a lesson's files were removed (relais.PrivacyStore).
func (db *DB) ForgetMedia(ctx context.Context, id int64, now time.Time) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE lessons SET media_path = '', worksheet_path = '', media_removed_at = ? WHERE id = ?`,
			ms(now), id); err != nil {
			return fmt.Errorf("forget media of lesson %d: %w", id, err)
		}
		for _, q := range []string{
			`DELETE FROM renditions WHERE lesson_id = ?`,
			`DELETE FROM worksheets WHERE lesson_id = ?`,
			`UPDATE postal_batches SET pdf_path = '', csv_path = '' WHERE lesson_id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return fmt.Errorf("forget media of lesson %d: %w", id, err)
			}
		}
		return nil
	})
}
