// Package relais holds the domain types of Relais: lessons and their renditions, households and the
// channels that reach them, stations and slots, and deliveries. It depends on nothing else in the
// project; storage, queue and channel packages implement the interfaces declared here.
package relais

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"
)

// Version is set at build time with -ldflags "-X github.com/relais-edu/relais.Version=...".
var Version = "dev"

// Languages Relais supports from day one.
var Languages = []string{"fr", "kk", "ru", "en"}

// ValidLanguage reports whether lang is one of Languages.
func ValidLanguage(lang string) bool { return slices.Contains(Languages, lang) }

// Role is what an API token may do.
type Role string

const (
	RoleTeacher Role = "teacher"
	RoleMedia   Role = "media"
	RoleAdmin   Role = "admin"
)

// User is the holder of an API token.
type User struct {
	ID   string
	Name string
	Role Role
}

type userKey struct{}

// ContextWithUser returns ctx carrying u, a user the caller has already authenticated: the web UI
// hands its upload requests to the API in-process this way for a user signed in through an OpenID
// provider, who holds no API token. Only code in the process can set it; a request from the network
// never carries it.
func ContextWithUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFromContext returns the user ContextWithUser put in ctx.
func UserFromContext(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey{}).(User)
	return u, ok && u.ID != ""
}

// CanSeeAllLessons reports whether u sees every teacher's lessons.
func (u User) CanSeeAllLessons() bool { return u.Role == RoleMedia || u.Role == RoleAdmin }

// StaffIdentity is a staff member as an OpenID provider names them at sign-in: the provider (Issuer)
// and its identifier of the person (Subject), which together never change, the name to show, and the
// role their claims map to.
type StaffIdentity struct {
	Issuer  string
	Subject string
	Name    string
	Role    Role
}

// StaffUserID is the user id of a staff member who signs in through an OpenID provider: "oidc-"
// and a digest of issuer and subject, so it is fixed for the person and says nothing of them.
func StaffUserID(issuer, subject string) string {
	sum := sha256.Sum256([]byte(issuer + "\x00" + subject))
	return "oidc-" + hex.EncodeToString(sum[:10])
}

// HashToken is how API tokens are stored and looked up: the hex SHA-256 of the token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Page asks for one page of a listing: items after the cursor After (an id), at most Limit of them.
type Page struct {
	After int64
	Limit int
}

// DefaultPageLimit and MaxPageLimit bound listings.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 1000
)

// Normalize returns p with its limit clamped to [1, MaxPageLimit].
func (p Page) Normalize() Page {
	if p.Limit <= 0 {
		p.Limit = DefaultPageLimit
	}
	if p.Limit > MaxPageLimit {
		p.Limit = MaxPageLimit
	}
	if p.After < 0 {
		p.After = 0
	}
	return p
}

// Clock returns the current time; components take one so tests can fix it.
type Clock func() time.Time
