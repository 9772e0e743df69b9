package api

import (
	"fmt"
	"net/http"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/audit"
)

type auditJSON struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Role    string    `json:"role"`
	Action  string    `json:"action"`
	Target  string    `json:"target"`
	Address string    `json:"address"`
}

func toAuditJSON(e relais.AuditEntry) auditJSON {
	return auditJSON{ID: e.ID, At: e.At, Actor: e.Actor, Role: string(e.Role), Action: string(e.Action), Target: e.Target, Address: e.Address}
}

// listAudit answers one page of the audit log, newest first.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	f, err := audit.ParseFilter(r.URL.Query(), time.UTC)
	if err != nil {
		return err
	}
	f.Page = f.Page.Normalize()
	es, err := s.store.AuditEntries(r.Context(), f)
	if err != nil {
		return err
	}
	return writePage(w, es, f.Page, toAuditJSON, func(e relais.AuditEntry) int64 { return e.ID })
}

// exportAudit answers every entry the filter selects as CSV.
func (s *Server) exportAudit(w http.ResponseWriter, r *http.Request) error {
	f, err := audit.ParseFilter(r.URL.Query(), time.UTC)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="relais-audit-%s.csv"`, s.now().UTC().Format("20060102")))
	if err := audit.Export(r.Context(), s.store, f, w); err != nil {
		s.log.Error("export audit log", "err", err) // the header is sent: the cut CSV is the answer
	}
	return nil
}
