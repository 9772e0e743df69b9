// Package sqlstore is the half of relais.Store that store/sqlite and store/postgres share: the
// methods whose SQL both engines speak alike, how a row of each table becomes a domain value (the
// scan destinations read either engine's column types: SQLite keeps times as milliseconds and
// booleans as 0 and 1, PostgreSQL as timestamptz and boolean), the column lists and the filters.
//
// An engine's DB embeds Store and lends it an Engine (its connections, transactions and clock, how it
// writes a time, its row locks, and the steps it takes its own way) and a Dialect (the few statements
// it words differently). It keeps for itself only what is really its own: the household import,
// planning, claims and sends, and its counting tables.
//
// Queries here are written with ? placeholders; PostgreSQL's connections number them ($1, $2, ...).
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
)

// Row is a row to scan: one row of a result, or the result of a query of one row.
type Row = interface{ Scan(...any) error }

// Rows is an engine's result set.
type Rows interface {
	Row
	Next() bool
	Err() error
	Close()
}

// Querier is a pool or a transaction of either engine. Queries use ? placeholders; QueryRow's Scan
// returns an error that is sql.ErrNoRows (errors.Is) when no row came back.
type Querier interface {
	Exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Engine is what a store on one SQL engine lends the shared methods.
type Engine interface {
	// Read is the connections reads go to; Write those of a write outside a transaction.
	Read() Querier
	Write() Querier
	// InTx runs fn in a write transaction, committed when fn returns nil.
	InTx(ctx context.Context, fn func(tx Querier) error) error
	// Now is the store's clock.
	Now() time.Time
	// Time is t as the engine stores a time (to the millisecond, in UTC).
	Time(t time.Time) any
	// OptTime is t as the engine stores a time that may be none, for the zero time: 0 or NULL.
	OptTime(t time.Time) any
	// None is the condition that column, a time that may be none, holds none.
	None(column string) string
	// Some is the condition that column, a time that may be none, holds one, worded as the engine's
	// partial indexes of such a column say it (NOT None would not find them).
	Some(column string) string
	// Lock takes the lock of a table's row for the rest of tx, so that writers that check a row's
	// dependants before changing them run one at a time; a missing row locks nothing. An engine whose
	// writes already run one at a time takes none.
	Lock(ctx context.Context, tx Querier, table string, id int64) error
	// Conflict reports whether err is a unique constraint's refusal, met when another writer made the
	// same change at the same time (never, on an engine whose writes run one at a time).
	Conflict(err error) bool

	// The steps of shared methods that each engine takes its own way:

	// InsertSlots writes new slots in tx and sets their ids.
	InsertSlots(ctx context.Context, tx Querier, slots []relais.Slot) error
	// RemoveSettled removes, in tx, settled deliveries with their history, keeping the lessons'
	// counts as they were.
	RemoveSettled(ctx context.Context, tx Querier, ids []int64) error
	// KeptFailures reads a lesson's failures (every lesson's for 0), by channel, status and reason,
	// from the counts the engine keeps, the most first, up to limit.
	KeptFailures(ctx context.Context, lessonID int64, limit int) ([]relais.FailureCount, error)
}

// Dialect holds what an engine's SQL says differently where the Go around it is the same.
type Dialect struct {
	// EmailIs is the condition on households h that its email is email (without case), with one ?
	// placeholder for the value. (A phone is compared the same way on both engines: PhoneIs.)
	EmailIs func(email string) string
	// RewritePupils sets households.pupils of a household (? twice, its id) to the JSON list of its rows
	// in pupils, by grade.
	RewritePupils string
	// SkipLocked is what a SELECT ends with to lock the rows it reads, leaving those another
	// transaction holds ("" where writes run one at a time).
	SkipLocked string
	// NoLimit is the value of a LIMIT ? that sets none.
	NoLimit any
	// NoJSON is the value of an optional JSON column that holds none.
	NoJSON any
	// Upsert is the statement that writes a row of columns (? placeholders, in that order) to table,
	// in place of the row with the same key (a column list).
	Upsert func(table, key string, columns ...string) string
	// LessonAfter is the condition that a delivery is of lesson and after the id after, with its
	// arguments, worded so that the engine reads it on deliveries_lesson, in id order.
	LessonAfter func(lesson, after int64) (string, []any)
	// OfHousehold is the condition that a delivery (the table or alias d) is of the household bound to
	// its one ? placeholder, worded so that the engine probes the unique key (lesson_id, household_id,
	// channel) once per lesson: no index starts with household_id, whose entries would cost each of the
	// millions of deliveries a fan-out writes, and lessons are thousands at most.
	OfHousehold func(d string) string
	// DeliveryEvents is the source (a table or a subquery) of the deliveries' histories: delivery_id,
	// status, detail, at, in order of id.
	DeliveryEvents string
}

// Store implements the methods of relais.Store that both engines share; an engine's DB embeds it.
type Store struct {
	e Engine
	d Dialect
}

// New returns the shared methods running on e, speaking d.
func New(e Engine, d Dialect) Store { return Store{e: e, d: d} }

// QueryAll runs query and returns every row read by scan.
func QueryAll[T any](ctx context.Context, q Querier, scan func(Row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// scanTail returns row with extra destinations after those its Scan is given: a scanX function then
// reads a row that joins more columns after its own.
func scanTail(row Row, extra ...any) Row { return tailScanner{row, extra} }

type tailScanner struct {
	row   Row
	extra []any
}

func (t tailScanner) Scan(dest ...any) error { return t.row.Scan(append(dest, t.extra...)...) }

// scanHead returns row with extra destinations before those its Scan is given.
func scanHead(row Row, extra ...any) Row { return headScanner{row, extra} }

type headScanner struct {
	row   Row
	extra []any
}

func (h headScanner) Scan(dest ...any) error {
	return h.row.Scan(append(append([]any{}, h.extra...), dest...)...)
}

// noRow reports whether err says a query of one row found none (both engines' errors are
// sql.ErrNoRows: pgx wraps it).
func noRow(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// orNotFound returns notFound() when err says the row does not exist, else err; the not-found error
// is only made when needed, so a read that finds its row costs nothing more.
func orNotFound(err error, notFound func() error) error {
	if noRow(err) {
		return notFound()
	}
	return err
}

// Where is a listing's query with the conditions of its filter that apply.
type Where struct {
	SQL  string
	Args []any
}

// And adds " AND cond" (with one ? placeholder) and its argument when set.
func (w *Where) And(set bool, cond string, arg any) {
	if set {
		w.SQL += ` AND ` + cond
		w.Args = append(w.Args, arg)
	}
}

// prefixed qualifies every column of a column list with p.
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// Placeholders returns "?,?,?" for n values.
func Placeholders(n int) string {
	if n == 0 {
		return ""
	}
	return strings.Repeat("?,", n-1) + "?"
}

// Rebind numbers a query's ? placeholders $1, $2, ... for an engine that numbers them. The queries
// given hold no ? in their literals; a query that numbers its own ($1) is left as it is, so that an
// engine's own queries (a jsonb ? operator among them) may go through the same connections.
func Rebind(query string) string {
	n := strings.Count(query, "?")
	if n == 0 || strings.Contains(query, "$") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 2*n)
	i := 0
	for {
		j := strings.IndexByte(query, '?')
		if j < 0 {
			b.WriteString(query)
			return b.String()
		}
		i++
		b.WriteString(query[:j])
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(i))
		query = query[j+1:]
	}
}
