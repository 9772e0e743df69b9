package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	relais "github.com/relais-edu/relais"
)

var _ relais.ScheduleStore = (*DB)(nil)

// CreateStation inserts s and sets its id.
func (db *DB) CreateStation(ctx context.Context, s *relais.Station) error {
	err := db.pool.QueryRow(ctx, `INSERT INTO stations (name, kind, region, time_zone, service_name,
		playout_format, provider, filler, day_start) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (name) DO NOTHING RETURNING id`,
		s.Name, s.Kind, s.Region, s.TimeZone, s.ServiceName, s.Playout, s.Provider, s.Filler, s.DayStart).Scan(&s.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return relais.Errorf(relais.ECONFLICT, "A station is already called %q.", s.Name)
	} else if err != nil {
		return fmt.Errorf("create station: %w", err)
	}
	return nil
}

// lockStation takes the station's row lock for the rest of the transaction: the writes that check a
// station's grid before changing it (SQLite runs them one at a time) then run one at a time per station,
// and no slot slips in between a check and its write. A missing station locks nothing.
func lockStation(ctx context.Context, tx pgx.Tx, id int64) error {
	_, err := tx.Exec(ctx, `SELECT 1 FROM stations WHERE id = $1 FOR UPDATE`, id)
	return err
}

const stationColumns = `id, name, kind, region, time_zone, service_name, playout_format, provider, filler, day_start`

func scanStation(row interface{ Scan(...any) error }) (relais.Station, error) {
	var s relais.Station
	err := row.Scan(&s.ID, &s.Name, &s.Kind, &s.Region, &s.TimeZone, &s.ServiceName, &s.Playout, &s.Provider, &s.Filler, &s.DayStart)
	return s, err
}

// Station returns one station.
func (db *DB) Station(ctx context.Context, id int64) (relais.Station, error) {
	s, err := scanStation(db.pool.QueryRow(ctx, `SELECT `+stationColumns+` FROM stations WHERE id = $1`, id))
	return s, orNotFound(err, func() error { return relais.Errorf(relais.ENOTFOUND, "Station %d not found.", id) })
}

// Stations lists every station by id.
func (db *DB) Stations(ctx context.Context) ([]relais.Station, error) {
	return queryAll(ctx, db.pool, scanStation, `SELECT `+stationColumns+` FROM stations ORDER BY id`)
}

// UpdateStation writes s over the station of the same id in one transaction, after check (when not nil)
// accepts the station's slots.
func (db *DB) UpdateStation(ctx context.Context, s relais.Station, check func(slots []relais.Slot) error) error {
	return db.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockStation(ctx, tx, s.ID); err != nil {
			return err
		}
		var other int64
		err := tx.QueryRow(ctx, `SELECT id FROM stations WHERE name = $1 AND id <> $2`, s.Name, s.ID).Scan(&other)
		if err == nil {
			return relais.Errorf(relais.ECONFLICT, "A station is already called %q.", s.Name)
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("update station %d: %w", s.ID, err)
		}
		if check != nil {
			slots, err := querySlots(ctx, tx, relais.SlotFilter{StationID: s.ID})
			if err != nil {
				return err
			}
			if err := check(slots); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `UPDATE stations SET name = $1, kind = $2, region = $3, time_zone = $4, service_name = $5,
			playout_format = $6, provider = $7, filler = $8, day_start = $9 WHERE id = $10`,
			s.Name, s.Kind, s.Region, s.TimeZone, s.ServiceName, s.Playout, s.Provider, s.Filler, s.DayStart, s.ID)
		if isUniqueViolation(err) { // renamed at the same time by another writer
			return relais.Errorf(relais.ECONFLICT, "A station is already called %q.", s.Name)
		} else if err != nil {
			return fmt.Errorf("update station %d: %w", s.ID, err)
		}
		if tag.RowsAffected() == 0 {
			return relais.Errorf(relais.ENOTFOUND, "Station %d not found.", s.ID)
		}
		return nil
	})
}

// DeleteStation removes a station, its slots (past ones included), exceptions and templates in one
// transaction, after check accepts its slots. It returns how many slots were removed.
func (db *DB) DeleteStation(ctx context.Context, id int64, check func(slots []relais.Slot) error) (int, error) {
	var removed int
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockStation(ctx, tx, id); err != nil {
			return err
		}
		slots, err := querySlots(ctx, tx, relais.SlotFilter{StationID: id})
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(slots); err != nil {
				return err
			}
		}
		for _, table := range []string{"slots", "schedule_exceptions", "slot_templates"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE station_id = $1`, id); err != nil {
				return fmt.Errorf("delete station %d: %s: %w", id, table, err)
			}
		}
		tag, err := tx.Exec(ctx, `DELETE FROM stations WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("delete station %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return relais.Errorf(relais.ENOTFOUND, "Station %d not found.", id)
		}
		removed = len(slots)
		return nil
	})
	return removed, err
}

// AddSlots inserts a template (when t is not nil) and slots in one transaction, after check accepts them
// against the station's slots from the day before the first to the day after the last.
func (db *DB) AddSlots(ctx context.Context, stationID int64, t *relais.Template, slots []relais.Slot,
	check func(existing []relais.Slot) error) error {
	if len(slots) == 0 && t == nil {
		return nil
	}
	return db.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockStation(ctx, tx, stationID); err != nil {
			return err
		}
		if len(slots) > 0 {
			first, last := slots[0].Day, slots[0].Day
			for _, s := range slots {
				first, last = min(first, s.Day), max(last, s.Day)
			}
			existing, err := querySlots(ctx, tx, relais.SlotFilter{StationID: stationID,
				From: shiftDay(first, -1), To: shiftDay(last, 1)})
			if err != nil {
				return err
			}
			if err := check(existing); err != nil {
				return err
			}
		}
		if t != nil {
			if err := tx.QueryRow(ctx, `INSERT INTO slot_templates (station_id, weekdays, start_local, end_local,
				slot_s, grade, subject, language, valid_from, valid_to) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) RETURNING id`,
				stationID, weekdayMask(t.Weekdays), t.Start, t.End, t.SlotMin*60, t.Grade, t.Subject, t.Language, t.From,
				t.To).Scan(&t.ID); err != nil {
				return fmt.Errorf("insert template: %w", err)
			}
			t.StationID = stationID
		}
		// A template's slots (a school year's) go in one round trip.
		batch := &pgx.Batch{}
		for i := range slots {
			s := &slots[i]
			s.StationID = stationID
			if t != nil {
				s.TemplateID = t.ID
			}
			batch.Queue(`INSERT INTO slots (station_id, day, start_local, duration_s, grade, subject,
				language, template_id, lesson_id, rerun) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) RETURNING id`,
				stationID, s.Day, s.Start, int64(s.Duration/time.Second), s.Grade, s.Subject,
				s.Language, nullID(s.TemplateID), nullID(s.LessonID), s.Rerun).QueryRow(func(row pgx.Row) error {
				if err := row.Scan(&s.ID); err != nil {
					return fmt.Errorf("insert slot %s %s: %w", s.Day, s.Start, err)
				}
				return nil
			})
		}
		return tx.SendBatch(ctx, batch).Close()
	})
}

// Templates lists a station's templates.
func (db *DB) Templates(ctx context.Context, stationID int64) ([]relais.Template, error) {
	return queryAll(ctx, db.pool, func(row rowScanner) (relais.Template, error) {
		var t relais.Template
		var mask, slotS int
		if err := row.Scan(&t.ID, &t.StationID, &mask, &t.Start, &t.End, &slotS, &t.Grade, &t.Subject, &t.Language,
			&t.From, &t.To); err != nil {
			return t, err
		}
		for d := 0; d < 7; d++ {
			if mask&(1<<d) != 0 {
				t.Weekdays = append(t.Weekdays, d)
			}
		}
		t.SlotMin = slotS / 60
		return t, nil
	}, `SELECT id, station_id, weekdays, start_local, end_local, slot_s, grade,
		subject, language, valid_from, valid_to FROM slot_templates WHERE station_id = $1 ORDER BY id`, stationID)
}

// AddException records a cancelled day and removes its slots, returning them.
func (db *DB) AddException(ctx context.Context, e relais.Exception) ([]relais.Slot, error) {
	var removed []relais.Slot
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockStation(ctx, tx, e.StationID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schedule_exceptions (station_id, day, reason) VALUES ($1,$2,$3)
			ON CONFLICT (station_id, day) DO UPDATE SET reason = excluded.reason`, e.StationID, e.Day, e.Reason); err != nil {
			return fmt.Errorf("add exception: %w", err)
		}
		var err error
		removed, err = querySlots(ctx, tx, relais.SlotFilter{StationID: e.StationID, From: e.Day, To: e.Day})
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM slots WHERE station_id = $1 AND day = $2`, e.StationID, e.Day)
		return err
	})
	return removed, err
}

// Exceptions lists a station's cancelled days.
func (db *DB) Exceptions(ctx context.Context, stationID int64) ([]relais.Exception, error) {
	return queryAll(ctx, db.pool, func(row rowScanner) (relais.Exception, error) {
		var e relais.Exception
		if err := row.Scan(&e.StationID, &e.Day, &e.Reason); err != nil {
			return e, err
		}
		return e, nil
	}, `SELECT station_id, day, reason FROM schedule_exceptions
		WHERE station_id = $1 ORDER BY day`, stationID)
}

const slotColumns = `id, station_id, day, start_local, duration_s, grade, subject, language,
	COALESCE(template_id, 0), COALESCE(lesson_id, 0), rerun`

func scanSlot(row interface{ Scan(...any) error }) (relais.Slot, error) {
	var s relais.Slot
	var durS int64
	err := row.Scan(&s.ID, &s.StationID, &s.Day, &s.Start, &durS, &s.Grade, &s.Subject, &s.Language, &s.TemplateID,
		&s.LessonID, &s.Rerun)
	s.Duration = time.Duration(durS) * time.Second
	return s, err
}

// Slot returns one slot.
func (db *DB) Slot(ctx context.Context, id int64) (relais.Slot, error) {
	s, err := scanSlot(db.pool.QueryRow(ctx, `SELECT `+slotColumns+` FROM slots WHERE id = $1`, id))
	return s, orNotFound(err, func() error { return relais.Errorf(relais.ENOTFOUND, "Slot %d not found.", id) })
}

// Slots lists slots in local day and time order.
func (db *DB) Slots(ctx context.Context, f relais.SlotFilter) ([]relais.Slot, error) {
	return querySlots(ctx, db.pool, f)
}

func querySlots(ctx context.Context, q querier, f relais.SlotFilter) ([]relais.Slot, error) {
	query := `SELECT ` + slotColumns + ` FROM slots WHERE true`
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if f.StationID != 0 {
		query += ` AND station_id = ` + arg(f.StationID)
	}
	if f.From != "" {
		query += ` AND day >= ` + arg(f.From)
	}
	if f.To != "" {
		query += ` AND day <= ` + arg(f.To)
	}
	if f.Unassigned {
		query += ` AND lesson_id IS NULL`
	}
	if f.LessonID != 0 {
		query += ` AND lesson_id = ` + arg(f.LessonID)
	}
	slots, err := queryAll(ctx, q, scanSlot, query+` ORDER BY station_id, day, start_local`, args...)
	if err != nil {
		return nil, fmt.Errorf("slots: %w", err)
	}
	return slots, nil
}

// Assign fills empty slots in one transaction; any slot already filled (or missing) fails them all.
func (db *DB) Assign(ctx context.Context, as []relais.Assignment) error {
	return db.inTx(ctx, func(tx pgx.Tx) error {
		for _, a := range as {
			tag, err := tx.Exec(ctx, `UPDATE slots SET lesson_id = $1, rerun = $2 WHERE id = $3 AND lesson_id IS NULL`,
				a.LessonID, a.Rerun, a.SlotID)
			if err != nil {
				return fmt.Errorf("assign slot %d: %w", a.SlotID, err)
			}
			if tag.RowsAffected() == 0 {
				return relais.Errorf(relais.ECONFLICT, "Slot %d is taken or gone.", a.SlotID)
			}
		}
		return nil
	})
}

// Unassign empties a slot.
func (db *DB) Unassign(ctx context.Context, slotID int64) error {
	tag, err := db.pool.Exec(ctx, `UPDATE slots SET lesson_id = NULL, rerun = false WHERE id = $1`, slotID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return relais.Errorf(relais.ENOTFOUND, "Slot %d not found.", slotID)
	}
	return nil
}

// SetApproval creates or replaces a lesson's approval.
func (db *DB) SetApproval(ctx context.Context, a relais.Approval) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO lesson_approvals (lesson_id, state, reason, decided_by, updated_at)
		VALUES ($1,$2,$3,$4,$5) ON CONFLICT (lesson_id) DO UPDATE SET state = excluded.state, reason = excluded.reason,
		decided_by = excluded.decided_by, updated_at = excluded.updated_at`,
		a.LessonID, a.State, a.Reason, a.DecidedBy, ts(a.UpdatedAt))
	if err != nil {
		return fmt.Errorf("set approval of lesson %d: %w", a.LessonID, err)
	}
	return nil
}

// Approval returns a lesson's approval, ENOTFOUND when it was never submitted.
func (db *DB) Approval(ctx context.Context, lessonID int64) (relais.Approval, error) {
	var a relais.Approval
	err := db.pool.QueryRow(ctx, `SELECT lesson_id, state, reason, decided_by, updated_at FROM lesson_approvals
		WHERE lesson_id = $1`, lessonID).Scan(&a.LessonID, &a.State, &a.Reason, &a.DecidedBy, &a.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, relais.Errorf(relais.ENOTFOUND, "Approval of lesson %d not found.", lessonID)
	}
	a.UpdatedAt = a.UpdatedAt.UTC()
	return a, err
}

// Submitted returns up to limit lessons waiting for a decision, the longest waiting first.
func (db *DB) Submitted(ctx context.Context, limit int) ([]relais.Submission, error) {
	return queryAll(ctx, db.pool, func(rs rowScanner) (relais.Submission, error) {
		var s relais.Submission
		var at time.Time
		l, err := scanLesson(scanTail(rs, &s.Approval.State, &s.Approval.Reason, &s.Approval.DecidedBy, &at))
		s.Lesson, s.Approval.LessonID, s.Approval.UpdatedAt = l, l.ID, at.UTC()
		return s, err
	}, `SELECT `+prefixed("l.", lessonColumns)+`, a.state, a.reason, a.decided_by, a.updated_at FROM lesson_approvals a
		JOIN lessons l ON l.id = a.lesson_id
		WHERE a.state = 'submitted' ORDER BY a.updated_at, a.lesson_id LIMIT $1`, limit)
}

// ApprovedLessons returns approved lessons that are ready or published, by id.
func (db *DB) ApprovedLessons(ctx context.Context) ([]relais.Lesson, error) {
	return queryAll(ctx, db.pool, scanLesson, `SELECT `+prefixed("l.", lessonColumns)+` FROM lessons l
		JOIN lesson_approvals a ON a.lesson_id = l.id
		WHERE a.state = 'approved' AND l.status IN ('ready', 'published') ORDER BY l.id`)
}

// AiredLessons returns the ids of lessons assigned to a slot.
func (db *DB) AiredLessons(ctx context.Context) (map[int64]bool, error) {
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT lesson_id FROM slots WHERE lesson_id IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// Episode returns l's rank among lessons of its grade, subject and language, from 1.
func (db *DB) Episode(ctx context.Context, l relais.Lesson) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT COUNT(*) FROM lessons WHERE grade = $1 AND subject = $2 AND language = $3
		AND id <= $4`, l.Grade, l.Subject, l.Language, l.ID).Scan(&n)
	return n, err
}

func weekdayMask(days []int) int {
	m := 0
	for _, d := range days {
		m |= 1 << d
	}
	return m
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func shiftDay(day string, n int) string {
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return day
	}
	return d.AddDate(0, 0, n).Format(time.DateOnly)
}
