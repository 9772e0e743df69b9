package relais

import (
	"context"
	"time"
)

// AuditAction is what an audited request did.
type AuditAction string

// The audited actions. Each names a change made by a person (or their script) through the API, the
// web UI or the command line.
const (
	AuditCreate  AuditAction = "create"  // a lesson, station, postal batch or API token made
	AuditSubmit  AuditAction = "submit"  // a lesson sent for broadcast approval
	AuditApprove AuditAction = "approve" // a lesson approved for broadcast
	AuditReject  AuditAction = "reject"  // a lesson sent back
	AuditPublish AuditAction = "publish" // a lesson sent to households
	AuditImport  AuditAction = "import"  // households or a bounce report imported
	AuditEdit    AuditAction = "edit"    // a station, its grid, a slot or a batch changed; deliveries resent
	AuditDelete  AuditAction = "delete"  // a station deleted; a household erased
	AuditExport  AuditAction = "export"  // everything held about a household read out (a family's access request)
	AuditRotate  AuditAction = "rotate"  // an API token given a new secret
	AuditRevoke  AuditAction = "revoke"  // an API token revoked
)

// AuditActions lists the actions, for filters and documentation.
var AuditActions = []AuditAction{AuditCreate, AuditSubmit, AuditApprove, AuditReject, AuditPublish, AuditImport,
	AuditEdit, AuditDelete, AuditExport, AuditRotate, AuditRevoke}

// AuditEntry is one line of the audit log: who did what to what, when and from which address.
type AuditEntry struct {
	ID      int64
	At      time.Time
	Actor   string // the user id ("shell" for the command line)
	Role    Role
	Action  AuditAction
	Target  string // what was acted on: "lesson 12", "station 3", "token 4", "households"
	Address string // the client's address (behind trusted proxies, the one they name); "" from the shell
}

// AuditFilter selects audit entries: by actor, by action, from Since (inclusive) to Until (exclusive),
// newest first, one page at a time (Page.After: entries with a smaller id).
type AuditFilter struct {
	Actor        string
	Action       AuditAction
	Since, Until time.Time
	Page
}

// AuditStore keeps the audit log.
type AuditStore interface {
	// RecordAudit appends e and sets its id; a zero At is the store's now.
	RecordAudit(ctx context.Context, e *AuditEntry) error
	AuditEntries(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
	// PruneAudit removes entries older than before and returns how many.
	PruneAudit(ctx context.Context, before time.Time) (int64, error)
}
