package sqlstore

import (
	"context"
	"fmt"
	"strings"

	relais "github.com/relais-edu/relais"
)

const postalBatchColumns = `id, lesson_id, region, status, reason, households, pdf_path, pdf_bytes, csv_path,
	created_by, created_at, updated_at, printed_at, posted_at`

func scanPostalBatch(row Row) (relais.PostalBatch, error) {
	var b relais.PostalBatch
	err := row.Scan(&b.ID, &b.LessonID, &b.Region, &b.Status, &b.Reason, &b.Households, &b.PDFPath, &b.PDFBytes,
		&b.CSVPath, &b.CreatedBy, Time(&b.CreatedAt), Time(&b.UpdatedAt), OptTime(&b.PrintedAt), OptTime(&b.PostedAt))
	return b, err
}

func postalBatchNotFound(id int64) func() error {
	return func() error { return relais.Errorf(relais.ENOTFOUND, "Postal batch %d not found.", id) }
}

// CreatePostalBatch creates a pending batch holding up to max queued postal deliveries with providerID
// that no batch holds yet. Two batches made at once never hold the same delivery: the second waits for
// the first's claims and leaves them (ON CONFLICT DO NOTHING).
func (st Store) CreatePostalBatch(ctx context.Context, b *relais.PostalBatch, providerID string, max int) error {
	now := stamp(st.e.Now())
	limit := st.d.NoLimit
	if max > 0 {
		limit = int64(max)
	}
	return st.e.InTx(ctx, func(tx Querier) error {
		err := tx.QueryRow(ctx, `INSERT INTO postal_batches (lesson_id, region, status, created_by, created_at,
			updated_at) VALUES (?,?,?,?,?,?) RETURNING id`, b.LessonID, b.Region, relais.PostalBatchPending, b.CreatedBy,
			st.e.Time(now), st.e.Time(now)).Scan(&b.ID)
		if err != nil {
			return fmt.Errorf("create postal batch: %w", err)
		}
		n, err := tx.Exec(ctx, `INSERT INTO postal_batch_deliveries (delivery_id, batch_id)
			SELECT d.id, ? FROM deliveries d WHERE d.channel = ? AND d.provider_id = ? AND d.lesson_id = ? AND d.status = ?
			AND NOT EXISTS (SELECT 1 FROM postal_batch_deliveries p WHERE p.delivery_id = d.id) ORDER BY d.id LIMIT ?
			ON CONFLICT (delivery_id) DO NOTHING`,
			b.ID, relais.ChannelPostal, providerID, b.LessonID, relais.DeliveryQueued, limit)
		if err != nil {
			return fmt.Errorf("fill postal batch: %w", err)
		}
		if n == 0 {
			return relais.Errorf(relais.EINVALID, "No postal packet of lesson %d for region %q is waiting for a batch.",
				b.LessonID, b.Region)
		}
		if _, err := tx.Exec(ctx, `UPDATE postal_batches SET households = ? WHERE id = ?`, n, b.ID); err != nil {
			return err
		}
		b.Households, b.Status, b.CreatedAt, b.UpdatedAt = int(n), relais.PostalBatchPending, now, now
		return nil
	})
}

// PostalBatch returns one batch.
func (st Store) PostalBatch(ctx context.Context, id int64) (relais.PostalBatch, error) {
	b, err := scanPostalBatch(st.e.Read().QueryRow(ctx, `SELECT `+postalBatchColumns+` FROM postal_batches WHERE id = ?`, id))
	return b, orNotFound(err, postalBatchNotFound(id))
}

// PostalBatches lists batches in id order after the page cursor.
func (st Store) PostalBatches(ctx context.Context, f relais.PostalBatchFilter) ([]relais.PostalBatch, error) {
	p := f.Page.Normalize()
	w := Where{SQL: `SELECT ` + postalBatchColumns + ` FROM postal_batches WHERE id > ?`, Args: []any{p.After}}
	w.And(f.LessonID > 0, `lesson_id = ?`, f.LessonID)
	w.And(f.Region != "", `region = ?`, f.Region)
	w.And(f.Status != "", `status = ?`, f.Status)
	return QueryAll(ctx, st.e.Read(), scanPostalBatch, w.SQL+` ORDER BY id LIMIT ?`, append(w.Args, p.Limit)...)
}

// PostalPackets returns a page of a batch's households in delivery id order.
func (st Store) PostalPackets(ctx context.Context, batchID int64, p relais.Page) ([]relais.PostalPacket, error) {
	p = p.Normalize()
	return QueryAll(ctx, st.e.Read(), func(row Row) (relais.PostalPacket, error) {
		var id int64
		h, err := ScanHousehold(scanHead(row, &id))
		return relais.PostalPacket{DeliveryID: id, Household: h}, err
	}, `SELECT p.delivery_id, `+HouseholdColumns+` FROM postal_batch_deliveries p
		JOIN deliveries d ON d.id = p.delivery_id JOIN households h ON h.id = d.household_id
		WHERE p.batch_id = ? AND p.delivery_id > ? ORDER BY p.delivery_id LIMIT ?`, batchID, p.After, p.Limit)
}

// SetPostalBatchReady records the files of a pending batch.
func (st Store) SetPostalBatchReady(ctx context.Context, id int64, pdfPath string, pdfBytes int64, csvPath string) error {
	n, err := st.e.Write().Exec(ctx, `UPDATE postal_batches SET status = ?, reason = '', pdf_path = ?, pdf_bytes = ?,
		csv_path = ?, updated_at = ? WHERE id = ? AND status IN (?, ?)`, relais.PostalBatchReady, pdfPath, pdfBytes, csvPath,
		st.e.Time(st.e.Now()), id, relais.PostalBatchPending, relais.PostalBatchReady)
	if err != nil {
		return err
	}
	if n == 0 {
		return relais.Errorf(relais.ECONFLICT, "Postal batch %d is not being made.", id)
	}
	return nil
}

// SetPostalBatchFailed records why a pending batch's files could not be made, and lets its deliveries
// go in a new batch.
func (st Store) SetPostalBatchFailed(ctx context.Context, id int64, reason string) error {
	return st.e.InTx(ctx, func(tx Querier) error {
		n, err := tx.Exec(ctx, `UPDATE postal_batches SET status = ?, reason = ?, updated_at = ?
			WHERE id = ? AND status = ?`, relais.PostalBatchFailed, reason, st.e.Time(st.e.Now()), id, relais.PostalBatchPending)
		if err != nil || n == 0 {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM postal_batch_deliveries WHERE batch_id = ?`, id)
		return err
	})
}

// MarkPostalBatch moves a batch to printed or posted; posted sends its deliveries.
func (st Store) MarkPostalBatch(ctx context.Context, id int64, status relais.PostalBatchStatus) (relais.PostalBatch, error) {
	var b relais.PostalBatch
	err := st.e.InTx(ctx, func(tx Querier) error {
		if err := st.e.Lock(ctx, tx, "postal_batches", id); err != nil {
			return err
		}
		var err error
		b, err = scanPostalBatch(tx.QueryRow(ctx, `SELECT `+postalBatchColumns+` FROM postal_batches WHERE id = ?`, id))
		if err != nil {
			return orNotFound(err, postalBatchNotFound(id))
		}
		if b.Status == status {
			return nil // marking twice is harmless
		}
		if !b.Status.Next(status) {
			return relais.Errorf(relais.ECONFLICT, "Postal batch %d is %s; it cannot be marked %s.", id, b.Status, status)
		}
		now := stamp(st.e.Now())
		col := "printed_at"
		if status == relais.PostalBatchPosted {
			col = "posted_at"
		}
		if _, err := tx.Exec(ctx, `UPDATE postal_batches SET status = ?, updated_at = ?, `+col+` = ? WHERE id = ?`,
			status, st.e.Time(now), st.e.Time(now), id); err != nil {
			return err
		}
		b.Status, b.UpdatedAt = status, now
		if status == relais.PostalBatchPrinted {
			b.PrintedAt = now
			return nil
		}
		b.PostedAt = now
		detail := fmt.Sprintf("posted in postal batch %d", id)
		if _, err := tx.Exec(ctx, `INSERT INTO delivery_events (delivery_id, status, detail, at)
			SELECT d.id, ?, ?, ? FROM postal_batch_deliveries p JOIN deliveries d ON d.id = p.delivery_id
			WHERE p.batch_id = ? AND d.status IN (?, ?) ORDER BY d.id`, relais.DeliverySent, detail, st.e.Time(now), id,
			relais.DeliveryQueued, relais.DeliverySending); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE deliveries SET status = ?, updated_at = ?
			WHERE id IN (SELECT delivery_id FROM postal_batch_deliveries WHERE batch_id = ?) AND status IN (?, ?)`,
			relais.DeliverySent, st.e.Time(now), id, relais.DeliveryQueued, relais.DeliverySending)
		return err
	})
	return b, err
}

// RecordBounce keeps one recipient's report and adds it to the delivery's history.
func (st Store) RecordBounce(ctx context.Context, b relais.EmailBounce) (bool, error) {
	at := b.At
	if at.IsZero() {
		at = st.e.Now()
	}
	inserted := false
	err := st.e.InTx(ctx, func(tx Querier) error {
		n, err := tx.Exec(ctx, `INSERT INTO email_bounces (recipient, delivery_id, message_id, action, status, hard,
			diagnostic, at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`, b.Recipient, b.DeliveryID, b.MessageID,
			b.Action, b.Status, b.Hard, b.Diagnostic, st.e.Time(at))
		if err != nil {
			return fmt.Errorf("record bounce: %w", err)
		}
		if n == 0 || b.DeliveryID == 0 {
			inserted = n == 1
			return nil
		}
		inserted = true
		kind := "soft"
		if b.Hard {
			kind = "hard"
		}
		detail := strings.TrimSpace(fmt.Sprintf("%s bounce: %s %s %s", kind, b.Action, b.Status, b.Diagnostic))
		_, err = tx.Exec(ctx, `INSERT INTO delivery_events (delivery_id, status, detail, at, note)
			SELECT id, status, ?, ?, ? FROM deliveries WHERE id = ?`, detail, st.e.Time(at), true, b.DeliveryID)
		return err
	})
	return inserted, err
}
