package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/internal/sqlstore"
)

// engine lends the methods PostgreSQL shares with SQLite (store/internal/sqlstore) the pool.
type engine struct{ db *DB }

var _ sqlstore.Engine = engine{}

func (e engine) Read() sqlstore.Querier  { return conn{e.db.pool} }
func (e engine) Write() sqlstore.Querier { return conn{e.db.pool} }
func (e engine) Now() time.Time          { return e.db.now() }

func (e engine) InTx(ctx context.Context, fn func(tx sqlstore.Querier) error) error {
	return e.db.inTx(ctx, func(tx pgx.Tx) error { return fn(conn{tx}) })
}

// Time keeps a time as a timestamptz to the millisecond, as store/sqlite does.
func (engine) Time(t time.Time) any { return ts(t) }

// OptTime keeps none as NULL.
func (engine) OptTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

// None is column IS NULL.
func (engine) None(column string) string { return column + ` IS NULL` }

// Some is column IS NOT NULL, the condition of the partial indexes of such times.
func (engine) Some(column string) string { return column + ` IS NOT NULL` }

// Lock takes the row's lock (FOR UPDATE) for the rest of the transaction: the writes that check a
// station's grid or a slot's sequence before changing it (SQLite runs them one at a time) then run
// one at a time per row, and nothing slips in between a check and its write.
func (engine) Lock(ctx context.Context, tx sqlstore.Querier, table string, id int64) error {
	_, err := tx.Exec(ctx, `SELECT 1 FROM `+table+` WHERE id = ? FOR UPDATE`, id)
	return err
}

// Conflict reports a unique constraint's refusal: another writer made the same change at once.
func (engine) Conflict(err error) bool { return isUniqueViolation(err) }

// dialect is what PostgreSQL's SQL says its own way.
var dialect = sqlstore.Dialect{
	LessonAfter: lessonAfter,
	OfHousehold: ofHousehold,
	EmailIs:     emailIs,
	SkipLocked:  " FOR UPDATE SKIP LOCKED",
	NoLimit:     nil,
	NoJSON:      nil,
	Upsert:      upsert,
	// A delivery marked implied_start (migration 00017) has its first event in its row: pending, no
	// detail, at its creation, before every event recorded (ids start at 1).
	DeliveryEvents: `(SELECT id AS delivery_id, 'pending' AS status, '' AS detail, created_at AS at, 0 AS id
		FROM deliveries WHERE implied_start
		UNION ALL SELECT delivery_id, status, detail, at, id FROM delivery_events) e`,
	RewritePupils: `UPDATE households SET pupils = COALESCE((SELECT json_agg(json_build_object('grade', grade,
		'language', language) ORDER BY grade)::text FROM pupils WHERE household_id = ?), '[]') WHERE id = ?`,
}

// upsert writes a row, or updates the columns not in its key of the row with the same key.
func upsert(table, key string, columns ...string) string {
	keys := strings.Split(key, ", ")
	var set []string
	for _, c := range columns {
		if !slices.Contains(keys, c) {
			set = append(set, c+` = excluded.`+c)
		}
	}
	return `INSERT INTO ` + table + ` (` + strings.Join(columns, ", ") + `) VALUES (` +
		sqlstore.Placeholders(len(columns)) + `) ON CONFLICT (` + key + `) DO UPDATE SET ` + strings.Join(set, ", ")
}

// conn is the pool or a transaction as sqlstore sees one: its ? placeholders are numbered.
type conn struct{ q querier }

func (c conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := c.q.Exec(ctx, sqlstore.Rebind(query), args...)
	return tag.RowsAffected(), err
}

func (c conn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := c.q.Query(ctx, sqlstore.Rebind(query), args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (c conn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return c.q.QueryRow(ctx, sqlstore.Rebind(query), args...)
}

// InsertSlots writes new slots (a template's: a school year's) in one round trip and sets their ids.
func (engine) InsertSlots(ctx context.Context, tx sqlstore.Querier, slots []relais.Slot) error {
	batch := &pgx.Batch{}
	for i := range slots {
		s := &slots[i]
		batch.Queue(`INSERT INTO slots (station_id, day, start_local, duration_s, grade, subject,
			language, template_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING id`,
			sqlstore.SlotArgs(*s)...).QueryRow(func(row pgx.Row) error {
			if err := row.Scan(&s.ID); err != nil {
				return fmt.Errorf("insert slot %s %s: %w", s.Day, s.Start, err)
			}
			return nil
		})
	}
	return tx.(conn).q.SendBatch(ctx, batch).Close()
}

// lessonAfter reads a lesson's deliveries after a cursor on deliveries_lesson (lesson_id, id), the
// cursor said of both columns: said of id alone (id > $2), it let the planner, which takes a lesson's
// rows as spread over all ids, walk the primary key from the cursor through every older lesson's rows
// for a first page and every newer one's for a last.
func lessonAfter(lesson, after int64) (string, []any) {
	return `lesson_id = ? AND (lesson_id, id) > (?, ?)`, []any{lesson, lesson, after}
}

// ofHousehold finds a household's deliveries on the unique key, a probe per lesson: the lessons' ids
// are read once into an array (an initplan), which the generic plan's index scan takes as a list of
// values for its first column (lesson_id IN (SELECT ...) is a semi-join, which the planner is free to
// make of a scan of deliveries).
func ofHousehold(d string) string {
	return d + `.lesson_id = ANY(ARRAY(SELECT id FROM lessons)) AND ` + d + `.household_id = ?`
}
