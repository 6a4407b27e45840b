# votestream: the two commands are `make run` and `make test`; both install what they need.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/votestream
KAFKA      ?= 127.0.0.1:29092
CLICKHOUSE ?= 127.0.0.1:29000
PLUGIN     := dashboards/plugin

.PHONY: build run test chaos bench backtest backtest-realnight lint services services-down fuzz clean browser screenshots plugin dashboards-check

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

# The Grafana data source plugin, ready to load as <plugins path>/votestream-live-datasource:
# plugin.json, the front end and the back end for linux amd64 and arm64 (the Dockerfile's
# grafana stage builds the same with the same script).
plugin:
	GO=$(GO) $(PLUGIN)/build.sh $(PLUGIN)/dist

# The dashboards against a live night, short of Grafana (docs/dashboards.md): `votestream up`
# replays a small simulated night on the real Kafka and ClickHouse, Debian's Prometheus scrapes
# it with deploy/alerts.yml, every pipeline-health query and alert rule runs on it, every
# ClickHouse panel on its database; then the live data source reads a second night and
# answers every live panel. About 2 minutes; not part of `make test`.
dashboards-check:
	scripts/services up
	command -v prometheus >/dev/null || apt-get install -y prometheus
	eval "$$(scripts/services env | sed 's/^/export /')"; \
	VOTESTREAM_REQUIRE_SERVICES=1 VOTESTREAM_DASHBOARDS_CHECK=1 $(GO) test -count=1 -v -run TestDashboardsOnALiveNight ./dashboards/ && \
	cd $(PLUGIN) && VOTESTREAM_REQUIRE_SERVICES=1 VOTESTREAM_DASHBOARDS_CHECK=1 $(GO) test -count=1 -v -run TestLivePanelsOnALiveNight .

# Long fault runs on private 3-broker Kafka clusters (minutes; not part of `make test`).
chaos:
	scripts/chaos

# Benchmarks print `BENCH name=... value=... unit=...`; figures go to docs/benchmarks.md.
bench: build
	scripts/bench

# The estimator's backtest over the whole scenario family (docs/estimation.md): five nights
# per scenario on a quarter of the country, biased order, the Markdown tables on stdout.
# About 3 CPU-minutes per scenario; BACKTESTFLAGS adds flags, e.g. "-scale 1" or
# "-ref ../shared/reference/thailand-2023".
backtest:
	$(GO) run ./bench/estimate -seeds 5 -scenarios all -scale 0.25 -md $(BACKTESTFLAGS)

# Nights of the second generator (simulate/realnight), every order, with and without a
# previous election, then its coverage test (also part of `make test` since the estimator
# passes it). BACKTESTFLAGS="-ref DIR -scale 0.1" for the 2023 structure.
backtest-realnight:
	$(GO) run ./bench/estimate -generator realnight -seeds 3 -scale 1 -md $(BACKTESTFLAGS)
	$(GO) test -count=1 -run TestRealnightCoverage ./bench/estimate/

# The console's browser test again, saving its screenshots into docs/img (docs/console.md).
screenshots:
	scripts/services up
	eval "$$(scripts/services env | sed 's/^/export /')"; eval "$$(scripts/chromium | sed 's/^/export /')"; \
	VOTESTREAM_REQUIRE_SERVICES=1 VOTESTREAM_SCREENSHOTS=$(CURDIR)/docs/img $(GO) test -count=1 -run Browser ./console/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@command -v staticcheck >/dev/null || GOFLAGS= $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck ./...
	cd $(PLUGIN) && $(GO) vet ./... && PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck ./...

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
	rm -rf bin var $(PLUGIN)/dist
