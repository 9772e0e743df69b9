package queue

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/store/postgres"
	"github.com/relais-edu/relais/store/sqlite"
	"github.com/relais-edu/relais/templates"
)

// BenchmarkFanoutScale fans out a grade-wide lesson to N households (mobile_data: email and SMS each)
// with the fan-out running in separate worker processes, as in production, and prints per engine, size
// and number of processes: households planned and their send tasks queued per second, the cost per
// household, the peak RSS of the worker processes, Redis' peak memory, and the counts that prove each
// household was planned once and each delivery queued once. Send tasks are taken off Redis by a no-op
// consumer, so the fan-out's backpressure (MaxSendBacklog) is exercised but no message is built.
//
// The workers' SMS channel has a pool of RELAIS_BENCH_FANOUT_SENDERS senders (default 3; 0: no SMS
// sender, no balancing), and RELAIS_BENCH_FANOUT_LESSONS lessons (default 2) go one after the other to
// the same households, a row each: the first lesson finds families that no sender knows yet, the
// next ones families that remember theirs.
//
//	RELAIS_BENCH_FANOUT_SIZES=100000,1000000 RELAIS_BENCH_FANOUT_ENGINES=sqlite,postgres \
//	RELAIS_BENCH_FANOUT_PROCS=1,2 go test ./queue -run '^$' -bench FanoutScale -benchtime 1x
//
// scripts/bench-fanout.sh runs it.
func BenchmarkFanoutScale(b *testing.B) {
	sizes := envInts("RELAIS_BENCH_FANOUT_SIZES", "100000")
	procs := envInts("RELAIS_BENCH_FANOUT_PROCS", "1,2")
	engines := strings.Split(envOr("RELAIS_BENCH_FANOUT_ENGINES", "sqlite,postgres"), ",")
	lessons := envInts("RELAIS_BENCH_FANOUT_LESSONS", "2")[0]
	fmt.Printf("%-8s %9s %5s %6s %8s %12s %8s %10s %10s %10s %10s %10s %6s\n", "engine", "households", "procs", "lesson", "seconds",
		"households/s", "us/hh", "rss_mb", "redis_mb", "deliveries", "planned_hh", "ids_queued", "twice")
	for _, engine := range engines {
		for _, n := range sizes {
			url := scaleStore(b, engine, n)
			for _, p := range procs {
				for lesson := 1; lesson <= lessons; lesson++ {
					r := runFanoutScale(b, engine, url, n, p)
					fmt.Printf("%-8s %9d %5d %6d %8.2f %12.0f %8.2f %10.1f %10.1f %10d %10d %10d %6d\n", engine, n, p, lesson, r.elapsed.Seconds(),
						float64(n)/r.elapsed.Seconds(), float64(r.elapsed.Microseconds())/float64(n), float64(r.rssKB)/1024,
						float64(r.redisPeak)/(1<<20), r.deliveries, r.households, r.queued, r.dupes)
					// Planning is exact; a fan-out task that ran twice (a retry, or a lease recovered on a
					// loaded machine) may queue still-pending ids again, which the send task skips once sent:
					// counted in "twice", not an error.
					if r.deliveries != int64(2*n) || r.households != int64(n) || r.queued-r.dupes != int64(2*n) {
						b.Errorf("%s %d households, %d processes: %d deliveries for %d households, %d distinct ids queued; want %d, %d, %d",
							engine, n, p, r.deliveries, r.households, r.queued-r.dupes, 2*n, n, 2*n)
					}
				}
			}
		}
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envInts(k, def string) []int {
	var out []int
	for _, s := range strings.Split(envOr(k, def), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			panic(fmt.Sprintf("%s: %v", k, err))
		}
		out = append(out, n)
	}
	return out
}

// scaleStore makes a database of n households of grade 5 and returns its URL (sqlite:PATH or postgres://).
func scaleStore(b *testing.B, engine string, n int) string {
	ctx := context.Background()
	var url string
	switch engine {
	case "sqlite":
		url = "sqlite:" + filepath.Join(b.TempDir(), "relais.db")
	case "postgres":
		url = testenv.Postgres(b)
	default:
		b.Fatalf("unknown engine %q", engine)
	}
	s, err := openScaleStore(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	const chunk = 10000
	for i := 0; i < n; i += chunk {
		var hs []relais.Household
		for j := i; j < min(i+chunk, n); j++ {
			hs = append(hs, relais.Household{ExternalRef: fmt.Sprint("N", j), Region: "IDF", Language: "fr", Grades: []int{5},
				Profile: relais.ProfileMobileData, Phone: fmt.Sprintf("+3361%07d", j), Email: fmt.Sprintf("f%d@example.org", j), Consent: true})
		}
		if err := s.UpsertHouseholds(ctx, hs); err != nil {
			b.Fatal(err)
		}
	}
	if pg, ok := s.(*postgres.DB); ok {
		// A running installation has statistics (autovacuum); a freshly filled table does not yet.
		if _, err := pg.Pool().Exec(ctx, `ANALYZE`); err != nil {
			b.Fatal(err)
		}
	}
	fmt.Fprintf(os.Stderr, "# %s: %d households imported in %s\n", engine, n, time.Since(start).Round(time.Millisecond))
	return url
}

func openScaleStore(ctx context.Context, url string) (relais.Store, error) {
	if path, ok := strings.CutPrefix(url, "sqlite:"); ok {
		return sqlite.Open(ctx, path)
	}
	return postgres.Open(ctx, url)
}

type scaleResult struct {
	elapsed                               time.Duration
	rssKB                                 int64
	redisPeak                             int64
	deliveries, households, queued, dupes int64
}

// runFanoutScale publishes a new lesson to the households of url and fans it out with procs worker
// processes.
func runFanoutScale(b *testing.B, engine, url string, n, procs int) scaleResult {
	ctx := context.Background()
	addr, db := testenv.Redis(b)
	ropt := asynq.RedisClientOpt{Addr: addr, DB: db}
	s, err := openScaleStore(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	l := relais.Lesson{Title: "T", Subject: "s", Grade: 5, Language: "fr", TeacherID: "t"}
	if err := s.CreateLesson(ctx, &l); err != nil {
		b.Fatal(err)
	}
	s.PutDigest(ctx, relais.Digest{LessonID: l.ID, Language: "fr", Body: "Leçon", Encoding: "GSM-7", Segments: 1})
	if err := s.SetLessonStatus(ctx, l.ID, relais.LessonPublished, nil); err != nil {
		b.Fatal(err)
	}

	// The send consumer: takes the pages off Redis and counts their ids.
	var mu sync.Mutex
	seen := make(map[int64]bool, 2*n)
	var dupes int64
	drain := asynq.NewServer(ropt, asynq.Config{Concurrency: 4, Queues: map[string]int{QueueSend: 1},
		Logger: newAsynqLogger(slog.New(slog.DiscardHandler)), LogLevel: asynq.FatalLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeSend, func(ctx context.Context, t *asynq.Task) error {
		var p SendPayload
		if err := decode(t, &p); err != nil {
			return err
		}
		mu.Lock()
		for _, id := range p.DeliveryIDs {
			if seen[id] {
				dupes++
			}
			seen[id] = true
		}
		mu.Unlock()
		return nil
	})
	if err := drain.Start(mux); err != nil {
		b.Fatal(err)
	}
	defer drain.Shutdown()

	var children []*fanoutChild
	for i := 0; i < procs; i++ {
		children = append(children, startFanoutChild(b, url, addr, db))
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	defer rdb.Close()
	insp := asynq.NewInspector(ropt)
	defer insp.Close()
	client := NewClient(ropt)
	defer client.Close()

	var peak atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if m := usedMemory(rdb); m > peak.Load() {
				peak.Store(m)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	if err := client.Publish(ctx, l.ID); err != nil {
		b.Fatal(err)
	}
	var elapsed time.Duration
	for {
		info, err := insp.GetQueueInfo(QueueDefault)
		if err == nil && info.Size == 0 && info.Active == 0 {
			elapsed = time.Since(start)
			break
		}
		if time.Since(start) > 30*time.Minute {
			b.Fatalf("%s: the fan-out of %d households did not end in 30 minutes", engine, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stopSampling)
	<-sampled
	var rss int64
	for _, c := range children {
		rss = max(rss, c.stop(b))
	}
	// Let the consumer take the last pages.
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		info, err := insp.GetQueueInfo(QueueSend)
		if err == nil && info.Size == 0 && info.Active == 0 {
			break
		}
	}
	r := scaleResult{elapsed: elapsed, rssKB: rss, redisPeak: peak.Load()}
	counts, err := s.DeliveryCounts(ctx, l.ID)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range counts {
		r.deliveries += c.Count
	}
	r.households = plannedHouseholds(b, s, url, l.ID)
	mu.Lock()
	r.queued, r.dupes = int64(len(seen))+dupes, dupes
	mu.Unlock()
	return r
}

// plannedHouseholds counts the distinct households the lesson has deliveries for, in SQL (paging
// through millions of deliveries would take longer than the fan-out).
func plannedHouseholds(b *testing.B, s relais.Store, url string, lessonID int64) int64 {
	const q = `SELECT count(DISTINCT household_id) FROM deliveries WHERE lesson_id = `
	var n int64
	if pg, ok := s.(*postgres.DB); ok {
		if err := pg.Pool().QueryRow(context.Background(), q+`$1`, lessonID).Scan(&n); err != nil {
			b.Fatal(err)
		}
		return n
	}
	db, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(url, "sqlite:")+"?mode=ro")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(q+`?`, lessonID).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

func usedMemory(rdb *redis.Client) int64 {
	s, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// fanoutChild is a worker process of the test binary that runs fan-out tasks (fanoutChildMain).
type fanoutChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

func startFanoutChild(b *testing.B, url, redisAddr string, redisDB int) *fanoutChild {
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), "RELAIS_FANOUT_CHILD="+url, "RELAIS_FANOUT_CHILD_REDIS="+fmt.Sprintf("%s/%d", redisAddr, redisDB))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &fanoutChild{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	if !c.out.Scan() || c.out.Text() != "ready" {
		b.Fatalf("fan-out worker process did not start: %q", c.out.Text())
	}
	return c
}

// stop ends the process and returns its peak RSS in kB.
func (c *fanoutChild) stop(b *testing.B) int64 {
	c.stdin.Close()
	var rss int64
	for c.out.Scan() {
		if v, ok := strings.CutPrefix(c.out.Text(), "VmHWM:"); ok {
			rss, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	if err := c.cmd.Wait(); err != nil {
		b.Errorf("fan-out worker process: %v", err)
	}
	return rss
}

// fanoutChildMain runs in a worker process started by startFanoutChild: it serves fan-out tasks until
// its standard input closes, then prints its peak RSS.
func fanoutChildMain(url, redisAt string) int {
	ctx := context.Background()
	addr, dbs, _ := strings.Cut(redisAt, "/")
	db, _ := strconv.Atoi(dbs)
	ropt := asynq.RedisClientOpt{Addr: addr, DB: db}
	s, err := openScaleStore(ctx, url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	client := NewClient(ropt)
	defer client.Close()
	cfg := DefaultConfig()
	if v := os.Getenv("RELAIS_BENCH_FANOUT_SEGMENT"); v != "" { // to try other segments than the default
		cfg.FanoutSegment, _ = strconv.ParseInt(v, 10, 64)
	}
	if v := os.Getenv("RELAIS_BENCH_FANOUT_PAGE"); v != "" {
		cfg.FanoutPageSize, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("RELAIS_BENCH_FANOUT_BACKLOG"); v != "" { // the send tasks queued before the fan-out waits
		cfg.MaxSendBacklog, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("RELAIS_BENCH_FANOUT_CONCURRENCY"); v != "" { // fan-out tasks at once per process
		cfg.Concurrency, _ = strconv.Atoi(v)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	reg := relaisRegistry()
	if senders := envInts("RELAIS_BENCH_FANOUT_SENDERS", "3")[0]; senders > 0 {
		// The fan-out balances the SMS households over the pool; no message is sent (the send consumer
		// only counts the ids).
		smsCfg := sms.DefaultConfig()
		smsCfg.AccountSID, smsCfg.AuthToken = "AC00000000000000000000000000000000", "token"
		for i := range senders {
			smsCfg.Pool = append(smsCfg.Pool, sms.PoolSender{Name: fmt.Sprint("s", i+1), Country: "FR", From: fmt.Sprint(38100 + i), Rate: 20})
		}
		ts, err := templates.Load()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		ch, err := sms.New(smsCfg, s, channels.NewLedger(s, nil), ts)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		reg = relaisRegistry(ch, ch.Reminders())
	}
	w := NewWorker(ropt, s, reg, Pipeline{}, Links{}, client, cfg, log)
	srv := asynq.NewServer(ropt, asynq.Config{Concurrency: cfg.Concurrency, Queues: map[string]int{QueueDefault: 1},
		RetryDelayFunc: retryDelay, IsFailure: isFailure, Logger: newAsynqLogger(w.log), LogLevel: asynq.WarnLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeFanout, w.handleFanout)
	if err := srv.Start(mux); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if dir := os.Getenv("RELAIS_BENCH_FANOUT_CPUPROFILE"); dir != "" { // go tool pprof DIR/fanout-PID.pprof
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("fanout-%d.pprof", os.Getpid())))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	srv.Shutdown()
	w.rdb.Close()
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			fmt.Println(line)
		}
	}
	return 0
}
