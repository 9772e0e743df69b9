package scheduler

import (
	"context"
	"time"

	relais "github.com/relais-edu/relais"
)

// lengths reads the lengths of lessons, each once: what places a lesson within its slot's sequence.
type lengths struct {
	lesson func(ctx context.Context, id int64) (relais.Lesson, error)
	known  map[int64]time.Duration
}

func newLengths(lesson func(ctx context.Context, id int64) (relais.Lesson, error)) *lengths {
	return &lengths{lesson: lesson, known: map[int64]time.Duration{}}
}

// of returns a lesson's length; a lesson that is gone takes no time.
func (ls *lengths) of(ctx context.Context, id int64) (time.Duration, error) {
	if d, ok := ls.known[id]; ok {
		return d, nil
	}
	l, err := ls.lesson(ctx, id)
	if relais.ErrorCode(err) == relais.ENOTFOUND {
		l, err = relais.Lesson{}, nil
	} else if err != nil {
		return 0, err
	}
	d := time.Duration(l.DurationMS) * time.Millisecond
	ls.known[id] = d
	return d, nil
}

// sequence returns the lengths of a slot's lessons in their order.
func (ls *lengths) sequence(ctx context.Context, sl relais.Slot) ([]time.Duration, error) {
	out := make([]time.Duration, len(sl.Lessons))
	for i, l := range sl.Lessons {
		d, err := ls.of(ctx, l.LessonID)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

// SlotAirings is when each lesson of a slot's sequence starts, and how long the sequence plays, given
// the lessons' lengths in order.
func SlotAirings(sl relais.Slot, loc *time.Location, lengths []time.Duration) (starts []time.Time, total time.Duration, err error) {
	start, _, err := sl.Interval(loc)
	if err != nil {
		return nil, 0, err
	}
	return relais.SequenceStarts(start, lengths), relais.SequenceLength(lengths), nil
}
