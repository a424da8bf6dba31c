#!/usr/bin/env bash
# scope-compare.sh: the ECS scope glbd returns against gdnsd 3.x's, for the
# same name, regions and City database (issue 18 item 7), on loopback only.
#
#   deploy/loadtest/scope-compare.sh                 CITY_DB if set, else a generated contiguous database
#   deploy/loadtest/scope-compare.sh --db FILE       this City database (e.g. a real GeoLite2 City)
#   deploy/loadtest/scope-compare.sh --n N           client subnets per sample and family (default 2000)
#   deploy/loadtest/scope-compare.sh --seed S        seed of the samples (default 1)
#   deploy/loadtest/scope-compare.sh --ip A          loopback address to bind both servers to (default 127.0.0.1)
#   deploy/loadtest/scope-compare.sh --out FILE      also write the report to FILE
#   deploy/loadtest/scope-compare.sh --keep          keep the working directory (configs, logs, per-subnet detail)
#   deploy/loadtest/scope-compare.sh --as-dev        the dev regions as they are (sa-east without IPv6, as run.sh)
#
# Both servers serve www.gslb.example.test with the regions of the dev
# configuration (testdata/dev/config.json), without health checks, from the
# same database: gdnsd with the configuration deploy/loadtest/run.sh writes
# (its gdnsd_config: region coordinates as auto_dc_coords, auto_dc_limit 1),
# glbd in dev mode with two names over the same regions: www (the default
# tier, 10 % or 100 km) and near (`"tier": "nearest"`, the tier off).
# Unless --as-dev, every region gets an address of each family (sa-east,
# which has no IPv6 one in the dev configuration, gets 2001:db8:7::30):
# otherwise gdnsd answers AAAA for clients nearest sa-east with the
# addresses run.sh's dcmap fills in (us-east's) while glbd falls through to
# the region next nearest the client, and the two differ in decision, not
# in how they fold decisions into scopes.
# `glbbench scope` then sends the same client subnets with ECS to both:
# uniformly random routable IPv4 /24s (A) and IPv6 /56s (AAAA), and a second
# sample of each drawn the same way but kept only when the database locates
# the address. For each sample and glbd name it prints the share of subnets
# where glbd's scope is as wide as gdnsd's or wider (prefix length <=),
# how many were narrower, how often the region agrees (the first answer
# address's region) and the median scopes.
#
# Without --db and CITY_DB it uses GEN_DB (default
# /tmp/glb-scope-contiguous.mmdb), made with `go run ./cmd/mkmmdb -random
# 1000000 -contiguous -seed 1` when missing (a minute or two).
# Needs go, gdnsd 3.x, jq, dig, python3 and curl (as root on Debian it installs
# all but gdnsd with apt-get; `run.sh --quick` installs gdnsd too). Every process is a child under `setpriv --pdeathsig KILL`,
# stopped by the EXIT trap.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DB=${CITY_DB:-}
N=2000
SEED=1
IP=127.0.0.1
OUT=""
KEEP=false
AS_DEV=false
while [ $# -gt 0 ]; do
	case $1 in
	--db) DB=${2:?--db needs a file}; shift ;;
	--n) N=${2:?}; shift ;;
	--seed) SEED=${2:?}; shift ;;
	--ip) IP=${2:?}; shift ;;
	--out) OUT=${2:?}; shift ;;
	--keep) KEEP=true ;;
	--as-dev) AS_DEV=true ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "scope-compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
GEN_DB=${GEN_DB:-/tmp/glb-scope-contiguous.mmdb}
ZONE=gslb.example.test
NAME=www
FQDN=$NAME.$ZONE

WORK=$(mktemp -d /tmp/glb-scope.XXXXXX)
# shellcheck source=deploy/loadtest/lib.sh
. "$ROOT/deploy/loadtest/lib.sh"
# shellcheck disable=SC2317 # invoked by the EXIT trap
on_cleanup() {
	if [ -n "$OUT" ] && [ -s "$WORK/report.txt" ]; then cp "$WORK/report.txt" "$OUT"; fi
}
cleanup_traps

# Installing gdnsd's package would start its system service on port 53;
# run.sh's installer keeps it stopped, so gdnsd is left to run.sh.
command -v gdnsd >/dev/null || die "gdnsd is not installed: run deploy/loadtest/run.sh --quick once as root (it installs it, service stopped), or install gdnsd 3.x"
need_tools jq:jq dig:bind9-dnsutils python3:python3 curl:curl setpriv:util-linux
build

if [ -z "$DB" ]; then
	DB=$GEN_DB
	if [ ! -s "$DB" ]; then
		log "generating $DB (1,000,000 contiguous random networks, seed 1)"
		(cd "$ROOT" && timeout 600 go run ./cmd/mkmmdb -random 1000000 -contiguous -seed 1 -out "$DB.tmp.$$") ||
			{ rm -f "$DB.tmp.$$"; die "generating $DB failed"; }
		mv "$DB.tmp.$$" "$DB"
	fi
fi
[ -s "$DB" ] || die "$DB: no such database"
DB=$(realpath "$DB") # gdnsd reads a relative path under its configuration directory

# The seed, flat.json, addr-region.txt and gdnsd_config come from run.sh
# itself (its "configuration" section, up to the query files), so both
# benchmarks configure gdnsd the same way.
section=$(sed -n '/^# ---- configuration: glbd seed/,/^# ---- query files/p' "$ROOT/deploy/loadtest/run.sh")
grep -q '^gdnsd_config() {' <<<"$section" || die "run.sh has no gdnsd_config in its configuration section"
grep -q '"$ROOT/testdata/dev/config.json"' <<<"$section" || die "run.sh's configuration section no longer reads testdata/dev/config.json"
if ! $AS_DEV; then
	jq '.regions |= with_entries(if any(.value.addrs[]; test(":")) then . else .value.addrs += ["2001:db8:7::30"] end)' \
		"$ROOT/testdata/dev/config.json" >"$WORK/dev-config.json"
	section=${section//'"$ROOT/testdata/dev/config.json"'/'"$WORK/dev-config.json"'}
fi
eval "$section"
# glbd's second name: the same, with the tier off.
jq --arg zone "$ZONE" --arg name "$NAME" \
	'.zones[$zone].names.near = (.zones[$zone].names[$name] + {tier: "nearest"})' \
	"$WORK/seed.json" >"$WORK/seed2.json"

GD=$(free_port "$IP")
LOOP=$IP # run.sh's gdnsd_config binds gdnsd to $LOOP
gdnsd_config "$WORK/gdnsd" "$GD" "$DB"
gdnsd -c "$WORK/gdnsd" checkconf >"$WORK/gdnsd-checkconf.log" 2>&1 ||
	{ cat "$WORK/gdnsd-checkconf.log" >&2; die "gdnsd checkconf failed (try --keep)"; }
start_bg gdnsd gdnsd -c "$WORK/gdnsd" start
GDPID=$BG_PID

D=$(free_port "$IP") H=$(free_port "$IP") E=$(free_port "$IP")
start_bg glbd "$GLBD" -dev -dev-seed "$WORK/seed2.json" -dev-etcd "$IP:$E" -dev-data-dir "$WORK/etcd" \
	-dns "$IP:$D" -http "$IP:$H" -geoip "$DB" -log-level warn
GLPID=$BG_PID

# wait_up PID PORT NAME: until NAME answers A with an address.
wait_up() {
	local i
	for i in $(seq 1 1500); do
		kill -0 "$1" 2>/dev/null || { tail -20 "$WORK/$3.log" >&2; die "$3 exited"; }
		dig "@$IP" -p "$2" "$FQDN" A +subnet=81.2.69.0/24 +tries=1 +time=1 +short 2>/dev/null | grep -q '^[0-9]' && return 0
		sleep 0.2
	done
	die "$3 did not answer within 300 s"
}
wait_up "$GDPID" "$GD" gdnsd
wait_up "$GLPID" "$D" glbd
# glbd answers with the GeoIP network as scope until its scope tables are
# built: wait for a build, then for 5 s without another.
builds=0 calm=0
for _ in $(seq 1 600); do
	b=$(hist_count "$IP:$H" glb_server_scope_build_duration_seconds)
	if [ "$b" -ge 1 ] && [ "$b" = "$builds" ]; then calm=$((calm + 1)); else calm=0; fi
	builds=$b
	[ $calm -ge 10 ] && break
	sleep 0.5
done
[ $calm -ge 10 ] || die "glbd's scope tables were not built, or kept being rebuilt, within 300 s"

out "# scope-compare: glbd ($COMMIT) vs $(gdnsd -V 2>&1 | grep -o "gdnsd version [0-9.]*" | head -1); $(date -u +%FT%TZ)"
out "# database $DB ($(du -m "$DB" | cut -f1) MB); $N subnets per sample and family, seed $SEED"
out "# glb names: tier = www (default tier), nearest = near (\"tier\": \"nearest\"); gdnsd: www (auto_dc_limit 1)"
if $AS_DEV; then out "# regions as in testdata/dev/config.json (--as-dev)"; else out "# regions as in testdata/dev/config.json, with 2001:db8:7::30 for sa-east"; fi
"$GLBBENCH" scope -glbd "$IP:$D" -gdnsd "$IP:$GD" -regions "$WORK/addr-region.txt" -geoip "$DB" \
	-n "$N" -seed "$SEED" -detail "$WORK/detail.tsv" | tee -a "$WORK/report.txt"
