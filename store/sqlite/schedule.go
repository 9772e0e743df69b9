package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
)

var _ relais.ScheduleStore = (*DB)(nil)

// CreateStation inserts s and sets its id.
func (db *DB) CreateStation(ctx context.Context, s *relais.Station) error {
	err := db.write.QueryRowContext(ctx, `INSERT INTO stations (name, kind, region, time_zone, service_name,
		playout_format, provider, filler, day_start) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (name) DO NOTHING RETURNING id`,
		s.Name, s.Kind, s.Region, s.TimeZone, s.ServiceName, s.Playout, s.Provider, s.Filler, s.DayStart).Scan(&s.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return relais.Errorf(relais.ECONFLICT, "A station is already called %q.", s.Name)
	} else if err != nil {
		return fmt.Errorf("create station: %w", err)
	}
	return nil
}

const stationColumns = `id, name, kind, region, time_zone, service_name, playout_format, provider, filler, day_start`

func scanStation(row interface{ Scan(...any) error }) (relais.Station, error) {
	var s relais.Station
	err := row.Scan(&s.ID, &s.Name, &s.Kind, &s.Region, &s.TimeZone, &s.ServiceName, &s.Playout, &s.Provider, &s.Filler, &s.DayStart)
	return s, err
}

// Station returns one station.
func (db *DB) Station(ctx context.Context, id int64) (relais.Station, error) {
	s, err := scanStation(db.read.QueryRowContext(ctx, `SELECT `+stationColumns+` FROM stations WHERE id = ?`, id))
	return s, orNotFound(err, func() error { return relais.Errorf(relais.ENOTFOUND, "Station %d not found.", id) })
}

// Stations lists every station by id.
func (db *DB) Stations(ctx context.Context) ([]relais.Station, error) {
	return queryAll(ctx, db.read, scanStation, `SELECT `+stationColumns+` FROM stations ORDER BY id`)
}

// UpdateStation writes s over the station of the same id in one transaction, after check (when not nil)
// accepts the station's slots.
func (db *DB) UpdateStation(ctx context.Context, s relais.Station, check func(slots []relais.Slot) error) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		var other int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM stations WHERE name = ? AND id <> ?`, s.Name, s.ID).Scan(&other)
		if err == nil {
			return relais.Errorf(relais.ECONFLICT, "A station is already called %q.", s.Name)
		} else if !errors.Is(err, sql.ErrNoRows) {
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
		res, err := tx.ExecContext(ctx, `UPDATE stations SET name = ?, kind = ?, region = ?, time_zone = ?, service_name = ?,
			playout_format = ?, provider = ?, filler = ?, day_start = ? WHERE id = ?`,
			s.Name, s.Kind, s.Region, s.TimeZone, s.ServiceName, s.Playout, s.Provider, s.Filler, s.DayStart, s.ID)
		if err != nil {
			return fmt.Errorf("update station %d: %w", s.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return relais.Errorf(relais.ENOTFOUND, "Station %d not found.", s.ID)
		}
		return nil
	})
}

// DeleteStation removes a station, its slots (past ones included), exceptions and templates in one
// transaction, after check accepts its slots. It returns how many slots were removed.
func (db *DB) DeleteStation(ctx context.Context, id int64, check func(slots []relais.Slot) error) (int, error) {
	var removed int
	err := db.inTx(ctx, func(tx *sql.Tx) error {
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
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE station_id = ?`, id); err != nil {
				return fmt.Errorf("delete station %d: %s: %w", id, table, err)
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM stations WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete station %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
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
	return db.inTx(ctx, func(tx *sql.Tx) error {
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
			res, err := tx.ExecContext(ctx, `INSERT INTO slot_templates (station_id, weekdays, start_local, end_local,
				slot_s, grade, subject, language, valid_from, valid_to) VALUES (?,?,?,?,?,?,?,?,?,?)`,
				stationID, weekdayMask(t.Weekdays), t.Start, t.End, t.SlotMin*60, t.Grade, t.Subject, t.Language, t.From, t.To)
			if err != nil {
				return fmt.Errorf("insert template: %w", err)
			}
			if t.ID, err = res.LastInsertId(); err != nil {
				return err
			}
			t.StationID = stationID
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO slots (station_id, day, start_local, duration_s, grade, subject,
			language, template_id) VALUES (?,?,?,?,?,?,?,?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		for i := range slots {
			s := &slots[i]
			s.StationID, s.Lessons = stationID, nil // a new slot is empty
			if t != nil {
				s.TemplateID = t.ID
			}
			res, err := ins.ExecContext(ctx, stationID, s.Day, s.Start, int64(s.Duration/time.Second), s.Grade, s.Subject,
				s.Language, nullID(s.TemplateID))
			if err != nil {
				return fmt.Errorf("insert slot %s %s: %w", s.Day, s.Start, err)
			}
			if s.ID, err = res.LastInsertId(); err != nil {
				return err
			}
		}
		return nil
	})
}

// Templates lists a station's templates.
func (db *DB) Templates(ctx context.Context, stationID int64) ([]relais.Template, error) {
	return queryAll(ctx, db.read, func(row rowScanner) (relais.Template, error) {
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
		subject, language, valid_from, valid_to FROM slot_templates WHERE station_id = ? ORDER BY id`, stationID)
}

// AddException records a cancelled day and removes its slots, returning them.
func (db *DB) AddException(ctx context.Context, e relais.Exception) ([]relais.Slot, error) {
	var removed []relais.Slot
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO schedule_exceptions (station_id, day, reason) VALUES (?,?,?)
			ON CONFLICT (station_id, day) DO UPDATE SET reason = excluded.reason`, e.StationID, e.Day, e.Reason); err != nil {
			return fmt.Errorf("add exception: %w", err)
		}
		var err error
		removed, err = querySlots(ctx, tx, relais.SlotFilter{StationID: e.StationID, From: e.Day, To: e.Day})
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM slots WHERE station_id = ? AND day = ?`, e.StationID, e.Day)
		return err
	})
	return removed, err
}

// Exceptions lists a station's cancelled days.
func (db *DB) Exceptions(ctx context.Context, stationID int64) ([]relais.Exception, error) {
	return queryAll(ctx, db.read, func(row rowScanner) (relais.Exception, error) {
		var e relais.Exception
		if err := row.Scan(&e.StationID, &e.Day, &e.Reason); err != nil {
			return e, err
		}
		return e, nil
	}, `SELECT station_id, day, reason FROM schedule_exceptions
		WHERE station_id = ? ORDER BY day`, stationID)
}

const slotColumns = `s.id, s.station_id, s.day, s.start_local, s.duration_s, s.grade, s.subject, s.language,
	COALESCE(s.template_id, 0)`

// Slot returns one slot.
func (db *DB) Slot(ctx context.Context, id int64) (relais.Slot, error) {
	return slotByID(ctx, db.read, id)
}

func slotByID(ctx context.Context, q querier, id int64) (relais.Slot, error) {
	slots, err := slotsWhere(ctx, q, ` AND s.id = ?`, id)
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
	return querySlots(ctx, db.read, f)
}

func querySlots(ctx context.Context, q querier, f relais.SlotFilter) ([]relais.Slot, error) {
	var where string
	var args []any
	if f.StationID != 0 {
		where += ` AND s.station_id = ?`
		args = append(args, f.StationID)
	}
	if f.From != "" {
		where += ` AND s.day >= ?`
		args = append(args, f.From)
	}
	if f.To != "" {
		where += ` AND s.day <= ?`
		args = append(args, f.To)
	}
	if f.Unassigned {
		where += ` AND NOT EXISTS (SELECT 1 FROM slot_lessons x WHERE x.slot_id = s.id)`
	}
	if f.LessonID != 0 {
		where += ` AND s.id IN (SELECT x.slot_id FROM slot_lessons x WHERE x.lesson_id = ?)`
		args = append(args, f.LessonID)
	}
	return slotsWhere(ctx, q, where, args...)
}

// slotsWhere reads the slots that where (" AND ..." on slots s) selects with their sequences, in local
// day and time order: one row per lesson of a slot (one with no lesson for an empty slot), gathered.
func slotsWhere(ctx context.Context, q querier, where string, args ...any) ([]relais.Slot, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+slotColumns+`, l.lesson_id, l.rerun FROM slots s
		LEFT JOIN slot_lessons l ON l.slot_id = s.id WHERE 1=1`+where+`
		ORDER BY s.station_id, s.day, s.start_local, s.id, l.position`, args...)
	if err != nil {
		return nil, fmt.Errorf("slots: %w", err)
	}
	defer rows.Close()
	var out []relais.Slot
	for rows.Next() {
		var s relais.Slot
		var durS int64
		var lessonID sql.NullInt64
		var rerun sql.NullInt64
		if err := rows.Scan(&s.ID, &s.StationID, &s.Day, &s.Start, &durS, &s.Grade, &s.Subject, &s.Language,
			&s.TemplateID, &lessonID, &rerun); err != nil {
			return nil, fmt.Errorf("slots: %w", err)
		}
		if n := len(out); n == 0 || out[n-1].ID != s.ID {
			s.Duration = time.Duration(durS) * time.Second
			out = append(out, s)
		}
		if lessonID.Valid {
			last := &out[len(out)-1]
			last.Lessons = append(last.Lessons, relais.SlotLesson{LessonID: lessonID.Int64, Rerun: rerun.Int64 != 0})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("slots: %w", err)
	}
	return out, nil
}

// Assign appends lessons to slots' sequences in one transaction; an assignment whose position is not its
// slot's length (or whose slot is gone) fails them all.
func (db *DB) Assign(ctx context.Context, as []relais.Assignment) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO slot_lessons (slot_id, position, lesson_id, rerun)
			SELECT s.id, ?, ?, ? FROM slots s WHERE s.id = ?
			AND (SELECT COUNT(*) FROM slot_lessons x WHERE x.slot_id = s.id) = ?`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, a := range as {
			res, err := st.ExecContext(ctx, a.Position, a.LessonID, boolInt(a.Rerun), a.SlotID, a.Position)
			if err != nil {
				return fmt.Errorf("assign slot %d: %w", a.SlotID, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
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

// EditSlot replaces a slot's sequence with what edit makes of the stored slot, in one transaction.
func (db *DB) EditSlot(ctx context.Context, slotID int64, edit func(relais.Slot) ([]relais.SlotLesson, error)) (relais.Slot, error) {
	var out relais.Slot
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		sl, err := slotByID(ctx, tx, slotID)
		if err != nil {
			return err
		}
		seq, err := edit(sl)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM slot_lessons WHERE slot_id = ?`, slotID); err != nil {
			return fmt.Errorf("edit slot %d: %w", slotID, err)
		}
		for i, l := range seq {
			if _, err := tx.ExecContext(ctx, `INSERT INTO slot_lessons (slot_id, position, lesson_id, rerun) VALUES (?,?,?,?)`,
				slotID, i, l.LessonID, boolInt(l.Rerun)); err != nil {
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
	_, err := db.write.ExecContext(ctx, `INSERT INTO lesson_approvals (lesson_id, state, reason, decided_by, updated_at)
		VALUES (?,?,?,?,?) ON CONFLICT (lesson_id) DO UPDATE SET state = excluded.state, reason = excluded.reason,
		decided_by = excluded.decided_by, updated_at = excluded.updated_at`,
		a.LessonID, a.State, a.Reason, a.DecidedBy, ms(a.UpdatedAt))
	if err != nil {
		return fmt.Errorf("set approval of lesson %d: %w", a.LessonID, err)
	}
	return nil
}

// Approval returns a lesson's approval, ENOTFOUND when it was never submitted.
func (db *DB) Approval(ctx context.Context, lessonID int64) (relais.Approval, error) {
	var a relais.Approval
	var at int64
	err := db.read.QueryRowContext(ctx, `SELECT lesson_id, state, reason, decided_by, updated_at FROM lesson_approvals
		WHERE lesson_id = ?`, lessonID).Scan(&a.LessonID, &a.State, &a.Reason, &a.DecidedBy, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return a, relais.Errorf(relais.ENOTFOUND, "Approval of lesson %d not found.", lessonID)
	}
	a.UpdatedAt = fromMS(at)
	return a, err
}

// Submitted returns up to limit lessons waiting for a decision, the longest waiting first.
func (db *DB) Submitted(ctx context.Context, limit int) ([]relais.Submission, error) {
	return queryAll(ctx, db.read, func(rs rowScanner) (relais.Submission, error) {
		var s relais.Submission
		var at int64
		l, err := scanLesson(scanTail(rs, &s.Approval.State, &s.Approval.Reason, &s.Approval.DecidedBy, &at))
		s.Lesson, s.Approval.LessonID, s.Approval.UpdatedAt = l, l.ID, fromMS(at)
		return s, err
	}, `SELECT `+prefixed("l.", lessonColumns)+`, a.state, a.reason, a.decided_by, a.updated_at FROM lesson_approvals a
		JOIN lessons l ON l.id = a.lesson_id
		WHERE a.state = 'submitted' ORDER BY a.updated_at, a.lesson_id LIMIT ?`, limit)
}

// ApprovedLessons returns approved lessons that are ready or published, by id.
func (db *DB) ApprovedLessons(ctx context.Context) ([]relais.Lesson, error) {
	return queryAll(ctx, db.read, scanLesson, `SELECT `+prefixed("l.", lessonColumns)+` FROM lessons l
		JOIN lesson_approvals a ON a.lesson_id = l.id
		WHERE a.state = 'approved' AND l.status IN ('ready', 'published') ORDER BY l.id`)
}

// AiredLessons returns the ids of lessons in a slot's sequence.
func (db *DB) AiredLessons(ctx context.Context) (map[int64]bool, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT DISTINCT lesson_id FROM slot_lessons`)
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
	err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM lessons WHERE grade = ? AND subject = ? AND language = ?
		AND id <= ?`, l.Grade, l.Subject, l.Language, l.ID).Scan(&n)
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

// prefixed qualifies every column of a column list with p.
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}
