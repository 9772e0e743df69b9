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
#   BASE=<commit> REPEAT=3 bash scripts/bench-claim.sh  # and an earlier commit's, taking turns, 3 times
#                                                # each, then each case's median ratio
#   HISTORY=500000 bash scripts/bench-claim.sh   # with the deliveries of earlier lessons in the table first
#   RELAIS_BENCH_EMAIL_CONNS=16 RELAIS_BENCH_CLAIM_BATCH=25 bash scripts/bench-claim.sh
#                                                # the email channel's MaxConns, the worker's ClaimBatch
#   RELAIS_BENCH_SMTP=mailpit bash scripts/bench-claim.sh  # email to mailpit (it stores each message, in
#                                                # a process of its own) instead of the discarding sink
#
# With BASE, the earlier commit's send path is measured by the same benchmark (this file copied into an
# export of it, git archive), the two binaries taking turns REPEAT times, so that their ratios come from
# the same minutes of a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_go
command -v redis-server >/dev/null || apt_install redis-server
[ -x /usr/lib/postgresql/15/bin/postgres ] || apt_install postgresql-15
if [ "${RELAIS_BENCH_SMTP:-}" = mailpit ]; then
	ensure_mailpit
fi

SENDS=${SENDS:-2000}
ROUNDS=${ROUNDS:-4}
ONLY=${ONLY:-}
REPEAT=${REPEAT:-1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

log "building the queue's test binary"
go test -c -o "$tmp/this.test" ./queue/
builds=(this)
if [ -n "${BASE:-}" ]; then
	base=base-$(git rev-parse --short "$BASE")
	log "building the queue's test binary at $base"
	mkdir "$tmp/base"
	git archive "$BASE" | tar -x -C "$tmp/base"
	cp queue/claim_bench_test.go "$tmp/base/queue/"
	(cd "$tmp/base" && go test -c -o "$tmp/$base.test" ./queue/)
	builds=(this "$base")
fi

uptime
for ((k = 0; k < REPEAT; k++)); do
	for b in "${builds[@]}"; do
		log "$b: sending $SENDS messages x $ROUNDS rounds per mode, with and without the claim ($((k + 1)) of $REPEAT)"
		(cd queue && RELAIS_BENCH_CLAIM_SENDS=$SENDS RELAIS_BENCH_ROUNDS=$ROUNDS RELAIS_BENCH_CLAIM_HISTORY=${HISTORY:-0} \
			"$tmp/$b.test" -test.run '^$' -test.bench "^BenchmarkSendClaim\$/${ONLY}" -test.benchtime 1x -test.v -test.timeout 60m) 2>&1 |
			sed "s/^ *[a-z_]*\.go:[0-9]*: /$b: /" | tee -a "$tmp/claim.log"
		uptime
	done
	builds=("${builds[@]:1}" "${builds[0]}") # the other goes first next time
done

echo
echo "== Results"
grep -E 'with the claim' "$tmp/claim.log"
if [ "$REPEAT" -gt 1 ]; then
	# One run's ratio moves by about 0.1 on a shared machine: the median of each case's runs.
	echo
	echo "== Median ratio (with the claim / without) of $REPEAT runs"
	grep -E 'with the claim' "$tmp/claim.log" | awk '{print $1, $2, $3, $NF}' | sort -k1,1 -k2,2 -k3,3 -k4,4n |
		awk '{k = $1 " " $2 " " $3; v[k, ++n[k]] = $4}
		END {
			for (k in n) {
				c = n[k]
				m = (c % 2) ? v[k, (c + 1) / 2] : (v[k, c / 2] + v[k, c / 2 + 1]) / 2
				list = ""
				for (i = 1; i <= c; i++) list = list " " v[k, i]
				printf "%-34s median %.2f  (%s)\n", k, m, substr(list, 2)
			}
		}' | sort
fi
if grep -q '^--- FAIL\|^FAIL' "$tmp/claim.log"; then
	echo "a benchmark failed" >&2
	exit 1
fi
