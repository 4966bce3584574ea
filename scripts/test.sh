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
trap stop_minio EXIT
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

say "lint"
make lint

say "tests (race detector on; includes end-to-end tests against the built binary)"
# -p 2: this suite starts servers; two packages at a time suits the 2-core CI machines.
go test -race -count=1 -p 2 -timeout 45m ./...
