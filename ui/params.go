package ui

// Reading numbers from a route or a form, with messages in the page's language.

import (
	"net/http"
	"strconv"
	"strings"

	relais "github.com/relais-edu/relais"
)

// pathNumber reads the route's {id} as a positive number; kind is the UI key naming what the id is
// of, for the message.
func pathNumber(r *http.Request, c *reqCtx, kind string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, relais.Errorf(relais.ENOTFOUND, "%s %q not found.", c.t(kind), r.PathValue("id"))
	}
	return id, nil
}

// formNumber reads a whole number from a form field; empty is 0.
func formNumber(r *http.Request, c *reqCtx, name, label string) (int, error) {
	v := strings.TrimSpace(r.PostFormValue(name))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, relais.Errorf(relais.EINVALID, c.t("grid_err_number"), label, v)
	}
	return n, nil
}
