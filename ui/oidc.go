package ui

// Staff sign-in through the ministry's OpenID provider: the authorization code flow with PKCE, its
// state and nonce kept in a short-lived sealed cookie, the role mapped from a claim of the person, the
// user created on the first sign-in, and sign-out at the provider when it offers one.

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	relais "github.com/relais-edu/relais"
)

// OIDCConfig configures sign-in through an OpenID provider. Issuer empty: no such sign-in.
type OIDCConfig struct {
	Issuer       string // the provider's issuer URL; its /.well-known/openid-configuration is read on first use
	ClientID     string
	ClientSecret string
	Name         string // the provider's name on the sign-in button
	// RedirectURL is where the provider sends the browser back: the public URL's /ui/oidc/callback.
	RedirectURL string
	// SignedOutURL is where the provider's sign-out sends the browser: the public URL's /ui/signin.
	SignedOutURL string
	// RoleClaim names the claim (of the ID token, else of the userinfo endpoint) whose values Roles maps to
	// Relais roles: a string or a list of strings, such as "groups".
	RoleClaim string
	// Roles maps values of RoleClaim to roles. A person with several gets the strongest (admin, media,
	// teacher); one with none is refused.
	Roles map[string]relais.Role
	// HTTPClient talks to the provider; nil: http.DefaultClient.
	HTTPClient *http.Client
}

// Enabled reports whether the sign-in through a provider is configured.
func (c OIDCConfig) Enabled() bool { return c.Issuer != "" }

// ParseRoleMap reads "value=role,value=role" (RELAIS_OIDC_ROLES) into a map from claim values to roles.
func ParseRoleMap(s string) (map[string]relais.Role, error) {
	m := map[string]relais.Role{}
	for _, pair := range strings.Split(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		value, role, ok := strings.Cut(pair, "=")
		value, role = strings.TrimSpace(value), strings.TrimSpace(role)
		r := relais.Role(role)
		if !ok || value == "" || r != relais.RoleTeacher && r != relais.RoleMedia && r != relais.RoleAdmin {
			return nil, fmt.Errorf("%q must be CLAIM_VALUE=ROLE, the role one of teacher, media, admin", strings.TrimSpace(pair))
		}
		m[value] = r
	}
	return m, nil
}

const (
	oidcCookie  = "relais_oidc" // the sign-in under way: state, nonce and PKCE verifier
	oidcFlowTTL = 10 * time.Minute
	// maxHintBytes is the largest ID token the session cookie keeps for the provider's sign-out: a
	// token with many groups would make the cookie larger than browsers keep (4 KB).
	maxHintBytes = 2048
)

// oidcFlow is what the browser carries, sealed, between leaving for the provider and coming back.
type oidcFlow struct {
	State    string    `json:"st"`
	Nonce    string    `json:"no"`
	Verifier string    `json:"pv"`
	Next     string    `json:"nx"`
	Expires  time.Time `json:"exp"`
}

// oidcClient is the provider, discovered on first use and kept once it answered.
type oidcClient struct {
	cfg OIDCConfig

	mu         sync.Mutex
	provider   *oidc.Provider
	endSession string // the provider's end_session_endpoint; empty when it has none
}

func (o *oidcClient) ctx(ctx context.Context) context.Context {
	if o.cfg.HTTPClient != nil {
		return oidc.ClientContext(ctx, o.cfg.HTTPClient)
	}
	return ctx
}

// discover returns the provider, reading its configuration the first time.
func (o *oidcClient) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	p, err := oidc.NewProvider(o.ctx(ctx), o.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("OpenID provider %s: %w", o.cfg.Issuer, err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, fmt.Errorf("OpenID provider %s: %w", o.cfg.Issuer, err)
	}
	o.provider, o.endSession = p, meta.EndSession
	return p, nil
}

func (o *oidcClient) oauth2(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: o.cfg.RedirectURL, Scopes: []string{oidc.ScopeOpenID, "profile"}}
}

// oidcStart sends the browser to the provider, the flow's state, nonce and PKCE verifier sealed in a
// cookie that lasts ten minutes.
func (h *Handler) oidcStart(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if h.oidc == nil {
		h.fail(w, r, c, relais.Errorf(relais.ENOTFOUND, "%s", c.t("err_oidc_off")))
		return
	}
	p, err := h.oidc.discover(r.Context())
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	f := oidcFlow{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(),
		Next: safeNext(r.URL.Query().Get("next")), Expires: h.now().Add(oidcFlowTTL)}
	http.SetCookie(w, h.cookie(oidcCookie, h.sessions.sealAs(oidcCookie, f), int(oidcFlowTTL.Seconds())))
	http.Redirect(w, r, h.oidc.oauth2(p).AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), http.StatusFound)
}

// oidcCallback finishes the sign-in the provider sends the browser back from: the state must be the
// flow's, the code is exchanged with the flow's PKCE verifier, the ID token must be the provider's, for
// this client, and carry the flow's nonce; the person's claims must map to a role.
func (h *Handler) oidcCallback(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if h.oidc == nil {
		h.fail(w, r, c, relais.Errorf(relais.ENOTFOUND, "%s", c.t("err_oidc_off")))
		return
	}
	refuse := func(status int, key string) {
		h.render(w, r, c, status, "ui_signin", "signin", pageError{msg: c.t(key), data: h.signinData("")})
	}
	var f oidcFlow
	if !h.sessions.openAs(r, oidcCookie, &f) || !h.now().Before(f.Expires) {
		refuse(http.StatusBadRequest, "err_oidc_expired")
		return
	}
	http.SetCookie(w, h.cookie(oidcCookie, "", -1)) // one use
	if q := r.URL.Query(); q.Get("error") != "" {
		h.log.Info("OpenID sign-in refused by the provider", "error", q.Get("error"))
		refuse(http.StatusUnauthorized, "err_oidc_refused")
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("state")), []byte(f.State)) != 1 {
		h.log.Warn("OpenID callback with another state than its flow's")
		refuse(http.StatusForbidden, "err_oidc_state")
		return
	}
	p, err := h.oidc.discover(r.Context())
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	ctx := h.oidc.ctx(r.Context())
	conf := h.oidc.oauth2(p)
	tok, err := conf.Exchange(ctx, r.URL.Query().Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		h.log.Warn("OpenID code exchange refused", "err", err)
		refuse(http.StatusUnauthorized, "err_oidc_refused")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: h.oidc.cfg.ClientID, Now: h.now}).Verify(ctx, raw)
	if err != nil {
		h.log.Warn("OpenID ID token refused", "err", err)
		refuse(http.StatusUnauthorized, "err_oidc_refused")
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		h.log.Warn("OpenID ID token with another nonce than its flow's", "user_id", relais.StaffUserID(idt.Issuer, idt.Subject))
		refuse(http.StatusForbidden, "err_oidc_state")
		return
	}
	claims, err := h.oidc.claims(ctx, p, idt, conf.TokenSource(ctx, tok))
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	id := relais.StaffIdentity{Issuer: idt.Issuer, Subject: idt.Subject, Name: claims.name(idt.Subject),
		Role: h.oidc.role(claims[h.oidc.cfg.RoleClaim])}
	if id.Role == "" {
		h.log.Info("OpenID sign-in without a Relais role", "user_id", relais.StaffUserID(idt.Issuer, idt.Subject), "claim", h.oidc.cfg.RoleClaim)
		refuse(http.StatusForbidden, "err_oidc_role")
		return
	}
	u, err := h.store.SignInStaff(r.Context(), id)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	h.log.Info("OpenID sign-in", "user_id", u.ID, "role", u.Role)
	if len(raw) > maxHintBytes {
		raw = "" // the provider's sign-out is then asked with client_id alone
	}
	h.startSession(w, session{UserID: u.ID, IDToken: raw})
	http.Redirect(w, r, f.Next, http.StatusSeeOther)
}

// oidcClaims are the person's claims.
type oidcClaims map[string]any

// name is what the pages show of the person: their name, else their user name, else the subject.
func (cl oidcClaims) name(subject string) string {
	for _, k := range []string{"name", "preferred_username"} {
		if s, ok := cl[k].(string); ok && strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return subject
}

// claims returns the ID token's claims and, when it lacks the role claim or a name, those of the
// userinfo endpoint (many providers put groups there only).
func (o *oidcClient) claims(ctx context.Context, p *oidc.Provider, idt *oidc.IDToken, ts oauth2.TokenSource) (oidcClaims, error) {
	cl := oidcClaims{}
	if err := idt.Claims(&cl); err != nil {
		return nil, fmt.Errorf("OpenID ID token claims: %w", err)
	}
	if _, ok := cl[o.cfg.RoleClaim]; ok && cl.name("") != "" || p.UserInfoEndpoint() == "" {
		return cl, nil
	}
	info, err := p.UserInfo(ctx, ts)
	if err != nil {
		return nil, fmt.Errorf("OpenID userinfo: %w", err)
	}
	more := oidcClaims{}
	if err := info.Claims(&more); err != nil {
		return nil, fmt.Errorf("OpenID userinfo claims: %w", err)
	}
	if info.Subject != idt.Subject {
		return nil, fmt.Errorf("OpenID userinfo names subject %q, the ID token %q", info.Subject, idt.Subject)
	}
	for k, v := range more {
		if _, ok := cl[k]; !ok {
			cl[k] = v
		}
	}
	return cl, nil
}

// roleRank orders roles from the strongest.
var roleRank = map[relais.Role]int{relais.RoleAdmin: 3, relais.RoleMedia: 2, relais.RoleTeacher: 1}

// role maps the role claim's value, a string or a list of them, to the strongest role it names; "" when
// it names none.
func (o *oidcClient) role(claim any) relais.Role {
	var values []string
	switch v := claim.(type) {
	case string:
		values = []string{v}
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				values = append(values, s)
			}
		}
	}
	var best relais.Role
	for _, v := range values {
		if r, ok := o.cfg.Roles[v]; ok && roleRank[r] > roleRank[best] {
			best = r
		}
	}
	return best
}

// signedOutURL is where the browser goes after a local sign-out: the provider's end_session_endpoint,
// asked to end the provider's session too and come back to the sign-in page, when the user signed in
// there and the provider has one; the sign-in page otherwise.
func (h *Handler) signedOutURL(ctx context.Context, c *reqCtx) string {
	if h.oidc == nil || c.token != "" || c.user.ID == "" {
		return "/ui/signin"
	}
	if _, err := h.oidc.discover(ctx); err != nil { // not read yet since a restart, and the provider is down
		h.log.Warn("OpenID provider's sign-out unknown; signed out of Relais only", "user_id", c.user.ID, "err", err)
		return "/ui/signin"
	}
	h.oidc.mu.Lock()
	end := h.oidc.endSession
	h.oidc.mu.Unlock()
	u, err := url.Parse(end)
	if end == "" || err != nil {
		return "/ui/signin"
	}
	q := u.Query()
	if c.idToken != "" {
		q.Set("id_token_hint", c.idToken)
	}
	q.Set("client_id", h.oidc.cfg.ClientID)
	if h.oidc.cfg.SignedOutURL != "" {
		q.Set("post_logout_redirect_uri", h.oidc.cfg.SignedOutURL)
	}
	u.RawQuery = q.Encode()
	return u.String()
}
