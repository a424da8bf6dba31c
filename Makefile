# glb — build, run and test. Needs only Go (see go.mod) and make.
GO       ?= go
GOFLAGS  ?=
PKGS     := ./...

# The version and git revision every binary reports (internal/version):
# the nearest v* tag as git describe gives it (v0.2.0, v0.2.0-3-g1a2b3c4),
# v0.0.0-dev before the first tag; the commit in 12 hex digits, -dirty with
# uncommitted changes. Injected with -X, since Go's own VCS stamping is
# often off (GOFLAGS=-buildvcs=false). make VERSION=v1.2.3 overrides.
VERSION  := $(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null || echo v0.0.0-dev)
REVISION := $(shell r=$$(git rev-parse --short=12 HEAD 2>/dev/null) && { git diff --quiet HEAD -- 2>/dev/null || r=$$r-dirty; echo $$r; } || echo unknown)
LDFLAGS  := -X github.com/glb-dns/glb/internal/version.version=$(VERSION) -X github.com/glb-dns/glb/internal/version.revision=$(REVISION)

.PHONY: licenses dist dist-check image image-check k8s-check k8s-manifests
.PHONY: ttl-first-measure
.PHONY: all build run test test-short readme-check vet fmt-check bench mmdb promtool loadtest startup-check local-cluster deploy-check fuzz fuzz-smoke restart-check soak soak-short protocol-check clean

all: build

## build: compile glbd and the tools into bin/
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/ ./cmd/...

## run: dev mode — embedded etcd on 127.0.0.1:2379, example config, test GeoIP db, DNS on 127.0.0.1:5353
run:
	$(GO) run -ldflags '$(LDFLAGS)' ./cmd/glbd -dev

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
FUZZ_TARGETS := ./server/:FuzzAnswerPacket ./server/dnswire/:FuzzParseECS ./store/schema/:FuzzDecode ./health/:FuzzParseResponse
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

## ttl-first-measure: a drain with and without TTL-first behind a real Unbound: how long clients still get the
## drained region after the weight moved (about 80 s; installs Debian's unbound when missing; not part of make test)
ttl-first-measure:
	@command -v unbound >/dev/null 2>&1 || $(SUDO) apt-get install -y unbound
	GLB_UNBOUND=1 $(GO) test -count=1 -run '^TestTTLFirstBehindUnbound$$' -v ./cmd/glbd

## loadtest: glbd vs gdnsd under dnsperf on loopback, server CPU per query (as root on Debian it
## installs dnsperf and gdnsd); LOADTEST_FLAGS=--quick for a smoke run
loadtest:
	deploy/loadtest/run.sh $(LOADTEST_FLAGS)

## scope-compare: the ECS scopes and regions glbd (tier off and default tier) and gdnsd return to the same random
## and located client subnets, same regions and City database (deploy/loadtest/scope-compare.sh; needs gdnsd 3.x);
## CITY_DB=/path/to/City.mmdb for a real database, SCOPE_FLAGS e.g. --n 10000 --ip 127.0.5.1
.PHONY: scope-compare
scope-compare:
	CITY_DB=$(CITY_DB) deploy/loadtest/scope-compare.sh $(SCOPE_FLAGS)

## startup-check: glbd's start-up, SIGHUP reload and memory with a generated 1M-network City database
## and the test one (deploy/loadtest/startup.sh; STARTUP_FLAGS, e.g. --ip 127.0.5.1, --glbd-flags "-memory-limit 64MiB",
## --db /path/GeoLite2-City.mmdb, --gdnsd to measure gdnsd on the same database and regions in the same run)
startup-check:
	deploy/loadtest/startup.sh $(STARTUP_FLAGS)

## restart-check: RESTARTS (default 10) rolling restarts of real glbd processes on one port under UDP+TCP load;
## prints queries sent/answered/lost (deploy/restart-check.sh; as root, a second run in a private netns with tcp_migrate_req=1)
RESTARTS ?= 10
restart-check:
	deploy/restart-check.sh --restarts $(RESTARTS)

## traffic-check: the traffic operations end to end against glbd -dev with the real glbctl, etcdctl and dig:
## a three-step drain (a timeline of the shares), a per-name drain, a pinned network, admin state, an ASN pin
## with ASN_DB (deploy/traffic-check.sh; CITY_DB=/path/to/City.mmdb, TRAFFIC_FLAGS e.g. --ip 127.0.5.1; ~1 min)
.PHONY: traffic-check
traffic-check:
	CITY_DB=$(CITY_DB) ASN_DB=$(ASN_DB) deploy/traffic-check.sh $(TRAFFIC_FLAGS)

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

## protocol-check: dnsviz probe/grok of the zone, Unbound (subnetcache, ECS) resolving through glbd, and DNSSEC validation
## (delv, a validating Unbound, dnsviz with the DS); installs them from Debian as root when missing; GLB_DNS=ip:port uses a running glbd
protocol-check:
	deploy/protocol-check.sh

## licenses: one line per module linked into the binaries with its license, detected from the
## module's license file; fails on a license that does not allow Apache-2.0 distribution
licenses:
	$(GO) run ./internal/cmd/licensecheck ./cmd/glbd ./cmd/glbprobe ./cmd/glbctl

## dist: static glbd, glbprobe, glbctl for linux/amd64 and linux/arm64, reproducible release
## archives with README, LICENSE, NOTICE and deploy/ files, and SHA256SUMS, in dist/ (deploy/dist.sh)
dist:
	GO=$(GO) deploy/dist.sh $(VERSION) $(REVISION)

## dist-check: make dist in two clones of HEAD at different paths; their SHA256SUMS must match
dist-check:
	deploy/dist-check.sh

## image: an OCI image archive per platform in dist/ (glbd as entrypoint, glbprobe and glbctl, user 65532,
## CA certificates), built from make dist's binaries without pulling anything (deploy/image, its own module)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
image: dist
	cd deploy/image && $(GO) run . -dist ../../dist -repo ../.. -version $(VERSION) -revision $(REVISION) -epoch $(SOURCE_DATE_EPOCH)
	cd dist && sha256sum glb-*.tar.gz glb-*.oci.tar >SHA256SUMS && cat SHA256SUMS

## image-check: unpack the amd64 image and run its entrypoint as its config says: --version, then
## glbd -dev and dig over UDP and TCP (deploy/image/check.sh; IMAGE_CHECK_ADDR, default 127.0.0.1)
IMAGE_CHECK_ADDR ?= 127.0.0.1
image-check:
	deploy/image/check.sh dist/glb-$(VERSION)-image-linux-amd64.oci.tar $(IMAGE_CHECK_ADDR)

## k8s-check: render the Helm chart deploy/helm/glb (defaults and each ci/*-values.yaml) with Helm's Go
## packages, helm-lint it, and decode every object strictly into its Kubernetes type; the same for the plain
## manifests of deploy/kubernetes, which must match the chart (deploy/k8scheck, its own module)
k8s-check:
	cd deploy/k8scheck && $(GO) test -count=1 -v .

## k8s-manifests: regenerate deploy/kubernetes/glb.yaml from the chart and deploy/kubernetes/values.yaml
k8s-manifests:
	cd deploy/k8scheck && $(GO) run . -update

clean:
	rm -rf bin/ dist/
