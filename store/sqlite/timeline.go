package sqlite

import (
	"context"
	"database/sql"
	"time"

	relais "github.com/relais-edu/relais"
)

// DeliveryTimeline sums the per-minute counts of delivery_minutes (kept by a trigger on
// delivery_events, see migration 00005) into buckets: the rows read are the period's active minutes,
// however many events they hold. From, To and Bucket must be whole minutes.
func (db *DB) DeliveryTimeline(ctx context.Context, f relais.TimelineFilter) ([]relais.TimelineCount, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	from, size := f.From.UnixMilli()/60000, int64(f.Bucket/time.Minute)
	q := `SELECT (minute - ?) / ? AS bucket, channel, status, SUM(changes), SUM(opted_out) FROM delivery_minutes
		WHERE minute >= ? AND minute < ?`
	args := []any{from, size, from, f.To.UnixMilli() / 60000}
	if f.LessonID > 0 {
		q += ` AND lesson_id = ?`
		args = append(args, f.LessonID)
	}
	q += ` GROUP BY bucket, channel, status ORDER BY bucket, channel, status`
	return queryAll(ctx, db.read, func(row rowScanner) (relais.TimelineCount, error) {
		var c relais.TimelineCount
		var bucket int64
		err := row.Scan(&bucket, &c.Channel, &c.Status, &c.Count, &c.OptedOut)
		c.Start = f.From.Add(time.Duration(bucket*size) * time.Minute).UTC()
		return c, err
	}, q, args...)
}

// FailureCounts groups failures by channel, status and reason. For one lesson it reads the lesson's
// failed deliveries on deliveries_lesson_status; for every lesson, the period's failures on the
// partial index deliveries_failed, whose condition the query repeats word for word.
func (db *DB) FailureCounts(ctx context.Context, f relais.FailureFilter) ([]relais.FailureCount, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	scan := func(row rowScanner) (relais.FailureCount, error) {
		var c relais.FailureCount
		err := row.Scan(&c.Channel, &c.Status, &c.Reason, &c.Count)
		return c, err
	}
	if f.From.IsZero() && f.To.IsZero() {
		// Without a period, the kept counts answer (migration 00011), whatever the number of failures.
		q, args := `SELECT channel, status, reason, SUM(n) AS total FROM delivery_counts WHERE status IN ('failed', 'undelivered')`, []any{}
		if f.LessonID > 0 {
			q += ` AND lesson_id = ?`
			args = append(args, f.LessonID)
		}
		return queryAll(ctx, db.read, scan, q+` GROUP BY channel, status, reason HAVING total <> 0
			ORDER BY total DESC, channel, status, reason LIMIT ?`, append(args, limit)...)
	}
	if relais.WholeMinutes(f.From, f.To) {
		// A period of whole minutes: the failures kept per minute answer (migration 00021).
		q, args := `SELECT channel, status, reason, SUM(n) AS total FROM delivery_failure_minutes WHERE true`, []any{}
		if !f.From.IsZero() {
			q += ` AND minute >= ?`
			args = append(args, f.From.Unix()/60)
		}
		if !f.To.IsZero() {
			q += ` AND minute < ?`
			args = append(args, f.To.Unix()/60)
		}
		if f.LessonID > 0 {
			q += ` AND lesson_id = ?`
			args = append(args, f.LessonID)
		}
		return queryAll(ctx, db.read, scan, q+` GROUP BY channel, status, reason HAVING total <> 0
			ORDER BY total DESC, channel, status, reason LIMIT ?`, append(args, limit)...)
	}
	q := `SELECT channel, status, reason, COUNT(*) AS n FROM deliveries WHERE status IN ('failed', 'undelivered')`
	var args []any
	if f.LessonID > 0 {
		q += ` AND lesson_id = ?`
		args = append(args, f.LessonID)
	}
	if !f.From.IsZero() {
		q += ` AND updated_at >= ?`
		args = append(args, ms(f.From))
	}
	if !f.To.IsZero() {
		q += ` AND updated_at < ?`
		args = append(args, ms(f.To))
	}
	q += ` GROUP BY channel, status, reason ORDER BY n DESC, channel, status, reason LIMIT ?`
	args = append(args, limit)
	return queryAll(ctx, db.read, scan, q, args...)
}

// DeliveriesStarted returns when the lesson's first delivery was planned.
func (db *DB) DeliveriesStarted(ctx context.Context, lessonID int64) (time.Time, error) {
	var first sql.NullInt64
	if err := db.read.QueryRowContext(ctx, `SELECT MIN(created_at) FROM deliveries WHERE lesson_id = ?`,
		lessonID).Scan(&first); err != nil || !first.Valid {
		return time.Time{}, err
	}
	return fromMS(first.Int64), nil
}
