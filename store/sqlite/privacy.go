package sqlite

import (
	"context"
	"database/sql"
	"fmt"
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
	return db.inTx(ctx, func(tx *sql.Tx) error {
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
				phone_status = '', email_status = '' WHERE id = ?`, []any{relais.ErasedRef(id), id}},
		}
		for _, s := range steps {
			if _, err := tx.ExecContext(ctx, s.q, s.args...); err != nil {
				return fmt.Errorf("erase household %d: %w", id, err)
			}
		}
		return nil
	})
}

// PruneFamilyData removes old replies and bounce reports (relais.PrivacyStore).
func (db *DB) PruneFamilyData(ctx context.Context, now time.Time, r relais.Retention) (replies, bounces int64, err error) {
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
	if replies, err = prune("inbound_messages", "received_at", r.Replies); err != nil {
		return 0, 0, err
	}
	bounces, err = prune("email_bounces", "at", r.Bounces)
	return replies, bounces, err
}
