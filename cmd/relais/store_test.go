package main

import (
	"context"
	"strings"
	"testing"

	"github.com/relais-edu/relais/internal/testenv"
)

// TestDatabaseURL: RELAIS_DATABASE_URL selects the engine; a URL that is neither is refused, and a
// PostgreSQL that is down at start is an error naming its URL, never the password.
func TestDatabaseURL(t *testing.T) {
	c := DefaultConfig()
	c.DatabaseURL = "postgres://relais:s3cret@db.example.org:5432/relais?sslmode=require"
	c.resolve()
	if err := c.Validate(); err != nil {
		t.Errorf("a postgres URL: %v", err)
	}
	c.DatabaseURL = "mysql://relais:s3cret@db/relais"
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "s3cret") ||
		!strings.Contains(err.Error(), "must be sqlite:PATH or postgres://") {
		t.Errorf("a mysql URL: %v", err)
	}

	addr := testenv.ClosedAddr(t)
	_, err := openStore(context.Background(), Config{DatabaseURL: "postgres://relais:s3cret@" + addr + "/relais?connect_timeout=2"})
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "postgres://relais:xxxxx@"+addr+"/relais") {
		t.Errorf("PostgreSQL down: %v", err)
	}
}
