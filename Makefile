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
MOSQUITTO := $(shell command -v mosquitto 2>/dev/null || ls /usr/sbin/mosquitto 2>/dev/null)
GO_TEST_FLAGS ?= -race -timeout 20m

export VITALWATCH_INFLUXD := $(INFLUXD)

.PHONY: all build run test test-short bench lint tools test-deps clean

all: build

build:
	go build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

## run: build, install InfluxDB if needed, start vitalwatch serve and a demo fleet.
run: build tools
	@command -v curl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null; }
	./scripts/run-demo.sh

## test: install test dependencies, vet, and run all tests with the race detector.
test: test-deps tools lint
	go test $(GO_TEST_FLAGS) ./...

## test-short: the fast inner loop: unit tests only, no server started.
test-short:
	go test -short ./...

## bench: Go micro-benchmarks, then the ingest drain benchmark against a real Mosquitto and
## influxd (BENCH_MESSAGES messages, default 300000), which prints ingest_msgs_per_s,
## ceiling_msgs_per_s, their ratio and peak RSS.
bench: test-deps tools
	go test -run '^$$' -bench . -benchmem ./reading/ ./influx/ ./ingest/spool/ ./ingest/ ./devices/ ./reallocation/ ./usage/ ./store/ ./alerts/rules/
	go test -run '^$$' -bench 'BenchmarkDrain|BenchmarkAlertLatency' -benchtime 1x -timeout 60m ./cmd/vitalwatch/

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

## test-deps: Debian packages the tests run for real: mosquitto, and postgresql, whose binaries
## the store's tests use to start their own server (not the cluster the package sets up).
test-deps:
	@if [ -z "$(MOSQUITTO)" ]; then \
		echo "installing mosquitto with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null; \
	fi
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "installing postgresql with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

clean:
	rm -rf $(BIN) data
