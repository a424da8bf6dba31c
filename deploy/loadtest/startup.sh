#!/usr/bin/env bash
# startup.sh: glbd's start-up, reload and memory with a large City database
# (issue 19): time from process start to the first correct answer and to
# the ECS scope tables, resident memory at idle and after a minute of
# queries, and a SIGHUP reload under load with its duration and the
# queries over 10 ms server-side.
#
#   deploy/loadtest/startup.sh                  the 1M-network database, then the test one (~3 min)
#   deploy/loadtest/startup.sh --db FILE        another database (only that one)
#   deploy/loadtest/startup.sh --rate Q         queries per second of the streams (default 2000)
#   deploy/loadtest/startup.sh --duration S     seconds of the idle-to-loaded stream (default 60)
#   deploy/loadtest/startup.sh --names N        names in the configuration (default 100, x 20 regions)
#   deploy/loadtest/startup.sh --ip A           loopback address to bind everything to (default 127.0.0.1)
#   deploy/loadtest/startup.sh --glbd FILE      measure this glbd binary (e.g. one built from another commit)
#   deploy/loadtest/startup.sh --glbd-flags F   extra flags for the measured glbd, e.g. "-memory-limit 64MiB"
#   deploy/loadtest/startup.sh --keep           keep /tmp/glb-startup.*/ (logs)
#   deploy/loadtest/startup.sh --gdnsd          measure gdnsd on the same database and regions too (installs it)
#
# Setup, all on loopback: an etcd host (`glbd -dev -prefix /glbhost/`, its
# embedded etcd), the configuration of `glbbench genseed` loaded under
# /glb/, and the glbd measured: `glbd -etcd ... -geoip DB -cache-file ""
# -geoip-poll 0 -log-level debug`, not in dev mode. The first answer is
# polled with dig (every 10 ms: an A query with ECS that must come back
# NOERROR with addresses); the scope tables are in when
# glb_server_scope_build_duration_seconds counts a build. BIG_DB (default
# /tmp/glb-loadtest-big.mmdb, shared with run.sh and scale.sh) is made
# with `go run ./cmd/mkmmdb -random 1000000 -seed 1` when missing.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NAMES=100
RATE=2000
DUR=60
IP=127.0.0.1
KEEP=false
GDNSD=false
OTHER_GLBD=""
EXTRA=()
DBS=()
while [ $# -gt 0 ]; do
	case $1 in
	--db) DBS+=("${2:?}"); shift ;;
	--rate) RATE=${2:?}; shift ;;
	--duration) DUR=${2:?}; shift ;;
	--names) NAMES=${2:?}; shift ;;
	--ip) IP=${2:?}; shift ;;
	--glbd) OTHER_GLBD=${2:?}; shift ;;
	--glbd-flags) read -r -a EXTRA <<<"${2:?}"; shift ;;
	--keep) KEEP=true ;;
	--gdnsd) GDNSD=true ;;
	*) echo "usage: $0 [--db FILE] [--glbd FILE] [--rate Q] [--duration S] [--names N] [--ip A] [--glbd-flags F] [--gdnsd] [--keep]" >&2; exit 2 ;;
	esac
	shift
done
BIG_DB=${BIG_DB:-/tmp/glb-loadtest-big.mmdb}

WORK=$(mktemp -d /tmp/glb-startup.XXXXXX)
# shellcheck source=deploy/loadtest/lib.sh
. "$ROOT/deploy/loadtest/lib.sh"
cleanup_traps

need_tools jq:jq python3:python3 dig:bind9-dnsutils setpriv:util-linux curl:curl
if $GDNSD; then
	# The gdnsd package would start its system service on port 53 with
	# /etc/gdnsd; a policy-rc.d that says no keeps it stopped (as run.sh).
	if ! command -v gdnsd >/dev/null && [ "$(id -u)" = 0 ] && [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
		need_tools gdnsd:gdnsd
		rm -f /usr/sbin/policy-rc.d
	fi
	need_tools gdnsd:gdnsd
fi
build
if [ -n "$OTHER_GLBD" ]; then
	cp "$OTHER_GLBD" "$WORK/bin/glbd-measured"
	COMMIT="$COMMIT, measuring $OTHER_GLBD"
fi
MEASURED=$WORK/bin/glbd-measured
[ -n "$OTHER_GLBD" ] || cp "$GLBD" "$MEASURED"
if [ ${#DBS[@]} -eq 0 ]; then
	make_big_db
	DBS=("$BIG_DB" "$ROOT/testdata/geoip/glb-test-city.mmdb")
fi

port() { free_port "$IP"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# over10 HTTP: "N of M": requests over 10 ms server-side, of all.
over10() {
	curl -s --max-time 10 "http://$1/metrics" | awk '
		/^glb_dns_request_duration_seconds_bucket.*le="0.01"/ {b += $2}
		/^glb_dns_request_duration_seconds_count/ {c += $2}
		END {printf "%d of %d", c - b, c}'
}

# first_answer PID PORT T0 NAME: polls the server PID on $IP:PORT every
# 10 ms (an A query with ECS that must come back NOERROR with addresses)
# and reports the first correct answer in ms after T0; NAME.log is its log.
first_answer() {
	local pid=$1 p=$2 t0=$3 name=$4 a
	for _ in $(seq 1 3000); do
		kill -0 "$pid" 2>/dev/null || { tail -20 "$WORK/$name.log" >&2; die "$name exited"; }
		a=$(dig +tries=1 +time=1 +norec "@$IP" -p "$p" n00000.gslb.example.test A +subnet=81.2.69.0/24 2>/dev/null || true)
		if grep -q "status: NOERROR" <<<"$a" && grep -qP "\tIN\tA\t" <<<"$a"; then
			out "first correct answer: $(($(now_ms) - t0)) ms after start"
			return 0
		fi
		sleep 0.01
	done
	die "$name: no answer within 30 s"
}

# gdnsd_config DIR PORT DB: gdnsd 3 serving the names of seed.yaml, each
# the nearest of its 20 regions by the database's coordinates (gdnsd's
# geoip plugin with auto_dc_coords; glbd does more, but this is the work of
# loading a City database into a map), on $IP:PORT.
gdnsd_config() {
	local dir=$1 port=$2 db=$3
	mkdir -p "$dir/zones" "$dir/run" "$dir/state"
	python3 - "$WORK/seed.yaml" "$dir" "$IP" "$port" "$db" "$NAMES" <<'PY'
import re, sys
seed, d, ip, port, db, names = sys.argv[1:7]
regs, cur, inreg = {}, None, False
for l in open(seed).read().split("\n"):  # the regions block of glbctl's layout
    if l == "regions:":
        inreg = True
        continue
    if inreg and l and not l.startswith(" "):
        inreg = False
    if not inreg:
        continue
    m = re.match(r"^  ([\w-]+):$", l)
    if m:
        cur = m.group(1)
        regs[cur] = {}
        continue
    m = re.match(r"^    (addrs|lat|lon): (.*)$", l)
    if m and cur:
        k, v = m.groups()
        regs[cur][k] = [a.strip().strip("'") for a in v.strip("[]").split(",")] if k == "addrs" else float(v)
ids = sorted(regs)
arr = lambda xs: "[ " + ", ".join(xs) + " ]"
with open(d + "/config", "w") as f:
    f.write(f"options => {{\n  listen => [ {ip}:{port} ]\n  udp_threads => 1\n  tcp_threads => 1\n"
            f"  run_dir => {d}/run\n  state_dir => {d}/state\n}}\n")
    f.write(f"plugins => {{ geoip => {{\n  maps => {{ glb => {{\n    geoip2_db => {db}\n    datacenters => {arr(ids)}\n"
            "    auto_dc_coords => {\n")
    for r in ids:
        f.write(f"      {r} => [ {regs[r]['lat']}, {regs[r]['lon']} ]\n")
    f.write("    }\n    auto_dc_limit => 1\n  } }\n  resources => { glb => {\n    map => glb\n    dcmap => {\n")
    for r in ids:
        v4 = [a for a in regs[r]["addrs"] if ":" not in a]
        v6 = [a for a in regs[r]["addrs"] if ":" in a]
        f.write(f"      {r} => {{ addrs_v4 => {arr(v4)}, addrs_v6 => {arr(v6)} }}\n")
    f.write("    }\n  } }\n}}\n")
with open(d + "/zones/gslb.example.test", "w") as f:
    f.write("$ORIGIN gslb.example.test.\n@ 3600 SOA ns1 hostmaster 1 3600 600 86400 30\n@ 3600 NS ns1\nns1 3600 A 192.0.2.53\n")
    for i in range(int(names)):
        f.write(f"n{i:05d} 30 DYNA geoip!glb\n")
PY
}

# measure_gdnsd DB TAG: gdnsd's figures on DB, as glbd's above: start to
# first correct answer, RSS idle and after the stream, and a reload (gdnsd
# reloads its database when the file changes: the time from the rename to
# its "Loading GeoIP2 database" line, less the change quiescence it waits
# for and says it waits for).
measure_gdnsd() {
	local db=$1 tag=$2 dir D pid t0 t1 q
	dir=$WORK/gdnsd-$tag D=$(port)
	cp "$db" "$WORK/gdnsd-$tag.mmdb" # its own copy, replaced to reload it
	gdnsd_config "$dir" "$D" "$WORK/gdnsd-$tag.mmdb"
	gdnsd -c "$dir" checkconf >"$WORK/gdnsd-$tag.checkconf" 2>&1 ||
		{ cat "$WORK/gdnsd-$tag.checkconf" >&2; die "gdnsd checkconf failed (try --keep)"; }
	out ""
	out "## gdnsd $(gdnsd -h 2>&1 | sed -n 's/^gdnsd version //p') on the same database and regions"
	out "\$ gdnsd -c $dir start"
	t0=$(now_ms)
	start_bg "gdnsd-$tag" gdnsd -c "$dir" start
	pid=$BG_PID
	first_answer "$pid" "$D" "$t0" "gdnsd-$tag"
	sleep 3
	out "memory at idle: $(mem "$pid" "")$(gdnsd_children "$pid")"
	"$GLBBENCH" stream -dns "$IP:$D" -rate "$RATE" -duration "${DUR}s" -names "$NAMES" >"$WORK/gdnsd-$tag.stream" 2>&1 || true
	out "after ${DUR} s at $RATE q/s: $(mem "$pid" "")$(gdnsd_children "$pid"); stream: $(grep -E 'answered' "$WORK/gdnsd-$tag.stream" | tr -s ' \n' ' ')"
	"$GLBBENCH" stream -dns "$IP:$D" -rate "$RATE" -duration 10s -names "$NAMES" >"$WORK/gdnsd-$tag.reload-stream" 2>&1 &
	spid=$!
	sleep 2
	cp "$db" "$WORK/gdnsd-$tag.mmdb.new"
	t1=$(now_ms)
	mv "$WORK/gdnsd-$tag.mmdb.new" "$WORK/gdnsd-$tag.mmdb"
	# Its log has no timestamps: the lines are watched as they come.
	local ta="" tb="" tc=""
	for _ in $(seq 1 6000); do
		[ -z "$ta" ] && [ "$(grep -c 'Loading GeoIP2 database' "$WORK/gdnsd-$tag.log")" -ge 2 ] && ta=$(now_ms)
		[ -z "$tb" ] && grep -q 'runtime data changes are pending' "$WORK/gdnsd-$tag.log" && tb=$(now_ms)
		[ "$(grep -c 'runtime db updated' "$WORK/gdnsd-$tag.log")" -ge 2 ] && { tc=$(now_ms); break; }
		sleep 0.01
	done
	q=$(sed -n 's/.*waiting for \([0-9.]*\)s of change quiescence.*/\1/p' "$WORK/gdnsd-$tag.log" | tr '\n' '+')
	out "reload (rename over its file) under $RATE q/s: new database in use after $((${tc:-0} - t1)) ms, of which ${q%+} s its change quiescence; loading it (between its log lines) $((${tb:-0} - ${ta:-0})) ms"
	wait "$spid" || true
	out "  the 10 s stream around it: $(grep -E 'answered|slower than' "$WORK/gdnsd-$tag.reload-stream" | tr -s ' \n' ' ')"
	sleep 3
	out "memory after the reload: $(mem "$pid" "")$(gdnsd_children "$pid")"
	stop_bg "$pid"
}

# gdnsd_children PID: the VmRSS of gdnsd's helper processes, if any.
gdnsd_children() {
	local c
	for c in $(pgrep -P "$1" || true); do
		printf '; child %s VmRSS %s MiB' "$(cat "/proc/$c/comm")" "$(awk '/^VmRSS:/ {printf "%.1f", $2/1024}' "/proc/$c/status")"
	done
}

jq '.regions |= map_values(del(.check))' "$ROOT/testdata/dev/config.json" >"$WORK/host-seed.json"
"$GLBBENCH" genseed -names "$NAMES" -regions 20 -out "$WORK/seed.yaml" >"$WORK/genseed.txt"
PE=$(port) DA=$(port) HA=$(port)
ETCD=http://$IP:$PE
start_bg etcdhost "$GLBD" -dev -prefix /glbhost/ -dev-seed "$WORK/host-seed.json" -dev-etcd "$IP:$PE" \
	-dev-data-dir "$WORK/etcd" -dns "$IP:$DA" -http "$IP:$HA"
wait_ready "$BG_PID" "$IP:$HA" etcdhost
timeout 120 "$GLBBENCH" load -etcd "$ETCD" -prefix /glb/ -seed "$WORK/seed.yaml" >"$WORK/load.txt" ||
	{ cat "$WORK/load.txt" >&2; die "glbbench load failed"; }

out "# start-up: $NAMES names x 20 regions; commit $COMMIT; $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
for db in "${DBS[@]}"; do
	D=$(port) H=$(port)
	tag=$(basename "$db" .mmdb)
	out ""
	out "## $db ($(du -m "$db" | cut -f1) MB)"
	out "\$ glbd -etcd $ETCD -geoip $db -cache-file \"\" -geoip-poll 0 -dns $IP:$D -http $IP:$H -log-level debug${EXTRA[*]:+ ${EXTRA[*]}}"
	t0=$(now_ms)
	start_bg "$tag" "$MEASURED" -etcd "$ETCD" -geoip "$db" -cache-file "" -geoip-poll 0 -dns "$IP:$D" -http "$IP:$H" -log-level debug "${EXTRA[@]}"
	pid=$BG_PID
	first_answer "$pid" "$D" "$t0" "$tag"
	for _ in $(seq 1 1200); do [ "$(hist_count "$IP:$H" glb_server_scope_build_duration_seconds)" -ge 1 ] && break; sleep 0.05; done
	out "ECS scope tables in: $(($(now_ms) - t0)) ms after start; $(grep -o 'tables=.*' "$WORK/$tag.log" | head -1)"
	sleep 3
	out "memory at idle: $(mem "$pid" "$IP:$H")"
	"$GLBBENCH" stream -dns "$IP:$D" -rate "$RATE" -duration "${DUR}s" -names "$NAMES" >"$WORK/$tag.stream" 2>&1 || true
	out "after ${DUR} s at $RATE q/s: $(mem "$pid" "$IP:$H"); over 10 ms server-side: $(over10 "$IP:$H")"
	"$GLBBENCH" stream -dns "$IP:$D" -rate "$RATE" -duration 10s -names "$NAMES" >"$WORK/$tag.reload-stream" 2>&1 &
	spid=$!
	sleep 2
	builds=$(hist_count "$IP:$H" glb_server_scope_build_duration_seconds)
	t1=$(now_ms)
	kill -HUP "$pid"
	for _ in $(seq 1 3000); do grep -q "geoip database reloaded" "$WORK/$tag.log" && break; sleep 0.01; done
	out "SIGHUP reload under $RATE q/s: new database in use after $(($(now_ms) - t1)) ms"
	for _ in $(seq 1 1200); do [ "$(hist_count "$IP:$H" glb_server_scope_build_duration_seconds)" -gt "$builds" ] && break; sleep 0.05; done
	out "  its scope tables in after $(($(now_ms) - t1)) ms"
	wait "$spid" || true
	out "  the 10 s stream around it: $(grep -E 'answered|slower than' "$WORK/$tag.reload-stream" | tr -s ' \n' ' ')"
	out "  over 10 ms server-side since start: $(over10 "$IP:$H")"
	sleep 3
	out "memory after the reload: $(mem "$pid" "$IP:$H")"
	stop_bg "$pid"
	if $GDNSD; then measure_gdnsd "$db" "$tag"; fi
done
