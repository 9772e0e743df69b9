package postgres

import (
	"context"
	"fmt"
	"time"

	relais "github.com/relais-edu/relais"
)

// DeliveryTimeline sums the per-minute counts of delivery_minutes (kept by a trigger on
// delivery_events, see the migration) into buckets: the rows read are the period's active minutes,
// however many events they hold. From, To and Bucket must be whole minutes.
func (db *DB) DeliveryTimeline(ctx context.Context, f relais.TimelineFilter) ([]relais.TimelineCount, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	from, size := f.From.UnixMilli()/60000, int64(f.Bucket/time.Minute)
	q := `SELECT (minute - $1) / $2 AS bucket, channel, status, sum(changes)::bigint, sum(opted_out)::bigint
		FROM delivery_minutes WHERE minute >= $1 AND minute < $3`
	args := []any{from, size, f.To.UnixMilli() / 60000}
	if f.LessonID > 0 {
		q += ` AND lesson_id = $4`
		args = append(args, f.LessonID)
	}
	q += ` GROUP BY bucket, channel, status ORDER BY bucket, channel, status`
	return queryAll(ctx, db.pool, func(row rowScanner) (relais.TimelineCount, error) {
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
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	if f.From.IsZero() && f.To.IsZero() {
		// Without a period, the kept counts answer (migration 00006), whatever the number of failures.
		if err := db.foldCountChanges(ctx); err != nil {
			return nil, fmt.Errorf("fold delivery count changes: %w", err)
		}
		where := `status IN ('failed', 'undelivered')`
		if f.LessonID > 0 {
			where += ` AND lesson_id = ` + arg(f.LessonID)
		}
		return queryAll(ctx, db.pool, func(row rowScanner) (relais.FailureCount, error) {
			var c relais.FailureCount
			return c, row.Scan(&c.Channel, &c.Status, &c.Reason, &c.Count)
		}, `SELECT channel, status, reason, sum(n)::bigint FROM (
				SELECT channel, status, reason, n FROM delivery_counts WHERE `+where+`
				UNION ALL SELECT channel, status, reason, n FROM delivery_count_changes WHERE `+where+`) c
			GROUP BY channel, status, reason HAVING sum(n) <> 0
			ORDER BY 4 DESC, channel, status, reason LIMIT `+arg(limit), args...)
	}
	if relais.WholeMinutes(f.From, f.To) {
		// A period of whole minutes: the failures kept per minute answer (migration 00016).
		where := `true`
		if !f.From.IsZero() {
			where += ` AND minute >= ` + arg(f.From.Unix()/60)
		}
		if !f.To.IsZero() {
			where += ` AND minute < ` + arg(f.To.Unix()/60)
		}
		if f.LessonID > 0 {
			where += ` AND lesson_id = ` + arg(f.LessonID)
		}
		return queryAll(ctx, db.pool, func(row rowScanner) (relais.FailureCount, error) {
			var c relais.FailureCount
			return c, row.Scan(&c.Channel, &c.Status, &c.Reason, &c.Count)
		}, `SELECT channel, status, reason, sum(n)::bigint FROM delivery_failure_minutes WHERE `+where+`
			GROUP BY channel, status, reason HAVING sum(n) <> 0
			ORDER BY 4 DESC, channel, status, reason LIMIT `+arg(limit), args...)
	}
	q := `SELECT channel, status, reason, count(*) AS n FROM deliveries WHERE status IN ('failed', 'undelivered')`
	if f.LessonID > 0 {
		q += ` AND lesson_id = ` + arg(f.LessonID)
	}
	if !f.From.IsZero() {
		q += ` AND updated_at >= ` + arg(ts(f.From))
	}
	if !f.To.IsZero() {
		q += ` AND updated_at < ` + arg(ts(f.To))
	}
	q += ` GROUP BY channel, status, reason ORDER BY n DESC, channel, status, reason LIMIT ` + arg(limit)
	return queryAll(ctx, db.pool, func(row rowScanner) (relais.FailureCount, error) {
		var c relais.FailureCount
		return c, row.Scan(&c.Channel, &c.Status, &c.Reason, &c.Count)
	}, q, args...)
}

// DeliveriesStarted returns when the lesson's first delivery was planned.
func (db *DB) DeliveriesStarted(ctx context.Context, lessonID int64) (time.Time, error) {
	var first *time.Time
	if err := db.pool.QueryRow(ctx, `SELECT min(created_at) FROM deliveries WHERE lesson_id = $1`,
		lessonID).Scan(&first); err != nil || first == nil {
		return time.Time{}, err
	}
	return first.UTC(), nil
}
