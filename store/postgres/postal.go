package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/internal/sqlstore"
)

const postalBatchColumns = `id, lesson_id, region, status, reason, households, pdf_path, pdf_bytes, csv_path,
	created_by, created_at, updated_at, printed_at, posted_at`

func scanPostalBatch(row rowScanner) (relais.PostalBatch, error) {
	var b relais.PostalBatch
	var printed, posted *time.Time
	err := row.Scan(&b.ID, &b.LessonID, &b.Region, &b.Status, &b.Reason, &b.Households, &b.PDFPath, &b.PDFBytes,
		&b.CSVPath, &b.CreatedBy, &b.CreatedAt, &b.UpdatedAt, &printed, &posted)
	b.CreatedAt, b.UpdatedAt = b.CreatedAt.UTC(), b.UpdatedAt.UTC()
	if printed != nil {
		b.PrintedAt = printed.UTC()
	}
	if posted != nil {
		b.PostedAt = posted.UTC()
	}
	return b, err
}

// CreatePostalBatch creates a pending batch holding up to max queued postal deliveries with providerID
// that no batch holds yet. Two batches made at once never hold the same delivery: the second waits for
// the first's claims and leaves them (ON CONFLICT DO NOTHING).
func (db *DB) CreatePostalBatch(ctx context.Context, b *relais.PostalBatch, providerID string, max int) error {
	now := ts(db.now())
	var limit *int64 // NULL: no limit
	if max > 0 {
		l := int64(max)
		limit = &l
	}
	return db.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO postal_batches (lesson_id, region, status, created_by, created_at,
			updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id`, b.LessonID, b.Region, relais.PostalBatchPending,
			b.CreatedBy, now).Scan(&b.ID)
		if err != nil {
			return fmt.Errorf("create postal batch: %w", err)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO postal_batch_deliveries (delivery_id, batch_id)
			SELECT d.id, $1 FROM deliveries d WHERE d.channel = $2 AND d.provider_id = $3 AND d.lesson_id = $4
			AND d.status = $5 AND NOT EXISTS (SELECT 1 FROM postal_batch_deliveries p WHERE p.delivery_id = d.id)
			ORDER BY d.id LIMIT $6
			ON CONFLICT (delivery_id) DO NOTHING`,
			b.ID, relais.ChannelPostal, providerID, b.LessonID, relais.DeliveryQueued, limit)
		if err != nil {
			return fmt.Errorf("fill postal batch: %w", err)
		}
		n := tag.RowsAffected()
		if n == 0 {
			return relais.Errorf(relais.EINVALID, "No postal packet of lesson %d for region %q is waiting for a batch.",
				b.LessonID, b.Region)
		}
		if _, err := tx.Exec(ctx, `UPDATE postal_batches SET households = $1 WHERE id = $2`, n, b.ID); err != nil {
			return err
		}
		b.Households, b.Status, b.CreatedAt, b.UpdatedAt = int(n), relais.PostalBatchPending, now, now
		return nil
	})
}

// PostalBatch returns one batch.
func (db *DB) PostalBatch(ctx context.Context, id int64) (relais.PostalBatch, error) {
	b, err := scanPostalBatch(db.pool.QueryRow(ctx, `SELECT `+postalBatchColumns+` FROM postal_batches WHERE id = $1`, id))
	return b, sqlstore.OrNotFound(err, func() error { return relais.Errorf(relais.ENOTFOUND, "Postal batch %d not found.", id) })
}

// PostalBatches lists batches in id order after the page cursor.
func (db *DB) PostalBatches(ctx context.Context, f relais.PostalBatchFilter) ([]relais.PostalBatch, error) {
	p := f.Page.Normalize()
	w := newWhere(`SELECT `+postalBatchColumns+` FROM postal_batches WHERE id > $1`, p.After)
	w.and(f.LessonID > 0, `lesson_id`, f.LessonID)
	w.and(f.Region != "", `region`, f.Region)
	w.and(f.Status != "", `status`, f.Status)
	limit := w.arg(p.Limit)
	return queryAll(ctx, db.pool, scanPostalBatch, w.sql+` ORDER BY id LIMIT `+limit, w.args...)
}

// PostalPackets returns a page of a batch's households in delivery id order.
func (db *DB) PostalPackets(ctx context.Context, batchID int64, p relais.Page) ([]relais.PostalPacket, error) {
	p = p.Normalize()
	return queryAll(ctx, db.pool, func(row rowScanner) (relais.PostalPacket, error) {
		var id int64
		h, err := sqlstore.ScanHousehold(sqlstore.ScanHead(row, &id))
		return relais.PostalPacket{DeliveryID: id, Household: h}, err
	}, `SELECT p.delivery_id, `+sqlstore.HouseholdColumns+` FROM postal_batch_deliveries p
		JOIN deliveries d ON d.id = p.delivery_id JOIN households h ON h.id = d.household_id
		WHERE p.batch_id = $1 AND p.delivery_id > $2 ORDER BY p.delivery_id LIMIT $3`, batchID, p.After, p.Limit)
}

// SetPostalBatchReady records the files of a pending batch.
func (db *DB) SetPostalBatchReady(ctx context.Context, id int64, pdfPath string, pdfBytes int64, csvPath string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE postal_batches SET status = $1, reason = '', pdf_path = $2, pdf_bytes = $3,
		csv_path = $4, updated_at = $5 WHERE id = $6 AND status IN ($7, $8)`, relais.PostalBatchReady, pdfPath, pdfBytes,
		csvPath, ts(db.now()), id, relais.PostalBatchPending, relais.PostalBatchReady)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return relais.Errorf(relais.ECONFLICT, "Postal batch %d is not being made.", id)
	}
	return nil
}

// SetPostalBatchFailed records why a pending batch's files could not be made, and lets its deliveries
// go in a new batch.
func (db *DB) SetPostalBatchFailed(ctx context.Context, id int64, reason string) error {
	return db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE postal_batches SET status = $1, reason = $2, updated_at = $3
			WHERE id = $4 AND status = $5`, relais.PostalBatchFailed, reason, ts(db.now()), id, relais.PostalBatchPending)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, `DELETE FROM postal_batch_deliveries WHERE batch_id = $1`, id)
		return err
	})
}

// MarkPostalBatch moves a batch to printed or posted; posted sends its deliveries.
func (db *DB) MarkPostalBatch(ctx context.Context, id int64, status relais.PostalBatchStatus) (relais.PostalBatch, error) {
	var b relais.PostalBatch
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		b, err = scanPostalBatch(tx.QueryRow(ctx, `SELECT `+postalBatchColumns+` FROM postal_batches WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
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
		now := ts(db.now())
		col := "printed_at"
		if status == relais.PostalBatchPosted {
			col = "posted_at"
		}
		if _, err := tx.Exec(ctx, `UPDATE postal_batches SET status = $1, updated_at = $2, `+col+` = $2 WHERE id = $3`,
			status, now, id); err != nil {
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
			SELECT d.id, $1, $2, $3 FROM postal_batch_deliveries p JOIN deliveries d ON d.id = p.delivery_id
			WHERE p.batch_id = $4 AND d.status IN ($5, $6) ORDER BY d.id`, relais.DeliverySent, detail, now, id,
			relais.DeliveryQueued, relais.DeliverySending); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE deliveries SET status = $1, updated_at = $2
			WHERE id IN (SELECT delivery_id FROM postal_batch_deliveries WHERE batch_id = $3) AND status IN ($4, $5)`,
			relais.DeliverySent, now, id, relais.DeliveryQueued, relais.DeliverySending)
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
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO email_bounces (recipient, delivery_id, message_id, action, status, hard,
			diagnostic, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`, b.Recipient, b.DeliveryID,
			b.MessageID, b.Action, b.Status, b.Hard, b.Diagnostic, ts(at))
		if err != nil {
			return fmt.Errorf("record bounce: %w", err)
		}
		n := tag.RowsAffected()
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
			SELECT id, status, $1, $2, true FROM deliveries WHERE id = $3`, detail, ts(at), b.DeliveryID)
		return err
	})
	return inserted, err
}
