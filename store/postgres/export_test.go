package postgres

import (
	"context"
	"database/sql"
	"io/fs"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver for database/sql
	"github.com/pressly/goose/v3"
	"github.com/relais-edu/relais/store/internal/sqlstore"
)

// SetClock makes the store read the time from now, so that tests place events at known times.
func (db *DB) SetClock(now func() time.Time) { db.now = now }

// ByKey is byKey, for the plans test.
const ByKey = byKey

// AudienceQuery is audienceQuery, for the plans test.
var AudienceQuery = audienceQuery

// MigrateTo applies the migrations up to version to the database at url, for migration tests.
func MigrateTo(ctx context.Context, url string, version int64) error {
	conn, err := sql.Open("pgx", url)
	if err != nil {
		return err
	}
	defer conn.Close()
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, conn, sub)
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}

// DeliveryEvents is the source of the deliveries' histories, for the plans test.
var DeliveryEvents = dialect.DeliveryEvents

// PhoneIs and EmailIs are the conditions on a household's number and address, OfHousehold on a
// delivery's household, for the plans test.
var PhoneIs, EmailIs, OfHousehold = sqlstore.PhoneIs, dialect.EmailIs, dialect.OfHousehold
