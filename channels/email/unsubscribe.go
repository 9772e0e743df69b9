package email

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/links"
	"github.com/relais-edu/relais/locale"
)

// UnsubscribeTokens checks the tokens of unsubscribe links: *links.Signer, which makes them opaque
// (no address, no readable id: the link passes through proxies and their logs).
type UnsubscribeTokens interface {
	VerifyUnsubscribe(token string) (links.Unsubscription, error)
}

// Households finds the household an unsubscribe link names: relais.HouseholdStore.
type Households interface {
	Household(ctx context.Context, id int64) (relais.Household, error)
}

// UnsubscribeHandler serves the links links.Signer.UnsubscribeURL makes, mounted at /u/:
//
//   - GET /u/{token} shows a confirmation page with a button; it changes nothing, because mail
//     scanners follow links;
//   - POST /u/{token} with List-Unsubscribe=One-Click (RFC 8058: what mail providers send, and what
//     the button sends) opts the household's address out and answers 200.
//
// The pages speak the household's language. A token that does not verify gets 404 with a page in the
// language the browser asks for (all four when it asks for none of them), as does a link made for an
// address the household no longer has; a POST without the one-click field gets 400.
func UnsubscribeHandler(verdicts channels.Recorder, tokens UnsubscribeTokens, households Households) http.Handler {
	h := &unsubscribeHandler{verdicts: verdicts, tokens: tokens, households: households, log: slog.With("comp", "email.unsubscribe")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /u/{token}", h.confirm)
	mux.HandleFunc("POST /u/{token}", h.unsubscribe)
	return mux
}

type unsubscribeHandler struct {
	verdicts   channels.Recorder
	tokens     UnsubscribeTokens
	households Households
	log        *slog.Logger
}

// errStale is a genuine link made for an address the household no longer has.
var errStale = errors.New("unsubscribe link made for an earlier address of the household")

// resolve returns the address a link opts out and the language of its pages. A link of an earlier
// version carries its address; an opaque one names the household, whose address must be the one the
// link was sent to.
func (h *unsubscribeHandler) resolve(r *http.Request) (householdID int64, address, lang string, err error) {
	lang = locale.Match(r.Header.Get("Accept-Language"))
	u, err := h.tokens.VerifyUnsubscribe(r.PathValue("token"))
	if err != nil {
		return 0, "", lang, err
	}
	hh, err := h.households.Household(r.Context(), u.HouseholdID)
	switch {
	case err == nil && relais.ValidLanguage(hh.Language):
		lang = hh.Language
	case err != nil && (u.Email == "" || relais.ErrorCode(err) == relais.EINTERNAL):
		return u.HouseholdID, "", lang, err
	}
	if u.Email != "" {
		return u.HouseholdID, u.Email, lang, nil
	}
	if !u.SentTo(hh.Email) {
		return u.HouseholdID, "", lang, errStale
	}
	return u.HouseholdID, hh.Email, lang, nil
}

// link resolves the request's link; when it does not resolve, link has answered with a page saying so.
func (h *unsubscribeHandler) link(w http.ResponseWriter, r *http.Request) (householdID int64, address, lang string, ok bool) {
	householdID, address, lang, err := h.resolve(r)
	switch {
	case err == nil:
		return householdID, address, lang, true
	case errors.Is(err, links.ErrBadToken) || errors.Is(err, errStale) || relais.ErrorCode(err) == relais.ENOTFOUND:
		h.page(w, http.StatusNotFound, pageBadLink, lang)
	default:
		h.log.ErrorContext(r.Context(), "unsubscribe link's household", "household_id", householdID, "err", err)
		h.page(w, http.StatusInternalServerError, pageError, lang)
	}
	return householdID, "", lang, false
}

func (h *unsubscribeHandler) confirm(w http.ResponseWriter, r *http.Request) {
	if _, _, lang, ok := h.link(w, r); ok {
		h.page(w, http.StatusOK, pageConfirm, lang)
	}
}

func (h *unsubscribeHandler) unsubscribe(w http.ResponseWriter, r *http.Request) {
	id, email, lang, ok := h.link(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseMultipartForm(4 << 10); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		h.page(w, http.StatusBadRequest, pageBadRequest, lang)
		return
	}
	if r.PostFormValue("List-Unsubscribe") != "One-Click" {
		h.page(w, http.StatusBadRequest, pageBadRequest, lang)
		return
	}
	v := channels.Verdict{Channel: relais.ChannelEmail,
		Contact: channels.ContactVerdict{Kind: channels.ContactEmail, Address: email, Status: relais.ContactOptedOut}}
	if _, err := h.verdicts.Record(r.Context(), v); err != nil {
		h.log.ErrorContext(r.Context(), "record email opt-out", "household_id", id, "err", err)
		h.page(w, http.StatusInternalServerError, pageError, lang)
		return
	}
	h.log.InfoContext(r.Context(), "email opt-out", "household_id", id)
	h.page(w, http.StatusOK, pageDone, lang)
}

type pageKind int

const (
	pageConfirm pageKind = iota
	pageDone
	pageBadLink
	pageBadRequest
	pageError
)

// unsubscribeText is what each page says, per language.
var unsubscribeText = map[pageKind]map[string]string{
	pageConfirm: {"fr": "Ne plus recevoir les leçons par e-mail ?", "kk": "Сабақтарды электрондық пошта арқылы алуды тоқтату керек пе?",
		"ru": "Больше не получать уроки по электронной почте?", "en": "Stop receiving lessons by email?"},
	pageDone: {"fr": "C’est fait : vous ne recevrez plus les leçons par e-mail.", "kk": "Дайын: сабақтар енді электрондық поштаға келмейді.",
		"ru": "Готово: уроки больше не будут приходить на электронную почту.", "en": "Done: you will no longer receive lessons by email."},
	pageBadLink: {"fr": "Ce lien n’est pas valide.", "kk": "Бұл сілтеме жарамсыз.", "ru": "Эта ссылка недействительна.",
		"en": "This link is not valid."},
	pageBadRequest: {"fr": "Requête invalide.", "kk": "Жарамсыз сұраныс.", "ru": "Неверный запрос.", "en": "Bad request."},
	pageError: {"fr": "Une erreur est survenue ; réessayez plus tard.", "kk": "Қате орын алды; кейінірек қайталап көріңіз.",
		"ru": "Произошла ошибка; попробуйте позже.", "en": "Something went wrong; please try again later."},
}

var unsubscribeButton = map[string]string{"fr": "Se désabonner", "kk": "Бас тарту", "ru": "Отписаться", "en": "Unsubscribe"}

type pageLine struct{ Lang, Text string }

// page shows kind in lang, or in the four languages when lang is "".
func (h *unsubscribeHandler) page(w http.ResponseWriter, status int, kind pageKind, lang string) {
	langs := relais.Languages
	if lang != "" {
		langs = []string{lang}
	}
	var lines, buttons []pageLine
	for _, l := range langs {
		lines = append(lines, pageLine{l, unsubscribeText[kind][l]})
		buttons = append(buttons, pageLine{l, unsubscribeButton[l]})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_ = unsubscribePage.Execute(w, map[string]any{"Lang": lang, "Lines": lines, "Confirm": kind == pageConfirm, "Buttons": buttons})
}

var unsubscribePage = template.Must(template.New("unsubscribe").Parse(`<!DOCTYPE html>
<html{{if .Lang}} lang="{{.Lang}}"{{end}}>
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>Relais</title></head>
<body style="font-family:Arial,Helvetica,sans-serif;max-width:600px;margin:24px auto;padding:0 16px;line-height:1.5">
{{- range .Lines}}
<p lang="{{.Lang}}">{{.Text}}</p>
{{- end}}
{{- if .Confirm}}
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit" style="padding:10px 16px;font-size:16px">{{range $i, $b := .Buttons}}{{if $i}} · {{end}}{{$b.Text}}{{end}}</button></form>
{{- end}}
</body>
</html>
`))
