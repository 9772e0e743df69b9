#!/usr/bin/env bash
# Household import benchmark (issue 14): a CSV of 100,000 and of 1,000,000 households, one row in a
# hundred refused (a landline), through roster.Importer into a new SQLite store and a new PostgreSQL
# store on a private cluster (internal/testenv). Prints rows/s, parsing included, and the rows refused.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_go
log "household import: 100,000 and 1,000,000 rows, SQLite and PostgreSQL"
go test ./roster -run '^$' -bench 'BenchmarkImport$' -benchtime 1x -timeout 30m
