package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/relais-edu/relais"
	"github.com/relais-edu/relais/ingest"
)

const mediaUsage = `Usage: relais media probe FILE [--json]
       relais media render FILE --out DIR [--format 1080i25|720p50] [--title T]

probe   checks an upload as the worker does and prints its verdict: streams, duration and loudness, or
        the reason it is refused (exit status 1).
render  writes the TV (MPEG-TS), radio (MP2) and low-bandwidth (Opus) renditions into DIR with the
        worker's own code and prints each output's measured figures; progress goes to stderr.

Run 'relais media probe --help' or 'relais media render --help' for the flags.
`

func cmdMediaProbe(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "media probe", "media probe FILE [--json]",
		"Check FILE as the worker checks an upload: refuse empty, non-media, cut-short, silent, soundless,\n"+
			"too long or too large files; otherwise print the streams, duration and EBU R 128 loudness.\n"+
			"Exit status: 0 accepted, 1 refused, 2 the check itself failed.")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	maxDur := fs.Duration("max-duration", 2*time.Hour, "longest lesson accepted")
	maxBytes := fs.Int64("max-bytes", 2<<30, "largest file accepted, in bytes")
	arg, err := parseOneArg(fs, args)
	if err != nil {
		return err
	}
	r := &ingest.Runner{Options: ingest.Options{Limits: ingest.Limits{MaxDuration: *maxDur, MaxBytes: *maxBytes}}}
	pr, err := r.Probe(ctx, arg)
	if err != nil {
		if relais.ErrorCode(err) == relais.EINVALID {
			if *asJSON {
				writeJSON(io, map[string]any{"accepted": false, "reason": relais.ErrorMessage(err)})
			} else {
				fmt.Fprintf(io.out, "refused: %s\n", relais.ErrorMessage(err))
			}
			return exitError(1)
		}
		return err
	}
	if *asJSON {
		return writeJSON(io, map[string]any{"accepted": true, "probe": pr})
	}
	fmt.Fprintf(io.out, "accepted: %s, %s, %s\n", filepath.Base(arg), pr.Format, fmtMS(pr.DurationMS))
	for _, s := range pr.Streams {
		switch s.Kind {
		case "video", "cover":
			fmt.Fprintf(io.out, "  stream %d: %s %s %dx%d, %s\n", s.Index, s.Kind, s.Codec, s.Width, s.Height, fmtMS(s.DurationMS))
		case "audio":
			fmt.Fprintf(io.out, "  stream %d: audio %s %d Hz, %d channels, %s\n", s.Index, s.Codec, s.SampleRate, s.Channels, fmtMS(s.DurationMS))
		default:
			fmt.Fprintf(io.out, "  stream %d: %s %s\n", s.Index, s.Kind, s.Codec)
		}
	}
	if pr.HasVideo {
		fmt.Fprintf(io.out, "  picture: %dx%d at %.3g fps, rotation %d°\n", pr.Width, pr.Height, pr.FrameRate, pr.Rotation)
	} else {
		fmt.Fprintf(io.out, "  picture: none (the TV rendition gets a title card)\n")
	}
	fmt.Fprintf(io.out, "  loudness: %.1f LUFS integrated, %.1f dBTP true peak, %.1f LU range (mono downmix %.1f LUFS)\n",
		pr.Loudness.IntegratedLUFS, pr.Loudness.TruePeakDBTP, pr.Loudness.LRA, pr.LoudnessMono.IntegratedLUFS)
	return nil
}

func cmdMediaRender(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "media render", "media render FILE --out DIR [--format 1080i25|720p50] [--title T]",
		"Render FILE as the worker does: TV (MPEG-TS, H.264 CBR + MP2), radio (MP2 48 kHz 256 kb/s) and\n"+
			"low bandwidth (mono Opus), normalised to -23 LUFS, into DIR; print each output's measured figures.\n"+
			"Progress goes to stderr.")
	out := fs.String("out", "", "directory for the renditions (required)")
	format := fs.String("format", ingest.TV1080i25, "TV picture: 1080i25 or 720p50")
	title := fs.String("title", "", "lesson title, shown on the TV card of an audio-only lesson")
	audio := fs.String("tv-audio", "mp2", "TV sound codec: mp2 or aac")
	wav := fs.Bool("wav", false, "also write a 48 kHz WAV radio master")
	preset := fs.String("preset", "veryfast", "libx264 preset")
	asJSON := fs.Bool("json", false, "print the renditions as JSON")
	arg, err := parseOneArg(fs, args)
	if err != nil {
		return err
	}
	if *out == "" {
		fs.Usage()
		return exitError(2)
	}
	if *title == "" {
		*title = strings.TrimSuffix(filepath.Base(arg), filepath.Ext(arg))
	}
	r := &ingest.Runner{Options: ingest.Options{Title: *title, TVFormat: *format, TVAudioCodec: *audio, RadioWAV: *wav, X264Preset: *preset}}
	if err := r.Options.Validate(); err != nil {
		fmt.Fprintln(io.err, relais.ErrorMessage(err))
		return exitError(2)
	}
	start := time.Now()
	last := ""
	rs, err := r.Render(ctx, arg, *out, func(step string, pct int) {
		// One line per step and per tenth.
		if key := fmt.Sprintf("%s %d", step, pct/10); key != last {
			last = key
			fmt.Fprintf(io.err, "%s %d%%\n", step, pct)
		}
	})
	if err != nil {
		if relais.ErrorCode(err) == relais.EINVALID {
			fmt.Fprintf(io.out, "refused: %s\n", relais.ErrorMessage(err))
			return exitError(1)
		}
		return err
	}
	if *asJSON {
		return writeJSON(io, rs)
	}
	fmt.Fprintf(io.out, "rendered %s in %s\n", filepath.Base(arg), time.Since(start).Round(100*time.Millisecond))
	for _, rd := range rs {
		codecs := rd.AudioCodec
		if rd.VideoCodec != "" {
			codecs = fmt.Sprintf("%s %dx%d + %s", rd.VideoCodec, rd.Width, rd.Height, rd.AudioCodec)
		}
		fmt.Fprintf(io.out, "  %-8s %s: %s %s, %d Hz %dch, %s, %d bytes (%d kb/s), %.1f LUFS, %.1f dBTP, LRA %.1f LU\n",
			rd.Kind, filepath.Base(rd.Path), rd.Container, codecs, rd.SampleRate, rd.Channels, fmtMS(rd.DurationMS),
			rd.Bytes, rd.BitRate/1000, rd.IntegratedLUFS, rd.TruePeakDBTP, rd.LRA)
	}
	return nil
}

func fmtMS(ms int64) string { return (time.Duration(ms) * time.Millisecond).String() }

// writeJSON prints v as indented JSON on stdout.
func writeJSON(io *stdio, v any) error {
	enc := json.NewEncoder(io.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
