#!/usr/bin/env bash
# dnssec.sh: what DNSSEC costs under load. glbd answers the same queries
# with and without the DO bit (dnsperf -D), in the same run, from its
# signed dev zone; Knot DNS (Debian's `knot`) serves the same zone signed
# two ways beside it: automatic signing (dnssec-signing: on, every
# signature made when the zone loads) and mod-onlinesign (every answer
# signed as it is sent: the online signer to compare with). The figure to
# compare is the server's own CPU time per answered query, DO against
# plain (see deploy/loadtest/README.md, "DNSSEC").
#
#   deploy/loadtest/run.sh --dnssec [options]   (or deploy/loadtest/dnssec.sh [options])
#   --quick        2 s per run, 1 round (default 4 s, 2 rounds)
#   --duration N   seconds per run
#   --rounds N     times each plain/DO pair is run, alternating
#   --no-knot      glbd alone
#   --out FILE     also write the report to FILE
#   --keep         keep the working directory
#
# Modes, each run plain then DO, the pair repeated --rounds times so both
# halves see the same load on a shared machine:
#   www   50% A www, 50% AAAA www, ECS London 81.2.69.0/24: glbd's fast
#         path; Knot has no geoip module here, so it ignores the ECS and
#         answers London's addresses (eu-west) from its zone
#   mix   40% A www, 40% AAAA www, 20% missing names (nx-N, A and AAAA),
#         no ECS: the missing names are glbd's compact denials (each
#         signed once, then from its cache) and Knot's NSEC proofs
#
# Environment: SERVER_CPU (0) and CLIENT_CPU (1) pin the server and
# dnsperf; CLIENTS (16) and OUTSTANDING (200) are dnsperf's -c and -q; IP
# (127.0.0.1) is the loopback address every server listens on (free ports).
# Needs go; as root on Debian it installs dnsperf, knot, bind9-dnsutils,
# jq, python3, curl and util-linux with apt-get, with a policy-rc.d that
# keeps the knot package's system service stopped.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DUR=4
ROUNDS=2
KNOT=true
KEEP=false
OUT=""
while [ $# -gt 0 ]; do
	case $1 in
	--quick) DUR=2 ROUNDS=1 ;;
	--duration) DUR=${2:?--duration needs seconds}; shift ;;
	--rounds) ROUNDS=${2:?--rounds needs a number}; shift ;;
	--no-knot) KNOT=false ;;
	--keep) KEEP=true ;;
	--out) OUT=${2:?--out needs a file}; shift ;;
	--dnssec) ;; # passed on by run.sh
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "dnssec.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[[ $DUR =~ ^[0-9]+$ && $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "dnssec.sh: --duration and --rounds take whole numbers" >&2; exit 2; }

SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
CLIENTS=${CLIENTS:-16}
OUTSTANDING=${OUTSTANDING:-200}
IP=${IP:-127.0.0.1}
ZONE=gslb.example.test
FQDN=www.$ZONE
LONDON_ECS=00011800510245 # RFC 7871 payload of 81.2.69.0/24 (run.sh's ecs_hex)
TCK=$(getconf CLK_TCK)

WORK=$(mktemp -d /tmp/glb-dnssec-load.XXXXXX)
# shellcheck source=deploy/loadtest/lib.sh
. "$ROOT/deploy/loadtest/lib.sh"

cleanup_traps

# ---- tools --------------------------------------------------------------------

tools=(dnsperf:dnsperf dig:bind9-dnsutils jq:jq python3:python3 curl:curl taskset:util-linux setpriv:util-linux)
$KNOT && tools+=(knotd:knot)
if $KNOT && ! command -v knotd >/dev/null && [ ! -e /usr/sbin/policy-rc.d ] && [ "$(id -u)" = 0 ]; then
	# The knot package would start its system service: say no while it installs.
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
	need_tools "${tools[@]}"
	rm -f /usr/sbin/policy-rc.d
else
	need_tools "${tools[@]}"
fi
build

# ---- zone and queries -----------------------------------------------------------

# glbd's seed: the dev zone (it says "dnssec": {}, so dev mode makes its
# keys) with www alone, its regions without health checks (no probers).
jq --arg zone "$ZONE" '
	.zones[$zone] as $z
	| {regions: (. as $all | [$z.names.www.regions[] | {key: ., value: ($all.regions[.] | del(.check, .weight))}] | from_entries),
	   zones: {($zone): ($z | del(.records) | .names = {www: $z.names.www})}}
' "$ROOT/testdata/dev/config.json" >"$WORK/seed.json"
jq -e --arg zone "$ZONE" '.zones[$zone].dnssec != null' "$WORK/seed.json" >/dev/null ||
	die "the dev zone $ZONE does not say dnssec"

# Knot's zone: the same SOA timers, NS and glue, and www with the answer
# glbd gives London (eu-west's addresses).
jq -r --arg zone "$ZONE" '
	.zones[$zone] as $z | ($z.soa // {}) as $soa | ($soa.ttl // 3600) as $ttl
	| (($z.contact // ("hostmaster@" + $zone)) | sub("@"; ".")) as $rname
	| "$ORIGIN \($zone).",
	  "@ \($ttl) SOA \($z.ns[0].name). \($rname). 1 \($soa.refresh // 3600) \($soa.retry // 600) \($soa.expire // 86400) \($soa.minimum // 30)",
	  ($z.ns[] | "@ \($ttl) NS \(.name)."),
	  ($z.ns[] | .name as $n | (.addrs // [])[] | "\($n). \($ttl) \(if test(":") then "AAAA" else "A" end) \(.)"),
	  (.regions["eu-west"].addrs[] | "www \($z.names.www.ttl // 30) \(if test(":") then "AAAA" else "A" end) \(.)")
' "$WORK/seed.json" >"$WORK/$ZONE.zone"

write_query_files

# ---- servers --------------------------------------------------------------------

# wait_signed PID PORT NAME: until the server answers www with an RRSIG.
wait_signed() {
	local pid=$1 port=$2 name=$3 i
	for i in $(seq 1 300); do
		kill -0 "$pid" 2>/dev/null || { tail -20 "$WORK/$name.log" >&2; die "$name exited"; }
		if dig @"$IP" -p "$port" "$FQDN" A +dnssec +tries=1 +time=1 2>/dev/null | grep -q 'RRSIG[[:space:]]*A '; then
			owns_port "$pid" "$port" || die "$name: another process answers on $IP:$port"
			return 0
		fi
		sleep 0.2
	done
	tail -20 "$WORK/$name.log" >&2
	die "$name did not answer signed within 60 s"
}

# start_server NAME: glbd, knot-auto or knot-online on a free port of IP,
# pinned to SERVER_CPU; sets PID and PORT.
start_server() {
	local name=$1 dir=$WORK/$1
	PORT=$(free_port "$IP")
	mkdir -p "$dir"
	case $name in
	glbd)
		HTTP=$IP:$(free_port "$IP")
		start_bg "$name" taskset -c "$SERVER_CPU" "$GLBD" -dev -dev-seed "$WORK/seed.json" \
			-dev-etcd "$IP:$(free_port "$IP")" -dev-data-dir "$dir/etcd" \
			-dns "$IP:$PORT" -http "$HTTP" -geoip "$ROOT/testdata/geoip/glb-test-city.mmdb" -log-level warn
		;;
	knot-*)
		mkdir -p "$dir/run" "$dir/db" "$dir/zones"
		cp "$WORK/$ZONE.zone" "$dir/zones/"
		local signing="dnssec-signing: on" module=""
		if [ "$name" = knot-online ]; then signing="dnssec-signing: off" module="module: mod-onlinesign"; fi
		cat >"$dir/knot.conf" <<-EOF
			# generated by deploy/loadtest/dnssec.sh
			server:
			    listen: $IP@$PORT
			    rundir: $dir/run
			    udp-workers: 1
			    tcp-workers: 1
			    background-workers: 1
			database:
			    storage: $dir/db
			log:
			  - target: stderr
			    any: warning
			zone:
			  - domain: $ZONE
			    storage: $dir/zones
			    file: $ZONE.zone
			    zonefile-sync: -1
			    journal-content: none
			    $signing
			    $module
		EOF
		knotc -c "$dir/knot.conf" conf-check >"$dir/conf-check.log" 2>&1 ||
			{ cat "$dir/conf-check.log" >&2; die "knotc conf-check failed ($dir/knot.conf; try --keep)"; }
		start_bg "$name" taskset -c "$SERVER_CPU" knotd -c "$dir/knot.conf"
		;;
	esac
	PID=$BG_PID
	wait_signed "$PID" "$PORT" "$name"
}

# ---- measuring ----------------------------------------------------------------------

# measure MODE DO: one bounded dnsperf run against PORT; appends
# "server mode do completed lost runtime ticks wall idle" to $RESULTS.
measure() {
	local mode=$1 do=$2 t0 t1 c0 c1 res
	local -a args=(-e)
	[ "$mode" = www ] && args+=(-E "8:$LONDON_ECS")
	[ "$do" = DO ] && args+=(-D)
	c0=$(cpu_ticks "$PID")
	t0=$(date +%s.%N)
	timeout --foreground -k 5 $((DUR + 30)) setpriv --pdeathsig KILL taskset -c "$CLIENT_CPU" \
		dnsperf -s "$IP" -p "$PORT" -d "$WORK/q-$mode.txt" -l "$DUR" -c "$CLIENTS" -q "$OUTSTANDING" -t 1 \
		"${args[@]}" -O suppress=timeout >"$WORK/dnsperf.out" 2>&1 ||
		{ cat "$WORK/dnsperf.out" >&2; die "dnsperf failed"; }
	t1=$(date +%s.%N)
	c1=$(cpu_ticks "$PID")
	res=$(awk '/Queries completed:/ { c = $3 } /Queries lost:/ { l = $3 } /Run time \(s\):/ { r = $4 }
		END { if (c == "") exit 1; print c, l, r }' "$WORK/dnsperf.out") ||
		{ cat "$WORK/dnsperf.out" >&2; die "cannot read dnsperf's output"; }
	echo "$SERVER $mode $do $res $((c1 - c0)) $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') $IDLE" >>"$RESULTS"
}

bench() {
	SERVER=$1
	local r mode b0 b1
	log "starting $SERVER on $IP (CPU $SERVER_CPU)"
	start_server "$SERVER"
	settle "$PID" 120
	# signed answers for every RRset the runs ask for: the first signs
	for mode in www mix; do RESULTS=$WORK/warmup.txt DUR=1 measure "$mode" DO; done
	settle "$PID" 60
	b0=$(cpu_ticks "$PID")
	sleep 2
	b1=$(cpu_ticks "$PID")
	IDLE=$(awk -v a="$b0" -v b="$b1" 'BEGIN { printf "%.3f", (b - a) / 2 }')
	log "  idle: $IDLE ticks/s"
	for mode in www mix; do
		for r in $(seq 1 "$ROUNDS"); do
			measure "$mode" plain
			measure "$mode" DO
		done
		log "  $SERVER $mode: done"
	done
	if [ "$SERVER" = glbd ]; then
		metric "$HTTP" 'glb_dnssec_signature_cache_(hits|misses)_total' >"$WORK/glbd-cache.txt"
	fi
	stop_bg "$PID"
}

IDLE=0
RESULTS=$WORK/results.txt
: >"$RESULTS"
: >"$WORK/report.txt"
bench glbd
if $KNOT; then
	bench knot-auto
	bench knot-online
fi

# ---- report --------------------------------------------------------------------------

out "glb DNSSEC load test $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit $COMMIT"
out "$(go version | cut -d' ' -f3-)  $($KNOT && knotd --version 2>&1 | head -1)  $(dnsperf -h 2>&1 | sed -n 's/^Version /dnsperf /p')"
out "server on CPU $SERVER_CPU, dnsperf on CPU $CLIENT_CPU (-c $CLIENTS -q $OUTSTANDING), $DUR s per run, $ROUNDS round(s), load average $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v tck="$TCK" '
	{
		k = $1 " " $2 " " $3; q[k] += $4; lost[k] += $5; rt[k] += $6; t[k] += $7; w[k] += $8; idle[k] = $9
		if (!(k in seen)) { seen[k] = 1; keys[++n] = k }
	}
	END {
		printf "%-11s %-4s %-5s %9s %6s %8s %9s %9s\n", "server", "mode", "DO", "queries", "lost", "q/s", "CPU/q us", "net us"
		for (i = 1; i <= n; i++) {
			k = keys[i]; split(k, f, " ")
			us[k] = t[k] / tck / q[k] * 1e6; net[k] = (t[k] - idle[k] * w[k]) / tck / q[k] * 1e6
			printf "%-11s %-4s %-5s %9d %6d %8.0f %9.2f %9.2f\n", f[1], f[2], f[3], q[k], lost[k], q[k] / rt[k], us[k], net[k]
		}
		print "DO/plain CPU per query (net of idle):"
		for (i = 1; i <= n; i++) {
			k = keys[i]; split(k, f, " ")
			if (f[3] != "DO") continue
			p = f[1] " " f[2] " plain"
			if (net[p] > 0) printf "  %-11s %-4s %.2fx\n", f[1], f[2], net[k] / net[p]
		}
		g = "glbd www DO"; a = "knot-auto www DO"; o = "knot-online www DO"
		if (net[a] > 0) printf "glbd DO / knot-auto DO (www): %.2fx\n", net[g] / net[a]
		if (net[o] > 0) printf "glbd DO / knot-online DO (www): %.2fx\n", net[g] / net[o]
	}' "$WORK/results.txt" | tee -a "$WORK/report.txt"
out "glbd's signature cache after the run (the warm-up signed each RRset once):"
sed 's/^/  /' "$WORK/glbd-cache.txt" | tee -a "$WORK/report.txt"
out "CPU/q us: the server's utime+stime per answered query; net us: less its idle CPU (glbd -dev: mostly its etcd)"
if [ -n "$OUT" ]; then cp "$WORK/report.txt" "$OUT" && log "report written to $OUT"; fi
