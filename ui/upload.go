package ui

// The upload page and the lesson upload it posts (ui/uploads.go forwards its resumable uploads).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/lessons"
	"github.com/yuin/goldmark"
)

// uploadForm is the upload page's data: the languages to pick and the defaults.
type uploadForm struct {
	Languages []string
	Action    string // the form's action, with the CSRF token for a browser without JavaScript
	Subjects  []choice
	Regions   []choice
}

func (h *Handler) newLesson(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	f, err := h.uploadForm(r.Context(), c)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	h.render(w, r, c, http.StatusOK, "ui_upload", "new_lesson", f)
}

// uploadForm is the upload page's data: its action and its pick lists.
func (h *Handler) uploadForm(ctx context.Context, c *reqCtx) (uploadForm, error) {
	f := uploadForm{Languages: relais.Languages, Action: "/ui/lessons?csrf=" + url.QueryEscape(c.csrf), Subjects: h.subjectChoices(c, "")}
	var err error
	f.Regions, err = h.regionChoices(ctx, "")
	return f, err
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
			f, ferr := h.uploadForm(r.Context(), c)
			if ferr != nil {
				h.fail(w, r, c, ferr)
				return
			}
			h.render(w, r, c, status, "ui_upload", "new_lesson", pageError{msg: msg, data: f})
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
