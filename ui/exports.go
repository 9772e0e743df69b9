package ui

// A station's downloads: its XMLTV guide and its playout lists.

import (
	"fmt"
	"net/http"
	"strings"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/lessons"
	"github.com/relais-edu/relais/scheduler"
)

// stationEPG downloads a station's XMLTV guide from one day to another.
func (h *Handler) stationEPG(w http.ResponseWriter, r *http.Request, c *reqCtx, id int64) {
	q := r.URL.Query()
	from, to := q.Get("from"), q.Get("to")
	b, err := h.sched.XMLTVFile(r.Context(), id, from, to)
	h.download(w, r, c, err, scheduler.XMLTVType, b, fmt.Sprintf("station-%d-epg-%s-%s.xml", id, safeFileName(from), safeFileName(to)))
}

// stationPlaylist downloads a station's playout list of a day, in its playout format unless asked.
func (h *Handler) stationPlaylist(w http.ResponseWriter, r *http.Request, c *reqCtx, id int64) {
	gs := h.store
	st, err := gs.Station(r.Context(), id)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	q := r.URL.Query()
	format := q.Get("format")
	if format == "" {
		format = string(st.Playout)
	}
	ext := "json"
	if format == string(relais.FormatM3U) {
		ext = "m3u"
	}
	ct, b, err := h.sched.PlaylistFile(r.Context(), id, q.Get("date"), relais.PlayoutFormat(format), q.Get("filler"))
	h.download(w, r, c, err, ct, b, fmt.Sprintf("station-%d-playlist-%s.%s", id, safeFileName(q.Get("date")), ext))
}

// download answers a generated file b of content type ct as an attachment named filename, or err's
// error page.
func (h *Handler) download(w http.ResponseWriter, r *http.Request, c *reqCtx, err error, ct string, b []byte, filename string) {
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	w.Header().Set("Content-Type", ct)
	lessons.Attachment(w.Header(), filename)
	w.Write(b)
}

// safeFileName keeps the digits, letters and dashes of a file name part.
func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return -1
	}, s)
}
