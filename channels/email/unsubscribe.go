package email

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/locale"
)

// unsubscribeContext separates these MACs from any other use of the secret.
const unsubscribeContext = "relais-unsubscribe-v1\x00"

var b64 = base64.RawURLEncoding

// SignUnsubscribe returns the token of an unsubscribe link for a household's address:
// base64url(id ":" email) "." base64url(HMAC-SHA256(secret, context || id ":" email)). The token
// carries the address (readable by whoever sees the link, as the email itself is); the MAC stops
// anyone from forging one for another address.
func SignUnsubscribe(secret []byte, householdID int64, email string) string {
	payload := strconv.FormatInt(householdID, 10) + ":" + email
	return b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString(unsubscribeMAC(secret, payload))
}

// ErrBadToken is returned by VerifyUnsubscribe for a token that is malformed or not signed with the
// secret.
var ErrBadToken = errors.New("email: bad unsubscribe token")

// VerifyUnsubscribe checks a token made by SignUnsubscribe and returns what it names.
func VerifyUnsubscribe(secret []byte, token string) (householdID int64, email string, err error) {
	p, m, ok := strings.Cut(token, ".")
	if !ok {
		return 0, "", ErrBadToken
	}
	payload, err1 := b64.DecodeString(p)
	mac, err2 := b64.DecodeString(m)
	if err1 != nil || err2 != nil {
		return 0, "", ErrBadToken
	}
	if !hmac.Equal(mac, unsubscribeMAC(secret, string(payload))) {
		return 0, "", ErrBadToken
	}
	id, email, ok := strings.Cut(string(payload), ":")
	if !ok || email == "" {
		return 0, "", ErrBadToken
	}
	householdID, err = strconv.ParseInt(id, 10, 64)
	if err != nil {
		return 0, "", ErrBadToken
	}
	return householdID, email, nil
}

func unsubscribeMAC(secret []byte, payload string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(unsubscribeContext))
	h.Write([]byte(payload))
	return h.Sum(nil)
}

// UnsubscribeHandler serves the links SignUnsubscribe makes, mounted at /u/:
//
//   - GET /u/{token} shows a confirmation page with a button; it changes nothing, because mail
//     scanners follow links;
//   - POST /u/{token} with List-Unsubscribe=One-Click (RFC 8058: what mail providers send, and what
//     the button sends) records the opt-out and answers 200.
//
// A token that does not verify gets 404; a POST without the one-click field gets 400.
func UnsubscribeHandler(verdicts channels.Recorder, secret []byte) http.Handler {
	h := &unsubscribeHandler{verdicts: verdicts, secret: secret, log: slog.With("comp", "email.unsubscribe")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /u/{token}", h.confirm)
	mux.HandleFunc("POST /u/{token}", h.unsubscribe)
	return mux
}

type unsubscribeHandler struct {
	verdicts channels.Recorder
	secret   []byte
	log      *slog.Logger
}

func (h *unsubscribeHandler) confirm(w http.ResponseWriter, r *http.Request) {
	if _, _, err := VerifyUnsubscribe(h.secret, r.PathValue("token")); err != nil {
		h.page(w, r, http.StatusNotFound, pageBadLink)
		return
	}
	h.page(w, r, http.StatusOK, pageConfirm)
}

func (h *unsubscribeHandler) unsubscribe(w http.ResponseWriter, r *http.Request) {
	id, email, err := VerifyUnsubscribe(h.secret, r.PathValue("token"))
	if err != nil {
		h.page(w, r, http.StatusNotFound, pageBadLink)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseMultipartForm(4 << 10); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		h.page(w, r, http.StatusBadRequest, pageBadRequest)
		return
	}
	if r.PostFormValue("List-Unsubscribe") != "One-Click" {
		h.page(w, r, http.StatusBadRequest, pageBadRequest)
		return
	}
	v := channels.Verdict{Channel: relais.ChannelEmail,
		Contact: channels.ContactVerdict{Kind: channels.ContactEmail, Address: email, Status: relais.ContactOptedOut}}
	if _, err := h.verdicts.Record(r.Context(), v); err != nil {
		h.log.ErrorContext(r.Context(), "record email opt-out", "household_id", id, "err", err)
		h.page(w, r, http.StatusInternalServerError, pageError)
		return
	}
	h.log.InfoContext(r.Context(), "email opt-out", "household_id", id)
	h.page(w, r, http.StatusOK, pageDone)
}

type pageKind int

const (
	pageConfirm pageKind = iota
	pageDone
	pageBadLink
	pageBadRequest
	pageError
)

func (h *unsubscribeHandler) page(w http.ResponseWriter, r *http.Request, status int, kind pageKind) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	lang := locale.Accept(r.Header.Get("Accept-Language"))
	w.Header().Set("Content-Language", lang)
	w.WriteHeader(status)
	_ = unsubscribePage.Execute(w, struct {
		Kind pageKind
		Lang string
	}{kind, lang})
}

// unsubscribePage speaks the four languages at once, each paragraph marked with its own: the token
// does not say which the family reads. The page's lang is the browser's language among them.
var unsubscribePage = template.Must(template.New("unsubscribe").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>Relais</title></head>
<body style="font-family:Arial,Helvetica,sans-serif;max-width:600px;margin:24px auto;padding:0 16px;line-height:1.5">
{{- if eq .Kind 0}}
<p lang="fr">Ne plus recevoir les leçons par e-mail ?</p>
<p lang="kk">Сабақтарды электрондық пошта арқылы алуды тоқтату керек пе?</p>
<p lang="ru">Больше не получать уроки по электронной почте?</p>
<p lang="en">Stop receiving lessons by email?</p>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit" style="padding:10px 16px;font-size:16px"><span lang="fr">Se désabonner</span> · <span lang="kk">Бас тарту</span> · <span lang="ru">Отписаться</span> · <span lang="en">Unsubscribe</span></button></form>
{{- else if eq .Kind 1}}
<p lang="fr">C’est fait : vous ne recevrez plus les leçons par e-mail.</p>
<p lang="kk">Дайын: сабақтар енді электрондық поштаға келмейді.</p>
<p lang="ru">Готово: уроки больше не будут приходить на электронную почту.</p>
<p lang="en">Done: you will no longer receive lessons by email.</p>
{{- else if eq .Kind 2}}
<p lang="fr">Ce lien n’est pas valide.</p>
<p lang="kk">Бұл сілтеме жарамсыз.</p>
<p lang="ru">Эта ссылка недействительна.</p>
<p lang="en">This link is not valid.</p>
{{- else if eq .Kind 3}}
<p lang="fr">Requête incorrecte.</p>
<p lang="kk">Қате сұрау.</p>
<p lang="ru">Неверный запрос.</p>
<p lang="en">Bad request.</p>
{{- else}}
<p lang="fr">Une erreur est survenue ; réessayez plus tard.</p>
<p lang="kk">Қате орын алды; кейінірек қайталап көріңіз.</p>
<p lang="ru">Произошла ошибка; попробуйте позже.</p>
<p lang="en">Something went wrong; please try again later.</p>
{{- end}}
</body>
</html>
`))
