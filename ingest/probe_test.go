package ingest

import (
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relais-edu/relais"
	"github.com/relais-edu/relais/locale"
)

// mediaArgs builds an ffmpeg lavfi source: a test picture (when video is non-empty, "WxH:R") and a tone.
func mediaArgs(video string, secs string, audio ...string) []string {
	var a []string
	if video != "" {
		a = append(a, "-f", "lavfi", "-i", "testsrc2=s="+strings.Replace(video, ":", ":r=", 1)+":d="+secs)
	}
	a = append(a, "-f", "lavfi", "-i", "sine=f=440:d="+secs+":sample_rate=48000")
	return append(a, audio...)
}

func TestProbeRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := ffmpeg(t, dir, "good.mp4", append(mediaArgs("320x240:25", "4"), "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-movflags", "+faststart")...)
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	// Without faststart the index comes last: cut, the file does not open at all.
	slow, err := os.ReadFile(ffmpeg(t, dir, "slow.mp4", append(mediaArgs("320x240:25", "4"), "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac")...))
	if err != nil {
		t.Fatal(err)
	}
	png := ffmpeg(t, dir, "pic.png", "-f", "lavfi", "-i", "testsrc2=s=320x240", "-frames:v", "1")
	pngBytes, _ := os.ReadFile(png)
	ppm := ffmpeg(t, dir, "pic.ppm", "-f", "lavfi", "-i", "testsrc2=s=320x240", "-frames:v", "1")
	ppmBytes, _ := os.ReadFile(ppm)
	noise := make([]byte, 64<<10)
	rand.New(rand.NewSource(1)).Read(noise)

	tests := []struct {
		name   string
		path   string
		limits Limits
		want   string // the refusal message, or its start when it ends with "..."
	}{
		{"zero-byte", write("empty.mp4", nil), Limits{}, "The file is empty."},
		{"text", write("notes.mp4", []byte("Lesson 4: fractions.\nBring a ruler.\n")), Limits{}, "This is not a video or audio file (it looks like text)."},
		{"html", write("page.mp4", []byte("<!DOCTYPE html><html><body>404 Not Found</body></html>")), Limits{}, "This is not a video or audio file (it looks like a web page)."},
		{"png renamed", write("png.mp4", pngBytes), Limits{}, "This is not a video or audio file (it is a picture)."},
		// ppm is not known to the sniffer: FFmpeg opens it as a one-picture image pipe.
		{"ppm renamed", write("ppm.mp4", ppmBytes), Limits{}, "This is not a video or audio file (it is a picture)."},
		{"random bytes", write("noise.mp4", noise), Limits{}, "This is not a video or audio file we can read."},
		{"folder", dir, Limits{}, "This is a folder, not a video or audio file."},
		{"missing", filepath.Join(dir, "nope.mp4"), Limits{}, "The file was not found."},
		{"cut in the middle", write("cut.mp4", b[:len(b)/2]), Limits{}, "The file is cut short: it plays 2 s of the 4 s it announces."},
		{"cut before its index", write("cut-nofaststart.mp4", slow[:len(slow)/2]), Limits{}, "The file is damaged or cut short: it cannot be opened."},
		{"no sound track", ffmpeg(t, dir, "mute.mp4", "-f", "lavfi", "-i", "testsrc2=s=320x240:d=2", "-c:v", "libx264", "-preset", "ultrafast"), Limits{}, "The file has no sound track."},
		{"silent", ffmpeg(t, dir, "silent.wav", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-t", "2"), Limits{}, "The sound track is silent."},
		{"too long", good, Limits{MaxDuration: 3 * time.Second}, "The lesson lasts 4 s; the limit is 3 s."},
		{"too large", good, Limits{MaxBytes: 1000}, "The file is ..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Runner{Exe: os.Args[0], Options: Options{Limits: tt.limits}}
			_, err := r.Probe(context.Background(), tt.path)
			var re *relais.Error
			if !errors.As(err, &re) || re.Code != relais.EINVALID {
				t.Fatalf("Probe = %v, want an EINVALID refusal %q", err, tt.want)
			}
			if want, ok := strings.CutSuffix(tt.want, "..."); ok {
				if !strings.HasPrefix(re.Message, want) {
					t.Fatalf("message %q, want it to start %q", re.Message, want)
				}
			} else if re.Message != tt.want {
				t.Fatalf("message %q, want %q", re.Message, tt.want)
			}
		})
	}
}

// TestProbeRefusalFrench checks that a refusal made in the media child comes back to the parent with
// its French, though only its text crosses the process boundary.
func TestProbeRefusalFrench(t *testing.T) {
	dir := t.TempDir()
	noise := make([]byte, 64<<10)
	rand.New(rand.NewSource(1)).Read(noise)
	noisePath := filepath.Join(dir, "noise.mp4")
	if err := os.WriteFile(noisePath, noise, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		path   string
		limits Limits
		en, fr string
	}{
		{"random bytes", noisePath, Limits{},
			"This is not a video or audio file we can read.", "Ce n'est pas un fichier vidéo ou audio que nous savons lire."},
		{"too long", ffmpeg(t, dir, "tone.wav", mediaArgs("", "4")...), Limits{MaxDuration: 3 * time.Second},
			"The lesson lasts 4 s; the limit is 3 s.", "La leçon dure 4 s ; la limite est de 3 s."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Runner{Exe: os.Args[0], Options: Options{Limits: tt.limits}}
			_, err := r.Probe(context.Background(), tt.path)
			if relais.ErrorCode(err) != relais.EINVALID {
				t.Fatalf("Probe = %v, want an EINVALID refusal", err)
			}
			if got := locale.Message(err, "en"); got != tt.en {
				t.Errorf("English %q, want %q", got, tt.en)
			}
			if got := locale.Message(err, "fr"); got != tt.fr {
				t.Errorf("French %q, want %q", got, tt.fr)
			}
		})
	}
}

func TestProbeAccepts(t *testing.T) {
	dir := t.TempDir()
	h264 := []string{"-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"}
	tests := []struct {
		name     string
		args     []string
		file     string
		video    bool
		w, h     int
		fps      float64
		rotation int
		channels int
		rate     int
	}{
		{"24 fps", append(mediaArgs("160x120:24", "2"), h264...), "f24.mp4", true, 160, 120, 24, 0, 1, 48000},
		{"30 fps", append(mediaArgs("160x120:30", "2"), h264...), "f30.mp4", true, 160, 120, 30, 0, 1, 48000},
		{"50 fps", append(mediaArgs("160x120:50", "2"), h264...), "f50.mkv", true, 160, 120, 50, 0, 1, 48000},
		{"60 fps", append(mediaArgs("160x120:60", "2"), h264...), "f60.mp4", true, 160, 120, 60, 0, 1, 48000},
		{"portrait", append(mediaArgs("180x320:30", "2"), h264...), "portrait.mp4", true, 180, 320, 30, 0, 1, 48000},
		// A "rotate=90" tag becomes a display matrix that FFmpeg's own autorotation turns counterclockwise.
		{"rotation metadata", append(mediaArgs("320x180:30", "2"), h264...), "rotated.mp4", true, 320, 180, 30, 270, 1, 48000},
		{"variable frame rate", append(mediaArgs("160x120:60", "2"), append([]string{"-vf", "select='not(eq(mod(n\\,5)\\,2))'", "-fps_mode", "vfr"}, h264...)...), "vfr.mp4", true, 160, 120, 0, 0, 1, 48000},
		{"5.1", append(mediaArgs("", "2"), "-ac", "6", "-c:a", "aac"), "surround.m4a", false, 0, 0, 0, 0, 6, 48000},
		{"44.1 kHz stereo", append(mediaArgs("", "2"), "-ac", "2", "-ar", "44100", "-c:a", "libmp3lame"), "cd.mp3", false, 0, 0, 0, 0, 2, 44100},
		{"audio-only wav", mediaArgs("", "2"), "tone.wav", false, 0, 0, 0, 0, 1, 48000},
		// Cover art is a picture, not a video: the TV rendition gets the title card.
		{"mp3 with cover art", append(mediaArgs("", "2"), "-f", "lavfi", "-i", "testsrc2=s=300x300:d=1", "-map", "0:a", "-map", "1:v", "-frames:v", "1", "-c:v", "mjpeg",
			"-disposition:v", "attached_pic", "-c:a", "libmp3lame", "-id3v2_version", "3"), "cover.mp3", false, 0, 0, 0, 0, 1, 48000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := ffmpeg(t, dir, tt.file, tt.args...)
			if tt.name == "rotation metadata" {
				src = ffmpeg(t, dir, "tagged-"+tt.file, "-i", src, "-c", "copy", "-metadata:s:v:0", "rotate=90")
			}
			pr, err := testRunner().Probe(context.Background(), src)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			if pr.HasVideo != tt.video || pr.Width != tt.w || pr.Height != tt.h || pr.Rotation != tt.rotation {
				t.Errorf("video = %v %dx%d rot %d, want %v %dx%d rot %d", pr.HasVideo, pr.Width, pr.Height, pr.Rotation, tt.video, tt.w, tt.h, tt.rotation)
			}
			if tt.fps > 0 && (pr.FrameRate < tt.fps-0.01 || pr.FrameRate > tt.fps+0.01) {
				t.Errorf("frame rate %v, want %v", pr.FrameRate, tt.fps)
			}
			if tt.name == "mp3 with cover art" && (len(pr.Streams) != 2 || pr.Streams[1].Kind != "cover") {
				t.Errorf("streams %+v, want the audio and a cover", pr.Streams)
			}
			if pr.AudioChannels != tt.channels || pr.SampleRate != tt.rate {
				t.Errorf("audio %d ch %d Hz, want %d ch %d Hz", pr.AudioChannels, pr.SampleRate, tt.channels, tt.rate)
			}
			if pr.DurationMS < 1900 || pr.DurationMS > 2100 {
				t.Errorf("duration %d ms, want about 2000", pr.DurationMS)
			}
			// An independent measurement of the same conformed signal (48 kHz stereo).
			conf := ffmpeg(t, dir, tt.file+".conf.wav", "-i", src, "-map", "0:a:0", "-af", conformAudio, "-c:a", "pcm_f32le")
			lufs, _ := ebur128(t, conf)
			if d := pr.Loudness.IntegratedLUFS - lufs; d > 0.2 || d < -0.2 {
				t.Errorf("integrated loudness %.2f LUFS, ffmpeg says %.2f", pr.Loudness.IntegratedLUFS, lufs)
			}
		})
	}
}

func TestWrap(t *testing.T) {
	got := wrap("  Les fractions:   additionner et soustraire des fractions de même dénominateur ", 32)
	want := "Les fractions: additionner et\nsoustraire des fractions de même\ndénominateur"
	if got != want {
		t.Fatalf("wrap = %q, want %q", got, want)
	}
}
