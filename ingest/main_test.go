package ingest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestMain(m *testing.M) {
	if IsChild() {
		os.Exit(ChildMain())
	}
	os.Exit(m.Run())
}

func testRunner() *Runner { return &Runner{Exe: os.Args[0]} }

// ffmpeg writes a test file with the ffmpeg CLI into dir and returns its path.
func ffmpeg(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	a := append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)
	a = append(a, out)
	if b, err := exec.Command("ffmpeg", a...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", a, err, b)
	}
	return out
}
