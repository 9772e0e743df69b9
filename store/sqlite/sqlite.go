// Package sqlite implements relais.Store on SQLite, the embedded default: one file under the data
// directory, migrations embedded and applied at open. Writes go through a single connection (SQLite
// has one writer at a time; queueing them in Go avoids SQLITE_BUSY under load) while reads use a pool.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a relais.Store on one SQLite file.
type DB struct {
	sqlstore.Store // the methods both engines share

	read  *sql.DB
	write *sql.DB
	send  sendStmts
	now   func() time.Time
}

var _ relais.Store = (*DB)(nil)

// Open opens (creating if needed) the database at path and applies pending migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(15000)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	dsn := "file:" + path + "?" + q.Encode()
	// Write transactions take the write lock when they begin: a transaction that reads and then writes
	// would otherwise fail with SQLITE_BUSY_SNAPSHOT, without waiting, when another process (a second
	// worker) wrote in between.
	write, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	read, err := sql.Open("sqlite", dsn)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	read.SetMaxOpenConns(8)
	db := &DB{read: read, write: write, now: time.Now}
	db.Store = sqlstore.New(engine{db}, dialect)
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.send.prepare(ctx, write); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) migrate(ctx context.Context) error {
	return sqlstore.Migrate(ctx, goose.DialectSQLite3, db.write, migrations)
}

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.read.PingContext(ctx) }

// Close closes both pools.
func (db *DB) Close() error {
	db.send.close()
	return errors.Join(db.write.Close(), db.read.Close())
}

// Reader returns the database's read-only connections, for reading whole tables (relais db copy).
func (db *DB) Reader() *sql.DB { return db.read }

// inTx runs fn in a write transaction.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// querier is a pool or a transaction.
type querier = interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// rowScanner is a row to scan: *sql.Row or *sql.Rows.
type rowScanner = sqlstore.Row

// queryAll runs query and returns every row read by scan.
func queryAll[T any](ctx context.Context, q querier, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	return sqlstore.QueryAll(ctx, conn{q}, scan, query, args...)
}

// placeholders returns "?,?,?" for n values.
func placeholders(n int) string { return sqlstore.Placeholders(n) }

// collectIDs reads the ids rows return (an UPDATE ... RETURNING id) and closes rows.
func collectIDs(rows *sql.Rows) ([]int64, error) {
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// insertEvent records a step of a delivery's history.
const insertEvent = `INSERT INTO delivery_events (delivery_id, status, detail, at) VALUES (?,?,?,?)`

// prepare prepares queries in tx, in order; on an error it closes those it made.
func prepare(ctx context.Context, tx *sql.Tx, queries ...string) ([]*sql.Stmt, error) {
	st := make([]*sql.Stmt, 0, len(queries))
	for _, q := range queries {
		s, err := tx.PrepareContext(ctx, q)
		if err != nil {
			closeAll(st)
			return nil, err
		}
		st = append(st, s)
	}
	return st, nil
}

func closeAll(st []*sql.Stmt) {
	for _, s := range st {
		s.Close()
	}
}
