package api

import (
	"fmt"
	"net/http"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/roster"
)

// Household is the JSON form of a household.
type Household struct {
	ID            int64                `json:"id"`
	ExternalRef   string               `json:"external_ref"`
	Region        string               `json:"region"`
	Language      string               `json:"language"` // the contact language
	Pupils        []relais.Pupil       `json:"pupils"`
	Grades        []int                `json:"grades"` // the pupils' grades, each once
	Profile       relais.Profile       `json:"profile"`
	Phone         string               `json:"phone,omitempty"`
	Email         string               `json:"email,omitempty"`
	PostalAddress string               `json:"postal_address,omitempty"`
	Consent       bool                 `json:"consent"`
	SMSOptOut     bool                 `json:"sms_opt_out"`
	EmailOptOut   bool                 `json:"email_opt_out"`
	PhoneStatus   relais.ContactStatus `json:"phone_status,omitempty"`
	EmailStatus   relais.ContactStatus `json:"email_status,omitempty"`
	SMSSender     string               `json:"sms_sender,omitempty"` // the sender its SMS come from, once chosen
	CreatedAt     time.Time            `json:"created_at"`
}

func householdJSON(h relais.Household) Household {
	grades := h.Grades
	if grades == nil {
		grades = []int{}
	}
	pupils := h.Pupils
	if pupils == nil {
		pupils = []relais.Pupil{}
	}
	return Household{ID: h.ID, ExternalRef: h.ExternalRef, Region: h.Region, Language: h.Language, Pupils: pupils, Grades: grades,
		Profile: h.Profile, Phone: h.Phone, Email: h.Email, PostalAddress: h.PostalAddress, Consent: h.Consent,
		SMSOptOut: h.SMSOptOut, EmailOptOut: h.EmailOptOut, PhoneStatus: h.PhoneStatus, EmailStatus: h.EmailStatus,
		SMSSender: h.SMSSender, CreatedAt: h.CreatedAt}
}

func (s *Server) listHouseholds(w http.ResponseWriter, r *http.Request) error {
	q := listQuery{r: r}
	p, grade := q.page(), q.int("grade")
	if q.err != nil {
		return q.err
	}
	f := relais.HouseholdFilter{Region: r.URL.Query().Get("region"), Grade: int(grade),
		Profile: relais.Profile(r.URL.Query().Get("profile")), Page: p}
	if f.Profile != "" && !relais.ValidProfile(f.Profile) {
		return relais.Errorf(relais.EINVALID, "profile %q is unknown.", f.Profile)
	}
	hs, err := s.store.Households(r.Context(), f)
	if err != nil {
		return err
	}
	return writePage(w, hs, p, householdJSON, func(x relais.Household) int64 { return x.ID })
}

// ImportResult reports a household import.
type ImportResult = roster.ImportResult

// importHouseholds reads a CSV (text/csv body, or a multipart 'file' field). Good rows are stored,
// bad rows come back with their row number and reason, in the request's language as writeError does.
// With full=true the file is the whole roster: the households it leaves out are marked removed.
func (s *Server) importHouseholds(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, s.households.MaxBytes)
	body, err := roster.CSVBody(r)
	if err != nil {
		return err
	}
	var res ImportResult
	switch full := r.URL.Query().Get("full"); full {
	case "", "false":
		res, err = s.households.Import(r.Context(), body, lang(r))
	case "true":
		res, err = s.households.ImportFull(r.Context(), body, lang(r), s.store, s.now())
	default:
		return relais.Errorf(relais.EINVALID, "full=%q: use full=true for a file that is the whole roster, or leave it out.", full)
	}
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.AllRefused() {
		status = http.StatusUnprocessableEntity
	}
	writeJSON(w, status, res)
	return nil
}

// exportHousehold answers a family's access request: everything Relais holds about the household, as
// a JSON attachment.
func (s *Server) exportHousehold(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	rec, err := s.store.HouseholdRecord(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="household-%d.json"`, id))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, rec)
	return nil
}

// eraseHousehold answers a family's erasure request: its contacts and messages go, its anonymous
// deliveries stay for the counts (relais.PrivacyStore).
func (s *Server) eraseHousehold(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := s.store.EraseHousehold(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// UserClasses is the JSON form of the classes a teacher teaches.
type UserClasses struct {
	Classes []string `json:"classes"`
}

// getUserClasses returns the classes a user teaches (admin).
func (s *Server) getUserClasses(w http.ResponseWriter, r *http.Request) error {
	cs, err := s.store.UserClasses(r.Context(), r.PathValue("user"))
	if err != nil {
		return err
	}
	if cs == nil {
		cs = []string{}
	}
	writeJSON(w, http.StatusOK, UserClasses{Classes: cs})
	return nil
}

// putUserClasses replaces the classes a user teaches (admin): the user's lessons go to them by default.
func (s *Server) putUserClasses(w http.ResponseWriter, r *http.Request) error {
	var in UserClasses
	if err := readBody(r, &in); err != nil {
		return err
	}
	if err := (relais.Audience{Classes: in.Classes}).Check(); err != nil {
		return err
	}
	if err := s.store.SetUserClasses(r.Context(), r.PathValue("user"), in.Classes); err != nil {
		return err
	}
	return s.getUserClasses(w, r)
}
