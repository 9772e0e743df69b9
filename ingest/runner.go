package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/relais-edu/relais"
	"github.com/relais-edu/relais/locale"
)

// childEnv marks a process started by Runner to do media work.
const childEnv = "RELAIS_MEDIA_CHILD"

// IsChild reports whether this process was started by Runner as a media child.
func IsChild() bool { return os.Getenv(childEnv) == "1" }

// Limits bound what an upload may be.
type Limits struct {
	MaxDuration time.Duration // default 2 h
	MaxBytes    int64         // default 2 GiB
}

// Options choose the renditions' formats.
type Options struct {
	Title                        string // shown on the TV card of an audio-only lesson
	TVFormat                     string // "1080i25" (default) or "720p50"
	TVAudioCodec                 string // "mp2" (default) or "aac"
	RadioWAV                     bool   // also write a 48 kHz WAV master
	ServiceName, ServiceProvider string // MPEG-TS SDT; defaults "Relais" and "Relais"
	Language                     string // the lesson's language (fr, kk, ru, en): the TV sound's ISO 639 descriptor
	X264Preset                   string // libx264 preset; default "veryfast"
	Limits                       Limits
}

// TV formats.
const (
	TV1080i25 = "1080i25"
	TV720p50  = "720p50"
)

// Loudness targets (EBU R 128) and Relais' tolerance.
const (
	TargetLUFS      = -23.0
	ToleranceLU     = 0.5
	MaxTruePeakDBTP = -1.0
	// loudnorm aims lower than the limit so that lossy encoders' overshoot stays under it (SPEC: -2 dBTP
	// where the file is re-encoded lossy).
	loudnormTP = -2.0
)

func (o Options) withDefaults() Options {
	if o.TVFormat == "" {
		o.TVFormat = TV1080i25
	}
	if o.TVAudioCodec == "" {
		o.TVAudioCodec = "mp2"
	}
	if o.ServiceName == "" {
		o.ServiceName = "Relais"
	}
	if o.ServiceProvider == "" {
		o.ServiceProvider = "Relais"
	}
	if o.X264Preset == "" {
		o.X264Preset = "veryfast"
	}
	if o.Title == "" {
		o.Title = "Relais"
	}
	if o.Limits.MaxDuration <= 0 {
		o.Limits.MaxDuration = 2 * time.Hour
	}
	if o.Limits.MaxBytes <= 0 {
		o.Limits.MaxBytes = 2 << 30
	}
	return o
}

// Validate checks the option values a caller may get wrong.
func (o Options) Validate() error {
	o = o.withDefaults()
	if o.TVFormat != TV1080i25 && o.TVFormat != TV720p50 {
		return relais.Errorf(relais.EINVALID, "Unknown TV format %q: use %s or %s.", o.TVFormat, TV1080i25, TV720p50)
	}
	if o.TVAudioCodec != "mp2" && o.TVAudioCodec != "aac" {
		return relais.Errorf(relais.EINVALID, "Unknown TV audio codec %q: use mp2 or aac.", o.TVAudioCodec)
	}
	return nil
}

// Runner runs media work in child processes.
type Runner struct {
	Exe     string // binary to re-execute; empty means os.Executable()
	Options Options

	testHook string // tests only: "crash" or "hang" makes the child misbehave
}

// Stream describes one stream of a probed file.
type Stream struct {
	Index      int    `json:"index"`
	Kind       string `json:"kind"` // video, audio, subtitle, data, cover
	Codec      string `json:"codec"`
	Width      int    `json:"width,omitempty"`
	Height     int    `json:"height,omitempty"`
	Channels   int    `json:"channels,omitempty"`
	SampleRate int    `json:"sample_rate,omitempty"`
	DurationMS int64  `json:"duration_ms"` // as far as the packets actually reach
}

// Loudness is an EBU R 128 measurement.
type Loudness struct {
	IntegratedLUFS float64 `json:"integrated_lufs"`
	TruePeakDBTP   float64 `json:"true_peak_dbtp"`
	LRA            float64 `json:"lra"`
}

// ProbeResult is what Probe learnt about an accepted upload.
type ProbeResult struct {
	DurationMS    int64    `json:"duration_ms"` // playable duration (what the packets reach)
	HasVideo      bool     `json:"has_video"`
	Width         int      `json:"width,omitempty"`
	Height        int      `json:"height,omitempty"`
	FrameRate     float64  `json:"frame_rate,omitempty"`
	Rotation      int      `json:"rotation,omitempty"`    // degrees clockwise to display upright
	ColorSpace    string   `json:"color_space,omitempty"` // the video's matrix (bt709, bt470bg...); empty when untagged
	AudioChannels int      `json:"audio_channels"`
	SampleRate    int      `json:"sample_rate"`
	Streams       []Stream `json:"streams"`
	// Loudness of the sound track as the renditions carry it (48 kHz stereo); LoudnessMono of its mono
	// downmix (the low-bandwidth rendition). Render's loudnorm second pass uses both.
	Loudness     Loudness `json:"loudness"`
	LoudnessMono Loudness `json:"loudness_mono"`
	Format       string   `json:"format"`
	Bytes        int64    `json:"bytes"`
}

// childRequest is what the parent writes on the child's stdin.
type childRequest struct {
	Op      string       `json:"op"` // probe or render
	Path    string       `json:"path"`
	OutDir  string       `json:"out_dir,omitempty"`
	Options Options      `json:"options"`
	Probe   *ProbeResult `json:"probe,omitempty"`
	Hook    string       `json:"hook,omitempty"`
	// A chunked render: the part of the picture to encode into Out ("picture"), or the plan, the
	// parts' files and the sound track to join into Out ("join").
	Part  *Part    `json:"part,omitempty"`
	Plan  []Part   `json:"plan,omitempty"`
	Parts []string `json:"parts,omitempty"`
	Sound string   `json:"sound,omitempty"`
	Out   string   `json:"out,omitempty"`
}

// childResult is the child's last line: exactly one of its fields is set.
type childResult struct {
	Probe      *ProbeResult       `json:"probe,omitempty"`
	Renditions []relais.Rendition `json:"renditions,omitempty"`
	Refusal    string             `json:"refusal,omitempty"` // a message for the teacher: the upload is refused
	// RefusalI18n is Refusal in the other languages locale writes, by language.
	RefusalI18n map[string]string `json:"refusal_i18n,omitempty"`
	Error       string            `json:"error,omitempty"` // processing failed
	// OutOfTolerance marks an Error that running again would repeat: a rendition measured outside the
	// loudness tolerance.
	OutOfTolerance bool `json:"out_of_tolerance,omitempty"`
}

// ErrOutOfTolerance wraps the error of a Render whose output measured outside the EBU R 128
// tolerance. The same source would fail the same way again: do not retry it.
var ErrOutOfTolerance = errors.New("rendition out of loudness tolerance")

// Probe validates the upload at path in a child process. A refused upload returns a *relais.Error with
// code relais.EINVALID; any other error means the check itself failed and may be retried.
func (r *Runner) Probe(ctx context.Context, path string) (ProbeResult, error) {
	opts := r.Options.withDefaults()
	if err := precheck(path, opts.Limits); err != nil {
		return ProbeResult{}, err
	}
	// An audio decode of two hours takes a couple of minutes on a busy machine.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute+opts.Limits.MaxDuration/8)
	defer cancel()
	res, err := r.run(ctx, childRequest{Op: "probe", Path: path, Options: opts}, nil)
	if err != nil {
		return ProbeResult{}, fmt.Errorf("probe %s: %w", filepath.Base(path), err)
	}
	if res.Probe == nil {
		return ProbeResult{}, fmt.Errorf("probe %s: child returned no result", filepath.Base(path))
	}
	return *res.Probe, nil
}

// Render produces the TV, radio and low-bandwidth renditions of src into outDir. Files appear in outDir
// only when complete and checked; progress gets (step, percent) as the work goes. The source is probed
// first (its refusal comes back as from Probe).
func (r *Runner) Render(ctx context.Context, src, outDir string, progress func(step string, percent int)) ([]relais.Rendition, error) {
	if progress == nil {
		progress = func(string, int) {}
	}
	opts := r.Options.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	progress("probe", 0)
	pr, err := r.Probe(ctx, src)
	if err != nil {
		return nil, err
	}
	progress("probe", 100)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	removeStale(outDir)
	tmp, err := os.MkdirTemp(outDir, tmpPrefix)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	defer os.RemoveAll(tmp)

	d := time.Duration(pr.DurationMS) * time.Millisecond
	ctx, cancel := context.WithTimeout(ctx, renderTimeout(d))
	defer cancel()
	res, err := r.run(ctx, childRequest{Op: "render", Path: src, OutDir: tmp, Options: opts, Probe: &pr}, progress)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", filepath.Base(src), err)
	}
	if len(res.Renditions) == 0 {
		return nil, fmt.Errorf("render %s: child returned no renditions", filepath.Base(src))
	}
	out := make([]relais.Rendition, 0, len(res.Renditions))
	for _, rd := range res.Renditions {
		final := filepath.Join(outDir, filepath.Base(rd.Path))
		if err := os.Rename(rd.Path, final); err != nil {
			for _, done := range out {
				os.Remove(done.Path)
			}
			return nil, fmt.Errorf("render: %w", err)
		}
		rd.Path = final
		out = append(out, rd)
	}
	return out, nil
}

// RenderSound renders the sound of every rendition of src, probed as pr, into outDir, in one pass over
// the whole lesson (one gain): the TV's sound track alone (tv-audio.ts, for Join), radio and low band.
// Like Render, files appear in outDir only when complete and checked.
func (r *Runner) RenderSound(ctx context.Context, src, outDir string, pr ProbeResult, progress func(string, int)) ([]relais.Rendition, error) {
	opts := r.Options.withDefaults()
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("render sound: %w", err)
	}
	tmp, err := os.MkdirTemp(outDir, tmpPrefix)
	if err != nil {
		return nil, fmt.Errorf("render sound: %w", err)
	}
	defer os.RemoveAll(tmp)
	// The sound alone is a small part of a render's work.
	ctx, cancel := context.WithTimeout(ctx, renderTimeout(time.Duration(pr.DurationMS)*time.Millisecond))
	defer cancel()
	res, err := r.run(ctx, childRequest{Op: "sound", Path: src, OutDir: tmp, Options: opts, Probe: &pr}, progress)
	if err != nil {
		return nil, fmt.Errorf("render sound of %s: %w", filepath.Base(src), err)
	}
	out := make([]relais.Rendition, 0, len(res.Renditions))
	for _, rd := range res.Renditions {
		final := filepath.Join(outDir, filepath.Base(rd.Path))
		if err := os.Rename(rd.Path, final); err != nil {
			return nil, fmt.Errorf("render sound: %w", err)
		}
		rd.Path = final
		out = append(out, rd)
	}
	return out, nil
}

// RenderPicture encodes part p of src's TV picture (src probed as pr) into the MPEG-TS out, which
// appears only when complete.
func (r *Runner) RenderPicture(ctx context.Context, src, out string, pr ProbeResult, p Part, progress func(string, int)) error {
	opts := r.Options.withDefaults()
	tmp := out + ".tmp"
	defer os.Remove(tmp)
	ctx, cancel := context.WithTimeout(ctx, renderTimeout(time.Duration(p.Frames)*time.Second/time.Duration(tvFormatOf(opts.TVFormat).fps)))
	defer cancel()
	if _, err := r.run(ctx, childRequest{Op: "picture", Path: src, Out: tmp, Options: opts, Probe: &pr, Part: &p}, progress); err != nil {
		return fmt.Errorf("render part %d of %s: %w", p.Index, filepath.Base(src), err)
	}
	return os.Rename(tmp, out)
}

// Join muxes the TV sound track of RenderSound and the picture's parts (files in the order of plan)
// into the TV rendition at out, checked as Render checks its own.
func (r *Runner) Join(ctx context.Context, sound string, parts []string, plan []Part, out string) (relais.Rendition, error) {
	opts := r.Options.withDefaults()
	tmp := filepath.Join(filepath.Dir(out), ".join-"+filepath.Base(out)) // still a .ts: describe reads it as one
	defer os.Remove(tmp)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	res, err := r.run(ctx, childRequest{Op: "join", Sound: sound, Parts: parts, Plan: plan, Out: tmp, Options: opts}, nil)
	if err != nil {
		return relais.Rendition{}, fmt.Errorf("join %d parts: %w", len(parts), err)
	}
	if len(res.Renditions) != 1 {
		return relais.Rendition{}, errors.New("join: child returned no rendition")
	}
	rd := res.Renditions[0]
	if err := os.Rename(tmp, out); err != nil {
		return relais.Rendition{}, err
	}
	rd.Path = out
	return rd, nil
}

// tmpPrefix names the directories a render writes in before its files are complete.
const tmpPrefix = ".render-"

// removeStale deletes what renders killed with their parent left behind (a day old or more).
func removeStale(outDir string) {
	old, _ := filepath.Glob(filepath.Join(outDir, tmpPrefix+"*"))
	for _, d := range old {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() && time.Since(fi.ModTime()) > 24*time.Hour {
			os.RemoveAll(d)
		}
	}
}

// renderTimeout allows x264 a slow machine: four times the duration, plus start-up and measurement.
func renderTimeout(d time.Duration) time.Duration { return 3*time.Minute + 4*d }

// precheck refuses what needs no FFmpeg: a missing, empty, oversized or textual file, or a folder.
func precheck(path string, lim Limits) error {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return relais.Errorf(relais.EINVALID, "The file was not found.")
		}
		return fmt.Errorf("probe: %w", err)
	}
	if fi.IsDir() {
		return relais.Errorf(relais.EINVALID, "This is a folder, not a video or audio file.")
	}
	if fi.Size() == 0 {
		return relais.Errorf(relais.EINVALID, "The file is empty.")
	}
	if fi.Size() > lim.MaxBytes {
		return relais.Errorf(relais.EINVALID, "The file is %s; the limit is %s.", relais.HumanBytes(fi.Size()), relais.HumanBytes(lim.MaxBytes))
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	return sniff(head[:n])
}

// sniff refuses a file that is clearly not media, saying what it looks like; nil otherwise. Each case
// is a whole sentence, so that it translates.
func sniff(head []byte) error {
	ct := http.DetectContentType(head)
	switch {
	case strings.HasPrefix(ct, "text/html"), strings.HasPrefix(ct, "text/xml"):
		return relais.Errorf(relais.EINVALID, "This is not a video or audio file (it looks like a web page).")
	case strings.HasPrefix(ct, "text/"):
		return relais.Errorf(relais.EINVALID, "This is not a video or audio file (it looks like text).")
	case strings.HasPrefix(ct, "image/"):
		return relais.Errorf(relais.EINVALID, "This is not a video or audio file (it is a picture).")
	case ct == "application/pdf", ct == "application/postscript":
		return relais.Errorf(relais.EINVALID, "This is not a video or audio file (it is a document).")
	case ct == "application/zip", ct == "application/x-gzip", ct == "application/x-rar-compressed":
		return relais.Errorf(relais.EINVALID, "This is not a video or audio file (it is an archive).")
	}
	return nil
}

// run starts the child, sends req and waits for its result.
func (r *Runner) run(ctx context.Context, req childRequest, progress func(string, int)) (childResult, error) {
	exe := r.Exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return childResult{}, fmt.Errorf("find executable: %w", err)
		}
	}
	req.Hook = r.testHook
	body, err := json.Marshal(req)
	if err != nil {
		return childResult{}, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdin = bytes.NewReader(body)
	stderr := &tailBuffer{max: 4096}
	cmd.Stderr = stderr
	cmd.WaitDelay = 5 * time.Second
	dieWithParent(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return childResult{}, err
	}
	if err := cmd.Start(); err != nil {
		return childResult{}, fmt.Errorf("start media child: %w", err)
	}
	var res *childResult
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "progress "):
			f := strings.Fields(line)
			if len(f) == 3 && progress != nil {
				if p, err := strconv.Atoi(f[2]); err == nil {
					progress(f[1], p)
				}
			}
		case strings.HasPrefix(line, "result "):
			var cr childResult
			if err := json.Unmarshal([]byte(line[len("result "):]), &cr); err == nil {
				res = &cr
			}
		}
	}
	waitErr := cmd.Wait()
	if ctx.Err() != nil {
		return childResult{}, fmt.Errorf("media child stopped: %w (%s)", ctx.Err(), stderr.summary())
	}
	if res == nil {
		if waitErr == nil {
			waitErr = errors.New("no result")
		}
		return childResult{}, fmt.Errorf("media child failed: %v (%s)", waitErr, stderr.summary())
	}
	switch {
	case res.Refusal != "":
		return childResult{}, locale.WithTranslations(relais.Errorf(relais.EINVALID, "%s", res.Refusal), res.RefusalI18n)
	case res.OutOfTolerance:
		return childResult{}, fmt.Errorf("%w: %s", ErrOutOfTolerance, strings.TrimPrefix(res.Error, ErrOutOfTolerance.Error()+": "))
	case res.Error != "":
		return childResult{}, errors.New(res.Error)
	case waitErr != nil:
		return childResult{}, fmt.Errorf("media child failed after its result: %v", waitErr)
	}
	return *res, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) summary() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.b))
	if s == "" {
		return "no output"
	}
	if i := strings.LastIndexByte(s, '\n'); i >= 0 && len(s)-i < 300 && i > 0 {
		// The last lines say most.
		if j := strings.LastIndexByte(s[:i], '\n'); j >= 0 {
			s = s[j+1:]
		}
	}
	return "stderr: " + s
}
