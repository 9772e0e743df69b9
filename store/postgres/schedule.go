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
			s.StationID, s.Lessons = stationID, nil // a new slot is empty
			if t != nil {
				s.TemplateID = t.ID
			}
			batch.Queue(`INSERT INTO slots (station_id, day, start_local, duration_s, grade, subject,
				language, template_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING id`,
				stationID, s.Day, s.Start, int64(s.Duration/time.Second), s.Grade, s.Subject,
				s.Language, nullID(s.TemplateID)).QueryRow(func(row pgx.Row) error {
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

const slotColumns = `s.id, s.station_id, s.day, s.start_local, s.duration_s, s.grade, s.subject, s.language,
	COALESCE(s.template_id, 0)`

// Slot returns one slot.
func (db *DB) Slot(ctx context.Context, id int64) (relais.Slot, error) {
	return slotByID(ctx, db.pool, id)
}

func slotByID(ctx context.Context, q querier, id int64) (relais.Slot, error) {
	slots, err := slotsWhere(ctx, q, ` AND s.id = $1`, id)
	if err != nil {
		return relais.Slot{}, err
	}
	if len(slots) == 0 {
		return relais.Slot{}, relais.Errorf(relais.ENOTFOUND, "Slot %d not found.", id)
	}
	return slots[0], nil
}

// Slots lists slots in local day and time order.
func (db *DB) Slots(ctx context.Context, f relais.SlotFilter) ([]relais.Slot, error) {
	return querySlots(ctx, db.pool, f)
}

func querySlots(ctx context.Context, q querier, f relais.SlotFilter) ([]relais.Slot, error) {
	var where string
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if f.StationID != 0 {
		where += ` AND s.station_id = ` + arg(f.StationID)
	}
	if f.From != "" {
		where += ` AND s.day >= ` + arg(f.From)
	}
	if f.To != "" {
		where += ` AND s.day <= ` + arg(f.To)
	}
	if f.Unassigned {
		where += ` AND NOT EXISTS (SELECT 1 FROM slot_lessons x WHERE x.slot_id = s.id)`
	}
	if f.LessonID != 0 {
		where += ` AND s.id IN (SELECT x.slot_id FROM slot_lessons x WHERE x.lesson_id = ` + arg(f.LessonID) + `)`
	}
	return slotsWhere(ctx, q, where, args...)
}

// slotsWhere reads the slots that where (" AND ..." on slots s) selects with their sequences, in local
// day and time order: one row per lesson of a slot (one with no lesson for an empty slot), gathered.
func slotsWhere(ctx context.Context, q querier, where string, args ...any) ([]relais.Slot, error) {
	rows, err := q.Query(ctx, `SELECT `+slotColumns+`, l.lesson_id, l.rerun FROM slots s
		LEFT JOIN slot_lessons l ON l.slot_id = s.id WHERE true`+where+`
		ORDER BY s.station_id, s.day, s.start_local, s.id, l.position`, args...)
	if err != nil {
		return nil, fmt.Errorf("slots: %w", err)
	}
	defer rows.Close()
	var out []relais.Slot
	for rows.Next() {
		var s relais.Slot
		var durS int64
		var lessonID *int64
		var rerun *bool
		if err := rows.Scan(&s.ID, &s.StationID, &s.Day, &s.Start, &durS, &s.Grade, &s.Subject, &s.Language,
			&s.TemplateID, &lessonID, &rerun); err != nil {
			return nil, fmt.Errorf("slots: %w", err)
		}
		if n := len(out); n == 0 || out[n-1].ID != s.ID {
			s.Duration = time.Duration(durS) * time.Second
			out = append(out, s)
		}
		if lessonID != nil {
			last := &out[len(out)-1]
			last.Lessons = append(last.Lessons, relais.SlotLesson{LessonID: *lessonID, Rerun: rerun != nil && *rerun})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("slots: %w", err)
	}
	return out, nil
}

// Assign appends lessons to slots' sequences in one transaction; an assignment whose position is not its
// slot's length (or whose slot is gone) fails them all. Two writers appending at one position at once
// meet on the sequence's key: the second is a conflict.
func (db *DB) Assign(ctx context.Context, as []relais.Assignment) error {
	return db.inTx(ctx, func(tx pgx.Tx) error {
		for _, a := range as {
			tag, err := tx.Exec(ctx, `INSERT INTO slot_lessons (slot_id, position, lesson_id, rerun)
				SELECT s.id, $1, $2, $3 FROM slots s WHERE s.id = $4
				AND (SELECT COUNT(*) FROM slot_lessons x WHERE x.slot_id = s.id) = $5`,
				a.Position, a.LessonID, a.Rerun, a.SlotID, int64(a.Position))
			if isUniqueViolation(err) {
				return relais.Errorf(relais.ECONFLICT, "Slot %d changed meanwhile or is gone.", a.SlotID)
			} else if err != nil {
				return fmt.Errorf("assign slot %d: %w", a.SlotID, err)
			}
			if tag.RowsAffected() == 0 {
				return relais.Errorf(relais.ECONFLICT, "Slot %d changed meanwhile or is gone.", a.SlotID)
			}
		}
		return nil
	})
}

// Unassign empties a slot's sequence.
func (db *DB) Unassign(ctx context.Context, slotID int64) error {
	_, err := db.EditSlot(ctx, slotID, func(relais.Slot) ([]relais.SlotLesson, error) { return nil, nil })
	return err
}

// EditSlot replaces a slot's sequence with what edit makes of the stored slot, in one transaction that
// holds the slot's row lock, so that edits of one slot run one at a time.
func (db *DB) EditSlot(ctx context.Context, slotID int64, edit func(relais.Slot) ([]relais.SlotLesson, error)) (relais.Slot, error) {
	var out relais.Slot
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM slots WHERE id = $1 FOR UPDATE`, slotID); err != nil {
			return fmt.Errorf("edit slot %d: %w", slotID, err)
		}
		sl, err := slotByID(ctx, tx, slotID)
		if err != nil {
			return err
		}
		seq, err := edit(sl)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM slot_lessons WHERE slot_id = $1`, slotID); err != nil {
			return fmt.Errorf("edit slot %d: %w", slotID, err)
		}
		for i, l := range seq {
			if _, err := tx.Exec(ctx, `INSERT INTO slot_lessons (slot_id, position, lesson_id, rerun) VALUES ($1,$2,$3,$4)`,
				slotID, i, l.LessonID, l.Rerun); err != nil {
				return fmt.Errorf("edit slot %d: %w", slotID, err)
			}
		}
		sl.Lessons = append([]relais.SlotLesson(nil), seq...)
		if len(sl.Lessons) == 0 {
			sl.Lessons = nil
		}
		out = sl
		return nil
	})
	return out, err
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
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT lesson_id FROM slot_lessons`)
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
