package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/locale"
)

type errorBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id,omitempty"`
	} `json:"error"`
}

// writeError answers with the error's code and user message, in the first language of the request's
// Accept-Language that messages are written in (English by default). Internal errors are logged with
// the request id and shown only as "internal error".
func writeError(w http.ResponseWriter, r *http.Request, err error, log *slog.Logger) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = relais.Errorf(relais.ETOOLARGE, "The request is larger than the limit of %s.", humanBytes(mbe.Limit))
	}
	code, msg := relais.ErrorCode(err), locale.Message(err, locale.Accept(r.Header.Get("Accept-Language")))
	id, _ := r.Context().Value(requestIDKey{}).(string)
	if code == relais.EINTERNAL {
		log.Error("internal error", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "Internal error; quote request id " + id + " to the administrator."
	}
	var body errorBody
	body.Error.Code, body.Error.Message, body.Error.RequestID = code, msg, id
	writeJSON(w, relais.HTTPStatus(code), body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// pathID reads the {id} path value.
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, relais.Errorf(relais.EINVALID, "The id %q in the path is not a positive number.", r.PathValue("id"))
	}
	return id, nil
}

// page reads the after and limit query parameters.
func page(r *http.Request) (relais.Page, error) {
	var p relais.Page
	q := r.URL.Query()
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return p, relais.Errorf(relais.EINVALID, "after must be an id from a previous page (a number ≥ 0).")
		}
		p.After = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > relais.MaxPageLimit {
			return p, relais.Errorf(relais.EINVALID, "limit must be a number from 1 to %d.", relais.MaxPageLimit)
		}
		p.Limit = n
	}
	return p.Normalize(), nil
}

func queryInt(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, relais.Errorf(relais.EINVALID, "%s must be a positive number.", name)
	}
	return n, nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + " GiB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
