package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/api"
)

var userIDPattern = regexp.MustCompile(`^[a-zA-Z0-9._@-]{1,64}$`)

const tokenUsage = `Usage: relais token create --user ID --role teacher|media|admin [--name NAME]

Creates an API token and prints it once; only its hash is stored.
`

func cmdTokenCreate(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "token create", "token create --user ID --role teacher|media|admin [--name NAME] [--json]",
		"Creates an API token for a user and prints it once; only its SHA-256 is stored in the database.")
	user := fs.String("user", "", "user id the token acts as (a teacher sees only this user's lessons)")
	role := fs.String("role", "", "teacher, media or admin")
	name := fs.String("name", "", "display name; default: the user id")
	asJSON := jsonFlag(fs)
	cfg, err := loadSettings(fs, args, io, dbSettings...)
	if err != nil {
		return err
	}
	r := relais.Role(*role)
	if r != relais.RoleTeacher && r != relais.RoleMedia && r != relais.RoleAdmin {
		return errors.New("--role must be teacher, media or admin")
	}
	if !userIDPattern.MatchString(*user) {
		return errors.New("--user must be 1-64 letters, digits or . _ @ -")
	}
	if *name == "" {
		*name = *user
	}
	tok, err := createToken(ctx, cfg, relais.User{ID: *user, Name: strings.TrimSpace(*name), Role: r})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(io, map[string]string{"user": *user, "role": string(r), "token": tok})
	}
	fmt.Fprintln(io.out, tok)
	return nil
}

// createToken stores a new token for u in the configured database and returns it.
func createToken(ctx context.Context, cfg Config, u relais.User) (string, error) {
	db, err := openStore(ctx, cfg)
	if err != nil {
		return "", err
	}
	defer db.Close()
	return newToken(ctx, db, u)
}

func newToken(ctx context.Context, store relais.TokenStore, u relais.User) (string, error) {
	raw := make([]byte, 24)
	rand.Read(raw)
	tok := "rl_" + base64.RawURLEncoding.EncodeToString(raw)
	if err := store.CreateToken(ctx, u, u.Name, api.HashToken(tok)); err != nil {
		return "", err
	}
	return tok, nil
}
