package sqlstore

import (
	"context"
	"time"

	relais "github.com/relais-edu/relais"
)

// DeliveryTimeline sums the per-minute counts of delivery_minutes (kept by a trigger on
// delivery_events, see the engines' migrations) into buckets: the rows read are the period's active
// minutes, however many events they hold. From, To and Bucket must be whole minutes.
func (st Store) DeliveryTimeline(ctx context.Context, f relais.TimelineFilter) ([]relais.TimelineCount, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	from, size := f.From.UnixMilli()/60000, int64(f.Bucket/time.Minute)
	w := Where{SQL: `SELECT (minute - ?) / ? AS bucket, channel, status, CAST(SUM(changes) AS BIGINT),
		CAST(SUM(opted_out) AS BIGINT) FROM delivery_minutes WHERE minute >= ? AND minute < ?`,
		Args: []any{from, size, from, f.To.UnixMilli() / 60000}}
	w.And(f.LessonID > 0, `lesson_id = ?`, f.LessonID)
	return QueryAll(ctx, st.e.Read(), func(row Row) (relais.TimelineCount, error) {
		var c relais.TimelineCount
		var bucket int64
		err := row.Scan(&bucket, &c.Channel, &c.Status, &c.Count, &c.OptedOut)
		c.Start = f.From.Add(time.Duration(bucket*size) * time.Minute).UTC()
		return c, err
	}, w.SQL+` GROUP BY bucket, channel, status ORDER BY bucket, channel, status`, w.Args...)
}

// ScanFailureCount reads a row of channel, status, reason and count.
func ScanFailureCount(row Row) (relais.FailureCount, error) {
	var c relais.FailureCount
	return c, row.Scan(&c.Channel, &c.Status, &c.Reason, &c.Count)
}

// FailureCounts groups failures by channel, status and reason. Without a period, the counts the
// engine keeps answer (Engine.KeptFailures), whatever the number of failures. For a period of whole minutes, the failures kept per minute answer. Otherwise,
// for one lesson it reads the lesson's failed deliveries on deliveries_lesson_status; for every
// lesson, the period's failures on the partial index deliveries_failed, whose condition the query
// repeats word for word.
func (st Store) FailureCounts(ctx context.Context, f relais.FailureFilter) ([]relais.FailureCount, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	if f.From.IsZero() && f.To.IsZero() {
		return st.e.KeptFailures(ctx, f.LessonID, limit)
	}
	if relais.WholeMinutes(f.From, f.To) {
		w := Where{SQL: `SELECT channel, status, reason, CAST(SUM(n) AS BIGINT) FROM delivery_failure_minutes WHERE 1=1`}
		w.And(!f.From.IsZero(), `minute >= ?`, f.From.Unix()/60)
		w.And(!f.To.IsZero(), `minute < ?`, f.To.Unix()/60)
		w.And(f.LessonID > 0, `lesson_id = ?`, f.LessonID)
		return QueryAll(ctx, st.e.Read(), ScanFailureCount, w.SQL+` GROUP BY channel, status, reason HAVING SUM(n) <> 0
			ORDER BY 4 DESC, channel, status, reason LIMIT ?`, append(w.Args, limit)...)
	}
	w := Where{SQL: `SELECT channel, status, reason, COUNT(*) AS n FROM deliveries WHERE status IN ('failed', 'undelivered')`}
	w.And(f.LessonID > 0, `lesson_id = ?`, f.LessonID)
	w.And(!f.From.IsZero(), `updated_at >= ?`, st.e.Time(f.From))
	w.And(!f.To.IsZero(), `updated_at < ?`, st.e.Time(f.To))
	return QueryAll(ctx, st.e.Read(), ScanFailureCount, w.SQL+` GROUP BY channel, status, reason
		ORDER BY n DESC, channel, status, reason LIMIT ?`, append(w.Args, limit)...)
}

// DeliveriesStarted returns when the lesson's first delivery was planned: the creation of its
// lowest id, the first entry of deliveries_lesson (no index holds a lesson's creation times, whose
// entries would cost each delivery planned). Planners running at once may write a later time under
// a lower id, by milliseconds, which the dashboard's per-minute timeline does not see. Retention
// deletes the oldest deliveries first (in id order), so the first left is still the earliest left.
func (st Store) DeliveriesStarted(ctx context.Context, lessonID int64) (time.Time, error) {
	var first time.Time
	cond, args := st.d.LessonAfter(lessonID, 0)
	err := st.e.Read().QueryRow(ctx, `SELECT (SELECT created_at FROM deliveries WHERE `+cond+` ORDER BY id LIMIT 1)`, args...).
		Scan(OptTime(&first))
	return first, err
}
