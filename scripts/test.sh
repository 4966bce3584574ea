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

say "lint"
make lint

say "tests (race detector on; includes end-to-end tests against the built binary)"
# -p 2: this suite starts servers; two packages at a time suits the 2-core CI machines.
go test -race -count=1 -p 2 -timeout 45m ./...
