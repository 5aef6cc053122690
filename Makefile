# earshot — build, run and test.
#
#   make run    install what is missing, build, and start the daemon on the embedded default (dev mode)
#   make test   install what is missing, build, vet, and run every test suite
#
# Both work on a fresh Debian/Ubuntu machine as root (or with sudo available).

SHELL := /bin/bash
GO ?= go
BIN := bin
PLUGINS := audio sphinx coach llm
LISTEN ?= 127.0.0.1:8080
GOTEST_FLAGS ?= -race -count=1 -timeout 30m

# Debian packages the build and the tests need.
DEB_PACKAGES := build-essential pkg-config libpocketsphinx-dev pocketsphinx-en-us pocketsphinx-testdata \
	libopus-dev espeak-ng sox ffmpeg protobuf-compiler chromium nodejs npm

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build run test vet unit e2e-socketio web-check generate bench fuzz clean help

all: build

help:
	@sed -n '1,8p' Makefile

## deps: install the Debian packages that are missing (retries while another apt/dpkg holds the lock).
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
		if [ "$$p" = nodejs ] || [ "$$p" = npm ]; then command -v $${p/nodejs/node} >/dev/null 2>&1 && continue; fi; \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		for i in $$(seq 1 30); do \
			$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 update -qq && \
			$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends $$missing && break; \
			echo "apt-get failed (attempt $$i), retrying in 10s"; sleep 10; \
		done; \
		for p in $$missing; do \
			if [ "$$p" = nodejs ] || [ "$$p" = npm ]; then continue; fi; \
			dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || { echo "could not install $$p"; exit 1; }; \
		done; \
	fi

## build: bin/earshot, every built-in plugin bin/earshot-plugin-<name>, the example whisper plugin, and the load tool bin/earshot-bench.
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/earshot ./cmd/earshot
	@for p in $(PLUGINS); do echo "$(GO) build -o $(BIN)/earshot-plugin-$$p ./cmd/earshot-plugin-$$p"; \
		$(GO) build -o $(BIN)/earshot-plugin-$$p ./cmd/earshot-plugin-$$p || exit 1; done
	$(GO) build -o $(BIN)/earshot-plugin-whisper ./examples/whisper-transcriber
	$(GO) build -o $(BIN)/earshot-bench ./cmd/earshot-bench

## run: the daemon on the embedded default configuration, in dev mode (random secret, demo token printed).
run: deps build
	./$(BIN)/earshot serve --dev --listen $(LISTEN)

## test: everything — vet, Go tests with the race detector (unit, contract, end-to-end), the Socket.IO suite.
test: deps build vet web-check unit e2e-socketio

vet:
	$(GO) vet ./...

unit:
	EARSHOT_BIN_DIR=$(CURDIR)/$(BIN) $(GO) test $(GOTEST_FLAGS) ./...

## e2e-socketio: the real socket.io-client against the built daemon.
e2e-socketio: build
	cd test/socketio && npm ci --no-audit --no-fund && EARSHOT_BIN=$(CURDIR)/$(BIN)/earshot node --test

## web-check: the browser client parses, and the React hook and provider type-check against its typings.
web-check:
	node --input-type=module --check < examples/web/client.js
	node --input-type=module --check < examples/web/demo.js
	cd examples/web/react && npm ci --no-audit --no-fund && npx --no-install tsc -p tsconfig.json

## generate: regenerate the plugin protocol's Go code (offline: Debian protoc + pinned Go tools).
generate:
	$(GO) generate ./plugins/internal/...

## bench: the benchmarks (plugin transport, gateway fan-out, pipeline overhead, decoders, sphinx).
bench: build
	EARSHOT_BIN_DIR=$(CURDIR)/$(BIN) $(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 30m ./...

## fuzz: run every fuzz target for FUZZTIME each (default 30s).
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; done

clean:
	rm -rf $(BIN)
