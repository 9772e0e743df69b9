package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/locale"
)

const lessonColumns = `id, title, subject, grade, language, region, audience, teacher_id, status, status_reason, status_reasons,
	step, progress, media_path, markdown, worksheet_path, segment_budget, duration_ms, created_at, updated_at`

func scanLesson(row interface{ Scan(...any) error }) (relais.Lesson, error) {
	var l relais.Lesson
	var created, updated int64
	var reasons, audience string
	err := row.Scan(&l.ID, &l.Title, &l.Subject, &l.Grade, &l.Language, &l.Region, &audience, &l.TeacherID, &l.Status,
		&l.StatusReason, &reasons, &l.Step, &l.Progress, &l.MediaPath, &l.Markdown, &l.WorksheetPath,
		&l.SegmentBudget, &l.DurationMS, &created, &updated)
	l.CreatedAt, l.UpdatedAt = fromMS(created), fromMS(updated)
	if err == nil && reasons != "" {
		if jerr := json.Unmarshal([]byte(reasons), &l.StatusReasons); jerr != nil {
			return l, fmt.Errorf("lesson %d: status_reasons: %w", l.ID, jerr)
		}
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
	now := db.now()
	if l.Status == "" {
		l.Status = relais.LessonUploaded
	}
	res, err := db.write.ExecContext(ctx, `INSERT INTO lessons (title, subject, grade, language, region, teacher_id,
		status, status_reason, status_reasons, media_path, markdown, worksheet_path, segment_budget, duration_ms,
		created_at, updated_at, audience)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		l.Title, l.Subject, l.Grade, l.Language, l.Region, l.TeacherID, l.Status, l.StatusReason,
		reasonsJSON(l.StatusReasons), l.MediaPath,
		l.Markdown, l.WorksheetPath, l.SegmentBudget, l.DurationMS, ms(now), ms(now), encodeAudience(l.Audience))
	if err != nil {
		return fmt.Errorf("create lesson: %w", err)
	}
	l.ID, err = res.LastInsertId()
	l.CreatedAt, l.UpdatedAt = now.UTC().Truncate(time.Millisecond), now.UTC().Truncate(time.Millisecond)
	return err
}

// Lesson returns one lesson.
func (db *DB) Lesson(ctx context.Context, id int64) (relais.Lesson, error) {
	l, err := scanLesson(db.read.QueryRowContext(ctx, `SELECT `+lessonColumns+` FROM lessons WHERE id = ?`, id))
	return l, orNotFound(err, func() error { return relais.Errorf(relais.ENOTFOUND, "Lesson %d not found.", id) })
}

// Lessons lists lessons, newest first.
func (db *DB) Lessons(ctx context.Context, f relais.LessonFilter) ([]relais.Lesson, error) {
	p := f.Page.Normalize()
	w := where{sql: `SELECT ` + lessonColumns + ` FROM lessons WHERE 1=1`}
	w.and(f.TeacherID != "", `teacher_id = ?`, f.TeacherID)
	w.and(f.Status != "", `status = ?`, f.Status)
	w.and(p.After > 0, `id < ?`, p.After)
	return queryAll(ctx, db.read, scanLesson, w.sql+` ORDER BY id DESC LIMIT ?`, append(w.args, p.Limit)...)
}

func (db *DB) updateLesson(ctx context.Context, id int64, set string, args ...any) error {
	args = append(args, ms(db.now()), id)
	res, err := db.write.ExecContext(ctx, `UPDATE lessons SET `+set+`, updated_at = ? WHERE id = ?`, args...)
	if err != nil {
		return fmt.Errorf("update lesson %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return relais.Errorf(relais.ENOTFOUND, "Lesson %d not found.", id)
	}
	return nil
}

// SetLessonStatus moves a lesson to status with a reason (nil for none), kept in English and in every
// other language locale writes.
func (db *DB) SetLessonStatus(ctx context.Context, id int64, status relais.LessonStatus, reason error) error {
	return db.updateLesson(ctx, id, `status = ?, status_reason = ?, status_reasons = ?`,
		status, relais.ErrorMessage(reason), reasonsJSON(locale.Translations(reason)))
}

// reasonsJSON is the status_reasons column: a JSON object by language, "" for none.
func reasonsJSON(byLang map[string]string) string {
	if len(byLang) == 0 {
		return ""
	}
	b, _ := json.Marshal(byLang) // a map of strings always encodes
	return string(b)
}

// SetLessonProgress records the current step and its percent done.
func (db *DB) SetLessonProgress(ctx context.Context, id int64, step string, percent int) error {
	return db.updateLesson(ctx, id, `step = ?, progress = ?`, step, percent)
}

// SetLessonDuration records the media duration found by the probe.
func (db *DB) SetLessonDuration(ctx context.Context, id int64, d time.Duration) error {
	return db.updateLesson(ctx, id, `duration_ms = ?`, d.Milliseconds())
}

// SetLessonWorksheetPath records the teacher's worksheet file.
func (db *DB) SetLessonWorksheetPath(ctx context.Context, id int64, path string) error {
	return db.updateLesson(ctx, id, `worksheet_path = ?`, path)
}

// SetLessonMediaPath records where the upload is kept.
func (db *DB) SetLessonMediaPath(ctx context.Context, id int64, path string) error {
	return db.updateLesson(ctx, id, `media_path = ?`, path)
}

// PutRendition creates or replaces the rendition of its kind.
func (db *DB) PutRendition(ctx context.Context, r relais.Rendition) error {
	_, err := db.write.ExecContext(ctx, `INSERT OR REPLACE INTO renditions (lesson_id, kind, path, container,
		video_codec, audio_codec, width, height, sample_rate, channels, bit_rate, duration_ms, bytes,
		integrated_lufs, true_peak_dbtp, lra, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		r.LessonID, r.Kind, r.Path, r.Container, r.VideoCodec, r.AudioCodec, r.Width, r.Height, r.SampleRate,
		r.Channels, r.BitRate, r.DurationMS, r.Bytes, r.IntegratedLUFS, r.TruePeakDBTP, r.LRA, ms(db.now()))
	if err != nil {
		return fmt.Errorf("put rendition %d/%s: %w", r.LessonID, r.Kind, err)
	}
	return nil
}

// Renditions lists a lesson's renditions by kind.
func (db *DB) Renditions(ctx context.Context, lessonID int64) ([]relais.Rendition, error) {
	return queryAll(ctx, db.read, func(row rowScanner) (relais.Rendition, error) {
		var r relais.Rendition
		var created int64
		if err := row.Scan(&r.LessonID, &r.Kind, &r.Path, &r.Container, &r.VideoCodec, &r.AudioCodec, &r.Width,
			&r.Height, &r.SampleRate, &r.Channels, &r.BitRate, &r.DurationMS, &r.Bytes, &r.IntegratedLUFS,
			&r.TruePeakDBTP, &r.LRA, &created); err != nil {
			return r, err
		}
		r.CreatedAt = fromMS(created)
		return r, nil
	}, `SELECT lesson_id, kind, path, container, video_codec, audio_codec,
		width, height, sample_rate, channels, bit_rate, duration_ms, bytes, integrated_lufs, true_peak_dbtp, lra,
		created_at FROM renditions WHERE lesson_id = ? ORDER BY kind`, lessonID)
}

// PutDigest creates or replaces the digest of its language.
func (db *DB) PutDigest(ctx context.Context, d relais.Digest) error {
	dropped, err := json.Marshal(d.Dropped)
	if err != nil {
		return err
	}
	if d.Dropped == nil {
		dropped = []byte("[]")
	}
	_, err = db.write.ExecContext(ctx, `INSERT OR REPLACE INTO digests (lesson_id, language, body, encoding,
		segments, characters, dropped, created_at) VALUES (?,?,?,?,?,?,?,?)`,
		d.LessonID, d.Language, d.Body, d.Encoding, d.Segments, d.Characters, string(dropped), ms(db.now()))
	if err != nil {
		return fmt.Errorf("put digest %d/%s: %w", d.LessonID, d.Language, err)
	}
	return nil
}

// Digests lists a lesson's digests by language.
func (db *DB) Digests(ctx context.Context, lessonID int64) ([]relais.Digest, error) {
	return queryAll(ctx, db.read, func(row rowScanner) (relais.Digest, error) {
		var d relais.Digest
		var dropped string
		var created int64
		if err := row.Scan(&d.LessonID, &d.Language, &d.Body, &d.Encoding, &d.Segments, &d.Characters, &dropped,
			&created); err != nil {
			return d, err
		}
		if err := json.Unmarshal([]byte(dropped), &d.Dropped); err != nil {
			return d, fmt.Errorf("digest %d/%s: dropped: %w", d.LessonID, d.Language, err)
		}
		d.CreatedAt = fromMS(created)
		return d, nil
	}, `SELECT lesson_id, language, body, encoding, segments, characters,
		dropped, created_at FROM digests WHERE lesson_id = ? ORDER BY language`, lessonID)
}

// PutWorksheet creates or replaces a lesson's worksheet.
func (db *DB) PutWorksheet(ctx context.Context, w relais.Worksheet) error {
	_, err := db.write.ExecContext(ctx, `INSERT OR REPLACE INTO worksheets (lesson_id, path, bytes, generated,
		created_at) VALUES (?,?,?,?,?)`, w.LessonID, w.Path, w.Bytes, boolInt(w.Generated), ms(db.now()))
	if err != nil {
		return fmt.Errorf("put worksheet %d: %w", w.LessonID, err)
	}
	return nil
}

// Worksheet returns a lesson's worksheet.
func (db *DB) Worksheet(ctx context.Context, lessonID int64) (relais.Worksheet, error) {
	var w relais.Worksheet
	var gen int
	var created int64
	err := db.read.QueryRowContext(ctx, `SELECT lesson_id, path, bytes, generated, created_at FROM worksheets
		WHERE lesson_id = ?`, lessonID).Scan(&w.LessonID, &w.Path, &w.Bytes, &gen, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return w, relais.Errorf(relais.ENOTFOUND, "Worksheet of lesson %d not found.", lessonID)
	}
	w.Generated, w.CreatedAt = gen == 1, fromMS(created)
	return w, err
}
