# votestream: the two commands are `make run` and `make test`; both install what they need.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/votestream
KAFKA      ?= 127.0.0.1:29092
CLICKHOUSE ?= 127.0.0.1:29000

.PHONY: build run test chaos bench lint services services-down fuzz clean browser

build:
	$(GO) build -o $(BIN) ./cmd/votestream

# The whole pipeline on this machine: real Kafka and ClickHouse (scripts/services), then
# every built role in one process (`up` creates the topics, migrates ClickHouse and loads
# the reference data) with a simulated election night. RUNFLAGS adds flags to `up`, e.g.
# RUNFLAGS="--sim-scale 1 --sim-speed 30" for a national night.
run: build
	scripts/services up
	$(BIN) up --kafka $(KAFKA) --clickhouse $(CLICKHOUSE) --data var/run --simulate $(RUNFLAGS)

test:
	scripts/test

# Long fault runs on private 3-broker Kafka clusters (minutes; not part of `make test`).
chaos:
	scripts/chaos

# Benchmarks print `BENCH name=... value=... unit=...`; figures go to docs/benchmarks.md.
bench: build
	scripts/bench

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@command -v staticcheck >/dev/null || GOFLAGS= $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck ./...

fuzz:
	scripts/fuzz

# The volunteers' form in headless chromium (installed with apt when missing): a few
# minutes, so not part of `make test`. Saves screenshots under docs/img/.
browser:
	scripts/browser

services:
	scripts/services up

services-down:
	scripts/services down

clean:
	scripts/services clean
	rm -rf bin var
