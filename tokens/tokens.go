// Package tokens runs the life of API tokens: made with a name, a role and an expiry, shown once,
// checked on every request (revoked and expired ones refused), rotated and revoked. The API, the web
// UI and the command line share one Service.
package tokens

import (
	"context"
	"strings"
	"sync"
	"time"

	relais "github.com/relais-edu/relais"
)

// TouchEvery is how often a token's last use is written: at most once per token in this span, so a
// busy script costs no write per request.
const TouchEvery = time.Minute

// Service makes, checks, rotates and revokes tokens.
type Service struct {
	store relais.TokenStore
	now   func() time.Time

	mu         sync.Mutex
	touched    map[int64]time.Time // when each token's last use was last written by this process
	touchEvery time.Duration       // TouchEvery; 0 in the benchmark's baseline (a write per request)
}

// New returns a Service on store; now is the clock (nil: time.Now).
func New(store relais.TokenStore, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now, touched: map[int64]time.Time{}, touchEvery: TouchEvery}
}

// Authenticate returns the token a secret names when it may be used now, and records its use (at
// most once every TouchEvery). A wrong, revoked or expired secret is EUNAUTHORIZED.
func (s *Service) Authenticate(ctx context.Context, secret string) (relais.APIToken, error) {
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return relais.APIToken{}, relais.Errorf(relais.EUNAUTHORIZED, "Unknown API token.")
	}
	t, err := s.store.TokenByHash(ctx, relais.HashToken(secret))
	if err != nil {
		return t, err
	}
	now := s.now()
	if err := t.Check(now); err != nil {
		return t, err
	}
	if s.due(t.ID, now) {
		if err := s.store.TouchToken(ctx, t.ID, now); err != nil {
			return t, err
		}
		t.LastUsedAt = now
	}
	return t, nil
}

// due reports whether the use of token id at now is to be written, and if so counts it written.
func (s *Service) due(id int64, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if last, ok := s.touched[id]; ok && now.Sub(last) < s.touchEvery {
		return false
	}
	if len(s.touched) > 10_000 { // tokens are few; a map this large is only stale entries
		clear(s.touched)
	}
	s.touched[id] = now
	return true
}

// Create makes a token for u named name, expiring after ttl (0: never), and returns its secret, shown
// this once.
func (s *Service) Create(ctx context.Context, u relais.User, name string, ttl time.Duration) (string, relais.APIToken, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = u.ID
	}
	t := relais.APIToken{Name: name, User: u}
	if err := validate(t, ttl); err != nil {
		return "", t, err
	}
	if ttl > 0 {
		t.ExpiresAt = s.now().Add(ttl)
	}
	secret := relais.NewTokenSecret()
	if err := s.store.CreateToken(ctx, &t, relais.HashToken(secret)); err != nil {
		return "", t, err
	}
	return secret, t, nil
}

func validate(t relais.APIToken, ttl time.Duration) error {
	switch {
	case !ValidUserID(t.User.ID):
		return relais.Errorf(relais.EINVALID, "A user id is 1-64 letters, digits or . _ @ -.")
	case !relais.ValidRole(t.User.Role):
		return relais.Errorf(relais.EINVALID, "The role must be teacher, media or admin.")
	case len(t.Name) > 100:
		return relais.Errorf(relais.EINVALID, "A token name is at most 100 characters.")
	case ttl < 0:
		return relais.Errorf(relais.EINVALID, "A token's lifetime cannot be negative.")
	}
	return nil
}

// ValidUserID reports whether id is a user id: 1-64 letters, digits or . _ @ -.
func ValidUserID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._@-", c)) {
			return false
		}
	}
	return true
}

// DefaultLifetime is how long a rotated token lives when no lifetime is given.
const DefaultLifetime = 90 * 24 * time.Hour

// Rotate gives token id a new secret, returned this once; the old secret stops working at once. The
// token keeps its name and role; it expires after ttl from now, or, for ttl 0, after DefaultLifetime
// (never, for a token that never expired).
func (s *Service) Rotate(ctx context.Context, id int64, ttl time.Duration) (string, relais.APIToken, error) {
	if ttl < 0 {
		return "", relais.APIToken{}, relais.Errorf(relais.EINVALID, "A token's lifetime cannot be negative.")
	}
	t, err := s.store.Token(ctx, id)
	if err != nil {
		return "", t, err
	}
	if ttl == 0 && !t.ExpiresAt.IsZero() {
		ttl = DefaultLifetime
	}
	var expires time.Time
	if ttl > 0 {
		expires = s.now().Add(ttl)
	}
	secret := relais.NewTokenSecret()
	t, err = s.store.RotateToken(ctx, id, relais.HashToken(secret), expires)
	if err != nil {
		return "", t, err
	}
	return secret, t, nil
}

// Revoke revokes token id at once.
func (s *Service) Revoke(ctx context.Context, id int64) (relais.APIToken, error) {
	return s.store.RevokeToken(ctx, id)
}

// List returns every token, revoked ones too.
func (s *Service) List(ctx context.Context) ([]relais.APIToken, error) { return s.store.Tokens(ctx) }
