# eventd — build, test, benchmark. `make help` lists the targets.
GO ?= go
PKGS := ./...

.PHONY: help build test test-race vet fuzz bench clean

help:
	@echo "build      build bin/eventd"
	@echo "test       go vet + go test (the README's test command)"
	@echo "test-race  the test suite under the race detector"
	@echo "fuzz       run each fuzz target for FUZZTIME (default 30s)"
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
fuzz:
	$(GO) test ./segment -run '^$$' -fuzz '^FuzzDecodeFrame$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./segment -run '^$$' -fuzz '^FuzzDecodeRecord$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./index -run '^$$' -fuzz '^FuzzReadCheckpoint$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s

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
