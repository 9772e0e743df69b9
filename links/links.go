// Package links signs the public addresses Relais puts in SMS and email, so a family can open its
// lesson page without an account and nobody can guess another family's page.
package links

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Signer makes and checks lesson links.
type Signer struct {
	secret []byte
	base   string // public base URL, without a trailing slash
}

// NewSigner returns a signer for links under base (e.g. "https://relais.example.org").
func NewSigner(secret []byte, base string) *Signer {
	return &Signer{secret: secret, base: strings.TrimRight(base, "/")}
}

// ErrBadToken is returned for a token that was not made by this signer.
var ErrBadToken = errors.New("links: bad token")

const macLen = 12 // 96 bits: short enough for an SMS, far too long to guess

// Token encodes (lessonID, householdID) with a MAC.
func (s *Signer) Token(lessonID, householdID int64) string {
	buf := binary.AppendUvarint(nil, uint64(lessonID))
	buf = binary.AppendUvarint(buf, uint64(householdID))
	buf = append(buf, s.mac(buf)...)
	return base64.RawURLEncoding.EncodeToString(buf)
}

// Verify returns the ids a token was made for.
func (s *Signer) Verify(token string) (lessonID, householdID int64, err error) {
	buf, err := base64.RawURLEncoding.Strict().DecodeString(token)
	// The decoder skips line breaks: only the token this signer writes is the token.
	if err != nil || len(buf) <= macLen || base64.RawURLEncoding.EncodeToString(buf) != token {
		return 0, 0, ErrBadToken
	}
	body, mac := buf[:len(buf)-macLen], buf[len(buf)-macLen:]
	if !hmac.Equal(mac, s.mac(body)) {
		return 0, 0, ErrBadToken
	}
	l, n := binary.Uvarint(body)
	if n <= 0 {
		return 0, 0, ErrBadToken
	}
	h, m := binary.Uvarint(body[n:])
	if m <= 0 || n+m != len(body) {
		return 0, 0, ErrBadToken
	}
	return int64(l), int64(h), nil
}

// MaxURLLength is the length of the longest lesson URL for lesson ids below 2^21 and household ids
// below 2^28 (2 million lessons, 268 million households): what an SMS reserves for its link.
func (s *Signer) MaxURLLength() int { return len(s.LessonURL(1<<21-1, 1<<28-1)) }

// LessonURL is the family's lesson page.
func (s *Signer) LessonURL(lessonID, householdID int64) string {
	return fmt.Sprintf("%s/l/%s", s.base, s.Token(lessonID, householdID))
}

func (s *Signer) mac(b []byte) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("relais-lesson-link\x00"))
	m.Write(b)
	return m.Sum(nil)[:macLen]
}
