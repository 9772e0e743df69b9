package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
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

// A lesson longer than the chunk goes from its upload to ready through the real queue on Redis, two
// media workers rendering its parts at once with FFmpeg, on a directory and on S3: its TV file is one
// whole transport stream, and the parts are gone from the store afterwards.
func TestPartsThroughTheQueue(t *testing.T) {
	if testing.Short() {
		t.Skip("renders video")
	}
	src := filepath.Join(t.TempDir(), "lesson.mp4")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=4",
		"-f", "lavfi", "-i", "sine=f=330:d=4:sample_rate=48000", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", src).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	tmpl, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	s3cfg, bucket := testenv.S3(t)
	s3, err := mediastore.NewS3(s3cfg, bucket, "m")
	if err != nil {
		t.Fatal(err)
	}
	runner := &ingest.Runner{Exe: os.Args[0], Options: ingest.Options{TVFormat: ingest.TV720p50, X264Preset: "ultrafast"}}
	for _, media := range []relais.MediaStore{mediastore.NewDir(t.TempDir()), s3} {
		t.Run(fmt.Sprintf("%T", media), func(t *testing.T) {
			ctx := context.Background()
			db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "relais.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			l := relais.Lesson{Title: "Parts", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t", Markdown: "# Parts\n\nA lesson."}
			if err := db.CreateLesson(ctx, &l); err != nil {
				t.Fatal(err)
			}
			f, _ := os.Open(src)
			loc, err := media.Put(ctx, fmt.Sprintf("lessons/%d/source.mp4", l.ID), f, -1)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if err := db.SetLessonMediaPath(ctx, l.ID, loc); err != nil {
				t.Fatal(err)
			}
			addr, rdb := testenv.Redis(t)
			redis := asynq.RedisClientOpt{Addr: addr, DB: rdb}
			client := queue.NewClient(redis)
			defer client.Close()
			cfg := queue.DefaultConfig()
			cfg.MediaDir, cfg.Media, cfg.ShutdownTimeout = t.TempDir(), media, 5*time.Second
			staging := Staging{Dir: t.TempDir()}
			p := New(runner, media, staging, tmpl, nil, 0, time.Second)
			var partsRun atomic.Int32
			render := p.RenderPart
			p.RenderPart = func(ctx context.Context, l relais.Lesson, i int, progress func(string, int)) error {
				partsRun.Add(1)
				return render(ctx, l, i, progress)
			}
			for range 2 {
				w := queue.NewWorker(redis, db, channels.NewRegistry(), p, queue.Links{}, client, cfg, slog.New(slog.DiscardHandler))
				if err := w.Start(); err != nil {
					t.Fatal(err)
				}
				defer w.Shutdown()
			}
			if err := client.Ingest(ctx, l.ID); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(3 * time.Minute)
			for {
				if l, err = db.Lesson(ctx, l.ID); err != nil {
					t.Fatal(err)
				}
				if l.Status == relais.LessonReady || l.Status == relais.LessonFailed || l.Status == relais.LessonRejected {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("lesson still %s at %s %d%% after 3 minutes", l.Status, l.Step, l.Progress)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if l.Status != relais.LessonReady {
				t.Fatalf("lesson %s: %s", l.Status, l.StatusReason)
			}
			// 4 s in parts of 1 s: four of the picture (48, 48, 48 and 56 pictures) and the sound.
			if n := partsRun.Load(); n != 5 {
				t.Errorf("%d parts rendered, want 5", n)
			}
			rs, err := db.Renditions(ctx, l.ID)
			if err != nil || len(rs) != 3 {
				t.Fatalf("%d renditions, %v", len(rs), err)
			}
			work := t.TempDir()
			for _, r := range rs {
				p, err := Parts{Media: media}.stage(ctx, r.Path, filepath.Join(work, filepath.Base(r.Path)))
				if err != nil {
					t.Fatalf("rendition %s: %v", r.Kind, err)
				}
				if r.Kind != relais.RenditionTV {
					continue
				}
				// 4 s at 50 pictures a second, one every 1800 ticks.
				out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts", "-of", "csv=p=0", p).Output()
				if err != nil {
					t.Fatal(err)
				}
				var pts []int64
				for _, s := range strings.Fields(string(out)) {
					v, _ := strconv.ParseInt(strings.Trim(s, ","), 10, 64)
					pts = append(pts, v)
				}
				slices.Sort(pts)
				if len(pts) != 200 {
					t.Errorf("TV file has %d pictures, want 200", len(pts))
				}
				for i := 1; i < len(pts); i++ {
					if pts[i]-pts[i-1] != 1800 {
						t.Errorf("picture %d comes %d ticks after the one before", i, pts[i]-pts[i-1])
						break
					}
				}
				if r.DurationMS != 4000 {
					t.Errorf("TV file lasts %d ms", r.DurationMS)
				}
			}
			// The parts are gone: the plan, the pictures, the sound.
			parts := Parts{Media: media}
			for _, key := range []string{partsPrefix(l.ID) + "plan.json", pictureKey(l.ID, 0), pictureKey(l.ID, 3), partsPrefix(l.ID) + "tv-audio.ts", partsPrefix(l.ID) + "radio.mp2"} {
				if o, err := media.Open(ctx, parts.loc(key)); err == nil {
					o.Close()
					t.Errorf("%s is still in the store", key)
				} else if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s: %v", key, err)
				}
			}
		})
	}
}

// A part whose worker dies half way leaves nothing in the store and no staging directory; the part
// run again (asynq's lease) renders it whole in its place.
func TestKilledPartLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("renders video")
	}
	src := filepath.Join(t.TempDir(), "lesson.mp4")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=3",
		"-f", "lavfi", "-i", "sine=f=330:d=3:sample_rate=48000", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", src).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	ctx := context.Background()
	media := mediastore.NewDir(t.TempDir())
	f, _ := os.Open(src)
	loc, err := media.Put(ctx, "lessons/7/source.mp4", f, -1)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	l := relais.Lesson{ID: 7, Title: "Kill", Language: "fr", MediaPath: loc}
	staging := Staging{Dir: t.TempDir()}
	p := Parts{Runner: &ingest.Runner{Exe: os.Args[0], Options: ingest.Options{TVFormat: ingest.TV720p50, X264Preset: "ultrafast"}},
		Media: media, Staging: staging, Chunk: time.Second}
	n, err := p.Plan(ctx, l)
	if err != nil || n != 3 {
		t.Fatalf("plan: %d parts, %v; want 3 (48, 48 and 54 pictures)", n, err)
	}
	kctx, kill := context.WithCancel(ctx)
	defer kill()
	err = p.Render(kctx, l, 1, func(step string, pct int) {
		if step == "transcode" && pct >= 10 {
			kill() // the worker dies: its child is killed with it
		}
	})
	if err == nil {
		t.Fatal("a part killed half way returned no error")
	}
	if o, err := media.Open(ctx, p.loc(pictureKey(7, 1))); !errors.Is(err, fs.ErrNotExist) {
		if err == nil {
			o.Close()
		}
		t.Errorf("after the kill, part 1 is in the store (%v)", err)
	}
	if left, _ := os.ReadDir(staging.Dir); len(left) != 0 {
		t.Errorf("the staging directory keeps %d entries", len(left))
	}
	if err := p.Render(ctx, l, 1, nil); err != nil {
		t.Fatalf("the part run again: %v", err)
	}
	o, err := media.Open(ctx, p.loc(pictureKey(7, 1)))
	if err != nil {
		t.Fatalf("part 1 after its second run: %v", err)
	}
	o.Close()
	if err := p.Remove(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := media.Open(ctx, p.loc(pictureKey(7, 1))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Remove, part 1: %v", err)
	}
}
