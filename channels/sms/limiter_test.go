package sms

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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

// wait is l.Wait for a send that ends at once.
func wait(l *Limiter, ctx context.Context, sender string, segments int) error {
	done, err := l.Wait(ctx, sender, segments)
	if err == nil {
		done()
	}
	return err
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
		if err := wait(l, ctx, "Ecole", 2); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 800*time.Millisecond || d > 1500*time.Millisecond {
		t.Errorf("5 messages of 2 segments at 10 segments/s took %v, want about 0.8 s", d)
	}
	// Another sender has its own allowance.
	start = time.Now()
	if err := wait(l, ctx, "+33757000000", 1); err != nil {
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
				if err := wait(l, ctx, "Ecole", 1); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// 20 segments at 20/s from one sender: the last leaves about 0.95 s after the first, whoever sends it.
	if d := time.Since(start); d < 900*time.Millisecond || d > 1800*time.Millisecond {
		t.Errorf("20 segments from two workers took %v, want about 0.95 s", d)
	}
}

func TestLimiterThrottlesLongQueues(t *testing.T) {
	rdb := newRedis(t)
	l, _ := NewLimiter(rdb, LimiterConfig{Rate: 1, MaxWait: 500 * time.Millisecond, Prefix: "rl:"})
	ctx := context.Background()
	if err := wait(l, ctx, "+33757000000", 3); err != nil { // 3 segments at 1/s: the sender is busy for 3 s
		t.Fatal(err)
	}
	before, err := rdb.Get(ctx, "rl:{+33757000000}:tat").Result()
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Wait(ctx, "+33757000000", 1)
	var se *channels.SendError
	if !errors.As(err, &se) || se.Kind != channels.Throttled || se.RetryAfter < 2500*time.Millisecond || se.RetryAfter > 3100*time.Millisecond {
		t.Fatalf("Wait over MaxWait = %v, want Throttled with RetryAfter about 3 s", err)
	}
	if after, _ := rdb.Get(ctx, "rl:{+33757000000}:tat").Result(); after != before {
		t.Errorf("a refused wait reserved segments: %s -> %s", before, after)
	}

	// A cancelled context ends the wait.
	l2, _ := NewLimiter(rdb, LimiterConfig{Rate: 1, MaxWait: 10 * time.Second})
	if err := wait(l2, ctx, "Ecole", 1); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := l2.Wait(cctx, "Ecole", 1); !errors.Is(err, context.DeadlineExceeded) {
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
	_, err := l.Wait(context.Background(), "Ecole", 1)
	var se *channels.SendError
	if !errors.As(err, &se) || se.Kind != channels.Throttled || se.RetryAfter != 2*time.Second {
		t.Errorf("Wait with Redis down = %#v, want Throttled with RetryAfter 2 s", err)
	}

	rdb := newRedis(t)
	l, _ = NewLimiter(rdb, LimiterConfig{Rate: 10, Prefix: "rl:"})
	tat, _ := l.keys("Ecole")
	if err := rdb.Set(context.Background(), tat, "not a number", 0).Err(); err != nil {
		t.Fatal(err)
	}
	_, err = l.Wait(context.Background(), "Ecole", 1) // the script fails on the value
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
	l, _ := NewLimiter(rdb, LimiterConfig{Rate: 10})
	ctx := context.Background()
	senders := []string{"Ecole", "+33757000000", "+33757000001", "MG0123", "Lycee"}
	start := time.Now()
	var wg sync.WaitGroup
	for _, sender := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ { // 10 segments at 10/s per sender: 0.8 s, all senders at once
				done, err := l.Wait(ctx, sender, 2)
				if err != nil {
					t.Error(err)
					return
				}
				done()
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

// TestLimiterSlidingWindow runs several limiters, each on its own connection as in separate workers,
// with sends of one to three segments that last a random 0-30 ms, and records on Redis's clock when
// each send was admitted and when it ended. The provider receives a message somewhere in between, so
// the test counts, for every one-second window, every message that could have arrived in it (the
// worst case for the limiter): none may hold more than the rate. Not timed: it counts.
func TestLimiterSlidingWindow(t *testing.T) {
	rdb := newRedis(t)
	opts := rdb.(*redis.Client).Options()
	const (
		rate    = 40
		clients = 3
		each    = 15 // messages per goroutine
	)
	type send struct {
		admitted, ended time.Time
		segments        int
	}
	var (
		mu    sync.Mutex
		sends []send
		wg    sync.WaitGroup
	)
	ctx := context.Background()
	for c := range clients {
		conn := redis.NewClient(&redis.Options{Addr: opts.Addr, DB: opts.DB})
		defer conn.Close()
		l, err := NewLimiter(conn, LimiterConfig{Rate: rate})
		if err != nil {
			t.Fatal(err)
		}
		for w := range 4 { // four goroutines per client, as a worker's concurrency
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					segments := 1 + (c+w+i)%3
					done, at, err := l.acquire(ctx, "Ecole", segments)
					if err != nil {
						t.Error(err)
						return
					}
					time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond)
					end := done()
					if end.IsZero() {
						t.Error("release failed")
						return
					}
					mu.Lock()
					sends = append(sends, send{at, end, segments})
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	total, worst, fullest := 0, 0, 0
	for _, s := range sends {
		total += s.segments
		if !s.ended.After(s.admitted) {
			t.Fatalf("a send ended at %v, not after its admission at %v", s.ended, s.admitted)
		}
		// The windows that can hold the most start where a send ended (the worst case) or where one
		// was admitted (admissions alone).
		inWorst, inAdmitted := 0, 0
		for _, o := range sends {
			if o.admitted.Before(s.ended.Add(time.Second)) && !o.ended.Before(s.ended) {
				inWorst += o.segments
			}
			if !o.admitted.Before(s.admitted) && o.admitted.Before(s.admitted.Add(time.Second)) {
				inAdmitted += o.segments
			}
		}
		worst, fullest = max(worst, inWorst), max(fullest, inAdmitted)
	}
	if worst > rate {
		t.Errorf("a one-second window could have received %d segments, over the rate of %d", worst, rate)
	}
	if fullest < rate*3/4 {
		t.Errorf("the fullest one-second window of admissions held %d segments, want close to the rate of %d", fullest, rate)
	}
	t.Logf("%d segments; fullest one-second window: %d admitted, %d at worst received", total, fullest, worst)
}

// TestLimiterHoldsSendsUntilDone: a segment holds its place in the window while its send runs and for
// a second after it ended, or, if its end is never reported, until its lease is over.
func TestLimiterHoldsSendsUntilDone(t *testing.T) {
	rdb := newRedis(t)
	l, _ := NewLimiter(rdb, LimiterConfig{Rate: 1, Lease: 5 * time.Second})
	ctx := context.Background()
	done1, a1, err := l.acquire(ctx, "Ecole", 1)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the first send is slow
	end1 := done1()
	done2, a2, err := l.acquire(ctx, "Ecole", 1)
	if err != nil {
		t.Fatal(err)
	}
	done2()
	if a2.Before(end1.Add(time.Second)) || !a2.Before(a1.Add(5*time.Second)) {
		t.Errorf("second send admitted %v after the first one's end, want just over 1 s", a2.Sub(end1))
	}

	// A send whose end is never reported holds its place until its lease is over.
	l2, _ := NewLimiter(rdb, LimiterConfig{Rate: 1, Lease: 500 * time.Millisecond})
	_, b1, err := l2.acquire(ctx, "+33757000000", 1)
	if err != nil {
		t.Fatal(err)
	}
	done, b2, err := l2.acquire(ctx, "+33757000000", 1)
	if err != nil {
		t.Fatal(err)
	}
	done()
	if b2.Before(b1.Add(1500 * time.Millisecond)) {
		t.Errorf("a send after one that never ended was admitted %v after it, want over 1.5 s (lease and window)", b2.Sub(b1))
	}
}

// TestLimiterMultiSegmentWindow: a message's segments all leave at once, so a 3-segment message
// after 39 single ones must wait until the window has room for all three.
func TestLimiterMultiSegmentWindow(t *testing.T) {
	rdb := newRedis(t)
	l, _ := NewLimiter(rdb, LimiterConfig{Rate: 40})
	ctx := context.Background()
	var ends []time.Time
	for range 39 {
		done, _, err := l.acquire(ctx, "Ecole", 1)
		if err != nil {
			t.Fatal(err)
		}
		ends = append(ends, done())
	}
	_, at, err := l.acquire(ctx, "Ecole", 3)
	if err != nil {
		t.Fatal(err)
	}
	// 38 singles + 3 would be 41 in the second after the first single: the first two must have left.
	if want := ends[1].Add(time.Second); at.Before(want) {
		t.Errorf("3-segment message admitted %v after the first single, want at least %v", at.Sub(ends[0]), want.Sub(ends[0]))
	}
	keys, err := rdb.Keys(ctx, "relais:sms:rate:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if diff := cmp.Diff([]string{"relais:sms:rate:{Ecole}:tat", "relais:sms:rate:{Ecole}:window"}, keys); diff != "" {
		t.Errorf("Redis keys (-want +got):\n%s", diff)
	}
}

// TestLimiterPool: the senders of a pool, each at its own rate, send side by side through two limiters
// (two workers) on one Redis. Every sender keeps its own rate in every one-second window, and together
// they reach close to their summed rate: the pool's capacity is the sum. Not timed: it counts.
func TestLimiterPool(t *testing.T) {
	rdb := newRedis(t)
	opts := rdb.(*redis.Client).Options()
	pool := channels.Pool{{Name: "fr-1", Country: "FR", Rate: 20}, {Name: "fr-2", Country: "FR", Rate: 20}, {Name: "fr-3", Country: "FR", Rate: 10}}
	const households = 200
	type send struct {
		sender          string
		admitted, ended time.Time
	}
	var (
		mu    sync.Mutex
		sends []send
		wg    sync.WaitGroup
	)
	next := make(chan int64, households)
	for h := int64(1); h <= households; h++ {
		next <- h
	}
	close(next)
	ctx := context.Background()
	for range 2 {
		conn := redis.NewClient(&redis.Options{Addr: opts.Addr, DB: opts.DB})
		defer conn.Close()
		l, err := NewLimiter(conn, LimiterConfig{Rate: 1, Rates: Rates(pool), Prefix: "test:pool:"})
		if err != nil {
			t.Fatal(err)
		}
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for h := range next {
					lane, _ := pool.Assign("FR", h)
					done, at, err := l.acquire(ctx, lane.Name, 1)
					if err != nil {
						t.Error(err)
						return
					}
					time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
					end := done()
					mu.Lock()
					sends = append(sends, send{lane.Name, at, end})
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// fullest counts the admissions in the one-second window from each admission, of sender (all: "").
	fullest := func(sender string) int {
		most := 0
		for _, s := range sends {
			if sender != "" && s.sender != sender {
				continue
			}
			in := 0
			for _, o := range sends {
				if (sender == "" || o.sender == sender) && !o.admitted.Before(s.admitted) && o.admitted.Before(s.admitted.Add(time.Second)) {
					in++
				}
			}
			most = max(most, in)
		}
		return most
	}
	var sum float64
	for _, lane := range pool {
		sum += lane.Rate
		worst := 0 // what could have reached the provider in the window from each end (see TestLimiterSlidingWindow)
		for _, s := range sends {
			if s.sender != lane.Name {
				continue
			}
			in := 0
			for _, o := range sends {
				if o.sender == lane.Name && o.admitted.Before(s.ended.Add(time.Second)) && !o.ended.Before(s.ended) {
					in++
				}
			}
			worst = max(worst, in)
		}
		if worst > int(lane.Rate) {
			t.Errorf("%s: a one-second window could have received %d segments, over its rate of %g", lane.Name, worst, lane.Rate)
		}
		if f := fullest(lane.Name); f < int(lane.Rate*3/4) {
			t.Errorf("%s: the fullest one-second window held %d segments, want close to its rate of %g", lane.Name, f, lane.Rate)
		}
	}
	if f := fullest(""); float64(f) < 0.75*sum {
		t.Errorf("the pool's fullest one-second window held %d segments, want close to the summed rate of %g", f, sum)
	}
}
