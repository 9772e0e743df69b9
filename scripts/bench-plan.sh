#!/usr/bin/env bash
# The write cost of the deliveries' indexes (issue 14): households planned per second by the store's
# planning of a fan-out page (BenchmarkStore/PlanDeliveries: a page of 1,000 households, its
# deliveries and their first events) on SQLite and PostgreSQL, at HEAD and at BASE (main by default),
# the two test binaries taking turns REPEAT times so that their ratios come from the same minutes of a
# shared machine. Prints each run and, per engine, the median households/s of each build and their
# ratio (HEAD / BASE: above 1, HEAD plans faster). Needs what scripts/setup.sh installs (Go,
# PostgreSQL 15).
#
#   bash scripts/bench-plan.sh                       # HEAD against main, 5 turns of 50 pages
#   BASE=<commit> REPEAT=9 N=100 bash scripts/bench-plan.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_go
[ -x /usr/lib/postgresql/15/bin/postgres ] || apt_install postgresql-15

BASE=${BASE:-main}
REPEAT=${REPEAT:-5}
N=${N:-50}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

log "building the stores' test binaries at HEAD and at $BASE"
mkdir "$tmp/base"
git archive "$BASE" | tar -x -C "$tmp/base"
for engine in sqlite postgres; do
	go test -c -o "$tmp/head-$engine.test" "./store/$engine"
	(cd "$tmp/base" && go test -c -o "$tmp/base-$engine.test" "./store/$engine")
done

uptime
builds=(head base)
for ((k = 0; k < REPEAT; k++)); do
	for engine in sqlite postgres; do
		for b in "${builds[@]}"; do
			dir=$PWD
			[ "$b" = base ] && dir=$tmp/base
			(cd "$dir/store/$engine" && "$tmp/$b-$engine.test" -test.run '^$' -test.bench 'Store/PlanDeliveries$' \
				-test.benchtime "${N}x") 2>&1 | awk -v b="$b" -v e="$engine" '/households\/s/ { print b, e, $3, $5; fflush() }' |
				tee -a "$tmp/runs"
		done
	done
	builds=("${builds[@]:1}" "${builds[0]}") # the other goes first next time
done
uptime

echo
echo "== households/s, median of $REPEAT runs of $N pages (HEAD $(git rev-parse --short HEAD), BASE $BASE $(git rev-parse --short "$BASE"))"
for engine in sqlite postgres; do
	med() { awk -v b="$1" -v e="$engine" '$1 == b && $2 == e { print $4 }' "$tmp/runs" | sort -n |
		awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
	h=$(med head)
	b=$(med base)
	awk -v e="$engine" -v h="$h" -v b="$b" 'BEGIN { printf "%-8s HEAD %8.0f  BASE %8.0f  HEAD/BASE %.3fx\n", e, h, b, h / b }'
done
if [ "$(wc -l <"$tmp/runs")" -ne $((4 * REPEAT)) ]; then
	echo "a benchmark failed" >&2
	exit 1
fi
