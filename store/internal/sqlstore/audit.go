package sqlstore

import (
	"context"
	"fmt"
	"time"

	relais "github.com/relais-edu/relais"
)

// RecordAudit appends an entry to the audit log.
func (st Store) RecordAudit(ctx context.Context, e *relais.AuditEntry) error {
	if e.At.IsZero() {
		e.At = st.e.Now()
	}
	e.At = stamp(e.At)
	err := st.e.Write().QueryRow(ctx, `INSERT INTO audit_log (at, actor, role, action, target, address)
		VALUES (?,?,?,?,?,?) RETURNING id`, st.e.Time(e.At), e.Actor, e.Role, e.Action, e.Target, e.Address).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("record audit: %w", err)
	}
	return nil
}

// AuditEntries lists audit entries, newest first.
func (st Store) AuditEntries(ctx context.Context, f relais.AuditFilter) ([]relais.AuditEntry, error) {
	p := f.Page.Normalize()
	w := Where{SQL: `SELECT id, at, actor, role, action, target, address FROM audit_log WHERE 1=1`}
	w.And(f.Actor != "", `actor = ?`, f.Actor)
	w.And(f.Action != "", `action = ?`, f.Action)
	w.And(!f.Since.IsZero(), `at >= ?`, st.e.Time(f.Since))
	w.And(!f.Until.IsZero(), `at < ?`, st.e.Time(f.Until))
	w.And(p.After > 0, `id < ?`, p.After)
	return QueryAll(ctx, st.e.Read(), func(row Row) (relais.AuditEntry, error) {
		var e relais.AuditEntry
		err := row.Scan(&e.ID, Time(&e.At), &e.Actor, &e.Role, &e.Action, &e.Target, &e.Address)
		return e, err
	}, w.SQL+` ORDER BY id DESC LIMIT ?`, append(w.Args, p.Limit)...)
}

// PruneAudit removes entries older than before.
func (st Store) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	n, err := st.e.Write().Exec(ctx, `DELETE FROM audit_log WHERE at < ?`, st.e.Time(before))
	if err != nil {
		return 0, fmt.Errorf("prune audit log: %w", err)
	}
	return n, nil
}
