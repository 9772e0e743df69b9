package sms

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/internal/testenv"
)

func newRedis(t *testing.T) redis.UniversalClient {
	t.Helper()
	addr, db := testenv.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func TestLimiterSpacesSegments(t *testing.T) {
	rdb := newRedis(t)
	l, err := NewLimiter(rdb, LimiterConfig{Rate: 10})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < 5; i++ { // 10 segments at 10/s: the last 2-segment message leaves 0.8 s after the first
		if err := l.Wait(ctx, "Ecole", 2); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 800*time.Millisecond || d > 1500*time.Millisecond {
		t.Errorf("5 messages of 2 segments at 10 segments/s took %v, want about 0.8 s", d)
	}
	// Another sender has its own allowance.
	start = time.Now()
	if err := l.Wait(ctx, "+33757000000", 1); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("an idle sender waited %v", d)
	}
}

// TestLimiterSharedByWorkers: two limiters on two connections (two workers) share one allowance.
func TestLimiterSharedByWorkers(t *testing.T) {
	rdb := newRedis(t)
	opts := rdb.(*redis.Client).Options()
	other := redis.NewClient(&redis.Options{Addr: opts.Addr, DB: opts.DB})
	defer other.Close()
	cfg := LimiterConfig{Rate: 20}
	a, _ := NewLimiter(rdb, cfg)
	b, _ := NewLimiter(other, cfg)
	ctx := context.Background()
	start := time.Now()
	var wg sync.WaitGroup
	for _, l := range []*Limiter{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				if err := l.Wait(ctx, "Ecole", 1); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// 20 segments at 20/s from one sender: the last leaves about 1 s after the first, whoever sends it.
	if d := time.Since(start); d < 900*time.Millisecond || d > 1800*time.Millisecond {
		t.Errorf("20 segments from two workers took %v, want about 0.95 s", d)
	}
}

func TestLimiterThrottlesLongQueues(t *testing.T) {
	rdb := newRedis(t)
	l, _ := NewLimiter(rdb, LimiterConfig{Rate: 1, MaxWait: 500 * time.Millisecond, Prefix: "rl:"})
	ctx := context.Background()
	if err := l.Wait(ctx, "+33757000000", 3); err != nil { // 3 segments at 1/s: the sender is busy for 3 s
		t.Fatal(err)
	}
	before, err := rdb.Get(ctx, "rl:{+33757000000}:tat").Result()
	if err != nil {
		t.Fatal(err)
	}
	err = l.Wait(ctx, "+33757000000", 1)
	var se *channels.SendError
	if !errors.As(err, &se) || se.Kind != channels.Throttled || se.RetryAfter < 2500*time.Millisecond || se.RetryAfter > 3100*time.Millisecond {
		t.Fatalf("Wait over MaxWait = %v, want Throttled with RetryAfter about 3 s", err)
	}
	if after, _ := rdb.Get(ctx, "rl:{+33757000000}:tat").Result(); after != before {
		t.Errorf("a refused wait reserved segments: %s -> %s", before, after)
	}

	// A cancelled context ends the wait.
	l2, _ := NewLimiter(rdb, LimiterConfig{Rate: 1, MaxWait: 10 * time.Second})
	if err := l2.Wait(ctx, "Ecole", 1); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := l2.Wait(cctx, "Ecole", 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait with an expiring context = %v, want deadline exceeded", err)
	}
}

// TestLimiterSlidingWindow records the Redis times at which several limiters, each on its own
// connection as in separate workers, were granted messages of one to three segments, and counts the
// segments in every one-second window that starts at a grant (the windows that hold the most): none
// may hold more than the rate, and the sender must not have been held much under it.
func TestLimiterSlidingWindow(t *testing.T) {
	rdb := newRedis(t)
	opts := rdb.(*redis.Client).Options()
	const (
		rate    = 40
		clients = 4
		each    = 30 // messages per client
	)
	type grant struct {
		at       time.Time
		segments int
	}
	var (
		mu     sync.Mutex
		grants []grant
		wg     sync.WaitGroup
	)
	ctx := context.Background()
	for c := range clients {
		conn := redis.NewClient(&redis.Options{Addr: opts.Addr, DB: opts.DB})
		defer conn.Close()
		l, err := NewLimiter(conn, LimiterConfig{Rate: rate})
		if err != nil {
			t.Fatal(err)
		}
		for w := range 3 { // three goroutines per client, as a worker's concurrency
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each / 3 {
					segments := 1 + (c+w+i)%3
					at, err := l.acquire(ctx, "Ecole", segments)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					grants = append(grants, grant{at, segments})
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	slices.SortFunc(grants, func(a, b grant) int { return a.at.Compare(b.at) })
	total, most := 0, 0
	for i, g := range grants {
		total += g.segments
		in := 0
		for _, h := range grants[i:] {
			if h.at.Sub(g.at) >= time.Second {
				break
			}
			in += h.segments
		}
		most = max(most, in)
	}
	if most > rate {
		t.Errorf("a one-second window held %d segments, over the rate of %d", most, rate)
	}
	// The sender was kept busy: the span is at most what the rate and the margin require, plus slack
	// for the rounds of multi-segment admissions.
	span := grants[len(grants)-1].at.Sub(grants[0].at)
	if least := time.Duration(total-rate) * time.Second / rate; span < least {
		t.Errorf("%d segments granted over %v, under the %v the rate allows", total, span, least)
	}
	if most < rate*9/10 {
		t.Errorf("the fullest one-second window held %d segments, want close to the rate of %d", most, rate)
	}
	t.Logf("%d segments in %v; fullest one-second window %d", total, span, most)
}

// TestLimiterMultiSegmentWindow: a message's segments all leave at once, so a 3-segment message
// after 39 single ones must wait until the window has room for all three.
func TestLimiterMultiSegmentWindow(t *testing.T) {
	rdb := newRedis(t)
	l, _ := NewLimiter(rdb, LimiterConfig{Rate: 40, Margin: time.Millisecond})
	ctx := context.Background()
	var singles []time.Time
	for range 39 {
		at, err := l.acquire(ctx, "Ecole", 1)
		if err != nil {
			t.Fatal(err)
		}
		singles = append(singles, at)
	}
	at, err := l.acquire(ctx, "Ecole", 3)
	if err != nil {
		t.Fatal(err)
	}
	// 38 singles + 3 would be 41 in the second after the first single: the first two must have left.
	if want := singles[1].Add(time.Second); at.Before(want) {
		t.Errorf("3-segment message granted %v after the first single, want at least %v", at.Sub(singles[0]), want.Sub(singles[0]))
	}
	keys, err := rdb.Keys(ctx, "relais:sms:rate:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if diff := cmp.Diff([]string{"relais:sms:rate:{Ecole}:log", "relais:sms:rate:{Ecole}:tat"}, keys); diff != "" {
		t.Errorf("Redis keys (-want +got):\n%s", diff)
	}
}
