package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/internal/sqlstore"
)

// engine lends the methods SQLite shares with PostgreSQL (store/internal/sqlstore) its connections:
// reads on the read pool, writes on the single write connection.
type engine struct{ db *DB }

var _ sqlstore.Engine = engine{}

func (e engine) Read() sqlstore.Querier  { return conn{e.db.read} }
func (e engine) Write() sqlstore.Querier { return conn{e.db.write} }
func (e engine) Now() time.Time          { return e.db.now() }

func (e engine) InTx(ctx context.Context, fn func(tx sqlstore.Querier) error) error {
	return e.db.inTx(ctx, func(tx *sql.Tx) error { return fn(conn{tx}) })
}

// Time keeps a time as milliseconds since 1970.
func (engine) Time(t time.Time) any { return ms(t) }

// OptTime keeps none as 0.
func (engine) OptTime(t time.Time) any {
	if t.IsZero() {
		return int64(0)
	}
	return ms(t)
}

// None is column = 0.
func (engine) None(column string) string { return column + ` = 0` }

// Some is column > 0, the condition of the partial indexes of such times (households_removed).
func (engine) Some(column string) string { return column + ` > 0` }

// Lock takes no lock: writes run one at a time on the write connection, and write transactions hold
// the database's write lock from their start (_txlock=immediate).
func (engine) Lock(context.Context, sqlstore.Querier, string, int64) error { return nil }

// Conflict is never met: with one writer at a time, a check made in a transaction holds until its end.
func (engine) Conflict(error) bool { return false }

// InsertSlots writes new slots one statement each (on one connection, they cost no round trip).
func (engine) InsertSlots(ctx context.Context, tx sqlstore.Querier, slots []relais.Slot) error {
	return sqlstore.InsertSlots(ctx, tx, slots)
}

// dialect is what SQLite's SQL says its own way.
var dialect = sqlstore.Dialect{
	LessonAfter: lessonAfter,
	OfHousehold: ofHousehold,
	EmailIs:     emailIs,
	SkipLocked:  "",
	NoLimit:     int64(-1),
	NoJSON:      "",
	Upsert:      upsert,
	// A delivery marked implied_start (migration 00024) has its first event in its row: pending, no
	// detail, at its creation, before every event recorded (ids start at 1). SQLite pushes a query's
	// delivery_id down into both halves (TestPlanImpliesFirstEvent).
	DeliveryEvents: `(SELECT id AS delivery_id, 'pending' AS status, '' AS detail, created_at AS at, 0 AS id
		FROM deliveries WHERE implied_start
		UNION ALL SELECT delivery_id, status, detail, at, id FROM delivery_events) e`,
	RewritePupils: `UPDATE households SET pupils = (SELECT json_group_array(json_object('grade', grade, 'language', language))
		FROM (SELECT grade, language FROM pupils WHERE household_id = ? ORDER BY grade)) WHERE id = ?`,
}

// upsert writes a row in place of the one with the same key (INSERT OR REPLACE).
func upsert(table, _ string, columns ...string) string {
	return `INSERT OR REPLACE INTO ` + table + ` (` + strings.Join(columns, ", ") + `) VALUES (` +
		sqlstore.Placeholders(len(columns)) + `)`
}

// conn is a pool or a transaction as sqlstore sees one.
type conn struct{ q querier }

func (c conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (c conn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := c.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (c conn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return c.q.QueryRowContext(ctx, query, args...)
}

// sqlRows is a *sql.Rows whose Close, as pgx's, returns nothing: its error, if any, is Err's.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

// emailIs is the condition on an address, without case, read on the partial index households_email
// (COLLATE NOCASE, migration 00023) for an address that is not empty.
func emailIs(email string) string {
	if email == "" {
		return `h.email = ? COLLATE NOCASE`
	}
	return `h.email = ? COLLATE NOCASE AND h.email <> ''`
}

// lessonAfter reads a lesson's deliveries after a cursor on deliveries_lesson (lesson_id, and the
// rowid that every SQLite index ends with).
func lessonAfter(lesson, after int64) (string, []any) {
	return `lesson_id = ? AND id > ?`, []any{lesson, after}
}

// ofHousehold finds a household's deliveries on the unique key, a probe per lesson: SQLite reads the
// key with the list of lessons' ids as it reads an IN list of values.
func ofHousehold(d string) string {
	return d + `.lesson_id IN (SELECT id FROM lessons) AND ` + d + `.household_id = ?`
}
