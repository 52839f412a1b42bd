# DLedger Lab — build, play, test, bench.
# Everything runs with a stock Go toolchain; the browser tests also need
# Chromium (.ci/run installs Debian's package when it is missing).

GO      ?= go
BIN     := bin/dledgerlab
ADDR    ?= 127.0.0.1:8080
WASM    := web/static/dledgerlab.wasm
# Controller mode's engine (wasm/controller), downloaded only by a learner
# who switches the page to Controller mode.
WASM_CTL := web/static/dledgerlab-controller.wasm

.PHONY: all build wasm site play test test-core test-race fuzz bench bench-native clean

all: build

## build: the wasm playground engine and the dledgerlab binary (which embeds it)
build: wasm
	@if [ -d native ] && ls native/*.go >/dev/null 2>&1; then \
		$(GO) build -o $(BIN) ./native; \
	fi

## wasm: the playground's engine (web/static/dledgerlab.wasm) and its
## precompressed siblings (.br, .gz, and .sha256: the wasm they were made from)
# Built small, because every learner downloads it (docs/BENCHMARKS.md has
# the figures and the measurements behind each choice):
# - -s -w drop the symbol table and DWARF;
# - inlining is off (-l) except in the runtime, which keeps allocation and
#   the collector fast; the simulator's speed did not measurably change when
#   the engine's own packages stopped inlining, and it saves ~15 KB gzipped;
# - the runtime is built without bounds checks (-B, the runtime only: every
#   other package, ours included, keeps them), ~15 KB gzipped;
# - GOEXPERIMENT=nogreenteagc: Go 1.26's default collector (Green Tea) pays
#   off with many cores; the engine runs on one browser thread, where the
#   previous collector is as fast and ~14 KB gzipped smaller. Go announced
#   the opt-out for 1.26 only; when it goes, re-measure.
# GOWASM=satconv,signext was measured too: no difference, so it is not set.
# web/browser_test.go builds the engine with the same flags and environment
# (TestEngineFlagsMatchTheMakefile keeps them in step; TestEngineSize checks
# the size targets).
WASM_ENV   := GOEXPERIMENT=nogreenteagc
WASM_FLAGS := -trimpath -ldflags="-s -w" -gcflags=all=-l -gcflags=runtime=-B

wasm:
	@if ls wasm/*.go >/dev/null 2>&1; then \
		mkdir -p web/static && \
		GOOS=js GOARCH=wasm $(WASM_ENV) $(GO) build $(WASM_FLAGS) -o $(WASM) ./wasm && \
		GOOS=js GOARCH=wasm $(WASM_ENV) $(GO) build $(WASM_FLAGS) -o $(WASM_CTL) ./wasm/controller && \
		cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" web/static/wasm_exec.js && \
		$(GO) run ./internal/tools/precompress $(WASM) && \
		$(GO) run ./internal/tools/precompress $(WASM_CTL); \
	fi

## site: the playground as static files in site/, for any static host (no Go server)
site: wasm
	rm -rf site
	$(GO) run ./internal/tools/site site

## play: build and serve the playground, print its URL
play: build
	$(BIN) play --addr $(ADDR)

## staticcheck: make test runs this version: the one on PATH (.ci/run
# installs it with go install), or else one installed into bin/.
STATICCHECK_VERSION := v0.8.2
STATICCHECK ?= $(shell s=$$(command -v staticcheck) && $$s -version 2>/dev/null | grep -q '($(STATICCHECK_VERSION:v%=%))' && echo $$s || echo bin/staticcheck)

bin/staticcheck:
	GOBIN="$(CURDIR)/bin" $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## test: every test — core, simulator, lessons, native processes, browser
test: build $(STATICCHECK)
	$(GO) mod tidy -diff
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$unformatted" ]; then echo "gofmt -l: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./wasm ./core/...
	$(STATICCHECK) ./...
	GOOS=js GOARCH=wasm $(STATICCHECK) ./wasm ./core/...
	@# One package at a time: the native and browser tests run real processes
	@# against real clocks, and on a 2-core machine two such suites at once
	@# starve each other's timers.
	$(GO) test -count=1 -p 1 -timeout 20m ./...
	@# The same simulator run gives the same view stream in WebAssembly, and
	@# the same Controller-mode chaos run the same digest.
	@if command -v node >/dev/null; then \
		GOOS=js GOARCH=wasm $(WASM_ENV) $(GO) test $(WASM_FLAGS) -count=1 -exec="$$($(GO) env GOROOT)/lib/wasm/go_js_wasm_exec" -run 'TestViewStreamDigest|TestDeterministicViewStream' ./core/sim && \
		GOOS=js GOARCH=wasm $(WASM_ENV) $(GO) test $(WASM_FLAGS) -count=1 -exec="$$($(GO) env GOROOT)/lib/wasm/go_js_wasm_exec" -run 'TestControllerChaosDigest' ./core/ctlsim; \
	else echo "node not found: skipping the WebAssembly determinism test"; fi

## fuzz: run each fuzz target for FUZZTIME executions (default 300000x each)
# A count, not a duration: Go 1.26's fuzz coordinator can fail a
# duration-bounded run (-fuzztime 2m) with "context deadline exceeded" and no
# crasher (golang/go#75804). A count also does the same work on a slow machine.
FUZZTIME ?= 300000x
fuzz:
	$(GO) test ./core/commitlog -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./core/commitlog -run '^$$' -fuzz '^FuzzRecover$$' -fuzztime $(FUZZTIME)
	$(GO) test ./core/broker -run '^$$' -fuzz '^FuzzDecodeMessage$$' -fuzztime $(FUZZTIME)
	$(GO) test ./core/broker -run '^$$' -fuzz '^FuzzRestore$$' -fuzztime $(FUZZTIME)
	$(GO) test ./core/broker -run '^$$' -fuzz '^FuzzDecodeOffsetCommit$$' -fuzztime $(FUZZTIME)
	$(GO) test ./native/transport -run '^$$' -fuzz '^FuzzDecodeMessage$$' -fuzztime $(FUZZTIME)
	$(GO) test ./native/server -run '^$$' -fuzz '^FuzzHTTPDecoders$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/jsonread -run '^$$' -fuzz '^FuzzInto$$' -fuzztime $(FUZZTIME)

## bench: Go benchmarks of the core, CommitLog and simulator
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./core/...

## bench-native: dledgerlab bench against hashicorp/raft (bench/anchor) in alternating pairs, with the ratios
# For each count in BENCH_PRODUCERS it runs BENCH_PAIRS pairs of
# `dledgerlab bench`, the anchor in one process and the anchor as processes
# behind HTTP, one after the other, then prints the median ops/s of each
# and the ratios ours/anchor within each pair (bench/anchor/README.md).
# Every run's JSON line is appended to BENCH_OUT. The anchor is its own Go
# module: the main module does not depend on hashicorp/raft.
BENCH_PRODUCERS ?= 1 16 64 256
BENCH_PAIRS     ?= 3
BENCH_DURATION  ?= 10s
BENCH_BROKERS   ?= 3
BENCH_SIZE      ?= 256
BENCH_OUT       ?= bin/bench-native-$(shell date -u +%Y%m%dT%H%M%SZ).jsonl
bench-native:
	mkdir -p bin
	$(GO) build -o $(BIN) ./native
	cd bench/anchor && $(GO) build -o ../../bin/anchor . && $(GO) build -o ../../bin/anchor-pairs ./cmd/pairs && $(GO) build -o ../../bin/floor ./cmd/floor
	bin/anchor-pairs --dledgerlab $(BIN) --anchor bin/anchor \
		--producers "$(BENCH_PRODUCERS)" --pairs $(BENCH_PAIRS) --duration $(BENCH_DURATION) \
		--brokers $(BENCH_BROKERS) --size $(BENCH_SIZE) --out $(BENCH_OUT)

clean:
	rm -rf bin site $(WASM) $(WASM).br $(WASM).gz $(WASM).sha256 web/static/wasm_exec.js
