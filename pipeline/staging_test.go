package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/ingest"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/mediastore"
)

// TestStagingSweep removes the working directories of dead processes only.
func TestStagingSweep(t *testing.T) {
	s := Staging{Dir: t.TempDir()}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	mine, err := s.work()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{ // kept?
		filepath.Base(mine): true,
		stagePrefix + strconv.Itoa(dead.Process.Pid) + "-123": false,
		stagePrefix + "1-456":   true, // init is alive
		"not-a-stage-directory": true,
	}
	for n := range names {
		os.MkdirAll(filepath.Join(s.Dir, n, "out"), 0o750)
	}
	n, err := s.Sweep()
	if err != nil || n != 1 {
		t.Errorf("Sweep = %d, %v; want 1 removed", n, err)
	}
	for name, kept := range names {
		if _, err := os.Stat(filepath.Join(s.Dir, name)); (err == nil) != kept {
			t.Errorf("%s: kept %v, want %v", name, err == nil, kept)
		}
	}
}

// TestKilledRenderLeavesNothing kills the media child in the middle of its transcode, on each media
// store: no rendition is in the store and the staging directory is empty; the task's next run renders
// the lesson whole.
func TestKilledRenderLeavesNothing(t *testing.T) {
	src := filepath.Join(t.TempDir(), "lesson.mp4")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=3",
		"-f", "lavfi", "-i", "sine=f=330:d=3:sample_rate=48000", "-shortest", "-c:v", "libx264", "-preset", "ultrafast",
		"-c:a", "aac", src).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
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
			f, _ := os.Open(src)
			loc, err := media.Put(ctx, "lessons/9/source.mp4", f, -1)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			staging := Staging{Dir: t.TempDir()}
			l := relais.Lesson{ID: 9, Title: "Kill", Language: "fr", MediaPath: loc}
			kctx, kill := context.WithCancel(ctx)
			defer kill()
			_, err = Render(kctx, runner, media, staging, l, func(step string, pct int) {
				if step == "transcode" && pct >= 20 {
					kill() // the worker dies: its child is killed with it
				}
			})
			if err == nil {
				t.Fatal("a render killed half way returned no error")
			}
			for _, name := range []string{"tv.ts", "radio.mp2", "lowband.opus"} {
				at := fmt.Sprintf("lessons/9/%s", name)
				if d, ok := media.(*mediastore.Dir); ok {
					at = filepath.Join(d.Root, at)
				}
				if o, err := media.Open(ctx, at); !errors.Is(err, fs.ErrNotExist) {
					if err == nil {
						o.Close()
					}
					t.Errorf("after the kill, %s is in the store (%v)", name, err)
				}
			}
			if left, _ := os.ReadDir(staging.Dir); len(left) != 0 {
				t.Errorf("the staging directory keeps %d entries", len(left))
			}
			rs, err := Render(ctx, runner, media, staging, l, nil)
			if err != nil || len(rs) != 3 {
				t.Fatalf("the next run: %d renditions, %v", len(rs), err)
			}
			for _, r := range rs {
				o, err := media.Open(ctx, r.Path)
				if err != nil {
					t.Fatalf("rendition %s: %v", r.Kind, err)
				}
				if o.Size() != r.Bytes {
					t.Errorf("rendition %s: %d bytes in the store, %d recorded", r.Kind, o.Size(), r.Bytes)
				}
				o.Close()
			}
		})
	}
}
