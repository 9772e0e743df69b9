package ui

// The admin's SMS senders page: the configured sender pool, each sender with its kind, rate and
// account, and per country the senders that share its households and their summed rate.

import (
	"net/http"

	"github.com/relais-edu/relais/channels"
)

type sendersData struct {
	Senders   channels.Pool
	Countries []channels.CountryCapacity
	LoadBound float64 // RELAIS_SMS_LOAD_BOUND
}

func (h *Handler) smsSenders(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	pc := h.lessons.PlanDefaults()
	p := pc.SMSPool
	h.render(w, r, c, http.StatusOK, "ui_senders", "senders_title", sendersData{Senders: p, Countries: p.Summary(), LoadBound: pc.SMSLoadBound})
}
