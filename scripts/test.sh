#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls `make test`).
# It installs what is missing and fails loudly when a dependency cannot run:
# no test is skipped because its environment is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

# on_exit adds a command to the EXIT trap, keeping the ones set before.
on_exit() {
	local prev
	prev=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
	trap "$1${prev:+; $prev}" EXIT
}

command -v go >/dev/null || die "Go is required (https://go.dev/dl/)"

say "Docker Engine"
command -v docker >/dev/null || die "the docker CLI is required for the end-to-end tests"
docker info >/dev/null 2>&1 || die "the Docker daemon is not reachable; start it (the e2e tests push and pull with the real docker client)"

say "MinIO (S3 blob store tests)"
# The version the module proxy serves as latest, known to build with our Go.
# The build is large (minutes): it happens once per machine, into GOBIN.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH | cut -d: -f1)/bin"
minio="$(command -v minio || true)"
[ -n "$minio" ] || minio="$gobin/minio"
if [ ! -x "$minio" ]; then
	echo "installing github.com/minio/minio@$MINIO_VERSION into $gobin (once per machine)"
	GOFLAGS= go install "github.com/minio/minio@$MINIO_VERSION" || die "go install of MinIO failed"
	minio="$gobin/minio"
fi
# free_port prints a loopback port nothing listens on.
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
	die "no free loopback port for MinIO"
}
minio_dir="$(mktemp -d -t berth-test-minio.XXXXXX)"
minio_pid=""
stop_minio() {
	if [ -n "$minio_pid" ]; then kill "$minio_pid" 2>/dev/null || true; wait "$minio_pid" 2>/dev/null || true; fi
	rm -rf "$minio_dir"
}
on_exit stop_minio
export BERTH_TEST_S3_ACCESS_KEY=berthtest BERTH_TEST_S3_SECRET_KEY=berthtest-secret-0123456789
for attempt in 1 2 3; do
	port="$(free_port)"
	MINIO_ROOT_USER="$BERTH_TEST_S3_ACCESS_KEY" MINIO_ROOT_PASSWORD="$BERTH_TEST_S3_SECRET_KEY" \
		MINIO_BROWSER=off MINIO_UPDATE=off \
		"$minio" server --quiet --address "127.0.0.1:$port" --console-address "127.0.0.1:$(free_port)" \
		"$minio_dir/data" >"$minio_dir/log" 2>&1 &
	minio_pid=$!
	for _ in $(seq 300); do
		curl -sf "http://127.0.0.1:$port/minio/health/ready" >/dev/null 2>&1 && break
		kill -0 "$minio_pid" 2>/dev/null || break
		sleep 0.1
	done
	if curl -sf "http://127.0.0.1:$port/minio/health/ready" >/dev/null 2>&1; then break; fi
	kill "$minio_pid" 2>/dev/null || true; wait "$minio_pid" 2>/dev/null || true; minio_pid=""
	[ "$attempt" = 3 ] && { cat "$minio_dir/log" >&2; die "MinIO did not start"; }
done
export BERTH_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
echo "MinIO $("$minio" --version | head -1) on $BERTH_TEST_S3_ENDPOINT"

say "NATS server (event delivery tests)"
# The Debian package; the tests publish to and subscribe on this server.
if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then
	command -v apt-get >/dev/null || die "nats-server is required (Debian package nats-server)"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server; } >/dev/null ||
		die "could not install nats-server with apt-get"
fi
nats_bin=$(command -v nats-server || echo /usr/sbin/nats-server)
nats_log=$(mktemp)
"$nats_bin" -a 127.0.0.1 -p -1 >"$nats_log" 2>&1 &
nats_pid=$!
stop_nats() { kill "$nats_pid" 2>/dev/null || true; wait "$nats_pid" 2>/dev/null || true; rm -f "$nats_log"; }
on_exit stop_nats
nats_addr=
for _ in $(seq 100); do
	nats_addr=$(grep -o 'Listening for client connections on [0-9.:]*' "$nats_log" | awk '{print $NF}' || true)
	[ -n "$nats_addr" ] && break
	sleep 0.1
done
[ -n "$nats_addr" ] || die "nats-server did not start: $(cat "$nats_log")"
export BERTH_TEST_NATS_URL="nats://$nats_addr"
echo "nats-server $("$nats_bin" --version | awk '{print $NF}') at $BERTH_TEST_NATS_URL"

say "nginx and strace (the examples of deploy/: TestClusterBehindNginx, TestClusterUnitSandbox)"
# Debian packages; the tests run their own nginx on loopback and trace a node.
if ! { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; } || ! command -v strace >/dev/null || ! command -v systemd-analyze >/dev/null; then
	command -v apt-get >/dev/null || die "nginx, strace and systemd-analyze are required (Debian packages nginx, strace, systemd)"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx strace systemd; } >/dev/null ||
		die "could not install nginx, strace and systemd with apt-get"
fi
export PATH="$PATH:/usr/sbin"
echo "$(nginx -v 2>&1)"

say "lint"
make lint

# PostgreSQL: the store conformance suite, the engine's own tests and the
# end-to-end tests run against a real server. Unless BERTH_TEST_POSTGRES
# already names one, a throwaway cluster starts here (on loopback, a free
# port, a temporary directory; as the postgres OS user when running as
# root, since PostgreSQL refuses root) and stops when this script exits.
# Tests that restart the server start private clusters of their own.
PG_DIR= PG_BIN= PG_RUN=()


pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

install_postgres() {
	command -v apt-get >/dev/null || die "PostgreSQL's server (initdb, postgres) is required; install it"
	local sudo=()
	[ "$(id -u)" = 0 ] || sudo=(sudo)
	echo "installing the Debian package postgresql"
	"${sudo[@]}" apt-get update -qq || die "apt-get update failed"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null ||
		die "could not install the Debian package postgresql"
}

start_postgres() {
	if [ -n "${BERTH_TEST_POSTGRES:-}" ]; then
		echo "using the server named by BERTH_TEST_POSTGRES"
		return
	fi
	PG_BIN=$(pg_bindir)
	if [ -z "$PG_BIN" ] && command -v initdb >/dev/null; then PG_BIN=$(dirname "$(command -v initdb)"); fi
	if [ -z "$PG_BIN" ]; then
		install_postgres
		PG_BIN=$(pg_bindir)
	fi
	[ -x "$PG_BIN/initdb" ] || die "PostgreSQL's initdb not found (looked in /usr/lib/postgresql/*/bin and PATH)"
	PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/berth-test-pg.XXXXXX")
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || die "running as root, PostgreSQL needs the postgres OS user (the postgresql package creates it)"
		chown postgres: "$PG_DIR"
		PG_RUN=(runuser -u postgres --)
	fi
	on_exit stop_postgres
	local pw icu=()
	pw=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
	(umask 077 && printf '%s\n' "$pw" >"$PG_DIR/pwfile")
	[ "$(id -u)" != 0 ] || chown postgres: "$PG_DIR/pwfile"
	# A linguistic default collation: byte-order listings pass only where
	# the schema says COLLATE "C" (ICU needs PostgreSQL 15).
	if "$PG_BIN/initdb" --help | grep -q -- --locale-provider; then icu=(--locale-provider icu --icu-locale en-US); fi
	cd "$PG_DIR" # the postgres user may not be able to enter the checkout
	"${PG_RUN[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U berth --pwfile "$PG_DIR/pwfile" --auth scram-sha-256 \
		-E UTF8 --locale C.UTF-8 "${icu[@]}" --no-sync >"$PG_DIR/initdb.log" 2>&1 ||
		{ cat "$PG_DIR/initdb.log"; die "initdb failed"; }
	rm -f "$PG_DIR/pwfile"
	local port=
	for _ in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 20000))
		if "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 -o \
			"-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c full_page_writes=off" \
			start >/dev/null; then
			break
		fi
		port=
	done
	cd - >/dev/null
	[ -n "$port" ] || { tail -n 30 "$PG_DIR/postgres.log"; die "PostgreSQL did not start"; }
	export BERTH_TEST_POSTGRES="postgres://berth:$pw@127.0.0.1:$port/postgres?sslmode=disable"
	echo "$("$PG_BIN/postgres" --version) on 127.0.0.1:$port, data in $PG_DIR"
}

stop_postgres() {
	if [ -n "$PG_DIR" ] && [ -d "$PG_DIR/data" ]; then
		(cd "$PG_DIR" && "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1) || true
	fi
	[ -z "$PG_DIR" ] || rm -rf "$PG_DIR"
}

say "PostgreSQL"
start_postgres

say "tests (race detector on; includes end-to-end tests against the built binary)"
# -p 2: this suite starts servers; two packages at a time suits the 2-core CI machines.
go test -race -count=1 -p 2 -timeout 45m ./...
