#!/usr/bin/env bash
# Redis failover benchmark (issue 15): the time from the Redis master's loss to SMS sends resuming.
# Each run starts a master, a replica and three sentinels on 127.0.0.1 (down-after-milliseconds 1000,
# failover-timeout 3000), publishes a lesson to 1,500 SMS-only households through the real worker and
# the Redis SMS rate limiter at 150 messages per second, kills the master with SIGKILL a third of the
# way, and prints:
#   - s-kill-to-promotion: until the sentinels name the replica master (the baseline: Redis' own part);
#   - s-kill-to-resume: until the first SMS whose rate-limit reservation was made after the kill left;
#   - x-promotion: their ratio, and x-30s-goal: the resume time over the 30 s goal.
# Every household must get its SMS exactly once, or the run fails.
# Needs what scripts/setup.sh installs (Go, redis-server with redis-cli).
#
#   bash scripts/bench-failover.sh           # 3 runs
#   RUNS=10 bash scripts/bench-failover.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_go
command -v redis-server >/dev/null || apt_install redis-server

RUNS=${RUNS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

log "building the queue's test binary"
go test -c -o "$tmp/queue.test" ./queue/

log "$RUNS failovers: SIGKILL to the master a third of the way through 1,500 SMS"
(cd queue && "$tmp/queue.test" -test.run '^$' -test.bench '^BenchmarkRedisFailover$' -test.benchtime "${RUNS}x" \
	-test.v -test.timeout 30m 2>&1 | grep -v '^redis: ') | tee "$tmp/failover.log"

echo
grep -h "sends resumed" "$tmp/failover.log" | sed "s/^ *failover_test.go:[0-9]*: /  /" # the first is Go's one-run probe
awk '/^BenchmarkRedisFailover.*s-kill-to-resume/ {
	for (i = 1; i <= NF; i++) m[$(i+1)] = $i
	printf "time from Redis master kill to sends resuming: %.2f s (mean of %d runs; goal < 30 s: %.3fx of it)\n", m["s-kill-to-resume"], RUNS, m["x-30s-goal"]
	printf "of which Sentinel promoting the replica: %.2f s; Relais resumes at %.2fx that baseline\n", m["s-kill-to-promotion"], m["x-promotion"]
}' RUNS="$RUNS" "$tmp/failover.log"
