package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/tokens"
)

const tokenUsage = `Usage: relais token COMMAND [flags]

Manages API tokens. A token acts as one user with one role, expires, and is stored only as the
SHA-256 of its secret: the secret is printed once, by create and rotate, and never again.

Commands:
  create   --user ID --role teacher|media|admin [--name NAME] [--expires 90d]: make a token, print its secret
  list     list every token: id, name, user, role, created, expires, last used, state
  rotate   [--expires 90d] ID: give token ID a new secret (the old one stops working at once), print it
  revoke   ID: revoke token ID at once

Each change is written to the audit log as done by "shell", as are the changes of relais station
create, grid template|slot|cancel|fill and bounces import.
`

// shell is the audit log's actor of the command line.
var shell = relais.User{ID: "shell"}

func cmdTokenCreate(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "token create", "token create --user ID --role teacher|media|admin [--name NAME] [--expires 90d] [--json]",
		"Creates an API token for a user and prints its secret once; only its SHA-256 is stored in the database.")
	user := fs.String("user", "", "user id the token acts as (a teacher sees only this user's lessons)")
	role := fs.String("role", "", "teacher, media or admin")
	name := fs.String("name", "", "what the token is for, shown in listings and as the user's name; default: the user id")
	expires := fs.String("expires", "90d", "lifetime: days (90d) or a Go duration (12h); 0: never")
	asJSON := jsonFlag(fs)
	cfg, err := loadSettings(fs, args, io, dbSettings...)
	if err != nil {
		return err
	}
	r := relais.Role(*role)
	if !relais.ValidRole(r) {
		return errors.New("--role must be teacher, media or admin")
	}
	ttl, err := parseLifetime(*expires)
	if err != nil {
		return err
	}
	return withTokens(ctx, cfg, func(svc *tokens.Service, store relais.Store) error {
		secret, t, err := svc.Create(ctx, relais.User{ID: *user, Role: r}, *name, ttl)
		if err != nil {
			return userError(err)
		}
		recordShell(ctx, io, store, relais.AuditCreate, "token "+strconv.FormatInt(t.ID, 10))
		if *asJSON {
			return writeJSON(io, map[string]any{"id": t.ID, "user": t.User.ID, "role": string(t.User.Role), "token": secret,
				"expires_at": t.ExpiresAt})
		}
		fmt.Fprintln(io.out, secret)
		fmt.Fprintf(io.err, "token %d for %s (%s), %s\n", t.ID, t.User.ID, t.User.Role, expiry(t))
		return nil
	})
}

func cmdTokenList(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "token list", "token list", "Lists every API token, revoked ones too; secrets are never shown.")
	cfg, err := loadSettings(fs, args, io, dbSettings...)
	if err != nil {
		return err
	}
	return withTokens(ctx, cfg, func(svc *tokens.Service, _ relais.Store) error {
		ts, err := svc.List(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(io.out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tNAME\tUSER\tROLE\tCREATED\tEXPIRES\tLAST USED\tSTATE")
		now := time.Now()
		for _, t := range ts {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.User.ID, t.User.Role, stamp(t.CreatedAt, "-"),
				stamp(t.ExpiresAt, "never"), stamp(t.LastUsedAt, "never"), tokenState(t, now))
		}
		return w.Flush()
	})
}

func cmdTokenRotate(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "token rotate", "token rotate [--expires 90d] ID",
		"Gives a token a new secret and prints it once; the old secret stops working at once.")
	expires := fs.String("expires", "", "new lifetime from now: days (90d) or a Go duration; default: 90 days, or never for a token that never expired")
	cfg, id, err := loadTokenSettings(fs, args, io)
	if err != nil {
		return err
	}
	var ttl time.Duration
	if *expires != "" {
		if ttl, err = parseLifetime(*expires); err != nil {
			return err
		}
	}
	return withTokens(ctx, cfg, func(svc *tokens.Service, store relais.Store) error {
		secret, t, err := svc.Rotate(ctx, id, ttl)
		if err != nil {
			return userError(err)
		}
		recordShell(ctx, io, store, relais.AuditRotate, "token "+strconv.FormatInt(t.ID, 10))
		fmt.Fprintln(io.out, secret)
		fmt.Fprintf(io.err, "token %d rotated, %s\n", t.ID, expiry(t))
		return nil
	})
}

func cmdTokenRevoke(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "token revoke", "token revoke ID", "Revokes a token at once: requests with it are refused from now on.")
	cfg, id, err := loadTokenSettings(fs, args, io)
	if err != nil {
		return err
	}
	return withTokens(ctx, cfg, func(svc *tokens.Service, store relais.Store) error {
		t, err := svc.Revoke(ctx, id)
		if err != nil {
			return userError(err)
		}
		recordShell(ctx, io, store, relais.AuditRevoke, "token "+strconv.FormatInt(t.ID, 10))
		fmt.Fprintf(io.out, "token %d (%s, %s) revoked\n", t.ID, t.Name, t.User.ID)
		return nil
	})
}

// withTokens runs f on the token service of the configured database.
func withTokens(ctx context.Context, cfg Config, f func(*tokens.Service, relais.Store) error) error {
	return withStore(ctx, cfg, func(db relais.Store) error { return f(tokens.New(db, nil), db) })
}

// recordShell writes a change made from the command line to the audit log; the change is made, so a
// failure to record is only said.
func recordShell(ctx context.Context, io *stdio, store relais.AuditStore, action relais.AuditAction, target string) {
	e := relais.AuditEntry{Actor: shell.ID, Action: action, Target: target}
	if err := store.RecordAudit(ctx, &e); err != nil {
		fmt.Fprintf(io.err, "warning: the audit log did not record this: %v\n", err)
	}
}

// loadTokenSettings loads the configuration of a command that names one token by its id, and the id.
func loadTokenSettings(fs *flag.FlagSet, args []string, io *stdio) (Config, int64, error) {
	cfg, err := loadSettings(fs, args, io, dbSettings...)
	if err != nil {
		return cfg, 0, err
	}
	id, err := tokenArg(fs.Args())
	return cfg, id, err
}

func tokenArg(args []string) (int64, error) {
	if len(args) != 1 {
		return 0, errors.New("name one token by its id (see 'relais token list')")
	}
	id, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("token id %q is not a positive number (see 'relais token list')", args[0])
	}
	return id, nil
}

// parseLifetime reads "90d", a Go duration ("12h") or "0" (never).
func parseLifetime(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" || s == "never" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, fmt.Errorf("--expires %q: give days (90d), a Go duration (12h) or 0 for never", s)
}

func expiry(t relais.APIToken) string {
	if t.ExpiresAt.IsZero() {
		return "never expires"
	}
	return "expires " + t.ExpiresAt.Local().Format("2006-01-02 15:04")
}

func stamp(t time.Time, none string) string {
	if t.IsZero() {
		return none
	}
	return t.Local().Format("2006-01-02 15:04")
}

func tokenState(t relais.APIToken, now time.Time) string {
	switch {
	case !t.RevokedAt.IsZero():
		return "revoked"
	case t.Check(now) != nil:
		return "expired"
	}
	return "active"
}

// newToken makes a token for u that never expires and returns its secret: the demo's and tests'.
func newToken(ctx context.Context, store relais.TokenStore, u relais.User) (string, error) {
	secret, _, err := tokens.New(store, nil).Create(ctx, u, u.Name, 0)
	return secret, err
}
