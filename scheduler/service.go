package scheduler

import (
	"context"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/ingest"
)

// Lessons is what the scheduler reads of lessons.
type Lessons interface {
	Lesson(ctx context.Context, id int64) (relais.Lesson, error)
	Renditions(ctx context.Context, lessonID int64) ([]relais.Rendition, error)
}

// Service runs grids on a Store.
type Service struct {
	store   Store
	lessons Lessons
	now     relais.Clock
}

// New returns a Service. now decides approval timestamps; nil means time.Now.
func New(store Store, lessons Lessons, now relais.Clock) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, lessons: lessons, now: now}
}

// CreateStation validates and stores a station.
func (s *Service) CreateStation(ctx context.Context, st *Station) error {
	if err := st.Validate(); err != nil {
		return err
	}
	return s.store.CreateStation(ctx, st)
}

// TemplateResult is what adding a template made.
type TemplateResult struct {
	Template Template `json:"template"`
	Slots    int      `json:"slots"`
	Skipped  []string `json:"skipped,omitempty"` // starts that do not exist on their day (DST gap)
}

// AddTemplate stores a weekly template and its slots, refusing any overlap with the station's grid.
func (s *Service) AddTemplate(ctx context.Context, t Template) (TemplateResult, error) {
	st, loc, err := s.station(ctx, t.StationID)
	if err != nil {
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
func (s *Service) AddSlot(ctx context.Context, sl Slot) (Slot, error) {
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
	if _, _, err := sl.Interval(loc); err != nil {
		return sl, err
	}
	sl.TemplateID, sl.LessonID = 0, 0
	add := []Slot{sl}
	if err := s.store.AddSlots(ctx, sl.StationID, nil, add, NoOverlap(loc, add)); err != nil {
		return sl, err
	}
	return add[0], nil
}

// AddException cancels a day and returns the slots removed (their lessons are no longer scheduled).
func (s *Service) AddException(ctx context.Context, e Exception) ([]Slot, error) {
	if _, _, err := s.station(ctx, e.StationID); err != nil {
		return nil, err
	}
	if _, err := parseDay(e.Day); err != nil {
		return nil, err
	}
	return s.store.AddException(ctx, e)
}

// Submit puts a lesson forward for broadcast; only its teacher (or staff) may.
func (s *Service) Submit(ctx context.Context, u relais.User, lessonID int64) (Approval, error) {
	l, err := s.lessons.Lesson(ctx, lessonID)
	if err != nil {
		return Approval{}, err
	}
	if !u.CanSeeAllLessons() && l.TeacherID != u.ID {
		return Approval{}, relais.Errorf(relais.ENOTFOUND, "Lesson %d not found.", lessonID)
	}
	if prev, err := s.store.Approval(ctx, lessonID); err == nil && prev.State == Approved {
		return prev, relais.Errorf(relais.ECONFLICT, "Lesson %d is already approved.", lessonID)
	}
	a := Approval{LessonID: lessonID, State: Submitted, UpdatedAt: s.now().UTC()}
	return a, s.store.SetApproval(ctx, a)
}

// Decide approves or rejects a submitted lesson; a rejection needs a reason for the teacher.
func (s *Service) Decide(ctx context.Context, u relais.User, lessonID int64, approve bool, reason string) (Approval, error) {
	if !u.CanSeeAllLessons() {
		return Approval{}, relais.Errorf(relais.EFORBIDDEN, "Only the media unit approves lessons.")
	}
	prev, err := s.store.Approval(ctx, lessonID)
	if relais.ErrorCode(err) == relais.ENOTFOUND {
		return Approval{}, relais.Errorf(relais.ECONFLICT, "Lesson %d has not been submitted.", lessonID)
	} else if err != nil {
		return Approval{}, err
	}
	if prev.State != Submitted {
		return prev, relais.Errorf(relais.ECONFLICT, "Lesson %d is %s, not submitted.", lessonID, prev.State)
	}
	a := Approval{LessonID: lessonID, State: Approved, DecidedBy: u.ID, UpdatedAt: s.now().UTC()}
	if !approve {
		if reason == "" {
			return prev, relais.Errorf(relais.EINVALID, "Say why the lesson is rejected.")
		}
		a.State, a.Reason = Rejected, reason
	}
	return a, s.store.SetApproval(ctx, a)
}

// Assign puts an approved lesson in an empty slot by hand. The lesson must match the slot's grade,
// subject and language when the slot sets them, and fit its length.
func (s *Service) Assign(ctx context.Context, slotID, lessonID int64, rerun bool) error {
	sl, err := s.store.Slot(ctx, slotID)
	if err != nil {
		return err
	}
	if sl.LessonID != 0 {
		return relais.Errorf(relais.ECONFLICT, "Slot %d already airs lesson %d.", slotID, sl.LessonID)
	}
	a, err := s.store.Approval(ctx, lessonID)
	if err != nil || a.State != Approved {
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
	aired, err := s.store.AiredLessons(ctx)
	if err != nil {
		return err
	}
	if aired[lessonID] && !rerun {
		return relais.Errorf(relais.ECONFLICT, "Lesson %d is already scheduled; assign it as a re-run to air it again.", lessonID)
	}
	return s.store.Assign(ctx, []Assignment{{SlotID: slotID, LessonID: lessonID, Rerun: aired[lessonID]}})
}

// mismatch says why l cannot air in sl, or returns nil.
func mismatch(sl Slot, l relais.Lesson) error {
	switch {
	case sl.Grade != 0 && sl.Grade != l.Grade:
		return relais.Errorf(relais.EINVALID, "Lesson %d does not fit slot %d: grade %d, slot is for grade %d.", l.ID, sl.ID, l.Grade, sl.Grade)
	case sl.Subject != "" && sl.Subject != l.Subject:
		return relais.Errorf(relais.EINVALID, "Lesson %d does not fit slot %d: subject %s, slot is for %s.", l.ID, sl.ID, l.Subject, sl.Subject)
	case sl.Language != "" && sl.Language != l.Language:
		return relais.Errorf(relais.EINVALID, "Lesson %d does not fit slot %d: language %s, slot is in %s.", l.ID, sl.ID, l.Language, sl.Language)
	}
	if _, err := ingest.FitSlot(time.Duration(l.DurationMS)*time.Millisecond, sl.Duration); err != nil {
		return relais.Errorf(relais.EINVALID, "Lesson %d does not fit slot %d: %s", l.ID, sl.ID, err) // err ends with "."
	}
	return nil
}

func (s *Service) station(ctx context.Context, id int64) (Station, *time.Location, error) {
	st, err := s.store.Station(ctx, id)
	if err != nil {
		return st, nil, err
	}
	loc, err := st.Location()
	return st, loc, err
}
