package sqlstore

import (
	"context"

	relais "github.com/relais-edu/relais"
)

// DeliveryColumns are the deliveries table's columns in the order ScanDelivery reads them.
const DeliveryColumns = `id, lesson_id, household_id, channel, status, reason, provider_id, attempts, occurrence, claimed_by, claimed_at, created_at, updated_at`

// ScanDelivery reads a row of DeliveryColumns.
func ScanDelivery(row Row) (relais.Delivery, error) {
	var d relais.Delivery
	err := row.Scan(&d.ID, &d.LessonID, &d.HouseholdID, &d.Channel, &d.Status, &d.Reason, &d.ProviderID,
		&d.Attempts, &d.Occurrence, &d.ClaimedBy, OptTime(&d.ClaimedAt), Time(&d.CreatedAt), Time(&d.UpdatedAt))
	return d, err
}

// Deliveries lists deliveries in id order after the page cursor.
func (st Store) Deliveries(ctx context.Context, f relais.DeliveryFilter) ([]relais.Delivery, error) {
	p := f.Page.Normalize()
	w := Where{SQL: `SELECT ` + DeliveryColumns + ` FROM deliveries WHERE id > ?`, Args: []any{p.After}}
	switch {
	case f.LessonID > 0:
		// A lesson's page is read on deliveries_lesson from the cursor.
		cond, args := st.d.LessonAfter(f.LessonID, p.After)
		w = Where{SQL: `SELECT ` + DeliveryColumns + ` FROM deliveries WHERE ` + cond, Args: args}
		w.And(f.HouseholdID > 0, `household_id = ?`, f.HouseholdID)
	case f.HouseholdID > 0:
		// A household's deliveries, a few per lesson, are found on the unique key a lesson at a time
		// and sorted. The cursor (+id, no index's column) only filters them: SQLite would otherwise
		// read each lesson's rows after it on deliveries_lesson.
		w = Where{SQL: `SELECT ` + DeliveryColumns + ` FROM deliveries WHERE +id > ?`, Args: []any{p.After}}
		w.And(true, st.d.OfHousehold("deliveries"), f.HouseholdID)
	}
	w.And(f.Channel != "", `channel = ?`, f.Channel)
	w.And(f.Status != "", `status = ?`, f.Status)
	if inFlight(f.Status) {
		// The condition of the partial index deliveries_in_flight, which the status check of a
		// channel's deliveries left in flight (queue CheckStatuses, at every sweep) reads.
		w.SQL += ` AND ` + InFlight
	}
	w.And(!f.UpdatedBefore.IsZero(), `updated_at < ?`, st.e.Time(f.UpdatedBefore))
	w.And(!f.UpdatedAfter.IsZero(), `updated_at > ?`, st.e.Time(f.UpdatedAfter))
	return QueryAll(ctx, st.e.Read(), ScanDelivery, w.SQL+` ORDER BY id LIMIT ?`, append(w.Args, p.Limit)...)
}

// InFlight is the condition of the partial index deliveries_in_flight on status: the statuses of a
// delivery handed to its provider and not yet settled. SQLite's index says it as comparisons, not
// as an IN list: SQLite evaluates the condition at each delivery written, and builds a table of an IN
// list of more than two values each time (a tenth of the time of planning a fan-out page).
// PostgreSQL's says status IN (...), which its planner proves from the comparisons.
const InFlight = `(status = 'queued' OR status = 'sending' OR status = 'sent')`

// inFlight reports whether s is one of InFlight.
func inFlight(s relais.DeliveryStatus) bool {
	return s == relais.DeliveryQueued || s == relais.DeliverySending || s == relais.DeliverySent
}

// DeliveryByProviderID finds the delivery a provider callback is about.
func (st Store) DeliveryByProviderID(ctx context.Context, channel relais.ChannelName, providerID string) (relais.Delivery, error) {
	d, err := ScanDelivery(st.e.Read().QueryRow(ctx, `SELECT `+DeliveryColumns+` FROM deliveries
		WHERE channel = ? AND provider_id = ? AND provider_id <> ''`, channel, providerID))
	return d, orNotFound(err, func() error {
		return relais.Errorf(relais.ENOTFOUND, "Delivery with provider id %v not found.", providerID)
	})
}

// DeliveryEvents returns a delivery's history, oldest first.
func (st Store) DeliveryEvents(ctx context.Context, id int64) ([]relais.DeliveryEvent, error) {
	return QueryAll(ctx, st.e.Read(), func(row Row) (relais.DeliveryEvent, error) {
		var e relais.DeliveryEvent
		err := row.Scan(&e.DeliveryID, &e.Status, &e.Detail, Time(&e.At))
		return e, err
	}, `SELECT delivery_id, status, detail, at FROM `+st.d.DeliveryEvents+` WHERE delivery_id = ? ORDER BY id`, id)
}

// ScanDeliveryCount reads a row of channel, status and count.
func ScanDeliveryCount(row Row) (relais.DeliveryCount, error) {
	var c relais.DeliveryCount
	return c, row.Scan(&c.Channel, &c.Status, &c.Count)
}
