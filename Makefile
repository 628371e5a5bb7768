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

clean:
	rm -rf bin
