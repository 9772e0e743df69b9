#!/usr/bin/env bash
# The cost of the claim (issue 13): messages per second through send tasks with the claim (each message
# claimed, committed, before its provider is called; its outcome committed with the next claim) and
# without it (Config.NoClaim, a switch for this measurement only), in one run: SMS to the Twilio sandbox,
# email to an SMTP sink with the 300 KB worksheet and without, on SQLite and on PostgreSQL, the worker's
# 20 send tasks at once (queue BenchmarkSendClaim). Needs what scripts/setup.sh installs (Go,
# redis-server, PostgreSQL 15).
#
#   bash scripts/bench-claim.sh                  # 2,000 messages x 4 rounds per mode
#   SENDS=1000 ROUNDS=2 bash scripts/bench-claim.sh
#   ONLY=email/sqlite bash scripts/bench-claim.sh  # one case: sms, email or email-text / sqlite or postgres
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_go
command -v redis-server >/dev/null || apt_install redis-server
[ -x /usr/lib/postgresql/15/bin/postgres ] || apt_install postgresql-15

SENDS=${SENDS:-2000}
ROUNDS=${ROUNDS:-4}
ONLY=${ONLY:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

log "building the queue's test binary"
go test -c -o "$tmp/queue.test" ./queue/
log "sending $SENDS messages x $ROUNDS rounds per mode, with and without the claim"
(cd queue && RELAIS_BENCH_CLAIM_SENDS=$SENDS RELAIS_BENCH_ROUNDS=$ROUNDS \
	"$tmp/queue.test" -test.run '^$' -test.bench "^BenchmarkSendClaim\$/${ONLY}" -test.benchtime 1x -test.v -test.timeout 60m) 2>&1 | tee "$tmp/claim.log"

echo
echo "== Results"
grep -E 'with the claim' "$tmp/claim.log" | sed 's/^ *[a-z_]*\.go:[0-9]*: /claim: /'
if grep -q '^--- FAIL\|^FAIL' "$tmp/claim.log"; then
	echo "a benchmark failed" >&2
	exit 1
fi
