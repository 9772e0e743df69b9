package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
)

// PostalQueue is the queue's postal capability: making a batch's files. queue.Client has it; the API
// finds it on its Queue by type assertion.
type PostalQueue interface {
	PostalBatch(ctx context.Context, batchID int64) error
}

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

// MaxBatchHouseholds bounds a postal batch: the task holds a batch's letters in memory until the PDF is
// written (about 18 KB each), and a print run of 5,000 letters is what a regional office handles at once.
const MaxBatchHouseholds = 5000

// createPostalBatch gathers up to MaxBatchHouseholds queued postal packets of a lesson in a region into
// a new batch and queues the making of its PDF and CSV (202). When no packet is waiting but a batch of
// that lesson and region is still pending, it queues that one again (200): a lost task is retried.
func (s *Server) createPostalBatch(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var in struct {
		LessonID int64  `json:"lesson_id"`
		Region   string `json:"region"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return relais.Errorf(relais.EINVALID, "Send a JSON object {\"lesson_id\": N, \"region\": \"...\"}: %v.", err)
	}
	in.Region = strings.TrimSpace(in.Region)
	if in.LessonID <= 0 || in.Region == "" {
		return relais.Errorf(relais.EINVALID, "lesson_id and region are required (households without a region are in region %q).", relais.PostalUnassigned)
	}
	if _, err := s.visibleLesson(ctx, in.LessonID); err != nil {
		return err
	}
	q, ok := s.queue.(PostalQueue)
	if !ok {
		return fmt.Errorf("the queue cannot make postal batches")
	}
	status := http.StatusAccepted
	b := relais.PostalBatch{LessonID: in.LessonID, Region: in.Region, CreatedBy: userFrom(ctx).ID}
	err := s.store.CreatePostalBatch(ctx, &b, relais.PostalBatchKey(in.Region, in.LessonID), MaxBatchHouseholds)
	if relais.ErrorCode(err) == relais.EINVALID {
		pending, perr := s.store.PostalBatches(ctx, relais.PostalBatchFilter{LessonID: in.LessonID, Region: in.Region,
			Status: relais.PostalBatchPending, Page: relais.Page{Limit: 1}})
		if perr != nil {
			return perr
		}
		if len(pending) == 0 {
			return err
		}
		b, status = pending[0], http.StatusOK
	} else if err != nil {
		return err
	}
	if err := q.PostalBatch(ctx, b.ID); err != nil {
		return err
	}
	writeJSON(w, status, postalBatchJSON(b))
	return nil
}

func (s *Server) listPostalBatches(w http.ResponseWriter, r *http.Request) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	lessonID, err := queryInt(r, "lesson_id")
	if err != nil {
		return err
	}
	status := relais.PostalBatchStatus(r.URL.Query().Get("status"))
	bs, err := s.store.PostalBatches(r.Context(), relais.PostalBatchFilter{LessonID: lessonID,
		Region: r.URL.Query().Get("region"), Status: status, Page: p})
	if err != nil {
		return err
	}
	items := make([]PostalBatch, len(bs))
	for i, b := range bs {
		items[i] = postalBatchJSON(b)
	}
	resp := map[string]any{"items": items}
	if len(bs) == p.Limit {
		resp["next_after"] = bs[len(bs)-1].ID
	}
	writeJSON(w, 200, resp)
	return nil
}

func (s *Server) getPostalBatch(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	b, err := s.store.PostalBatch(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, 200, postalBatchJSON(b))
	return nil
}

func (s *Server) getPostalBatchPDF(w http.ResponseWriter, r *http.Request) error {
	return s.postalBatchFile(w, r, "pdf")
}

func (s *Server) getPostalBatchCSV(w http.ResponseWriter, r *http.Request) error {
	return s.postalBatchFile(w, r, "csv")
}

func (s *Server) postalBatchFile(w http.ResponseWriter, r *http.Request, kind string) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	b, err := s.store.PostalBatch(r.Context(), id)
	if err != nil {
		return err
	}
	if b.PDFPath == "" {
		return relais.Errorf(relais.ECONFLICT, "Postal batch %d is %s: its files are not made yet.", id, b.Status)
	}
	path, ct := b.PDFPath, "application/pdf"
	if kind == "csv" {
		path, ct = b.CSVPath, "text/csv; charset=utf-8"
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="postal-batch-%d.%s"`, id, kind))
	http.ServeContent(w, r, "", st.ModTime(), f)
	return nil
}

func (s *Server) markPostalBatchPrinted(w http.ResponseWriter, r *http.Request) error {
	return s.markPostalBatch(w, r, relais.PostalBatchPrinted)
}

func (s *Server) markPostalBatchPosted(w http.ResponseWriter, r *http.Request) error {
	return s.markPostalBatch(w, r, relais.PostalBatchPosted)
}

// markPostalBatch records that the regional office printed or posted a batch; posting a batch marks its
// deliveries sent.
func (s *Server) markPostalBatch(w http.ResponseWriter, r *http.Request, status relais.PostalBatchStatus) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	b, err := s.store.MarkPostalBatch(r.Context(), id, status)
	if err != nil {
		return err
	}
	writeJSON(w, 200, postalBatchJSON(b))
	return nil
}
