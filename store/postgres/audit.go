package postgres

import (
	"context"
	"fmt"
	"time"

	relais "github.com/relais-edu/relais"
)

// RecordAudit appends an entry to the audit log.
func (db *DB) RecordAudit(ctx context.Context, e *relais.AuditEntry) error {
	if e.At.IsZero() {
		e.At = db.now()
	}
	e.At = ts(e.At)
	err := db.pool.QueryRow(ctx, `INSERT INTO audit_log (at, actor, role, action, target, address)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, e.At, e.Actor, e.Role, e.Action, e.Target, e.Address).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("record audit: %w", err)
	}
	return nil
}

// AuditEntries lists audit entries, newest first.
func (db *DB) AuditEntries(ctx context.Context, f relais.AuditFilter) ([]relais.AuditEntry, error) {
	p := f.Page.Normalize()
	w := newWhere(`SELECT id, at, actor, role, action, target, address FROM audit_log WHERE true`)
	w.and(f.Actor != "", `actor`, f.Actor)
	w.and(f.Action != "", `action`, f.Action)
	if !f.Since.IsZero() {
		w.sql += ` AND at >= ` + w.arg(ts(f.Since))
	}
	if !f.Until.IsZero() {
		w.sql += ` AND at < ` + w.arg(ts(f.Until))
	}
	if p.After > 0 {
		w.sql += ` AND id < ` + w.arg(p.After)
	}
	q := w.sql + ` ORDER BY id DESC LIMIT ` + w.arg(p.Limit)
	return queryAll(ctx, db.pool, func(row rowScanner) (relais.AuditEntry, error) {
		var e relais.AuditEntry
		err := row.Scan(&e.ID, &e.At, &e.Actor, &e.Role, &e.Action, &e.Target, &e.Address)
		e.At = e.At.UTC()
		return e, err
	}, q, w.args...)
}

// PruneAudit removes entries older than before.
func (db *DB) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM audit_log WHERE at < $1`, ts(before))
	if err != nil {
		return 0, fmt.Errorf("prune audit log: %w", err)
	}
	return tag.RowsAffected(), nil
}
