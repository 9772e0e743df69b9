package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// CopyTables are the tables CopyIn copies, parents before children: every table of the schema but
// goose's own and postgresOnly. A table the schema gains must be added here; CopyIn refuses to run
// while one is missing.
var CopyTables = []string{
	"lessons", "renditions", "digests", "worksheets", "lesson_approvals",
	"households", "pupils", "user_classes",
	"deliveries", "delivery_events", "delivery_minutes", "delivery_counts", "delivery_failure_minutes", "contact_claims",
	"api_tokens", "audit_log", "staff_users", "inbound_messages",
	"stations", "slot_templates", "schedule_exceptions", "slots", "slot_lessons",
	"postal_batches", "postal_batch_deliveries", "email_bounces",
}

// postgresOnly are the tables SQLite does not have: empty after a copy.
var postgresOnly = []string{"delivery_count_changes"}

// derivedTriggers are the triggers off during a copy, since the rows they derive are copied as they are.
var derivedTriggers = []struct{ table, trigger string }{
	{"delivery_events", "delivery_minutes_count"},
	{"deliveries", "delivery_counts_insert"}, {"deliveries", "delivery_counts_update"}, {"deliveries", "delivery_counts_delete"},
	{"deliveries", "delivery_failure_minutes_insert"}, {"deliveries", "delivery_failure_minutes_update"},
	{"deliveries", "delivery_minutes_start"},
}

// TableCount is the number of rows of one table on each side of a copy.
type TableCount struct {
	Table        string
	Source, Dest int64
}

// column is a column of the target table and how a SQLite value becomes its value.
type column struct {
	name, dataType, udtName string
	nullable                bool
}

// CopyIn copies every table of an embedded installation's SQLite database (src, migrated to the latest
// schema) into db, which must hold no rows, keeping ids. It runs in one transaction, so a failure
// leaves db empty; rows go by COPY in batches of batch rows, read from src as they go. The triggers of
// the timeline and of the delivery counts are off during the copy, since their rows are copied as they are. The identity sequences then
// start after the largest id copied. progress, if not nil, is told of each table copied. CopyIn returns
// each table's rows counted on both sides after the copy, and an error when any differ.
func (db *DB) CopyIn(ctx context.Context, src *sql.DB, batch int, progress func(table string, rows int64)) ([]TableCount, error) {
	if batch <= 0 {
		batch = 10000
	}
	if err := db.checkCopyTables(ctx); err != nil {
		return nil, err
	}
	var nonEmpty []string
	for _, t := range CopyTables {
		var n int64
		if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM `+t+` LIMIT 1) x`).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", t, err)
		}
		if n > 0 {
			nonEmpty = append(nonEmpty, t)
		}
	}
	if len(nonEmpty) > 0 {
		return nil, fmt.Errorf("the target database is not empty (%s hold rows): a copy goes only into an empty database; create a new one (createdb) and copy into it", strings.Join(nonEmpty, ", "))
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		for _, d := range derivedTriggers {
			if _, err := tx.Exec(ctx, `ALTER TABLE `+d.table+` DISABLE TRIGGER `+d.trigger); err != nil {
				return err
			}
		}
		for _, t := range CopyTables {
			n, err := copyTable(ctx, src, tx, t, batch)
			if err != nil {
				return fmt.Errorf("copy %s: %w", t, err)
			}
			if progress != nil {
				progress(t, n)
			}
		}
		for _, d := range derivedTriggers {
			if _, err := tx.Exec(ctx, `ALTER TABLE `+d.table+` ENABLE TRIGGER `+d.trigger); err != nil {
				return err
			}
		}
		return resetSequences(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	counts := make([]TableCount, len(CopyTables))
	var differ []string
	for i, t := range CopyTables {
		counts[i].Table = t
		if err := src.QueryRowContext(ctx, `SELECT count(*) FROM `+t).Scan(&counts[i].Source); err != nil {
			return counts, fmt.Errorf("count %s in the source: %w", t, err)
		}
		if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM `+t).Scan(&counts[i].Dest); err != nil {
			return counts, fmt.Errorf("count %s in the target: %w", t, err)
		}
		if counts[i].Source != counts[i].Dest {
			differ = append(differ, t)
		}
	}
	if len(differ) > 0 {
		return counts, fmt.Errorf("the row counts differ in %s", strings.Join(differ, ", "))
	}
	return counts, nil
}

// checkCopyTables checks that CopyTables names every table of the schema.
func (db *DB) checkCopyTables(ctx context.Context) error {
	rows, err := db.pool.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'goose_db_version'`)
	if err != nil {
		return err
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, t := range tables {
		if !slices.Contains(CopyTables, t) && !slices.Contains(postgresOnly, t) {
			return fmt.Errorf("the table %s is not in postgres.CopyTables: this build cannot copy it", t)
		}
	}
	return nil
}

// copyTable copies one table, in batches, and returns the rows copied.
func copyTable(ctx context.Context, src *sql.DB, tx pgx.Tx, table string, batch int) (int64, error) {
	cols, err := tableColumns(ctx, tx, table)
	if err != nil {
		return 0, err
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	rows, err := src.QueryContext(ctx, `SELECT `+strings.Join(names, ", ")+` FROM `+table)
	if err != nil {
		return 0, fmt.Errorf("read the source: %w", err)
	}
	defer rows.Close()
	s := &sqliteRows{rows: rows, cols: cols, raw: make([]any, len(cols)), ptrs: make([]any, len(cols))}
	for i := range s.raw {
		s.ptrs[i] = &s.raw[i]
	}
	var total int64
	for !s.done {
		s.left = batch
		n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, names, s)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, rows.Err()
}

// tableColumns lists a target table's columns with their types.
func tableColumns(ctx context.Context, q querier, table string) ([]column, error) {
	rows, err := q.Query(ctx, `SELECT column_name, data_type, udt_name, is_nullable = 'YES' FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.dataType, &c.udtName, &c.nullable); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// sqliteRows is a pgx.CopyFromSource reading at most left rows of a SQLite query, converting each value
// to its column's PostgreSQL type.
type sqliteRows struct {
	rows      *sql.Rows
	cols      []column
	raw, ptrs []any
	out       []any
	left      int
	done      bool
	err       error
}

func (s *sqliteRows) Next() bool {
	if s.left == 0 || s.done {
		return false
	}
	if !s.rows.Next() {
		s.done = true
		return false
	}
	s.left--
	if err := s.rows.Scan(s.ptrs...); err != nil {
		s.err = err
		return false
	}
	return true
}

func (s *sqliteRows) Err() error { return s.err }

func (s *sqliteRows) Values() ([]any, error) {
	s.out = s.out[:0]
	for i, c := range s.cols {
		v, err := fromSQLite(s.raw[i], c)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.name, err)
		}
		s.out = append(s.out, v)
	}
	return s.out, nil
}

// fromSQLite converts a value as store/sqlite keeps it (times in Unix milliseconds, booleans as 0 or
// 1, grades as "3,5", JSON as text, "" or 0 for none) to its PostgreSQL column's.
func fromSQLite(v any, c column) (any, error) {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	if v == nil {
		return nil, nil
	}
	switch c.dataType {
	case "timestamp with time zone":
		ms, ok := v.(int64)
		if !ok {
			return nil, fmt.Errorf("time %v is not Unix milliseconds", v)
		}
		if ms == 0 && c.nullable {
			return nil, nil
		}
		return time.UnixMilli(ms).UTC(), nil
	case "boolean":
		n, ok := v.(int64)
		if !ok {
			return nil, fmt.Errorf("boolean %v is not 0 or 1", v)
		}
		return n != 0, nil
	case "jsonb":
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("JSON %v is not text", v)
		}
		if s == "" && c.nullable {
			return nil, nil
		}
		return s, nil
	case "ARRAY":
		s, ok := v.(string)
		if !ok || c.udtName != "_int4" {
			return nil, fmt.Errorf("list %v of type %s cannot be read", v, c.udtName)
		}
		gs := []int32{}
		for _, p := range strings.Split(s, ",") {
			if p == "" {
				continue
			}
			var g int32
			if _, err := fmt.Sscan(p, &g); err != nil {
				return nil, fmt.Errorf("list %q: %w", s, err)
			}
			gs = append(gs, g)
		}
		return gs, nil
	case "double precision":
		if n, ok := v.(int64); ok {
			return float64(n), nil
		}
	}
	return v, nil
}

// resetSequences makes each identity column's sequence start after the largest id copied.
func resetSequences(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND is_identity = 'YES'`)
	if err != nil {
		return err
	}
	type ident struct{ table, column string }
	ids, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ident, error) {
		var i ident
		return i, r.Scan(&i.table, &i.column)
	})
	if err != nil {
		return err
	}
	for _, i := range ids {
		if _, err := tx.Exec(ctx, fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%s', '%s'), coalesce(max(%s), 0) + 1, false) FROM %s`,
			i.table, i.column, i.column, i.table)); err != nil {
			return fmt.Errorf("sequence of %s: %w", i.table, err)
		}
	}
	return nil
}
