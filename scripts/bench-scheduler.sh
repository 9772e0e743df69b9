#!/usr/bin/env bash
# Broadcast scheduler benchmark (issue 6), on SQLite:
#   - auto-fill a month of grids: 20 stations x 30 days x 09:00-18:00 in 30-minute slots (10,800 slots)
#     from 2,000 approved lessons (s/fill; the rest of each slot goes to re-runs);
#   - the publishing plan of one lesson for 1,000,000 households read page by page (s/plan, the Go heap's
#     peak while planning, and the process's maximum resident set, which includes SQLite's page cache
#     from loading the households first).
# Loading the million households takes a minute or two before the plan is timed.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_go
bin="$(mktemp -d)/scheduler.test"
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" ./scheduler
cd scheduler
log "auto-fill: 20 stations, one month, 2,000 lessons"
"$bin" -test.run '^$' -test.bench 'BenchmarkAutoFillMonth$' -test.benchtime 1x
log "publishing plan: 1,000,000 households"
/usr/bin/time -f 'max resident set: %M KiB' "$bin" -test.run '^$' -test.bench 'BenchmarkPlanMillion$' -test.benchtime 1x -test.timeout 30m
