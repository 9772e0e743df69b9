package lessons

import (
	"context"
	"errors"

	relais "github.com/relais-edu/relais"
)

// MaxBatchHouseholds bounds a postal batch: the task holds a batch's letters in memory until the PDF is
// written (about 18 KB each), and a print run of 5,000 letters is what a regional office handles at once.
const MaxBatchHouseholds = 5000

// CreatePostalBatch gathers up to MaxBatchHouseholds queued postal packets of a lesson u may see, in a
// region, into a new batch and queues the making of its PDF and CSV (created). When no packet is
// waiting but a batch of that lesson and region is still pending, it queues that one again (not
// created): a lost task is retried.
func (s *Service) CreatePostalBatch(ctx context.Context, u relais.User, lessonID int64, region string) (b relais.PostalBatch, created bool, err error) {
	if lessonID <= 0 || region == "" {
		return b, false, relais.Errorf(relais.EINVALID, "lesson_id and region are required (households without a region are in region %q).", relais.PostalUnassigned)
	}
	if _, err := s.Visible(ctx, u, lessonID); err != nil {
		return b, false, err
	}
	q, ok := s.queue.(PostalQueue)
	if !ok {
		return b, false, errors.New("the queue cannot make postal batches")
	}
	b = relais.PostalBatch{LessonID: lessonID, Region: region, CreatedBy: u.ID}
	created = true
	err = s.store.CreatePostalBatch(ctx, &b, relais.PostalBatchKey(region, lessonID), MaxBatchHouseholds)
	if relais.ErrorCode(err) == relais.EINVALID {
		pending, perr := s.store.PostalBatches(ctx, relais.PostalBatchFilter{LessonID: lessonID, Region: region,
			Status: relais.PostalBatchPending, Page: relais.Page{Limit: 1}})
		if perr != nil {
			return b, false, perr
		}
		if len(pending) == 0 {
			return b, false, err
		}
		b, created = pending[0], false
	} else if err != nil {
		return b, false, err
	}
	return b, created, q.PostalBatch(ctx, b.ID)
}

// PostalBatchFile returns the path and content type of a batch's PDF (kind "pdf") or address CSV
// ("csv"), refused while they are not made.
func (s *Service) PostalBatchFile(ctx context.Context, id int64, kind string) (path, contentType string, err error) {
	b, err := s.store.PostalBatch(ctx, id)
	if err != nil {
		return "", "", err
	}
	if b.PDFPath == "" {
		return "", "", relais.Errorf(relais.ECONFLICT, "Postal batch %d is %s: its files are not made yet.", id, b.Status)
	}
	if kind == "csv" {
		return b.CSVPath, "text/csv; charset=utf-8", nil
	}
	return b.PDFPath, "application/pdf", nil
}
