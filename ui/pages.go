package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/yuin/goldmark"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/lessons"
	"github.com/relais-edu/relais/roster"
)

func (h *Handler) home(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	target := "/ui/signin"
	if c.signedIn() {
		target = "/ui/lessons"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

type signinData struct{ Next string }

func (h *Handler) signinForm(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if c.signedIn() {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	h.render(w, r, c, http.StatusOK, "ui_signin", "signin", signinData{Next: safeNext(r.URL.Query().Get("next"))})
}

func (h *Handler) signin(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	tok := strings.TrimSpace(r.PostFormValue("token"))
	next := safeNext(r.PostFormValue("next"))
	if _, err := h.store.UserByTokenHash(r.Context(), relais.HashToken(tok)); tok == "" || err != nil {
		if err != nil && relais.ErrorCode(err) == relais.EINTERNAL {
			h.fail(w, r, c, err)
			return
		}
		h.render(w, r, c, http.StatusUnauthorized, "ui_signin", "signin", pageError{msg: c.t("err_token"), data: signinData{Next: next}})
		return
	}
	h.startSession(w, tok)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) signout(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	h.endSession(w)
	http.Redirect(w, r, "/ui/signin", http.StatusSeeOther)
}

func (h *Handler) setLang(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if l := r.PostFormValue("lang"); validLang(l) {
		http.SetCookie(w, h.cookie(langCookie, l, 365*24*3600))
	}
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

// lessonRow is a lesson in a listing.
type lessonRow struct {
	relais.Lesson
	StatusText string
}

type lessonsData struct {
	Heading string
	Lessons []lessonRow
}

func (h *Handler) lessonList(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	f := relais.LessonFilter{Page: relais.Page{Limit: 200}.Normalize()}
	heading := c.t("all_lessons")
	if !c.user.CanSeeAllLessons() {
		f.TeacherID, heading = c.user.ID, c.t("my_lessons")
	}
	ls, err := h.store.Lessons(r.Context(), f)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	h.render(w, r, c, http.StatusOK, "ui_lessons", "lessons", lessonsData{Heading: heading, Lessons: rows(c, ls)})
}

func rows(c *reqCtx, ls []relais.Lesson) []lessonRow {
	out := make([]lessonRow, len(ls))
	for i, l := range ls {
		out[i] = lessonRow{Lesson: l, StatusText: c.t("st_" + string(l.Status))}
	}
	return out
}

// uploadForm is the upload page's data: the languages to pick and the defaults.
type uploadForm struct {
	Languages []string
	Action    string // the form's action, with the CSRF token for a browser without JavaScript
}

func (h *Handler) newLesson(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	h.render(w, r, c, http.StatusOK, "ui_upload", "new_lesson", h.uploadForm(c))
}

func (h *Handler) uploadForm(c *reqCtx) uploadForm {
	return uploadForm{Languages: relais.Languages, Action: "/ui/lessons?csrf=" + url.QueryEscape(c.csrf)}
}

// createLesson stores the multipart upload as the API does. The page's script sends it with XHR (for
// the progress bar) and gets JSON back; a plain form post is redirected to the new lesson.
func (h *Handler) createLesson(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	r.Body = http.MaxBytesReader(w, r.Body, h.lessons.UploadLimit())
	mr, err := lessons.Multipart(r)
	var l relais.Lesson
	if err == nil {
		l, err = h.lessons.Create(r.Context(), c.user, mr)
	}
	xhr := r.Header.Get("X-Requested-With") == "XMLHttpRequest"
	if err != nil {
		if xhr {
			writeJSON(w, relais.HTTPStatus(relais.ErrorCode(err)), map[string]string{"error": h.message(w, r, c, err)})
			return
		}
		h.refuse(w, r, c, err, func(status int, msg string) {
			h.render(w, r, c, status, "ui_upload", "new_lesson", pageError{msg: msg, data: h.uploadForm(c)})
		})
		return
	}
	loc := fmt.Sprintf("/ui/lessons/%d", l.ID)
	if xhr {
		writeJSON(w, http.StatusCreated, map[string]string{"location": loc})
		return
	}
	http.Redirect(w, r, loc, http.StatusSeeOther)
}

// preview renders the Markdown as it reads (raw HTML in it is escaped, not rendered).
func (h *Handler) preview(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	r.Body = http.MaxBytesReader(w, r.Body, 256<<10)
	src, err := io.ReadAll(r.Body)
	if err != nil {
		h.fail(w, r, c, relais.Errorf(relais.ETOOLARGE, "%s", err))
		return
	}
	var buf bytes.Buffer
	if err := goldmark.Convert(src, &buf); err != nil {
		h.fail(w, r, c, relais.Errorf(relais.EINVALID, "%s", err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// lessonData is the lesson page.
type lessonData struct {
	Lesson     lessons.Detail
	StatusText string
	Moving     bool
	Videos     []renditionView
	Audios     []renditionView
	SheetSize  string
	Deliveries []channelCounts
	Totals     []int64 // none on the lesson page
	Statuses   []relais.DeliveryStatus
	CanPublish bool
	Approval   approvalView // broadcast approval (ui/review.go)
}

func (d lessonData) refresh() int {
	if d.Moving {
		return 3
	}
	return 0
}

// channelCounts is one channel's row of the deliveries table.
type channelCounts struct {
	Channel relais.ChannelName
	Counts  []int64 // in the order of relais.DeliveryStatuses
	Total   int64
}

func (h *Handler) lesson(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	l, err := h.lessonDetail(r, c)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	d := lessonData{Lesson: l, StatusText: c.t("st_" + string(l.Status)), Statuses: relais.DeliveryStatuses,
		Deliveries: tabulate(l.Deliveries), CanPublish: staff.allows(c.user.Role) && l.Status == relais.LessonReady}
	if d.Approval, err = h.lessonApproval(r.Context(), c, l); err != nil {
		h.fail(w, r, c, err)
		return
	}
	d.Moving = l.Status == relais.LessonUploaded || l.Status == relais.LessonProcessing || inFlight(d.Deliveries)
	for _, x := range l.Renditions {
		x.URL = fmt.Sprintf("/ui/lessons/%d/renditions/%s", l.ID, x.Kind)
		v := renditionView{Rendition: x, Size: humanSize(x.Bytes)}
		if x.Kind == relais.RenditionTV {
			d.Videos = append(d.Videos, v) // MPEG-TS: offered for download, browsers do not play it
		} else {
			d.Audios = append(d.Audios, v)
		}
	}
	if l.Worksheet != nil {
		l.Worksheet.URL = fmt.Sprintf("/ui/lessons/%d/worksheet", l.ID)
		d.SheetSize = humanSize(l.Worksheet.Bytes)
	}
	h.render(w, r, c, http.StatusOK, "ui_lesson", "lessons", d)
}

// renditionView is a rendition with its size for people.
type renditionView struct {
	lessons.Rendition
	Size string
}

// humanSize writes n bytes as B, KiB or MiB.
func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// lessonDetail reads the route's lesson as the lesson service shows it to the user: another
// teacher's lesson is not found.
func (h *Handler) lessonDetail(r *http.Request, c *reqCtx) (lessons.Detail, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return lessons.Detail{}, relais.Errorf(relais.ENOTFOUND, "Lesson %q not found.", r.PathValue("id"))
	}
	return h.lessons.Detail(r.Context(), c.user, id, c.lang)
}

func tabulate(m map[relais.ChannelName]map[relais.DeliveryStatus]int64) []channelCounts {
	var out []channelCounts
	for ch, byStatus := range m {
		row := channelCounts{Channel: ch}
		for _, st := range relais.DeliveryStatuses {
			row.Counts = append(row.Counts, byStatus[st])
			row.Total += byStatus[st]
		}
		out = append(out, row)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Channel < out[j].Channel })
	return out
}

// inFlight reports whether some delivery may still change: pending or sending anywhere, or queued or
// sent on a channel whose provider reports back (postal and email stop at queued and sent).
func inFlight(rows []channelCounts) bool {
	for _, row := range rows {
		for i, st := range relais.DeliveryStatuses {
			if row.Counts[i] == 0 {
				continue
			}
			switch {
			case st == relais.DeliveryPending, st == relais.DeliverySending:
				return true
			case row.Channel == relais.ChannelSMS && (st == relais.DeliveryQueued || st == relais.DeliverySent):
				return true
			}
		}
	}
	return false
}

// lessonFile serves a rendition or the worksheet of a lesson the user may see, with range requests
// for the players.
func (h *Handler) lessonFile(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	id, err := pathNumber(r, c, "kind_lesson")
	var path string
	switch kind := r.PathValue("kind"); {
	case err != nil:
	case kind != "":
		path, err = h.lessons.RenditionFile(r.Context(), c.user, id, kind)
	default:
		path, err = h.lessons.WorksheetFile(r.Context(), c.user, id)
	}
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	lessons.ServeFile(w, r, path)
}

func (h *Handler) publishList(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	ls, err := h.store.Lessons(r.Context(), relais.LessonFilter{Status: relais.LessonReady, Page: relais.Page{Limit: 200}.Normalize()})
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	h.render(w, r, c, http.StatusOK, "ui_publish", "to_publish", rows(c, ls))
}

func (h *Handler) publish(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.fail(w, r, c, relais.Errorf(relais.ENOTFOUND, "Lesson %q not found.", r.PathValue("id")))
		return
	}
	if _, err := h.lessons.Publish(r.Context(), c.user, id, c.lang); err != nil {
		h.fail(w, r, c, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/ui/lessons/%d/deliveries", id), http.StatusSeeOther)
}

// importData is the household import page, with the last import's result.
type importData struct {
	Action string
	Done   bool
	Result roster.ImportResult
}

func (h *Handler) importForm(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	h.render(w, r, c, http.StatusOK, "ui_import", "import", importData{Action: "/ui/households/import?csrf=" + url.QueryEscape(c.csrf)})
}

// importHouseholds imports the multipart CSV as the API does and shows the rows it refused.
func (h *Handler) importHouseholds(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	d := importData{Action: "/ui/households/import?csrf=" + url.QueryEscape(c.csrf)}
	r.Body = http.MaxBytesReader(w, r.Body, h.households.MaxBytes)
	body, err := roster.CSVBody(r)
	if err == nil {
		d.Result, err = h.households.Import(r.Context(), body, c.lang)
	}
	if err != nil {
		h.refuse(w, r, c, err, func(status int, msg string) {
			h.render(w, r, c, status, "ui_import", "import", pageError{msg: msg, data: d})
		})
		return
	}
	// An import where every row was refused is still a result with row errors to show.
	status := http.StatusOK
	if d.Result.AllRefused() {
		status = http.StatusUnprocessableEntity
	}
	d.Done = true
	h.render(w, r, c, status, "ui_import", "import", d)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
