package queue

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	relais "github.com/relais-edu/relais"
)

// A long lesson is transcoded in parts by several media workers at once (Pipeline.PlanParts): the
// transcode task queues a task per part of the picture and one for the whole sound; each records in
// Redis that its part is done (a set, so that a part run twice counts once), and the one that completes
// the set queues the join, which puts the renditions and removes the parts. A part that fails for good
// fails the lesson with the reason, and the other parts then stop at their start.

// PartPayload names one part of a lesson's chunked transcode: Part in [0, Parts) is a piece of the
// picture, Part == Parts the whole sound.
type PartPayload struct {
	LessonID int64 `json:"lesson_id"`
	Part     int   `json:"part"`
	Parts    int   `json:"parts"`
}

func (p PartPayload) lesson() int64 { return p.LessonID }

// partsKey is the Redis set of a lesson's parts done.
func partsKey(lessonID int64) string {
	return "relais:transcode-parts:" + strconv.FormatInt(lessonID, 10)
}

// partsTTL bounds how long a lesson's set of parts done outlives an abandoned transcode.
const partsTTL = 7 * 24 * time.Hour

// startParts queues the n picture parts and the sound of a lesson's chunked transcode.
func (w *Worker) startParts(ctx context.Context, l relais.Lesson, n int) error {
	if err := w.store.SetLessonProgress(ctx, l.ID, "transcode", 0); err != nil {
		return err
	}
	w.log.Info("transcode in parts", "lesson_id", l.ID, "parts", n)
	for i := n; i >= 0; i-- { // the sound first: the join waits for it, and it is one pass over the whole
		id := asynq.TaskID(TypeTranscodePart + ":" + strconv.FormatInt(l.ID, 10) + ":" + strconv.Itoa(i))
		err := w.client.enqueue(ctx, TypeTranscodePart, PartPayload{LessonID: l.ID, Part: i, Parts: n},
			asynq.Queue(QueueMedia), id, asynq.MaxRetry(w.cfg.MaxRetry))
		if err != nil {
			return err
		}
	}
	return nil
}

// handleTranscodePart renders one part; the last one done queues the join.
func (w *Worker) handleTranscodePart(ctx context.Context, t *asynq.Task) error {
	p, l, err := taskLesson[PartPayload](ctx, w, t)
	if relais.ErrorCode(err) == relais.ENOTFOUND {
		w.removeParts(ctx, p.LessonID) // deleted meanwhile
		return err
	} else if err != nil {
		return err
	}
	if l.Status != relais.LessonProcessing {
		w.removeParts(ctx, l.ID) // failed (or withdrawn) meanwhile: nothing will join what is there
		return nil
	}
	if joined, err := w.joined(ctx, l.ID); err != nil || joined {
		return err // a run of a part whose lesson is joined already (its worker died after its work)
	}
	if err := w.pipeline.RenderPart(ctx, l, p.Part, nil); err != nil {
		return w.failParts(ctx, l.ID, err)
	}
	done, err := w.partDone(ctx, l.ID, p.Part)
	if err != nil {
		return err
	}
	// The join is the last step: the parts take the progress to 95 %.
	if err := w.store.SetLessonProgress(ctx, l.ID, "transcode", int(done*95/int64(p.Parts+1))); err != nil {
		return err
	}
	if done < int64(p.Parts+1) {
		return nil
	}
	return w.client.enqueue(ctx, TypeTranscodeJoin, LessonPayload{LessonID: l.ID}, asynq.Queue(QueueMedia),
		lessonTaskID(TypeTranscodeJoin, l.ID), asynq.MaxRetry(w.cfg.MaxRetry))
}

// partDone records that part is done and returns how many parts are, in one transaction: of two parts
// finishing at once, the later sees both.
func (w *Worker) partDone(ctx context.Context, lessonID int64, part int) (int64, error) {
	if w.rdb == nil {
		return 0, fmt.Errorf("transcode parts of lesson %d: no Redis client", lessonID)
	}
	var n *redis.IntCmd
	_, err := w.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, partsKey(lessonID), part)
		p.Expire(ctx, partsKey(lessonID), partsTTL)
		n = p.SCard(ctx, partsKey(lessonID))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("record part %d of lesson %d: %w", part, lessonID, err)
	}
	return n.Val(), nil
}

// handleTranscodeJoin joins the parts into the renditions.
func (w *Worker) handleTranscodeJoin(ctx context.Context, t *asynq.Task) error {
	return w.makeProduct(ctx, t, w.join)
}

func (w *Worker) join(ctx context.Context, l relais.Lesson) error {
	if joined, err := w.joined(ctx, l.ID); err != nil {
		return err
	} else if joined {
		w.removeParts(ctx, l.ID) // joined by an earlier run, which stopped before cleaning up
		return nil
	}
	rs, err := w.pipeline.JoinParts(ctx, l)
	if err != nil {
		return w.failParts(ctx, l.ID, err)
	}
	for i := range rs {
		rs[i].LessonID = l.ID
	}
	if err := putAll(ctx, rs, w.store.PutRendition); err != nil {
		return err
	}
	w.removeParts(ctx, l.ID)
	return nil
}

// joined reports whether the lesson has its TV rendition.
func (w *Worker) joined(ctx context.Context, lessonID int64) (bool, error) {
	rs, err := w.store.Renditions(ctx, lessonID)
	if err != nil {
		return false, err
	}
	for _, r := range rs {
		if r.Kind == relais.RenditionTV {
			return true, nil
		}
	}
	return false, nil
}

// failParts ends a part or join that failed: as any transcode (failStep), and once the lesson has
// failed for good, its parts are removed.
func (w *Worker) failParts(ctx context.Context, lessonID int64, err error) error {
	err = w.failStep(ctx, lessonID, "transcode", err, relais.EINVALID)
	if l, lerr := w.store.Lesson(ctx, lessonID); lerr == nil && l.Status == relais.LessonFailed {
		w.removeParts(ctx, lessonID)
	}
	return err
}

// removeParts deletes a lesson's parts from the media store and Redis; what it cannot remove stays for
// the next try (it is logged, not returned: the lesson's outcome does not depend on it).
func (w *Worker) removeParts(ctx context.Context, lessonID int64) {
	if w.pipeline.RemoveParts != nil {
		if err := w.pipeline.RemoveParts(ctx, lessonID); err != nil {
			w.log.Warn("remove transcode parts", "lesson_id", lessonID, "err", err)
		}
	}
	if w.rdb != nil {
		if err := w.rdb.Del(ctx, partsKey(lessonID)).Err(); err != nil {
			w.log.Warn("remove transcode parts record", "lesson_id", lessonID, "err", err)
		}
	}
}
