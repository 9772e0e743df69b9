#!/usr/bin/env bash
# Family page under a surge (issue 18): requests per second and p99 latency at 50 and 200 concurrent
# clients on loopback, full answers and conditional ones (304), through Relais' API server (SQLite) and
# through a bare net/http handler serving the same bytes from memory, in one run. Prints the figures
# and the ratio Relais / bare for each (goal >= 0.8x, p99 < 50 ms at 50 clients).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_go
N="${N:-40000}"
log "family page: $N requests per case, 50 and 200 clients"
out=$(go test ./api -run '^$' -bench 'BenchmarkFamilyPage$' -benchtime "${N}x" -count 1)
echo "$out" | grep '^BenchmarkFamilyPage/'
echo "$out" | awk '
  /^BenchmarkFamilyPage\// {
    split($1, p, "/"); key = p[2] "/" p[3]; srv = p[4]; sub(/-[0-9]+$/, "", srv)
    for (i = 2; i <= NF; i++) { if ($(i+1) == "req/s") rps[key, srv] = $i; if ($(i+1) == "p99-ms") p99[key, srv] = $i }
    keys[key] = 1
  }
  END {
    for (k in keys) printf "%-32s relais %8.0f req/s (p99 %5.1f ms)  bare %8.0f req/s (p99 %5.1f ms)  ratio %.2fx\n",
      k, rps[k, "relais"], p99[k, "relais"], rps[k, "bare"], p99[k, "bare"], rps[k, "relais"] / rps[k, "bare"]
  }' | sort
