#!/usr/bin/env bash
# SMS delivery benchmark (issues 4, 17): paced rate with three worker processes (no sliding one-second
# window over the rate, average at least 98 % of it), unthrottled throughput, and
# exactly-once delivery with 20 % of requests answered 429 or 500. Needs what scripts/setup.sh
# installs. Arguments go to scripts/benchsms (try --help), e.g. --scenario paced --messages 2000.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_go
build_relais
go run ./scripts/benchsms -relais bin/relais "$@"
