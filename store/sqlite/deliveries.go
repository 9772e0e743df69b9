package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/internal/sqlstore"
)

const deliveryColumns = sqlstore.DeliveryColumns

var scanDelivery = sqlstore.ScanDelivery

func (db *DB) queryDeliveries(ctx context.Context, q string, args ...any) ([]relais.Delivery, error) {
	return queryAll(ctx, db.read, scanDelivery, q, args...)
}

// PlanDeliveries inserts pending deliveries, leaving existing (lesson, household, channel) rows as they
// are, sets each delivery's ID and Status to its row's, and returns the ids of the given keys that are
// still pending. A row planned pending without a reason, a fan-out's, has its first event implied
// (implied_start, migration 00024): its row says all the event would; such rows are counted in
// delivery_counts and delivery_minutes once per lesson and channel of the call, not row by row by the
// triggers (migration 00025).
func (db *DB) PlanDeliveries(ctx context.Context, ds []relais.Delivery) ([]int64, error) {
	return db.PlanPage(ctx, ds, nil)
}

// PlanPage is PlanDeliveries with the page's sender choices written in the same transaction
// (rememberSenders).
func (db *DB) PlanPage(ctx context.Context, ds []relais.Delivery, senders []relais.SenderChoice) ([]int64, error) {
	if len(ds) == 0 {
		if len(senders) == 0 {
			return nil, nil
		}
		return nil, db.inTx(ctx, func(tx *sql.Tx) error { return rememberSenders(ctx, tx, senders) })
	}
	now := ms(db.now())
	var ids []int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		ids = nil
		if err := rememberSenders(ctx, tx, senders); err != nil {
			return err
		}
		st, err := prepare(ctx, tx, `INSERT INTO deliveries (lesson_id, household_id, channel, status, reason,
			created_at, updated_at, implied_start) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (lesson_id, household_id, channel) DO NOTHING`,
			`SELECT id, status FROM deliveries WHERE lesson_id = ? AND household_id = ? AND channel = ?`, insertEvent)
		if err != nil {
			return err
		}
		defer closeAll(st)
		ins, sel, ev := st[0], st[1], st[2]
		type group struct {
			lesson  int64
			channel relais.ChannelName
		}
		implicit := map[group]int{} // rows planned with implied_start, per lesson and channel
		for i, d := range ds {
			status := d.Status
			if status == "" {
				status = relais.DeliveryPending
			}
			implied := status == relais.DeliveryPending && d.Reason == ""
			res, err := ins.ExecContext(ctx, d.LessonID, d.HouseholdID, d.Channel, status, d.Reason, now, now, implied)
			if err != nil {
				return fmt.Errorf("plan delivery: %w", err)
			}
			var id int64
			cur := status
			if n, _ := res.RowsAffected(); n == 1 { // planned now: its id is the insert's, no lookup
				if id, err = res.LastInsertId(); err != nil {
					return err
				}
				if implied { // its first event is the row itself (00024), counted below (00025)
					implicit[group{d.LessonID, d.Channel}]++
				} else if _, err := ev.ExecContext(ctx, id, status, d.Reason, now); err != nil {
					return err
				}
			} else if err := sel.QueryRowContext(ctx, d.LessonID, d.HouseholdID, d.Channel).Scan(&id, &cur); err != nil {
				return err
			}
			ds[i].ID, ds[i].Status = id, cur
			if cur == relais.DeliveryPending {
				ids = append(ids, id)
			}
		}
		for g, n := range implicit {
			if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_counts (lesson_id, channel, status, reason, n)
				VALUES (?, ?, 'pending', '', ?) ON CONFLICT (lesson_id, channel, status, reason) DO UPDATE SET n = n + excluded.n`,
				g.lesson, g.channel, n); err != nil {
				return fmt.Errorf("count planned deliveries: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_minutes (minute, lesson_id, channel, status, changes, opted_out)
				VALUES (?, ?, ?, 'pending', ?, 0) ON CONFLICT (minute, lesson_id, channel, status) DO UPDATE SET changes = changes + excluded.changes`,
				now/60000, g.lesson, g.channel, n); err != nil {
				return fmt.Errorf("count planned deliveries: %w", err)
			}
		}
		return nil
	})
	return ids, err
}

// rememberSenders sets each choice's sender on its household while the household remembers the
// choice's Was (a prepared statement, one run per choice); a household that remembers another sets
// the choice's Sender to it.
func rememberSenders(ctx context.Context, tx *sql.Tx, senders []relais.SenderChoice) error {
	if len(senders) == 0 {
		return nil
	}
	st, err := prepare(ctx, tx, `UPDATE households SET sms_sender = ? WHERE id = ? AND sms_sender IS ?`,
		`SELECT sms_sender FROM households WHERE id = ?`)
	if err != nil {
		return err
	}
	defer closeAll(st)
	set, get := st[0], st[1]
	for i, c := range senders {
		res, err := set.ExecContext(ctx, c.Sender, c.HouseholdID, nullText(c.Was))
		if err != nil {
			return fmt.Errorf("remember the sms sender of household %d: %w", c.HouseholdID, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			continue
		}
		var now sql.NullString
		switch err := get.QueryRowContext(ctx, c.HouseholdID).Scan(&now); {
		case errors.Is(err, sql.ErrNoRows): // removed meanwhile: its deliveries are not planned
		case err != nil:
			return err
		default:
			senders[i].Sender = now.String
		}
	}
	return nil
}

// nullText is s, or NULL for "".
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
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
		// Only a reminder that has left is re-armed: a pending or claimed one may be in a send task
		// right now.
		rearm, err := tx.PrepareContext(ctx, `UPDATE deliveries SET status = ?, reason = '', provider_id = '', attempts = 0,
			occurrence = ?, updated_at = ? WHERE lesson_id = ? AND household_id = ? AND channel = ? AND occurrence < ?
			AND status NOT IN (?, ?) RETURNING id`)
		if err != nil {
			return err
		}
		defer rearm.Close()
		st, err := prepare(ctx, tx, `SELECT id, status, occurrence FROM deliveries WHERE lesson_id = ? AND household_id = ? AND channel = ?`,
			insertEvent)
		if err != nil {
			return err
		}
		defer closeAll(st)
		sel, ev := st[0], st[1]
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
					d.Channel, d.Occurrence, relais.DeliveryPending, relais.DeliveryClaimed).Scan(&id)
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
			case (cur == relais.DeliveryPending || cur == relais.DeliveryClaimed) && occurrence < d.Occurrence:
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
		st := db.send.in(ctx, tx)
		for i, a := range as {
			var err error
			if changed[i], err = st.advance(ctx, a, ms(db.now())); err != nil {
				return err
			}
		}
		return nil
	})
	return changed, err
}

// CommitSends applies the steps of send attempts in one transaction (see relais.DeliveryStore).
func (db *DB) CommitSends(ctx context.Context, steps []relais.SendStep) ([][]int64, error) {
	claimed := make([][]int64, len(steps))
	work := false
	for _, s := range steps {
		work = work || len(s.Advances) > 0 || len(s.Claims) > 0
	}
	if !work {
		return claimed, nil
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		st := db.send.in(ctx, tx)
		now := ms(db.now())
		for i, s := range steps {
			for _, a := range s.Advances {
				if _, err := st.advance(ctx, a, now); err != nil {
					return err
				}
			}
			var err error
			if claimed[i], err = st.claimPending(ctx, s.Claims, s.Attempt, ms(s.At)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return claimed, nil
}

// sendStmts are the statements of the send path (advances and claims), prepared once on the write
// connection: preparing a statement that updates deliveries compiles the triggers on the table, which
// took a third of the send path's database time when every transaction prepared its own.
type sendStmts struct {
	read, update, setProvider, event, claim *sql.Stmt
}

func (s *sendStmts) prepare(ctx context.Context, write *sql.DB) error {
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{
		{&s.read, `SELECT status, provider_id FROM deliveries WHERE id = ?`},
		{&s.update, `UPDATE deliveries SET status = ?, reason = ?, provider_id = ?, updated_at = ? WHERE id = ?`},
		{&s.setProvider, `UPDATE deliveries SET provider_id = ? WHERE id = ?`},
		{&s.event, insertEvent},
		// One id per run: a list bound to json_each(?) made SQLite prepare the statement again (and
		// compile the table's triggers) at every run, the table-valued function's argument being
		// part of its plan; that was a tenth of the send path's CPU.
		{&s.claim, `UPDATE deliveries SET status = ?, claimed_by = ?, claimed_at = ?, updated_at = ?
			WHERE id = ? AND status = ? RETURNING id`},
	} {
		st, err := write.PrepareContext(ctx, p.q)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.q, err)
		}
		*p.st = st
	}
	return nil
}

func (s *sendStmts) close() {
	for _, st := range []*sql.Stmt{s.read, s.update, s.setProvider, s.event, s.claim} {
		if st != nil {
			st.Close()
		}
	}
}

// in returns the statements for use in tx (the write connection's, already prepared).
func (s *sendStmts) in(ctx context.Context, tx *sql.Tx) txSendStmts {
	return txSendStmts{read: tx.StmtContext(ctx, s.read), update: tx.StmtContext(ctx, s.update),
		setProvider: tx.StmtContext(ctx, s.setProvider), event: tx.StmtContext(ctx, s.event), claim: tx.StmtContext(ctx, s.claim)}
}

// txSendStmts are sendStmts in a transaction.
type txSendStmts struct {
	read, update, setProvider, event, claim *sql.Stmt
}

// advance applies a in the transaction and reports whether the status changed.
func (st txSendStmts) advance(ctx context.Context, a relais.DeliveryAdvance, now int64) (bool, error) {
	var cur relais.DeliveryStatus
	var curProvider string
	err := st.read.QueryRowContext(ctx, a.ID).Scan(&cur, &curProvider)
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
			_, err = st.setProvider.ExecContext(ctx, providerID, a.ID)
		}
		return false, err
	}
	reason := ""
	if a.Status == relais.DeliveryFailed || a.Status == relais.DeliveryUndelivered || a.Status == relais.DeliverySkipped ||
		a.Status == relais.DeliveryUnknown {
		reason = a.Detail
	}
	if _, err := st.update.ExecContext(ctx, a.Status, reason, providerID, now, a.ID); err != nil {
		return false, err
	}
	events := []relais.DeliveryAdvance{a}
	if (a.Status == relais.DeliveryDelivered || a.Status == relais.DeliveryUndelivered) && cur.Advances(relais.DeliverySent) {
		// The carrier reported on a message whose "sent" was lost or came late: it was sent all the
		// same, and the history (and the dashboard's "sent" line) says so.
		events = []relais.DeliveryAdvance{{Status: relais.DeliverySent, Detail: "implied by " + string(a.Status)}, a}
	}
	for _, e := range events {
		if _, err := st.event.ExecContext(ctx, a.ID, e.Status, e.Detail, now); err != nil {
			return false, err
		}
	}
	return true, nil
}

// claimPending moves the pending ones of ids to claimed by attempt at now and returns them, sorted.
func (st txSendStmts) claimPending(ctx context.Context, ids []int64, attempt string, now int64) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var got []int64
	for _, id := range ids {
		rows, err := st.claim.QueryContext(ctx, relais.DeliveryClaimed, attempt, now, now, id, relais.DeliveryPending)
		if err != nil {
			return nil, err
		}
		one, err := collectIDs(rows)
		if err != nil {
			return nil, err
		}
		got = append(got, one...)
	}
	slices.Sort(got)
	return slices.Compact(got), nil
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

// ClaimDeliveries moves the pending ones of ids to claimed by attempt (see relais.DeliveryStore).
func (db *DB) ClaimDeliveries(ctx context.Context, ids []int64, attempt string, now time.Time) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	claimed, err := db.CommitSends(ctx, []relais.SendStep{{Claims: ids, Attempt: attempt, At: now}})
	if err != nil {
		return nil, err
	}
	return claimed[0], nil
}

// ReleaseClaims moves back to pending the ones of ids claimed by attempt.
func (db *DB) ReleaseClaims(ctx context.Context, ids []int64, attempt string) ([]int64, error) {
	return db.moveChunks(ctx, ids, `UPDATE deliveries SET status = ?, updated_at = ?
		WHERE status = ? AND claimed_by = ? AND id IN (%s) RETURNING id`, relais.DeliveryPending, ms(db.now()), relais.DeliveryClaimed, attempt)
}

// moveChunks runs q (whose %s takes the placeholders of a chunk of ids, after args) over ids in one
// transaction and returns the ids it returned, sorted.
func (db *DB) moveChunks(ctx context.Context, ids []int64, q string, args ...any) ([]int64, error) {
	var moved []int64
	if len(ids) == 0 {
		return nil, nil
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		moved = nil
		for start := 0; start < len(ids); start += 500 {
			chunk := ids[start:min(start+500, len(ids))]
			a := append([]any{}, args...)
			for _, id := range chunk {
				a = append(a, id)
			}
			rows, err := tx.QueryContext(ctx, fmt.Sprintf(q, placeholders(len(chunk))), a...)
			if err != nil {
				return err
			}
			got, err := collectIDs(rows)
			if err != nil {
				return err
			}
			moved = append(moved, got...)
		}
		return nil
	})
	slices.Sort(moved)
	return moved, err
}

// RefreshClaims sets the claim time of attempt's claims and reservations among ids to now.
func (db *DB) RefreshClaims(ctx context.Context, attempt string, ids []int64, now time.Time) error {
	_, err := db.moveChunks(ctx, ids, `UPDATE deliveries SET claimed_at = ? WHERE claimed_by = ? AND status IN (?, ?) AND id IN (%s) RETURNING id`,
		ms(now), attempt, relais.DeliveryClaimed, relais.DeliveryPending)
	return err
}

// ReserveDeliveries marks the pending ones of ids as attempt's page.
func (db *DB) ReserveDeliveries(ctx context.Context, ids []int64, attempt string, now time.Time) error {
	_, err := db.moveChunks(ctx, ids, `UPDATE deliveries SET claimed_by = ?, claimed_at = ? WHERE status = ? AND id IN (%s) RETURNING id`,
		attempt, ms(now), relais.DeliveryPending)
	return err
}

// ClearReservations ends attempt's reservations of the pending deliveries among ids.
func (db *DB) ClearReservations(ctx context.Context, attempt string, ids []int64) error {
	_, err := db.moveChunks(ctx, ids, `UPDATE deliveries SET claimed_by = '' WHERE claimed_by = ? AND status = ? AND id IN (%s) RETURNING id`,
		attempt, relais.DeliveryPending)
	return err
}

// ReclaimReserved hands stale reservations of channel to attempt.
func (db *DB) ReclaimReserved(ctx context.Context, channel relais.ChannelName, before time.Time, attempt string, now time.Time, limit int) ([]int64, error) {
	var ids []int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		ids = nil
		rows, err := tx.QueryContext(ctx, `UPDATE deliveries SET claimed_by = ?, claimed_at = ? WHERE id IN (
			SELECT id FROM deliveries WHERE status = ? AND channel = ? AND claimed_by <> '' AND claimed_at < ? ORDER BY claimed_at LIMIT ?)
			AND status = ? AND claimed_by <> '' AND claimed_at < ? RETURNING id`, attempt, ms(now), relais.DeliveryPending, channel,
			ms(before), limit, relais.DeliveryPending, ms(before))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	slices.Sort(ids)
	return ids, err
}

// ReclaimDeliveries hands claims of channel not refreshed since before to attempt. The update re-checks
// the claim time, so that a claim another sweeper took in between is left to it.
func (db *DB) ReclaimDeliveries(ctx context.Context, channel relais.ChannelName, before time.Time, attempt string, now time.Time, limit int) ([]relais.Delivery, error) {
	var out []relais.Delivery
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		out = nil
		rows, err := tx.QueryContext(ctx, `SELECT id, claimed_by FROM deliveries WHERE status = ? AND channel = ? AND claimed_at < ?
			ORDER BY claimed_at LIMIT ?`, relais.DeliveryClaimed, channel, ms(before), limit)
		if err != nil {
			return err
		}
		held := map[int64]string{}
		var args []any
		for rows.Next() {
			var id int64
			var by string
			if err := rows.Scan(&id, &by); err != nil {
				rows.Close()
				return err
			}
			held[id] = by
			args = append(args, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(args) == 0 {
			return err
		}
		args = append([]any{attempt, ms(now), relais.DeliveryClaimed, ms(before)}, args...)
		rows, err = tx.QueryContext(ctx, `UPDATE deliveries SET claimed_by = ?, claimed_at = ? WHERE status = ? AND claimed_at < ?
			AND id IN (`+placeholders(len(args)-4)+`) RETURNING `+deliveryColumns, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDelivery(rows)
			if err != nil {
				return err
			}
			d.ClaimedBy = held[d.ID]
			out = append(out, d)
		}
		return rows.Err()
	})
	slices.SortFunc(out, func(a, b relais.Delivery) int { return int(a.ID - b.ID) })
	return out, err
}

// ResendUnknown moves a lesson's unknown deliveries back to pending, with an event each.
func (db *DB) ResendUnknown(ctx context.Context, lessonID int64) ([]int64, error) {
	var ids []int64
	now := ms(db.now())
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		ids = nil
		rows, err := tx.QueryContext(ctx, `UPDATE deliveries SET status = ?, reason = '', claimed_by = '', updated_at = ?
			WHERE lesson_id = ? AND status = ? RETURNING id`, relais.DeliveryPending, now, lessonID, relais.DeliveryUnknown)
		if err != nil {
			return err
		}
		if ids, err = collectIDs(rows); err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_events (delivery_id, status, detail, at) VALUES (?,?,?,?)`,
				id, relais.DeliveryPending, "resent by the media unit after an unknown outcome", now); err != nil {
				return err
			}
		}
		return nil
	})
	slices.Sort(ids)
	return ids, err
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

// DeliveryCounts counts a lesson's deliveries per channel and status, every lesson's when lessonID is 0,
// from delivery_counts, which triggers keep (migration 00011): a few rows per lesson, however many
// deliveries it has.
func (db *DB) DeliveryCounts(ctx context.Context, lessonID int64) ([]relais.DeliveryCount, error) {
	q, args := `SELECT channel, status, SUM(n) FROM delivery_counts WHERE lesson_id = ?`, []any{lessonID}
	if lessonID == 0 {
		q, args = `SELECT channel, status, SUM(n) FROM delivery_counts`, nil
	}
	return queryAll(ctx, db.read, sqlstore.ScanDeliveryCount, q+` GROUP BY channel, status HAVING SUM(n) <> 0 ORDER BY channel, status`, args...)
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
