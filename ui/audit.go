package ui

// The admin's audit log page: who changed what, when and from where, newest first, filtered by actor,
// action and dates, a page at a time, and exported as CSV with the same filter.

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/audit"
)

// auditedPages are the UI routes that change something, by pattern: each success is written to the
// audit log (a token made is written by createToken, which knows its id).
var auditedPages = map[string]audit.Rule{
	"POST /ui/lessons":                     {Action: relais.AuditCreate, Kind: "lesson"},
	"POST /ui/lessons/{id}/publish":        {Action: relais.AuditPublish, Kind: "lesson"},
	"POST /ui/lessons/{id}/resend-unknown": {Action: relais.AuditEdit, Kind: "lesson"},
	"POST /ui/households/import":           {Action: relais.AuditImport, Kind: "households"},
	"POST /ui/lessons/{id}/submit":         {Action: relais.AuditSubmit, Kind: "lesson"},
	"POST /ui/lessons/{id}/approve":        {Action: relais.AuditApprove, Kind: "lesson"},
	"POST /ui/lessons/{id}/reject":         {Action: relais.AuditReject, Kind: "lesson"},
	"POST /ui/stations":                    {Action: relais.AuditCreate, Kind: "station"},
	"POST /ui/stations/{id}":               {Action: relais.AuditEdit, Kind: "station"},
	"POST /ui/stations/{id}/delete":        {Action: relais.AuditDelete, Kind: "station"},
	"POST /ui/stations/{id}/templates":     {Action: relais.AuditEdit, Kind: "station"},
	"POST /ui/stations/{id}/slots":         {Action: relais.AuditEdit, Kind: "station"},
	"POST /ui/stations/{id}/exceptions":    {Action: relais.AuditEdit, Kind: "station"},
	"POST /ui/slots/{id}/assign":           {Action: relais.AuditEdit, Kind: "slot"},
	"POST /ui/slots/{id}/unassign":         {Action: relais.AuditEdit, Kind: "slot"},
	"POST /ui/slots/{id}/sequence":         {Action: relais.AuditEdit, Kind: "slot"},
	"POST /ui/schedule/fill":               {Action: relais.AuditEdit, Kind: "schedule"},
	"POST /ui/postal":                      {Action: relais.AuditCreate, Kind: "postal batch"},
	"POST /ui/postal/{id}/printed":         {Action: relais.AuditEdit, Kind: "postal batch"},
	"POST /ui/postal/{id}/posted":          {Action: relais.AuditEdit, Kind: "postal batch"},
	"POST /ui/admin/tokens/{id}/rotate":    {Action: relais.AuditRotate, Kind: "token"},
	"POST /ui/admin/tokens/{id}/revoke":    {Action: relais.AuditRevoke, Kind: "token"},
}

// auditPageSize is how many entries a page lists (a variable for the tests).
var auditPageSize = 50

type auditData struct {
	Entries   []auditRow
	Actions   []relais.AuditAction
	Filter    auditQuery
	NextURL   string // "" on the last page
	FirstURL  string // "" on the first page
	ExportURL string
}

type auditRow struct {
	relais.AuditEntry
	When string
}

// auditQuery is the filter as the form shows it.
type auditQuery struct {
	Actor, Action, Since, Until string
}

func (q auditQuery) values() url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"actor": q.Actor, "action": q.Action, "since": q.Since, "until": q.Until} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v
}

func (h *Handler) auditLog(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	q := r.URL.Query()
	data := auditData{Actions: relais.AuditActions,
		Filter: auditQuery{Actor: q.Get("actor"), Action: q.Get("action"), Since: q.Get("since"), Until: q.Get("until")}}
	f, err := audit.ParseFilter(q, h.loc())
	if err != nil {
		h.refuse(w, r, c, err, func(status int, msg string) {
			h.render(w, r, c, status, "ui_audit", "audit_title", pageError{msg: msg, data: data})
		})
		return
	}
	f.Limit = auditPageSize
	es, err := h.store.AuditEntries(r.Context(), f)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	for _, e := range es {
		data.Entries = append(data.Entries, auditRow{AuditEntry: e, When: h.stamp(e.At)})
	}
	base := data.Filter.values()
	data.ExportURL = "/ui/admin/audit.csv?" + base.Encode()
	if f.After > 0 {
		data.FirstURL = "/ui/admin/audit?" + base.Encode()
	}
	if len(es) == auditPageSize {
		next := data.Filter.values()
		next.Set("after", strconv.FormatInt(es[len(es)-1].ID, 10))
		data.NextURL = "/ui/admin/audit?" + next.Encode()
	}
	h.render(w, r, c, http.StatusOK, "ui_audit", "audit_title", data)
}

func (h *Handler) auditExport(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	f, err := audit.ParseFilter(r.URL.Query(), h.loc())
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="relais-audit-%s.csv"`, h.now().In(h.loc()).Format("20060102")))
	if err := audit.Export(r.Context(), h.store, f, w); err != nil {
		h.log.Error("export audit log", "err", err) // the header is sent: the cut CSV is the answer
	}
}
