package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/locale"
	"github.com/relais-edu/relais/store/internal/sqlstore"
)

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
		l.Markdown, l.WorksheetPath, l.SegmentBudget, l.DurationMS, ms(now), ms(now), sqlstore.EncodeAudience(l.Audience))
	if err != nil {
		return fmt.Errorf("create lesson: %w", err)
	}
	l.ID, err = res.LastInsertId()
	l.CreatedAt, l.UpdatedAt = now.UTC().Truncate(time.Millisecond), now.UTC().Truncate(time.Millisecond)
	return err
}

// SetLessonStatus moves a lesson to status with a reason (nil for none), kept in English and in every
// other language locale writes.
func (db *DB) SetLessonStatus(ctx context.Context, id int64, status relais.LessonStatus, reason error) error {
	return db.UpdateLesson(ctx, id, `status = ?, status_reason = ?, status_reasons = ?`,
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

// PutWorksheet creates or replaces a lesson's worksheet.
func (db *DB) PutWorksheet(ctx context.Context, w relais.Worksheet) error {
	_, err := db.write.ExecContext(ctx, `INSERT OR REPLACE INTO worksheets (lesson_id, path, bytes, generated,
		created_at) VALUES (?,?,?,?,?)`, w.LessonID, w.Path, w.Bytes, boolInt(w.Generated), ms(db.now()))
	if err != nil {
		return fmt.Errorf("put worksheet %d: %w", w.LessonID, err)
	}
	return nil
}
