// Package pipeline is the work the queue's lesson tasks call: probing and rendering the recording (in
// the media child process), the SMS digests in every language, the worksheet, and the broadcasts the
// digests and reminders announce. It joins the ingest, SMS, worksheet and scheduler packages, so that
// queue stays free of FFmpeg and PDF code; only the relais command imports it.
package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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

// New connects the lesson tasks to the media, SMS, worksheet and scheduler packages. The lessons'
// files are read from and written to media, through staging for the media child. linkChars is the
// room each SMS digest keeps for the family's lesson link.
//
// A lesson longer than chunk is transcoded in parts of that length by several workers at once (Parts);
// chunk 0 renders every lesson in one process.
func New(runner *ingest.Runner, media relais.MediaStore, staging Staging, tmpl *templates.Set, planner *scheduler.Planner, linkChars int, chunk time.Duration) queue.Pipeline {
	parts := Parts{Runner: runner, Media: media, Staging: staging, Chunk: chunk}
	return queue.Pipeline{
		PlanParts:   parts.Plan,
		RenderPart:  parts.Render,
		JoinParts:   parts.Join,
		RemoveParts: parts.Remove,
		GradeSchedule: func(ctx context.Context, grade int, region string, from time.Time) ([]relais.Airing, error) {
			return GradeSchedule(ctx, planner.Store, planner.Lessons, grade, region, from)
		},
		Airings: func(ctx context.Context, lessonID int64) ([]relais.Airing, error) {
			return lessonAirings(planner.Airings(ctx, lessonID, time.Now()))
		},
		AllAirings: func(ctx context.Context, lessonID int64) ([]relais.Airing, error) {
			return lessonAirings(planner.AllAirings(ctx, lessonID, time.Now()))
		},
		Probe: func(ctx context.Context, loc string) (time.Duration, error) {
			work, err := staging.work()
			if err != nil {
				return 0, err
			}
			defer os.RemoveAll(work)
			src, err := local(ctx, media, loc, work)
			if err != nil {
				return 0, err
			}
			res, err := runner.Probe(ctx, src)
			return time.Duration(res.DurationMS) * time.Millisecond, err
		},
		Render: func(ctx context.Context, l relais.Lesson, progress func(string, int)) ([]relais.Rendition, error) {
			return Render(ctx, runner, media, staging, l, progress)
		},
		Digests: func(ctx context.Context, l relais.Lesson, airings []relais.Airing) ([]relais.Digest, error) {
			return Digests(tmpl, l, airings, linkChars)
		},
		Worksheet: func(ctx context.Context, l relais.Lesson) (relais.Worksheet, error) {
			return Worksheet(ctx, media, l)
		},
	}
}

// Render makes the lesson's renditions in a working directory of staging and moves each into the
// media store under lessons/ID/ once all are complete: a transcode killed half way leaves nothing in
// the store (and its directory is swept at the next start).
func Render(ctx context.Context, runner *ingest.Runner, media relais.MediaStore, staging Staging, l relais.Lesson, progress func(string, int)) ([]relais.Rendition, error) {
	work, err := staging.work()
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	src, err := local(ctx, media, l.MediaPath, work)
	if err != nil {
		return nil, err
	}
	r := *runner
	r.Options.Title, r.Options.Language = l.Title, l.Language
	rs, err := r.Render(ctx, src, filepath.Join(work, "out"), progress)
	if errors.Is(err, ingest.ErrOutOfTolerance) {
		// Rendering again gives the same figures: a permanent failure, told to the teacher.
		return nil, outOfTolerance(err)
	} else if err != nil {
		return nil, err
	}
	for i, rd := range rs {
		key := fmt.Sprintf("lessons/%d/%s", l.ID, filepath.Base(rd.Path))
		if rs[i].Path, err = media.PutFile(ctx, key, rd.Path); err != nil {
			return nil, fmt.Errorf("store rendition %s of lesson %d: %w", rd.Kind, l.ID, err)
		}
	}
	return rs, nil
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
	known := map[int64]relais.Lesson{}
	lesson := func(id int64) (relais.Lesson, error) {
		l, ok := known[id]
		if !ok {
			var err error
			if l, err = lessons.Lesson(ctx, id); err != nil {
				return l, err
			}
			known[id] = l
		}
		return l, nil
	}
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
		name := station.ServiceName
		if name == "" {
			name = station.Name
		}
		for _, sl := range slots {
			if (sl.Grade != 0 && sl.Grade != grade) || len(sl.Lessons) == 0 {
				continue
			}
			start, _, err := sl.Interval(loc)
			if err != nil {
				continue
			}
			// The lessons of a slot play back to back: each airs at its own start within the slot.
			at := start
			for _, x := range sl.Lessons {
				l, err := lesson(x.LessonID)
				if err != nil {
					return nil, err
				}
				if l.Grade == grade && !at.Before(from) && at.Before(from.AddDate(0, 0, 7)) {
					out = append(out, relais.Airing{Station: name, Kind: station.Kind, Start: at, Title: l.Title})
				}
				at = at.Add(time.Duration(max(l.DurationMS, 0)) * time.Millisecond)
			}
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

// Worksheet checks the teacher's PDF, or renders one from the lesson text into the media store.
func Worksheet(ctx context.Context, media relais.MediaStore, l relais.Lesson) (relais.Worksheet, error) {
	if l.WorksheetPath != "" {
		f, err := media.Open(ctx, l.WorksheetPath)
		if err != nil {
			return relais.Worksheet{}, err
		}
		defer f.Close()
		if err := worksheet.Validate(readerAt{f}, f.Size()); err != nil {
			return relais.Worksheet{}, err
		}
		return relais.Worksheet{LessonID: l.ID, Path: l.WorksheetPath, Bytes: f.Size()}, nil
	}
	pdf, err := worksheet.Render(worksheet.FromLesson(l, nil))
	if err != nil {
		return relais.Worksheet{}, fmt.Errorf("render worksheet: %w", err)
	}
	loc, err := media.Put(ctx, fmt.Sprintf("lessons/%d/worksheet.pdf", l.ID), bytes.NewReader(pdf), int64(len(pdf)))
	if err != nil {
		return relais.Worksheet{}, err
	}
	return relais.Worksheet{LessonID: l.ID, Path: loc, Bytes: int64(len(pdf)), Generated: true}, nil
}

// readerAt reads at an offset by seeking (a media object is read by one reader at a time).
type readerAt struct{ o relais.MediaObject }

func (r readerAt) ReadAt(p []byte, off int64) (int, error) {
	if _, err := r.o.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := io.ReadFull(r.o, p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}
