// Package audit keeps the audit log: who published, approved, rejected, imported, edited or deleted
// what, when and from which address, written by the API and the web UI after each change succeeds,
// read by admins (paged, filtered, exported as CSV) and pruned after the configured retention.
package audit

import (
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/clients"
	"github.com/relais-edu/relais/internal/tick"
)

// Log writes and prunes the audit log.
type Log struct {
	store relais.AuditStore
	log   *slog.Logger
}

// New returns a Log on store.
func New(store relais.AuditStore, log *slog.Logger) *Log {
	return &Log{store: store, log: log.With("comp", "audit")}
}

// Rule says that a route is audited: the action and the kind of what its {id} names ("lesson"); a
// route without {id} names its target by kind alone ("households").
type Rule struct {
	Action relais.AuditAction
	Kind   string
}

// Record writes that u did rule's action through r, whose change succeeded. The change is done: a
// failure to write is logged (ids only), not returned.
func (l *Log) Record(r *http.Request, u relais.User, rule Rule) {
	target := rule.Kind
	if id := r.PathValue("id"); id != "" {
		target += " " + id
	} else if user := r.PathValue("user"); user != "" {
		target += " " + user
	}
	l.RecordTarget(r, u, rule.Action, target)
}

// RecordTarget writes that u did action to target through r.
func (l *Log) RecordTarget(r *http.Request, u relais.User, action relais.AuditAction, target string) {
	e := relais.AuditEntry{Actor: u.ID, Role: u.Role, Action: action, Target: target, Address: clients.AddrOf(r)}
	// The request may end (a client gone) as the change is recorded: the record must not.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := l.store.RecordAudit(ctx, &e); err != nil {
		l.log.Error("record audit entry", "actor", u.ID, "action", action, "target", target, "err", err)
	}
}

// RunRetention removes, every period until ctx ends, the entries older than keep (0: keep forever).
func (l *Log) RunRetention(ctx context.Context, every, keep time.Duration, now func() time.Time) {
	if keep <= 0 {
		return
	}
	tick.Every(ctx, every, func(ctx context.Context) {
		if n, err := l.store.PruneAudit(ctx, now().Add(-keep)); err != nil && ctx.Err() == nil {
			l.log.Error("prune audit log", "err", err)
		} else if n > 0 {
			l.log.Info("pruned audit log", "removed", n, "retention", keep.String())
		}
	})
}

// CSVHeader is the first line of an export.
var CSVHeader = []string{"id", "at", "actor", "role", "action", "target", "address"}

// WriteCSV writes entries as CSV lines (after CSVHeader, which the caller writes once); times are
// RFC 3339 in UTC.
func WriteCSV(cw *csv.Writer, entries []relais.AuditEntry) error {
	for _, e := range entries {
		if err := cw.Write([]string{strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339), e.Actor, string(e.Role),
			string(e.Action), e.Target, e.Address}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Export writes every entry f selects as CSV to w, newest first, page after page.
func Export(ctx context.Context, store relais.AuditStore, f relais.AuditFilter, w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	f.Page = relais.Page{Limit: relais.MaxPageLimit}
	for {
		es, err := store.AuditEntries(ctx, f)
		if err != nil {
			return err
		}
		if err := WriteCSV(cw, es); err != nil {
			return err
		}
		if len(es) < f.Limit {
			cw.Flush()
			return cw.Error()
		}
		f.After = es[len(es)-1].ID
	}
}

// ParseFilter reads a filter from query parameters actor, action, since and until (dates 2006-01-02
// or RFC 3339 times; until's date is included whole), after and limit.
func ParseFilter(q interface{ Get(string) string }, loc *time.Location) (relais.AuditFilter, error) {
	f := relais.AuditFilter{Actor: q.Get("actor"), Action: relais.AuditAction(q.Get("action"))}
	if f.Action != "" && !validAction(f.Action) {
		return f, relais.Errorf(relais.EINVALID, "Unknown audit action %q.", f.Action)
	}
	var err error
	if f.Since, err = parseWhen(q.Get("since"), loc, false); err != nil {
		return f, err
	}
	if f.Until, err = parseWhen(q.Get("until"), loc, true); err != nil {
		return f, err
	}
	if v := q.Get("after"); v != "" {
		if f.After, err = strconv.ParseInt(v, 10, 64); err != nil || f.After < 0 {
			return f, relais.Errorf(relais.EINVALID, "after must be a positive number.")
		}
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 0 {
			return f, relais.Errorf(relais.EINVALID, "limit must be a positive number.")
		}
	}
	return f, nil
}

func validAction(a relais.AuditAction) bool { return slices.Contains(relais.AuditActions, a) }

func parseWhen(v string, loc *time.Location, endOfDay bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	d, err := time.ParseInLocation(time.DateOnly, v, loc)
	if err != nil {
		return time.Time{}, relais.Errorf(relais.EINVALID, "The date %q is not YYYY-MM-DD nor an RFC 3339 time.", v)
	}
	if endOfDay {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}
