package ui

// Postal batches: the media unit gathers a lesson's queued postal packets of a region into a print
// run, downloads its PDF and address CSV for the regional office, and records when it was printed and
// posted. Every step goes through the JSON API.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/api"
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
	api.PostalBatch
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
	q := url.Values{"limit": {strconv.Itoa(postalPageSize)}}
	if f.After > 0 {
		q.Set("after", strconv.FormatInt(f.After, 10))
	}
	if f.Status != "" {
		q.Set("status", f.Status)
	}
	if f.Lesson != "" {
		q.Set("lesson_id", f.Lesson)
	}
	var page struct {
		Items     []api.PostalBatch `json:"items"`
		NextAfter int64             `json:"next_after"`
	}
	if err := h.callAPIJSON(ctx, c, http.MethodGet, "/api/v1/postal-batches?"+q.Encode(), nil, &page); err != nil {
		return d, err
	}
	d.NextAfter = page.NextAfter
	titles := map[int64]string{}
	for _, b := range page.Items {
		title, ok := titles[b.LessonID]
		if !ok {
			l, err := h.store.Lesson(ctx, b.LessonID)
			if err != nil && relais.ErrorCode(err) != relais.ENOTFOUND {
				return d, err
			}
			title, titles[b.LessonID] = l.Title, l.Title
		}
		row := postalRow{PostalBatch: b, Title: title, StatusText: c.t("postal_st_" + string(b.Status)),
			Created:  b.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"),
			CanPrint: b.Status.Next(relais.PostalBatchPrinted), CanPost: b.Status.Next(relais.PostalBatchPosted)}
		if b.PrintedAt != nil {
			row.Printed = b.PrintedAt.UTC().Format("2006-01-02 15:04 UTC")
		}
		if b.PostedAt != nil {
			row.Posted = b.PostedAt.UTC().Format("2006-01-02 15:04 UTC")
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

// createPostalBatch asks the API for a new batch of a lesson's queued packets in a region.
func (h *Handler) createPostalBatch(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	form := postalForm{Region: strings.TrimSpace(r.PostFormValue("region"))}
	form.LessonID, _ = strconv.ParseInt(r.PostFormValue("lesson_id"), 10, 64)
	var b api.PostalBatch
	err := h.callAPIJSON(r.Context(), c, http.MethodPost, "/api/v1/postal-batches",
		map[string]any{"lesson_id": form.LessonID, "region": form.Region}, &b)
	if err != nil {
		if relais.ErrorCode(err) == relais.EINTERNAL {
			h.fail(w, r, c, err)
			return
		}
		h.showPostal(w, r, c, statuses[relais.ErrorCode(err)], postalFilter{}, form, locale.Message(err, c.lang), "")
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/ui/postal?created=%d#batch-%d", b.ID, b.ID), http.StatusSeeOther)
}

func (h *Handler) markPostalPrinted(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	h.markPostal(w, r, c, "printed")
}

func (h *Handler) markPostalPosted(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	h.markPostal(w, r, c, "posted")
}

// markPostal records through the API that a batch was printed or posted, and goes back to the page
// the form was on.
func (h *Handler) markPostal(w http.ResponseWriter, r *http.Request, c *reqCtx, step string) {
	id, err := pathNumber(r, c, "kind_batch")
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	r.ParseForm()
	f := readPostalFilter(r.PostForm)
	if err := h.callAPIJSON(r.Context(), c, http.MethodPost, fmt.Sprintf("/api/v1/postal-batches/%d/%s", id, step), nil, nil); err != nil {
		if relais.ErrorCode(err) == relais.EINTERNAL {
			h.fail(w, r, c, err)
			return
		}
		h.showPostal(w, r, c, statuses[relais.ErrorCode(err)], f, postalForm{},
			fmt.Sprintf(c.t("postal_batch_err"), id, locale.Message(err, c.lang)), "")
		return
	}
	http.Redirect(w, r, fmt.Sprintf("%s#batch-%d", f.url(f.After), id), http.StatusSeeOther)
}

// postalFile downloads a batch's PDF or CSV (the API names the attachment).
func (h *Handler) postalFile(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	id, err := pathNumber(r, c, "kind_batch")
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	kind := "pdf"
	if strings.HasSuffix(r.URL.Path, "/csv") {
		kind = "csv"
	}
	h.relayFile(w, r, c, fmt.Sprintf("/api/v1/postal-batches/%d/%s", id, kind), nil, "")
}
