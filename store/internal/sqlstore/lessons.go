package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/locale"
)

// lessonColumns are the lessons table's columns in the order scanLesson reads them.
const lessonColumns = `id, title, subject, grade, language, region, audience, teacher_id, status, status_reason, status_reasons,
	step, progress, media_path, markdown, worksheet_path, segment_budget, duration_ms, created_at, updated_at`

// scanLesson reads a row of lessonColumns.
func scanLesson(row Row) (relais.Lesson, error) {
	var l relais.Lesson
	var reasons, audience string
	err := row.Scan(&l.ID, &l.Title, &l.Subject, &l.Grade, &l.Language, &l.Region, Text(&audience), &l.TeacherID,
		&l.Status, &l.StatusReason, Text(&reasons), &l.Step, &l.Progress, &l.MediaPath, &l.Markdown, &l.WorksheetPath,
		&l.SegmentBudget, &l.DurationMS, Time(&l.CreatedAt), Time(&l.UpdatedAt))
	if err != nil {
		return l, err
	}
	if err := unmarshal(reasons, &l.StatusReasons); err != nil {
		return l, fmt.Errorf("lesson %d: status_reasons: %w", l.ID, err)
	}
	if len(l.StatusReasons) == 0 {
		l.StatusReasons = nil
	}
	if err := unmarshal(audience, &l.Audience); err != nil {
		return l, fmt.Errorf("lesson %d: audience: %w", l.ID, err)
	}
	return l, nil
}

// encodeAudience is the audience column: the audience as JSON, "" for none.
func encodeAudience(a relais.Audience) string {
	if a.IsZero() {
		return ""
	}
	b, _ := json.Marshal(a) // of slices of ints and strings: cannot fail
	return string(b)
}

// CreateLesson inserts l and sets its id and timestamps.
func (st Store) CreateLesson(ctx context.Context, l *relais.Lesson) error {
	now := stamp(st.e.Now())
	if l.Status == "" {
		l.Status = relais.LessonUploaded
	}
	err := st.e.Write().QueryRow(ctx, `INSERT INTO lessons (title, subject, grade, language, region, teacher_id,
		status, status_reason, status_reasons, media_path, markdown, worksheet_path, segment_budget, duration_ms,
		created_at, updated_at, audience)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id`,
		l.Title, l.Subject, l.Grade, l.Language, l.Region, l.TeacherID, l.Status, l.StatusReason,
		st.reasons(l.StatusReasons), l.MediaPath, l.Markdown, l.WorksheetPath, l.SegmentBudget, l.DurationMS,
		st.e.Time(now), st.e.Time(now), encodeAudience(l.Audience)).Scan(&l.ID)
	if err != nil {
		return fmt.Errorf("create lesson: %w", err)
	}
	l.CreatedAt, l.UpdatedAt = now, now
	return nil
}

// reasons is the status_reasons column: a JSON object by language, the engine's none for none.
func (st Store) reasons(byLang map[string]string) any {
	if len(byLang) == 0 {
		return st.d.NoJSON
	}
	b, _ := json.Marshal(byLang) // a map of strings always encodes
	return string(b)
}

// SetLessonStatus moves a lesson to status with a reason (nil for none), kept in English and in every
// other language locale writes.
func (st Store) SetLessonStatus(ctx context.Context, id int64, status relais.LessonStatus, reason error) error {
	return st.UpdateLesson(ctx, id, `status = ?, status_reason = ?, status_reasons = ?`,
		status, relais.ErrorMessage(reason), st.reasons(locale.Translations(reason)))
}

// Lesson returns one lesson.
func (st Store) Lesson(ctx context.Context, id int64) (relais.Lesson, error) {
	l, err := scanLesson(st.e.Read().QueryRow(ctx, `SELECT `+lessonColumns+` FROM lessons WHERE id = ?`, id))
	return l, orNotFound(err, func() error { return relais.Errorf(relais.ENOTFOUND, "Lesson %d not found.", id) })
}

// Lessons lists lessons, newest first.
func (st Store) Lessons(ctx context.Context, f relais.LessonFilter) ([]relais.Lesson, error) {
	p := f.Page.Normalize()
	w := Where{SQL: `SELECT ` + lessonColumns + ` FROM lessons WHERE 1=1`}
	w.And(f.TeacherID != "", `teacher_id = ?`, f.TeacherID)
	w.And(f.Status != "", `status = ?`, f.Status)
	w.And(p.After > 0, `id < ?`, p.After)
	return QueryAll(ctx, st.e.Read(), scanLesson, w.SQL+` ORDER BY id DESC LIMIT ?`, append(w.Args, p.Limit)...)
}

// UpdateLesson sets columns of a lesson (set is "column = ?, ..." for args) and its time of change.
func (st Store) UpdateLesson(ctx context.Context, id int64, set string, args ...any) error {
	args = append(args, st.e.Time(st.e.Now()), id)
	n, err := st.e.Write().Exec(ctx, `UPDATE lessons SET `+set+`, updated_at = ? WHERE id = ?`, args...)
	if err != nil {
		return fmt.Errorf("update lesson %d: %w", id, err)
	}
	if n == 0 {
		return relais.Errorf(relais.ENOTFOUND, "Lesson %d not found.", id)
	}
	return nil
}

// SetLessonProgress records the current step and its percent done.
func (st Store) SetLessonProgress(ctx context.Context, id int64, step string, percent int) error {
	return st.UpdateLesson(ctx, id, `step = ?, progress = ?`, step, percent)
}

// SetLessonDuration records the media duration found by the probe.
func (st Store) SetLessonDuration(ctx context.Context, id int64, d time.Duration) error {
	return st.UpdateLesson(ctx, id, `duration_ms = ?`, d.Milliseconds())
}

// SetLessonWorksheetPath records the teacher's worksheet file.
func (st Store) SetLessonWorksheetPath(ctx context.Context, id int64, path string) error {
	return st.UpdateLesson(ctx, id, `worksheet_path = ?`, path)
}

// SetLessonMediaPath records where the upload is kept.
func (st Store) SetLessonMediaPath(ctx context.Context, id int64, path string) error {
	return st.UpdateLesson(ctx, id, `media_path = ?`, path)
}

// PutRendition creates or replaces the rendition of its kind.
func (st Store) PutRendition(ctx context.Context, r relais.Rendition) error {
	_, err := st.e.Write().Exec(ctx, st.d.Upsert(`renditions`, `lesson_id, kind`, `lesson_id`, `kind`, `path`,
		`container`, `video_codec`, `audio_codec`, `width`, `height`, `sample_rate`, `channels`, `bit_rate`,
		`duration_ms`, `bytes`, `integrated_lufs`, `true_peak_dbtp`, `lra`, `created_at`),
		r.LessonID, r.Kind, r.Path, r.Container, r.VideoCodec, r.AudioCodec, r.Width, r.Height, r.SampleRate,
		r.Channels, r.BitRate, r.DurationMS, r.Bytes, r.IntegratedLUFS, r.TruePeakDBTP, r.LRA, st.e.Time(st.e.Now()))
	if err != nil {
		return fmt.Errorf("put rendition %d/%s: %w", r.LessonID, r.Kind, err)
	}
	return nil
}

// PutDigest creates or replaces the digest of its language.
func (st Store) PutDigest(ctx context.Context, d relais.Digest) error {
	dropped := []byte("[]")
	if d.Dropped != nil {
		dropped, _ = json.Marshal(d.Dropped) // strings always encode
	}
	_, err := st.e.Write().Exec(ctx, st.d.Upsert(`digests`, `lesson_id, language`, `lesson_id`, `language`, `body`,
		`encoding`, `segments`, `characters`, `dropped`, `created_at`),
		d.LessonID, d.Language, d.Body, d.Encoding, d.Segments, d.Characters, string(dropped), st.e.Time(st.e.Now()))
	if err != nil {
		return fmt.Errorf("put digest %d/%s: %w", d.LessonID, d.Language, err)
	}
	return nil
}

// PutWorksheet creates or replaces a lesson's worksheet.
func (st Store) PutWorksheet(ctx context.Context, w relais.Worksheet) error {
	_, err := st.e.Write().Exec(ctx, st.d.Upsert(`worksheets`, `lesson_id`, `lesson_id`, `path`, `bytes`, `generated`,
		`created_at`), w.LessonID, w.Path, w.Bytes, w.Generated, st.e.Time(st.e.Now()))
	if err != nil {
		return fmt.Errorf("put worksheet %d: %w", w.LessonID, err)
	}
	return nil
}

// Renditions lists a lesson's renditions by kind.
func (st Store) Renditions(ctx context.Context, lessonID int64) ([]relais.Rendition, error) {
	return QueryAll(ctx, st.e.Read(), func(row Row) (relais.Rendition, error) {
		var r relais.Rendition
		err := row.Scan(&r.LessonID, &r.Kind, &r.Path, &r.Container, &r.VideoCodec, &r.AudioCodec, &r.Width,
			&r.Height, &r.SampleRate, &r.Channels, &r.BitRate, &r.DurationMS, &r.Bytes, &r.IntegratedLUFS,
			&r.TruePeakDBTP, &r.LRA, Time(&r.CreatedAt))
		return r, err
	}, `SELECT lesson_id, kind, path, container, video_codec, audio_codec,
		width, height, sample_rate, channels, bit_rate, duration_ms, bytes, integrated_lufs, true_peak_dbtp, lra,
		created_at FROM renditions WHERE lesson_id = ? ORDER BY kind`, lessonID)
}

// Digests lists a lesson's digests by language.
func (st Store) Digests(ctx context.Context, lessonID int64) ([]relais.Digest, error) {
	return QueryAll(ctx, st.e.Read(), func(row Row) (relais.Digest, error) {
		var d relais.Digest
		var dropped string
		if err := row.Scan(&d.LessonID, &d.Language, &d.Body, &d.Encoding, &d.Segments, &d.Characters,
			Text(&dropped), Time(&d.CreatedAt)); err != nil {
			return d, err
		}
		if err := json.Unmarshal([]byte(dropped), &d.Dropped); err != nil {
			return d, fmt.Errorf("digest %d/%s: dropped: %w", d.LessonID, d.Language, err)
		}
		return d, nil
	}, `SELECT lesson_id, language, body, encoding, segments, characters,
		dropped, created_at FROM digests WHERE lesson_id = ? ORDER BY language`, lessonID)
}

// Worksheet returns a lesson's worksheet.
func (st Store) Worksheet(ctx context.Context, lessonID int64) (relais.Worksheet, error) {
	var w relais.Worksheet
	err := st.e.Read().QueryRow(ctx, `SELECT lesson_id, path, bytes, generated, created_at FROM worksheets
		WHERE lesson_id = ?`, lessonID).Scan(&w.LessonID, &w.Path, &w.Bytes, Bool(&w.Generated), Time(&w.CreatedAt))
	if noRow(err) {
		return w, relais.Errorf(relais.ENOTFOUND, "Worksheet of lesson %d not found.", lessonID)
	}
	return w, err
}
