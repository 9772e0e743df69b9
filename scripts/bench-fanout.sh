#!/usr/bin/env bash
# National fan-out benchmark (issue 14), SQLite and PostgreSQL side by side: a grade-wide lesson fanned
# out to N households (mobile_data: email and SMS each) by 1 and 2 worker processes, Redis and
# PostgreSQL 15 started privately on 127.0.0.1 (internal/testenv). It prints, per engine, size and
# number of processes: seconds, households planned and their send tasks queued per second, microseconds
# per household, the worker processes' peak RSS, Redis' peak memory while fanning out, deliveries
# planned, households planned (each exactly once) and delivery ids queued (each exactly once).
#
#   scripts/bench-fanout.sh                          # 100,000 and 1,000,000 households
#   SIZES=100000,300000 PROCS=1 scripts/bench-fanout.sh
#   BASE=<commit> scripts/bench-fanout.sh            # the same benchmark on an earlier commit too
#   RELAIS_BENCH_FANOUT_CPUPROFILE=DIR scripts/bench-fanout.sh   # a CPU profile per worker process in DIR
#   RELAIS_BENCH_FANOUT_BACKLOG=100000000 scripts/bench-fanout.sh  # no wait for the send backlog: the
#                                                    # fan-out alone, not the test's send consumer
#
# The base commit's fan-out is measured by copying this benchmark into an export of it (git archive),
# so both rows come from the same machine in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
apt_install ca-certificates git redis-server postgresql-15
ensure_go
export RELAIS_BENCH_FANOUT_SIZES="${SIZES:-100000,1000000}"
export RELAIS_BENCH_FANOUT_PROCS="${PROCS:-1,2}"
export RELAIS_BENCH_FANOUT_ENGINES="${ENGINES:-sqlite,postgres}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

run() { # dir label
	go -C "$1" test -c -o "$tmp/$2.test" ./queue
	log "fan-out ($2): sizes $RELAIS_BENCH_FANOUT_SIZES, processes $RELAIS_BENCH_FANOUT_PROCS (load: $(cut -d' ' -f1-3 /proc/loadavg))"
	(cd "$1/queue" && "$tmp/$2.test" -test.run '^$' -test.bench 'BenchmarkFanoutScale$' -test.benchtime 1x -test.timeout 3h)
}

run "$PWD" "$(git rev-parse --short HEAD)"
if [ -n "${BASE:-}" ]; then
	mkdir "$tmp/base"
	git archive "$BASE" | tar -x -C "$tmp/base"
	cp queue/fanout_scale_test.go "$tmp/base/queue/"
	sed -i '/RELAIS_BENCH_FANOUT_SEGMENT/,/^\t}$/d' "$tmp/base/queue/fanout_scale_test.go" # no segments there
	# The benchmark's worker processes are the test binary started again: its TestMain hands them over.
	sed -i 's|^func TestMain(m \*testing.M) { os.Exit(testenv.Main(m)) }$|func TestMain(m *testing.M) {\n\tif url := os.Getenv("RELAIS_FANOUT_CHILD"); url != "" {\n\t\tos.Exit(fanoutChildMain(url, os.Getenv("RELAIS_FANOUT_CHILD_REDIS")))\n\t}\n\tos.Exit(testenv.Main(m))\n}|' \
		"$tmp/base/queue/queue_test.go"
	run "$tmp/base" "base-$(git rev-parse --short "$BASE")"
fi
