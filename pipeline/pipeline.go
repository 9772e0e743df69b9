// Package pipeline is the work the queue's lesson tasks call: probing and rendering the recording (in
// the media child process), the SMS digests in every language, the worksheet, and the broadcasts the
// digests and reminders announce. It joins the ingest, SMS, worksheet and scheduler packages, so that
// queue stays free of FFmpeg and PDF code; only the relais command imports it.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/ingest"
	"github.com/relais-edu/relais/queue"
	"github.com/relais-edu/relais/scheduler"
	"github.com/relais-edu/relais/templates"
	"github.com/relais-edu/relais/worksheet"
)

// New connects the lesson tasks to the media, SMS, worksheet and scheduler packages.
// linkChars is the room each SMS digest keeps for the family's lesson link.
func New(runner *ingest.Runner, tmpl *templates.Set, planner *scheduler.Planner, linkChars int) queue.Pipeline {
	return queue.Pipeline{
		GradeSchedule: func(ctx context.Context, grade int, region string, from time.Time) ([]relais.Airing, error) {
			return GradeSchedule(ctx, planner.Store, planner.Lessons, grade, region, from)
		},
		Airings: func(ctx context.Context, lessonID int64) ([]relais.Airing, error) {
			return lessonAirings(planner.Airings(ctx, lessonID, time.Now()))
		},
		AllAirings: func(ctx context.Context, lessonID int64) ([]relais.Airing, error) {
			return lessonAirings(planner.AllAirings(ctx, lessonID, time.Now()))
		},
		Probe: func(ctx context.Context, path string) (time.Duration, error) {
			res, err := runner.Probe(ctx, path)
			return time.Duration(res.DurationMS) * time.Millisecond, err
		},
		Render: func(ctx context.Context, l relais.Lesson, outDir string, progress func(string, int)) ([]relais.Rendition, error) {
			r := *runner
			r.Options.Title, r.Options.Language = l.Title, l.Language
			rs, err := r.Render(ctx, l.MediaPath, outDir, progress)
			if errors.Is(err, ingest.ErrOutOfTolerance) {
				// Rendering again gives the same figures: a permanent failure, told to the teacher.
				return nil, relais.Errorf(relais.EINVALID, "The sound could not be brought to broadcast loudness (%v). Check the recording for clipping or long silences.", err)
			}
			return rs, err
		},
		Digests: func(ctx context.Context, l relais.Lesson, airings []relais.Airing) ([]relais.Digest, error) {
			return Digests(tmpl, l, airings, linkChars)
		},
		Worksheet: Worksheet,
	}
}

// lessonAirings tells the scheduler's airings as families are told of them.
func lessonAirings(as []scheduler.Airing, err error) ([]relais.Airing, error) {
	if err != nil {
		return nil, err
	}
	out := make([]relais.Airing, len(as))
	for i, a := range as {
		out[i] = relais.Airing{Station: a.Station, Kind: relais.StationKind(a.Kind), Start: a.At, Region: a.Region}
	}
	return out, nil
}

// GradeSchedule lists a week of broadcasts for grade from from, on the stations of region (and those
// without a region, which every region receives), with their lessons' titles, in time order.
func GradeSchedule(ctx context.Context, st relais.ScheduleStore, lessons relais.LessonStore, grade int, region string, from time.Time) ([]relais.Airing, error) {
	stations, err := st.Stations(ctx)
	if err != nil {
		return nil, err
	}
	titles := map[int64]string{}
	var out []relais.Airing
	for _, station := range stations {
		if station.Region != "" && station.Region != region {
			continue
		}
		loc, err := station.Location()
		if err != nil {
			return nil, err
		}
		local := from.In(loc)
		slots, err := st.Slots(ctx, relais.SlotFilter{StationID: station.ID, From: local.Format(time.DateOnly),
			To: local.AddDate(0, 0, 7).Format(time.DateOnly)})
		if err != nil {
			return nil, err
		}
		for _, sl := range slots {
			if sl.Grade != grade || sl.LessonID == 0 {
				continue
			}
			start, _, err := sl.Interval(loc)
			if err != nil || start.Before(from) || !start.Before(from.AddDate(0, 0, 7)) {
				continue
			}
			title, ok := titles[sl.LessonID]
			if !ok {
				l, err := lessons.Lesson(ctx, sl.LessonID)
				if err != nil {
					return nil, err
				}
				title, titles[sl.LessonID] = l.Title, l.Title
			}
			name := station.ServiceName
			if name == "" {
				name = station.Name
			}
			out = append(out, relais.Airing{Station: name, Kind: station.Kind, Start: start, Title: title})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, nil
}

// Digests writes the lesson's SMS digest in every language families may have, leaving room in
// the segment budget for a link of linkChars characters (sent to households with data).
func Digests(tmpl *templates.Set, l relais.Lesson, airings []relais.Airing, linkChars int) ([]relais.Digest, error) {
	var out []relais.Digest
	var on []sms.Airing
	for _, a := range airings {
		on = append(on, sms.Airing{Station: a.Station, Start: a.Start})
	}
	for _, lang := range relais.Languages {
		d, err := sms.WriteDigest(tmpl, sms.DigestInput{Title: l.Title, Markdown: l.Markdown, Language: lang,
			LessonLanguage: l.Language, Budget: l.SegmentBudget, Airings: on, LinkChars: linkChars})
		if err != nil {
			return nil, fmt.Errorf("digest %s: %w", lang, err)
		}
		d.LessonID = l.ID
		out = append(out, d)
	}
	return out, nil
}

// Worksheet checks the teacher's PDF, or renders one from the lesson text.
func Worksheet(ctx context.Context, l relais.Lesson, outDir string) (relais.Worksheet, error) {
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
