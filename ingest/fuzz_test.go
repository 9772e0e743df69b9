package ingest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/relais-edu/relais"
)

// FuzzProbe feeds mutated small media files to Probe. Whatever the bytes, the caller survives and the
// answer is one of: accepted with a duration and a sound track, refused (EINVALID), or a plain error
// from a child that failed (never a refusal that hides a crash, never a panic in the caller).
func FuzzProbe(f *testing.F) {
	dir := f.TempDir()
	seeds := []string{
		ffmpeg(f, dir, "a.mp4", append(mediaArgs("64x48:25", "1.5"), "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-movflags", "+faststart")...),
		ffmpeg(f, dir, "b.wav", append(mediaArgs("", "1.5"), "-ar", "8000")...),
		ffmpeg(f, dir, "c.mp3", append(mediaArgs("", "1.5"), "-c:a", "libmp3lame", "-b:a", "32k")...),
		ffmpeg(f, dir, "d.ts", append(mediaArgs("64x48:25", "1.5"), "-c:v", "mpeg2video", "-c:a", "mp2")...),
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)*2/3]) // cut short
		m := append([]byte(nil), b...)
		for i := len(m) / 3; i < len(m); i += 97 {
			m[i] ^= 0x5a // damaged
		}
		f.Add(m)
	}
	r := testRunner()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "upload.mp4")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pr, err := r.Probe(ctx, p)
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("probe of %d bytes still running after 30 s", len(data))
		}
		var re *relais.Error
		switch {
		case err == nil:
			if pr.DurationMS < 1000 || pr.AudioChannels < 1 || pr.SampleRate < 1 {
				t.Fatalf("accepted without a second of sound: %+v", pr)
			}
		case errors.As(err, &re):
			if re.Code != relais.EINVALID || re.Message == "" {
				t.Fatalf("refusal %+v", re)
			}
		default:
			t.Logf("child failed: %v", err)
		}
	})
}
