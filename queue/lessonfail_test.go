package queue

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
)

// The lesson steps' retries wait at most LessonRetryMax: with the defaults (10 retries, 30 s) a step
// that keeps failing fails its lesson within minutes, not after asynq's hours of backoff.
func TestLessonStepRetriesAreCapped(t *testing.T) {
	cfg := DefaultConfig()
	var total time.Duration
	for n := 0; n < cfg.MaxRetry; n++ {
		total += cfg.retryDelay(n, errors.New("x"), asynq.NewTask(TypeWorksheet, nil))
	}
	if total > 6*time.Minute {
		t.Errorf("a worksheet step waits %v over its retries", total)
	}
	if d := cfg.retryDelay(8, errors.New("x"), asynq.NewTask(TypeSend, nil)); d <= cfg.LessonRetryMax {
		t.Errorf("a send's retry is capped too: %v", d)
	}
}

// A worksheet step that fails with an error that is not the teacher's (not EINVALID) is retried, then
// fails its lesson with a reason, instead of leaving it processing.
func TestWorksheetFailureFailsTheLesson(t *testing.T) {
	ctx := context.Background()
	r := newClaimRig(t, stores(t)["sqlite"](t), 0)
	cfg := DefaultConfig()
	cfg.MediaDir, cfg.MaxRetry, cfg.LessonRetryMax, cfg.ShutdownTimeout = t.TempDir(), 2, 50*time.Millisecond, time.Second
	tries := 0
	p := Pipeline{Worksheet: func(context.Context, relais.Lesson) (relais.Worksheet, error) {
		tries++
		return relais.Worksheet{}, errors.New("pdf renderer crashed")
	}}
	w := NewWorker(r.redis, r.store, relaisRegistry(), p, Links{}, r.w.client, cfg, slog.New(slog.DiscardHandler))
	if err := r.store.SetLessonStatus(ctx, r.lesson.ID, relais.LessonProcessing, nil); err != nil {
		t.Fatal(err)
	}
	if err := r.w.client.enqueue(ctx, TypeWorksheet, LessonPayload{LessonID: r.lesson.ID}, asynq.Queue(QueueDefault),
		asynq.MaxRetry(cfg.MaxRetry)); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown()
	deadline := time.Now().Add(20 * time.Second)
	for {
		l, err := r.store.Lesson(ctx, r.lesson.ID)
		if err != nil {
			t.Fatal(err)
		}
		if l.Status == relais.LessonFailed {
			if l.StatusReason == "" {
				t.Error("failed without a reason")
			}
			t.Logf("failed after %d tries: %s", tries, l.StatusReason)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lesson still %s after %d tries", l.Status, tries)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
