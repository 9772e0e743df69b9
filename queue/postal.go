package queue

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels/postal"
	"github.com/relais-edu/relais/mediastore"
)

// TypePostalBatch makes the PDF and CSV of a postal batch.
const TypePostalBatch = "postal:batch"

// PostalBatchPayload names a postal batch.
type PostalBatchPayload struct {
	BatchID int64 `json:"batch_id"`
}

// PostalBatch queues the making of a batch's files.
func (c *Client) PostalBatch(ctx context.Context, batchID int64) error {
	return c.enqueue(ctx, TypePostalBatch, PostalBatchPayload{BatchID: batchID}, asynq.Queue(QueueDefault),
		asynq.TaskID(fmt.Sprintf("%s:%d", TypePostalBatch, batchID)), asynq.MaxRetry(5))
}

// PostalBatchFiles returns where a batch's PDF and CSV are written under mediaDir (postal.Files).
func PostalBatchFiles(mediaDir string, batchID int64) (pdf, csv string) {
	return postal.Files(mediaDir, batchID)
}

// handlePostalBatch has the postal channel write a pending batch's PDF and CSV (postal.Batch.Write)
// and marks the batch ready; an error retrying cannot fix, or the last try's, fails the batch.
func (w *Worker) handlePostalBatch(ctx context.Context, t *asynq.Task) error {
	var p PostalBatchPayload
	if err := decode(t, &p); err != nil {
		return err
	}
	b, err := w.store.PostalBatch(ctx, p.BatchID)
	if relais.ErrorCode(err) == relais.ENOTFOUND {
		return fmt.Errorf("postal batch %d: %w", p.BatchID, errors.Join(err, asynq.SkipRetry))
	} else if err != nil {
		return err
	}
	if b.Status != relais.PostalBatchPending {
		return nil // made by an earlier run
	}
	err = w.writePostalBatch(ctx, b)
	if relais.ErrorCode(err) == relais.EINVALID || relais.ErrorCode(err) == relais.ENOTFOUND || (err != nil && lastAttempt(ctx)) {
		if ferr := w.store.SetPostalBatchFailed(ctx, b.ID, relais.ErrorMessage(err)); ferr != nil {
			return ferr
		}
		return fmt.Errorf("postal batch %d: %w", b.ID, errors.Join(err, asynq.SkipRetry))
	}
	return err
}

// writePostalBatch has the postal channel make the batch's files, and marks it ready.
func (w *Worker) writePostalBatch(ctx context.Context, b relais.PostalBatch) error {
	m := postal.Batch{Media: w.cfg.Media, TempDir: w.cfg.PostalTempDir(), Date: w.now(), Schedule: w.pipeline.GradeSchedule}
	f, err := m.Write(ctx, w.store, b)
	if err != nil {
		return err
	}
	w.log.Info("postal batch ready", "batch_id", b.ID, "lesson_id", b.LessonID, "households", f.Households, "refused", f.Refused, "pdf_bytes", f.PDFBytes)
	return w.store.SetPostalBatchReady(ctx, b.ID, f.PDFPath, f.PDFBytes, f.CSVPath)
}

// PostalTempDir is where postal batches are written before they go into the media store: beside
// their final place on a local directory (a rename), the system's temporary directory otherwise.
func (c Config) PostalTempDir() string {
	if d, ok := c.Media.(*mediastore.Dir); ok {
		return filepath.Join(d.Root, "postal")
	}
	return ""
}
