package ui

// Postal batches: the media unit gathers a lesson's queued postal packets of a region into a print
// run, downloads its PDF and address CSV for the regional office, and records when it was printed and
// posted. Every step calls the services and store the JSON API uses.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/locale"
)

// postalPageSize is how many batches a page lists (a variable for the tests).
var postalPageSize = 50

// postalData is the postal batches page.
type postalData struct {
	Batches    []postalRow
	Filter     postalFilter
	NextAfter  int64 // 0: no next page
	First      bool  // this is the first page
	Lessons    []relais.Lesson
	Form       postalForm
	Statuses   []relais.PostalBatchStatus
	Unassigned string
	Notice     string
	Regions    []choice // suggested for the batch's region: the configured and the stations' regions
}

// refresh reloads the page while a batch's files are being made.
func (d postalData) refresh() int {
	for _, b := range d.Batches {
		if b.Status == relais.PostalBatchPending {
			return 5
		}
	}
	return 0
}

type postalRow struct {
	relais.PostalBatch
	PDFURL     string // "" while the files are not made
	Title      string
	StatusText string
	Created    string
	Printed    string
	Posted     string
	CanPrint   bool
	CanPost    bool
}

// postalFilter is the listing's query: a status, a lesson and the page cursor.
type postalFilter struct {
	Status string
	Lesson string
	After  int64
}

// url is the listing with this filter from the cursor after (0: the first page).
func (f postalFilter) url(after int64) string {
	q := url.Values{}
	if f.Status != "" {
		q.Set("status", f.Status)
	}
	if f.Lesson != "" {
		q.Set("lesson", f.Lesson)
	}
	if after > 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	if len(q) == 0 {
		return "/ui/postal"
	}
	return "/ui/postal?" + q.Encode()
}

// NextURL is the next page.
func (d postalData) NextURL() string { return d.Filter.url(d.NextAfter) }

// FirstURL is the first page with the same filter.
func (d postalData) FirstURL() string { return d.Filter.url(0) }

// postalForm holds the new-batch form's values.
type postalForm struct {
	LessonID int64
	Region   string
}

func readPostalFilter(v url.Values) postalFilter {
	f := postalFilter{Status: v.Get("status"), Lesson: v.Get("lesson")}
	f.After, _ = strconv.ParseInt(v.Get("after"), 10, 64)
	return f
}

func (h *Handler) postalBatches(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	q := r.URL.Query()
	notice := ""
	if id, err := strconv.ParseInt(q.Get("created"), 10, 64); err == nil {
		notice = fmt.Sprintf(c.t("postal_created_ok"), id)
	}
	h.showPostal(w, r, c, http.StatusOK, readPostalFilter(q), postalForm{}, "", notice)
}

func (h *Handler) showPostal(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, f postalFilter, form postalForm, msg, notice string) {
	d, err := h.postalData(r.Context(), c, f)
	if relais.ErrorCode(err) == relais.EINVALID && msg == "" {
		// A bad filter in the address: show the first page, and why.
		status, msg = http.StatusBadRequest, locale.Message(err, c.lang)
		d, err = h.postalData(r.Context(), c, postalFilter{})
	}
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	d.Form, d.Notice = form, notice
	var data any = d
	if msg != "" {
		data = pageError{msg: msg, data: d}
	}
	h.render(w, r, c, status, "ui_postal", "postal_title", data)
}

func (h *Handler) postalData(ctx context.Context, c *reqCtx, f postalFilter) (postalData, error) {
	d := postalData{Filter: f, First: f.After == 0, Unassigned: relais.PostalUnassigned,
		Statuses: []relais.PostalBatchStatus{relais.PostalBatchPending, relais.PostalBatchReady, relais.PostalBatchPrinted,
			relais.PostalBatchPosted, relais.PostalBatchFailed}}
	if f.After < 0 {
		return d, relais.Errorf(relais.EINVALID, "after must be an id from a previous page (a number ≥ 0).")
	}
	bf := relais.PostalBatchFilter{Status: relais.PostalBatchStatus(f.Status), Page: relais.Page{After: f.After, Limit: postalPageSize}.Normalize()}
	if f.Lesson != "" {
		n, err := strconv.ParseInt(f.Lesson, 10, 64)
		if err != nil || n < 0 {
			return d, relais.Errorf(relais.EINVALID, "%s must be a positive number.", "lesson_id")
		}
		bf.LessonID = n
	}
	regions, err := h.regionChoices(ctx, "")
	if err != nil {
		return d, err
	}
	d.Regions = regions
	batches, err := h.store.PostalBatches(ctx, bf)
	if err != nil {
		return d, err
	}
	if len(batches) == bf.Page.Limit && len(batches) > 0 {
		d.NextAfter = batches[len(batches)-1].ID
	}
	titles := map[int64]string{}
	for _, b := range batches {
		title, ok := titles[b.LessonID]
		if !ok {
			l, err := h.store.Lesson(ctx, b.LessonID)
			if err != nil && relais.ErrorCode(err) != relais.ENOTFOUND {
				return d, err
			}
			title, titles[b.LessonID] = l.Title, l.Title
		}
		row := postalRow{PostalBatch: b, Title: title, StatusText: c.t("postal_st_" + string(b.Status)),
			Created:  h.zoned(b.CreatedAt),
			CanPrint: b.Status.Next(relais.PostalBatchPrinted), CanPost: b.Status.Next(relais.PostalBatchPosted)}
		if b.PDFPath != "" {
			row.PDFURL = fmt.Sprintf("/ui/postal/%d/pdf", b.ID)
		}
		if !b.PrintedAt.IsZero() {
			row.Printed = h.zoned(b.PrintedAt)
		}
		if !b.PostedAt.IsZero() {
			row.Posted = h.zoned(b.PostedAt)
		}
		d.Batches = append(d.Batches, row)
	}
	// Postal packets wait for published lessons only.
	ls, err := h.store.Lessons(ctx, relais.LessonFilter{Status: relais.LessonPublished, Page: relais.Page{Limit: 200}.Normalize()})
	if err != nil {
		return d, err
	}
	d.Lessons = ls
	return d, nil
}

// createPostalBatch makes a new batch of a lesson's queued packets in a region.
func (h *Handler) createPostalBatch(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	form := postalForm{Region: strings.TrimSpace(r.PostFormValue("region"))}
	form.LessonID, _ = strconv.ParseInt(r.PostFormValue("lesson_id"), 10, 64)
	b, _, err := h.lessons.CreatePostalBatch(r.Context(), c.user, form.LessonID, form.Region)
	if err != nil {
		h.refuse(w, r, c, err, func(status int, msg string) { h.showPostal(w, r, c, status, postalFilter{}, form, msg, "") })
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/ui/postal?created=%d#batch-%d", b.ID, b.ID), http.StatusSeeOther)
}

func (h *Handler) markPostalPrinted(w http.ResponseWriter, r *http.Request, c *reqCtx, id int64) {
	h.markPostal(w, r, c, id, relais.PostalBatchPrinted)
}

func (h *Handler) markPostalPosted(w http.ResponseWriter, r *http.Request, c *reqCtx, id int64) {
	h.markPostal(w, r, c, id, relais.PostalBatchPosted)
}

// markPostal records that a batch was printed or posted (posting marks its deliveries sent), and goes
// back to the page the form was on.
func (h *Handler) markPostal(w http.ResponseWriter, r *http.Request, c *reqCtx, id int64, step relais.PostalBatchStatus) {
	r.ParseForm()
	f := readPostalFilter(r.PostForm)
	if _, err := h.store.MarkPostalBatch(r.Context(), id, step); err != nil {
		h.refuse(w, r, c, err, func(status int, msg string) {
			h.showPostal(w, r, c, status, f, postalForm{}, fmt.Sprintf(c.t("postal_batch_err"), id, msg), "")
		})
		return
	}
	http.Redirect(w, r, fmt.Sprintf("%s#batch-%d", f.url(f.After), id), http.StatusSeeOther)
}

// postalFile downloads a batch's PDF or CSV.
func (h *Handler) postalFile(w http.ResponseWriter, r *http.Request, c *reqCtx, id int64) {
	kind := "pdf"
	if strings.HasSuffix(r.URL.Path, "/csv") {
		kind = "csv"
	}
	path, ct, err := h.lessons.PostalBatchFile(r.Context(), id, kind)
	if err == nil {
		err = h.lessons.ServeAttachment(w, r, path, ct, fmt.Sprintf("postal-batch-%d.%s", id, kind))
	}
	if err != nil {
		h.fail(w, r, c, err)
	}
}
