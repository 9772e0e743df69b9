package sqlite

import (
	"context"
	"fmt"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/internal/sqlstore"
)

// RecordAudit appends an entry to the audit log.
func (db *DB) RecordAudit(ctx context.Context, e *relais.AuditEntry) error {
	if e.At.IsZero() {
		e.At = db.now()
	}
	e.At = fromMS(ms(e.At))
	err := db.write.QueryRowContext(ctx, `INSERT INTO audit_log (at, actor, role, action, target, address)
		VALUES (?,?,?,?,?,?) RETURNING id`, ms(e.At), e.Actor, e.Role, e.Action, e.Target, e.Address).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("record audit: %w", err)
	}
	return nil
}

// AuditEntries lists audit entries, newest first.
func (db *DB) AuditEntries(ctx context.Context, f relais.AuditFilter) ([]relais.AuditEntry, error) {
	p := f.Page.Normalize()
	w := sqlstore.Where{SQL: `SELECT id, at, actor, role, action, target, address FROM audit_log WHERE 1=1`}
	w.And(f.Actor != "", `actor = ?`, f.Actor)
	w.And(f.Action != "", `action = ?`, f.Action)
	w.And(!f.Since.IsZero(), `at >= ?`, ms(f.Since))
	w.And(!f.Until.IsZero(), `at < ?`, ms(f.Until))
	w.And(p.After > 0, `id < ?`, p.After)
	return queryAll(ctx, db.read, func(row rowScanner) (relais.AuditEntry, error) {
		var e relais.AuditEntry
		var at int64
		err := row.Scan(&e.ID, &at, &e.Actor, &e.Role, &e.Action, &e.Target, &e.Address)
		e.At = fromMS(at)
		return e, err
	}, w.SQL+` ORDER BY id DESC LIMIT ?`, append(w.Args, p.Limit)...)
}

// PruneAudit removes entries older than before.
func (db *DB) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM audit_log WHERE at < ?`, ms(before))
	if err != nil {
		return 0, fmt.Errorf("prune audit log: %w", err)
	}
	return res.RowsAffected()
}
