package ingest

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPlanParts(t *testing.T) {
	video := func(ms, videoMS int64) ProbeResult {
		return ProbeResult{DurationMS: ms, HasVideo: true, Streams: []Stream{{Kind: "video", DurationMS: videoMS}, {Kind: "audio", DurationMS: ms}}}
	}
	cases := []struct {
		name  string
		pr    ProbeResult
		opts  Options
		chunk time.Duration
		want  []Part
	}{
		{"short: one process", video(60_000, 60_000), Options{}, time.Minute, nil},
		{"no threshold", video(600_000, 600_000), Options{}, 0, nil},
		{"audio only", ProbeResult{DurationMS: 600_000}, Options{}, time.Minute, nil},
		{"picture stops early", video(600_000, 500_000), Options{}, time.Minute, nil},
		// 1080i25: 1 s is 25 pictures, cut to 24 (two GOPs); 4 s is 100: the 4 left over join the last.
		{"1080i25", video(4000, 4000), Options{}, time.Second, []Part{{0, 0, 24}, {1, 24, 24}, {2, 48, 24}, {3, 72, 28}}},
		// 720p50: 1 s is 50 pictures, cut to 48; 2.5 s rounds to 63 pictures of 25 fps, 126 of 50: 48, 48 and 30.
		{"720p50", video(2500, 2500), Options{TVFormat: TV720p50}, time.Second, []Part{{0, 0, 48}, {1, 48, 48}, {2, 96, 30}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, PlanParts(tc.pr, tc.opts, tc.chunk)); diff != "" {
				t.Errorf("PlanParts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRenderParts renders a lesson whole and in parts joined, and checks that the joined TV file is
// what the whole one is: the same pictures at the same places, GOPs and length; the same sound, bit for
// bit (rendered in one pass, so nothing to click at the joins), continuous timestamps; continuity
// counters and PCR that run on across the joins.
func TestRenderParts(t *testing.T) {
	if testing.Short() {
		t.Skip("renders video")
	}
	dir := t.TempDir()
	// 4 s of a moving pattern (each picture differs from the next) and a tone whose level moves.
	src := ffmpeg(t, dir, "lesson.mp4", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=4", "-f", "lavfi", "-i", "sine=f=440:d=4:sample_rate=48000",
		"-af", "tremolo=f=2:d=0.5", "-ac", "2", "-c:a", "aac", "-c:v", "libx264", "-preset", "ultrafast")
	r := &Runner{Exe: os.Args[0], Options: Options{Title: "Parts", Language: "fr"}}
	ctx := context.Background()
	pr, err := r.Probe(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	plan := PlanParts(pr, r.Options, time.Second)
	if len(plan) != 4 {
		t.Fatalf("plan %v, want 4 parts", plan)
	}
	whole, err := r.Render(ctx, src, filepath.Join(dir, "whole"), nil)
	if err != nil {
		t.Fatal(err)
	}
	sound, err := r.RenderSound(ctx, src, filepath.Join(dir, "sound"), pr, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, rd := range sound {
		names = append(names, filepath.Base(rd.Path))
	}
	if diff := cmp.Diff([]string{"tv-audio.ts", "radio.mp2", "lowband.opus"}, names); diff != "" {
		t.Errorf("RenderSound files (-want +got):\n%s", diff)
	}
	var parts []string
	for _, p := range plan {
		out := filepath.Join(dir, fmt.Sprintf("part-%d.ts", p.Index))
		if err := r.RenderPicture(ctx, src, out, pr, p, nil); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, out)
	}
	joined := filepath.Join(dir, "tv.ts")
	rd, err := r.Join(ctx, sound[0].Path, parts, plan, joined)
	if err != nil {
		t.Fatal(err)
	}
	if rd.DurationMS != 4000 {
		out, _ := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts,dts,duration", "-of", "csv=p=0", joined).Output()
		t.Errorf("joined file lasts %d ms, want 4000; its pictures:\n%s", rd.DurationMS, out)
	}
	if rd.VideoCodec != "h264" || rd.AudioCodec != "mp2" || math.Abs(rd.IntegratedLUFS-TargetLUFS) > ToleranceLU {
		t.Errorf("joined rendition %+v", rd)
	}
	wholeTV := whole[0].Path

	// ffprobe reads both alike, and decoding the joined file says nothing.
	pj, pw := ffprobe(t, joined), ffprobe(t, wholeTV)
	if diff := cmp.Diff(pw.Streams, pj.Streams); diff != "" {
		t.Errorf("streams of the joined file differ from the whole render's (-whole +joined):\n%s", diff)
	}
	if out, err := exec.Command("ffmpeg", "-v", "warning", "-i", joined, "-f", "null", "-").CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("decoding the joined file: %v\n%s", err, out)
	}
	// Pictures: 100, one every 3600 ticks from the first, keyframes at the same places as the whole's.
	vj, vw := packets(t, joined, "v"), packets(t, wholeTV, "v")
	if len(vj) != 100 {
		t.Errorf("joined file has %d pictures, want 100", len(vj))
	}
	checkContinuous(t, "picture", vj, 3600)
	if kj, kw := keyframes(vj), keyframes(vw); !slices.Equal(kj, kw) {
		t.Errorf("keyframes at pictures %v, the whole render's at %v", kj, kw)
	}
	for _, p := range plan {
		if !slices.Contains(keyframes(vj), int(p.First)) {
			t.Errorf("part %d does not start on a keyframe", p.Index)
		}
	}
	// Sound: the whole render's, packet for packet, its timestamps one run with no gap.
	aj, aw := packets(t, joined, "a"), packets(t, wholeTV, "a")
	checkContinuous(t, "sound", aj, 2160) // 1152 samples at 48 kHz
	if sj, sw := md5Of(t, joined, "0:a"), md5Of(t, wholeTV, "0:a"); sj != sw || len(aj) != len(aw) {
		t.Errorf("sound of the joined file (%d packets, md5 %s) is not the whole render's (%d, %s)", len(aj), sj, len(aw), sw)
	}
	if vj[0].pts-aj[0].pts != vw[0].pts-aw[0].pts {
		t.Errorf("picture starts %d ticks after the sound, %d in the whole render", vj[0].pts-aj[0].pts, vw[0].pts-aw[0].pts)
	}
	// The same pictures at the same places: every joined picture is close to the whole's (a picture
	// one place off would not be: the pattern moves).
	if low := minPSNR(t, joined, wholeTV); low < 30 {
		t.Errorf("lowest PSNR of a joined picture against the whole render's is %.1f dB, want >= 30", low)
	}
	if lufs, peak := ebur128(t, joined); math.Abs(lufs-TargetLUFS) > ToleranceLU || peak > MaxTruePeakDBTP {
		t.Errorf("joined file: %.1f LUFS, peak %.1f", lufs, peak)
	}
	checkTSTables(t, joined, "fra")
	checkTSClock(t, joined)
}

type packet struct {
	pts int64
	key bool
}

// packets lists the packets of the first stream of kind (a or v) of path, in presentation order.
func packets(t *testing.T, path, kind string) []packet {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", kind+":0", "-show_entries", "packet=pts,flags", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe packets %s: %v", path, err)
	}
	var ps []packet
	for _, line := range strings.Fields(string(out)) {
		f := strings.Split(line, ",")
		pts, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			t.Fatalf("packet %q of %s", line, path)
		}
		ps = append(ps, packet{pts: pts, key: len(f) > 1 && strings.HasPrefix(f[1], "K")})
	}
	slices.SortFunc(ps, func(a, b packet) int { return int(a.pts - b.pts) })
	return ps
}

// checkContinuous fails unless the packets follow each other every step ticks.
func checkContinuous(t *testing.T, what string, ps []packet, step int64) {
	t.Helper()
	for i := 1; i < len(ps); i++ {
		if d := ps[i].pts - ps[i-1].pts; d != step {
			t.Errorf("%s %d comes %d ticks after the one before, want %d", what, i, d, step)
			return
		}
	}
}

func keyframes(ps []packet) []int {
	var ks []int
	for i, p := range ps {
		if p.key {
			ks = append(ks, i)
		}
	}
	return ks
}

func md5Of(t *testing.T, path, stream string) string {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-map", stream, "-c", "copy", "-f", "md5", "-").Output()
	if err != nil {
		t.Fatalf("md5 %s: %v", path, err)
	}
	return strings.TrimSpace(string(out))
}

var rePSNR = regexp.MustCompile(`psnr_avg:(\S+)`)

// minPSNR compares a and b picture by picture and returns the lowest PSNR.
func minPSNR(t *testing.T, a, b string) float64 {
	t.Helper()
	log := filepath.Join(t.TempDir(), "psnr.log")
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", a, "-i", b, "-lavfi", "[0:v][1:v]psnr=stats_file="+log, "-f", "null", "-")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("psnr: %v\n%s", err, out)
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	low, n := math.Inf(1), 0
	for _, m := range rePSNR.FindAllStringSubmatch(string(data), -1) {
		v, err := strconv.ParseFloat(m[1], 64)
		if m[1] == "inf" {
			v, err = math.Inf(1), nil
		}
		if err != nil {
			t.Fatalf("psnr value %q", m[1])
		}
		low, n = math.Min(low, v), n+1
	}
	if n != 100 {
		t.Fatalf("psnr compared %d pictures, want 100", n)
	}
	return low
}

// checkTSClock reads a transport stream as a receiver does: on every PID, the continuity counter of
// each packet with a payload is one more than the last; the PCR never goes back and never jumps by more
// than 100 ms (ISO 13818-1's bound) across the whole file, the joins included.
func checkTSClock(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cc := map[int]int{}
	lastPCR := int64(-1)
	for i := 0; i+188 <= len(b); i += 188 {
		pkt := b[i : i+188]
		if pkt[0] != 0x47 {
			t.Fatalf("packet %d: no sync byte", i/188)
		}
		pid := int(pkt[1]&0x1f)<<8 | int(pkt[2])
		if pid == 0x1fff {
			continue
		}
		afc := pkt[3] >> 4 & 3
		if afc&1 == 1 {
			c := int(pkt[3] & 0x0f)
			if prev, ok := cc[pid]; ok && c != (prev+1)%16 {
				t.Errorf("packet %d, PID %#x: continuity counter %d after %d", i/188, pid, c, prev)
				return
			}
			cc[pid] = c
		}
		if afc&2 == 2 && pkt[4] > 0 && pkt[5]&0x10 != 0 { // adaptation field with a PCR
			base := int64(pkt[6])<<25 | int64(pkt[7])<<17 | int64(pkt[8])<<9 | int64(pkt[9])<<1 | int64(pkt[10]>>7)
			pcr := base*300 + (int64(pkt[10]&1)<<8 | int64(pkt[11]))
			if lastPCR >= 0 && (pcr <= lastPCR || pcr-lastPCR > 27_000_000/10) {
				t.Errorf("packet %d: PCR %d after %d", i/188, pcr, lastPCR)
				return
			}
			lastPCR = pcr
		}
	}
	if lastPCR < 0 {
		t.Error("no PCR")
	}
}
