package queue

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/relais-edu/relais/channels"
)

// TestTaskStatsCountRunsInRedis runs tasks through the workers' middleware and reads the counts back
// with a client, as /metrics does: runs and failures by type (a throttled send is no failure) and the
// transcode durations.
func TestTaskStatsCountRunsInRedis(t *testing.T) {
	f := newFixture(t, 0, nil)
	results := map[string][]error{
		TypeSend:      {nil, nil, errors.New("connection refused"), &channels.SendError{Kind: channels.Throttled, Err: errors.New("429")}},
		TypeTranscode: {nil},
		TypeFanout:    {errBacklog{wait: time.Second}, asynq.SkipRetry},
	}
	for typ, errs := range results {
		for _, want := range errs {
			h := f.w.measure(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return want }))
			if err := h.ProcessTask(context.Background(), asynq.NewTask(typ, nil)); !errors.Is(err, want) {
				t.Errorf("%s: the middleware returned %v, want %v", typ, err, want)
			}
		}
	}
	// A transcode of 45 s lands in the buckets of 60 s and more; the one above, instant, in all of them.
	if err := f.w.recordRun(TypeTranscode, false, 45*time.Second); err != nil {
		t.Fatal(err)
	}

	got, err := f.client.TaskStats()
	if err != nil {
		t.Fatal(err)
	}
	if got.Transcode.Sum < 45 || got.Transcode.Sum > 46 {
		t.Errorf("transcode seconds sum = %v, want 45 and a little", got.Transcode.Sum)
	}
	got.Transcode.Sum = 0
	want := TaskStats{
		Processed: map[string]uint64{TypeSend: 4, TypeTranscode: 2, TypeFanout: 2},
		Failed:    map[string]uint64{TypeSend: 1, TypeFanout: 1},
		Transcode: Histogram{Count: 2, Buckets: map[float64]uint64{10: 1, 30: 1, 60: 2, 120: 2, 300: 2, 600: 2, 1200: 2, 1800: 2, 3600: 2}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("task stats (-want +got):\n%s", diff)
	}
}
