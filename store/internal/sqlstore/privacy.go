package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
)

// HouseholdRecord gathers everything held about household id.
func (st Store) HouseholdRecord(ctx context.Context, id int64) (relais.HouseholdRecord, error) {
	h, err := st.Household(ctx, id)
	if err != nil {
		return relais.HouseholdRecord{}, err
	}
	rec := relais.HouseholdRecord{Household: relais.DataOf(h), Deliveries: []relais.DeliveryRecord{},
		Inbound: []relais.InboundRecord{}, Bounces: []relais.BounceRecord{}}
	q := st.e.Read()
	ds, err := QueryAll(ctx, q, func(r Row) (relais.DeliveryRecord, error) {
		d := relais.DeliveryRecord{Events: []relais.EventRecord{}}
		err := r.Scan(&d.ID, &d.LessonID, &d.LessonTitle, &d.Channel, &d.Status, &d.Reason, Time(&d.CreatedAt),
			Time(&d.UpdatedAt))
		return d, err
	}, `SELECT d.id, d.lesson_id, COALESCE(l.title, ''), d.channel, d.status, d.reason, d.created_at, d.updated_at
		FROM deliveries d LEFT JOIN lessons l ON l.id = d.lesson_id WHERE `+st.d.OfHousehold("d")+` ORDER BY d.id`, id)
	if err != nil {
		return rec, fmt.Errorf("household %d deliveries: %w", id, err)
	}
	rec.Deliveries = append(rec.Deliveries, ds...)
	for i := range rec.Deliveries {
		evs, err := QueryAll(ctx, q, func(r Row) (relais.EventRecord, error) {
			var e relais.EventRecord
			return e, r.Scan(&e.Status, &e.Detail, Time(&e.At))
		}, `SELECT status, detail, at FROM `+st.d.DeliveryEvents+` WHERE delivery_id = ? ORDER BY id`, rec.Deliveries[i].ID)
		if err != nil {
			return rec, fmt.Errorf("household %d delivery events: %w", id, err)
		}
		rec.Deliveries[i].Events = append(rec.Deliveries[i].Events, evs...)
	}
	if h.Phone != "" {
		in, err := QueryAll(ctx, q, func(r Row) (relais.InboundRecord, error) {
			var m relais.InboundRecord
			return m, r.Scan(&m.Body, Time(&m.ReceivedAt))
		}, `SELECT body, received_at FROM inbound_messages WHERE phone = ? ORDER BY id`, h.Phone)
		if err != nil {
			return rec, fmt.Errorf("household %d replies: %w", id, err)
		}
		rec.Inbound = append(rec.Inbound, in...)
	}
	if h.Email != "" {
		bs, err := QueryAll(ctx, q, func(r Row) (relais.BounceRecord, error) {
			var b relais.BounceRecord
			return b, r.Scan(&b.Action, &b.Status, Bool(&b.Hard), &b.Diagnostic, Time(&b.At))
		}, `SELECT action, status, hard, diagnostic, at FROM email_bounces WHERE recipient = ? ORDER BY id`, h.Email)
		if err != nil {
			return rec, fmt.Errorf("household %d bounces: %w", id, err)
		}
		rec.Bounces = append(rec.Bounces, bs...)
	}
	return rec, nil
}

// EraseHousehold removes what identifies household id (relais.PrivacyStore).
func (st Store) EraseHousehold(ctx context.Context, id int64) error {
	return st.e.InTx(ctx, func(tx Querier) error { return st.erase(ctx, tx, id) })
}

// erase erases household id in tx.
func (st Store) erase(ctx context.Context, tx Querier, id int64) error {
	if err := st.e.Lock(ctx, tx, "households", id); err != nil {
		return fmt.Errorf("erase household %d: %w", id, err)
	}
	var phone, email string
	err := tx.QueryRow(ctx, `SELECT phone, email FROM households WHERE id = ?`, id).Scan(&phone, &email)
	if noRow(err) {
		return relais.Errorf(relais.ENOTFOUND, "Household %d not found.", id)
	} else if err != nil {
		return fmt.Errorf("erase household %d: %w", id, err)
	}
	type step struct {
		q    string
		args []any
	}
	var steps []step
	// Another household sharing the number or address (as written) keeps the messages that concern it;
	// the households are found on the indexes of PhoneIs and EmailIs. A household without a number
	// (an address) has no messages of its own.
	if phone != "" {
		steps = append(steps, step{`DELETE FROM inbound_messages WHERE phone = ? AND NOT EXISTS (SELECT 1 FROM households h
			WHERE ` + PhoneIs(phone) + ` AND h.id <> ?)`, []any{phone, phone, id}})
	}
	if email != "" {
		steps = append(steps, step{`DELETE FROM email_bounces WHERE recipient = ? AND NOT EXISTS (SELECT 1 FROM households h
			WHERE ` + st.d.EmailIs(email) + ` AND h.email = ? AND h.id <> ?)`, []any{email, email, email, id}})
	}
	steps = append(steps, []step{
		{`DELETE FROM contact_claims WHERE contact IN (?, ?) AND delivery_id IN (SELECT id FROM deliveries WHERE ` +
			st.d.OfHousehold("deliveries") + `)`, []any{phone, email, id}},
		{`UPDATE delivery_events SET detail = '' WHERE delivery_id IN (SELECT id FROM deliveries WHERE ` +
			st.d.OfHousehold("deliveries") + `)`, []any{id}},
		// Pupils keep their grade and language (the audience counts), not their school and class.
		{`UPDATE pupils SET school = '', class = '' WHERE household_id = ?`, []any{id}},
		{st.d.RewritePupils, []any{id, id}},
		{`UPDATE households SET external_ref = ?, phone = '', email = '', postal_address = '', consent = ?,
			phone_status = '', email_status = '', sms_sender = NULL, removed_at = ? WHERE id = ?`,
			[]any{relais.ErasedRef(id), false, st.e.OptTime(time.Time{}), id}},
	}...)
	for _, s := range steps {
		if _, err := tx.Exec(ctx, s.q, s.args...); err != nil {
			return fmt.Errorf("erase household %d: %w", id, err)
		}
	}
	return nil
}

// pruneBatch is how many deliveries or households one retention transaction removes, so that the
// writers waiting behind it wait for a short one.
const pruneBatch = 1000

// PruneFamilyData removes what has aged out (relais.PrivacyStore).
func (st Store) PruneFamilyData(ctx context.Context, now time.Time, r relais.Retention) (relais.Pruned, error) {
	var p relais.Pruned
	prune := func(table, column string, keep time.Duration) (int64, error) {
		if keep <= 0 {
			return 0, nil
		}
		n, err := st.e.Write().Exec(ctx, `DELETE FROM `+table+` WHERE `+column+` < ?`, st.e.Time(now.Add(-keep)))
		if err != nil {
			return 0, fmt.Errorf("prune %s: %w", table, err)
		}
		return n, nil
	}
	var err error
	if p.Replies, err = prune("inbound_messages", "received_at", r.Replies); err != nil {
		return p, err
	}
	if p.Bounces, err = prune("email_bounces", "at", r.Bounces); err != nil {
		return p, err
	}
	if r.Deliveries > 0 {
		if p.Deliveries, err = st.pruneDeliveries(ctx, stamp(now.Add(-r.Deliveries))); err != nil {
			return p, err
		}
	}
	if r.Removed > 0 {
		if p.Households, err = st.eraseRemoved(ctx, now.Add(-r.Removed)); err != nil {
			return p, err
		}
	}
	return p, nil
}

// pruneDeliveries removes the settled deliveries last changed before cutoff with their history. It
// walks the deliveries in id order, a batch per transaction, from the oldest and up to the first one
// created after the cut-off (ids grow with creation, and a delivery changes after it is created):
// only the primary key is read, no index on the time of the last change is kept up on every status
// change. The settled deliveries of a batch are locked where writers run at once (one being changed
// now is left for the next pass); the engine removes them (Engine.RemoveSettled).
func (st Store) pruneDeliveries(ctx context.Context, cutoff time.Time) (int64, error) {
	names := make([]string, len(relais.SettledDeliveryStatuses))
	for i, s := range relais.SettledDeliveryStatuses {
		names[i] = string(s)
	}
	settled := `'` + strings.Join(names, `', '`) + `'`
	var total, after int64
	for {
		var n, seen int
		var last int64
		var newest time.Time
		err := st.e.InTx(ctx, func(tx Querier) error {
			err := tx.QueryRow(ctx, `SELECT COUNT(*), COALESCE(MAX(id), 0), MAX(created_at)
				FROM (SELECT id, created_at FROM deliveries WHERE id > ? ORDER BY id LIMIT ?) b`, after, pruneBatch).
				Scan(&seen, &last, OptTime(&newest))
			if err != nil || seen == 0 {
				return err
			}
			ids, err := QueryAll(ctx, tx, scanID, `SELECT id FROM deliveries
				WHERE id > ? AND id <= ? AND updated_at < ? AND status IN (`+settled+`)`+st.d.SkipLocked,
				after, last, st.e.Time(cutoff))
			if err != nil || len(ids) == 0 {
				return err
			}
			n = len(ids)
			return st.e.RemoveSettled(ctx, tx, ids)
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

// eraseRemoved erases the households removed from the roster before cutoff, the longest removed
// first, a batch per transaction. They are read on the partial index households_removed, in its
// order: by id, a batch walked the primary key past every household still listed (an erased one leaves
// the index), and the last batch read every household.
func (st Store) eraseRemoved(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := st.e.InTx(ctx, func(tx Querier) error {
			ids, err := QueryAll(ctx, tx, scanID, `SELECT id FROM households
				WHERE `+st.e.Some("removed_at")+` AND removed_at < ? ORDER BY removed_at, id LIMIT ?`, st.e.Time(cutoff), pruneBatch)
			for _, id := range ids {
				if err := st.erase(ctx, tx, id); err != nil {
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

// scanID reads a row of one id.
func scanID(r Row) (int64, error) {
	var id int64
	return id, r.Scan(&id)
}

// AgedMedia finds the lessons whose files have aged out (relais.PrivacyStore).
func (st Store) AgedMedia(ctx context.Context, before time.Time, limit int) ([]relais.LessonFiles, error) {
	q := st.e.Read()
	ids, err := QueryAll(ctx, q, scanID, `SELECT id FROM lessons l WHERE `+st.e.None("media_removed_at")+`
		AND updated_at < ? AND status NOT IN (?, ?)
		AND NOT EXISTS (SELECT 1 FROM slot_lessons sl JOIN slots s ON s.id = sl.slot_id WHERE sl.lesson_id = l.id AND s.day >= ?)
		ORDER BY id LIMIT ?`,
		st.e.Time(before), string(relais.LessonUploaded), string(relais.LessonProcessing), before.UTC().Format(time.DateOnly), limit)
	if err != nil {
		return nil, fmt.Errorf("aged media: %w", err)
	}
	out := make([]relais.LessonFiles, 0, len(ids))
	for _, id := range ids {
		locs, err := QueryAll(ctx, q, func(r Row) (string, error) {
			var loc string
			return loc, r.Scan(&loc)
		}, `SELECT DISTINCT loc FROM (
				SELECT media_path AS loc FROM lessons WHERE id = ?
				UNION ALL SELECT worksheet_path FROM lessons WHERE id = ?
				UNION ALL SELECT path FROM renditions WHERE lesson_id = ?
				UNION ALL SELECT path FROM worksheets WHERE lesson_id = ?
				UNION ALL SELECT pdf_path FROM postal_batches WHERE lesson_id = ?
				UNION ALL SELECT csv_path FROM postal_batches WHERE lesson_id = ?) f
			WHERE loc <> '' ORDER BY loc`, id, id, id, id, id, id)
		if err != nil {
			return nil, fmt.Errorf("aged media of lesson %d: %w", id, err)
		}
		out = append(out, relais.LessonFiles{LessonID: id, Locations: locs})
	}
	return out, nil
}

// ForgetMedia records that a lesson's files were removed (relais.PrivacyStore).
func (st Store) ForgetMedia(ctx context.Context, id int64, now time.Time) error {
	return st.e.InTx(ctx, func(tx Querier) error {
		if _, err := tx.Exec(ctx, `UPDATE lessons SET media_path = '', worksheet_path = '', media_removed_at = ? WHERE id = ?`,
			st.e.Time(now), id); err != nil {
			return fmt.Errorf("forget media of lesson %d: %w", id, err)
		}
		for _, q := range []string{
			`DELETE FROM renditions WHERE lesson_id = ?`,
			`DELETE FROM worksheets WHERE lesson_id = ?`,
			`UPDATE postal_batches SET pdf_path = '', csv_path = '' WHERE lesson_id = ?`,
		} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return fmt.Errorf("forget media of lesson %d: %w", id, err)
			}
		}
		return nil
	})
}
