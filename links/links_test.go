package links

import "testing"

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
	other := NewSigner([]byte("other"), "")
	if _, _, err := other.Verify(tok); err != ErrBadToken {
		t.Errorf("token from another secret: err = %v", err)
	}
	b := []byte(tok)
	b[0] ^= 1
	for _, bad := range []string{"", "!!", string(b), tok[:len(tok)-1]} {
		if _, _, err := s.Verify(bad); err != ErrBadToken {
			t.Errorf("Verify(%q) err = %v, want ErrBadToken", bad, err)
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

// FuzzVerify: any token from the street is refused or names ids signed by this signer; no panic.
func FuzzVerify(f *testing.F) {
	s := NewSigner([]byte("secret"), "https://relais.example.org")
	f.Add(s.Token(42, 8_000_000))
	f.Add("")
	f.Add("AAAA")
	f.Add("-_-_" + s.Token(1, 1))
	f.Fuzz(func(t *testing.T, tok string) {
		l, h, err := s.Verify(tok)
		if err != nil {
			return
		}
		if s.Token(l, h) != tok {
			t.Fatalf("token %q verified as (%d, %d), whose token is %q", tok, l, h, s.Token(l, h))
		}
	})
}
