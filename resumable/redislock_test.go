package resumable

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/relais-edu/relais/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func newLocker(t *testing.T) *RedisLocker {
	addr, db := testenv.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	t.Cleanup(func() { rdb.Close() })
	l := NewRedisLocker(rdb)
	l.TTL, l.HolderPoll, l.AcquirerPoll = time.Second, 50*time.Millisecond, 20*time.Millisecond
	return l
}

func lock(t *testing.T, l *RedisLocker, id string, wait time.Duration, release func()) (handler.Lock, error) {
	t.Helper()
	lk, err := l.NewLock(id)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return lk, lk.Lock(ctx, release)
}

// TestRedisLockExcludes: two processes' lockers (two clients) never hold one upload at once; the
// waiting one asks the holder to let go, and gets the lock once it does.
func TestRedisLockExcludes(t *testing.T) {
	a, b := newLocker(t), newLocker(t)
	b.Client = redis.NewClient(a.Client.(*redis.Client).Options()) // another process's connection
	var asked atomic.Int32
	held, err := lock(t, a, "up1", time.Second, func() { asked.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock(t, b, "up1", 300*time.Millisecond, func() {}); !errors.Is(err, handler.ErrLockTimeout) {
		t.Fatalf("second Lock while held: %v, want ErrLockTimeout", err)
	}
	if asked.Load() != 1 {
		t.Errorf("the holder was asked to release %d times, want 1", asked.Load())
	}
	if _, err := lock(t, b, "up2", 300*time.Millisecond, func() {}); err != nil {
		t.Errorf("another upload's lock: %v", err)
	}
	go func() { time.Sleep(100 * time.Millisecond); held.Unlock() }()
	got, err := lock(t, b, "up1", 2*time.Second, func() {})
	if err != nil {
		t.Fatalf("Lock after the holder let go: %v", err)
	}
	if err := got.Unlock(); err != nil {
		t.Error(err)
	}
	if err := got.Unlock(); err == nil {
		t.Error("a second Unlock passed")
	}
}

// TestRedisLockOutlivesHolderByTTL: a lock renewed by its holder stays past its TTL; the lock of a
// holder that died (no renewal) is free after the TTL.
func TestRedisLockOutlivesHolderByTTL(t *testing.T) {
	l := newLocker(t)
	held, err := lock(t, l, "up", time.Second, func() {})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * l.TTL)
	if _, err := lock(t, l, "up", 200*time.Millisecond, func() {}); !errors.Is(err, handler.ErrLockTimeout) {
		t.Fatalf("a renewed lock was taken after %s: %v", 2*l.TTL, err)
	}
	// The holder dies: its renewal stops, and nothing unlocks.
	r := held.(*redisLock)
	r.stop()
	<-r.done
	start := time.Now()
	if _, err := lock(t, l, "up", 3*l.TTL, func() {}); err != nil {
		t.Fatalf("the dead holder's lock was never freed: %v", err)
	}
	if waited := time.Since(start); waited > l.TTL+500*time.Millisecond {
		t.Errorf("took the dead holder's lock after %s, want within its TTL %s", waited, l.TTL)
	}
}
