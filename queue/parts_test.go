package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
)

// partsRig runs a lesson's chunked transcode on real Redis and SQLite with two media workers (two
// "machines"), the pipeline's part functions recording what they are asked.
type partsRig struct {
	mu       sync.Mutex
	rendered map[int]int // runs per part
	joins    int
	removed  int
	progress []int
	failPart int // this part fails every time; -1: none
}

func (p *partsRig) pipeline(n int) Pipeline {
	return Pipeline{
		PlanParts: func(context.Context, relais.Lesson) (int, error) { return n, nil },
		RenderPart: func(ctx context.Context, l relais.Lesson, part int, _ func(string, int)) error {
			time.Sleep(20 * time.Millisecond) // long enough for the two workers to overlap
			p.mu.Lock()
			defer p.mu.Unlock()
			p.rendered[part]++
			if part == p.failPart {
				return errors.New("x264 crashed")
			}
			return nil
		},
		JoinParts: func(ctx context.Context, l relais.Lesson) ([]relais.Rendition, error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.joins++
			if len(p.rendered) != n+1 {
				return nil, fmt.Errorf("join after %d of %d parts", len(p.rendered), n+1)
			}
			var rs []relais.Rendition
			for _, k := range []relais.RenditionKind{relais.RenditionTV, relais.RenditionRadio, relais.RenditionLowband} {
				rs = append(rs, relais.Rendition{Kind: k, Path: fmt.Sprintf("lessons/%d/%s", l.ID, k)})
			}
			return rs, nil
		},
		RemoveParts: func(context.Context, int64) error {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.removed++
			return nil
		},
	}
}

func runParts(t *testing.T, failPart int) (*partsRig, *claimRig, relais.Lesson) {
	t.Helper()
	ctx := context.Background()
	r := newClaimRig(t, stores(t)["sqlite"](t), 0)
	p := &partsRig{rendered: map[int]int{}, failPart: failPart}
	cfg := DefaultConfig()
	cfg.MediaDir, cfg.MaxRetry, cfg.LessonRetryMax, cfg.ShutdownTimeout = t.TempDir(), 2, 50*time.Millisecond, time.Second
	const parts = 5
	for range 2 {
		w := NewWorker(r.redis, r.store, relaisRegistry(), p.pipeline(parts), Links{}, r.w.client, cfg, slog.New(slog.DiscardHandler))
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Shutdown)
	}
	if err := r.store.SetLessonStatus(ctx, r.lesson.ID, relais.LessonProcessing, nil); err != nil {
		t.Fatal(err)
	}
	if err := r.w.client.enqueue(ctx, TypeTranscode, LessonPayload{LessonID: r.lesson.ID}, asynq.Queue(QueueMedia), asynq.MaxRetry(cfg.MaxRetry)); err != nil {
		t.Fatal(err)
	}
	var l relais.Lesson
	waitLong(t, "the transcode ends", func() bool {
		var err error
		if l, err = r.store.Lesson(ctx, r.lesson.ID); err != nil {
			t.Fatal(err)
		}
		rs, _ := r.store.Renditions(ctx, r.lesson.ID)
		p.mu.Lock()
		p.progress = append(p.progress, l.Progress)
		removed := p.removed
		p.mu.Unlock()
		return l.Status == relais.LessonFailed && removed > 0 || len(rs) == 3 && removed > 0
	})
	return p, r, l
}

// Every part runs, the join runs once after the last, the renditions are recorded, the parts are
// removed and the Redis record of them too; the lesson's progress only goes up.
func TestTranscodeParts(t *testing.T) {
	p, r, l := runParts(t, -1)
	ctx := context.Background()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; i <= 5; i++ {
		if p.rendered[i] != 1 {
			t.Errorf("part %d rendered %d times", i, p.rendered[i])
		}
	}
	if p.joins != 1 {
		t.Errorf("joined %d times", p.joins)
	}
	if l.Status != relais.LessonProcessing || l.Step != "transcode" {
		t.Errorf("lesson %s at step %s", l.Status, l.Step)
	}
	for i := 1; i < len(p.progress); i++ {
		if p.progress[i] < p.progress[i-1] {
			t.Fatalf("progress went back: %v", p.progress)
		}
	}
	// The record goes right after the parts (RemoveParts), which runParts waited for.
	waitLong(t, "the Redis record of the parts done to go", func() bool {
		n, err := r.w.rdb.Exists(ctx, partsKey(l.ID)).Result()
		return err == nil && n == 0
	})

	// A part run again after the join (its worker died before asynq heard it was done) renders
	// nothing, leaves nothing behind and joins nothing more.
	if err := r.w.client.enqueue(ctx, TypeTranscodePart, PartPayload{LessonID: l.ID, Part: 2, Parts: 5}, asynq.Queue(QueueMedia)); err != nil {
		t.Fatal(err)
	}
	p.mu.Unlock()
	waitLong(t, "the media queue is empty", func() bool {
		q, err := r.insp.GetQueueInfo(QueueMedia)
		return err == nil && q.Pending+q.Active+q.Retry+q.Scheduled == 0
	})
	p.mu.Lock()
	if p.joins != 1 || p.rendered[2] != 1 {
		t.Errorf("a part run again after the join: rendered %d times, %d joins", p.rendered[2], p.joins)
	}
}

// waitLong waits up to 30 s for cond: asynq moves retries back into the queue every few seconds.
func waitLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A part that keeps failing fails the lesson with a reason after its retries, and the parts are
// removed; the other parts do not keep it waiting.
func TestTranscodePartFailureFailsTheLesson(t *testing.T) {
	p, _, l := runParts(t, 3)
	p.mu.Lock()
	defer p.mu.Unlock()
	if l.Status != relais.LessonFailed || l.StatusReason == "" {
		t.Fatalf("lesson %s (%q), want failed with a reason", l.Status, l.StatusReason)
	}
	t.Logf("failed: %s", l.StatusReason)
	if p.rendered[3] != 3 {
		t.Errorf("the failing part ran %d times, want 3 (2 retries)", p.rendered[3])
	}
	if p.joins != 0 {
		t.Errorf("joined %d times", p.joins)
	}
}
