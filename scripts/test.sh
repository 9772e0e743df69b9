#!/usr/bin/env bash
# Installs what the tests need on Debian 12, then runs go vet and every test against real services:
# Redis, mailpit, PostgreSQL and the OpenID provider are started by the tests themselves (internal/testenv) on free
# 127.0.0.1 ports, a private instance per test process, and stopped here when the run ends.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

apt_install "${RUNTIME_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
ensure_go
ensure_node
ensure_mailpit
ensure_oidc_provider
ensure_versitygw
log "installing Twilio's segment calculator (npm ci)"
npm ci --prefix channels/sms/testdata/calculator --no-audit --no-fund --loglevel=error
log "installing Redocly's OpenAPI linter (npm ci)"
npm ci --prefix docs/lint --no-audit --no-fund --loglevel=error

cleanup() {
	# Servers started by test processes that were killed (a timeout) before they could stop them.
	pkill -f 'redis-server .*relais-test-redis-' 2>/dev/null || true
	pkill -f 'mailpit .*relais-test-mailpit-' 2>/dev/null || true
	pkill -f 'postgres -D .*relais-test-postgres-' 2>/dev/null || true
	pkill -f '^relais-test-oidc-provider' 2>/dev/null || true
	pkill -f 'versitygw .*posix .*relais-test-s3-' 2>/dev/null || true
}
trap cleanup EXIT

log "go vet ./..."
go vet ./...
log "go test ./..."
# The browser test keeps its screenshots here (a CI can publish the folder as artifacts).
export RELAIS_TEST_ARTIFACTS="$PWD/artifacts"
rm -rf "$RELAIS_TEST_ARTIFACTS"
go test -count=1 -timeout 25m "$@" ./...
log "screenshots of the browser test: $RELAIS_TEST_ARTIFACTS/ui/"
