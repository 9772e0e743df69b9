package sms

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/internal/redisurl"
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
	l, err := NewLimiter(rdb, LimiterConfig{Rate: 10, Burst: 1})
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
	if d := time.Since(start); d < 750*time.Millisecond || d > 1500*time.Millisecond {
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
	cfg := LimiterConfig{Rate: 20, Burst: 1}
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
	// 20 segments at 20/s from one sender: the last leaves 0.95 s after the first, whoever sends it.
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
	before, err := rdb.Get(ctx, "rl:+33757000000").Result()
	if err != nil {
		t.Fatal(err)
	}
	err = l.Wait(ctx, "+33757000000", 1)
	var se *channels.SendError
	if !errors.As(err, &se) || se.Kind != channels.Throttled || se.RetryAfter < 2500*time.Millisecond || se.RetryAfter > 3*time.Second {
		t.Fatalf("Wait over MaxWait = %v, want Throttled with RetryAfter about 3 s", err)
	}
	if after, _ := rdb.Get(ctx, "rl:+33757000000").Result(); after != before {
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

// TestLimiterWithRedisUnavailableThrottles: a Redis that does not answer (a master lost before its
// replica is promoted) makes a send wait a short while without spending a retry; an error Redis
// answers (here the script failing on a corrupt value) is a failure.
func TestLimiterWithRedisUnavailableThrottles(t *testing.T) {
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)), MaxRetries: -1})
	defer down.Close()
	l, _ := NewLimiter(down, LimiterConfig{Rate: 10})
	err := l.Wait(context.Background(), "Ecole", 1)
	var se *channels.SendError
	if !errors.As(err, &se) || se.Kind != channels.Throttled || se.RetryAfter != 2*time.Second {
		t.Errorf("Wait with Redis down = %#v, want Throttled with RetryAfter 2 s", err)
	}

	rdb := newRedis(t)
	l, _ = NewLimiter(rdb, LimiterConfig{Rate: 10, Prefix: "rl:"})
	if err := rdb.Set(context.Background(), "rl:Ecole", "not a number", 0).Err(); err != nil {
		t.Fatal(err)
	}
	err = l.Wait(context.Background(), "Ecole", 1) // the script fails on the value
	if !errors.As(err, &se) || se.Kind != channels.Retryable {
		t.Errorf("Wait on a corrupt key = %#v, want Retryable", err)
	}
}

// TestLimiterOnCluster: on a Redis Cluster each sender's key lives on the node of its slot; the
// allowance is kept per sender there as on one server.
func TestLimiterOnCluster(t *testing.T) {
	c := testenv.Cluster(t)
	opt, err := redisurl.Parse(c.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redisurl.Client(opt)
	defer rdb.Close()
	l, _ := NewLimiter(rdb, LimiterConfig{Rate: 10, Burst: 1})
	ctx := context.Background()
	senders := []string{"Ecole", "+33757000000", "+33757000001", "MG0123", "Lycee"}
	start := time.Now()
	var wg sync.WaitGroup
	for _, sender := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ { // 10 segments at 10/s per sender: 0.8 s, all senders at once
				if err := l.Wait(ctx, sender, 2); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if d := time.Since(start); d < 750*time.Millisecond || d > 1500*time.Millisecond {
		t.Errorf("5 senders each sending 5 messages of 2 segments at 10 segments/s took %v, want about 0.8 s", d)
	}
	nodes := 0
	rdb.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		if n, _ := m.DBSize(ctx).Result(); n > 0 {
			nodes++
		}
		return nil
	})
	if nodes < 2 {
		t.Errorf("the senders' keys are on %d node(s), want them spread over the cluster", nodes)
	}
}
