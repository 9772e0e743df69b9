package queue

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/internal/redisurl"
	"github.com/relais-edu/relais/internal/testenv"
)

// pacedSMS is an SMS provider behind the real rate limiter: each send first reserves its segment in
// Redis, as channels/sms does, so no message leaves while Redis is unreachable.
type pacedSMS struct {
	lim *sms.Limiter

	mu    sync.Mutex
	sent  map[int64]int // sends by household id
	sends []pacedSend
}

// pacedSend is one message sent: when its reservation was asked for, and when it left.
type pacedSend struct{ asked, done time.Time }

var _ channels.Channel = (*pacedSMS)(nil)

func (p *pacedSMS) Name() relais.ChannelName { return relais.ChannelSMS }

func (p *pacedSMS) Send(ctx context.Context, m channels.Message) (channels.Receipt, error) {
	asked := time.Now()
	done, err := p.lim.Wait(ctx, "Ecole", 1)
	if err != nil {
		return channels.Receipt{}, err
	}
	defer done()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent[m.Household.ID]++
	p.sends = append(p.sends, pacedSend{asked: asked, done: time.Now()})
	return channels.Receipt{ProviderID: fmt.Sprintf("P%d", m.Delivery.ID), Status: relais.DeliveryQueued}, nil
}

func (p *pacedSMS) count() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.sends) }

// redisRun is what publishing one lesson through a Redis shape gave.
type redisRun struct {
	households, sent, twice, unsent int
	archived                        int // tasks asynq gave up on
	took                            time.Duration
	// killToResume is the time from the fault to the first message whose rate-limit reservation was
	// asked for after it: the queue and the limiter reach Redis again (0 without a fault).
	killToResume time.Duration
	stats        TaskStats
}

// publishOn publishes a lesson to households SMS-only families through the real worker on the Redis of
// opt, sending rate messages per second through the Redis rate limiter. When fault is set, it runs once
// a third of the messages have left. It waits up to 50 s for every delivery to leave.
func publishOn(tb testing.TB, opt asynq.RedisConnOpt, households int, rate float64, fault func()) redisRun {
	tb.Helper()
	ctx := context.Background()
	store := openStore(tb)
	rdb := redisurl.Client(opt)
	defer rdb.Close()
	lim, err := sms.NewLimiter(rdb, sms.LimiterConfig{Rate: rate, Prefix: fmt.Sprintf("relais:sms:rate:%d:", time.Now().UnixNano())})
	if err != nil {
		tb.Fatal(err)
	}
	ch := &pacedSMS{lim: lim, sent: map[int64]int{}}
	client := NewClient(opt)
	defer client.Close()
	cfg := DefaultConfig()
	cfg.MediaDir = tb.TempDir()
	cfg.SendPageSize[relais.ChannelSMS] = 20
	w := NewWorker(opt, store, relaisRegistry(ch), Pipeline{}, Links{}, client, cfg, slog.New(slog.DiscardHandler))

	l := relais.Lesson{Title: "T", Subject: "s", Grade: 5, Language: "fr", TeacherID: "t"}
	if err := store.CreateLesson(ctx, &l); err != nil {
		tb.Fatal(err)
	}
	store.PutDigest(ctx, relais.Digest{LessonID: l.ID, Language: "fr", Body: "Leçon", Encoding: "GSM-7", Segments: 1})
	store.SetLessonStatus(ctx, l.ID, relais.LessonPublished, nil)
	var hs []relais.Household
	for i := range households {
		hs = append(hs, relais.Household{ExternalRef: fmt.Sprint("H", i), Region: "IDF", Language: "fr", Grades: []int{5},
			Profile: relais.ProfileSMSOnly, Phone: fmt.Sprintf("+3361%07d", i), Consent: true})
	}
	if err := store.UpsertHouseholds(ctx, hs); err != nil {
		tb.Fatal(err)
	}

	if err := w.Start(); err != nil {
		tb.Fatal(err)
	}
	defer w.Shutdown()
	start := time.Now()
	if err := client.Publish(ctx, l.ID); err != nil {
		tb.Fatal(err)
	}
	var killed time.Time
	r := redisRun{households: households}
	for deadline := start.Add(50 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if fault != nil && killed.IsZero() && ch.count() >= households/3 {
			fault()
			killed = time.Now()
		}
		counts, err := store.DeliveryCounts(ctx, l.ID)
		left := int64(households)
		if err == nil {
			for _, c := range counts {
				if c.Status == relais.DeliveryQueued {
					left -= c.Count
				}
			}
		}
		if left == 0 {
			r.took = time.Since(start)
			break
		}
		if time.Now().After(deadline) {
			r.unsent = int(left)
			tb.Errorf("%d of %d deliveries not sent after 50 s (%d messages left)", left, households, ch.count())
			break
		}
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	for _, n := range ch.sent {
		r.sent++
		if n > 1 {
			r.twice++
		}
	}
	if !killed.IsZero() {
		i := slices.IndexFunc(ch.sends, func(s pacedSend) bool { return s.asked.After(killed) })
		if i < 0 {
			tb.Fatal("no message left after the fault")
		}
		r.killToResume = ch.sends[i].done.Sub(killed)
	}
	if r.stats, err = client.TaskStats(); err != nil {
		tb.Errorf("task statistics: %v", err)
	}
	for _, q := range []string{QueueDefault, QueueSend} {
		info, err := client.insp.GetQueueInfo(q)
		if err != nil {
			tb.Fatalf("queue %s: %v", q, err)
		}
		r.archived += info.Archived
	}
	return r
}

// TestSentinelFailoverLosesNoSend publishes a lesson through Sentinel and kills the Redis master
// (SIGKILL) a third of the way: Sentinel promotes the replica, the workers and the rate limiter follow
// it, and every family gets its SMS exactly once.
func TestSentinelFailoverLosesNoSend(t *testing.T) {
	s := testenv.Sentinel(t)
	opt, err := redisurl.Parse(s.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := publishOn(t, opt, 1500, 150, s.Master.Kill)
	t.Logf("%d households, master killed after a third: sends resumed %s after the kill, all sent in %s",
		r.households, r.killToResume.Round(time.Millisecond), r.took.Round(time.Millisecond))
	if r.sent != r.households || r.twice != 0 || r.unsent != 0 || r.archived != 0 {
		t.Errorf("%d of %d households got an SMS, %d twice, %d deliveries unsent, %d tasks archived; want each exactly once",
			r.sent, r.households, r.twice, r.unsent, r.archived)
	}
	if r.killToResume > 30*time.Second {
		t.Errorf("sends resumed %s after the master's loss, want under 30 s", r.killToResume)
	}
	if err := s.WaitMaster(context.Background(), s.Replica.Addr, 10*time.Second); err != nil {
		t.Errorf("after the failover: %v; want the promoted replica master", err)
	}
}

// TestClusterRunsTheQueue publishes a lesson through a three-master Redis Cluster: asynq's queues,
// the rate limiter's keys and the task statistics (one transaction over the {tasks} keys) all work there.
func TestClusterRunsTheQueue(t *testing.T) {
	c := testenv.Cluster(t)
	opt, err := redisurl.Parse(c.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := publishOn(t, opt, 300, 300, nil)
	if r.sent != r.households || r.twice != 0 || r.unsent != 0 || r.archived != 0 {
		t.Errorf("%d of %d households got an SMS, %d twice, %d deliveries unsent, %d tasks archived; want each exactly once",
			r.sent, r.households, r.twice, r.unsent, r.archived)
	}
	if got := r.stats.Processed[TypeSend]; got < 300/20 {
		t.Errorf("task statistics count %d send runs, want at least %d (pages of 20)", got, 300/20)
	}
	if got := r.stats.Processed[TypeFanout]; got < 1 {
		t.Errorf("task statistics count %d fan-out runs, want at least 1", got)
	}
}

// BenchmarkRedisFailover measures the time from the Redis master's loss (SIGKILL) to sends resuming,
// through Sentinel (down-after-milliseconds 1000, failover-timeout 3000), for scripts/bench-failover.sh,
// beside its baseline: the time the sentinels took to name the replica master. The goal is under 30 s.
func BenchmarkRedisFailover(b *testing.B) {
	var resume, promote time.Duration
	for range b.N {
		s := testenv.Sentinel(b)
		opt, err := redisurl.Parse(s.URL(), nil)
		if err != nil {
			b.Fatal(err)
		}
		promoted := make(chan time.Duration, 1)
		kill := func() {
			s.Master.Kill()
			killed := time.Now()
			go func() {
				for time.Since(killed) < 40*time.Second {
					if addr, err := s.MasterAddr(context.Background()); err == nil && addr == s.Replica.Addr {
						promoted <- time.Since(killed)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
				promoted <- -1
			}()
		}
		r := publishOn(b, opt, 1500, 150, kill)
		if r.sent != r.households || r.twice != 0 || r.archived != 0 {
			b.Errorf("%d of %d households got an SMS, %d twice, %d tasks archived", r.sent, r.households, r.twice, r.archived)
		}
		p := <-promoted
		if p < 0 {
			b.Fatal("the sentinels did not promote the replica within 40 s")
		}
		resume += r.killToResume
		promote += p
		b.Logf("sentinels promoted the replica %s after the kill; sends resumed %s after the kill; %d SMS, each once, in %s",
			p.Round(time.Millisecond), r.killToResume.Round(time.Millisecond), r.sent, r.took.Round(time.Millisecond))
	}
	n := time.Duration(b.N)
	b.ReportMetric((resume / n).Seconds(), "s-kill-to-resume")
	b.ReportMetric((promote / n).Seconds(), "s-kill-to-promotion")
	b.ReportMetric(float64(resume)/float64(promote), "x-promotion")
	b.ReportMetric((resume/n).Seconds()/30, "x-30s-goal")
}
