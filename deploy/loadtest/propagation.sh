#!/usr/bin/env bash
# propagation.sh: how long an etcd change takes to reach every glbd. Two glbd
# instances on loopback share one etcd; a region's weight is put alternately
# to 0 and 100 and, from just before each put, both instances are asked
# back to back (UDP, ECS London 81.2.69.0/24) until each answers the new
# way: eu-west 198.51.100.10/.11 in service, eu-central 198.51.100.20
# drained. Reports p50/p90/p99/max of the time until the last instance
# answers accordingly, per instance, and the etcd put call alone.
#
#   deploy/loadtest/propagation.sh                 100 changes, polling back to back, then with 1 ms pauses
#   deploy/loadtest/propagation.sh --changes N     changes per run (default 100)
#   deploy/loadtest/propagation.sh --no-paced      only the back-to-back run
#   deploy/loadtest/propagation.sh --out FILE      also write the report to FILE
#   deploy/loadtest/propagation.sh --keep          keep /tmp/glb-propagation.*/ (logs, per-change CSVs)
#
# Setup: instance 1 is `glbd -dev` (it embeds etcd 3.6, on a free port) with
# a seed made from testdata/dev/config.json without the health checks (so
# there are no probers' targets and no dev backends); instance 2 is a plain
# `glbd -etcd http://127.0.0.1:PORT -geoip testdata/geoip/glb-test-city.mmdb
# -cache-file ""`. glbbench (cmd/glbbench) does the puts through
# store.NewClient and the queries with github.com/miekg/dns. Takes about a
# minute. Every process it starts is stopped by the EXIT trap (also on
# Ctrl-C); every wait is bounded.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CHANGES=100
PACED=true
KEEP=false
OUT=""
while [ $# -gt 0 ]; do
	case $1 in
	--changes) CHANGES=${2:?--changes needs a number}; shift ;;
	--changes=*) CHANGES=${1#--changes=} ;;
	--no-paced) PACED=false ;;
	--keep) KEEP=true ;;
	--out) OUT=${2:?--out needs a file}; shift ;;
	--out=*) OUT=${1#--out=} ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "propagation.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
if ! [[ $CHANGES =~ ^[0-9]+$ ]] || [ "$CHANGES" -lt 1 ] || [ "$CHANGES" -gt 10000 ]; then
	echo "propagation.sh: --changes $CHANGES: want 1..10000" >&2
	exit 2
fi

WORK=$(mktemp -d /tmp/glb-propagation.XXXXXX)
# shellcheck source=deploy/loadtest/lib.sh
. "$ROOT/deploy/loadtest/lib.sh"
# shellcheck disable=SC2317 # invoked by the EXIT trap
on_cleanup() {
	if [ -n "$OUT" ] && [ -f "$WORK/report.txt" ]; then cp "$WORK/report.txt" "$OUT"; fi
}
cleanup_traps

need_tools jq:jq dig:bind9-dnsutils python3:python3 ss:iproute2 setpriv:util-linux curl:curl
build
DB=$ROOT/testdata/geoip/glb-test-city.mmdb

# The dev configuration without health checks.
jq '.regions |= map_values(del(.check))' "$ROOT/testdata/dev/config.json" >"$WORK/seed.json"
[ "$(jq '[.regions[] | select(has("check"))] | length' "$WORK/seed.json")" = 0 ] ||
	die "seed still has checks"

PE=$(free_port) D1=$(free_port) H1=$(free_port) D2=$(free_port) H2=$(free_port)
ETCD=http://127.0.0.1:$PE
log "instance 1: glbd -dev (embedded etcd on 127.0.0.1:$PE), DNS 127.0.0.1:$D1"
start_bg glbd1 "$GLBD" -dev -dev-seed "$WORK/seed.json" -dev-etcd "127.0.0.1:$PE" -dev-data-dir "$WORK/etcd" \
	-dns "127.0.0.1:$D1" -http "127.0.0.1:$H1"
P1=$BG_PID
wait_ready "$P1" "127.0.0.1:$H1" glbd1
log "instance 2: glbd -etcd $ETCD, DNS 127.0.0.1:$D2"
start_bg glbd2 "$GLBD" -etcd "$ETCD" -geoip "$DB" -cache-file "" -dns "127.0.0.1:$D2" -http "127.0.0.1:$H2"
P2=$BG_PID
wait_ready "$P2" "127.0.0.1:$H2" glbd2
for pair in "$P1:$D1" "$P2:$D2"; do
	owns_port "${pair%%:*}" "${pair#*:}" || die "another process answers on 127.0.0.1:${pair#*:}"
	a=$(dig @127.0.0.1 -p "${pair#*:}" www.gslb.example.test A +subnet=81.2.69.0/24 +tries=1 +time=2 +short | sort | tr '\n' ' ')
	[ "$a" = "198.51.100.10 198.51.100.11 " ] || die "127.0.0.1:${pair#*:} answers London with '$a', want eu-west"
done
grep -q "seeded example configuration" "$WORK/glbd1.log" || die "instance 1 did not seed (prefix not empty?)"

out "# propagation: etcd put -> every glbd answers accordingly"
out "commit $COMMIT; $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
out "instance 1: glbd -dev -dev-seed seed.json -dev-etcd 127.0.0.1:$PE -dev-data-dir WORK/etcd -dns 127.0.0.1:$D1 -http 127.0.0.1:$H1"
out "instance 2: glbd -etcd $ETCD -geoip testdata/geoip/glb-test-city.mmdb -cache-file \"\" -dns 127.0.0.1:$D2 -http 127.0.0.1:$H2"
run() {
	local tag=$1
	shift
	local cmd=("$GLBBENCH" propagation -etcd "$ETCD" -dns "127.0.0.1:$D1,127.0.0.1:$D2" -changes "$CHANGES" -csv "$WORK/$tag.csv" "$@")
	out ""
	out "\$ glbbench ${cmd[*]:1}"
	timeout $((CHANGES * 12 + 60)) "${cmd[@]}" >"$WORK/$tag.txt" || { cat "$WORK/$tag.txt" >&2; die "glbbench propagation failed"; }
	while IFS= read -r line; do out "$line"; done <"$WORK/$tag.txt"
}
run tight
if $PACED; then run paced -interval 1ms; fi
out ""
out "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
