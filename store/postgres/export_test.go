package postgres

import "time"

// SetClock makes the store read the time from now, so that tests place events at known times.
func (db *DB) SetClock(now func() time.Time) { db.now = now }

// ByKey is byKey, for the plans test.
const ByKey = byKey
