package api

import (
	"net/http"

	"github.com/relais-edu/relais/channels"
)

// SMSSenders is the SMS sender pool (GET /api/v1/sms/senders): each sender with its rate and account
// (never its token), and per country the senders that share its households and their summed rate.
type SMSSenders struct {
	Senders   []channels.Lane            `json:"senders"`
	Countries []channels.CountryCapacity `json:"countries"`
	// LoadBound is RELAIS_SMS_LOAD_BOUND: the most a sender takes of a fan-out page's households of its
	// country, as a multiple of its share; 0: no bound.
	LoadBound float64 `json:"load_bound"`
}

// getSMSSenders lists the configured SMS senders (admin); none when SMS is not configured.
func (s *Server) getSMSSenders(w http.ResponseWriter, r *http.Request) error {
	p := s.cfg.Plan.SMSPool
	writeJSON(w, http.StatusOK, SMSSenders{Senders: append([]channels.Lane{}, p...), Countries: p.Summary(), LoadBound: s.cfg.Plan.SMSLoadBound})
	return nil
}
