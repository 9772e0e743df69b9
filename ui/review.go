package ui

// Broadcast approval: teachers submit their lessons, the media unit approves or rejects them (with a
// reason the teacher reads on the lesson page).

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/lessons"
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
		v.Text, v.When = c.t("ap_"+string(a.State)), h.zoned(a.UpdatedAt)
	}
	airable := l.Status == relais.LessonReady || l.Status == relais.LessonPublished
	v.CanSubmit = airable && (v.State == "" || v.State == relais.Rejected) &&
		(l.TeacherID == c.user.ID || c.user.CanSeeAllLessons())
	return v, nil
}

// submitLesson puts a lesson forward for broadcast.
func (h *Handler) submitLesson(w http.ResponseWriter, r *http.Request, c *reqCtx, id int64) {
	if _, err := h.sched.Submit(r.Context(), c.user, id); err != nil {
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
			SubmittedAt: h.zoned(s.Approval.UpdatedAt)})
	}
	return out, nil
}

func (h *Handler) approveLesson(w http.ResponseWriter, r *http.Request, c *reqCtx, id int64) {
	h.decide(w, r, c, id, relais.Approved)
}

func (h *Handler) rejectLesson(w http.ResponseWriter, r *http.Request, c *reqCtx, id int64) {
	h.decide(w, r, c, id, relais.Rejected)
}

// decide approves or rejects a submitted lesson; a refusal (a rejection without a reason, a lesson not
// submitted) is shown on the review page.
func (h *Handler) decide(w http.ResponseWriter, r *http.Request, c *reqCtx, id int64, state relais.ApprovalState) {
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
