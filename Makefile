# eventd — build, test, benchmark. `make help` lists the targets.
GO ?= go
PKGS := ./...

.PHONY: help build test test-race vet fuzz crash soak powerloss bench clean

help:
	@echo "build      build bin/eventd"
	@echo "test       go vet + go test (the README's test command)"
	@echo "test-race  the test suite under the race detector"
	@echo "fuzz       run every fuzz target of every package for FUZZTIME each (default 30s)"
	@echo "crash      CRASH_ROUNDS (default 100) SIGKILL rounds of the daemon under mixed load (TestCrashMixed)"
	@echo "soak       SOAK (default 10m) of mixed load: RSS, goroutines, fds, p99 flat; 1,000 idle subscribers cost <= 20%"
	@echo "powerloss  the power-loss sweep at every crash point of a longer workload (POWERLOSS_OPS, default 1000)"
	@echo "bench      go test -bench suites + the HTTP load generator, results in bench/results/"

build:
	$(GO) build -o bin/eventd ./cmd/eventd

vet:
	$(GO) vet $(PKGS)

test: vet
	$(GO) test -count=1 $(PKGS)

test-race:
	$(GO) test -race -count=1 $(PKGS)

FUZZTIME ?= 30s
# Every Fuzz* function of every package, each for FUZZTIME (go test -fuzz
# takes one target at a time). Inputs that fail land in the package's
# testdata/fuzz/<FuzzName>/ and from then on run with go test.
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
		list=$$($(GO) test -list '^Fuzz' $$pkg) || { echo "$$list"; exit 1; }; \
		for t in $$(echo "$$list" | grep '^Fuzz' || true); do \
			echo "== $$pkg $$t for $(FUZZTIME)"; \
			$(GO) test $$pkg -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s; \
		done; \
	done

# `make crash`: the daemon binary SIGKILLed CRASH_ROUNDS times under mixed
# load, restarted and checked (go test ./... runs 20 rounds).
CRASH_ROUNDS ?= 100
crash:
	$(GO) test -count=1 -v -timeout 60m -run '^TestCrashMixed$$' ./cmd/eventd -args -crash-rounds=$(CRASH_ROUNDS)

# `make soak`: SOAK of mixed load against the daemon, then the subscriber
# overhead (go test ./... runs a 30 s soak).
SOAK ?= 10m
SOAK_TIMEOUT ?= 90m
soak:
	$(GO) test -count=1 -v -timeout $(SOAK_TIMEOUT) -run '^(TestSoak|TestSubscriberOverhead)$$' ./cmd/eventd -args -soak-duration=$(SOAK) -soak-fanout

# `make powerloss`: TestPowerLoss at every crash point of a longer workload
# and more failed-sync runs (go test ./... sweeps a 300-operation one).
POWERLOSS_OPS ?= 1000
POWERLOSS_SEED ?= 1
powerloss:
	$(GO) test -count=1 -v -timeout 60m -run '^TestPowerLoss' ./cmd/eventd -args -powerloss-ops=$(POWERLOSS_OPS) -powerloss-every=1 -powerloss-fails=100 -powerloss-seed=$(POWERLOSS_SEED)

# `make bench`: every go test -bench suite, then the HTTP load generator
# against a daemon it starts on a temp dir; results in bench/results/STAMP/.
BENCHTIME ?= 1s
BENCH_DURATION ?= 10s
BENCH_STAMP := $(shell date -u +%Y%m%dT%H%M%SZ)
BENCH_OUT ?= bench/results/$(BENCH_STAMP)
bench: build
	@mkdir -p $(BENCH_OUT)
	@echo "# eventd bench $(BENCH_STAMP) commit $$(git rev-parse --short HEAD 2>/dev/null || echo none), $$(nproc) cpus, load before: $$(cut -d' ' -f1-3 /proc/loadavg)" | tee $(BENCH_OUT)/results.txt
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -count 1 $(PKGS) >> $(BENCH_OUT)/results.txt
	bin/eventd bench --quiet --concurrency 64 --batch 1 --duration $(BENCH_DURATION) --out $(BENCH_OUT)/append-b1-c64.json >> $(BENCH_OUT)/results.txt
	bin/eventd bench --quiet --concurrency 16 --batch 100 --duration $(BENCH_DURATION) --out $(BENCH_OUT)/append-b100-c16.json >> $(BENCH_OUT)/results.txt
	bin/eventd bench --quiet --concurrency 1 --batch 1 --duration $(BENCH_DURATION) --out $(BENCH_OUT)/append-b1-c1.json >> $(BENCH_OUT)/results.txt
	bin/eventd bench --quiet --read --concurrency 8 --seed 200000 --duration 5s --out $(BENCH_OUT)/read-c8.json >> $(BENCH_OUT)/results.txt
	@cat $(BENCH_OUT)/results.txt
	@echo "results in $(BENCH_OUT)/"

clean:
	rm -rf bin
