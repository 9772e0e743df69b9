package postgres

import (
	"context"
	"fmt"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/locale"
	"github.com/relais-edu/relais/store/internal/sqlstore"
)

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
		sqlstore.EncodeAudience(l.Audience)).Scan(&l.ID)
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

// SetLessonStatus moves a lesson to status with a reason (nil for none), kept in English and in every
// other language locale writes.
func (db *DB) SetLessonStatus(ctx context.Context, id int64, status relais.LessonStatus, reason error) error {
	return db.UpdateLesson(ctx, id, `status = ?, status_reason = ?, status_reasons = ?`,
		status, relais.ErrorMessage(reason), reasons(locale.Translations(reason)))
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
