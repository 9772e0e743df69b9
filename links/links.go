// Package links makes and checks the addresses Relais puts in SMS and email for families: the lesson
// page and the unsubscribe link. A family opens them without an account, so each carries a token that
// nobody can guess or forge for another family, and that is opaque: proxies and access logs see the
// link, and it must tell them no household, lesson, phone number or email address.
//
// A token is sealed with a deterministic authenticated encryption (SIV, RFC 5297's construction with
// HMAC-SHA256 and AES-CTR): tag = HMAC(kind || ids)[:12], then the ids encrypted under AES-CTR with
// the tag as IV; the token is base64url(tag || ciphertext). The same ids always give the same link (a
// resent SMS carries the link the family has), and the link is as short as the plain one was.
package links

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Signer makes and checks family links.
type Signer struct {
	secret []byte
	base   string // public base URL, without a trailing slash
	macKey []byte
	block  cipher.Block
	// legacyUntil ends the acceptance of the links made before they were opaque; zero: accepted.
	legacyUntil time.Time
	now         func() time.Time
}

// NewSigner returns a signer for links under base (e.g. "https://relais.example.org").
func NewSigner(secret []byte, base string) *Signer {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(derive("relais-link-enc-v2\x00")[:16])
	if err != nil {
		panic(err) // a 16-byte key never fails
	}
	return &Signer{secret: secret, base: strings.TrimRight(base, "/"), macKey: derive("relais-link-mac-v2\x00"),
		block: block, now: time.Now}
}

// AcceptLegacyUntil makes the signer refuse, from t on, the links of earlier versions (lesson links
// whose ids were readable, unsubscribe links carrying the email address); until then they keep working,
// as families still hold them. A zero t accepts them always.
func (s *Signer) AcceptLegacyUntil(t time.Time) { s.legacyUntil = t }

func (s *Signer) legacy() bool { return s.legacyUntil.IsZero() || s.now().Before(s.legacyUntil) }

// ErrBadToken is returned for a token that was not made by this signer.
var ErrBadToken = errors.New("links: bad token")

const macLen = 12 // 96 bits: short enough for an SMS, far too long to guess

// What a token is for: sealed into its tag, so one kind of token never opens as another.
const (
	kindLesson      byte = 'l'
	kindUnsubscribe byte = 'u'
)

func (s *Signer) tag(kind byte, body []byte) []byte {
	m := hmac.New(sha256.New, s.macKey)
	m.Write([]byte{kind})
	m.Write(body)
	return m.Sum(nil)[:macLen]
}

func (s *Signer) crypt(tag, in []byte) []byte {
	iv := make([]byte, aes.BlockSize)
	copy(iv, tag)
	out := make([]byte, len(in))
	cipher.NewCTR(s.block, iv).XORKeyStream(out, in)
	return out
}

func (s *Signer) seal(kind byte, body []byte) string {
	tag := s.tag(kind, body)
	return base64.RawURLEncoding.EncodeToString(append(tag, s.crypt(tag, body)...))
}

// open returns the body sealed in token for kind.
func (s *Signer) open(kind byte, token string) ([]byte, bool) {
	buf, err := base64.RawURLEncoding.Strict().DecodeString(token)
	// The decoder skips line breaks: only the token this signer writes is the token.
	if err != nil || len(buf) <= macLen || base64.RawURLEncoding.EncodeToString(buf) != token {
		return nil, false
	}
	tag := buf[:macLen]
	body := s.crypt(tag, buf[macLen:])
	return body, hmac.Equal(tag, s.tag(kind, body))
}

// Token is the opaque token of the lesson page of (lessonID, householdID).
func (s *Signer) Token(lessonID, householdID int64) string {
	buf := binary.AppendUvarint(nil, uint64(lessonID))
	return s.seal(kindLesson, binary.AppendUvarint(buf, uint64(householdID)))
}

// Verify returns the ids a lesson token was made for. Until AcceptLegacyUntil's time it also accepts
// the tokens of earlier versions, whose ids were readable.
func (s *Signer) Verify(token string) (lessonID, householdID int64, err error) {
	body, ok := s.open(kindLesson, token)
	if !ok {
		if !s.legacy() {
			return 0, 0, ErrBadToken
		}
		if body, ok = s.openLegacy(token); !ok {
			return 0, 0, ErrBadToken
		}
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

// fingerprintLen is the bytes of an email address's fingerprint an unsubscribe token keeps: enough to
// tell the address the link was sent to from the household's next one.
const fingerprintLen = 4

func (s *Signer) fingerprint(email string) []byte {
	m := hmac.New(sha256.New, s.macKey)
	m.Write([]byte("email\x00"))
	m.Write([]byte(strings.ToLower(strings.TrimSpace(email))))
	return m.Sum(nil)[:fingerprintLen]
}

// UnsubscribeToken is the opaque token of the unsubscribe link of a household's email address: the
// household id and a keyed fingerprint of the address, sealed.
func (s *Signer) UnsubscribeToken(householdID int64, email string) string {
	return s.seal(kindUnsubscribe, append(binary.AppendUvarint(nil, uint64(householdID)), s.fingerprint(email)...))
}

// UnsubscribeURL is the one-click unsubscribe link of a household's email address.
func (s *Signer) UnsubscribeURL(householdID int64, email string) string {
	return s.base + "/u/" + s.UnsubscribeToken(householdID, email)
}

// Unsubscription is what an unsubscribe token names.
type Unsubscription struct {
	HouseholdID int64
	// Email is the address a legacy token carried; empty for an opaque token, whose address is the
	// household's, when SentTo confirms the link was sent to it.
	Email       string
	fingerprint []byte
	signer      *Signer
}

// SentTo reports whether the link was made for the address email (the household's address may have
// changed since).
func (u Unsubscription) SentTo(email string) bool {
	if u.Email != "" {
		return strings.EqualFold(u.Email, email)
	}
	return email != "" && hmac.Equal(u.fingerprint, u.signer.fingerprint(email))
}

// VerifyUnsubscribe checks an unsubscribe token. Until AcceptLegacyUntil's time it also accepts the
// tokens of earlier versions, which carried the address (Unsubscription.Email).
func (s *Signer) VerifyUnsubscribe(token string) (Unsubscription, error) {
	if body, ok := s.open(kindUnsubscribe, token); ok {
		id, n := binary.Uvarint(body)
		if n <= 0 || len(body)-n != fingerprintLen || id == 0 {
			return Unsubscription{}, ErrBadToken
		}
		return Unsubscription{HouseholdID: int64(id), fingerprint: body[n:], signer: s}, nil
	}
	if s.legacy() {
		if id, email, ok := s.openLegacyUnsubscribe(token); ok {
			return Unsubscription{HouseholdID: id, Email: email, signer: s}, nil
		}
	}
	return Unsubscription{}, ErrBadToken
}

// Links of earlier versions, accepted during the transition (AcceptLegacyUntil).

// openLegacy opens a lesson token of earlier versions: base64url(uvarint ids || HMAC(secret, context ||
// ids)[:12]), the ids readable.
func (s *Signer) openLegacy(token string) ([]byte, bool) {
	buf, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(buf) <= macLen || base64.RawURLEncoding.EncodeToString(buf) != token {
		return nil, false
	}
	body, mac := buf[:len(buf)-macLen], buf[len(buf)-macLen:]
	return body, hmac.Equal(mac, s.legacyMAC(body))
}

func (s *Signer) legacyMAC(b []byte) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("relais-lesson-link\x00"))
	m.Write(b)
	return m.Sum(nil)[:macLen]
}

// openLegacyUnsubscribe opens an unsubscribe token of earlier versions: base64url(id ":" email) "."
// base64url(HMAC-SHA256(secret, context || id ":" email)).
func (s *Signer) openLegacyUnsubscribe(token string) (int64, string, bool) {
	p, m, ok := strings.Cut(token, ".")
	if !ok {
		return 0, "", false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	mac, err2 := base64.RawURLEncoding.DecodeString(m)
	if err1 != nil || err2 != nil {
		return 0, "", false
	}
	h := hmac.New(sha256.New, s.secret)
	h.Write([]byte("relais-unsubscribe-v1\x00"))
	h.Write(payload)
	if !hmac.Equal(mac, h.Sum(nil)) {
		return 0, "", false
	}
	id, email, ok := strings.Cut(string(payload), ":")
	householdID, err := strconv.ParseInt(id, 10, 64)
	if !ok || email == "" || err != nil {
		return 0, "", false
	}
	return householdID, email, true
}
