package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/lessons"
)

// PostalQueue is the queue's postal capability (lessons.PostalQueue).
type PostalQueue = lessons.PostalQueue

// PostalBatch is the JSON form of a postal batch.
type PostalBatch struct {
	ID         int64                    `json:"id"`
	LessonID   int64                    `json:"lesson_id"`
	Region     string                   `json:"region"`
	Status     relais.PostalBatchStatus `json:"status"`
	Reason     string                   `json:"reason,omitempty"`
	Households int                      `json:"households"`
	PDFBytes   int64                    `json:"pdf_bytes,omitempty"`
	PDFURL     string                   `json:"pdf_url,omitempty"`
	CSVURL     string                   `json:"csv_url,omitempty"`
	CreatedBy  string                   `json:"created_by"`
	CreatedAt  time.Time                `json:"created_at"`
	UpdatedAt  time.Time                `json:"updated_at"`
	PrintedAt  *time.Time               `json:"printed_at,omitempty"`
	PostedAt   *time.Time               `json:"posted_at,omitempty"`
}

func postalBatchJSON(b relais.PostalBatch) PostalBatch {
	out := PostalBatch{ID: b.ID, LessonID: b.LessonID, Region: b.Region, Status: b.Status, Reason: b.Reason,
		Households: b.Households, PDFBytes: b.PDFBytes, CreatedBy: b.CreatedBy, CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt}
	if b.PDFPath != "" {
		out.PDFURL = fmt.Sprintf("/api/v1/postal-batches/%d/pdf", b.ID)
		out.CSVURL = fmt.Sprintf("/api/v1/postal-batches/%d/csv", b.ID)
	}
	if !b.PrintedAt.IsZero() {
		out.PrintedAt = &b.PrintedAt
	}
	if !b.PostedAt.IsZero() {
		out.PostedAt = &b.PostedAt
	}
	return out
}

// MaxBatchHouseholds bounds a postal batch (lessons.MaxBatchHouseholds).
const MaxBatchHouseholds = lessons.MaxBatchHouseholds

// createPostalBatch gathers a lesson's queued postal packets of a region into a new batch and queues
// the making of its PDF and CSV (202); when it queues a pending batch again instead, 200.
func (s *Server) createPostalBatch(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		LessonID int64  `json:"lesson_id"`
		Region   string `json:"region"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return relais.Errorf(relais.EINVALID, "Send a JSON object {\"lesson_id\": N, \"region\": \"...\"}: %v.", err)
	}
	b, created, err := s.lessons.CreatePostalBatch(r.Context(), userFrom(r.Context()), in.LessonID, strings.TrimSpace(in.Region))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusAccepted
	}
	writeJSON(w, status, postalBatchJSON(b))
	return nil
}

func (s *Server) listPostalBatches(w http.ResponseWriter, r *http.Request) error {
	q := listQuery{r: r}
	p, lessonID := q.page(), q.int("lesson_id")
	if q.err != nil {
		return q.err
	}
	status := relais.PostalBatchStatus(r.URL.Query().Get("status"))
	bs, err := s.store.PostalBatches(r.Context(), relais.PostalBatchFilter{LessonID: lessonID,
		Region: r.URL.Query().Get("region"), Status: status, Page: p})
	if err != nil {
		return err
	}
	return writePage(w, bs, p, postalBatchJSON, func(x relais.PostalBatch) int64 { return x.ID })
}

func (s *Server) getPostalBatch(w http.ResponseWriter, r *http.Request, id int64) error {
	b, err := s.store.PostalBatch(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, 200, postalBatchJSON(b))
	return nil
}

func (s *Server) getPostalBatchPDF(w http.ResponseWriter, r *http.Request, id int64) error {
	return s.postalBatchFile(w, r, id, "pdf")
}

func (s *Server) getPostalBatchCSV(w http.ResponseWriter, r *http.Request, id int64) error {
	return s.postalBatchFile(w, r, id, "csv")
}

func (s *Server) postalBatchFile(w http.ResponseWriter, r *http.Request, id int64, kind string) error {
	path, ct, err := s.lessons.PostalBatchFile(r.Context(), id, kind)
	if err != nil {
		return err
	}
	return s.lessons.ServeAttachment(w, r, path, ct, fmt.Sprintf("postal-batch-%d.%s", id, kind))
}

func (s *Server) markPostalBatchPrinted(w http.ResponseWriter, r *http.Request, id int64) error {
	return s.markPostalBatch(w, r, id, relais.PostalBatchPrinted)
}

func (s *Server) markPostalBatchPosted(w http.ResponseWriter, r *http.Request, id int64) error {
	return s.markPostalBatch(w, r, id, relais.PostalBatchPosted)
}

// markPostalBatch records that the regional office printed or posted a batch; posting a batch marks its
// deliveries sent.
func (s *Server) markPostalBatch(w http.ResponseWriter, r *http.Request, id int64, status relais.PostalBatchStatus) error {
	b, err := s.store.MarkPostalBatch(r.Context(), id, status)
	if err != nil {
		return err
	}
	writeJSON(w, 200, postalBatchJSON(b))
	return nil
}
