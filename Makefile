# Berth: the README's two commands are `make run` and `make test`.
GO ?= go
BIN := bin/berth
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: run build test unit lint bench clean

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

clean:
	rm -rf bin
