#!/usr/bin/env bash
# Cluster benchmark (issue 15): the same lesson to the same households, in one run, on
#   - the cluster of TestCluster: PostgreSQL, a Redis master with a replica and three sentinels, versitygw
#     (S3), two `relais api` behind a round-robin front and three `relais worker`, each with its own empty
#     data directory; the lesson uploaded with tus, chunks on both API processes; the Redis master and one
#     API process killed with SIGKILL during the sends;
#   - one `relais serve` (SQLite, local media, its private Redis), no faults.
# Both send SMS to the Twilio sandbox and email with the worksheet PDF to mailpit, at 5,000/s allowed
# per channel (so the run measures Relais, not a provider's pace). Prints each run's time from the
# publication to the last message at the sinks, its sends per second, and the cluster's sends per
# second over the one machine's. Every family must get each message exactly once, or the run fails.
# Needs what scripts/test.sh installs (PostgreSQL, redis-server, versitygw, mailpit, ffmpeg).
#
#   bash scripts/bench-cluster.sh                 # 20,000 households
#   HOUSEHOLDS=5000 bash scripts/bench-cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_go
ensure_mailpit
ensure_versitygw

HOUSEHOLDS=${HOUSEHOLDS:-20000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

build_relais
log "building the chaos harness's test binary"
go test -c -o "$tmp/chaos.test" ./internal/chaos/

log "the lesson to $HOUSEHOLDS households (SMS + email each): the cluster, then one relais serve"
(cd internal/chaos && RELAIS_CHAOS_BIN="$PWD/../../bin/relais" "$tmp/chaos.test" -test.run '^$' -test.bench '^BenchmarkCluster$' \
	-test.benchtime 1x -test.v -test.timeout 60m -cluster-households "$HOUSEHOLDS" 2>&1) | tee "$tmp/cluster.log"

echo
grep -h "messages in .* from the publication" "$tmp/cluster.log" | sed 's/^ *cluster_test.go:[0-9]*: /  /' | grep -v '^ *\(cluster\|serve\): \[' || true
awk '/^BenchmarkCluster.*sends\/s-cluster/ {
	for (i = 1; i <= NF; i++) m[$(i+1)] = $i
	printf "cluster (2 api + 3 worker, PostgreSQL, Sentinel, S3, Redis master and an API killed): %.1f s from publication to the last message, %.1f sends/s\n", m["s-cluster"], m["sends/s-cluster"]
	printf "one relais serve (SQLite, local media, private Redis):                                 %.1f s, %.1f sends/s\n", m["s-serve"], m["sends/s-serve"]
	printf "cluster / one machine: %.2fx the sends per second (%d households, 2 shared cores)\n", m["x-sends/s-cluster/serve"], n
}' n="$HOUSEHOLDS" "$tmp/cluster.log"
