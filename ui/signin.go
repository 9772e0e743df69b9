package ui

// Signing in with an API token, signing out, and the page language.

import (
	"net/http"
	"strings"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/locale"
)

func (h *Handler) home(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	target := "/ui/signin"
	if c.signedIn() {
		target = "/ui/lessons"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// signinData is the sign-in page's: where to go after, and the OpenID provider's name when staff may
// sign in there.
type signinData struct{ Next, Provider string }

func (h *Handler) signinData(next string) signinData {
	d := signinData{Next: safeNext(next)}
	if h.oidc != nil {
		d.Provider = h.oidc.cfg.Name
	}
	return d
}

func (h *Handler) signinForm(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if c.signedIn() {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	h.render(w, r, c, http.StatusOK, "ui_signin", "signin", h.signinData(r.URL.Query().Get("next")))
}

func (h *Handler) signin(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	tok := strings.TrimSpace(r.PostFormValue("token"))
	next := safeNext(r.PostFormValue("next"))
	if t, err := h.tokens.Authenticate(r.Context(), tok); err != nil {
		if relais.ErrorCode(err) == relais.EINTERNAL {
			h.fail(w, r, c, err)
			return
		}
		msg := c.t("err_token")
		if t.ID != 0 { // a known token, revoked or expired: say which
			msg = locale.Message(err, c.lang)
		}
		h.render(w, r, c, http.StatusUnauthorized, "ui_signin", "signin", pageError{msg: msg, data: h.signinData(next)})
		return
	}
	h.startSession(w, session{Token: tok})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signout ends the session here and, for a user signed in through the OpenID provider, sends the
// browser to end the provider's session too when it offers that.
func (h *Handler) signout(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	h.endSession(w)
	http.Redirect(w, r, h.signedOutURL(r.Context(), c), http.StatusSeeOther)
}

func (h *Handler) setLang(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if l := r.PostFormValue("lang"); validLang(l) {
		http.SetCookie(w, h.cookie(langCookie, l, 365*24*3600))
	}
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}
