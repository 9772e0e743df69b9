// Package retention removes, in one periodic pass, the data Relais no longer keeps: families' replies,
// bounce reports, settled deliveries and households removed from the roster (in the database), the
// files of lessons whose last airing is past (in the media store) and the playout exports of days
// gone by. Each period is configured; zero keeps that kind of data.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/internal/tick"
)

// PlayoutPruner removes the playout exports of the days before a time (scheduler.Exporter is one).
type PlayoutPruner interface {
	Prune(ctx context.Context, before time.Time) (int, error)
}

// Task is the retention pass and its dependencies.
type Task struct {
	Store     relais.PrivacyStore
	Media     relais.MediaStore
	Playout   PlayoutPruner // nil: no playout exports to prune
	Retention relais.Retention
	Now       func() time.Time
	Log       *slog.Logger
}

// Result counts what one pass removed.
type Result struct {
	relais.Pruned
	PlayoutFiles int
}

// mediaBatch is how many lessons' files one query of the pass finds.
const mediaBatch = 100

// Pass removes what has aged out at t.Now(). The database's kinds go first; then each aged lesson's
// files, the lesson forgotten only once all of them are gone (a failed removal leaves it for the next
// pass); then the playout exports of the days before the media cut-off.
func (t *Task) Pass(ctx context.Context) (Result, error) {
	now := t.Now()
	var res Result
	var err error
	if res.Pruned, err = t.Store.PruneFamilyData(ctx, now, t.Retention); err != nil {
		return res, err
	}
	if t.Retention.Media <= 0 {
		return res, nil
	}
	before := now.Add(-t.Retention.Media)
	for {
		aged, err := t.Store.AgedMedia(ctx, before, mediaBatch)
		if err != nil {
			return res, err
		}
		for _, l := range aged {
			if err := t.removeLesson(ctx, l, now); err != nil {
				return res, err
			}
			res.Lessons++
		}
		if len(aged) < mediaBatch {
			break
		}
	}
	if t.Playout != nil {
		n, err := t.Playout.Prune(ctx, before)
		res.PlayoutFiles = n
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

func (t *Task) removeLesson(ctx context.Context, l relais.LessonFiles, now time.Time) error {
	var errs []error
	for _, loc := range l.Locations {
		if err := t.Media.Remove(ctx, loc); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove the files of lesson %d: %w", l.LessonID, err)
	}
	return t.Store.ForgetMedia(ctx, l.LessonID, now)
}

// Run makes a pass now and then every period until ctx ends, and logs what each removed.
func (t *Task) Run(ctx context.Context, every time.Duration) {
	if t.Retention == (relais.Retention{}) {
		return
	}
	tick.Every(ctx, every, func(ctx context.Context) {
		res, err := t.Pass(ctx)
		if err != nil && ctx.Err() == nil {
			t.Log.Error("retention", "err", err)
		}
		if res != (Result{}) {
			t.Log.Info("retention removed aged data", "replies", res.Replies, "bounces", res.Bounces,
				"deliveries", res.Deliveries, "households_erased", res.Households, "lessons_media", res.Lessons,
				"playout_files", res.PlayoutFiles)
		}
	})
}
