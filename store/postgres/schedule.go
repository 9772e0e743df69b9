package postgres

import (
	"context"

	relais "github.com/relais-edu/relais"
)

var _ relais.ScheduleStore = (*DB)(nil)

// AddSlots inserts a template (when t is not nil) and slots in one transaction, after check accepts them
// against the station's slots from the day before the first to the day after the last.
func (db *DB) AddSlots(ctx context.Context, stationID int64, t *relais.Template, slots []relais.Slot,
	check func(existing []relais.Slot) error) error {
	return db.AddSlotsWith(ctx, stationID, t, slots, check, insertSlots)
}
