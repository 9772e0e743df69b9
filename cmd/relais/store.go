package main

import (
	"context"
	"strings"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/postgres"
	"github.com/relais-edu/relais/store/sqlite"
)

// openStore opens the database RELAIS_DATABASE_URL names: sqlite:PATH (the embedded default) or a
// postgres:// URL. An error names a PostgreSQL URL without its password.
func openStore(ctx context.Context, databaseURL string) (relais.Store, error) {
	if isPostgresURL(databaseURL) {
		return postgres.Open(ctx, databaseURL)
	}
	return sqlite.Open(ctx, strings.TrimPrefix(databaseURL, "sqlite:"))
}

func isPostgresURL(u string) bool {
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}
