# Berth: the README's two commands are `make run` and `make test`.
GO ?= go
BIN := bin/berth
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: run build test unit lint bench bench-s3 clean

## run: start Berth on its embedded defaults (SQLite + filesystem in ./berth-data)
run:
	$(GO) run ./cmd/berth serve

## build: static binary in bin/berth
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/berth

## test: the whole suite, as CI runs it (installs what is missing, needs Docker)
test:
	./scripts/test.sh

## unit: fast in-process tests for the inner loop (no Docker, no binary)
unit:
	$(GO) test -count=1 ./internal/... ./cmd/...

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## bench: Berth vs the reference registry vs the physical limit, as ratios
bench:
	$(GO) run ./test/bench

## bench-s3: the same on S3: Berth and the reference's s3 driver on the MinIO at
## BERTH_TEST_S3_ENDPOINT (keys in BERTH_TEST_S3_ACCESS_KEY, _SECRET_KEY) vs the SDK's own transfers
bench-s3:
	$(GO) run ./test/bench -s3 env -large-size 256MiB -reps 5

clean:
	rm -rf bin
