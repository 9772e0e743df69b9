package tick

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestEvery: the first run is at once, the next ones each period, and Every returns once its context
// ends.
func TestEvery(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var runs atomic.Int32
	third := make(chan struct{})
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		Every(ctx, 20*time.Millisecond, func(context.Context) {
			if runs.Add(1) == 3 {
				close(third)
			}
		})
	}()
	<-third
	if took := time.Since(start); took < 40*time.Millisecond {
		t.Errorf("three runs took %v, want at least two periods (40ms)", took)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Every did not return after its context ended")
	}
}

// TestEveryEndedContext: a context already ended runs nothing.
func TestEveryEndedContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	Every(ctx, time.Millisecond, func(context.Context) { t.Error("ran with an ended context") })
}
