package ui

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"time"
)

const (
	sessionCookie = "relais_session"
	csrfCookie    = "relais_csrf" // before sign-in: the CSRF token of the sign-in and language forms
	langCookie    = "relais_lang"
)

// session is what the session cookie holds. It is sealed with AES-GCM, which both signs it (a changed
// cookie does not open) and hides what it carries: the API token of a user who signed in with one (it
// names the user, and the tus requests forwarded to the API carry it), or the user id of one who
// signed in through the OpenID provider, with the ID token the provider's sign-out is asked with.
type session struct {
	Token   string    `json:"tok,omitempty"`
	UserID  string    `json:"uid,omitempty"`
	IDToken string    `json:"idt,omitempty"`
	CSRF    string    `json:"csrf"`
	Expires time.Time `json:"exp"`
}

type sessions struct{ aead cipher.AEAD }

func newSessions(secret []byte) *sessions {
	key := sha256.Sum256(append([]byte("relais ui session\x00"), secret...))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err) // a 32-byte key never fails
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &sessions{aead: aead}
}

func (s *sessions) seal(v session) string { return s.sealAs(sessionCookie, v) }

// sealAs seals v, JSON, for the cookie name: a value sealed for one cookie does not open as another.
func (s *sessions) sealAs(name string, v any) string {
	plain, _ := json.Marshal(v)
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(name)))
}

// openAs reads into v the request's cookie name sealed by sealAs; false when it is absent or not genuine.
func (s *sessions) openAs(r *http.Request, name string, v any) bool {
	ck, err := r.Cookie(name)
	if err != nil {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return false
	}
	plain, err := s.aead.Open(nil, raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():], []byte(name))
	return err == nil && json.Unmarshal(plain, v) == nil
}

// open returns the request's session when its cookie is genuine and not expired.
func (s *sessions) open(r *http.Request, now time.Time) (session, bool) {
	var v session
	if !s.openAs(r, sessionCookie, &v) || !now.Before(v.Expires) || v.Token == "" && v.UserID == "" || v.CSRF == "" {
		return session{}, false
	}
	return v, true
}

func (h *Handler) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/ui/", MaxAge: maxAge, HttpOnly: true,
		Secure: h.cfg.SecureCookies, SameSite: http.SameSiteLaxMode}
}

// startSession signs the user in: v names them by their API token or, signed in through the OpenID
// provider, by their user id.
func (h *Handler) startSession(w http.ResponseWriter, v session) {
	v.CSRF, v.Expires = randomToken(), h.now().Add(h.cfg.SessionTTL)
	http.SetCookie(w, h.cookie(sessionCookie, h.sessions.seal(v), int(h.cfg.SessionTTL.Seconds())))
}

func (h *Handler) endSession(w http.ResponseWriter) {
	http.SetCookie(w, h.cookie(sessionCookie, "", -1))
}

// preCSRF returns the signed-out visitor's CSRF token, setting its cookie on first sight.
func (h *Handler) preCSRF(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(csrfCookie); err == nil && len(ck.Value) >= 32 {
		return ck.Value
	}
	tok := randomToken()
	http.SetCookie(w, h.cookie(csrfCookie, tok, 0))
	return tok
}

// csrfOK checks a POST: a cross-site Origin is refused, and the form (field "csrf"), the X-CSRF-Token
// header or, for multipart uploads whose body is streamed to disk before any form field is read, the "csrf" query
// parameter must carry the token of this session.
func (h *Handler) csrfOK(r *http.Request, c *reqCtx) bool {
	if o := r.Header.Get("Origin"); o != "" && !sameOrigin(r) {
		return false
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
			got = r.PostFormValue("csrf")
		} else {
			got = r.URL.Query().Get("csrf")
		}
	}
	return c.csrf != "" && subtle.ConstantTimeCompare([]byte(got), []byte(c.csrf)) == 1
}

// sameOrigin reports whether the request carries an Origin header naming this host.
func sameOrigin(r *http.Request) bool {
	u, err := url.Parse(r.Header.Get("Origin"))
	return err == nil && u.Host != "" && u.Host == r.Host
}
