package relais

import (
	"crypto/rand"
	"encoding/base64"
	"time"
)

// APIToken is the record of an API token: who it acts as, with which role, and its life. The secret
// itself is shown once, when it is made; only its hash (HashToken) is kept.
type APIToken struct {
	ID         int64
	Name       string // what the token is for ("grading script"), shown in listings
	User       User   // the user the token acts as and the role it grants
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never
	LastUsedAt time.Time // zero: never used; recorded at most once a minute (tokens.Service)
	RevokedAt  time.Time // zero: in force
}

// Check says whether t may be used at now: a revoked or expired token is refused with EUNAUTHORIZED
// and a message saying which, and how to get another.
func (t APIToken) Check(now time.Time) error {
	switch {
	case !t.RevokedAt.IsZero():
		return Errorf(EUNAUTHORIZED, "This API token was revoked on %s; ask an admin for a new one.", t.RevokedAt.UTC().Format(time.DateOnly))
	case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
		return Errorf(EUNAUTHORIZED, "This API token expired on %s; ask an admin to rotate it.", t.ExpiresAt.UTC().Format(time.DateOnly))
	}
	return nil
}

// NewTokenSecret returns a new API token secret: 192 random bits, so that a store of SHA-256 hashes
// needs no salt nor slow hash.
func NewTokenSecret() string {
	raw := make([]byte, 24)
	rand.Read(raw)
	return "rl_" + base64.RawURLEncoding.EncodeToString(raw)
}

// ValidRole reports whether r is one of the roles.
func ValidRole(r Role) bool { return r == RoleTeacher || r == RoleMedia || r == RoleAdmin }
