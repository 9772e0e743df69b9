# Shared by setup.sh and test.sh: installs what Relais needs on Debian 12. Sourced, not run.
# Every step checks first and does nothing when the thing is already there, so the scripts are quick
# to run again.

MAILPIT_VERSION=v1.28.0
OIDC_PROVIDER_VERSION=v3.52.0 # internal/oidcprovider.Version
# versitygw is the S3 server the media store's tests run (internal/s3server).
VERSITYGW_VERSION=v1.8.0

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# apt_install PKG...: installs the Debian packages that are missing.
apt_install() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "apt-get install ${missing[*]}"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Packages to build Relais (cgo against FFmpeg 5.1) and run it (Redis, ffmpeg and espeak-ng for the demo's
# generated lesson).
RUNTIME_PACKAGES=(ca-certificates git gcc libc6-dev pkg-config
	libavcodec-dev libavformat-dev libavfilter-dev libavutil-dev libswresample-dev libswscale-dev libavdevice-dev
	ffmpeg redis-server espeak-ng)
# Packages the tests add: pdftotext, xmllint, Chromium for the web UI's browser test (cmd/relais/ui_test.go),
# and PostgreSQL 15, whose binaries (/usr/lib/postgresql/15/bin) the tests run as private clusters
# (internal/testenv): the package's own cluster and service are not used.
TEST_PACKAGES=(poppler-utils libxml2-utils chromium postgresql-15 zsh fish tzdata) # zsh and fish: TestCompletion runs the completion scripts; tzdata: TestTimeZonesCoverIANA reads its zone tables

# ensure_node installs Node.js and npm (for Twilio's segment calculator) unless a node is on PATH
# already, from Debian or elsewhere.
ensure_node() {
	if command -v node >/dev/null && command -v npm >/dev/null; then
		return 0
	fi
	apt_install nodejs npm
}

# ensure_go puts a Go toolchain at least as new as go.mod's on PATH. A Go >= 1.21 fetches the exact
# toolchain go.mod names by itself (GOTOOLCHAIN=auto); Debian 12's golang-go (1.19) cannot, so it is
# used only to download the toolchain module through the configured Go module proxy.
ensure_go() {
	export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
	local want
	want=$(awk '$1 == "go" { print $2 }' go.mod)
	if command -v go >/dev/null && go_is_modern; then
		return 0
	fi
	log "installing Go $want"
	apt_install golang-go
	local arch tmp
	arch=$(dpkg --print-architecture)
	tmp=$(mktemp -d)
	(cd "$tmp" && GOMODCACHE="$tmp/mod" GOFLAGS=-mod=mod /usr/lib/go/bin/go mod download "golang.org/toolchain@v0.0.1-go$want.linux-$arch")
	as_root rm -rf /usr/local/go
	as_root cp -r "$tmp/mod/golang.org/toolchain@v0.0.1-go$want.linux-$arch" /usr/local/go
	as_root chmod -R u+w /usr/local/go
	as_root find /usr/local/go/bin /usr/local/go/pkg/tool -type f -exec chmod +x {} +
	chmod -R u+w "$tmp" && rm -rf "$tmp"
	go version
}

go_is_modern() {
	local v
	v=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
	[ -n "$v" ] && [ "$(printf '%s\n1.21\n' "$v" | sort -V | head -1)" = "1.21" ]
}

# ensure_oidc_provider installs the OpenID provider the sign-in tests start on loopback (internal/oidcprovider):
# the example provider of github.com/zitadel/oidc, as ~/go/bin/server (or GOBIN/server); skipped when
# that binary is already this version.
ensure_oidc_provider() {
	local bin
	bin="$(go env GOBIN)"
	bin="${bin:-$(go env GOPATH)/bin}/server"
	if [ -x "$bin" ] && go version -m "$bin" 2>/dev/null |
		awk -v v="$OIDC_PROVIDER_VERSION" '$1 == "mod" && $2 == "github.com/zitadel/oidc/v3" && $3 == v { found = 1 } END { exit !found }'; then
		return 0
	fi
	log "installing the OpenID provider of zitadel/oidc $OIDC_PROVIDER_VERSION"
	(cd / && GOFLAGS= go install "github.com/zitadel/oidc/v3/example/server@$OIDC_PROVIDER_VERSION")
}

# ensure_mailpit builds the mailpit SMTP test server at an exact version, outside Relais' go.mod. The
# checksum database does not list this version, so GOSUMDB is off for this one tool; its own go.sum
# still pins every dependency.
ensure_mailpit() {
	if command -v mailpit >/dev/null; then
		return 0
	fi
	log "building mailpit $MAILPIT_VERSION"
	local dir tmp
	tmp=$(mktemp -d)
	dir=$(cd "$tmp" && GOFLAGS=-mod=mod GOSUMDB=off go mod download -json "github.com/axllent/mailpit@$MAILPIT_VERSION" |
		awk -F'"' '$2 == "Dir" { print $4 }')
	cp -r "$dir" "$tmp/src" && chmod -R u+w "$tmp/src"
	(cd "$tmp/src" && GOFLAGS=-mod=mod GOSUMDB=off CGO_ENABLED=0 go build -trimpath \
		-ldflags "-s -w -X github.com/axllent/mailpit/config.Version=$MAILPIT_VERSION" -o "$tmp/mailpit" .)
	as_root install -m 0755 "$tmp/mailpit" /usr/local/bin/mailpit
	rm -rf "$tmp"
}

# build_relais builds ./bin/relais.
build_relais() {
	log "building relais"
	mkdir -p bin
	go build -trimpath -ldflags "-X github.com/relais-edu/relais.Version=$(git describe --always --dirty 2>/dev/null || echo dev)" \
		-o bin/relais ./cmd/relais
}

# ensure_versitygw installs the versitygw S3 gateway (POSIX back end) at an exact version into
# $(go env GOPATH)/bin, where internal/s3server finds it; an installed one is kept.
ensure_versitygw() {
	local bin
	bin="$(go env GOPATH)/bin/versitygw"
	if [ -x "$bin" ] && go version -m "$bin" | grep -qE "^\s+mod\s+github.com/versity/versitygw\s+$VERSITYGW_VERSION\s"; then
		return 0
	fi
	log "installing versitygw $VERSITYGW_VERSION (go install)"
	GOFLAGS=-mod=mod go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
}
