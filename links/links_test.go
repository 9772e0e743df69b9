package links

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTokenRoundTripAndTamper(t *testing.T) {
	s := NewSigner([]byte("secret"), "https://relais.example.org/")
	tok := s.Token(42, 8_000_000)
	l, h, err := s.Verify(tok)
	if err != nil || l != 42 || h != 8_000_000 {
		t.Fatalf("Verify = %d, %d, %v", l, h, err)
	}
	if got, want := s.LessonURL(42, 8_000_000), "https://relais.example.org/l/"+tok; got != want {
		t.Errorf("LessonURL = %q, want %q", got, want)
	}
	if s.Token(42, 8_000_000) != tok {
		t.Error("the same lesson and household gave another token")
	}
	other := NewSigner([]byte("other"), "")
	if _, _, err := other.Verify(tok); err != ErrBadToken {
		t.Errorf("token from another secret: err = %v", err)
	}
	for _, bad := range append(flips(tok), "", "!!", tok[:len(tok)-1], tok+"A", s.UnsubscribeToken(42, "a@example.org")) {
		if _, _, err := s.Verify(bad); err != ErrBadToken {
			t.Errorf("Verify(%q) err = %v, want ErrBadToken", bad, err)
		}
	}
}

// flips returns tok with each bit of its bytes flipped in turn, each still base64url.
func flips(tok string) []string {
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	var out []string
	for i := range raw {
		for bit := range 8 {
			b := bytes.Clone(raw)
			b[i] ^= 1 << bit
			out = append(out, base64.RawURLEncoding.EncodeToString(b))
		}
	}
	return out
}

// TestLinksAreOpaque: a link shows no id, in decimal or in the varints earlier links carried, and no
// part of the address.
func TestLinksAreOpaque(t *testing.T) {
	s := NewSigner([]byte("secret"), "https://relais.example.org")
	const email = "famille.erike@example.org"
	for _, tc := range []struct{ lesson, household int64 }{{42, 8_000_000}, {7, 123456}, {1<<21 - 1, 1<<28 - 1}} {
		varints := binary.AppendUvarint(binary.AppendUvarint(nil, uint64(tc.lesson)), uint64(tc.household))
		for name, url := range map[string]string{
			"lesson":      s.LessonURL(tc.lesson, tc.household),
			"unsubscribe": s.UnsubscribeURL(tc.household, email),
		} {
			tok := url[strings.LastIndex(url, "/")+1:]
			raw, err := base64.RawURLEncoding.DecodeString(tok)
			if err != nil {
				t.Fatalf("%s token %q: %v", name, tok, err)
			}
			for _, clear := range []string{strconv.FormatInt(tc.household, 10), strconv.FormatInt(tc.lesson, 10),
				email, "famille", "example.org", base64.RawURLEncoding.EncodeToString([]byte(email))[:8]} {
				if len(clear) >= 3 && strings.Contains(tok, clear) {
					t.Errorf("%s link %s shows %q", name, url, clear)
				}
			}
			if bytes.Contains(raw, varints) || bytes.Contains(raw, binary.AppendUvarint(nil, uint64(tc.household))) {
				t.Errorf("%s token %q carries the household id's varint in clear", name, tok)
			}
			if bytes.Contains(raw, []byte(email)) || bytes.Contains(raw, []byte("@")) {
				t.Errorf("%s token %q carries the address", name, tok)
			}
		}
	}
}

func TestUnsubscribeTokens(t *testing.T) {
	s := NewSigner([]byte("secret"), "https://relais.example.org")
	tok := s.UnsubscribeToken(42, "Famille@Example.org")
	u, err := s.VerifyUnsubscribe(tok)
	if err != nil || u.HouseholdID != 42 || u.Email != "" {
		t.Fatalf("VerifyUnsubscribe = %+v, %v", u, err)
	}
	if !u.SentTo("famille@example.org") || u.SentTo("another@example.org") || u.SentTo("") {
		t.Error("SentTo does not tell the address the link was made for")
	}
	if got := s.UnsubscribeURL(42, "Famille@Example.org"); got != "https://relais.example.org/u/"+tok {
		t.Errorf("UnsubscribeURL = %q", got)
	}
	for _, bad := range append(flips(tok), "", "x.y", s.Token(42, 1), tok[1:]) {
		if _, err := s.VerifyUnsubscribe(bad); err != ErrBadToken {
			t.Errorf("VerifyUnsubscribe(%q) err = %v, want ErrBadToken", bad, err)
		}
	}
	if _, err := NewSigner([]byte("other"), "").VerifyUnsubscribe(tok); err != ErrBadToken {
		t.Errorf("token from another secret: err = %v", err)
	}
}

// legacyLessonToken and legacyUnsubscribeToken are the links of earlier versions, as families hold them.
func legacyLessonToken(secret []byte, lessonID, householdID int64) string {
	buf := binary.AppendUvarint(binary.AppendUvarint(nil, uint64(lessonID)), uint64(householdID))
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("relais-lesson-link\x00"))
	m.Write(buf)
	return base64.RawURLEncoding.EncodeToString(append(buf, m.Sum(nil)[:macLen]...))
}

func legacyUnsubscribeToken(secret []byte, householdID int64, email string) string {
	payload := strconv.FormatInt(householdID, 10) + ":" + email
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("relais-unsubscribe-v1\x00"))
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestLegacyLinksDuringTransition(t *testing.T) {
	secret := []byte("secret")
	s := NewSigner(secret, "https://relais.example.org")
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	lesson, unsub := legacyLessonToken(secret, 42, 8_000_000), legacyUnsubscribeToken(secret, 9, "a+tag@example.org")
	accepted := func(want bool) {
		t.Helper()
		l, h, err := s.Verify(lesson)
		if got := err == nil && l == 42 && h == 8_000_000; got != want {
			t.Errorf("legacy lesson link: %d, %d, %v; want accepted %v", l, h, err, want)
		}
		u, err := s.VerifyUnsubscribe(unsub)
		if got := err == nil && u.HouseholdID == 9 && u.Email == "a+tag@example.org" && u.SentTo("A+tag@example.org"); got != want {
			t.Errorf("legacy unsubscribe link: %+v, %v; want accepted %v", u, err, want)
		}
	}
	accepted(true) // no end set
	s.AcceptLegacyUntil(now.Add(time.Hour))
	accepted(true)
	now = now.Add(time.Hour)
	accepted(false)
	for _, bad := range []string{legacyLessonToken([]byte("other"), 42, 8_000_000), legacyUnsubscribeToken([]byte("other"), 9, "a@example.org")} {
		s.AcceptLegacyUntil(time.Time{})
		if _, _, err := s.Verify(bad); err != ErrBadToken {
			t.Errorf("forged legacy lesson link accepted")
		}
		if _, err := s.VerifyUnsubscribe(bad); err != ErrBadToken {
			t.Errorf("forged legacy unsubscribe link accepted")
		}
	}
}

func TestMaxURLLength(t *testing.T) {
	s := NewSigner([]byte("secret"), "https://relais.example.org")
	max := s.MaxURLLength()
	for _, ids := range [][2]int64{{1, 1}, {5000, 8_000_000}, {1<<21 - 1, 1<<28 - 1}} {
		if n := len(s.LessonURL(ids[0], ids[1])); n > max {
			t.Errorf("LessonURL(%d, %d) is %d characters, over MaxURLLength %d", ids[0], ids[1], n, max)
		}
	}
	if max > 70 {
		t.Errorf("MaxURLLength %d: too long for an SMS line", max)
	}
}

// FuzzVerify: any token from the street is refused or names ids signed by this signer (as an opaque
// token, or a legacy one during the transition); no panic.
func FuzzVerify(f *testing.F) {
	secret := []byte("secret")
	s := NewSigner(secret, "https://relais.example.org")
	f.Add(s.Token(42, 8_000_000))
	f.Add(legacyLessonToken(secret, 42, 8_000_000))
	f.Add("")
	f.Add("AAAA")
	f.Add("-_-_" + s.Token(1, 1))
	f.Fuzz(func(t *testing.T, tok string) {
		l, h, err := s.Verify(tok)
		if err != nil {
			return
		}
		if s.Token(l, h) != tok && legacyLessonToken(secret, l, h) != tok {
			t.Fatalf("token %q verified as (%d, %d), whose token is %q", tok, l, h, s.Token(l, h))
		}
	})
}
