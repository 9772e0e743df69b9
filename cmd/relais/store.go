package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/postgres"
	"github.com/relais-edu/relais/store/sqlite"
)

// openStore opens the database RELAIS_DATABASE_URL names: a postgres:// URL, or sqlite:PATH (the
// embedded default), making the data directory if need be. An error names a PostgreSQL URL without
// its password.
func openStore(ctx context.Context, cfg Config) (relais.Store, error) {
	if isPostgresURL(cfg.DatabaseURL) {
		return postgres.Open(ctx, cfg.DatabaseURL)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	return sqlite.Open(ctx, strings.TrimPrefix(cfg.DatabaseURL, "sqlite:"))
}

// withStore opens the configured database, runs fn on it and closes it.
func withStore(ctx context.Context, cfg Config, fn func(relais.Store) error) error {
	db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(db)
}

func isPostgresURL(u string) bool {
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}
