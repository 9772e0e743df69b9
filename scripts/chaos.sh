#!/usr/bin/env bash
# Chaos run (issue 13): one relais api, several relais worker processes, Redis, mailpit and the Twilio
# sandbox on 127.0.0.1; workers and Redis killed with SIGKILL during the sends, SMTP connections cut
# mid-DATA, the provider answering 429/500 or dropping answers. Prints, per channel, expected, received,
# duplicates, lost, unknown, disagreements and the longest stalls. Needs what scripts/setup.sh installs.
# Arguments go to scripts/chaos (try --help), e.g. -households 20000 -workers 2 -kills 10 -seed 7.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_go
ensure_mailpit
build_relais
go run ./scripts/chaos -relais bin/relais "$@"
