package ui

// The media unit's view of the roster: a paged, searchable list of households with their pupils, and
// CSV exports of the roster and of a lesson's deliveries.

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/roster"
)

const householdsPerPage = 50

// householdsData is the households page.
type householdsData struct {
	Search, Region, Profile string
	Regions                 []choice // suggested: the configured and the stations' regions
	Profiles                []relais.Profile
	Households              []householdRow
	NextURL, ExportURL      string
}

type householdRow struct {
	relais.Household
	PupilsText string
}

// householdFilter reads the page's filters: an exact reference, phone or email, a region, a profile.
func householdFilter(q url.Values) (relais.HouseholdFilter, error) {
	f := relais.HouseholdFilter{Search: strings.TrimSpace(q.Get("q")), Region: strings.TrimSpace(q.Get("region")),
		Profile: relais.Profile(q.Get("profile"))}
	if f.Profile != "" && !relais.ValidProfile(f.Profile) {
		return f, relais.Errorf(relais.EINVALID, "profile %q is unknown.", f.Profile)
	}
	if a := q.Get("after"); a != "" {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil || n < 0 {
			return f, relais.Errorf(relais.EINVALID, "after must be a positive number.")
		}
		f.Page.After = n
	}
	return f, nil
}

func (h *Handler) householdsPage(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	q := r.URL.Query()
	f, err := householdFilter(q)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	f.Page.Limit = householdsPerPage
	hs, err := h.store.Households(r.Context(), f)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	data := householdsData{Search: f.Search, Region: f.Region, Profile: string(f.Profile), Profiles: relais.Profiles}
	if data.Regions, err = h.regionChoices(r.Context(), ""); err != nil {
		h.fail(w, r, c, err)
		return
	}
	for _, x := range hs {
		data.Households = append(data.Households, householdRow{Household: x, PupilsText: roster.FormatPupils(x.Pupils)})
	}
	keep := url.Values{}
	for _, k := range []string{"q", "region", "profile"} {
		if v := q.Get(k); v != "" {
			keep.Set(k, v)
		}
	}
	data.ExportURL = "/ui/households.csv?" + keep.Encode()
	if len(hs) == householdsPerPage {
		keep.Set("after", strconv.FormatInt(hs[len(hs)-1].ID, 10))
		data.NextURL = "/ui/households?" + keep.Encode()
	}
	h.render(w, r, c, http.StatusOK, "ui_households", "hh_title", data)
}

// rosterHeader is the roster export's first line: the import's columns (postal addresses with their
// line breaks written \n, as the import reads them), so an export imports again; the opt-outs come
// last, for reading (an import keeps those the store holds).
var rosterHeader = []string{"external_ref", "region", "language", "pupils", "profile", "phone", "email", "postal_address",
	"consent", "sms_opt_out", "email_opt_out"}

// exportHouseholds writes the households the page's filters keep as CSV (RFC 4180, CRLF), page by page.
func (h *Handler) exportHouseholds(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	f, err := householdFilter(r.URL.Query())
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	h.audit.RecordTarget(r, c.user, relais.AuditExport, "households")
	csvHeaders(w, fmt.Sprintf("relais-households-%s.csv", h.now().In(h.loc()).Format("20060102")))
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	cw.Write(rosterHeader)
	f.Page.Limit = 1000
	for {
		hs, err := h.store.Households(r.Context(), f)
		if err != nil {
			h.log.Error("export households", "err", err) // the header is sent: the cut CSV is the answer
			break
		}
		for _, x := range hs {
			cw.Write([]string{x.ExternalRef, x.Region, x.Language, roster.FormatPupils(x.Pupils), string(x.Profile), x.Phone, x.Email,
				strings.ReplaceAll(x.PostalAddress, "\n", `\n`), yesNo(x.Consent), yesNo(x.SMSOptOut), yesNo(x.EmailOptOut)})
		}
		if len(hs) < f.Page.Limit {
			break
		}
		f.Page.After = hs[len(hs)-1].ID
	}
	cw.Flush()
}

// deliveriesHeader is the first line of a lesson's deliveries export.
var deliveriesHeader = []string{"delivery_id", "household_ref", "region", "channel", "status", "reason", "attempts", "updated_at"}

// exportDeliveries writes every delivery of a lesson as CSV: which family, by which channel, what
// became of it (no contact: the roster export has them).
func (h *Handler) exportDeliveries(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	d, err := h.lessonDetail(r, c)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	csvHeaders(w, fmt.Sprintf("relais-lesson-%d-deliveries.csv", d.ID))
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	cw.Write(deliveriesHeader)
	if err := h.writeDeliveries(r.Context(), cw, d.ID); err != nil {
		h.log.Error("export deliveries", "lesson_id", d.ID, "err", err)
	}
	cw.Flush()
}

func (h *Handler) writeDeliveries(ctx context.Context, cw *csv.Writer, lessonID int64) error {
	f := relais.DeliveryFilter{LessonID: lessonID, Page: relais.Page{Limit: 1000}}
	for {
		ds, err := h.store.Deliveries(ctx, f)
		if err != nil {
			return err
		}
		ids := make([]int64, 0, len(ds))
		for _, d := range ds {
			ids = append(ids, d.HouseholdID)
		}
		hs, err := h.store.HouseholdsByIDs(ctx, ids)
		if err != nil {
			return err
		}
		for _, d := range ds {
			hh := hs[d.HouseholdID]
			cw.Write([]string{strconv.FormatInt(d.ID, 10), hh.ExternalRef, hh.Region, string(d.Channel), string(d.Status), d.Reason,
				strconv.Itoa(d.Attempts), d.UpdatedAt.UTC().Format(time.RFC3339)})
		}
		if len(ds) < f.Page.Limit {
			return nil
		}
		f.Page.After = ds[len(ds)-1].ID
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func csvHeaders(w http.ResponseWriter, filename string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
}
