package ui

// The admin's API tokens page: every token with its role, expiry, last use and state; a form to make
// one; rotate and revoke buttons. A new or rotated secret is shown on the page that answers the form,
// once: only its hash is kept.

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
)

// defaultTokenDays is the lifetime the form offers.
const defaultTokenDays = 90

type tokensData struct {
	Tokens []tokenRow
	Roles  []relais.Role
	Form   tokenForm
	// Secret is a secret just made (by Created or rotation of token SecretFor), shown this once.
	Secret    string
	SecretFor int64
}

type tokenRow struct {
	relais.APIToken
	State                     string // "active", "expired" or "revoked"
	Created, Expires, LastUse string
}

type tokenForm struct {
	User, Name string
	Role       relais.Role
	Days       int
}

func (h *Handler) tokenList(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	h.showTokens(w, r, c, http.StatusOK, tokensData{Form: tokenForm{Role: relais.RoleTeacher, Days: defaultTokenDays}}, nil)
}

// showTokens renders the page with data's form and secret; err, when not nil, is shown above it.
func (h *Handler) showTokens(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, data tokensData, err error) {
	ts, lerr := h.tokens.List(r.Context())
	if lerr != nil {
		h.fail(w, r, c, lerr)
		return
	}
	now := h.now()
	for i := len(ts) - 1; i >= 0; i-- { // newest first
		t := ts[i]
		row := tokenRow{APIToken: t, State: "active", Created: h.stamp(t.CreatedAt), Expires: c.t("tok_never"), LastUse: c.t("tok_never_used")}
		if !t.ExpiresAt.IsZero() {
			row.Expires = h.stamp(t.ExpiresAt)
		}
		if !t.LastUsedAt.IsZero() {
			row.LastUse = h.stamp(t.LastUsedAt)
		}
		switch {
		case !t.RevokedAt.IsZero():
			row.State = "revoked"
		case t.Check(now) != nil:
			row.State = "expired"
		}
		data.Tokens = append(data.Tokens, row)
	}
	data.Roles = []relais.Role{relais.RoleTeacher, relais.RoleMedia, relais.RoleAdmin}
	if err != nil {
		h.refuse(w, r, c, err, func(status int, msg string) {
			h.render(w, r, c, status, "ui_tokens", "tok_title", pageError{msg: msg, data: data})
		})
		return
	}
	h.render(w, r, c, status, "ui_tokens", "tok_title", data)
}

func (h *Handler) createToken(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	form := tokenForm{User: strings.TrimSpace(r.PostFormValue("user")), Name: strings.TrimSpace(r.PostFormValue("name")),
		Role: relais.Role(r.PostFormValue("role"))}
	days, err := formNumber(r, c, "days", c.t("tok_days"))
	form.Days = days
	if err == nil && days < 0 {
		err = relais.Errorf(relais.EINVALID, "%s", c.t("tok_days_help"))
	}
	data := tokensData{Form: form}
	if err != nil {
		h.showTokens(w, r, c, 0, data, err)
		return
	}
	secret, t, err := h.tokens.Create(r.Context(), relais.User{ID: form.User, Role: form.Role}, form.Name, time.Duration(days)*24*time.Hour)
	if err != nil {
		h.showTokens(w, r, c, 0, data, err)
		return
	}
	h.audit.RecordTarget(r, c.user, relais.AuditCreate, "token "+strconv.FormatInt(t.ID, 10))
	data = tokensData{Form: tokenForm{Role: relais.RoleTeacher, Days: defaultTokenDays}, Secret: secret, SecretFor: t.ID}
	h.showTokens(w, r, c, http.StatusCreated, data, nil)
}

func (h *Handler) rotateToken(w http.ResponseWriter, r *http.Request, c *reqCtx, id int64) {
	data := tokensData{Form: tokenForm{Role: relais.RoleTeacher, Days: defaultTokenDays}}
	secret, _, err := h.tokens.Rotate(r.Context(), id, 0)
	if err != nil {
		h.showTokens(w, r, c, 0, data, err)
		return
	}
	data.Secret, data.SecretFor = secret, id
	h.showTokens(w, r, c, http.StatusOK, data, nil)
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request, c *reqCtx, id int64) {
	if _, err := h.tokens.Revoke(r.Context(), id); err != nil {
		h.showTokens(w, r, c, 0, tokensData{Form: tokenForm{Role: relais.RoleTeacher, Days: defaultTokenDays}}, err)
		return
	}
	http.Redirect(w, r, "/ui/admin/tokens", http.StatusSeeOther)
}
