package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	relais "github.com/relais-edu/relais"
)

const deliveryColumns = `id, lesson_id, household_id, channel, status, reason, provider_id, attempts, occurrence, created_at, updated_at`

func scanDelivery(row interface{ Scan(...any) error }) (relais.Delivery, error) {
	var d relais.Delivery
	var created, updated int64
	err := row.Scan(&d.ID, &d.LessonID, &d.HouseholdID, &d.Channel, &d.Status, &d.Reason, &d.ProviderID,
		&d.Attempts, &d.Occurrence, &created, &updated)
	d.CreatedAt, d.UpdatedAt = fromMS(created), fromMS(updated)
	return d, err
}

func (db *DB) queryDeliveries(ctx context.Context, q string, args ...any) ([]relais.Delivery, error) {
	return queryAll(ctx, db.read, scanDelivery, q, args...)
}

// PlanDeliveries inserts pending deliveries, leaving existing (lesson, household, channel) rows as they
// are, sets each delivery's ID and Status to its row's, and returns the ids of the given keys that are
// still pending.
func (db *DB) PlanDeliveries(ctx context.Context, ds []relais.Delivery) ([]int64, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	now := ms(db.now())
	var ids []int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		ids = nil
		ins, err := tx.PrepareContext(ctx, `INSERT INTO deliveries (lesson_id, household_id, channel, status, reason,
			created_at, updated_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT (lesson_id, household_id, channel) DO NOTHING`)
		if err != nil {
			return err
		}
		defer ins.Close()
		sel, err := tx.PrepareContext(ctx, `SELECT id, status FROM deliveries WHERE lesson_id = ? AND household_id = ? AND channel = ?`)
		if err != nil {
			return err
		}
		defer sel.Close()
		ev, err := tx.PrepareContext(ctx, `INSERT INTO delivery_events (delivery_id, status, detail, at) VALUES (?,?,?,?)`)
		if err != nil {
			return err
		}
		defer ev.Close()
		for i, d := range ds {
			status := d.Status
			if status == "" {
				status = relais.DeliveryPending
			}
			res, err := ins.ExecContext(ctx, d.LessonID, d.HouseholdID, d.Channel, status, d.Reason, now, now)
			if err != nil {
				return fmt.Errorf("plan delivery: %w", err)
			}
			var id int64
			var cur relais.DeliveryStatus
			if err := sel.QueryRowContext(ctx, d.LessonID, d.HouseholdID, d.Channel).Scan(&id, &cur); err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				if _, err := ev.ExecContext(ctx, id, status, d.Reason, now); err != nil {
					return err
				}
			}
			ds[i].ID, ds[i].Status = id, cur
			if cur == relais.DeliveryPending {
				ids = append(ids, id)
			}
		}
		return nil
	})
	return ids, err
}

// RemindDeliveries inserts or re-arms the reminder deliveries of an airing (see relais.DeliveryStore).
func (db *DB) RemindDeliveries(ctx context.Context, ds []relais.Delivery) ([]int64, int, error) {
	if len(ds) == 0 {
		return nil, 0, nil
	}
	now := ms(db.now())
	var ids []int64
	held := 0
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		ids, held = nil, 0
		ins, err := tx.PrepareContext(ctx, `INSERT INTO deliveries (lesson_id, household_id, channel, status, occurrence,
			created_at, updated_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT (lesson_id, household_id, channel) DO NOTHING`)
		if err != nil {
			return err
		}
		defer ins.Close()
		// Only a reminder that has left is re-armed: a pending one may be in a send task right now.
		rearm, err := tx.PrepareContext(ctx, `UPDATE deliveries SET status = ?, reason = '', provider_id = '', attempts = 0,
			occurrence = ?, updated_at = ? WHERE lesson_id = ? AND household_id = ? AND channel = ? AND occurrence < ?
			AND status <> ? RETURNING id`)
		if err != nil {
			return err
		}
		defer rearm.Close()
		sel, err := tx.PrepareContext(ctx, `SELECT id, status, occurrence FROM deliveries WHERE lesson_id = ? AND household_id = ? AND channel = ?`)
		if err != nil {
			return err
		}
		defer sel.Close()
		ev, err := tx.PrepareContext(ctx, `INSERT INTO delivery_events (delivery_id, status, detail, at) VALUES (?,?,?,?)`)
		if err != nil {
			return err
		}
		defer ev.Close()
		for _, d := range ds {
			if d.Channel != relais.ChannelReminder || d.Occurrence <= 0 {
				return fmt.Errorf("remind delivery of lesson %d to household %d: not a reminder of an airing", d.LessonID, d.HouseholdID)
			}
			airing := "the broadcast at " + time.Unix(d.Occurrence, 0).UTC().Format("2006-01-02 15:04 MST")
			res, err := ins.ExecContext(ctx, d.LessonID, d.HouseholdID, d.Channel, relais.DeliveryPending, d.Occurrence, now, now)
			if err != nil {
				return fmt.Errorf("plan reminder: %w", err)
			}
			var id int64
			if n, _ := res.RowsAffected(); n == 1 {
				if id, err = res.LastInsertId(); err != nil {
					return err
				}
				if _, err := ev.ExecContext(ctx, id, relais.DeliveryPending, "reminder of "+airing, now); err != nil {
					return err
				}
			} else {
				err := rearm.QueryRowContext(ctx, relais.DeliveryPending, d.Occurrence, now, d.LessonID, d.HouseholdID,
					d.Channel, d.Occurrence, relais.DeliveryPending).Scan(&id)
				if err == nil {
					if _, err := ev.ExecContext(ctx, id, relais.DeliveryPending, "reminder again, of "+airing, now); err != nil {
						return err
					}
				} else if !errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("re-arm reminder: %w", err)
				}
			}
			var cur relais.DeliveryStatus
			var occurrence int64
			if err := sel.QueryRowContext(ctx, d.LessonID, d.HouseholdID, d.Channel).Scan(&id, &cur, &occurrence); err != nil {
				return err
			}
			switch {
			case cur == relais.DeliveryPending && occurrence == d.Occurrence:
				ids = append(ids, id)
			case cur == relais.DeliveryPending && occurrence < d.Occurrence:
				held++
			}
		}
		return nil
	})
	return ids, held, err
}

// DeliveriesByIDs returns the deliveries with those ids, in id order.
func (db *DB) DeliveriesByIDs(ctx context.Context, ids []int64) ([]relais.Delivery, error) {
	var out []relais.Delivery
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		ds, err := db.queryDeliveries(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE id IN (`+
			placeholders(len(chunk))+`) ORDER BY id`, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

// Deliveries lists deliveries in id order after the page cursor.
func (db *DB) Deliveries(ctx context.Context, f relais.DeliveryFilter) ([]relais.Delivery, error) {
	p := f.Page.Normalize()
	q := `SELECT ` + deliveryColumns + ` FROM deliveries WHERE id > ?`
	args := []any{p.After}
	if f.LessonID > 0 {
		q += ` AND lesson_id = ?`
		args = append(args, f.LessonID)
	}
	if f.HouseholdID > 0 {
		q += ` AND household_id = ?`
		args = append(args, f.HouseholdID)
	}
	if f.Channel != "" {
		q += ` AND channel = ?`
		args = append(args, f.Channel)
	}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, p.Limit)
	return db.queryDeliveries(ctx, q, args...)
}

// DeliveryByProviderID finds the delivery a provider callback is about.
func (db *DB) DeliveryByProviderID(ctx context.Context, channel relais.ChannelName, providerID string) (relais.Delivery, error) {
	d, err := scanDelivery(db.read.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries
		WHERE channel = ? AND provider_id = ? AND provider_id <> ''`, channel, providerID))
	if errors.Is(err, sql.ErrNoRows) {
		return d, relais.Errorf(relais.ENOTFOUND, "Delivery with provider id %v not found.", providerID)
	}
	return d, err
}

// AdvanceDelivery moves a delivery forward and records the event.
func (db *DB) AdvanceDelivery(ctx context.Context, id int64, status relais.DeliveryStatus, detail, providerID string) (bool, error) {
	changed, err := db.AdvanceDeliveries(ctx, []relais.DeliveryAdvance{{ID: id, Status: status, Detail: detail, ProviderID: providerID}})
	if err != nil {
		return false, err
	}
	return changed[0], nil
}

// AdvanceDeliveries applies many advances in one transaction.
func (db *DB) AdvanceDeliveries(ctx context.Context, as []relais.DeliveryAdvance) ([]bool, error) {
	changed := make([]bool, len(as))
	if len(as) == 0 {
		return changed, nil
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for i, a := range as {
			var err error
			if changed[i], err = advanceTx(ctx, tx, a, ms(db.now())); err != nil {
				return err
			}
		}
		return nil
	})
	return changed, err
}

func advanceTx(ctx context.Context, tx *sql.Tx, a relais.DeliveryAdvance, now int64) (bool, error) {
	var cur relais.DeliveryStatus
	var curProvider string
	err := tx.QueryRowContext(ctx, `SELECT status, provider_id FROM deliveries WHERE id = ?`, a.ID).Scan(&cur, &curProvider)
	if errors.Is(err, sql.ErrNoRows) {
		return false, relais.Errorf(relais.ENOTFOUND, "Delivery %d not found.", a.ID)
	} else if err != nil {
		return false, err
	}
	providerID := a.ProviderID
	if providerID == "" {
		providerID = curProvider
	}
	if !cur.Advances(a.Status) {
		if providerID != curProvider {
			_, err = tx.ExecContext(ctx, `UPDATE deliveries SET provider_id = ? WHERE id = ?`, providerID, a.ID)
		}
		return false, err
	}
	reason := ""
	if a.Status == relais.DeliveryFailed || a.Status == relais.DeliveryUndelivered || a.Status == relais.DeliverySkipped {
		reason = a.Detail
	}
	if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = ?, reason = ?, provider_id = ?, updated_at = ?
		WHERE id = ?`, a.Status, reason, providerID, now, a.ID); err != nil {
		return false, err
	}
	events := []relais.DeliveryAdvance{a}
	if (a.Status == relais.DeliveryDelivered || a.Status == relais.DeliveryUndelivered) && cur.Advances(relais.DeliverySent) {
		// The carrier reported on a message whose "sent" was lost or came late: it was sent all the
		// same, and the history (and the dashboard's "sent" line) says so.
		events = []relais.DeliveryAdvance{{Status: relais.DeliverySent, Detail: "implied by " + string(a.Status)}, a}
	}
	for _, e := range events {
		if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_events (delivery_id, status, detail, at) VALUES (?,?,?,?)`,
			a.ID, e.Status, e.Detail, now); err != nil {
			return false, err
		}
	}
	return true, nil
}

// StartAttempts counts one more try of each delivery.
func (db *DB) StartAttempts(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(ids); start += 500 {
			chunk := ids[start:min(start+500, len(ids))]
			args := make([]any, len(chunk))
			for i, id := range chunk {
				args[i] = id
			}
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET attempts = attempts + 1 WHERE id IN (`+
				placeholders(len(chunk))+`)`, args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// AddDeliveryEvent records a step of a delivery's history, marked as a note: no status changed.
func (db *DB) AddDeliveryEvent(ctx context.Context, e relais.DeliveryEvent) error {
	if e.At.IsZero() {
		e.At = db.now()
	}
	_, err := db.write.ExecContext(ctx, `INSERT INTO delivery_events (delivery_id, status, detail, at, note) VALUES (?,?,?,?,1)`,
		e.DeliveryID, e.Status, e.Detail, ms(e.At))
	return err
}

// DeliveryEvents returns a delivery's history, oldest first.
func (db *DB) DeliveryEvents(ctx context.Context, id int64) ([]relais.DeliveryEvent, error) {
	return queryAll(ctx, db.read, func(row rowScanner) (relais.DeliveryEvent, error) {
		var e relais.DeliveryEvent
		var at int64
		if err := row.Scan(&e.DeliveryID, &e.Status, &e.Detail, &at); err != nil {
			return e, err
		}
		e.At = fromMS(at)
		return e, nil
	}, `SELECT delivery_id, status, detail, at FROM delivery_events
		WHERE delivery_id = ? ORDER BY id`, id)
}

// DeliveryCounts counts a lesson's deliveries per channel and status, every lesson's when lessonID is 0.
func (db *DB) DeliveryCounts(ctx context.Context, lessonID int64) ([]relais.DeliveryCount, error) {
	q, args := `SELECT channel, status, COUNT(*) FROM deliveries WHERE lesson_id = ?`, []any{lessonID}
	if lessonID == 0 {
		q, args = `SELECT channel, status, COUNT(*) FROM deliveries`, nil
	}
	return queryAll(ctx, db.read, func(row rowScanner) (relais.DeliveryCount, error) {
		var c relais.DeliveryCount
		if err := row.Scan(&c.Channel, &c.Status, &c.Count); err != nil {
			return c, err
		}
		return c, nil
	}, q+` GROUP BY channel, status ORDER BY channel, status`, args...)
}

// ClaimContact makes deliveryID the holder of (lesson, channel, contact) unless another delivery holds it.
func (db *DB) ClaimContact(ctx context.Context, lessonID int64, channel relais.ChannelName, contact string, deliveryID int64) (int64, error) {
	owners, err := db.ClaimContacts(ctx, []relais.ContactClaim{{LessonID: lessonID, Channel: channel, Contact: contact, DeliveryID: deliveryID}})
	return owners[deliveryID], err
}

// ClaimContacts claims a page of contacts in one transaction.
func (db *DB) ClaimContacts(ctx context.Context, claims []relais.ContactClaim) (map[int64]int64, error) {
	owners := make(map[int64]int64, len(claims))
	if len(claims) == 0 {
		return owners, nil
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO contact_claims (lesson_id, channel, contact, delivery_id)
			VALUES (?,?,?,?) ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer ins.Close()
		sel, err := tx.PrepareContext(ctx, `SELECT delivery_id FROM contact_claims WHERE lesson_id = ? AND channel = ? AND contact = ?`)
		if err != nil {
			return err
		}
		defer sel.Close()
		for _, c := range claims {
			if _, err := ins.ExecContext(ctx, c.LessonID, c.Channel, c.Contact, c.DeliveryID); err != nil {
				return err
			}
			var owner int64
			if err := sel.QueryRowContext(ctx, c.LessonID, c.Channel, c.Contact).Scan(&owner); err != nil {
				return err
			}
			owners[c.DeliveryID] = owner
		}
		return nil
	})
	return owners, err
}
