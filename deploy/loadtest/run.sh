#!/usr/bin/env bash
# run.sh: a reproducible DNS load benchmark of glbd against gdnsd 3.x, on
# loopback only, with dnsperf. Both servers serve the same zone, name, regions
# and addresses from the same GeoIP City database; each is pinned to one CPU
# and dnsperf to another, and the figure to compare is the server's own CPU
# time per answered query (see deploy/loadtest/README.md).
#
#   deploy/loadtest/run.sh               full run: small (test) and large (1M networks) database, 10 s per mode
#   deploy/loadtest/run.sh --quick       smoke check: small database only, 2 s per mode
#   deploy/loadtest/run.sh --no-large    skip the 1M-network database
#   deploy/loadtest/run.sh --glbd-only   do not start gdnsd (no ratio column)
#   deploy/loadtest/run.sh --duration N  seconds per mode (default 10; 2 with --quick)
#   deploy/loadtest/run.sh --out FILE    also write the report to FILE
#   deploy/loadtest/run.sh --keep        keep the working directory (logs, configs, dnsperf output)
#   deploy/loadtest/run.sh --paced RATE  paced, not saturated: dnsperf offers RATE q/s (-Q) in every mode
#   deploy/loadtest/run.sh --dev         measure glbd in dev mode (its etcd in the same process) instead
#   deploy/loadtest/run.sh --rounds N    alternate the servers N times per mode (default 5; 1 with --quick)
#   deploy/loadtest/run.sh --profile F   write glbd's Go CPU profile over the modes of the last database to F
#                                        (glbd -pprof; profiling adds its own small cost to glbd's figures)
#
# glbd runs as in production, not in dev mode: `glbd -etcd URL -geoip DB`
# reading its configuration from an etcd on loopback, which is the embedded
# etcd of a second glbd in dev mode (the config host) loaded with the seed
# and pinned to dnsperf's CPU, so its CPU is not counted as the server's.
# With --dev the measured glbd is `glbd -dev` itself, its etcd in the
# same process and counted (about 0.03 s of CPU per second at idle).
#
# Both servers run side by side, pinned to the same CPU; each mode's
# --duration is cut into --rounds rounds, and in every round dnsperf loads
# glbd, then gdnsd, for duration/rounds seconds each (the other one idle),
# so that a drift of the shared machine during the run weighs on both
# alike; each server's figures are summed over its rounds.
#
# Modes, each run for --duration seconds per server:
#   noecs  40% A www, 40% AAAA www, 20% NXDOMAIN (A and AAAA), EDNS0 without ECS
#   ecs    50% A www, 50% AAAA www, with ECS; the duration is split evenly over
#          five client subnets (London, Changchun, Milton WA, Sao Paulo, Sydney)
#          because dnsperf sends one fixed EDNS option per run; figures are summed
#   mix    the noecs query mix, with ECS, split over the same five subnets
# On the large (random) database those subnets are not located, so there the
# script uses, for each, the first /24 at or after it that is (found with
# gdnsd_geoip_test; with --glbd-only it keeps the named ones).
#
# With --paced RATE every mode offers a fixed RATE queries per second (dnsperf
# -Q; each ECS subnet part too) instead of as many as the server answers:
# the CPU per query well below saturation, where wake-ups and system calls
# per datagram weigh more than at full load (batches are short). Both
# servers still run in the same run; a server that cannot keep up answers
# fewer than RATE q/s, and the report says so.
#
# It prints a table per database: queries, lost, q/s, the server's CPU
# seconds, its CPU per query (the figure to compare) and the glbd/gdnsd
# ratio per mode, then the answers both gave to a few ECS queries and a
# London check (81.2.69.0/24 must get eu-west from both on the small
# database; the script exits 1 if not).
#
# Environment: SERVER_CPU (0) and CLIENT_CPU (1) are the CPUs for the server
# and dnsperf; LOOPBACK (127.0.0.1) the address both servers bind (free
# ports) and dnsperf queries; CLIENTS (16) and OUTSTANDING (200) are dnsperf's -c and -q;
# BIG_DB (/tmp/glb-loadtest-big.mmdb) is the large database, generated with
# `go run ./cmd/mkmmdb -random 1000000 -seed 1` when missing (~30-90 s,
# ~1.5 GB RAM) and reused after that; delete it to regenerate.
#
# Needs go and make; run as root on Debian it installs what it misses
# (dnsperf, gdnsd, jq, bind9-dnsutils, python3, iproute2, util-linux) with
# apt-get, without letting the gdnsd package start its system service.
# Every process it starts is its child, started under `setpriv --pdeathsig
# KILL`, and stopped by the EXIT trap (also on Ctrl-C); every dnsperf run is
# bounded by -l and by `timeout`.
#
# --dnssec runs deploy/loadtest/dnssec.sh instead, with the other arguments:
# glbd's CPU per query with and without DO, beside Knot signing the same zone.
set -euo pipefail
for arg in "$@"; do [ "$arg" != --dnssec ] || exec "$(dirname "$0")/dnssec.sh" "$@"; done

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
QUICK=false
LARGE=true
GDNSD=true
KEEP=false
DUR=""
OUT=""
PACED=""
DEV=false
ROUNDS=""
PROFILE=""
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=true ;;
	--no-large) LARGE=false ;;
	--glbd-only) GDNSD=false ;;
	--keep) KEEP=true ;;
	--duration) DUR=${2:?--duration needs seconds}; shift ;;
	--duration=*) DUR=${1#--duration=} ;;
	--out) OUT=${2:?--out needs a file}; shift ;;
	--out=*) OUT=${1#--out=} ;;
	--paced) PACED=${2:?--paced needs queries per second}; shift ;;
	--dev) DEV=true ;;
	--rounds) ROUNDS=${2:?--rounds needs a count}; shift ;;
	--paced=*) PACED=${1#--paced=} ;;
	--profile) PROFILE=${2:?--profile needs a file}; shift ;;
	--profile=*) PROFILE=${1#--profile=} ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
if $QUICK; then
	LARGE=false
	DUR=${DUR:-2}
	ROUNDS=${ROUNDS:-1}
fi
DUR=${DUR:-10}
ROUNDS=${ROUNDS:-5}
if ! [[ $DUR =~ ^[0-9]+([.][0-9]+)?$ ]]; then
	echo "run.sh: --duration $DUR: want seconds" >&2
	exit 2
fi
if ! [[ $ROUNDS =~ ^[1-9][0-9]*$ ]]; then
	echo "run.sh: --rounds $ROUNDS: want a count of 1 or more" >&2
	exit 2
fi

# Absolute, and its directory there now: the profile is written after the
# run, which should not be lost to a typo at its end.
if [ -n "$PROFILE" ]; then
	PROFILE=$(realpath -m -- "$PROFILE")
	if ! [ -d "$(dirname "$PROFILE")" ]; then
		echo "run.sh: --profile $PROFILE: no such directory" >&2
		exit 2
	fi
fi

if [ -n "$PACED" ] && ! [[ $PACED =~ ^[1-9][0-9]*$ ]]; then
	echo "run.sh: --paced $PACED: want queries per second" >&2
	exit 2
fi

SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
CLIENTS=${CLIENTS:-16}
OUTSTANDING=${OUTSTANDING:-200}
BIG_DB=${BIG_DB:-/tmp/glb-loadtest-big.mmdb}
LOOP=${LOOPBACK:-127.0.0.1}
SMALL_DB=$ROOT/testdata/geoip/glb-test-city.mmdb
ZONE=gslb.example.test
NAME=www
FQDN=$NAME.$ZONE
# Client subnets for ECS, one per continent or so: label and /24.
SUBNETS=("London:81.2.69.0/24" "Changchun:175.16.199.0/24" "Milton-WA:216.160.83.0/24"
	"Sao-Paulo:200.160.0.0/24" "Sydney:1.128.0.0/24")
WARMUP=1      # seconds of unmeasured load after start
BASELINE=5    # seconds over which the idle server's CPU use is measured
SETTLE_TICKS=15 # a server is settled when it uses under 15 ticks/s (15% of a CPU at CLK_TCK 100) for 2 s in a row
$QUICK && BASELINE=2

# log, die, out, free_port, cpu_ticks, owns_port (settle is this script's own, below).
# shellcheck source=deploy/loadtest/lib.sh
. "$ROOT/deploy/loadtest/lib.sh"

# ---- dependencies ---------------------------------------------------------

need=()
for pair in dnsperf:dnsperf gdnsd:gdnsd jq:jq dig:bind9-dnsutils python3:python3 ss:iproute2 \
	taskset:util-linux setpriv:util-linux timeout:coreutils; do
	cmd=${pair%%:*} pkg=${pair#*:}
	if [ "$cmd" = gdnsd ] && ! $GDNSD; then continue; fi
	command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
command -v go >/dev/null || die "go is not on PATH (see go.mod for the version)"
if [ ${#need[@]} -gt 0 ]; then
	mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
	[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null ||
		die "missing ${need[*]}: install them (Debian package names) or run as root on Debian"
	log "installing ${need[*]} with apt-get"
	# The gdnsd package would start its system service on port 53 with
	# /etc/gdnsd; a policy-rc.d that says no keeps it stopped.
	POLICY=/usr/sbin/policy-rc.d
	ours_policy=false
	if [ ! -e $POLICY ]; then
		printf '#!/bin/sh\nexit 101\n' >$POLICY && chmod 755 $POLICY && ours_policy=true
	fi
	rc=0
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"; } >&2 || rc=$?
	if $ours_policy; then rm -f $POLICY; fi
	[ $rc = 0 ] || die "apt-get install ${need[*]} failed"
fi
NCPU=$(nproc)
if [ "$NCPU" -lt 2 ]; then
	log "run.sh: only $NCPU CPU: server and dnsperf share it; qps figures mean little, CPU per query still does"
	CLIENT_CPU=$SERVER_CPU
fi
TCK=$(getconf CLK_TCK)

# ---- working directory, cleanup ---------------------------------------------

WORK=$(mktemp -d /tmp/glb-loadtest.XXXXXX)
SERVER_PID=""
declare -A PID_OF PORT_OF IDLE_OF # by server name, while both run
HOST_PID=""
REPORT=$WORK/report.txt
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_server
	if [ -n "$HOST_PID" ]; then stop_pid "$HOST_PID"; fi
	if $KEEP; then log "kept $WORK"; else rm -rf "$WORK"; fi
	exit "$rc"
}
stop_server() {
	local name pid
	for name in "${!PID_OF[@]}"; do
		pid=${PID_OF[$name]}
		unset "PID_OF[$name]"
		stop_pid "$pid"
	done
	SERVER_PID=""
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


# ---- helpers ------------------------------------------------------------------

now() { date +%s.%N; }

# ecs_hex prints the ECS option payload (RFC 7871) for an IPv4 prefix:
# family 1 (2 bytes), source prefix (1), scope 0 (1), the address cut to
# ceil(source/8) bytes with the bits past the prefix cleared.
ecs_hex() {
	local net=${1%/*} len=${1#*/} hex i o
	local -a oct
	IFS=. read -r -a oct <<<"$net"
	[ ${#oct[@]} = 4 ] && [ "$len" -ge 0 ] && [ "$len" -le 32 ] || die "ecs_hex: $1 is not an IPv4 prefix"
	hex=$(printf '0001%02x00' "$len")
	for ((i = 0; i < (len + 7) / 8; i++)); do
		o=${oct[i]}
		if [ $(((i + 1) * 8)) -gt "$len" ]; then
			o=$((o & (0xff << (8 - len % 8)) & 0xff))
		fi
		hex+=$(printf '%02x' "$o")
	done
	echo "$hex"
}
[ "$(ecs_hex 81.2.69.0/24)" = 00011800510245 ] || die "ecs_hex self-check failed"
[ "$(ecs_hex 1.128.0.0/16)" = 000110000180 ] || die "ecs_hex self-check failed"

# settle waits until the server's CPU use falls under SETTLE_TICKS per second
# for two seconds in a row (GeoIP loading, glbd's ECS scope tables), at most 300 s.
settle() {
	local pid=$1 prev cur calm=0 i
	prev=$(cpu_ticks "$pid")
	for i in $(seq 1 300); do
		sleep 1
		cur=$(cpu_ticks "$pid")
		if [ $((cur - prev)) -lt $SETTLE_TICKS ]; then calm=$((calm + 1)); else calm=0; fi
		prev=$cur
		[ $calm -ge 2 ] && return 0
	done
	log "run.sh: server $pid still busy after 300 s; measuring anyway"
}

# wait_answer waits until the server on port answers www with an address.
wait_answer() {
	local pid=$1 port=$2 name=$3 i
	for i in $(seq 1 600); do
		kill -0 "$pid" 2>/dev/null || { tail -20 "$WORK/$name.log" >&2; die "$name exited"; }
		if dig @"$LOOP" -p "$port" "$FQDN" A +subnet=81.2.69.0/24 +tries=1 +time=1 +short 2>/dev/null | grep -q '^[0-9]'; then
			owns_port "$pid" "$port" || die "$name: another process answers on $LOOP:$port"
			return 0
		fi
		sleep 0.2
	done
	tail -20 "$WORK/$name.log" >&2
	die "$name did not answer within 120 s"
}

# ---- build and databases ------------------------------------------------------------

# Only glbd: a half-finished tool elsewhere under cmd/ must not stop the benchmark.
log "building glbd (go build -o bin/ ./cmd/glbd)"
(cd "$ROOT" && go build -o bin/ ./cmd/glbd) || die "go build ./cmd/glbd failed"
GLBD=$ROOT/bin/glbd

DBS=("small:$SMALL_DB")
if $LARGE; then
	if [ ! -s "$BIG_DB" ]; then
		log "generating $BIG_DB (1,000,000 random networks, seed 1; ~1.5 GB RAM, up to a minute or two)"
		(cd "$ROOT" && go run ./cmd/mkmmdb -random 1000000 -seed 1 -out "$BIG_DB.tmp.$$") ||
			{ rm -f "$BIG_DB.tmp.$$"; die "mkmmdb failed"; }
		mv "$BIG_DB.tmp.$$" "$BIG_DB"
	else
		log "reusing $BIG_DB (delete it to regenerate)"
	fi
	DBS+=("large:$BIG_DB")
fi

# ---- configuration: glbd seed, gdnsd config and zone ----------------------------------------

# The seed, in glbctl's layout: the dev configuration's zone and www name,
# and the regions of www without their health checks (no prober targets, no
# dev backends) and weights.
jq --arg zone "$ZONE" --arg name "$NAME" '
	.zones[$zone] as $z
	| $z.names[$name] as $n
	| {regions: (. as $all | [$n.regions[] | {key: ., value: ($all.regions[.] | del(.check, .weight))}] | from_entries),
	   zones: {($zone): ($z | del(.records) | .names = {($name): $n})}}
' "$ROOT/testdata/dev/config.json" >"$WORK/seed.json"
# The same keys, flat (etcd key relative to the prefix -> document), which
# the gdnsd configuration below is written from.
jq '[(.regions | to_entries[] | {key: ("regions/" + .key), value: .value}),
	(.zones | to_entries[] | .key as $zk
		| {key: ("zones/" + $zk), value: (.value | del(.names, .records))},
		  (.value.names | to_entries[] | {key: ("zones/" + $zk + "/names/" + .key), value: .value}))] | from_entries' \
	"$WORK/seed.json" >"$WORK/flat.json"
ANSWERS=$(jq -r --arg k "zones/$ZONE/names/$NAME" '.[$k].answers // 2' "$WORK/flat.json")
NAME_TTL=$(jq -r --arg k "zones/$ZONE/names/$NAME" --arg z "zones/$ZONE" '.[$k].ttl // .[$z].ttl // 30' "$WORK/flat.json")
[ "$(jq -r --arg k "zones/$ZONE/names/$NAME" '.[$k].policy // "geo"' "$WORK/flat.json")" = geo ] ||
	die "the dev configuration's $FQDN is not policy geo"
# address -> region, for naming the region of an answer.
jq -r 'to_entries[] | select(.key | test("^regions/[^/]+$")) | .key[8:] as $r | .value.addrs[] | "\(.) \($r)"' \
	"$WORK/flat.json" >"$WORK/addr-region.txt"
# gdnsd returns every address of the chosen datacenter; glbd returns at most
# `answers`. They agree only while no region has more than that per family.
jq -e --argjson n "$ANSWERS" '[to_entries[] | select(.key | test("^regions/[^/]+$")) | .value.addrs
	| ([.[] | select(test(":"))] | length), ([.[] | select(test(":") | not)] | length)] | max <= $n' \
	"$WORK/flat.json" >/dev/null || log "run.sh: a region has more than $ANSWERS addresses of one family: gdnsd answers all of them, glbd $ANSWERS"

# gdnsd_config DIR PORT DB writes DIR/config and DIR/zones/$ZONE.
gdnsd_config() {
	local dir=$1 port=$2 db=$3
	mkdir -p "$dir/zones" "$dir/run" "$dir/state"
	jq -r --arg zone "$ZONE" --arg name "$NAME" --arg port "$port" --arg loop "$LOOP" --arg db "$db" --arg dir "$dir" '
		def rad: . * 3.141592653589793 / 180;
		# great-circle distance (km) between two regions
		def dist($a; $b): (($b.lat - $a.lat) | rad) as $dlat | (($b.lon - $a.lon) | rad) as $dlon
			| (($dlat / 2 | sin) * ($dlat / 2 | sin) + ($a.lat | rad | cos) * ($b.lat | rad | cos) * ($dlon / 2 | sin) * ($dlon / 2 | sin)) as $h
			| 2 * 6371 * ($h | sqrt | asin);
		def v6: [.[] | select(test(":"))];
		def v4: [.[] | select(test(":") | not)];
		. as $all
		| $all["zones/" + $zone + "/names/" + $name].regions as $ids
		| [ $ids[] | . as $id | $all["regions/" + .] + {id: $id} ] as $R
		# A region without addresses of one family answers that family with
		# the nearest region that has some, as glbd falls through to the next
		# nearest region (glbd ranks by distance to the client; this ranks by
		# distance to the region, the same for the clients of this benchmark).
		| def fill($r; f): if ($r.addrs | f | length) > 0 then ($r.addrs | f)
			else ([ $R[] | select(.id != $r.id and (.addrs | f | length) > 0) | {d: dist($r; .), a: (.addrs | f)} ]
			      | sort_by(.d) | .[0].a // []) end;
		def arr: "[ " + join(", ") + " ]";
		"# generated by deploy/loadtest/run.sh from the loadtest seed (testdata/dev/config.json)",
		"options => {",
		"  listen => [ \($loop):\($port) ]",
		"  udp_threads => 1",
		"  tcp_threads => 1",
		"  run_dir => \($dir)/run",
		"  state_dir => \($dir)/state",
		"}",
		"plugins => { geoip => {",
		"  maps => {",
		"    loadtest => {",
		"      geoip2_db => \($db)",
		"      datacenters => \($ids | arr)",
		"      auto_dc_coords => {",
		($R[] | "        \(.id) => [ \(.lat), \(.lon) ]"),
		"      }",
		"      auto_dc_limit => 1",
		"    }",
		"  }",
		"  resources => {",
		"    \($name) => {",
		"      map => loadtest",
		"      dcmap => {",
		($R[] | . as $r | [fill($r; v4), fill($r; v6)] as [$a4, $a6]
			| "        \(.id) => { "
			  + ([ (if ($a4 | length) > 0 then "addrs_v4 => \($a4 | arr)" else empty end),
			       (if ($a6 | length) > 0 then "addrs_v6 => \($a6 | arr)" else empty end) ] | join(", "))
			  + " }"),
		"      }",
		"    }",
		"  }",
		"}}"
	' "$WORK/flat.json" >"$dir/config"
	jq -r --arg zone "$ZONE" --arg name "$NAME" --arg ttl "$NAME_TTL" '
		.["zones/" + $zone] as $z
		| ($z.soa // {}) as $soa
		| ($soa.ttl // 3600) as $sttl
		| (($z.contact // ("hostmaster@" + $zone)) | sub("@"; ".")) as $rname
		| "$ORIGIN \($zone).",
		  "@ \($sttl) SOA \($z.ns[0].name). \($rname). 1 \($soa.refresh // 3600) \($soa.retry // 600) \($soa.expire // 86400) \($soa.minimum // 30)",
		  ($z.ns[] | "@ \($sttl) NS \(.name)."),
		  ($z.ns[] | .name as $n | (.addrs // [])[] | "\($n). \($sttl) \(if test(":") then "AAAA" else "A" end) \(.)"),
		  "\($name) \($ttl) DYNA geoip!\($name)"
	' "$WORK/flat.json" >"$dir/zones/$ZONE"
}

# ---- query files ---------------------------------------------------------------------

write_query_files

# ---- running ---------------------------------------------------------------------------

# config_host: starts, once, the etcd the measured glbd reads its
# configuration from: a glbd in dev mode on CLIENT_CPU whose embedded etcd
# holds the seed (its own DNS listener stays idle). Sets ETCD_URL.
config_host() {
	[ -z "$HOST_PID" ] || return 0
	local etcd dns http i
	etcd=$(free_port "$LOOP") dns=$(free_port "$LOOP") http=$(free_port "$LOOP")
	setpriv --pdeathsig KILL taskset -c "$CLIENT_CPU" "$GLBD" -dev -dev-seed "$WORK/seed.json" \
		-dev-etcd "$LOOP:$etcd" -dev-data-dir "$WORK/etcd-host" -geoip "$SMALL_DB" \
		-dns "$LOOP:$dns" -http "$LOOP:$http" -log-level warn >"$WORK/config-host.log" 2>&1 &
	HOST_PID=$!
	ETCD_URL=http://$LOOP:$etcd
	for i in $(seq 1 300); do
		kill -0 "$HOST_PID" 2>/dev/null || { tail -20 "$WORK/config-host.log" >&2; die "the config host (glbd -dev) exited"; }
		curl -fsS "http://$LOOP:$http/healthz" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	die "the config host (glbd -dev) was not ready within 60 s"
}

# start_server NAME DB TAG: starts glbd or gdnsd on a free port, pinned to SERVER_CPU.
start_server() {
	local name=$1 db=$2 tag=$3
	PORT=$(free_port "$LOOP")
	case $name in
	glbd)
		local http etcd
		local -a pprof=()
		http=$(free_port "$LOOP") etcd=$(free_port "$LOOP")
		GLBD_HTTP=$http
		[ -n "$PROFILE" ] && pprof=(-pprof)
		if $DEV; then
			setpriv --pdeathsig KILL taskset -c "$SERVER_CPU" "$GLBD" -dev -dev-seed "$WORK/seed.json" \
				-dev-etcd "$LOOP:$etcd" -dev-data-dir "$WORK/etcd-$tag" \
				-dns "$LOOP:$PORT" -http "$LOOP:$http" -geoip "$db" -log-level warn "${pprof[@]}" \
				>"$WORK/$name.log" 2>&1 &
		else
			config_host
			setpriv --pdeathsig KILL taskset -c "$SERVER_CPU" "$GLBD" -etcd "$ETCD_URL" -geoip "$db" \
				-cache-file "" -geoip-poll 0 -dns "$LOOP:$PORT" -http "$LOOP:$http" -log-level warn "${pprof[@]}" \
				>"$WORK/$name.log" 2>&1 &
		fi
		;;
	gdnsd)
		gdnsd_config "$WORK/gdnsd-$tag" "$PORT" "$db"
		gdnsd -c "$WORK/gdnsd-$tag" checkconf >"$WORK/gdnsd-checkconf-$tag.log" 2>&1 ||
			{ cat "$WORK/gdnsd-checkconf-$tag.log" >&2; die "gdnsd checkconf failed (config in $WORK/gdnsd-$tag; try --keep)"; }
		setpriv --pdeathsig KILL taskset -c "$SERVER_CPU" gdnsd -c "$WORK/gdnsd-$tag" start >"$WORK/$name.log" 2>&1 &
		;;
	esac
	SERVER_PID=$!
	wait_answer "$SERVER_PID" "$PORT" "$name"
}

# dnsperf_run FILE SECONDS [ECS-HEX]: one bounded dnsperf run against PORT;
# appends "completed lost runtime ticks wall" to $WORK/parts.txt.
dnsperf_run() {
	local file=$1 secs=$2 hex=${3:-} t0 t1 c0 c1 res
	local -a ecs=() pace=()
	[ -n "$hex" ] && ecs=(-E "8:$hex")
	[ -n "$PACED" ] && pace=(-Q "$PACED")
	c0=$(cpu_ticks "$SERVER_PID")
	t0=$(now)
	timeout --foreground -k 5 "$(awk -v s="$secs" 'BEGIN { printf "%d", s + 30 }')" \
		setpriv --pdeathsig KILL taskset -c "$CLIENT_CPU" \
		dnsperf -s "$LOOP" -p "$PORT" -d "$file" -l "$secs" -c "$CLIENTS" -q "$OUTSTANDING" -t 1 \
		-e "${ecs[@]}" "${pace[@]}" -O suppress=timeout >"$WORK/dnsperf.out" 2>&1 ||
		{ cat "$WORK/dnsperf.out" >&2; die "dnsperf failed"; }
	t1=$(now)
	c1=$(cpu_ticks "$SERVER_PID")
	cat "$WORK/dnsperf.out" >>"$WORK/dnsperf-all.out"
	res=$(awk '/Queries completed:/ { c = $3 } /Queries lost:/ { l = $3 } /Run time \(s\):/ { r = $4 }
		END { if (c == "") exit 1; print c, l, r }' "$WORK/dnsperf.out") ||
		{ cat "$WORK/dnsperf.out" >&2; die "cannot read dnsperf's output"; }
	echo "$res $((c1 - c0)) $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" >>"$WORK/parts.txt"
}

# run_round MODE SECS: one round of a mode against the server in SERVER,
# SERVER_PID and PORT, SECS seconds long; its parts are appended to
# $WORK/parts-$SERVER.txt.
run_round() {
	local mode=$1 secs=$2 file=q-mix.txt sub
	case $mode in
	noecs) dnsperf_run "$WORK/q-mix.txt" "$secs" ;;
	ecs | mix)
		[ "$mode" = ecs ] && file=q-www.txt
		secs=$(awk -v d="$secs" -v n=${#CUR_SUBNETS[@]} 'BEGIN { printf "%.3f", d / n }')
		for sub in "${CUR_SUBNETS[@]}"; do
			dnsperf_run "$WORK/$file" "$secs" "$(ecs_hex "${sub#*:}")"
		done
		;;
	esac
	cat "$WORK/parts.txt" >>"$WORK/parts-$SERVER.txt"
	: >"$WORK/parts.txt"
}

# run_mode MODE: ROUNDS rounds of the mode, the servers taking turns in
# each; appends a result line per server.
run_mode() {
	local mode=$1 secs name line r
	secs=$(awk -v d="$DUR" -v n="$ROUNDS" 'BEGIN { printf "%.3f", d / n }')
	: >"$WORK/parts.txt"
	for name in "${SERVERS[@]}"; do : >"$WORK/parts-$name.txt"; done
	for r in $(seq 1 "$ROUNDS"); do
		for name in "${SERVERS[@]}"; do
			use_server "$name"
			kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$WORK/$SERVER.log" >&2; die "$SERVER exited"; }
			run_round "$mode" "$secs"
		done
	done
	for name in "${SERVERS[@]}"; do
		# sum the parts: completed lost runtime ticks wall
		line=$(awk '{ c += $1; l += $2; r += $3; t += $4; w += $5 } END { print c, l, r, t, w }' "$WORK/parts-$name.txt")
		echo "$DBTAG $name $mode $line ${IDLE_OF[$name]}" >>"$WORK/results.txt"
		log "  $name $mode: $(echo "$line" | awk -v tck="$TCK" '{ printf "%d queries, %d lost, %.0f q/s, %.2f s CPU", $1, $2, $1 / $3, $4 / tck }')"
	done
}

# use_server NAME: makes the running server NAME the one dnsperf_run,
# answer and the rest address.
use_server() {
	SERVER=$1 SERVER_PID=${PID_OF[$1]} PORT=${PORT_OF[$1]}
}

# answer TYPE SUBNET: the regions (by the addresses in the answer) and the
# ECS scopes of 8 answers of the running server to www TYPE +subnet=SUBNET,
# each set "|"-joined: glbd draws among near-equal regions, gdnsd does not.
answer() {
	local type=$1 subnet=$2 i out addrs scope regions all="" scopes=""
	for i in 1 2 3 4 5 6 7 8; do
		out=$(dig @"$LOOP" -p "$PORT" "$FQDN" "$type" +subnet="$subnet" +tries=2 +time=2 +noall +answer +comments 2>/dev/null) || true
		addrs=$(awk -v t="$type" '$4 == t && $3 == "IN" { print $5 }' <<<"$out")
		scope=$(sed -n 's/.*CLIENT-SUBNET: [^ ]*\/\([0-9]*\)$/\1/p' <<<"$out")
		if [ -z "$addrs" ]; then
			regions=$(sed -n 's/.*status: \([A-Z]*\).*/\1/p' <<<"$out")
			[ "$regions" = NOERROR ] && regions=NODATA
		else
			regions=$(awk 'NR == FNR { r[$1] = $2; next } { print ($1 in r) ? r[$1] : "?" $1 }' \
				"$WORK/addr-region.txt" - <<<"$addrs" | sort -u | paste -sd+)
		fi
		all+=${regions:-no-answer}$'\n'
		scopes+=/${scope:-?}$'\n'
	done
	echo "$(sort -u <<<"$all" | grep . | paste -sd'|') $(sort -u <<<"$scopes" | grep . | paste -sd'|')"
}

SMALL_CHECKS=("A:81.2.69.0/24" "AAAA:81.2.69.0/24" "A:175.16.199.0/24" "A:216.160.83.0/24"
	"A:200.160.0.0/24" "AAAA:200.160.0.0/24" "A:1.128.0.0/24")

# find_located DB: on the random database the named subnets are (almost
# surely) not located, so a client there gets glbd's no-location answer (a
# weighted choice among all regions) and gdnsd's default datacenter list.
# To measure the located path too, take for each named /24 the first /24 at
# or after it (third octet wrapping) that the database locates, as gdnsd's
# own map tester (gdnsd_geoip_test) sees it: a single nearest datacenter
# instead of the whole default list. Sets CUR_SUBNETS.
find_located() {
	local db=$1 dir=$WORK/geoip-test sub net c k
	local -a a
	gdnsd_config "$dir" 53 "$db"
	for sub in "${SUBNETS[@]}"; do
		net=${sub#*:}
		IFS=. read -r -a a <<<"${net%/*}"
		for ((k = 0; k < 256; k++)); do
			echo "loadtest ${a[0]}.${a[1]}.$(((a[2] + k) % 256)).0"
		done
	done >"$WORK/geoip-test.in"
	gdnsd_geoip_test -c "$dir" <"$WORK/geoip-test.in" >"$WORK/geoip-test.out" 2>&1 || true
	mapfile -t CUR_SUBNETS < <(awk -v per=256 -v names="${SUBNETS[*]}" '
		BEGIN { n = split(names, nm, " ") }
		/^loadtest => / {
			g = int(i / per) + 1; i++
			if (!(g in found) && $0 !~ /,/) { split($3, ip, "/"); found[g] = ip[1] }
		}
		END { for (g = 1; g <= n; g++) if (g in found) { split(nm[g], l, ":"); print "near-" l[1] ":" found[g] "/24" } }' "$WORK/geoip-test.out")
	[ ${#CUR_SUBNETS[@]} -gt 0 ] || die "found no located /24 near the named subnets in $db (see $WORK/geoip-test.out; --keep)"
}

record_answers() {
	local c
	for c in "${CUR_CHECKS[@]}"; do
		echo "$DBTAG $SERVER ${c%%:*} ${c#*:} $(answer "${c%%:*}" "${c#*:}")"
	done >>"$WORK/answers.txt"
}

# profile_start: with --profile, starts taking glbd's CPU profile for about
# as long as the modes take (3 modes, each --duration per server: glbd is
# idle in gdnsd's turns, which adds nothing to its profile); profile_end
# waits for it and keeps it. Each database overwrites the last one's.
profile_start() {
	PROFILE_PID=""
	[ -n "$PROFILE" ] && [ -n "${PID_OF[glbd]:-}" ] || return 0
	local secs
	secs=$(awk -v d="$DUR" -v n="${#SERVERS[@]}" 'BEGIN { printf "%d", 3 * d * n }')
	log "  taking glbd's CPU profile for ${secs} s"
	curl -fsS -o "$WORK/glbd.pprof" "http://$LOOP:$GLBD_HTTP/debug/pprof/profile?seconds=$secs" &
	PROFILE_PID=$!
}

profile_end() {
	[ -n "${PROFILE_PID:-}" ] || return 0
	wait "$PROFILE_PID" || die "could not take glbd's CPU profile (curl failed)"
	[ -s "$WORK/glbd.pprof" ] || die "glbd's CPU profile is empty"
	cp "$WORK/glbd.pprof" "$PROFILE"
	log "  glbd's CPU profile written to $PROFILE"
}

# bench_servers DB: starts every server of SERVERS on DB, one after the
# other, lets each settle, records its answers, warms it up and measures
# its idle CPU; then runs the modes with the servers taking turns, and
# stops them.
bench_servers() {
	local db=$1 name base0 base1
	for name in "${SERVERS[@]}"; do
		log "[$DBTAG] starting $name on $LOOP (CPU $SERVER_CPU)"
		start_server "$name" "$db" "$DBTAG"
		PID_OF[$name]=$SERVER_PID PORT_OF[$name]=$PORT
		log "  listening on $LOOP:$PORT (pid $SERVER_PID); waiting for it to settle"
		settle "$SERVER_PID"
		use_server "$name"
		record_answers
		log "  settled; warm-up, then idle baseline"
		dnsperf_run "$WORK/q-mix.txt" "$WARMUP" "$(ecs_hex 81.2.69.0/24)"
		: >"$WORK/parts.txt"
		settle "$SERVER_PID"
		base0=$(cpu_ticks "$SERVER_PID")
		sleep "$BASELINE"
		base1=$(cpu_ticks "$SERVER_PID")
		IDLE_OF[$name]=$(awk -v a="$base0" -v b="$base1" -v s="$BASELINE" 'BEGIN { printf "%.3f", (b - a) / s }')
		log "  idle: ${IDLE_OF[$name]} ticks/s"
	done
	profile_start
	for mode in noecs ecs mix; do
		log "  $mode: $ROUNDS round(s), ${SERVERS[*]} taking turns"
		run_mode "$mode"
	done
	profile_end
	for name in "${SERVERS[@]}"; do
		echo "$DBTAG $name $(awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/${PID_OF[$name]}/status")" >>"$WORK/rss.txt"
	done
	stop_server
	log "  ${SERVERS[*]} stopped"
}

# ---- report ------------------------------------------------------------------------------

header() {
	local rev
	rev=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [ -n "$(cd "$ROOT" && git status --porcelain --untracked-files=no 2>/dev/null)" ]; then rev+=" + uncommitted changes"; fi
	out "glb load test $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit $rev"
	out "$(go version | cut -d' ' -f3-)  $( $GDNSD && gdnsd -h 2>&1 | sed -n 's/^gdnsd version /gdnsd /p')  $(dnsperf -h 2>&1 | sed -n 's/^Version /dnsperf /p')"
	out "server on CPU $SERVER_CPU, dnsperf on CPU $CLIENT_CPU of $NCPU (-c $CLIENTS -q $OUTSTANDING), ${DUR} s per mode and server in $ROUNDS round(s) taking turns, CLK_TCK $TCK"
	if [ -n "$PACED" ]; then out "paced: dnsperf offers $PACED q/s in every mode (-Q $PACED), not saturation"; fi
	if $DEV; then out "glbd: -dev (its embedded etcd in the measured process)"; else out "glbd: -etcd (not dev mode; its configuration in the etcd of a config host on CPU $CLIENT_CPU)"; fi
	out "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
}

report_db() {
	local tag=$1 db=$2
	out ""
	out "== $tag database: $db ($(du -h "$db" | cut -f1)) =="
	out "ECS subnets: $(awk -v tag="$tag" '$1 == tag { $1 = ""; print substr($0, 2) }' "$WORK/subnets.txt")"
	awk -v tag="$tag" -v tck="$TCK" -v paced="${PACED:-0}" '
		$1 != tag { next }
		{
			srv = $2; mode = $3; q = $4; lost = $5; rt = $6; ticks = $7; wall = $8; idle = $9
			cpu = ticks / tck; net = (ticks - idle * wall) / tck
			us = q > 0 ? cpu / q * 1e6 : 0; nus = q > 0 ? net / q * 1e6 : 0
			printf "%-6s %-6s %10d %7d %9.0f %8.2f %8.3f %9.2f %9.2f %10.0f\n", srv, mode, q, lost, q / rt, cpu, idle / tck, us, nus, (us > 0 ? 1e6 / us : 0)
			per[srv, mode] = us; nper[srv, mode] = nus; modes[mode] = 1
			if (paced > 0 && q / rt < 0.95 * paced) slow = slow sprintf(" %s/%s %.0f", srv, mode, q / rt)
		}
		BEGIN {
			printf "%-6s %-6s %10s %7s %9s %8s %8s %9s %9s %10s\n", "server", "mode", "queries", "lost", "q/s", "CPU s", "idle/s", "CPU/q us", "net us", "q/s/core"
		}
		END {
			line = ""
			split("noecs ecs mix", order, " ")
			for (i = 1; i <= 3; i++) {
				m = order[i]
				if (per["gdnsd", m] > 0 && per["glbd", m] > 0)
					line = line sprintf("  %s %.2fx (net %.2fx)", m, per["glbd", m] / per["gdnsd", m], nper["glbd", m] / nper["gdnsd", m])
			}
			if (line != "") printf "glbd/gdnsd CPU per query:%s\n", line
			if (slow != "") printf "NOT KEEPING UP with the offered %d q/s (answered q/s):%s\n", paced, slow
		}' "$WORK/results.txt" | tee -a "$REPORT"
	out "resident memory after the run: $(awk -v tag="$tag" '$1 == tag { printf "%s%s %s MB", sep, $2, $3; sep = ", " }' "$WORK/rss.txt")"
	out "answers to 8 queries each (regions by address | ECS scopes):"
	awk -v tag="$tag" '$1 == tag { k = $3 " " $4; r[k, $2] = $5; s[k, $2] = $6; if (!(k in seen)) { seen[k] = 1; keys[++n] = k } }
		END {
			for (i = 1; i <= n; i++) {
				k = keys[i]; split(k, f, " ")
				g = r[k, "glbd"] " " s[k, "glbd"]
				line = sprintf("  %-4s %-16s glbd %-26s", f[1], f[2], g)
				if ((k, "gdnsd") in r) {
					d = r[k, "gdnsd"] " " s[k, "gdnsd"]
					m = split(r[k, "glbd"], gr, "|"); intier = 0
					for (j = 1; j <= m; j++) if (gr[j] == r[k, "gdnsd"]) intier = 1
					v = (g == d) ? "same" : (r[k, "glbd"] == r[k, "gdnsd"]) ? "same region, scope differs" : intier ? "gdnsd region among glbd draws" : "DIFFERENT"
					line = line sprintf(" gdnsd %-20s %s", d, v)
				}
				print line
			}
		}' "$WORK/answers.txt" | tee -a "$REPORT"
	if $GDNSD; then
		local g d
		g=$(awk -v tag="$tag" '$1 == tag && $2 == "glbd" && $3 == "A" && $4 == "81.2.69.0/24" { print $5 }' "$WORK/answers.txt")
		d=$(awk -v tag="$tag" '$1 == tag && $2 == "gdnsd" && $3 == "A" && $4 == "81.2.69.0/24" { print $5 }' "$WORK/answers.txt")
		if [ "$g" = "$d" ]; then
			out "London check (dig www +subnet=81.2.69.0/24): both answer $g: OK"
		elif [ "$tag" = small ]; then
			out "London check (dig www +subnet=81.2.69.0/24): glbd $g, gdnsd $d: MISMATCH"
			MISMATCH=true
		else
			out "London check (dig www +subnet=81.2.69.0/24): glbd $g, gdnsd $d"
		fi
		if [ "$tag" = large ]; then
			out "(random database: 81.2.69.0/24 is not located there, so glbd draws among all regions by weight and gdnsd"
			out " takes its first datacenter; located clients get every region within 10% (or 100 km) of the nearest from"
			out " glbd, the nearest alone from gdnsd; and AAAA for a client nearest sa-east, which has no IPv6, falls back"
			out " to the next region from the client in glbd but to us-east, nearest to sa-east, in the gdnsd config)"
		fi
	fi
}

MISMATCH=false
: >"$WORK/results.txt"
: >"$WORK/subnets.txt"
: >"$WORK/rss.txt"
: >"$WORK/answers.txt"
: >"$REPORT"
header >/dev/null
for entry in "${DBS[@]}"; do
	DBTAG=${entry%%:*}
	db=${entry#*:}
	CUR_SUBNETS=("${SUBNETS[@]}")
	CUR_CHECKS=("${SMALL_CHECKS[@]}")
	if [ "$DBTAG" = large ] && $GDNSD; then
		find_located "$db"
		log "[large] located client subnets: ${CUR_SUBNETS[*]}"
		CUR_CHECKS=("A:81.2.69.0/24")
		for sub in "${CUR_SUBNETS[@]}"; do CUR_CHECKS+=("A:${sub#*:}" "AAAA:${sub#*:}"); done
	fi
	echo "$DBTAG ${CUR_SUBNETS[*]}" >>"$WORK/subnets.txt"
	SERVERS=(glbd)
	if $GDNSD; then SERVERS+=(gdnsd); fi
	bench_servers "$db"
done

echo
cat "$REPORT"
for entry in "${DBS[@]}"; do report_db "${entry%%:*}" "${entry#*:}"; done
out ""
out "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
out "CPU/q us: the server's utime+stime per answered query; net us: the same less its idle CPU"
out "(idle/s, measured before the run$($DEV && echo ': for glbd -dev mostly the embedded etcd')); q/s/core = 1e6 / CPU/q us."
if [ -n "$OUT" ]; then cp "$REPORT" "$OUT" && log "report written to $OUT"; fi
if $MISMATCH; then die "glbd and gdnsd disagree on the small database (see above)"; fi
exit 0
