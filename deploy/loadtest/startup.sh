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
	*) echo "usage: $0 [--db FILE] [--glbd FILE] [--rate Q] [--duration S] [--names N] [--ip A] [--glbd-flags F] [--keep]" >&2; exit 2 ;;
	esac
	shift
done
BIG_DB=${BIG_DB:-/tmp/glb-loadtest-big.mmdb}

WORK=$(mktemp -d /tmp/glb-startup.XXXXXX)
# shellcheck source=deploy/loadtest/lib.sh
. "$ROOT/deploy/loadtest/lib.sh"
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_all
	if $KEEP; then log "kept $WORK"; else rm -rf "$WORK"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

need_tools jq:jq python3:python3 dig:bind9-dnsutils setpriv:util-linux curl:curl
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
	first=""
	for _ in $(seq 1 3000); do
		kill -0 "$pid" 2>/dev/null || { tail -20 "$WORK/$tag.log" >&2; die "glbd exited"; }
		a=$(dig +tries=1 +time=1 +norec "@$IP" -p "$D" n00000.gslb.example.test A +subnet=81.2.69.0/24 2>/dev/null || true)
		if grep -q "status: NOERROR" <<<"$a" && grep -qP "\tIN\tA\t" <<<"$a"; then first=$(($(now_ms) - t0)); break; fi
		sleep 0.01
	done
	[ -n "$first" ] || die "no answer within 30 s"
	out "first correct answer: $first ms after start"
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
done
