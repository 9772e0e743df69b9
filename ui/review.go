package ui

// Broadcast approval and the publishing plan: teachers submit their lessons, the media unit approves
// or rejects them (with a reason the teacher reads on the lesson page), and reads a lesson's plan (how
// many families each channel reaches, and whether the channels can carry it before the broadcast)
// before publishing it.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/lessons"
	"github.com/relais-edu/relais/scheduler"
)

// approvalView is a lesson's broadcast approval on its page.
type approvalView struct {
	State     relais.ApprovalState // "" when never submitted
	Text      string
	Reason    string
	When      string
	CanSubmit bool
}

// lessonApproval reads a lesson's approval and says whether the user may submit it: a ready or
// published lesson not yet submitted, or rejected and submitted again.
func (h *Handler) lessonApproval(ctx context.Context, c *reqCtx, l lessons.Detail) (approvalView, error) {
	a, err := h.lessons.Approval(ctx, c.user, l.ID)
	if err != nil && relais.ErrorCode(err) != relais.ENOTFOUND {
		return approvalView{}, err
	}
	v := approvalView{State: a.State, Reason: a.Reason, Text: c.t("ap_none")}
	if err == nil {
		v.Text, v.When = c.t("ap_"+string(a.State)), a.UpdatedAt.UTC().Format("2006-01-02 15:04 UTC")
	}
	airable := l.Status == relais.LessonReady || l.Status == relais.LessonPublished
	v.CanSubmit = airable && (v.State == "" || v.State == relais.Rejected) &&
		(l.TeacherID == c.user.ID || c.user.CanSeeAllLessons())
	return v, nil
}

// submitLesson puts a lesson forward for broadcast.
func (h *Handler) submitLesson(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	id, err := pathNumber(r, c, "kind_lesson")
	if err == nil {
		_, err = h.sched.Submit(r.Context(), c.user, id)
	}
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/ui/lessons/%d#approval", id), http.StatusSeeOther)
}

// reviewData is the list of lessons waiting for the media unit's decision.
type reviewData struct {
	Lessons []reviewRow
	Notice  string
	Max     int // set when the list stops at maxReview
}

type reviewRow struct {
	Lesson      relais.Lesson
	StatusText  string
	Length      string
	SubmittedAt string
}

func (h *Handler) review(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	q := r.URL.Query()
	notice := ""
	if id, err := strconv.ParseInt(q.Get("lesson"), 10, 64); err == nil {
		switch q.Get("decided") {
		case string(relais.Approved):
			notice = fmt.Sprintf(c.t("review_approved_ok"), id)
		case string(relais.Rejected):
			notice = fmt.Sprintf(c.t("review_rejected_ok"), id)
		}
	}
	h.showReview(w, r, c, http.StatusOK, "", notice)
}

func (h *Handler) showReview(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, msg, notice string) {
	rows, err := h.submittedLessons(r.Context(), c)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	rd := reviewData{Lessons: rows, Notice: notice}
	if len(rows) == maxReview {
		rd.Max = maxReview
	}
	var data any = rd
	if msg != "" {
		data = pageError{msg: msg, data: data}
	}
	h.render(w, r, c, status, "ui_review", "review_title", data)
}

// maxReview is how many submitted lessons the review page lists at once: decisions take them off.
const maxReview = 500

// submittedLessons lists the lessons waiting for a decision, the longest waiting first.
func (h *Handler) submittedLessons(ctx context.Context, c *reqCtx) ([]reviewRow, error) {
	gs := h.store
	subs, err := gs.Submitted(ctx, maxReview)
	if err != nil {
		return nil, err
	}
	out := make([]reviewRow, 0, len(subs))
	for _, s := range subs {
		l := s.Lesson
		out = append(out, reviewRow{Lesson: l, StatusText: c.t("st_" + string(l.Status)),
			Length:      lengthText(time.Duration(l.DurationMS) * time.Millisecond),
			SubmittedAt: s.Approval.UpdatedAt.UTC().Format("2006-01-02 15:04 UTC")})
	}
	return out, nil
}

func (h *Handler) approveLesson(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	h.decide(w, r, c, relais.Approved)
}

func (h *Handler) rejectLesson(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	h.decide(w, r, c, relais.Rejected)
}

// decide approves or rejects a submitted lesson; a refusal (a rejection without a reason, a lesson not
// submitted) is shown on the review page.
func (h *Handler) decide(w http.ResponseWriter, r *http.Request, c *reqCtx, state relais.ApprovalState) {
	id, err := pathNumber(r, c, "kind_lesson")
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	reason := ""
	if state == relais.Rejected {
		reason = strings.TrimSpace(r.PostFormValue("reason"))
	}
	if _, err := h.sched.Decide(r.Context(), c.user, id, state == relais.Approved, reason); err != nil {
		h.refuse(w, r, c, err, func(status int, msg string) {
			h.showReview(w, r, c, status, fmt.Sprintf(c.t("review_lesson_err"), id, msg), "")
		})
		return
	}
	http.Redirect(w, r, "/ui/review?"+url.Values{"decided": {string(state)}, "lesson": {strconv.FormatInt(id, 10)}}.Encode(), http.StatusSeeOther)
}

// planData is a lesson's publishing plan with the form that sets its assumptions.
type planData struct {
	Lesson     lessons.Detail
	StatusText string
	Form       planForm
	Plan       *planView // nil when the assumptions were refused
	CanPublish bool
}

// planForm holds the plan's assumptions as typed; empty fields take the defaults.
type planForm struct {
	At             string // datetime-local, UTC
	SMSRate        string
	EmailRate      string
	PostalLeadDays string
}

type planView struct {
	At             string
	Households     int64
	FirstBroadcast string
	Channels       []planChannel
	Airings        []planAiring
	Warnings       []string
}

type planChannel struct {
	Name     string
	Label    string
	Count    int64
	Skipped  int64
	Estimate bool
	Messages int64
	Segments int64
	Duration string
	Finishes string
	Deadline string
	Late     bool
}

type planAiring struct {
	Station string
	Region  string
	Kind    string
	At      string
}

// planChannels is the order channels are shown in; others follow by name.
var planChannels = []string{"sms", "sms_reminder", "email", "postal", "tv", "radio"}

const planTime = "2006-01-02 15:04 -07:00"

func (h *Handler) plan(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	l, err := h.lessonDetail(r, c)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	q := r.URL.Query()
	d := planData{Lesson: l, StatusText: c.t("st_" + string(l.Status)), CanPublish: l.Status == relais.LessonReady,
		Form: planForm{At: q.Get("at"), SMSRate: q.Get("sms_rate"), EmailRate: q.Get("email_rate"), PostalLeadDays: q.Get("postal_lead_days")}}
	o := lessons.PlanOptions{At: strings.TrimSpace(d.Form.At), SMSRate: strings.TrimSpace(d.Form.SMSRate),
		EmailRate: strings.TrimSpace(d.Form.EmailRate), PostalLeadDays: strings.TrimSpace(d.Form.PostalLeadDays)}
	// A datetime-local field gives minutes without a zone: the form says it is UTC.
	if t, err := time.Parse("2006-01-02T15:04", o.At); err == nil {
		o.At = t.Format(time.RFC3339)
	}
	sum, err := h.lessons.Plan(r.Context(), l.ID, o)
	if err != nil {
		h.refuse(w, r, c, err, func(status int, msg string) {
			h.render(w, r, c, status, "ui_plan", "plan_title", pageError{msg: msg, data: d})
		})
		return
	}
	d.Plan = planFor(c, sum)
	h.render(w, r, c, http.StatusOK, "ui_plan", "plan_title", d)
}

// planFor arranges a plan summary for the page.
func planFor(c *reqCtx, sum scheduler.PlanSummary) *planView {
	// The warnings are written here from the figures, in the UI language; the scheduler's own English
	// sentences (sum.Warnings) serve the API and the CLI.
	v := &planView{At: sum.At.Format(planTime), Households: sum.Households}
	if !sum.FirstBroadcast.IsZero() {
		v.FirstBroadcast = sum.FirstBroadcast.Format(planTime)
	} else {
		v.Warnings = append(v.Warnings, c.t("plan_warn_unscheduled"))
	}
	names := slices.Clone(planChannels)
	for _, m := range []map[string]int64{sum.Counts, sum.Skipped} {
		for k := range m {
			if !slices.Contains(names, k) {
				names = append(names, k)
			}
		}
	}
	slices.Sort(names[len(planChannels):])
	for _, name := range names {
		e, hasEstimate := sum.Estimates[name]
		if sum.Counts[name] == 0 && sum.Skipped[name] == 0 && !hasEstimate {
			continue
		}
		ch := planChannel{Name: name, Label: name, Count: sum.Counts[name], Skipped: sum.Skipped[name], Estimate: hasEstimate}
		if s := c.t("plan_ch_" + name); s != "plan_ch_"+name {
			ch.Label = s
		}
		if hasEstimate {
			ch.Messages, ch.Segments = e.Messages, e.Segments
			ch.Duration = spanText(time.Duration(e.Seconds * float64(time.Second)))
			ch.Finishes = e.Finishes.Format(planTime)
			if !e.Deadline.IsZero() {
				ch.Deadline = e.Deadline.Format(planTime)
				ch.Late = e.Finishes.After(e.Deadline)
			}
			if ch.Late {
				v.Warnings = append(v.Warnings, fmt.Sprintf(c.t("plan_warn_late"), ch.Label, e.Messages, ch.Duration, ch.Finishes, ch.Deadline))
			}
		}
		v.Channels = append(v.Channels, ch)
	}
	for _, a := range sum.Airings {
		v.Airings = append(v.Airings, planAiring{Station: a.Station, Region: a.Region, Kind: a.Kind, At: a.At.Format(planTime)})
	}
	return v
}
