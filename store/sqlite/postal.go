package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/internal/sqlstore"
)

const postalBatchColumns = `id, lesson_id, region, status, reason, households, pdf_path, pdf_bytes, csv_path,
	created_by, created_at, updated_at, printed_at, posted_at`

func scanPostalBatch(row interface{ Scan(...any) error }) (relais.PostalBatch, error) {
	var b relais.PostalBatch
	var created, updated, printed, posted int64
	err := row.Scan(&b.ID, &b.LessonID, &b.Region, &b.Status, &b.Reason, &b.Households, &b.PDFPath, &b.PDFBytes,
		&b.CSVPath, &b.CreatedBy, &created, &updated, &printed, &posted)
	b.CreatedAt, b.UpdatedAt = fromMS(created), fromMS(updated)
	if printed > 0 {
		b.PrintedAt = fromMS(printed)
	}
	if posted > 0 {
		b.PostedAt = fromMS(posted)
	}
	return b, err
}

// CreatePostalBatch creates a pending batch holding up to max queued postal deliveries with providerID
// that no batch holds yet.
func (db *DB) CreatePostalBatch(ctx context.Context, b *relais.PostalBatch, providerID string, max int) error {
	now := db.now()
	limit := int64(max)
	if max <= 0 {
		limit = -1 // SQLite: no limit
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO postal_batches (lesson_id, region, status, created_by, created_at,
			updated_at) VALUES (?,?,?,?,?,?) RETURNING id`, b.LessonID, b.Region, relais.PostalBatchPending, b.CreatedBy,
			ms(now), ms(now)).Scan(&b.ID)
		if err != nil {
			return fmt.Errorf("create postal batch: %w", err)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO postal_batch_deliveries (delivery_id, batch_id)
			SELECT d.id, ? FROM deliveries d WHERE d.channel = ? AND d.provider_id = ? AND d.lesson_id = ? AND d.status = ?
			AND NOT EXISTS (SELECT 1 FROM postal_batch_deliveries p WHERE p.delivery_id = d.id) ORDER BY d.id LIMIT ?`,
			b.ID, relais.ChannelPostal, providerID, b.LessonID, relais.DeliveryQueued, limit)
		if err != nil {
			return fmt.Errorf("fill postal batch: %w", err)
		}
		n, _ := res.RowsAffected()
		if n == 0 {
			return relais.Errorf(relais.EINVALID, "No postal packet of lesson %d for region %q is waiting for a batch.",
				b.LessonID, b.Region)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE postal_batches SET households = ? WHERE id = ?`, n, b.ID); err != nil {
			return err
		}
		b.Households, b.Status, b.CreatedAt, b.UpdatedAt = int(n), relais.PostalBatchPending, fromMS(ms(now)), fromMS(ms(now))
		return nil
	})
}

// PostalBatch returns one batch.
func (db *DB) PostalBatch(ctx context.Context, id int64) (relais.PostalBatch, error) {
	b, err := scanPostalBatch(db.read.QueryRowContext(ctx, `SELECT `+postalBatchColumns+` FROM postal_batches WHERE id = ?`, id))
	return b, sqlstore.OrNotFound(err, func() error { return relais.Errorf(relais.ENOTFOUND, "Postal batch %d not found.", id) })
}

// PostalBatches lists batches in id order after the page cursor.
func (db *DB) PostalBatches(ctx context.Context, f relais.PostalBatchFilter) ([]relais.PostalBatch, error) {
	p := f.Page.Normalize()
	w := sqlstore.Where{SQL: `SELECT ` + postalBatchColumns + ` FROM postal_batches WHERE id > ?`, Args: []any{p.After}}
	w.And(f.LessonID > 0, `lesson_id = ?`, f.LessonID)
	w.And(f.Region != "", `region = ?`, f.Region)
	w.And(f.Status != "", `status = ?`, f.Status)
	return queryAll(ctx, db.read, scanPostalBatch, w.SQL+` ORDER BY id LIMIT ?`, append(w.Args, p.Limit)...)
}

// PostalPackets returns a page of a batch's households in delivery id order.
func (db *DB) PostalPackets(ctx context.Context, batchID int64, p relais.Page) ([]relais.PostalPacket, error) {
	p = p.Normalize()
	rows, err := db.read.QueryContext(ctx, `SELECT p.delivery_id, `+sqlstore.HouseholdColumns+` FROM postal_batch_deliveries p
		JOIN deliveries d ON d.id = p.delivery_id JOIN households h ON h.id = d.household_id
		WHERE p.batch_id = ? AND p.delivery_id > ? ORDER BY p.delivery_id LIMIT ?`, batchID, p.After, p.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []relais.PostalPacket
	for rows.Next() {
		var id int64
		h, err := sqlstore.ScanHousehold(scanFunc(func(dest ...any) error { return rows.Scan(append([]any{&id}, dest...)...) }))
		if err != nil {
			return nil, err
		}
		out = append(out, relais.PostalPacket{DeliveryID: id, Household: h})
	}
	return out, rows.Err()
}

// scanFunc lets a function stand in for a row.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// SetPostalBatchReady records the files of a pending batch.
func (db *DB) SetPostalBatchReady(ctx context.Context, id int64, pdfPath string, pdfBytes int64, csvPath string) error {
	res, err := db.write.ExecContext(ctx, `UPDATE postal_batches SET status = ?, reason = '', pdf_path = ?, pdf_bytes = ?,
		csv_path = ?, updated_at = ? WHERE id = ? AND status IN (?, ?)`, relais.PostalBatchReady, pdfPath, pdfBytes, csvPath,
		ms(db.now()), id, relais.PostalBatchPending, relais.PostalBatchReady)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return relais.Errorf(relais.ECONFLICT, "Postal batch %d is not being made.", id)
	}
	return nil
}

// SetPostalBatchFailed records why a pending batch's files could not be made, and lets its deliveries
// go in a new batch.
func (db *DB) SetPostalBatchFailed(ctx context.Context, id int64, reason string) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE postal_batches SET status = ?, reason = ?, updated_at = ?
			WHERE id = ? AND status = ?`, relais.PostalBatchFailed, reason, ms(db.now()), id, relais.PostalBatchPending)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM postal_batch_deliveries WHERE batch_id = ?`, id)
		return err
	})
}

// MarkPostalBatch moves a batch to printed or posted; posted sends its deliveries.
func (db *DB) MarkPostalBatch(ctx context.Context, id int64, status relais.PostalBatchStatus) (relais.PostalBatch, error) {
	var b relais.PostalBatch
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		b, err = scanPostalBatch(tx.QueryRowContext(ctx, `SELECT `+postalBatchColumns+` FROM postal_batches WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return relais.Errorf(relais.ENOTFOUND, "Postal batch %d not found.", id)
		} else if err != nil {
			return err
		}
		if b.Status == status {
			return nil // marking twice is harmless
		}
		if !b.Status.Next(status) {
			return relais.Errorf(relais.ECONFLICT, "Postal batch %d is %s; it cannot be marked %s.", id, b.Status, status)
		}
		now := db.now()
		col := "printed_at"
		if status == relais.PostalBatchPosted {
			col = "posted_at"
		}
		if _, err := tx.ExecContext(ctx, `UPDATE postal_batches SET status = ?, updated_at = ?, `+col+` = ? WHERE id = ?`,
			status, ms(now), ms(now), id); err != nil {
			return err
		}
		b.Status, b.UpdatedAt = status, fromMS(ms(now))
		if status == relais.PostalBatchPrinted {
			b.PrintedAt = b.UpdatedAt
			return nil
		}
		b.PostedAt = b.UpdatedAt
		detail := fmt.Sprintf("posted in postal batch %d", id)
		if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_events (delivery_id, status, detail, at)
			SELECT d.id, ?, ?, ? FROM postal_batch_deliveries p JOIN deliveries d ON d.id = p.delivery_id
			WHERE p.batch_id = ? AND d.status IN (?, ?)`, relais.DeliverySent, detail, ms(now), id,
			relais.DeliveryQueued, relais.DeliverySending); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE deliveries SET status = ?, updated_at = ?
			WHERE id IN (SELECT delivery_id FROM postal_batch_deliveries WHERE batch_id = ?) AND status IN (?, ?)`,
			relais.DeliverySent, ms(now), id, relais.DeliveryQueued, relais.DeliverySending)
		return err
	})
	return b, err
}

// RecordBounce keeps one recipient's report and adds it to the delivery's history.
func (db *DB) RecordBounce(ctx context.Context, b relais.EmailBounce) (bool, error) {
	at := b.At
	if at.IsZero() {
		at = db.now()
	}
	inserted := false
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO email_bounces (recipient, delivery_id, message_id, action, status, hard,
			diagnostic, at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`, b.Recipient, b.DeliveryID, b.MessageID,
			b.Action, b.Status, boolInt(b.Hard), b.Diagnostic, ms(at))
		if err != nil {
			return fmt.Errorf("record bounce: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 || b.DeliveryID == 0 {
			inserted = n == 1
			return nil
		}
		inserted = true
		kind := "soft"
		if b.Hard {
			kind = "hard"
		}
		detail := strings.TrimSpace(fmt.Sprintf("%s bounce: %s %s %s", kind, b.Action, b.Status, b.Diagnostic))
		_, err = tx.ExecContext(ctx, `INSERT INTO delivery_events (delivery_id, status, detail, at, note)
			SELECT id, status, ?, ?, 1 FROM deliveries WHERE id = ?`, detail, ms(at), b.DeliveryID)
		return err
	})
	return inserted, err
}
