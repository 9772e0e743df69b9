package ingest

import (
	"bytes"
	"encoding/json"
	"math"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// probed is the part of ffprobe's JSON the tests read.
type probed struct {
	Streams []struct {
		CodecName    string            `json:"codec_name"`
		CodecType    string            `json:"codec_type"`
		Profile      string            `json:"profile"`
		Width        int               `json:"width"`
		Height       int               `json:"height"`
		PixFmt       string            `json:"pix_fmt"`
		FieldOrder   string            `json:"field_order"`
		RFrameRate   string            `json:"r_frame_rate"`
		SampleRate   string            `json:"sample_rate"`
		Channels     int               `json:"channels"`
		ColorPrim    string            `json:"color_primaries"`
		NbReadFrames string            `json:"nb_read_frames"`
		Tags         map[string]string `json:"tags"`
	} `json:"streams"`
	Programs []struct {
		Tags map[string]string `json:"tags"`
	} `json:"programs"`
	Format struct {
		FormatName string            `json:"format_name"`
		BitRate    string            `json:"bit_rate"`
		Tags       map[string]string `json:"tags"`
	} `json:"format"`
}

// ffprobe describes path independently of the package, counting the decoded frames.
func ffprobe(t *testing.T, path string) probed {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-show_streams", "-show_format", "-show_programs", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var p probed
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// audioSeconds decodes the first audio stream of path with ffprobe and returns its length.
func audioSeconds(t *testing.T, path string) float64 {
	t.Helper()
	rate, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=sample_rate", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	// A transport stream lists its streams twice (under the program too).
	r, _ := strconv.ParseFloat(strings.Trim(strings.Fields(string(rate) + " 0")[0], ","), 64)
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "frame=nb_samples", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe frames %s: %v", path, err)
	}
	var samples float64
	for _, line := range strings.Fields(string(out)) {
		n, _ := strconv.ParseFloat(strings.Trim(line, ","), 64)
		samples += n
	}
	if r == 0 || samples == 0 {
		t.Fatalf("%s: no audio frames", path)
	}
	return samples / r
}

var (
	reI    = regexp.MustCompile(`(?s)Summary:.*?I:\s+(-?[\d.]+) LUFS`)
	rePeak = regexp.MustCompile(`(?s)Summary:.*?Peak:\s+(-?[\d.inf]+) dBFS`)
)

// ebur128 measures the first audio stream of path with the ffmpeg CLI.
func ebur128(t *testing.T, path string) (lufs, peak float64) {
	t.Helper()
	var buf bytes.Buffer
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostats", "-i", path, "-map", "0:a:0", "-af", "ebur128=peak=true", "-f", "null", "-")
	cmd.Stderr = &buf
	if err := cmd.Run(); err != nil {
		t.Fatalf("ebur128 %s: %v\n%s", path, err, buf.String())
	}
	mi, mp := reI.FindStringSubmatch(buf.String()), rePeak.FindStringSubmatch(buf.String())
	if mi == nil || mp == nil {
		t.Fatalf("ebur128 %s: no summary in\n%s", path, buf.String())
	}
	lufs, _ = strconv.ParseFloat(mi[1], 64)
	peak, err := strconv.ParseFloat(mp[1], 64)
	if err != nil {
		peak = math.Inf(-1)
	}
	return lufs, peak
}

// lumaColumns decodes picture n of path as 8-bit grey and returns the mean luma of columns [x0, x1) of
// the middle row band.
func lumaColumns(t *testing.T, path string, n, w, h int, spans ...[2]int) []float64 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-vf", "select=eq(n\\,"+strconv.Itoa(n)+")", "-frames:v", "1",
		"-f", "rawvideo", "-pix_fmt", "gray", "-").Output()
	if err != nil || len(out) != w*h {
		t.Fatalf("grab picture %d of %s: %v (%d bytes)", n, path, err, len(out))
	}
	var means []float64
	for _, s := range spans {
		var sum, cnt float64
		for y := h/2 - h/8; y < h/2+h/8; y++ {
			for x := s[0]; x < s[1]; x++ {
				sum += float64(out[y*w+x])
				cnt++
			}
		}
		means = append(means, sum/cnt)
	}
	return means
}

// maxLuma is the brightest pixel of picture n of path in the middle row band.
func maxLuma(t *testing.T, path string, n, w, h int) int {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-vf", "select=eq(n\\,"+strconv.Itoa(n)+")", "-frames:v", "1",
		"-f", "rawvideo", "-pix_fmt", "gray", "-").Output()
	if err != nil || len(out) != w*h {
		t.Fatalf("grab picture %d of %s: %v (%d bytes)", n, path, err, len(out))
	}
	m := 0
	for _, v := range out[w*h/3 : w*h*2/3] {
		m = max(m, int(v))
	}
	return m
}

func fmtSscan(s string, v *float64) (int, error) {
	f, err := strconv.ParseFloat(s, 64)
	*v = f
	return 1, err
}

var reMaxVolume = regexp.MustCompile(`max_volume: (-?[\d.inf]+) dB`)

// maxVolume is the loudest sample of path's sound between from and to seconds, in dBFS.
func maxVolume(t *testing.T, path string, from, to float64) float64 {
	t.Helper()
	var buf bytes.Buffer
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostats", "-i", path, "-map", "0:a:0",
		"-af", "atrim=start="+strconv.FormatFloat(from, 'f', 3, 64)+":end="+strconv.FormatFloat(to, 'f', 3, 64)+",volumedetect", "-f", "null", "-")
	cmd.Stderr = &buf
	if err := cmd.Run(); err != nil {
		t.Fatalf("volumedetect %s: %v", path, err)
	}
	m := reMaxVolume.FindStringSubmatch(buf.String())
	if m == nil {
		return math.Inf(-1)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return math.Inf(-1)
	}
	return v
}
