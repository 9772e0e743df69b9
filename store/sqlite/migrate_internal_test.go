package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	relais "github.com/relais-edu/relais"
)

// TestTokensMigrate: tokens made before tokens had a life cycle keep working, with an id, no expiry
// and no use, and tokens made after get later ids.
func TestTokensMigrate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relais.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := fs.Sub(migrations, "migrations")
	p, err := goose.NewProvider(goose.DialectSQLite3, raw, sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 8); err != nil { // the schema before 00010
		t.Fatal(err)
	}
	made := time.Date(2025, 9, 1, 8, 0, 0, 0, time.UTC)
	for _, tok := range []struct{ hash, user, name, role string }{
		{"h-admin", "root", "Root", "admin"}, {"h-teacher", "t1", "Mme Durand", "teacher"},
	} {
		if _, err := raw.Exec(`INSERT INTO api_tokens (token_hash, user_id, name, role, created_at) VALUES (?,?,?,?,?)`,
			tok.hash, tok.user, tok.name, tok.role, made.UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.TokenByHash(ctx, "h-teacher")
	if err != nil {
		t.Fatal(err)
	}
	want := relais.APIToken{ID: got.ID, Name: "Mme Durand", User: relais.User{ID: "t1", Name: "Mme Durand", Role: relais.RoleTeacher}, CreatedAt: made}
	if got.ID == 0 || got != want || got.Check(time.Now()) != nil {
		t.Errorf("migrated token %+v, want %+v in force", got, want)
	}
	next := relais.APIToken{Name: "new", User: relais.User{ID: "x", Role: relais.RoleMedia}}
	if err := db.CreateToken(ctx, &next, "h-new"); err != nil {
		t.Fatal(err)
	}
	if all, _ := db.Tokens(ctx); len(all) != 3 || next.ID <= got.ID {
		t.Errorf("after a new token: %d tokens, new id %d after %d", len(all), next.ID, got.ID)
	}
}
