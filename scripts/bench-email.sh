#!/usr/bin/env bash
# Email and postal benchmark:
#  1. (issue 17) EMAILS (default 10000) worksheet emails with a 300 KB PDF through the Relais send path
#     (send tasks: claims and outcomes in SQLite, the email channel and its connection pool) and through
#     bare go-mail, to the same real SMTP server, for two servers: mailpit, and smtpsink (scripts/smtpsink,
#     its own process, which discards mail and so is not the bound): messages per second for each and the
#     ratio Relais / go-mail, all in one run (queue BenchmarkEmailPath);
#  2. (issue 5) the same number of emails through the channel alone to mailpit, pooled SMTP connections vs
#     one connection per message: messages per second, the ratio, the peak Go heap of each run and the
#     sender's peak resident memory;
#  3. the time to build the postal batch of HOUSEHOLDS (default 5000) households, the PDF's size and
#     pages, and the peak Go heap while building.
# Needs what scripts/setup.sh installs (Go, mailpit, redis-server, poppler-utils).
#
#   bash scripts/bench-email.sh                     # 10,000 emails, 5,000 households
#   EMAILS=1000 HOUSEHOLDS=500 bash scripts/bench-email.sh
#   PARTS=path bash scripts/bench-email.sh          # only 1 (path, pool, postal: any of them)
#   TARGET=fake bash scripts/bench-email.sh          # 2 into an in-process relay that discards mail
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
PARTS=${PARTS:-path pool postal}
tmp=$(mktemp -d)
sink_pid=
cleanup() {
	[ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null && wait "$sink_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
want() { [[ " $PARTS " == *" $1 "* ]]; }
touch "$tmp/path.log" "$tmp/email.log" "$tmp/postal.log"

log "building the test binaries"
go test -c -o "$tmp/email.test" ./channels/email/
go test -c -o "$tmp/queue.test" ./queue/
go build -o "$tmp/smtpsink" ./scripts/smtpsink

if want path; then
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$tmp/smtpsink" -addr "127.0.0.1:$port" >"$tmp/sink.log" 2>&1 &
	sink_pid=$!
	for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
	log "sending $EMAILS emails through Relais and through go-mail, to mailpit and to smtpsink"
	(cd queue && RELAIS_BENCH_EMAILS=$EMAILS RELAIS_BENCH_SINK_ADDR=127.0.0.1:$port \
		"$tmp/queue.test" -test.run '^$' -test.bench '^BenchmarkEmailPath$' -test.benchtime 1x -test.v -test.timeout 120m) 2>&1 | tee "$tmp/path.log"
	kill "$sink_pid"
	wait "$sink_pid" 2>/dev/null || true
	sink_pid=
	cat "$tmp/sink.log"
fi

if want pool; then
	log "sending $EMAILS emails to $TARGET, pooled then one connection per message"
	# The test starts a private mailpit on a free loopback port; /usr/bin/time reports the process's peak RSS.
	(cd channels/email && RELAIS_BENCH_EMAILS=$EMAILS RELAIS_BENCH_TARGET=$TARGET /usr/bin/time -f 'peak RSS %M KB' \
		"$tmp/email.test" -test.run '^$' -test.bench '^BenchmarkThroughput$' -test.benchtime 1x -test.v -test.timeout 60m) 2>&1 | tee "$tmp/email.log"
fi

if want postal; then
	log "building the postal batch of $HOUSEHOLDS households"
	(cd queue && RELAIS_BENCH_POSTAL=$HOUSEHOLDS /usr/bin/time -f 'peak RSS %M KB' \
		"$tmp/queue.test" -test.run '^TestPostalBatchScale$' -test.v -test.timeout 30m) 2>&1 | tee "$tmp/postal.log"
fi

echo
echo "== Results"
grep -E 'relais / go-mail' "$tmp/path.log" | sed 's/^ *[a-z_]*\.go:[0-9]*: /email path: /' || true
grep -E 'msg/s|pooled / per-message' "$tmp/email.log" | sed 's/^ *[a-z_]*\.go:[0-9]*: /email: /' || true
if want pool; then
	rss=$(grep -o 'peak RSS [0-9]* KB' "$tmp/email.log" | awk '{print $3}')
	awk -v kb="$rss" 'BEGIN { printf "email: sender peak RSS %.1f MB (test process, both runs)\n", kb / 1024 }'
fi
if want postal; then
	grep -E 'postal batch:' "$tmp/postal.log" | sed 's/^ *[a-z_]*\.go:[0-9]*: //'
	rss=$(grep -o 'peak RSS [0-9]* KB' "$tmp/postal.log" | awk '{print $3}')
	awk -v kb="$rss" -v n="$HOUSEHOLDS" 'BEGIN { printf "postal: peak RSS %.1f MB (test process, including the setup of %d households)\n", kb / 1024, n }'
fi
if grep -q '^--- FAIL\|^FAIL' "$tmp/path.log" "$tmp/email.log" "$tmp/postal.log"; then
	echo "a benchmark failed" >&2
	exit 1
fi
exit 0
