package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
)

func testTokens(t *testing.T, open Open) {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	db := open(t, func() time.Time { return now })
	tok := relais.APIToken{Name: "Alice", User: relais.User{ID: "alice", Role: relais.RoleTeacher}, ExpiresAt: now.Add(24 * time.Hour)}
	if err := db.CreateToken(ctx, &tok, "hash1"); err != nil {
		t.Fatal(err)
	}
	script := relais.APIToken{Name: "grading script", User: relais.User{ID: "bob", Role: relais.RoleMedia}}
	if err := db.CreateToken(ctx, &script, "hash2"); err != nil {
		t.Fatal(err)
	}
	if tok.ID == 0 || script.ID <= tok.ID {
		t.Fatalf("ids %d, %d: want increasing ids", tok.ID, script.ID)
	}
	want := relais.APIToken{ID: tok.ID, Name: "Alice", User: relais.User{ID: "alice", Name: "Alice", Role: relais.RoleTeacher},
		CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	got, err := db.TokenByHash(ctx, "hash1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("token by hash (-want +got):\n%s", diff)
	}
	if got, err := db.Token(ctx, tok.ID); err != nil || !cmp.Equal(want, got) {
		t.Errorf("token by id: %+v, %v", got, err)
	}
	if _, err := db.TokenByHash(ctx, "nope"); relais.ErrorCode(err) != relais.EUNAUTHORIZED {
		t.Errorf("unknown token: %v", err)
	}
	if _, err := db.Token(ctx, 999); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("unknown token id: %v", err)
	}
	if err := db.CreateToken(ctx, &relais.APIToken{Name: "dup", User: relais.User{ID: "x", Role: relais.RoleAdmin}}, "hash1"); err == nil {
		t.Error("a second token with the same hash was stored")
	}

	used := now.Add(5 * time.Minute)
	if err := db.TouchToken(ctx, script.ID, used); err != nil {
		t.Fatal(err)
	}
	if err := db.TouchToken(ctx, script.ID, now); err != nil { // an older use never moves it back
		t.Fatal(err)
	}
	list, err := db.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantList := []relais.APIToken{want, {ID: script.ID, Name: "grading script", User: relais.User{ID: "bob", Name: "grading script", Role: relais.RoleMedia},
		CreatedAt: now, LastUsedAt: used}}
	if diff := cmp.Diff(wantList, list); diff != "" {
		t.Errorf("tokens (-want +got):\n%s", diff)
	}
}

func testTokenRotateRevoke(t *testing.T, open Open) {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	db := open(t, func() time.Time { return now })
	tok := relais.APIToken{Name: "ci", User: relais.User{ID: "ci", Role: relais.RoleMedia}, ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateToken(ctx, &tok, "old"); err != nil {
		t.Fatal(err)
	}
	later := now.Add(30 * 24 * time.Hour)
	rotated, err := db.RotateToken(ctx, tok.ID, "new", later)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.ID != tok.ID || !rotated.ExpiresAt.Equal(later) || rotated.User.Role != relais.RoleMedia {
		t.Errorf("rotated: %+v", rotated)
	}
	if _, err := db.TokenByHash(ctx, "old"); relais.ErrorCode(err) != relais.EUNAUTHORIZED {
		t.Errorf("old secret after rotation: %v, want unauthorized", err)
	}
	if got, err := db.TokenByHash(ctx, "new"); err != nil || got.ID != tok.ID {
		t.Errorf("new secret: %+v, %v", got, err)
	}
	if _, err := db.RotateToken(ctx, 999, "x", time.Time{}); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("rotate unknown: %v", err)
	}

	revoked, err := db.RevokeToken(ctx, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !revoked.RevokedAt.Equal(now) {
		t.Errorf("revoked at %v, want %v", revoked.RevokedAt, now)
	}
	now = now.Add(time.Hour)
	if again, err := db.RevokeToken(ctx, tok.ID); err != nil || !again.RevokedAt.Equal(revoked.RevokedAt) {
		t.Errorf("revoke again: %+v, %v; want the first time kept", again, err)
	}
	got, err := db.TokenByHash(ctx, "new")
	if err != nil {
		t.Fatal(err)
	}
	if relais.ErrorCode(got.Check(now)) != relais.EUNAUTHORIZED {
		t.Errorf("a revoked token passes its check: %+v", got)
	}
	if _, err := db.RotateToken(ctx, tok.ID, "newer", time.Time{}); relais.ErrorCode(err) != relais.ECONFLICT {
		t.Errorf("rotate revoked: %v, want conflict", err)
	}
	if _, err := db.RevokeToken(ctx, 999); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("revoke unknown: %v", err)
	}
}

func testAuditLog(t *testing.T, open Open) {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	db := open(t, func() time.Time { return now })
	entries := []relais.AuditEntry{
		{At: now.Add(-48 * time.Hour), Actor: "alice", Role: relais.RoleTeacher, Action: relais.AuditSubmit, Target: "lesson 1", Address: "192.0.2.1"},
		{At: now.Add(-2 * time.Hour), Actor: "media", Role: relais.RoleMedia, Action: relais.AuditApprove, Target: "lesson 1", Address: "2001:db8::1"},
		{At: now.Add(-time.Hour), Actor: "media", Role: relais.RoleMedia, Action: relais.AuditPublish, Target: "lesson 1", Address: "2001:db8::1"},
		{Actor: "shell", Action: relais.AuditRevoke, Target: "token 3"},
	}
	for i := range entries {
		if err := db.RecordAudit(ctx, &entries[i]); err != nil {
			t.Fatal(err)
		}
	}
	if !entries[3].At.Equal(now) {
		t.Errorf("zero time recorded as %v, want the store's now", entries[3].At)
	}
	ids := func(es []relais.AuditEntry) []int64 {
		var out []int64
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	all, err := db.AuditEntries(ctx, relais.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]relais.AuditEntry{entries[3], entries[2], entries[1], entries[0]}, all); diff != "" {
		t.Errorf("all entries, newest first (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		name string
		f    relais.AuditFilter
		want []int64
	}{
		{"actor", relais.AuditFilter{Actor: "media"}, ids(entries[1:3])},
		{"action", relais.AuditFilter{Action: relais.AuditApprove}, ids(entries[1:2])},
		{"since", relais.AuditFilter{Since: now.Add(-2 * time.Hour)}, ids(entries[1:])},
		{"until", relais.AuditFilter{Until: now.Add(-time.Hour)}, ids(entries[:2])},
		{"page", relais.AuditFilter{Page: relais.Page{After: entries[2].ID, Limit: 1}}, ids(entries[1:2])},
		{"none", relais.AuditFilter{Actor: "nobody"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.AuditEntries(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			for i, j := 0, len(want)-1; i < j; i, j = i+1, j-1 {
				want[i], want[j] = want[j], want[i]
			}
			if diff := cmp.Diff(want, ids(got)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
	n, err := db.PruneAudit(ctx, now.Add(-90*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	left, err := db.AuditEntries(ctx, relais.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || !cmp.Equal(ids([]relais.AuditEntry{entries[3], entries[2]}), ids(left)) {
		t.Errorf("prune removed %d, left %v; want 2 removed, the last two left", n, ids(left))
	}
}
