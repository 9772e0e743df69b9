package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
)

// handleIngest probes an upload and, when it is accepted, queues the renditions, the digests and the
// worksheet. A refused upload ends here with the reason on the lesson.
func (w *Worker) handleIngest(ctx context.Context, t *asynq.Task) error {
	_, l, err := taskLesson[LessonPayload](ctx, w, t)
	if err != nil {
		return err
	}
	if l.Status != relais.LessonUploaded && l.Status != relais.LessonProcessing {
		return nil // already decided by an earlier run
	}
	if err := w.store.SetLessonProgress(ctx, l.ID, "probe", 0); err != nil {
		return err
	}
	d, err := w.pipeline.Probe(ctx, l.MediaPath)
	if relais.ErrorCode(err) == relais.EINVALID {
		w.log.Info("upload refused", "lesson_id", l.ID, "reason", relais.ErrorMessage(err))
		return w.store.SetLessonStatus(ctx, l.ID, relais.LessonRejected, err)
	} else if err != nil {
		return w.failIfLast(ctx, l.ID, "probe", err)
	}
	if err := w.store.SetLessonDuration(ctx, l.ID, d); err != nil {
		return err
	}
	if err := w.store.SetLessonStatus(ctx, l.ID, relais.LessonProcessing, nil); err != nil {
		return err
	}
	for _, next := range []struct {
		typ, queue string
	}{{TypeTranscode, QueueMedia}, {TypeDigest, QueueDefault}, {TypeWorksheet, QueueDefault}} {
		err := w.client.enqueue(ctx, next.typ, LessonPayload{LessonID: l.ID}, asynq.Queue(next.queue),
			lessonTaskID(next.typ, l.ID), asynq.MaxRetry(w.cfg.MaxRetry))
		if err != nil {
			return err
		}
	}
	return nil
}

// handleTranscode renders the lesson's media; handleDigest writes the SMS digests; handleWorksheet
// validates or renders the worksheet PDF.
func (w *Worker) handleTranscode(ctx context.Context, t *asynq.Task) error {
	return w.makeProduct(ctx, t, w.transcode)
}

func (w *Worker) handleDigest(ctx context.Context, t *asynq.Task) error {
	return w.makeProduct(ctx, t, w.digest)
}

func (w *Worker) handleWorksheet(ctx context.Context, t *asynq.Task) error {
	return w.makeProduct(ctx, t, w.worksheet)
}

// makeProduct runs one product step of a lesson being processed: write makes the product, then the
// lesson is marked ready if it was the last one missing. A lesson no longer processing is left alone.
func (w *Worker) makeProduct(ctx context.Context, t *asynq.Task, write func(context.Context, relais.Lesson) error) error {
	_, l, err := taskLesson[LessonPayload](ctx, w, t)
	if err != nil || l.Status != relais.LessonProcessing {
		return err
	}
	if err := write(ctx, l); err != nil {
		return err
	}
	return w.checkReady(ctx, l.ID)
}

func (w *Worker) transcode(ctx context.Context, l relais.Lesson) error {
	last := -1
	progress := func(step string, pct int) {
		if pct == last {
			return
		}
		last = pct
		if err := w.store.SetLessonProgress(ctx, l.ID, step, pct); err != nil {
			w.log.Warn("record progress", "lesson_id", l.ID, "err", err)
		}
	}
	if w.pipeline.PlanParts != nil {
		n, err := w.pipeline.PlanParts(ctx, l)
		if err != nil {
			return w.failStep(ctx, l.ID, "transcode", err, relais.EINVALID)
		}
		if n > 0 {
			return w.startParts(ctx, l, n)
		}
	}
	rs, err := w.pipeline.Render(ctx, l, progress)
	if err != nil {
		// Invalid: the media cannot be made broadcast-ready (e.g. loudness out of tolerance).
		return w.failStep(ctx, l.ID, "transcode", err, relais.EINVALID)
	}
	for i := range rs {
		rs[i].LessonID = l.ID
	}
	return putAll(ctx, rs, w.store.PutRendition)
}

func (w *Worker) digest(ctx context.Context, l relais.Lesson) error {
	ds, err := w.pipeline.Digests(ctx, l, nil) // airings are added at publication, once slots are known
	if err != nil {
		return w.failStep(ctx, l.ID, "digest", err)
	}
	for i := range ds {
		ds[i].LessonID = l.ID
	}
	return putAll(ctx, ds, w.store.PutDigest)
}

func (w *Worker) worksheet(ctx context.Context, l relais.Lesson) error {
	ws, err := w.pipeline.Worksheet(ctx, l)
	if err != nil {
		return w.failStep(ctx, l.ID, "worksheet", err, relais.EINVALID, relais.ETOOLARGE)
	}
	ws.LessonID = l.ID
	return w.store.PutWorksheet(ctx, ws)
}

func (w *Worker) lessonGone(id int64, err error) error {
	if relais.ErrorCode(err) == relais.ENOTFOUND {
		return fmt.Errorf("lesson %d: %w", id, errors.Join(err, asynq.SkipRetry))
	}
	return err
}

// failStep ends a product step whose pipeline call failed: an error with one of the permanent codes
// (an input the step can never use) fails the lesson at once, any other is retried until the last try.
func (w *Worker) failStep(ctx context.Context, id int64, step string, err error, permanent ...string) error {
	if slices.Contains(permanent, relais.ErrorCode(err)) {
		w.store.SetLessonStatus(ctx, id, relais.LessonFailed, err)
		return fmt.Errorf("%s lesson %d: %w", step, id, errors.Join(err, asynq.SkipRetry))
	}
	return w.failIfLast(ctx, id, step, err)
}

// putAll stores a step's products one by one.
func putAll[T any](ctx context.Context, products []T, put func(context.Context, T) error) error {
	for _, p := range products {
		if err := put(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// failIfLast marks the lesson failed when this was the task's last try, so a teacher is never left
// waiting on a lesson nothing will finish.
func (w *Worker) failIfLast(ctx context.Context, id int64, step string, err error) error {
	err = fmt.Errorf("%s lesson %d: %w", step, id, err)
	if lastAttempt(ctx) {
		// Internal: the code keeps it out of the French catalog, so teachers read it in English.
		reason := relais.Errorf(relais.EINTERNAL, "The %s step failed after several tries; the media team has been told.", step)
		if serr := w.store.SetLessonStatus(ctx, id, relais.LessonFailed, reason); serr != nil {
			return errors.Join(err, serr)
		}
		w.log.Error("lesson failed", "lesson_id", id, "step", step, "err", err)
	}
	return err
}

// checkReady marks the lesson ready once every product exists. Each product task calls it after writing
// its own; the last one to finish sees them all.
func (w *Worker) checkReady(ctx context.Context, id int64) error {
	rs, err := w.store.Renditions(ctx, id)
	if err != nil {
		return err
	}
	kinds := map[relais.RenditionKind]bool{}
	for _, r := range rs {
		kinds[r.Kind] = true
	}
	if !kinds[relais.RenditionTV] || !kinds[relais.RenditionRadio] || !kinds[relais.RenditionLowband] {
		return nil
	}
	ds, err := w.store.Digests(ctx, id)
	if err != nil || len(ds) == 0 {
		return err
	}
	if _, err := w.store.Worksheet(ctx, id); relais.ErrorCode(err) == relais.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	l, err := w.store.Lesson(ctx, id)
	if err != nil || l.Status != relais.LessonProcessing {
		return err
	}
	if err := w.store.SetLessonProgress(ctx, id, "done", 100); err != nil {
		return err
	}
	w.log.Info("lesson ready", "lesson_id", id)
	return w.store.SetLessonStatus(ctx, id, relais.LessonReady, nil)
}
