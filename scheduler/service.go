package scheduler

import (
	"context"
	"slices"
	"time"

	relais "github.com/relais-edu/relais"
)

// Lessons is what the scheduler reads of lessons.
type Lessons interface {
	Lesson(ctx context.Context, id int64) (relais.Lesson, error)
	Renditions(ctx context.Context, lessonID int64) ([]relais.Rendition, error)
}

// Reminders queues a lesson's broadcast reminders again after its airings changed.
type Reminders interface {
	RescheduleReminders(ctx context.Context, lessonID int64) error
}

// Service runs grids on a Store.
type Service struct {
	store     relais.ScheduleStore
	lessons   Lessons
	now       relais.Clock
	reminders Reminders        // nil: none are queued
	lists     relais.PickLists // the subjects and regions staff pick from
}

// New returns a Service. now decides approval timestamps; nil means time.Now.
func New(store relais.ScheduleStore, lessons Lessons, now relais.Clock) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, lessons: lessons, now: now}
}

// RemindWith makes the service queue the reminders of the lessons whose airings a change moves: a
// station renamed or moved to another region, a slot assigned. The API and the UI share one such
// service, so both remind alike.
func (s *Service) RemindWith(r Reminders) { s.reminders = r }

// PickFrom sets the configured subjects and regions that templates, slots and stations must use (an
// empty list is not enforced).
func (s *Service) PickFrom(p relais.PickLists) { s.lists = p }

// PickLists returns the configured subjects and regions, for the pages' pick lists.
func (s *Service) PickLists() relais.PickLists { return s.lists }

// remind queues the reminders of lessons again, when the service has a queue for them.
func (s *Service) remind(ctx context.Context, lessons ...int64) error {
	if s.reminders == nil {
		return nil
	}
	for _, id := range lessons {
		if err := s.reminders.RescheduleReminders(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// CreateStation validates and stores a station.
func (s *Service) CreateStation(ctx context.Context, st *relais.Station) error {
	if err := st.Validate(); err != nil {
		return err
	}
	if err := s.lists.CheckRegion(st.Region); err != nil {
		return err
	}
	return s.store.CreateStation(ctx, st)
}

// StationPatch changes some of a station's fields; a field left out (nil) stays as it is. Kind may be
// sent back unchanged (a station read, edited and sent whole) but a TV station cannot become a radio
// one; the id is read from the path and ignored here.
type StationPatch struct {
	ID          *int64                `json:"id,omitempty"`
	Name        *string               `json:"name,omitempty"`
	Kind        *relais.StationKind   `json:"kind,omitempty"`
	Region      *string               `json:"region,omitempty"`
	TimeZone    *string               `json:"time_zone,omitempty"`
	ServiceName *string               `json:"service_name,omitempty"`
	Playout     *relais.PlayoutFormat `json:"playout_format,omitempty"`
	Provider    *string               `json:"provider,omitempty"`
	Filler      *string               `json:"filler,omitempty"`
	DayStart    *string               `json:"day_start,omitempty"`
}

// UpdateStation applies p to station id, validated as a new station is. Slots keep their local day and
// time, so the time zone changes only when no slot would air at another instant in the new zone (an
// alias such as Asia/Calcutta for Asia/Kolkata, or a station without slots). It returns the station and
// the lessons airing on it from today on when the name families know or the region changed: their
// reminders are queued again (see RemindWith).
func (s *Service) UpdateStation(ctx context.Context, id int64, p StationPatch) (relais.Station, []int64, error) {
	cur, oldLoc, err := s.station(ctx, id)
	if err != nil {
		return cur, nil, err
	}
	next := cur
	if p.Kind != nil && *p.Kind != cur.Kind {
		return cur, nil, relais.Errorf(relais.EINVALID, "Station %q is %s and cannot become %s: create a new station instead.", cur.Name, cur.Kind, *p.Kind)
	}
	for _, f := range []struct{ to, from *string }{{&next.Name, p.Name}, {&next.Region, p.Region},
		{&next.TimeZone, p.TimeZone}, {&next.ServiceName, p.ServiceName}, {&next.Provider, p.Provider},
		{&next.Filler, p.Filler}, {&next.DayStart, p.DayStart}} {
		if f.from != nil {
			*f.to = *f.from
		}
	}
	if p.Playout != nil {
		next.Playout = *p.Playout
	}
	if err := next.Validate(); err != nil {
		return cur, nil, err
	}
	if next.Region != cur.Region { // a region stored before the list was configured is kept
		if err := s.lists.CheckRegion(next.Region); err != nil {
			return cur, nil, err
		}
	}
	var check func([]relais.Slot) error
	if next.TimeZone != cur.TimeZone {
		newLoc, _ := next.Location() // Validate loaded it
		check = func(slots []relais.Slot) error { return zoneMoves(cur, next.TimeZone, oldLoc, newLoc, slots) }
	}
	if err := s.store.UpdateStation(ctx, next, check); err != nil {
		return cur, nil, err
	}
	if next.ServiceName == cur.ServiceName && next.Region == cur.Region {
		return next, nil, nil
	}
	loc, _ := next.Location()
	coming, err := s.store.Slots(ctx, relais.SlotFilter{StationID: id, From: s.now().In(loc).Format(time.DateOnly)})
	if err != nil {
		return next, nil, err
	}
	var lessons []int64
	for _, sl := range coming {
		for _, id := range sl.LessonIDs() {
			if !slices.Contains(lessons, id) {
				lessons = append(lessons, id)
			}
		}
	}
	return next, lessons, s.remind(ctx, lessons...)
}

// zoneMoves refuses a new zone for st when one of its slots would air at another instant there.
func zoneMoves(st relais.Station, zone string, oldLoc, newLoc *time.Location, slots []relais.Slot) error {
	var moved []relais.Slot
	for _, sl := range slots {
		a, _, errA := sl.Interval(oldLoc)
		b, _, errB := sl.Interval(newLoc)
		if errA != nil || errB != nil || !a.Equal(b) {
			moved = append(moved, sl)
		}
	}
	if len(moved) == 0 {
		return nil
	}
	return relais.Errorf(relais.ECONFLICT, "Station %q cannot move to %s: %d of its slots would air at another time (the first: %s %s), as slots keep their local day and time. Create a new station in that zone instead.",
		st.Name, zone, len(moved), moved[0].Day, moved[0].Start)
}

// DeleteStation removes a station with its templates, exceptions and slots, past ones included. A
// station with a lesson in a slot from today on (in its zone) is refused: those families expect the
// airing. It returns how many slots were removed.
func (s *Service) DeleteStation(ctx context.Context, id int64) (int, error) {
	st, loc, err := s.station(ctx, id)
	if err != nil {
		return 0, err
	}
	today := s.now().In(loc).Format(time.DateOnly)
	return s.store.DeleteStation(ctx, id, func(slots []relais.Slot) error {
		var coming []relais.Slot
		for _, sl := range slots {
			if len(sl.Lessons) > 0 && sl.Day >= today {
				coming = append(coming, sl)
			}
		}
		if len(coming) == 0 {
			return nil
		}
		return relais.Errorf(relais.ECONFLICT, "Station %q still airs lessons from today on; slots holding one: %d (the first: %s %s, lesson %d). Empty them in the grid, then delete the station.",
			st.Name, len(coming), coming[0].Day, coming[0].Start, coming[0].Lessons[0].LessonID)
	})
}

// TemplateResult is what adding a template made.
type TemplateResult struct {
	Template relais.Template `json:"template"`
	Slots    int             `json:"slots"`
	Skipped  []string        `json:"skipped,omitempty"` // starts that do not exist on their day (DST gap)
}

// AddTemplate stores a weekly template and its slots, refusing any overlap with the station's grid.
func (s *Service) AddTemplate(ctx context.Context, t relais.Template) (TemplateResult, error) {
	st, loc, err := s.station(ctx, t.StationID)
	if err != nil {
		return TemplateResult{}, err
	}
	if err := s.lists.CheckSubject(t.Subject); err != nil {
		return TemplateResult{}, err
	}
	exc, err := s.store.Exceptions(ctx, st.ID)
	if err != nil {
		return TemplateResult{}, err
	}
	cancelled := map[string]bool{}
	for _, e := range exc {
		cancelled[e.Day] = true
	}
	slots, skipped, err := Expand(t, loc, cancelled)
	if err != nil {
		return TemplateResult{}, err
	}
	if err := s.store.AddSlots(ctx, st.ID, &t, slots, NoOverlap(loc, slots)); err != nil {
		return TemplateResult{}, err
	}
	return TemplateResult{Template: t, Slots: len(slots), Skipped: skipped}, nil
}

// AddSlot stores a one-off slot, refusing any overlap.
func (s *Service) AddSlot(ctx context.Context, sl relais.Slot) (relais.Slot, error) {
	_, loc, err := s.station(ctx, sl.StationID)
	if err != nil {
		return sl, err
	}
	if sl.Duration < 5*time.Minute || sl.Duration > 4*time.Hour {
		return sl, relais.Errorf(relais.EINVALID, "A slot lasts 5 minutes to 4 hours, not %s.", sl.Duration)
	}
	if sl.Language != "" && !relais.ValidLanguage(sl.Language) {
		return sl, relais.Errorf(relais.EINVALID, "Language %q is not one of %v.", sl.Language, relais.Languages)
	}
	if err := s.lists.CheckSubject(sl.Subject); err != nil {
		return sl, err
	}
	if _, _, err := sl.Interval(loc); err != nil {
		return sl, err
	}
	sl.TemplateID, sl.Lessons = 0, nil
	add := []relais.Slot{sl}
	if err := s.store.AddSlots(ctx, sl.StationID, nil, add, NoOverlap(loc, add)); err != nil {
		return sl, err
	}
	return add[0], nil
}

// AddException cancels a day and returns the slots removed (their lessons are no longer scheduled).
func (s *Service) AddException(ctx context.Context, e relais.Exception) ([]relais.Slot, error) {
	if _, _, err := s.station(ctx, e.StationID); err != nil {
		return nil, err
	}
	if _, err := relais.ParseDay(e.Day); err != nil {
		return nil, err
	}
	return s.store.AddException(ctx, e)
}

// Submit puts a lesson forward for broadcast; only its teacher (or staff) may.
func (s *Service) Submit(ctx context.Context, u relais.User, lessonID int64) (relais.Approval, error) {
	l, err := s.lessons.Lesson(ctx, lessonID)
	if err != nil {
		return relais.Approval{}, err
	}
	if !u.CanSeeAllLessons() && l.TeacherID != u.ID {
		return relais.Approval{}, relais.Errorf(relais.ENOTFOUND, "Lesson %d not found.", lessonID)
	}
	if prev, err := s.store.Approval(ctx, lessonID); err == nil && prev.State == relais.Approved {
		return prev, relais.Errorf(relais.ECONFLICT, "Lesson %d is already approved.", lessonID)
	}
	a := relais.Approval{LessonID: lessonID, State: relais.Submitted, UpdatedAt: s.now().UTC()}
	return a, s.store.SetApproval(ctx, a)
}

// Decide approves or rejects a submitted lesson; a rejection needs a reason for the teacher.
func (s *Service) Decide(ctx context.Context, u relais.User, lessonID int64, approve bool, reason string) (relais.Approval, error) {
	if !u.CanSeeAllLessons() {
		return relais.Approval{}, relais.Errorf(relais.EFORBIDDEN, "Only the media unit approves lessons.")
	}
	prev, err := s.store.Approval(ctx, lessonID)
	if relais.ErrorCode(err) == relais.ENOTFOUND {
		return relais.Approval{}, relais.Errorf(relais.ECONFLICT, "Lesson %d has not been submitted.", lessonID)
	} else if err != nil {
		return relais.Approval{}, err
	}
	if prev.State != relais.Submitted {
		return prev, relais.Errorf(relais.ECONFLICT, "Lesson %d is %s, not submitted.", lessonID, prev.State)
	}
	a := relais.Approval{LessonID: lessonID, State: relais.Approved, DecidedBy: u.ID, UpdatedAt: s.now().UTC()}
	if !approve {
		if reason == "" {
			return prev, relais.Errorf(relais.EINVALID, "Say why the lesson is rejected.")
		}
		a.State, a.Reason = relais.Rejected, reason
	}
	return a, s.store.SetApproval(ctx, a)
}

// Assign appends an approved lesson to a slot's sequence by hand: it plays after the lessons already
// there. The lesson must match the slot's grade, subject and language when the slot sets them, and fit
// the time the sequence leaves in the slot. A published lesson's families are reminded of the new airing
// (see RemindWith; a cancelled one reminds nobody).
func (s *Service) Assign(ctx context.Context, slotID, lessonID int64, rerun bool) error {
	sl, err := s.store.Slot(ctx, slotID)
	if err != nil {
		return err
	}
	if sl.Holds(lessonID) {
		return relais.Errorf(relais.ECONFLICT, "Slot %d already airs lesson %d.", slotID, lessonID)
	}
	a, err := s.store.Approval(ctx, lessonID)
	if err != nil || a.State != relais.Approved {
		return relais.Errorf(relais.ECONFLICT, "Lesson %d is not approved for broadcast.", lessonID)
	}
	l, err := s.lessons.Lesson(ctx, lessonID)
	if err != nil {
		return err
	}
	if l.Status != relais.LessonReady && l.Status != relais.LessonPublished {
		return relais.Errorf(relais.ECONFLICT, "Lesson %d is %s; only ready lessons air.", lessonID, l.Status)
	}
	if err := mismatch(sl, l); err != nil {
		return err
	}
	before, err := newLengths(s.lessons.Lesson).sequence(ctx, sl)
	if err != nil {
		return err
	}
	if used := relais.SequenceLength(before); len(sl.Lessons) > 0 {
		d := time.Duration(l.DurationMS) * time.Millisecond
		if used+d > sl.Duration {
			return relais.Errorf(relais.EINVALID, "Lesson %d does not fit slot %d: it lasts %s, and the %d lessons already there leave %s of the %s slot.",
				l.ID, sl.ID, relais.HumanDuration(d), len(sl.Lessons), relais.HumanDuration(max(sl.Duration-used, 0)), relais.HumanDuration(sl.Duration))
		}
	}
	aired, err := s.store.AiredLessons(ctx)
	if err != nil {
		return err
	}
	if aired[lessonID] && !rerun {
		return relais.Errorf(relais.ECONFLICT, "Lesson %d is already scheduled; assign it as a re-run to air it again.", lessonID)
	}
	as := []relais.Assignment{{SlotID: slotID, Position: len(sl.Lessons), LessonID: lessonID, Rerun: aired[lessonID]}}
	if err := s.store.Assign(ctx, as); err != nil {
		return err
	}
	return s.remind(ctx, lessonID)
}

// SetSequence edits a slot's sequence by hand: lessonIDs, in their new playing order, are lessons the slot
// holds; those left out are removed from it (none: the slot is emptied). The families of every lesson
// whose airing moved or went are reminded again. It returns the slot as stored.
func (s *Service) SetSequence(ctx context.Context, slotID int64, lessonIDs []int64) (relais.Slot, error) {
	var before []int64
	sl, err := s.store.EditSlot(ctx, slotID, func(cur relais.Slot) ([]relais.SlotLesson, error) {
		before = cur.LessonIDs()
		seq := make([]relais.SlotLesson, 0, len(lessonIDs))
		for _, id := range lessonIDs {
			i := slices.IndexFunc(cur.Lessons, func(x relais.SlotLesson) bool { return x.LessonID == id })
			if i < 0 {
				return nil, relais.Errorf(relais.EINVALID, "Slot %d does not air lesson %d: add it to the slot first.", slotID, id)
			}
			if slices.ContainsFunc(seq, func(x relais.SlotLesson) bool { return x.LessonID == id }) {
				return nil, relais.Errorf(relais.EINVALID, "Lesson %d is given twice for slot %d.", id, slotID)
			}
			seq = append(seq, cur.Lessons[i])
		}
		return seq, nil
	})
	if err != nil {
		return sl, err
	}
	// A lesson after the first change of order starts at another time; one removed no longer airs there.
	var moved []int64
	for i, id := range before {
		if i >= len(sl.Lessons) || sl.Lessons[i].LessonID != id {
			moved = before[i:]
			for _, x := range sl.Lessons[min(i, len(sl.Lessons)):] {
				if !slices.Contains(moved, x.LessonID) {
					moved = append(moved, x.LessonID)
				}
			}
			break
		}
	}
	return sl, s.remind(ctx, moved...)
}

// RemoveFromSlot takes one lesson out of a slot's sequence; the lessons after it move up.
func (s *Service) RemoveFromSlot(ctx context.Context, slotID, lessonID int64) (relais.Slot, error) {
	sl, err := s.store.Slot(ctx, slotID)
	if err != nil {
		return sl, err
	}
	if !sl.Holds(lessonID) {
		return sl, relais.Errorf(relais.ENOTFOUND, "Slot %d does not air lesson %d.", slotID, lessonID)
	}
	ids := slices.DeleteFunc(sl.LessonIDs(), func(id int64) bool { return id == lessonID })
	return s.SetSequence(ctx, slotID, ids)
}

// MoveInSlot moves a lesson of a slot's sequence one place earlier (up) or later.
func (s *Service) MoveInSlot(ctx context.Context, slotID, lessonID int64, up bool) (relais.Slot, error) {
	sl, err := s.store.Slot(ctx, slotID)
	if err != nil {
		return sl, err
	}
	ids := sl.LessonIDs()
	i := slices.Index(ids, lessonID)
	if i < 0 {
		return sl, relais.Errorf(relais.ENOTFOUND, "Slot %d does not air lesson %d.", slotID, lessonID)
	}
	j := i + 1
	if up {
		j = i - 1
	}
	if j < 0 || j >= len(ids) {
		return sl, nil // already first or last
	}
	ids[i], ids[j] = ids[j], ids[i]
	return s.SetSequence(ctx, slotID, ids)
}

// mismatch says why l cannot air in sl, or returns nil.
func mismatch(sl relais.Slot, l relais.Lesson) error {
	switch {
	case sl.Grade != 0 && sl.Grade != l.Grade:
		return relais.Errorf(relais.EINVALID, "Lesson %d does not fit slot %d: grade %d, slot is for grade %d.", l.ID, sl.ID, l.Grade, sl.Grade)
	case sl.Subject != "" && sl.Subject != l.Subject:
		return relais.Errorf(relais.EINVALID, "Lesson %d does not fit slot %d: subject %s, slot is for %s.", l.ID, sl.ID, l.Subject, sl.Subject)
	case sl.Language != "" && sl.Language != l.Language:
		return relais.Errorf(relais.EINVALID, "Lesson %d does not fit slot %d: language %s, slot is in %s.", l.ID, sl.ID, l.Language, sl.Language)
	}
	if _, err := relais.FitSlot(time.Duration(l.DurationMS)*time.Millisecond, sl.Duration); err != nil {
		return relais.Errorf(relais.EINVALID, "Lesson %d does not fit slot %d: %s", l.ID, sl.ID, err) // err ends with "."
	}
	return nil
}

func (s *Service) station(ctx context.Context, id int64) (relais.Station, *time.Location, error) {
	st, err := s.store.Station(ctx, id)
	if err != nil {
		return st, nil, err
	}
	loc, err := st.Location()
	return st, loc, err
}
