package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/ingest"
	"github.com/relais-edu/relais/mediastore"
)

// Parts renders a long lesson in parts on several workers (queue.Pipeline's PlanParts, RenderPart,
// JoinParts, RemoveParts). What the parts make lives in the media store under lessons/ID/parts/, so
// that any worker renders any part and any joins them: the plan (the probe, loudness included, made
// once, and the parts), each picture part, the sound files and their measured figures.
type Parts struct {
	Runner  *ingest.Runner
	Media   relais.MediaStore
	Staging Staging
	// Chunk is the length of a part; a lesson no longer than Chunk renders in one process. 0: always.
	Chunk time.Duration
}

// plan is what PlanParts decided, kept for the parts and the join.
type plan struct {
	Probe ingest.ProbeResult `json:"probe"`
	Parts []ingest.Part      `json:"parts"`
}

func partsPrefix(lessonID int64) string { return fmt.Sprintf("lessons/%d/parts/", lessonID) }

func pictureKey(lessonID int64, i int) string {
	return fmt.Sprintf("%spicture-%03d.ts", partsPrefix(lessonID), i)
}

// soundFiles are what the sound part may write (radio.wav only when asked), and soundInfo its record of
// them, put last: the sound part is done when it is there.
var soundFiles = []string{"tv-audio.ts", "radio.mp2", "lowband.opus", "radio.wav"}

const soundInfo = "sound.json"

// Plan probes the lesson once and, when it is longer than Chunk, keeps the plan of its parts in the
// media store and returns how many parts its picture has; 0: render it in one process.
func (p Parts) Plan(ctx context.Context, l relais.Lesson) (int, error) {
	if p.Chunk <= 0 || l.DurationMS > 0 && time.Duration(l.DurationMS)*time.Millisecond <= p.Chunk {
		return 0, nil
	}
	work, err := p.Staging.work()
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(work)
	src, err := local(ctx, p.Media, l.MediaPath, work)
	if err != nil {
		return 0, err
	}
	r := p.runner(l)
	pr, err := r.Probe(ctx, src)
	if err != nil {
		return 0, err
	}
	parts := ingest.PlanParts(pr, r.Options, p.Chunk)
	if len(parts) == 0 {
		return 0, nil
	}
	if err := p.putJSON(ctx, partsPrefix(l.ID)+"plan.json", plan{Probe: pr, Parts: parts}); err != nil {
		return 0, err
	}
	return len(parts), nil
}

// Render renders part i of the lesson's plan: a piece of the picture, or (i the number of pieces) the
// whole sound.
func (p Parts) Render(ctx context.Context, l relais.Lesson, i int, progress func(string, int)) error {
	pl, err := p.plan(ctx, l.ID)
	if err != nil {
		return err
	}
	if i < 0 || i > len(pl.Parts) {
		return fmt.Errorf("lesson %d has no part %d", l.ID, i)
	}
	work, err := p.Staging.work()
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	src, err := local(ctx, p.Media, l.MediaPath, work)
	if err != nil {
		return err
	}
	r := p.runner(l)
	if i < len(pl.Parts) {
		out := filepath.Join(work, "picture.ts")
		if err := r.RenderPicture(ctx, src, out, pl.Probe, pl.Parts[i], progress); err != nil {
			return err
		}
		if _, err := p.Media.PutFile(ctx, pictureKey(l.ID, i), out); err != nil {
			return fmt.Errorf("store part %d of lesson %d: %w", i, l.ID, err)
		}
		return nil
	}
	rs, err := r.RenderSound(ctx, src, filepath.Join(work, "sound"), pl.Probe, progress)
	if errors.Is(err, ingest.ErrOutOfTolerance) {
		return outOfTolerance(err)
	} else if err != nil {
		return err
	}
	for j, rd := range rs {
		name := filepath.Base(rd.Path)
		if rs[j].Path, err = p.Media.PutFile(ctx, partsPrefix(l.ID)+name, rd.Path); err != nil {
			return fmt.Errorf("store the sound of lesson %d: %w", l.ID, err)
		}
	}
	return p.putJSON(ctx, partsPrefix(l.ID)+soundInfo, rs)
}

// Join muxes the picture's parts and the TV sound into the TV rendition, moves the radio and
// low-band files to their places, and returns the renditions as Render does. Running it again after it
// moved the sound files finds them in their places.
func (p Parts) Join(ctx context.Context, l relais.Lesson) ([]relais.Rendition, error) {
	pl, err := p.plan(ctx, l.ID)
	if err != nil {
		return nil, err
	}
	var sound []relais.Rendition
	if err := p.getJSON(ctx, partsPrefix(l.ID)+soundInfo, &sound); err != nil {
		return nil, err
	}
	work, err := p.Staging.work()
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	var pictures []string
	for i := range pl.Parts {
		path, err := p.stage(ctx, p.loc(pictureKey(l.ID, i)), filepath.Join(work, fmt.Sprintf("picture-%03d.ts", i)))
		if err != nil {
			return nil, fmt.Errorf("part %d of lesson %d: %w", i, l.ID, err)
		}
		pictures = append(pictures, path)
	}
	var out []relais.Rendition
	for _, rd := range sound {
		name := filepath.Base(rd.Path)
		if name != "tv-audio.ts" {
			out = append(out, rd)
			continue
		}
		track, err := p.stage(ctx, rd.Path, filepath.Join(work, name))
		if err != nil {
			return nil, fmt.Errorf("the sound of lesson %d: %w", l.ID, err)
		}
		tv, err := p.runner(l).Join(ctx, track, pictures, pl.Parts, filepath.Join(work, "tv.ts"))
		if errors.Is(err, ingest.ErrOutOfTolerance) {
			return nil, outOfTolerance(err)
		} else if err != nil {
			return nil, err
		}
		if tv.Path, err = p.Media.PutFile(ctx, fmt.Sprintf("lessons/%d/tv.ts", l.ID), tv.Path); err != nil {
			return nil, fmt.Errorf("store rendition tv of lesson %d: %w", l.ID, err)
		}
		out = append([]relais.Rendition{tv}, out...)
	}
	if len(out) == 0 || out[0].Kind != relais.RenditionTV {
		return nil, fmt.Errorf("the sound of lesson %d has no TV track", l.ID)
	}
	for i := 1; i < len(out); i++ {
		final := fmt.Sprintf("lessons/%d/%s", l.ID, filepath.Base(out[i].Path))
		loc, err := p.Media.Move(ctx, out[i].Path, final)
		if errors.Is(err, fs.ErrNotExist) {
			loc, err = p.loc(final), nil // moved by an earlier run
			if o, oerr := p.Media.Open(ctx, loc); oerr != nil {
				err = oerr
			} else {
				o.Close()
			}
		}
		if err != nil {
			return nil, fmt.Errorf("store rendition %s of lesson %d: %w", out[i].Kind, l.ID, err)
		}
		out[i].Path = loc
	}
	return out, nil
}

// Remove deletes the lesson's parts from the media store: the picture's, the sound's, the plan last.
func (p Parts) Remove(ctx context.Context, lessonID int64) error {
	var pl plan
	err := p.getJSON(ctx, partsPrefix(lessonID)+"plan.json", &pl)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	var errs []error
	for i := range pl.Parts {
		errs = append(errs, p.Media.Remove(ctx, p.loc(pictureKey(lessonID, i))))
	}
	for _, name := range append(soundFiles, soundInfo, "plan.json") {
		errs = append(errs, p.Media.Remove(ctx, p.loc(partsPrefix(lessonID)+name)))
	}
	return errors.Join(errs...)
}

func (p Parts) runner(l relais.Lesson) *ingest.Runner {
	r := *p.Runner
	r.Options.Title, r.Options.Language = l.Title, l.Language
	return &r
}

func (p Parts) plan(ctx context.Context, lessonID int64) (plan, error) {
	var pl plan
	if err := p.getJSON(ctx, partsPrefix(lessonID)+"plan.json", &pl); err != nil {
		return pl, err
	}
	if len(pl.Parts) == 0 {
		return pl, fmt.Errorf("the plan of lesson %d has no parts", lessonID)
	}
	return pl, nil
}

// loc is the location of key in the media store: its key on object storage, its path in a directory
// (what Put returns).
func (p Parts) loc(key string) string {
	if d, ok := p.Media.(*mediastore.Dir); ok {
		return filepath.Join(d.Root, filepath.FromSlash(key))
	}
	return key
}

func (p Parts) putJSON(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = p.Media.Put(ctx, key, strings.NewReader(string(b)), int64(len(b)))
	return err
}

func (p Parts) getJSON(ctx context.Context, key string, v any) error {
	o, err := p.Media.Open(ctx, p.loc(key))
	if err != nil {
		return err
	}
	defer o.Close()
	if err := json.NewDecoder(o).Decode(v); err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	return nil
}

// stage returns a file path of the object at loc: its own on this disk, else a copy at path.
func (p Parts) stage(ctx context.Context, loc, path string) (string, error) {
	if lp, ok := p.Media.LocalPath(loc); ok {
		return lp, nil
	}
	o, err := p.Media.Open(ctx, loc)
	if err != nil {
		return "", err
	}
	defer o.Close()
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, o); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

// outOfTolerance is the teacher's message for sound that cannot reach broadcast loudness.
func outOfTolerance(err error) error {
	return relais.Errorf(relais.EINVALID, "The sound could not be brought to broadcast loudness (%v). Check the recording for clipping or long silences.", err)
}
