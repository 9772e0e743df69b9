package ui

// The household import page: a CSV imported by roster.Importer, as the JSON API does, with the rows it
// refused.

import (
	"net/http"
	"net/url"

	"github.com/relais-edu/relais/roster"
)

// importData is the household import page, with the last import's result.
type importData struct {
	Action string
	Done   bool
	Result roster.ImportResult
}

func (h *Handler) importForm(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	h.render(w, r, c, http.StatusOK, "ui_import", "import", importData{Action: "/ui/households/import?csrf=" + url.QueryEscape(c.csrf)})
}

// importHouseholds imports the multipart CSV as the API does and shows the rows it refused.
func (h *Handler) importHouseholds(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	d := importData{Action: "/ui/households/import?csrf=" + url.QueryEscape(c.csrf)}
	r.Body = http.MaxBytesReader(w, r.Body, h.households.MaxBytes)
	body, err := roster.CSVBody(r)
	if err == nil {
		d.Result, err = h.households.Import(r.Context(), body, c.lang)
	}
	if err != nil {
		h.refuse(w, r, c, err, func(status int, msg string) {
			h.render(w, r, c, status, "ui_import", "import", pageError{msg: msg, data: d})
		})
		return
	}
	// An import where every row was refused is still a result with row errors to show.
	status := http.StatusOK
	if d.Result.AllRefused() {
		status = http.StatusUnprocessableEntity
	}
	d.Done = true
	h.render(w, r, c, status, "ui_import", "import", d)
}
