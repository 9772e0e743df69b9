#!/usr/bin/env bash
# Email and postal benchmark (issue 5):
#  1. EMAILS (default 10000) worksheet emails with a 300 KB PDF to a local mailpit, pooled SMTP
#     connections vs one connection per message: messages per second, the ratio, the peak Go heap of
#     each run and the sender's peak resident memory (both runs, one process);
#  2. the time to build the postal batch of HOUSEHOLDS (default 5000) households, the PDF's size and
#     pages, and the peak Go heap while building.
# Needs what scripts/setup.sh installs (Go, mailpit, redis-server, poppler-utils).
#
#   bash scripts/bench-email.sh                     # 10,000 emails, 5,000 households
#   EMAILS=1000 HOUSEHOLDS=500 bash scripts/bench-email.sh
#   TARGET=fake bash scripts/bench-email.sh          # an in-process relay that discards mail: the channel alone
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_go
ensure_mailpit
command -v pdfinfo >/dev/null || apt_install poppler-utils
command -v redis-server >/dev/null || apt_install redis-server

EMAILS=${EMAILS:-10000}
HOUSEHOLDS=${HOUSEHOLDS:-5000}
TARGET=${TARGET:-mailpit}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

log "building the test binaries"
go test -c -o "$tmp/email.test" ./channels/email/
go test -c -o "$tmp/queue.test" ./queue/

log "sending $EMAILS emails to $TARGET, pooled then one connection per message"
# The test starts a private mailpit on a free loopback port; /usr/bin/time reports the process's peak RSS.
(cd channels/email && RELAIS_BENCH_EMAILS=$EMAILS RELAIS_BENCH_TARGET=$TARGET /usr/bin/time -f 'peak RSS %M KB' \
	"$tmp/email.test" -test.run '^$' -test.bench '^BenchmarkThroughput$' -test.benchtime 1x -test.v -test.timeout 60m) 2>&1 | tee "$tmp/email.log"

log "building the postal batch of $HOUSEHOLDS households"
(cd queue && RELAIS_BENCH_POSTAL=$HOUSEHOLDS /usr/bin/time -f 'peak RSS %M KB' \
	"$tmp/queue.test" -test.run '^TestPostalBatchScale$' -test.v -test.timeout 30m) 2>&1 | tee "$tmp/postal.log"

echo
echo "== Results"
grep -E 'msg/s|pooled / per-message' "$tmp/email.log" | sed 's/^ *[a-z_]*\.go:[0-9]*: /email: /'
rss=$(grep -o 'peak RSS [0-9]* KB' "$tmp/email.log" | awk '{print $3}')
awk -v kb="$rss" 'BEGIN { printf "email: sender peak RSS %.1f MB (test process, both runs)\n", kb / 1024 }'
grep -E 'postal batch:' "$tmp/postal.log" | sed 's/^ *[a-z_]*\.go:[0-9]*: //'
rss=$(grep -o 'peak RSS [0-9]* KB' "$tmp/postal.log" | awk '{print $3}')
awk -v kb="$rss" -v n="$HOUSEHOLDS" 'BEGIN { printf "postal: peak RSS %.1f MB (test process, including the setup of %d households)\n", kb / 1024, n }'
grep -q '^--- FAIL' "$tmp/email.log" "$tmp/postal.log" && { echo "a benchmark failed" >&2; exit 1; }
exit 0
