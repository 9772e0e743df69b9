package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/locale"
)

const lessonColumns = `id, title, subject, grade, language, region, audience, teacher_id, status, status_reason, status_reasons,
	step, progress, media_path, markdown, worksheet_path, segment_budget, duration_ms, created_at, updated_at`

func scanLesson(row rowScanner) (relais.Lesson, error) {
	var l relais.Lesson
	var audience string
	err := row.Scan(&l.ID, &l.Title, &l.Subject, &l.Grade, &l.Language, &l.Region, &audience, &l.TeacherID, &l.Status,
		&l.StatusReason, &l.StatusReasons, &l.Step, &l.Progress, &l.MediaPath, &l.Markdown, &l.WorksheetPath,
		&l.SegmentBudget, &l.DurationMS, &l.CreatedAt, &l.UpdatedAt)
	l.CreatedAt, l.UpdatedAt = l.CreatedAt.UTC(), l.UpdatedAt.UTC()
	if len(l.StatusReasons) == 0 {
		l.StatusReasons = nil
	}
	if err == nil {
		l.Audience, err = decodeAudience(l.ID, audience)
	}
	return l, err
}

// encodeAudience is the audience column: the audience as JSON, "" for none.
func encodeAudience(a relais.Audience) string {
	if a.IsZero() {
		return ""
	}
	b, _ := json.Marshal(a) // of slices of ints and strings: cannot fail
	return string(b)
}

func decodeAudience(lessonID int64, s string) (relais.Audience, error) {
	var a relais.Audience
	if s == "" {
		return a, nil
	}
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		return a, fmt.Errorf("lesson %d: audience: %w", lessonID, err)
	}
	return a, nil
}

// CreateLesson inserts l and sets its id and timestamps.
func (db *DB) CreateLesson(ctx context.Context, l *relais.Lesson) error {
	now := ts(db.now())
	if l.Status == "" {
		l.Status = relais.LessonUploaded
	}
	err := db.pool.QueryRow(ctx, `INSERT INTO lessons (title, subject, grade, language, region, teacher_id,
		status, status_reason, status_reasons, media_path, markdown, worksheet_path, segment_budget, duration_ms,
		created_at, updated_at, audience)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$15,$16) RETURNING id`,
		l.Title, l.Subject, l.Grade, l.Language, l.Region, l.TeacherID, l.Status, l.StatusReason,
		reasons(l.StatusReasons), l.MediaPath, l.Markdown, l.WorksheetPath, l.SegmentBudget, l.DurationMS, now,
		encodeAudience(l.Audience)).Scan(&l.ID)
	if err != nil {
		return fmt.Errorf("create lesson: %w", err)
	}
	l.CreatedAt, l.UpdatedAt = now, now
	return nil
}

// reasons is the status_reasons column: a JSON object by language, NULL for none.
func reasons(byLang map[string]string) any {
	if len(byLang) == 0 {
		return nil
	}
	return byLang
}

// Lesson returns one lesson.
func (db *DB) Lesson(ctx context.Context, id int64) (relais.Lesson, error) {
	l, err := scanLesson(db.pool.QueryRow(ctx, `SELECT `+lessonColumns+` FROM lessons WHERE id = $1`, id))
	return l, orNotFound(err, func() error { return relais.Errorf(relais.ENOTFOUND, "Lesson %d not found.", id) })
}

// Lessons lists lessons, newest first.
func (db *DB) Lessons(ctx context.Context, f relais.LessonFilter) ([]relais.Lesson, error) {
	p := f.Page.Normalize()
	q := `SELECT ` + lessonColumns + ` FROM lessons WHERE true`
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if f.TeacherID != "" {
		q += ` AND teacher_id = ` + arg(f.TeacherID)
	}
	if f.Status != "" {
		q += ` AND status = ` + arg(f.Status)
	}
	if p.After > 0 {
		q += ` AND id < ` + arg(p.After)
	}
	q += ` ORDER BY id DESC LIMIT ` + arg(p.Limit)
	return queryAll(ctx, db.pool, scanLesson, q, args...)
}

// updateLesson sets columns of a lesson; set numbers its parameters from $3 ($1 is the id, $2 the
// time of the change).
func (db *DB) updateLesson(ctx context.Context, id int64, set string, args ...any) error {
	tag, err := db.pool.Exec(ctx, `UPDATE lessons SET `+set+`, updated_at = $2 WHERE id = $1`,
		append([]any{id, ts(db.now())}, args...)...)
	if err != nil {
		return fmt.Errorf("update lesson %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return relais.Errorf(relais.ENOTFOUND, "Lesson %d not found.", id)
	}
	return nil
}

// SetLessonStatus moves a lesson to status with a reason (nil for none), kept in English and in every
// other language locale writes.
func (db *DB) SetLessonStatus(ctx context.Context, id int64, status relais.LessonStatus, reason error) error {
	return db.updateLesson(ctx, id, `status = $3, status_reason = $4, status_reasons = $5`,
		status, relais.ErrorMessage(reason), reasons(locale.Translations(reason)))
}

// SetLessonProgress records the current step and its percent done.
func (db *DB) SetLessonProgress(ctx context.Context, id int64, step string, percent int) error {
	return db.updateLesson(ctx, id, `step = $3, progress = $4`, step, percent)
}

// SetLessonDuration records the media duration found by the probe.
func (db *DB) SetLessonDuration(ctx context.Context, id int64, d time.Duration) error {
	return db.updateLesson(ctx, id, `duration_ms = $3`, d.Milliseconds())
}

// SetLessonWorksheetPath records the teacher's worksheet file.
func (db *DB) SetLessonWorksheetPath(ctx context.Context, id int64, path string) error {
	return db.updateLesson(ctx, id, `worksheet_path = $3`, path)
}

// SetLessonMediaPath records where the upload is kept.
func (db *DB) SetLessonMediaPath(ctx context.Context, id int64, path string) error {
	return db.updateLesson(ctx, id, `media_path = $3`, path)
}

// PutRendition creates or replaces the rendition of its kind.
func (db *DB) PutRendition(ctx context.Context, r relais.Rendition) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO renditions (lesson_id, kind, path, container,
		video_codec, audio_codec, width, height, sample_rate, channels, bit_rate, duration_ms, bytes,
		integrated_lufs, true_peak_dbtp, lra, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)
		ON CONFLICT (lesson_id, kind) DO UPDATE SET path = excluded.path, container = excluded.container,
		video_codec = excluded.video_codec, audio_codec = excluded.audio_codec, width = excluded.width,
		height = excluded.height, sample_rate = excluded.sample_rate, channels = excluded.channels,
		bit_rate = excluded.bit_rate, duration_ms = excluded.duration_ms, bytes = excluded.bytes,
		integrated_lufs = excluded.integrated_lufs, true_peak_dbtp = excluded.true_peak_dbtp, lra = excluded.lra,
		created_at = excluded.created_at`,
		r.LessonID, r.Kind, r.Path, r.Container, r.VideoCodec, r.AudioCodec, r.Width, r.Height, r.SampleRate,
		r.Channels, r.BitRate, r.DurationMS, r.Bytes, r.IntegratedLUFS, r.TruePeakDBTP, r.LRA, ts(db.now()))
	if err != nil {
		return fmt.Errorf("put rendition %d/%s: %w", r.LessonID, r.Kind, err)
	}
	return nil
}

// Renditions lists a lesson's renditions by kind.
func (db *DB) Renditions(ctx context.Context, lessonID int64) ([]relais.Rendition, error) {
	return queryAll(ctx, db.pool, func(row rowScanner) (relais.Rendition, error) {
		var r relais.Rendition
		err := row.Scan(&r.LessonID, &r.Kind, &r.Path, &r.Container, &r.VideoCodec, &r.AudioCodec, &r.Width,
			&r.Height, &r.SampleRate, &r.Channels, &r.BitRate, &r.DurationMS, &r.Bytes, &r.IntegratedLUFS,
			&r.TruePeakDBTP, &r.LRA, &r.CreatedAt)
		r.CreatedAt = r.CreatedAt.UTC()
		return r, err
	}, `SELECT lesson_id, kind, path, container, video_codec, audio_codec,
		width, height, sample_rate, channels, bit_rate, duration_ms, bytes, integrated_lufs, true_peak_dbtp, lra,
		created_at FROM renditions WHERE lesson_id = $1 ORDER BY kind`, lessonID)
}

// PutDigest creates or replaces the digest of its language.
func (db *DB) PutDigest(ctx context.Context, d relais.Digest) error {
	dropped := d.Dropped
	if dropped == nil {
		dropped = []string{}
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO digests (lesson_id, language, body, encoding,
		segments, characters, dropped, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
		ON CONFLICT (lesson_id, language) DO UPDATE SET body = excluded.body, encoding = excluded.encoding,
		segments = excluded.segments, characters = excluded.characters, dropped = excluded.dropped,
		created_at = excluded.created_at`,
		d.LessonID, d.Language, d.Body, d.Encoding, d.Segments, d.Characters, dropped, ts(db.now()))
	if err != nil {
		return fmt.Errorf("put digest %d/%s: %w", d.LessonID, d.Language, err)
	}
	return nil
}

// Digests lists a lesson's digests by language.
func (db *DB) Digests(ctx context.Context, lessonID int64) ([]relais.Digest, error) {
	return queryAll(ctx, db.pool, func(row rowScanner) (relais.Digest, error) {
		var d relais.Digest
		err := row.Scan(&d.LessonID, &d.Language, &d.Body, &d.Encoding, &d.Segments, &d.Characters, &d.Dropped,
			&d.CreatedAt)
		d.CreatedAt = d.CreatedAt.UTC()
		return d, err
	}, `SELECT lesson_id, language, body, encoding, segments, characters,
		dropped, created_at FROM digests WHERE lesson_id = $1 ORDER BY language`, lessonID)
}

// PutWorksheet creates or replaces a lesson's worksheet.
func (db *DB) PutWorksheet(ctx context.Context, w relais.Worksheet) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO worksheets (lesson_id, path, bytes, generated, created_at)
		VALUES ($1,$2,$3,$4,$5) ON CONFLICT (lesson_id) DO UPDATE SET path = excluded.path, bytes = excluded.bytes,
		generated = excluded.generated, created_at = excluded.created_at`,
		w.LessonID, w.Path, w.Bytes, w.Generated, ts(db.now()))
	if err != nil {
		return fmt.Errorf("put worksheet %d: %w", w.LessonID, err)
	}
	return nil
}

// Worksheet returns a lesson's worksheet.
func (db *DB) Worksheet(ctx context.Context, lessonID int64) (relais.Worksheet, error) {
	var w relais.Worksheet
	err := db.pool.QueryRow(ctx, `SELECT lesson_id, path, bytes, generated, created_at FROM worksheets
		WHERE lesson_id = $1`, lessonID).Scan(&w.LessonID, &w.Path, &w.Bytes, &w.Generated, &w.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return w, relais.Errorf(relais.ENOTFOUND, "Worksheet of lesson %d not found.", lessonID)
	}
	w.CreatedAt = w.CreatedAt.UTC()
	return w, err
}
