package tokens

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/sqlite"
)

// countingStore is the SQLite store counting the writes of last use.
type countingStore struct {
	relais.TokenStore
	touches int
}

func (s *countingStore) TouchToken(ctx context.Context, id int64, at time.Time) error {
	s.touches++
	return s.TokenStore.TouchToken(ctx, id, at)
}

func newService(t *testing.T) (*Service, *countingStore, *time.Time) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "relais.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	cs := &countingStore{TokenStore: db}
	return New(cs, clock), cs, &now
}

func TestLifeCycle(t *testing.T) {
	ctx := context.Background()
	svc, _, now := newService(t)
	secret, tok, err := svc.Create(ctx, relais.User{ID: "ci", Role: relais.RoleMedia}, "nightly import", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := svc.Authenticate(ctx, secret); err != nil || got.ID != tok.ID || got.User.Role != relais.RoleMedia {
		t.Fatalf("fresh token: %+v, %v", got, err)
	}
	if _, err := svc.Authenticate(ctx, secret+"x"); relais.ErrorCode(err) != relais.EUNAUTHORIZED {
		t.Errorf("wrong secret: %v, want unauthorized", err)
	}
	if _, err := svc.Authenticate(ctx, ""); relais.ErrorCode(err) != relais.EUNAUTHORIZED {
		t.Errorf("empty secret: %v, want unauthorized", err)
	}

	// Rotation: the old secret stops, the new one works, for the default life from now.
	*now = now.Add(12 * time.Hour)
	newSecret, rotated, err := svc.Rotate(ctx, tok.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if newSecret == secret || !rotated.ExpiresAt.Equal(now.Add(DefaultLifetime)) {
		t.Errorf("rotated: same secret %v, expires %v (want %v)", newSecret == secret, rotated.ExpiresAt, now.Add(DefaultLifetime))
	}
	if _, err := svc.Authenticate(ctx, secret); relais.ErrorCode(err) != relais.EUNAUTHORIZED {
		t.Errorf("old secret after rotation: %v, want unauthorized", err)
	}
	if _, err := svc.Authenticate(ctx, newSecret); err != nil {
		t.Errorf("new secret: %v", err)
	}

	// Expiry.
	*now = now.Add(DefaultLifetime)
	if _, err := svc.Authenticate(ctx, newSecret); relais.ErrorCode(err) != relais.EUNAUTHORIZED {
		t.Errorf("expired token: %v, want unauthorized", err)
	}

	// Revocation.
	other, otherTok, err := svc.Create(ctx, relais.User{ID: "t1", Role: relais.RoleTeacher}, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if otherTok.Name != "t1" || !otherTok.ExpiresAt.IsZero() {
		t.Errorf("default name and no expiry: %+v", otherTok)
	}
	if _, err := svc.Revoke(ctx, otherTok.ID); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Authenticate(ctx, other)
	if relais.ErrorCode(err) != relais.EUNAUTHORIZED {
		t.Errorf("revoked token: %v, want unauthorized", err)
	}
	if _, _, err := svc.Rotate(ctx, otherTok.ID, 0); relais.ErrorCode(err) != relais.ECONFLICT {
		t.Errorf("rotate revoked: %v, want conflict", err)
	}
}

func TestCreateRefusesBadInput(t *testing.T) {
	svc, _, _ := newService(t)
	for name, tc := range map[string]struct {
		u   relais.User
		ttl time.Duration
	}{
		"no user":      {relais.User{Role: relais.RoleAdmin}, 0},
		"bad user":     {relais.User{ID: "a b", Role: relais.RoleAdmin}, 0},
		"bad role":     {relais.User{ID: "a", Role: "root"}, 0},
		"negative ttl": {relais.User{ID: "a", Role: relais.RoleAdmin}, -time.Hour},
	} {
		if _, _, err := svc.Create(context.Background(), tc.u, "", tc.ttl); relais.ErrorCode(err) != relais.EINVALID {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
}

// TestLastUseWrittenOncePerMinute: a busy token costs one write a minute, and the time is recorded.
func TestLastUseWrittenOncePerMinute(t *testing.T) {
	ctx := context.Background()
	svc, cs, now := newService(t)
	secret, tok, err := svc.Create(ctx, relais.User{ID: "ci", Role: relais.RoleMedia}, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	start := *now
	for i := range 600 { // ten minutes of a request every second
		*now = start.Add(time.Duration(i) * time.Second)
		if _, err := svc.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
	if cs.touches != 10 {
		t.Errorf("%d writes of last use in 10 minutes, want 10", cs.touches)
	}
	got, err := cs.TokenStore.(*sqlite.DB).Token(ctx, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := start.Add(9 * time.Minute); !got.LastUsedAt.Equal(want) {
		t.Errorf("last used %v, want %v", got.LastUsedAt, want)
	}
}

// BenchmarkAuthenticate measures a request's token check on SQLite: with the last use written at
// most once a minute (throttled), and, as the baseline, written on every request.
//
//	go test ./tokens -run '^$' -bench Authenticate
func BenchmarkAuthenticate(b *testing.B) {
	for _, bc := range []struct {
		name  string
		every time.Duration
	}{{"throttled", TouchEvery}, {"write-per-request", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "relais.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			start := time.Now()
			var n time.Duration
			svc := New(db, func() time.Time { n += time.Millisecond; return start.Add(n) }) // 1,000 requests a second
			svc.touchEvery = bc.every
			secret, _, err := svc.Create(context.Background(), relais.User{ID: "ci", Role: relais.RoleMedia}, "", 0)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := svc.Authenticate(context.Background(), secret); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
