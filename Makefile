# glb — build, run and test. Needs only Go (see go.mod) and make.
GO       ?= go
GOFLAGS  ?=
PKGS     := ./...

.PHONY: all build run test test-short readme-check vet fmt-check bench mmdb promtool loadtest local-cluster deploy-check fuzz fuzz-smoke restart-check soak soak-short protocol-check clean

all: build

## build: compile glbd and the tools into bin/
build:
	$(GO) build -o bin/ ./cmd/...

## run: dev mode — embedded etcd on 127.0.0.1:2379, example config, test GeoIP db, DNS on 127.0.0.1:5353
run:
	$(GO) run ./cmd/glbd -dev

## test: format and vet checks, then every test with the race detector
test: fmt-check vet
	$(GO) test -race -count=1 -timeout 10m $(PKGS)

## test-short: unit tests only (skips the ones that start etcd)
test-short:
	$(GO) test -short -count=1 $(PKGS)

## readme-check: run README's console examples (Try it, health, policies, ECS) against glbd -dev on free ports
## and compare their output with README's; README_CHECK_HOST picks the loopback address (default 127.0.0.1)
readme-check:
	GLB_README_CHECK=1 GLB_README_CHECK_HOST=$(README_CHECK_HOST) $(GO) test -count=1 -run '^TestReadme$$' -v ./internal/readmecheck

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## bench: micro-benchmarks of the query path pieces, with allocations
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./server/ ./geo/

## fuzz: run every fuzz target for FUZZTIME each (default 60s), starting from the seed
## corpora in <pkg>/testdata/fuzz (also run by make test); a crasher is saved there
FUZZTIME ?= 60s
FUZZ_TARGETS := ./server/:FuzzAnswerPacket ./server/:FuzzParseECS ./store/schema/:FuzzDecode ./health/:FuzzParseResponse
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "== $${t#*:} for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) $${t%%:*}; \
	done

## fuzz-smoke: every fuzz target for a few seconds (CI, after make test)
fuzz-smoke:
	$(MAKE) fuzz FUZZTIME=3s

## mmdb: regenerate the test GeoIP database from its CSV
mmdb:
	$(GO) run ./cmd/mkmmdb -in testdata/geoip/networks.csv -out testdata/geoip/glb-test-city.mmdb

## promtool: check a dev glbd's /metrics with Prometheus' promtool; installs
## Debian's prometheus package when promtool is missing (not part of make test)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
promtool:
	@command -v promtool >/dev/null 2>&1 || { echo "promtool not found: apt-get install -y prometheus"; \
		$(SUDO) apt-get install -y prometheus; }
	GLB_PROMTOOL=1 $(GO) test -count=1 -run '^TestPromtoolCheckMetrics$$' -v ./cmd/glbd

## loadtest: glbd vs gdnsd under dnsperf on loopback, server CPU per query (as root on Debian it
## installs dnsperf and gdnsd); LOADTEST_FLAGS=--quick for a smoke run
loadtest:
	deploy/loadtest/run.sh $(LOADTEST_FLAGS)

## restart-check: RESTARTS (default 10) rolling restarts of real glbd processes on one port under UDP+TCP load;
## prints queries sent/answered/lost (deploy/restart-check.sh; as root, a second run in a private netns with tcp_migrate_req=1)
RESTARTS ?= 10
restart-check:
	deploy/restart-check.sh --restarts $(RESTARTS)

## local-cluster: three etcd members, two glbd and three probers on loopback (deploy/README.md); Ctrl-C stops it
local-cluster:
	deploy/local-cluster.sh

## deploy-check: promtool checks of the alert rules and their tests, the dashboard's JSON, then the local
## cluster's smoke test (CLUSTER_FLAGS=--net 127.0.1 when make run holds the ports); installs Debian packages as root
deploy-check:
	@command -v promtool >/dev/null 2>&1 || $(SUDO) apt-get install -y prometheus
	promtool check rules deploy/prometheus/alerts.yml
	promtool test rules deploy/prometheus/alerts_test.yml
	python3 -m json.tool deploy/grafana/glb-dashboard.json >/dev/null
	deploy/local-cluster.sh --check $(CLUSTER_FLAGS)

## soak: glbd, etcd and probers on loopback for SOAK_DURATION (default 5m) under 2,000 q/s with weights
## flipping every 100 ms, drains rotating, probers joining and leaving and the GeoIP file replaced twice;
## fails on any failed query, drained-region answer or growth of glbd's goroutines or heap (not in CI)
SOAK_DURATION ?= 5m
SOAK_FLAGS    ?=
soak:
	$(GO) build -o bin/ ./cmd/glbd ./cmd/glbprobe ./cmd/glbsoak
	bin/glbsoak -duration $(SOAK_DURATION) $(SOAK_FLAGS)

## soak-short: the same for ~16 s at 500 q/s, as a Go test (TestSoakShort)
soak-short:
	GLB_SOAK=1 $(GO) test -count=1 -run '^TestSoakShort$$' -v ./cmd/glbsoak

## protocol-check: dnsviz probe/grok of the zone and Unbound (subnetcache, ECS) resolving through glbd;
## installs Debian's dnsviz and unbound as root when missing; GLB_DNS=ip:port uses a running glbd
protocol-check:
	deploy/protocol-check.sh

clean:
	rm -rf bin/
