package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/ingest"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/mediastore"
	"github.com/relais-edu/relais/queue"
	"github.com/relais-edu/relais/store/sqlite"
	"github.com/relais-edu/relais/templates"
)

// BenchmarkChunkedTranscode (scripts/bench-chunks.sh) takes a lesson (RELAIS_BENCH_CHUNKS_SRC) from its
// upload to ready through the real queue on Redis: first rendered whole by one media worker (the
// baseline), then in parts of RELAIS_BENCH_CHUNKS_CHUNK by 1, 2 and 4 media workers
// (RELAIS_BENCH_CHUNKS_WORKERS), each part in its own media child process. It prints the wall times,
// the speed-ups and where the time of a chunked run went.
func BenchmarkChunkedTranscode(b *testing.B) {
	src := os.Getenv("RELAIS_BENCH_CHUNKS_SRC")
	if src == "" {
		b.Skip("RELAIS_BENCH_CHUNKS_SRC names the lesson to transcode (scripts/bench-chunks.sh)")
	}
	chunk, err := time.ParseDuration(envOr("RELAIS_BENCH_CHUNKS_CHUNK", "15s"))
	if err != nil {
		b.Fatal(err)
	}
	var workers []int
	for _, s := range strings.Split(envOr("RELAIS_BENCH_CHUNKS_WORKERS", "1,2,4"), ",") {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		workers = append(workers, n)
	}
	tmpl, err := templates.Load()
	if err != nil {
		b.Fatal(err)
	}
	runner := &ingest.Runner{Exe: os.Args[0], Options: ingest.Options{X264Preset: envOr("RELAIS_BENCH_CHUNKS_PRESET", "veryfast")}}
	ctx := context.Background()
	media := mediastore.NewDir(b.TempDir())
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "relais.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	addr, rdb := testenv.Redis(b)
	redis := asynq.RedisClientOpt{Addr: addr, DB: rdb}
	client := queue.NewClient(redis)
	defer client.Close()

	// run takes a new lesson from upload to ready with n media workers and chunk (0: whole) and returns
	// the wall time and the time spent in each step of a chunked run.
	run := func(n int, chunk time.Duration) (time.Duration, *stepTimes) {
		l := relais.Lesson{Title: "Bench", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t", Markdown: "# Bench"}
		if err := db.CreateLesson(ctx, &l); err != nil {
			b.Fatal(err)
		}
		loc, err := media.PutFile(ctx, fmt.Sprintf("lessons/%d/source%s", l.ID, filepath.Ext(src)), copyFile(b, src))
		if err != nil {
			b.Fatal(err)
		}
		if err := db.SetLessonMediaPath(ctx, l.ID, loc); err != nil {
			b.Fatal(err)
		}
		st := &stepTimes{}
		p := st.wrap(New(runner, media, Staging{Dir: b.TempDir()}, tmpl, nil, 0, chunk))
		cfg := queue.DefaultConfig()
		cfg.MediaDir, cfg.Media = b.TempDir(), media
		var ws []*queue.Worker
		for range n {
			w := queue.NewWorker(redis, db, channels.NewRegistry(), p, queue.Links{}, client, cfg, slog.New(slog.DiscardHandler))
			if err := w.Start(); err != nil {
				b.Fatal(err)
			}
			ws = append(ws, w)
		}
		defer func() {
			for _, w := range ws {
				w.Shutdown()
			}
		}()
		start := time.Now()
		if err := client.Ingest(ctx, l.ID); err != nil {
			b.Fatal(err)
		}
		for {
			if l, err = db.Lesson(ctx, l.ID); err != nil {
				b.Fatal(err)
			}
			if l.Status == relais.LessonReady {
				break
			}
			if l.Status == relais.LessonFailed || l.Status == relais.LessonRejected {
				b.Fatalf("lesson %s: %s", l.Status, l.StatusReason)
			}
			time.Sleep(200 * time.Millisecond)
		}
		return time.Since(start), st
	}

	whole, _ := run(1, 0)
	fmt.Printf("%-34s %8.1f s  (baseline)\n", "whole file, 1 media worker", whole.Seconds())
	var one time.Duration
	for _, n := range workers {
		d, st := run(n, chunk)
		if n == 1 {
			one = d
		}
		line := fmt.Sprintf("%-34s %8.1f s  speed-up %.2fx vs whole", fmt.Sprintf("in parts of %s, %d media worker(s)", chunk, n), d.Seconds(), whole.Seconds()/d.Seconds())
		if one > 0 && n > 1 {
			line += fmt.Sprintf(", %.2fx vs 1 worker in parts (%.2fx per added worker)", one.Seconds()/d.Seconds(), (one.Seconds()/d.Seconds()-1)/float64(n-1))
		}
		fmt.Println(line)
		fmt.Printf("    %s\n", st)
	}
	if one > 0 {
		fmt.Printf("split/join overhead (in parts, 1 worker, vs whole): %+.1f %% (%+.1f s)\n", (one.Seconds()/whole.Seconds()-1)*100, (one - whole).Seconds())
	}
}

// stepTimes adds up the time spent in each step of a chunked transcode.
type stepTimes struct {
	mu                          sync.Mutex
	plan, sound, pictures, join time.Duration
	parts                       int
}

func (s *stepTimes) wrap(p queue.Pipeline) queue.Pipeline {
	add := func(d *time.Duration, since time.Time) {
		s.mu.Lock()
		*d += time.Since(since)
		s.mu.Unlock()
	}
	plan, render, join := p.PlanParts, p.RenderPart, p.JoinParts
	p.PlanParts = func(ctx context.Context, l relais.Lesson) (int, error) {
		defer add(&s.plan, time.Now())
		n, err := plan(ctx, l)
		s.mu.Lock()
		s.parts = n
		s.mu.Unlock()
		return n, err
	}
	p.RenderPart = func(ctx context.Context, l relais.Lesson, i int, progress func(string, int)) error {
		s.mu.Lock()
		d := &s.pictures
		if i == s.parts {
			d = &s.sound
		}
		s.mu.Unlock()
		defer add(d, time.Now())
		return render(ctx, l, i, progress)
	}
	p.JoinParts = func(ctx context.Context, l relais.Lesson) ([]relais.Rendition, error) {
		defer add(&s.join, time.Now())
		return join(ctx, l)
	}
	return p
}

func (s *stepTimes) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("plan (probe again) %.1f s, sound (whole) %.1f s, %d picture parts %.1f s in all, join %.1f s",
		s.plan.Seconds(), s.sound.Seconds(), s.parts, s.pictures.Seconds(), s.join.Seconds())
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// copyFile copies path into a new temporary file (the media store moves it in).
func copyFile(b *testing.B, path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(b.TempDir(), filepath.Base(path))
	if err := os.WriteFile(out, data, 0o600); err != nil {
		b.Fatal(err)
	}
	return out
}
