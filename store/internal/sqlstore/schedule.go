package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	relais "github.com/relais-edu/relais"
)

// CreateStation inserts s and sets its id.
func (st Store) CreateStation(ctx context.Context, s *relais.Station) error {
	err := st.e.Write().QueryRow(ctx, `INSERT INTO stations (name, kind, region, time_zone, service_name,
		playout_format, provider, filler, day_start) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (name) DO NOTHING RETURNING id`,
		s.Name, s.Kind, s.Region, s.TimeZone, s.ServiceName, s.Playout, s.Provider, s.Filler, s.DayStart).Scan(&s.ID)
	if noRow(err) {
		return relais.Errorf(relais.ECONFLICT, "A station is already called %q.", s.Name)
	} else if err != nil {
		return fmt.Errorf("create station: %w", err)
	}
	return nil
}

const stationColumns = `id, name, kind, region, time_zone, service_name, playout_format, provider, filler, day_start`

func scanStation(row Row) (relais.Station, error) {
	var s relais.Station
	err := row.Scan(&s.ID, &s.Name, &s.Kind, &s.Region, &s.TimeZone, &s.ServiceName, &s.Playout, &s.Provider, &s.Filler, &s.DayStart)
	return s, err
}

// Station returns one station.
func (st Store) Station(ctx context.Context, id int64) (relais.Station, error) {
	s, err := scanStation(st.e.Read().QueryRow(ctx, `SELECT `+stationColumns+` FROM stations WHERE id = ?`, id))
	return s, orNotFound(err, func() error { return relais.Errorf(relais.ENOTFOUND, "Station %d not found.", id) })
}

// Stations lists every station by id.
func (st Store) Stations(ctx context.Context) ([]relais.Station, error) {
	return QueryAll(ctx, st.e.Read(), scanStation, `SELECT `+stationColumns+` FROM stations ORDER BY id`)
}

// UpdateStation writes s over the station of the same id in one transaction, after check (when not nil)
// accepts the station's slots.
func (st Store) UpdateStation(ctx context.Context, s relais.Station, check func(slots []relais.Slot) error) error {
	return st.e.InTx(ctx, func(tx Querier) error {
		if err := st.e.Lock(ctx, tx, "stations", s.ID); err != nil {
			return err
		}
		var other int64
		err := tx.QueryRow(ctx, `SELECT id FROM stations WHERE name = ? AND id <> ?`, s.Name, s.ID).Scan(&other)
		if err == nil {
			return relais.Errorf(relais.ECONFLICT, "A station is already called %q.", s.Name)
		} else if !noRow(err) {
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
		n, err := tx.Exec(ctx, `UPDATE stations SET name = ?, kind = ?, region = ?, time_zone = ?, service_name = ?,
			playout_format = ?, provider = ?, filler = ?, day_start = ? WHERE id = ?`,
			s.Name, s.Kind, s.Region, s.TimeZone, s.ServiceName, s.Playout, s.Provider, s.Filler, s.DayStart, s.ID)
		return st.oneRow(n, err, fmt.Sprintf("update station %d", s.ID), // a conflict: renamed at once by another writer
			relais.Errorf(relais.ECONFLICT, "A station is already called %q.", s.Name),
			relais.Errorf(relais.ENOTFOUND, "Station %d not found.", s.ID))
	})
}

// DeleteStation removes a station, its slots (past ones included), exceptions and templates in one
// transaction, after check accepts its slots. It returns how many slots were removed.
func (st Store) DeleteStation(ctx context.Context, id int64, check func(slots []relais.Slot) error) (int, error) {
	var removed int
	err := st.e.InTx(ctx, func(tx Querier) error {
		if err := st.e.Lock(ctx, tx, "stations", id); err != nil {
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
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE station_id = ?`, id); err != nil {
				return fmt.Errorf("delete station %d: %s: %w", id, table, err)
			}
		}
		n, err := tx.Exec(ctx, `DELETE FROM stations WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete station %d: %w", id, err)
		}
		if n == 0 {
			return relais.Errorf(relais.ENOTFOUND, "Station %d not found.", id)
		}
		removed = len(slots)
		return nil
	})
	return removed, err
}

// AddSlots inserts a template (when t is not nil) and slots in one transaction, after check accepts them
// against the station's slots from the day before the first to the day after the last.
func (st Store) AddSlots(ctx context.Context, stationID int64, t *relais.Template, slots []relais.Slot,
	check func(existing []relais.Slot) error) error {
	if len(slots) == 0 && t == nil {
		return nil
	}
	return st.e.InTx(ctx, func(tx Querier) error {
		if err := st.e.Lock(ctx, tx, "stations", stationID); err != nil {
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
				slot_s, grade, subject, language, valid_from, valid_to) VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING id`,
				stationID, weekdayMask(t.Weekdays), t.Start, t.End, t.SlotMin*60, t.Grade, t.Subject, t.Language, t.From,
				t.To).Scan(&t.ID); err != nil {
				return fmt.Errorf("insert template: %w", err)
			}
			t.StationID = stationID
		}
		for i := range slots {
			s := &slots[i]
			s.StationID, s.Lessons = stationID, nil // a new slot is empty
			if t != nil {
				s.TemplateID = t.ID
			}
		}
		return st.e.InsertSlots(ctx, tx, slots)
	})
}

// SlotArgs are the values of a new slot's columns station_id, day, start_local, duration_s, grade,
// subject, language and template_id, in that order.
func SlotArgs(s relais.Slot) []any {
	return []any{s.StationID, s.Day, s.Start, int64(s.Duration / time.Second), s.Grade, s.Subject, s.Language,
		nullID(s.TemplateID)}
}

// Templates lists a station's templates.
func (st Store) Templates(ctx context.Context, stationID int64) ([]relais.Template, error) {
	return QueryAll(ctx, st.e.Read(), func(row Row) (relais.Template, error) {
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
func (st Store) AddException(ctx context.Context, e relais.Exception) ([]relais.Slot, error) {
	var removed []relais.Slot
	err := st.e.InTx(ctx, func(tx Querier) error {
		if err := st.e.Lock(ctx, tx, "stations", e.StationID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schedule_exceptions (station_id, day, reason) VALUES (?,?,?)
			ON CONFLICT (station_id, day) DO UPDATE SET reason = excluded.reason`, e.StationID, e.Day, e.Reason); err != nil {
			return fmt.Errorf("add exception: %w", err)
		}
		var err error
		removed, err = querySlots(ctx, tx, relais.SlotFilter{StationID: e.StationID, From: e.Day, To: e.Day})
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM slots WHERE station_id = ? AND day = ?`, e.StationID, e.Day)
		return err
	})
	return removed, err
}

// Exceptions lists a station's cancelled days.
func (st Store) Exceptions(ctx context.Context, stationID int64) ([]relais.Exception, error) {
	return QueryAll(ctx, st.e.Read(), func(row Row) (relais.Exception, error) {
		var e relais.Exception
		err := row.Scan(&e.StationID, &e.Day, &e.Reason)
		return e, err
	}, `SELECT station_id, day, reason FROM schedule_exceptions
		WHERE station_id = ? ORDER BY day`, stationID)
}

const slotColumns = `s.id, s.station_id, s.day, s.start_local, s.duration_s, s.grade, s.subject, s.language,
	COALESCE(s.template_id, 0)`

// Slot returns one slot.
func (st Store) Slot(ctx context.Context, id int64) (relais.Slot, error) {
	return slotByID(ctx, st.e.Read(), id)
}

func slotByID(ctx context.Context, q Querier, id int64) (relais.Slot, error) {
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
func (st Store) Slots(ctx context.Context, f relais.SlotFilter) ([]relais.Slot, error) {
	return querySlots(ctx, st.e.Read(), f)
}

func querySlots(ctx context.Context, q Querier, f relais.SlotFilter) ([]relais.Slot, error) {
	var w Where
	w.And(f.StationID != 0, `s.station_id = ?`, f.StationID)
	w.And(f.From != "", `s.day >= ?`, f.From)
	w.And(f.To != "", `s.day <= ?`, f.To)
	if f.Unassigned {
		w.SQL += ` AND NOT EXISTS (SELECT 1 FROM slot_lessons x WHERE x.slot_id = s.id)`
	}
	w.And(f.LessonID != 0, `s.id IN (SELECT x.slot_id FROM slot_lessons x WHERE x.lesson_id = ?)`, f.LessonID)
	return slotsWhere(ctx, q, w.SQL, w.Args...)
}

// slotsWhere reads the slots that where (" AND ..." on slots s) selects with their sequences, in local
// day and time order: one row per lesson of a slot (one with no lesson for an empty slot), gathered.
func slotsWhere(ctx context.Context, q Querier, where string, args ...any) ([]relais.Slot, error) {
	rows, err := q.Query(ctx, `SELECT `+slotColumns+`, l.lesson_id, l.rerun FROM slots s
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
		var rerun bool
		if err := rows.Scan(&s.ID, &s.StationID, &s.Day, &s.Start, &durS, &s.Grade, &s.Subject, &s.Language,
			&s.TemplateID, &lessonID, Bool(&rerun)); err != nil {
			return nil, fmt.Errorf("slots: %w", err)
		}
		if n := len(out); n == 0 || out[n-1].ID != s.ID {
			s.Duration = time.Duration(durS) * time.Second
			out = append(out, s)
		}
		if lessonID.Valid {
			last := &out[len(out)-1]
			last.Lessons = append(last.Lessons, relais.SlotLesson{LessonID: lessonID.Int64, Rerun: rerun})
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
func (st Store) Assign(ctx context.Context, as []relais.Assignment) error {
	return st.e.InTx(ctx, func(tx Querier) error {
		for _, a := range as {
			n, err := tx.Exec(ctx, `INSERT INTO slot_lessons (slot_id, position, lesson_id, rerun)
				SELECT s.id, ?, ?, ? FROM slots s WHERE s.id = ?
				AND (SELECT COUNT(*) FROM slot_lessons x WHERE x.slot_id = s.id) = ?`,
				a.Position, a.LessonID, a.Rerun, a.SlotID, int64(a.Position))
			changed := relais.Errorf(relais.ECONFLICT, "Slot %d changed meanwhile or is gone.", a.SlotID)
			if err := st.oneRow(n, err, fmt.Sprintf("assign slot %d", a.SlotID), changed, changed); err != nil {
				return err
			}
		}
		return nil
	})
}

// Unassign empties a slot's sequence.
func (st Store) Unassign(ctx context.Context, slotID int64) error {
	_, err := st.EditSlot(ctx, slotID, func(relais.Slot) ([]relais.SlotLesson, error) { return nil, nil })
	return err
}

// EditSlot replaces a slot's sequence with what edit makes of the stored slot, in one transaction that
// holds the slot's lock, so that edits of one slot run one at a time.
func (st Store) EditSlot(ctx context.Context, slotID int64, edit func(relais.Slot) ([]relais.SlotLesson, error)) (relais.Slot, error) {
	var out relais.Slot
	err := st.e.InTx(ctx, func(tx Querier) error {
		if err := st.e.Lock(ctx, tx, "slots", slotID); err != nil {
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
		if _, err := tx.Exec(ctx, `DELETE FROM slot_lessons WHERE slot_id = ?`, slotID); err != nil {
			return fmt.Errorf("edit slot %d: %w", slotID, err)
		}
		for i, l := range seq {
			if _, err := tx.Exec(ctx, `INSERT INTO slot_lessons (slot_id, position, lesson_id, rerun) VALUES (?,?,?,?)`,
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
func (st Store) SetApproval(ctx context.Context, a relais.Approval) error {
	_, err := st.e.Write().Exec(ctx, `INSERT INTO lesson_approvals (lesson_id, state, reason, decided_by, updated_at)
		VALUES (?,?,?,?,?) ON CONFLICT (lesson_id) DO UPDATE SET state = excluded.state, reason = excluded.reason,
		decided_by = excluded.decided_by, updated_at = excluded.updated_at`,
		a.LessonID, a.State, a.Reason, a.DecidedBy, st.e.Time(a.UpdatedAt))
	if err != nil {
		return fmt.Errorf("set approval of lesson %d: %w", a.LessonID, err)
	}
	return nil
}

// Approval returns a lesson's approval, ENOTFOUND when it was never submitted.
func (st Store) Approval(ctx context.Context, lessonID int64) (relais.Approval, error) {
	var a relais.Approval
	err := st.e.Read().QueryRow(ctx, `SELECT lesson_id, state, reason, decided_by, updated_at FROM lesson_approvals
		WHERE lesson_id = ?`, lessonID).Scan(&a.LessonID, &a.State, &a.Reason, &a.DecidedBy, Time(&a.UpdatedAt))
	if noRow(err) {
		return a, relais.Errorf(relais.ENOTFOUND, "Approval of lesson %d not found.", lessonID)
	}
	return a, err
}

// Submitted returns up to limit lessons waiting for a decision, the longest waiting first.
func (st Store) Submitted(ctx context.Context, limit int) ([]relais.Submission, error) {
	return QueryAll(ctx, st.e.Read(), func(rs Row) (relais.Submission, error) {
		var s relais.Submission
		l, err := scanLesson(scanTail(rs, &s.Approval.State, &s.Approval.Reason, &s.Approval.DecidedBy,
			Time(&s.Approval.UpdatedAt)))
		s.Lesson, s.Approval.LessonID = l, l.ID
		return s, err
	}, `SELECT `+prefixed("l.", lessonColumns)+`, a.state, a.reason, a.decided_by, a.updated_at FROM lesson_approvals a
		JOIN lessons l ON l.id = a.lesson_id
		WHERE a.state = 'submitted' ORDER BY a.updated_at, a.lesson_id LIMIT ?`, limit)
}

// ApprovedLessons returns approved lessons that are ready or published, by id.
func (st Store) ApprovedLessons(ctx context.Context) ([]relais.Lesson, error) {
	return QueryAll(ctx, st.e.Read(), scanLesson, `SELECT `+prefixed("l.", lessonColumns)+` FROM lessons l
		JOIN lesson_approvals a ON a.lesson_id = l.id
		WHERE a.state = 'approved' AND l.status IN ('ready', 'published') ORDER BY l.id`)
}

// AiredLessons returns the ids of lessons in a slot's sequence.
func (st Store) AiredLessons(ctx context.Context) (map[int64]bool, error) {
	ids, err := QueryAll(ctx, st.e.Read(), func(row Row) (int64, error) {
		var id int64
		err := row.Scan(&id)
		return id, err
	}, `SELECT DISTINCT lesson_id FROM slot_lessons`)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// Episode returns l's rank among lessons of its grade, subject and language, from 1.
func (st Store) Episode(ctx context.Context, l relais.Lesson) (int, error) {
	var n int
	err := st.e.Read().QueryRow(ctx, `SELECT COUNT(*) FROM lessons WHERE grade = ? AND subject = ? AND language = ?
		AND id <= ?`, l.Grade, l.Subject, l.Language, l.ID).Scan(&n)
	return n, err
}

// oneRow says what became of a write meant to change one row (n rows, err): conflict when a unique
// constraint refused it (another writer made the same change at once), err as it did doing, none
// when it changed no row.
func (st Store) oneRow(n int64, err error, doing string, conflict, none error) error {
	switch {
	case st.e.Conflict(err):
		return conflict
	case err != nil:
		return fmt.Errorf("%s: %w", doing, err)
	case n == 0:
		return none
	}
	return nil
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

// InsertSlots writes new slots one statement each and sets their ids (Engine.InsertSlots).
func InsertSlots(ctx context.Context, tx Querier, slots []relais.Slot) error {
	for i := range slots {
		s := &slots[i]
		if err := tx.QueryRow(ctx, `INSERT INTO slots (station_id, day, start_local, duration_s, grade, subject,
			language, template_id) VALUES (?,?,?,?,?,?,?,?) RETURNING id`, SlotArgs(*s)...).Scan(&s.ID); err != nil {
			return fmt.Errorf("insert slot %s %s: %w", s.Day, s.Start, err)
		}
	}
	return nil
}
