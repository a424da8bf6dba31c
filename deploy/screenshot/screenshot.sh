#!/usr/bin/env bash
# screenshot.sh: take docs/status.png, a screenshot of glbd's status page.
#
# By default it serves the page from TestStatusPreview (server/statuspage/
# preview_test.go): the dev configuration with three simulated
# probers, a region down, a drained one and rejected keys, and no etcd. With
# MODE=glbd it runs the real thing instead, `glbd -dev` (this needs the status
# page wired into glbd's HTTP mux); its dev backends take 127.0.0.1:18001-
# 18007, so stop any other dev instance first.
#
# Either way it then sends DNS queries from clients around the world (ECS)
# for ~30 s so that the answer chart has three 10-s buckets, and screenshots
# the page with headless Chromium. Everything it starts is stopped on exit.
# Ports avoid a developer's running dev instance (5353/8053/2379):
#   HTTP 127.0.0.1:28053, DNS 127.0.0.1:25353, dev etcd 127.0.0.1:23790.
#
# Needs Go, and installs Debian's chromium and bind9-dnsutils (dig) when
# missing (as root). Usage: deploy/screenshot/screenshot.sh [out.png]
# Environment: MODE (preview or glbd), WINDOW (browser size, default
# 1400,1000), QUERY_FOR (seconds of queries before the shot, default 32;
# the preview serves for 60 s in all).
set -euo pipefail

cd "$(dirname "$0")/../.."
repo=$PWD
out=$(realpath -m "${1:-docs/status.png}")
mode=${MODE:-preview}
http=127.0.0.1:28053
dns_port=25353
query_for=${QUERY_FOR:-32}
window=${WINDOW:-1400,1000}

need() { # need <command> <debian package>
	command -v "$1" >/dev/null && return
	if [ "$(id -u)" != 0 ]; then
		echo "screenshot.sh: $1 is missing: apt-get install $2 (as root)" >&2
		exit 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$2" >/dev/null
}
need chromium chromium
need dig bind9-dnsutils

taken() { # TCP or UDP port in use on loopback or any address
	if command -v ss >/dev/null; then
		ss -Hltun | awk '{print $5}' | grep -Eq "^(127\.0\.0\.1|0\.0\.0\.0|\*|\[::\]):$1\$"
	else
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
	fi
}
ports="28053 25353"
[ "$mode" = glbd ] && ports="$ports 23790 18001 18002 18003 18004 18005 18006 18007"
for p in $ports; do
	if taken "$p"; then
		echo "screenshot.sh: 127.0.0.1:$p is in use; stop what holds it (a running glbd -dev holds 18001-18007) and retry" >&2
		exit 1
	fi
done

tmp=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

case $mode in
preview)
	# Build first, so the wait below is not spent compiling.
	go test -c -o "$tmp/glbd.test" ./server/statuspage
	(cd server/statuspage && GLB_STATUS_PREVIEW=$http GLB_STATUS_PREVIEW_DNS=127.0.0.1:$dns_port \
		exec "$tmp/glbd.test" -test.run '^TestStatusPreview$' -test.v) >"$tmp/server.log" 2>&1 &
	pid=$!
	;;
glbd)
	go build -o "$tmp/glbd" ./cmd/glbd
	"$tmp/glbd" -dev -dev-etcd 127.0.0.1:23790 -dns 127.0.0.1:$dns_port -http $http >"$tmp/server.log" 2>&1 &
	pid=$!
	;;
*)
	echo "screenshot.sh: MODE must be preview or glbd" >&2
	exit 2
	;;
esac

for _ in $(seq 100); do
	curl -fsS -o /dev/null "http://$http/" 2>/dev/null && break
	if ! kill -0 "$pid" 2>/dev/null; then
		cat "$tmp/server.log" >&2
		echo "screenshot.sh: the server exited" >&2
		exit 1
	fi
	sleep 0.2
done
curl -fsS -o /dev/null "http://$http/" || { cat "$tmp/server.log" >&2; exit 1; }

# Clients by ECS subnet (see testdata/geoip/networks.csv) with a weight
# each; the weights drift every round so that the chart's bars differ.
clients=(81.2.69.0/24:9 91.198.174.0/24:6 67.43.156.0/24:8 216.160.83.0/24:4
	133.242.0.0/24:5 202.196.224.0/24:3 200.160.0.0/24:2 1.128.0.0/24:2)
end=$((SECONDS + query_for))
round=0
while [ $SECONDS -lt $end ]; do
	: >"$tmp/batch"
	for c in "${clients[@]}"; do
		n=$(( ${c#*:} + (round * ${#c}) % 4 ))
		for _ in $(seq "$n"); do
			echo "www.gslb.example.test A +subnet=${c%:*}" >>"$tmp/batch"
		done
	done
	echo "api.gslb.example.test A +subnet=81.2.69.0/24" >>"$tmp/batch"
	dig @127.0.0.1 -p $dns_port +tries=1 +time=1 +noall -f "$tmp/batch" >/dev/null || true
	round=$((round + 1))
	sleep 0.5
done

mkdir -p "$(dirname "$out")"
chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
	--disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$tmp/chromium" \
	--window-size="$window" --screenshot="$out" "http://$http/" 2>"$tmp/chromium.log" ||
	{ cat "$tmp/chromium.log" >&2; exit 1; }
echo "screenshot.sh: wrote $out ($round query rounds)"
