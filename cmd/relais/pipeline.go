package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/ingest"
	"github.com/relais-edu/relais/queue"
	"github.com/relais-edu/relais/scheduler"
	"github.com/relais-edu/relais/templates"
	"github.com/relais-edu/relais/worksheet"
)

// newPipeline connects the lesson tasks to the media, SMS, worksheet and scheduler packages.
func newPipeline(runner *ingest.Runner, tmpl *templates.Set, planner *scheduler.Planner) queue.Pipeline {
	return queue.Pipeline{
		Airings: func(ctx context.Context, lessonID int64) ([]relais.Airing, error) {
			as, err := planner.Airings(ctx, lessonID, time.Now())
			if err != nil {
				return nil, err
			}
			out := make([]relais.Airing, len(as))
			for i, a := range as {
				out[i] = relais.Airing{Station: a.Station, Kind: relais.StationKind(a.Kind), Start: a.At}
			}
			return out, nil
		},
		Probe: func(ctx context.Context, path string) (time.Duration, error) {
			res, err := runner.Probe(ctx, path)
			return time.Duration(res.DurationMS) * time.Millisecond, err
		},
		Render: func(ctx context.Context, l relais.Lesson, outDir string, progress func(string, int)) ([]relais.Rendition, error) {
			r := *runner
			r.Options.Title = l.Title
			rs, err := r.Render(ctx, l.MediaPath, outDir, progress)
			if errors.Is(err, ingest.ErrOutOfTolerance) {
				// Rendering again gives the same figures: a permanent failure, told to the teacher.
				return nil, relais.Errorf(relais.EINVALID, "The sound could not be brought to broadcast loudness (%v). Check the recording for clipping or long silences.", err)
			}
			return rs, err
		},
		Digests: func(ctx context.Context, l relais.Lesson, airings []relais.Airing) ([]relais.Digest, error) {
			return lessonDigests(tmpl, l, airings)
		},
		Worksheet: lessonWorksheet,
	}
}

// lessonDigests writes the lesson's SMS digest in every language families may have.
func lessonDigests(tmpl *templates.Set, l relais.Lesson, airings []relais.Airing) ([]relais.Digest, error) {
	var out []relais.Digest
	var on []sms.Airing
	for _, a := range airings {
		on = append(on, sms.Airing{Station: a.Station, Start: a.Start})
	}
	for _, lang := range relais.Languages {
		d, err := sms.WriteDigest(tmpl, sms.DigestInput{Title: l.Title, Markdown: l.Markdown, Language: lang,
			LessonLanguage: l.Language, Budget: l.SegmentBudget, Airings: on})
		if err != nil {
			return nil, fmt.Errorf("digest %s: %w", lang, err)
		}
		d.LessonID = l.ID
		out = append(out, d)
	}
	return out, nil
}

// lessonWorksheet checks the teacher's PDF, or renders one from the lesson text.
func lessonWorksheet(ctx context.Context, l relais.Lesson, outDir string) (relais.Worksheet, error) {
	if l.WorksheetPath != "" {
		f, err := os.Open(l.WorksheetPath)
		if err != nil {
			return relais.Worksheet{}, err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return relais.Worksheet{}, err
		}
		if err := worksheet.Validate(f, st.Size()); err != nil {
			return relais.Worksheet{}, err
		}
		return relais.Worksheet{LessonID: l.ID, Path: l.WorksheetPath, Bytes: st.Size()}, nil
	}
	pdf, err := worksheet.Render(worksheet.FromLesson(l, nil))
	if err != nil {
		return relais.Worksheet{}, fmt.Errorf("render worksheet: %w", err)
	}
	if err := os.MkdirAll(outDir, 0o750); err != nil {
		return relais.Worksheet{}, err
	}
	path := filepath.Join(outDir, "worksheet.pdf")
	if err := writeFileAtomic(path, pdf); err != nil {
		return relais.Worksheet{}, err
	}
	return relais.Worksheet{LessonID: l.ID, Path: path, Bytes: int64(len(pdf)), Generated: true}, nil
}

// writeFileAtomic writes to a temporary file and renames it, so no reader sees half a file.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
