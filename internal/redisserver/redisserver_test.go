package redisserver

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestStartStop starts a private Redis, writes to it, stops it, and starts it again on the same
// directory: the append-only file kept the write.
func TestStartStop(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for i, want := range []string{"", "kept"} {
		s, err := Start(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(&redis.Options{Addr: s.Addr})
		got, _ := rdb.Get(ctx, "k").Result()
		if got != want {
			t.Errorf("run %d: k = %q, want %q", i, got, want)
		}
		if err := rdb.Set(ctx, "k", "kept", 0).Err(); err != nil {
			t.Fatal(err)
		}
		rdb.Close()
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := s.Stop(stopCtx); err != nil {
			t.Errorf("run %d: stop: %v", i, err)
		}
		cancel()
	}
}
