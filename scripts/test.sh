#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls `make test`).
# It installs what is missing and fails loudly when a dependency cannot run:
# no test is skipped because its environment is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || die "Go is required (https://go.dev/dl/)"

say "Docker Engine"
command -v docker >/dev/null || die "the docker CLI is required for the end-to-end tests"
docker info >/dev/null 2>&1 || die "the Docker daemon is not reachable; start it (the e2e tests push and pull with the real docker client)"

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
trap 'kill "$nats_pid" 2>/dev/null || true; rm -f "$nats_log"' EXIT
nats_addr=
for _ in $(seq 100); do
	nats_addr=$(grep -o 'Listening for client connections on [0-9.:]*' "$nats_log" | awk '{print $NF}' || true)
	[ -n "$nats_addr" ] && break
	sleep 0.1
done
[ -n "$nats_addr" ] || die "nats-server did not start: $(cat "$nats_log")"
export BERTH_TEST_NATS_URL="nats://$nats_addr"
echo "nats-server $("$nats_bin" --version | awk '{print $NF}') at $BERTH_TEST_NATS_URL"

say "lint"
make lint

say "tests (race detector on; includes end-to-end tests against the built binary)"
# -p 2: this suite starts servers; two packages at a time suits the 2-core CI machines.
go test -race -count=1 -p 2 -timeout 45m ./...
