package ui

// The lesson pages: the lists, the upload form, a lesson's page with its files, and publishing. They
// call lessons.Service, as the JSON API does.

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/lessons"
)

// lessonRow is a lesson in a listing.
type lessonRow struct {
	relais.Lesson
	StatusText string
	Created    string // in the configured zone
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
	h.render(w, r, c, http.StatusOK, "ui_lessons", "lessons", lessonsData{Heading: heading, Lessons: h.rows(c, ls)})
}

func (h *Handler) rows(c *reqCtx, ls []relais.Lesson) []lessonRow {
	out := make([]lessonRow, len(ls))
	for i, l := range ls {
		out[i] = lessonRow{Lesson: l, StatusText: c.t("st_" + string(l.Status)), Created: h.zoned(l.CreatedAt)}
	}
	return out
}

// lessonData is the lesson page.
type lessonData struct {
	Lesson     lessons.Detail
	StatusText string
	Audience   string // the lesson's audience in the page's language (audienceText)
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
	d := lessonData{Lesson: l, StatusText: c.t("st_" + string(l.Status)), Audience: audienceText(c, l.Audience), Statuses: relais.DeliveryStatuses,
		Deliveries: tabulate(l.Deliveries), CanPublish: staff.allows(c.user.Role) && l.Status == relais.LessonReady}
	if d.Approval, err = h.lessonApproval(r.Context(), c, l); err != nil {
		h.fail(w, r, c, err)
		return
	}
	d.Moving = l.Status == relais.LessonUploaded || l.Status == relais.LessonProcessing || inFlight(d.Deliveries)
	for _, x := range l.Renditions {
		x.URL = fmt.Sprintf("/ui/lessons/%d/renditions/%s", l.ID, x.Kind)
		v := renditionView{Rendition: x, Size: relais.HumanBytes(x.Bytes)}
		if x.Kind == relais.RenditionTV {
			d.Videos = append(d.Videos, v) // MPEG-TS: offered for download, browsers do not play it
		} else {
			d.Audios = append(d.Audios, v)
		}
	}
	if l.Worksheet != nil {
		l.Worksheet.URL = fmt.Sprintf("/ui/lessons/%d/worksheet", l.ID)
		d.SheetSize = relais.HumanBytes(l.Worksheet.Bytes)
	}
	h.render(w, r, c, http.StatusOK, "ui_lesson", "lessons", d)
}

// renditionView is a rendition with its size for people.
type renditionView struct {
	lessons.Rendition
	Size string
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
			case st == relais.DeliveryPending, st == relais.DeliveryClaimed, st == relais.DeliverySending:
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
func (h *Handler) lessonFile(w http.ResponseWriter, r *http.Request, c *reqCtx, id int64) {
	var path string
	var err error
	switch kind := r.PathValue("kind"); {
	case kind != "":
		path, err = h.lessons.RenditionFile(r.Context(), c.user, id, kind)
	default:
		path, err = h.lessons.WorksheetFile(r.Context(), c.user, id)
	}
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	if err := h.lessons.ServeFile(w, r, path); err != nil {
		h.fail(w, r, c, err)
	}
}

func (h *Handler) publishList(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	ls, err := h.store.Lessons(r.Context(), relais.LessonFilter{Status: relais.LessonReady, Page: relais.Page{Limit: 200}.Normalize()})
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	h.render(w, r, c, http.StatusOK, "ui_publish", "to_publish", h.rows(c, ls))
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
