package ingest

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relais-edu/relais"
)

// renderCase is one source rendered and checked end to end.
type renderCase struct {
	name      string
	file      string
	args      []string // ffmpeg arguments that make the source
	remux     []string // then copied with these arguments (e.g. a rotation tag)
	opts      Options
	wantMS    int64 // expected length of every track
	check     func(t *testing.T, tv, src string)
	wantFiles []string
}

func TestRender(t *testing.T) {
	if testing.Short() {
		t.Skip("renders video")
	}
	h264 := []string{"-c:v", "libx264", "-preset", "ultrafast"}
	cases := []renderCase{
		{
			name: "loud 1080p25 stereo to 1080i25",
			file: "hd.mp4",
			args: append([]string{"-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=25:d=2", "-f", "lavfi", "-i", "sine=f=440:d=2:sample_rate=48000",
				"-af", "volume=10dB", "-ac", "2", "-c:a", "aac"}, h264...),
			opts:   Options{Title: "Fractions", Language: "fr"},
			wantMS: 2000,
			check: func(t *testing.T, tv, src string) {
				// A 16:9 source fills the frame: no bars.
				m := lumaColumns(t, tv, 10, 1920, 1080, [2]int{0, 200}, [2]int{1720, 1920})
				if m[0] < 30 || m[1] < 30 {
					t.Errorf("edges of a 16:9 picture are dark (%.0f, %.0f): bars where none belong", m[0], m[1])
				}
				// An untagged HD source is BT.709 already: its colours (here, the luma of the coloured
				// test pattern) come through unconverted.
				spans := [][2]int{{200, 500}, {700, 1000}, {1300, 1600}}
				in, out := lumaColumns(t, src, 10, 1920, 1080, spans...), lumaColumns(t, tv, 10, 1920, 1080, spans...)
				for i := range in {
					if math.Abs(in[i]-out[i]) > 2.5 {
						t.Errorf("luma of span %v: %.1f in the source, %.1f on TV", spans[i], in[i], out[i])
					}
				}
			},
			wantFiles: []string{"lowband.opus", "radio.mp2", "tv.ts"},
		},
		{
			name:  "rotated phone video, quiet mono 44.1 kHz, 30 fps, to 1080i25",
			file:  "phone.mp4",
			args:  append([]string{"-f", "lavfi", "-i", "testsrc2=s=640x360:r=30:d=2.5", "-f", "lavfi", "-i", "sine=f=330:d=2.5:sample_rate=44100", "-af", "volume=-14dB", "-ac", "1", "-c:a", "aac"}, h264...),
			remux: []string{"-c", "copy", "-metadata:s:v:0", "rotate=90"},
			opts:  Options{},
			// 2.5 s is not a whole number of frames at 44.1 kHz AAC; the source reaches 2.5 s.
			wantMS: 2520,
			check: func(t *testing.T, tv, src string) {
				// Upright, the picture is 360x640: scaled to 608x1080 and pillarboxed, never stretched.
				m := lumaColumns(t, tv, 10, 1920, 1080, [2]int{0, 600}, [2]int{700, 1220}, [2]int{1320, 1920})
				if m[0] > 20 || m[2] > 20 || m[1] < 40 {
					t.Errorf("mean luma left/centre/right = %.0f/%.0f/%.0f, want black bars around a portrait picture", m[0], m[1], m[2])
				}
			},
			wantFiles: []string{"lowband.opus", "radio.mp2", "tv.ts"},
		},
		{
			name:   "audio-only 5.1 to 720p50 with AAC and a WAV master",
			file:   "surround.wav",
			args:   []string{"-f", "lavfi", "-i", "sine=f=550:d=2:sample_rate=48000", "-af", "volume=-6dB", "-ac", "6"},
			opts:   Options{Title: "Les fractions — урок 4", TVFormat: TV720p50, TVAudioCodec: "aac", RadioWAV: true, Language: "kk"},
			wantMS: 2000,
			check: func(t *testing.T, tv, src string) {
				// The card: the title in white over the background.
				if m := maxLuma(t, tv, 20, 1280, 720); m < 200 {
					t.Errorf("brightest pixel of the card is %d: no title drawn", m)
				}
			},
			wantFiles: []string{"lowband.opus", "radio.mp2", "radio.wav", "tv.ts"},
		},
		{
			name: "interlaced 576i 4:3 MPEG-2 in TS to 1080i25",
			file: "sd.ts",
			args: []string{"-f", "lavfi", "-i", "testsrc2=s=720x576:r=50:d=2", "-f", "lavfi", "-i", "sine=f=440:d=2:sample_rate=48000",
				"-vf", "tinterlace=mode=interleave_top,setsar=16/15", "-c:v", "mpeg2video", "-flags", "+ildct+ilme", "-top", "1", "-b:v", "2M", "-c:a", "mp2"},
			wantMS: 2000,
			check: func(t *testing.T, tv, src string) {
				// 4:3 in a 16:9 frame: 1440x1080 between two 240-pixel bars.
				m := lumaColumns(t, tv, 10, 1920, 1080, [2]int{0, 230}, [2]int{260, 1660}, [2]int{1690, 1920})
				if m[0] > 20 || m[2] > 20 || m[1] < 40 {
					t.Errorf("mean luma left/centre/right = %.0f/%.0f/%.0f, want a pillarboxed 4:3 picture", m[0], m[1], m[2])
				}
			},
			wantFiles: []string{"lowband.opus", "radio.mp2", "tv.ts"},
		},
		{
			// The gain that reaches -23 LUFS would push the clicks over the true-peak ceiling: loudnorm's
			// linear mode cannot apply, the limiter path must still land within tolerance.
			name: "quiet tone with loud clicks (no single gain fits)",
			file: "clicks.wav",
			args: []string{"-f", "lavfi", "-i", "sine=f=440:d=3:sample_rate=48000", "-f", "lavfi", "-i", "aevalsrc='if(lt(mod(t\\,0.5)\\,0.002)\\,0.9\\,0)':d=3:s=48000",
				"-filter_complex", "[0]volume=-20dB[a];[a][1]amix=inputs=2:normalize=0", "-ac", "1"},
			opts:      Options{TVFormat: TV720p50},
			wantMS:    3000,
			wantFiles: []string{"lowband.opus", "radio.mp2", "tv.ts"},
		},
		{
			name: "sound starting half a second after the picture",
			file: "late.mp4",
			args: append([]string{"-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2", "-itsoffset", "0.5", "-f", "lavfi", "-i", "sine=f=440:d=2:sample_rate=48000",
				"-c:a", "aac"}, h264...),
			opts: Options{TVFormat: TV720p50},
			// 0.5 s + 2 s of sound, whose last AAC frame decodes 5 ms past 2 s: 2.505 s, to the next frame.
			wantMS: 2520,
			check: func(t *testing.T, tv, src string) {
				radio := filepath.Join(filepath.Dir(tv), "radio.mp2")
				if v := maxVolume(t, radio, 0, 0.4); v > -60 {
					t.Errorf("radio: %.1f dB in the first 0.4 s, want silence before the sound starts", v)
				}
				if v := maxVolume(t, radio, 0.6, 2.4); v < -30 {
					t.Errorf("radio: %.1f dB from 0.6 s, want the tone", v)
				}
			},
			wantFiles: []string{"lowband.opus", "radio.mp2", "tv.ts"},
		},
		{
			// The silence after the sound must not pull the loudness under the tolerance.
			name:      "sound shorter than the picture",
			file:      "short-sound.mp4",
			args:      append([]string{"-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=3", "-f", "lavfi", "-i", "sine=f=440:d=1:sample_rate=48000", "-c:a", "aac"}, h264...),
			opts:      Options{TVFormat: TV720p50},
			wantMS:    3000,
			wantFiles: []string{"lowband.opus", "radio.mp2", "tv.ts"},
		},
		{
			name:      "variable frame rate 60 fps to 720p50",
			file:      "vfr.mp4",
			args:      append([]string{"-f", "lavfi", "-i", "testsrc2=s=320x240:r=60:d=2", "-f", "lavfi", "-i", "sine=f=440:d=2:sample_rate=48000", "-vf", "select='not(eq(mod(n\\,5)\\,2))'", "-fps_mode", "vfr", "-c:a", "aac"}, h264...),
			opts:      Options{TVFormat: TV720p50},
			wantMS:    2000,
			wantFiles: []string{"lowband.opus", "radio.mp2", "tv.ts"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := ffmpeg(t, dir, tc.file, tc.args...)
			if tc.remux != nil {
				src = ffmpeg(t, dir, "remux-"+tc.file, append([]string{"-i", src}, tc.remux...)...)
			}
			out := filepath.Join(dir, "out")
			r := &Runner{Exe: os.Args[0], Options: tc.opts}
			var steps []string
			rs, err := r.Render(context.Background(), src, out, func(step string, pct int) {
				if len(steps) == 0 || steps[len(steps)-1] != step {
					steps = append(steps, step)
				}
			})
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			t.Logf("progress steps: %v", steps)
			if got := strings.Join(steps, ","); got != "probe,normalise,transcode,measure" {
				t.Errorf("progress steps %q", got)
			}
			checkRenditions(t, src, out, rs, tc)
		})
	}
}

func checkRenditions(t *testing.T, src, out string, rs []relais.Rendition, tc renderCase) {
	opts := tc.opts.withDefaults()
	entries, _ := os.ReadDir(out)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != strings.Join(tc.wantFiles, " ") {
		t.Errorf("files %v, want %v (no temporary files left)", names, tc.wantFiles)
	}
	if len(rs) != len(tc.wantFiles) {
		t.Fatalf("%d renditions, want %d", len(rs), len(tc.wantFiles))
	}
	want := float64(tc.wantMS) / 1000
	var tvPath string
	for _, r := range rs {
		if filepath.Dir(r.Path) != out {
			t.Errorf("%s: path %s outside %s", r.Kind, r.Path, out)
		}
		p := ffprobe(t, r.Path)
		name := filepath.Base(r.Path)
		fi, err := os.Stat(r.Path)
		if err != nil || fi.Size() != r.Bytes {
			t.Errorf("%s: %v, size %d, rendition says %d", name, err, fi.Size(), r.Bytes)
		}
		var audio, video int
		for _, s := range p.Streams {
			switch s.CodecType {
			case "audio":
				audio++
				if s.SampleRate != "48000" {
					t.Errorf("%s: sample rate %s", name, s.SampleRate)
				}
			case "video":
				video++
			}
		}
		switch name {
		case "tv.ts":
			tvPath = r.Path
			if audio != 1 || video != 1 || p.Format.FormatName != "mpegts" {
				t.Fatalf("tv: %d audio %d video streams in %s", audio, video, p.Format.FormatName)
			}
			v, a := p.Streams[0], p.Streams[1]
			if v.CodecType != "video" {
				v, a = a, v
			}
			w, h, rate, field := 1920, 1080, "25/1", "tt"
			if opts.TVFormat == TV720p50 {
				w, h, rate, field = 1280, 720, "50/1", "progressive"
			}
			if v.CodecName != "h264" || v.Profile != "High" || v.Width != w || v.Height != h || v.PixFmt != "yuv420p" || v.RFrameRate != rate || v.ColorPrim != "bt709" {
				t.Errorf("tv video: %s %s %dx%d %s %s %s", v.CodecName, v.Profile, v.Width, v.Height, v.PixFmt, v.RFrameRate, v.ColorPrim)
			}
			if v.FieldOrder != field && !(field == "progressive" && v.FieldOrder == "") {
				t.Errorf("tv field order %q, want %q", v.FieldOrder, field)
			}
			if a.CodecName != opts.TVAudioCodec || a.Channels != 2 {
				t.Errorf("tv audio: %s %d ch", a.CodecName, a.Channels)
			}
			if got, want := a.Tags["language"], iso639(opts.Language); got != want {
				t.Errorf("ffprobe reads the TV sound's language as %q, want %q", got, want)
			}
			checkTSTables(t, r.Path, iso639(opts.Language))
			fps := 25.0
			if opts.TVFormat == TV720p50 {
				fps = 50
			}
			var frames float64
			_, _ = fmtSscan(v.NbReadFrames, &frames)
			if got := frames / fps; math.Abs(got-want) > 1e-9 {
				t.Errorf("tv video lasts %.3f s (%v frames), want %.3f", got, frames, want)
			}
			if len(p.Programs) != 1 || p.Programs[0].Tags["service_name"] != opts.ServiceName || p.Programs[0].Tags["service_provider"] != opts.ServiceProvider {
				t.Errorf("tv programs %+v, want service %q by %q", p.Programs, opts.ServiceName, opts.ServiceProvider)
			}
			// CBR: the file carries the mux rate, whatever the picture (a still card or moving video).
			muxrate := float64(tvFormatOf(opts.TVFormat).bitRate)*1.08 + 300000
			if opts.TVAudioCodec == "aac" {
				muxrate += tvAACBitRate * 1.1
			} else {
				muxrate += tvMP2BitRate * 1.1
			}
			if rate := float64(r.Bytes*8) / want; rate < muxrate*0.97 || rate > muxrate*1.1 {
				t.Errorf("tv: %.0f b/s over the lesson, want the mux rate %.0f", rate, muxrate)
			}
			if r.Width != w || r.Height != h || r.VideoCodec != "h264" {
				t.Errorf("tv rendition says %dx%d %s", r.Width, r.Height, r.VideoCodec)
			}
		case "radio.mp2":
			if audio != 1 || p.Streams[0].CodecName != "mp2" || p.Streams[0].Channels != 2 || p.Format.BitRate != "256000" {
				t.Errorf("radio: %+v %+v", p.Streams, p.Format)
			}
		case "radio.wav":
			if audio != 1 || p.Streams[0].CodecName != "pcm_s16le" || p.Streams[0].Channels != 2 {
				t.Errorf("wav: %+v", p.Streams)
			}
		case "lowband.opus":
			if audio != 1 || p.Streams[0].CodecName != "opus" || p.Streams[0].Channels != 1 {
				t.Errorf("lowband: %+v", p.Streams)
			}
			if br := r.Bytes * 8 / int64(want); br < 12000 || br > 32000 {
				t.Errorf("lowband: %d b/s", br)
			}
		}
		// Every sound track is as long as the picture, to the frame (an MP2 frame is 24 ms, an AAC one 21 ms).
		if d := audioSeconds(t, r.Path); d < want-0.001 || d > want+0.040 {
			t.Errorf("%s: sound lasts %.3f s, want %.3f (within one frame)", name, d, want)
		}
		if math.Abs(float64(r.DurationMS)-float64(tc.wantMS)) > 40 {
			t.Errorf("%s: rendition says %d ms, want %d", name, r.DurationMS, tc.wantMS)
		}
		// Loudness, measured by the ffmpeg CLI, and the rendition's own figures.
		lufs, peak := ebur128(t, r.Path)
		if math.Abs(lufs-TargetLUFS) > ToleranceLU || peak > MaxTruePeakDBTP {
			t.Errorf("%s: %.1f LUFS, %.1f dBTP; want %.1f +-%.1f, <= %.1f", name, lufs, peak, TargetLUFS, ToleranceLU, MaxTruePeakDBTP)
		}
		if math.Abs(r.IntegratedLUFS-lufs) > 0.2 || math.Abs(r.TruePeakDBTP-peak) > 0.3 {
			t.Errorf("%s: rendition says %.2f LUFS %.2f dBTP, ffmpeg %.2f LUFS %.2f dBTP", name, r.IntegratedLUFS, r.TruePeakDBTP, lufs, peak)
		}
	}
	if tc.check != nil && tvPath != "" {
		tc.check(t, tvPath, src)
	}
}

func TestRenderRefusesLikeProbe(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "lesson.mp4")
	os.WriteFile(src, []byte("<html><body>upload failed</body></html>"), 0o644)
	_, err := testRunner().Render(context.Background(), src, filepath.Join(dir, "out"), nil)
	if relais.ErrorCode(err) != relais.EINVALID {
		t.Fatalf("Render = %v, want EINVALID", err)
	}
}

// TestChildCrash shows that a crash or hang in FFmpeg ends the child, not the caller, and leaves no
// half-written output.
func TestChildCrash(t *testing.T) {
	dir := t.TempDir()
	src := ffmpeg(t, dir, "tone.wav", mediaArgs("", "3")...)
	tests := []struct {
		name, hook string
		timeout    time.Duration
		render     bool
	}{
		{"probe crashes", "crash:probe", time.Minute, false},
		{"probe hangs", "hang:probe", 2 * time.Second, false},
		{"render crashes half-way", "crash-mid:render", time.Minute, true},
		{"render crashes at start", "crash:render", time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Runner{Exe: os.Args[0], Options: Options{TVFormat: TV720p50}, testHook: tt.hook}
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			start := time.Now()
			var err error
			out := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			if tt.render {
				var progressed bool
				_, err = r.Render(ctx, src, out, func(step string, pct int) { progressed = progressed || step == "transcode" && pct > 0 })
				if tt.hook == "crash-mid:render" && !progressed {
					t.Errorf("the child crashed before it reported progress")
				}
				if entries, _ := os.ReadDir(out); len(entries) != 0 {
					t.Errorf("%d files left in %s after a crash", len(entries), out)
				}
			} else {
				_, err = r.Probe(ctx, src)
			}
			if err == nil {
				t.Fatal("no error from a crashed child")
			}
			var re *relais.Error
			if errors.As(err, &re) {
				t.Fatalf("a crash is reported as a refusal: %v", err)
			}
			if strings.HasPrefix(tt.hook, "hang") && (!errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 15*time.Second) {
				t.Fatalf("hang: %v after %v", err, time.Since(start))
			}
			t.Logf("%v", err)
		})
	}
	// The parent still works.
	if _, err := testRunner().Probe(context.Background(), src); err != nil {
		t.Fatalf("Probe after crashes: %v", err)
	}
}
