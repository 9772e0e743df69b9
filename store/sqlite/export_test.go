package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
)

// SetClock makes the store read the time from now, so that tests place events at known times.
func (db *DB) SetClock(now func() time.Time) { db.now = now }

// MigrateTo applies the migrations up to version to the database at path, for migration tests.
func MigrateTo(ctx context.Context, path string, version int64) error {
	conn, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer conn.Close()
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, conn, sub)
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}
