// Package postgres implements relais.Store on PostgreSQL, for installations that many machines write
// at once (several API and worker processes). It behaves as store/sqlite does, down to the subtle
// rules, and store/storetest checks both the same way. Migrations are embedded and applied at open,
// under an advisory lock so that processes starting together apply them once. Pages of rows go to the
// server as arrays in one statement (unnest), never a statement per row.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key held while migrations are applied ("relais" in ASCII).
const migrationLock int64 = 0x72656c616973

// DB is a relais.Store on a PostgreSQL database.
type DB struct {
	sqlstore.Store // the methods both engines share

	pool *pgxpool.Pool
	now  func() time.Time
}

var _ relais.Store = (*DB)(nil)

// Open connects to the database at rawURL (postgres://user:password@host:port/db?options; pgxpool's
// pool_max_conns and the like are read from it) and applies pending migrations. An error names the
// URL without its password.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		// The parser's own message may quote the URL: say what is wrong without it.
		return nil, fmt.Errorf("database %s: not a valid PostgreSQL URL", Redact(rawURL))
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "relais" // names Relais' sessions in pg_stat_activity
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", Redact(rawURL), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %s does not answer: %w", Redact(rawURL), err)
	}
	db := &DB{pool: pool, now: time.Now}
	db.Store = sqlstore.New(engine{db}, dialect)
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %s: %w", Redact(rawURL), err)
	}
	return db, nil
}

// ConcurrentWriters is how many write transactions of send tasks the queue runs at once (its group
// commit): half the pool, at least one.
func (db *DB) ConcurrentWriters() int { return max(int(db.pool.Config().MaxConns)/2, 1) }

// Redact returns a database URL with its password, wherever it is written, replaced by xxxxx.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unreadable URL)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// migrate applies the pending migrations while holding a session-level advisory lock on a connection
// of its own (outside the pool, which may be as small as one connection): a process starting at the
// same time waits for the lock, then finds nothing to apply. A process that dies holding the lock
// loses its session, and the lock with it.
func (db *DB) migrate(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, db.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("lock for migrations: %w", err)
	}

	sqlDB := stdlib.OpenDBFromPool(db.pool)
	defer sqlDB.Close()
	return sqlstore.Migrate(ctx, goose.DialectPostgres, sqlDB, migrations)
}

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

// Close closes the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Pool returns the connection pool, for its statistics.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// PoolStats reads the connection pool's figures.
func (db *DB) PoolStats() relais.PoolStats {
	s := db.pool.Stat()
	return relais.PoolStats{Acquired: s.AcquiredConns(), Idle: s.IdleConns(), Total: s.TotalConns(), Max: s.MaxConns(),
		Acquires: s.AcquireCount(), EmptyAcquires: s.EmptyAcquireCount(), Canceled: s.CanceledAcquireCount(),
		AcquireWait: s.AcquireDuration()}
}

// inTx runs fn in a transaction.
func (db *DB) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db.pool, fn)
}

// ts is t as stored: UTC, to the millisecond, as store/sqlite keeps times.
func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// querier is the pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// rowScanner is a row to scan: pgx.Row or pgx.Rows.
type rowScanner = sqlstore.Row

// queryAll runs query and returns every row read by scan.
func queryAll[T any](ctx context.Context, q querier, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	return sqlstore.QueryAll(ctx, conn{q}, scan, query, args...)
}

// isUniqueViolation reports whether err is a unique constraint's refusal.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
