// Package tick runs a piece of housekeeping at once and then every period until its context ends: the
// sweep of expired uploads, the audit log's retention and the families' data retention share it.
package tick

import (
	"context"
	"time"
)

// Every calls do(ctx) now and then once per period until ctx ends; a run that outlasts the period is
// followed by the next one at once, never by two. It returns when ctx ends, after the run under way.
func Every(ctx context.Context, period time.Duration, do func(context.Context)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		if ctx.Err() != nil {
			return
		}
		do(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
