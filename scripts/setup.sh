#!/usr/bin/env bash
# Sets up Relais on Debian 12 and runs the end-to-end demo on the embedded defaults: SQLite, a local
# media directory, a private Redis, a local SMTP server (mailpit) and the Twilio sandbox.
# Arguments are passed to `relais demo` (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

apt_install "${RUNTIME_PACKAGES[@]}"
ensure_go
ensure_mailpit
build_relais
log "running the demo (bin/relais demo $*)"
exec bin/relais demo "$@"
