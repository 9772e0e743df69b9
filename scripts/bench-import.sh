#!/usr/bin/env bash
# Household import benchmark (issue 14): a CSV of 100,000 and of 1,000,000 households, one row in a
# hundred refused (a landline), through roster.Importer into a new SQLite store and a new PostgreSQL
# store on a private cluster (internal/testenv). Prints rows/s, parsing included, and the rows refused.
#
#   scripts/bench-import.sh                                  # 100,000 and 1,000,000 rows, both engines
#   SIZES=1000000 ENGINES=postgres scripts/bench-import.sh
#   BASE=<commit> scripts/bench-import.sh                    # the same benchmark on an earlier commit too
#   COUNT=3 scripts/bench-import.sh                          # each import three times, alternating
#
# The base commit's import is measured by copying this benchmark into an export of it (git archive), so
# both come from the same machine in the same run; the last lines give rows/s of each import here and
# on the base, and their ratio (medians when COUNT > 1). The load average is printed before each run.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
apt_install ca-certificates git postgresql-15
ensure_go
export RELAIS_BENCH_IMPORT_SIZES="${SIZES:-100000,1000000}"
export RELAIS_BENCH_IMPORT_ENGINES="${ENGINES:-sqlite,postgres}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

head_label="$(git rev-parse --short HEAD)"
go test -c -o "$tmp/head.test" ./roster
if [ -n "${BASE:-}" ]; then
	mkdir "$tmp/base"
	git archive "$BASE" | tar -x -C "$tmp/base"
	cp roster/bench_test.go "$tmp/base/roster/"
	go -C "$tmp/base" test -c -o "$tmp/base.test" ./roster
fi

run() { # binary label dir
	log "household import ($2): sizes $RELAIS_BENCH_IMPORT_SIZES, engines $RELAIS_BENCH_IMPORT_ENGINES (load: $(cut -d' ' -f1-3 /proc/loadavg))"
	(cd "$3/roster" && "$tmp/$1.test" -test.run '^$' -test.bench 'BenchmarkImport$' -test.benchtime 1x -test.timeout 3h) |
		tee -a "$tmp/$1.out"
}

for _ in $(seq "${COUNT:-1}"); do
	run head "$head_label" "$PWD"
	if [ -n "${BASE:-}" ]; then
		run base "base $(git rev-parse --short "$BASE")" "$tmp/base"
	fi
done

# rows/s per import (median of the runs), and the ratio to the base.
summary() { # file
	awk '/^BenchmarkImport\// { for (i = 1; i <= NF; i++) if ($i == "rows/s") { sub(/-[0-9]+$/, "", $1); print $1, $(i-1) } }' "$1" |
		sort -k1,1 -k2,2n | awk '{ v[$1] = v[$1] " " $2; n[$1]++ } END { for (k in v) { split(substr(v[k], 2), a, " "); print k, a[int((n[k] + 1) / 2)] } }' | sort
}
summary "$tmp/head.out" >"$tmp/head.sum"
if [ -n "${BASE:-}" ]; then
	summary "$tmp/base.out" >"$tmp/base.sum"
	log "rows/s: $head_label against base $(git rev-parse --short "$BASE")"
	join "$tmp/head.sum" "$tmp/base.sum" | awk '{ printf "%-40s %10.0f rows/s  base %10.0f rows/s  %.2fx\n", $1, $2, $3, $2 / $3 }'
else
	log "rows/s: $head_label"
	awk '{ printf "%-40s %10.0f rows/s\n", $1, $2 }' "$tmp/head.sum"
fi
