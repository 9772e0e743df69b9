package api

import (
	"encoding/json"
	"errors"
	"io"
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
		err = relais.Errorf(relais.ETOOLARGE, "The request is larger than the limit of %s.", relais.HumanBytes(mbe.Limit))
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

// reply answers v as JSON with status, unless err says why there is no answer.
func reply(w http.ResponseWriter, status int, v any, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, status, v)
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// writeItems answers a listing without pages: {"items": [...]}, each item x as toJSON(x), an empty list
// rather than null.
func writeItems[T, J any](w http.ResponseWriter, xs []T, toJSON func(T) J) error {
	items := make([]J, len(xs))
	for i, x := range xs {
		items[i] = toJSON(x)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

// writePage answers one page of a listing: {"items": [...]}, each item x as toJSON(x), with next_after,
// the id of the last item, when the page is full (there may be more).
func writePage[T, J any](w http.ResponseWriter, xs []T, p relais.Page, toJSON func(T) J, id func(T) int64) error {
	items := make([]J, len(xs))
	for i, x := range xs {
		items[i] = toJSON(x)
	}
	resp := map[string]any{"items": items}
	if len(xs) == p.Limit && len(xs) > 0 {
		resp["next_after"] = id(xs[len(xs)-1])
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// writeFile answers a small generated file (a guide, a playlist) of content type ct.
func writeFile(w http.ResponseWriter, ct string, b []byte) error {
	w.Header().Set("Content-Type", ct)
	_, err := w.Write(b)
	return err
}

// readBody decodes a JSON body of at most 64 KiB into v, refusing unknown fields.
func readBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return relais.Errorf(relais.EINVALID, "The body must be a JSON object: %s.", jsonProblem(err))
	}
	return nil
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "it is empty"
	case errors.As(err, &se):
		return "it is not valid JSON"
	case errors.As(err, &te):
		return "field " + te.Field + " has the wrong type"
	}
	return "unexpected content"
}

// withID adapts a handler of one resource to a route: it reads the {id} in the path first, the
// prologue every such handler shares.
func withID(h func(w http.ResponseWriter, r *http.Request, id int64) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		return h(w, r, id)
	}
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

// listQuery reads a listing's query: its page and number parameters. The first refusal is kept in err,
// so that a handler reads every parameter, then checks once.
type listQuery struct {
	r   *http.Request
	err error
}

func (q *listQuery) page() relais.Page {
	p, err := page(q.r)
	q.keep(err)
	return p
}

func (q *listQuery) int(name string) int64 {
	n, err := queryInt(q.r, name)
	q.keep(err)
	return n
}

func (q *listQuery) keep(err error) {
	if q.err == nil {
		q.err = err
	}
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
