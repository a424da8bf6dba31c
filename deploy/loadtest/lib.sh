# shellcheck shell=bash
# lib.sh: helpers shared by deploy/loadtest/propagation.sh, scale.sh, startup.sh,
# dnssec.sh and scope-compare.sh (run.sh shares write_query_files).
# Sourced, not run. Expects ROOT and WORK to be set and `set -euo pipefail`.
#
# Every process started with start_bg is a child started under
# `setpriv --pdeathsig KILL` and is stopped by stop_all (SIGTERM, then
# SIGKILL after 10 s), which the scripts call from their EXIT trap.

log() { printf '[%3ds] %s\n' "$SECONDS" "$*" >&2; }
die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# out prints a report line and keeps it in $WORK/report.txt.
out() { printf '%s\n' "$*" | tee -a "$WORK/report.txt"; }

# need_tools installs the Debian packages of missing commands (as root).
# Arguments are command:package pairs.
need_tools() {
	local need=() pair cmd pkg
	for pair in "$@"; do
		cmd=${pair%%:*} pkg=${pair#*:}
		command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
	done
	command -v go >/dev/null || die "go is not on PATH (see go.mod for the version)"
	[ ${#need[@]} -eq 0 ] && return 0
	mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		die "missing ${need[*]}: install them (Debian package names) or run as root on Debian"
	fi
	log "installing ${need[*]} with apt-get"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"; } >&2 ||
		die "apt-get install ${need[*]} failed"
}

# build compiles glbd and glbbench into bin/ and copies them into $WORK, so
# that someone rebuilding bin/ meanwhile does not change what is measured.
build() {
	log "building (go build -o bin/ ./cmd/glbd ./cmd/glbbench)"
	(cd "$ROOT" && go build -o bin/ ./cmd/glbd ./cmd/glbbench) || die "go build failed"
	mkdir -p "$WORK/bin"
	cp "$ROOT/bin/glbd" "$ROOT/bin/glbbench" "$WORK/bin/"
	# shellcheck disable=SC2034 # used by the scripts that source this file
	GLBD=$WORK/bin/glbd GLBBENCH=$WORK/bin/glbbench
	COMMIT=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [ -n "$(cd "$ROOT" && git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
		COMMIT="$COMMIT (tree has uncommitted changes: $(cd "$ROOT" && git diff --name-only HEAD | tr '\n' ' '))"
	fi
}

# make_big_db: write $BIG_DB, the generated 1M-network City database,
# when it is missing (through a temporary file, removed on failure).
make_big_db() {
	[ -s "$BIG_DB" ] && return 0
	log "generating $BIG_DB (1,000,000 random networks, seed 1; ~1.5 GB RAM, up to a minute or two)"
	(cd "$ROOT" && timeout 600 go run ./cmd/mkmmdb -random 1000000 -seed 1 -out "$BIG_DB.tmp.$$") ||
		{ rm -f "$BIG_DB.tmp.$$"; die "generating $BIG_DB failed"; }
	mv "$BIG_DB.tmp.$$" "$BIG_DB"
}

# free_port [IP] prints a port of IP (default 127.0.0.1) that is free for
# both UDP and TCP.
free_port() {
	FREE_PORT_IP=${1:-127.0.0.1} python3 - <<'EOF'
import os, socket
ip = os.environ["FREE_PORT_IP"]
for _ in range(50):
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind((ip, 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind((ip, port))
    except OSError:
        t.close(); continue
    u.close(); t.close(); print(port); break
else:
    raise SystemExit("no free port")
EOF
}

PIDS=()
# start_bg NAME CMD...: start CMD in the background, output to $WORK/NAME.log;
# sets BG_PID.
start_bg() {
	local name=$1
	shift
	setpriv --pdeathsig KILL "$@" >"$WORK/$name.log" 2>&1 &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

# stop_pid PID: SIGTERM, up to 10 s, then SIGKILL.
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# stop_bg PID: stop_pid, and forget PID so stop_all does not signal it again
# (its number could be reused meanwhile).
stop_bg() {
	local i
	stop_pid "$1"
	for i in "${!PIDS[@]}"; do
		if [ "${PIDS[i]}" = "$1" ]; then unset 'PIDS[i]'; fi
	done
	PIDS=("${PIDS[@]}")
}

# cleanup_traps installs the exit handling the scripts share: on exit, or on
# INT/TERM, stop_all, then the script's own on_cleanup if it defines one
# (extra files, copying the report to --out), then keep $WORK with --keep
# ($KEEP) or remove it; the exit status is kept.
cleanup_traps() {
	trap _cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# shellcheck disable=SC2317 # invoked by the EXIT trap
_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_all
	if declare -F on_cleanup >/dev/null; then on_cleanup; fi
	if $KEEP; then log "kept $WORK"; else rm -rf "$WORK"; fi
	exit "$rc"
}

# write_query_files writes dnsperf's query files for $FQDN in $ZONE to
# $WORK: q-mix.txt (40 % A, 40 % AAAA, 20 % missing names, A and AAAA) and
# q-www.txt (A and AAAA by turns).
write_query_files() {
	local i
	for i in $(seq 0 999); do
		case $((i % 10)) in
		[0-3]) echo "$FQDN A" ;;
		[4-7]) echo "$FQDN AAAA" ;;
		8) echo "nx-$i.$ZONE A" ;;
		9) echo "nx-$i.$ZONE AAAA" ;;
		esac
	done >"$WORK/q-mix.txt"
	for i in $(seq 0 999); do
		if [ $((i % 2)) = 0 ]; then echo "$FQDN A"; else echo "$FQDN AAAA"; fi
	done >"$WORK/q-www.txt"
}

# stop_all stops every process start_bg started, newest first.
stop_all() {
	local i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		stop_pid "${PIDS[i]}"
	done
	PIDS=()
}

# wait_ready PID HTTP NAME: wait (at most 180 s) until glbd answers 200 on
# /readyz; dies if the process exits.
wait_ready() {
	local pid=$1 http=$2 name=$3 i
	for i in $(seq 1 900); do
		kill -0 "$pid" 2>/dev/null || { tail -20 "$WORK/$name.log" >&2; die "$name exited"; }
		if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://$http/readyz")" = 200 ]; then
			return 0
		fi
		sleep 0.2
	done
	tail -20 "$WORK/$name.log" >&2
	die "$name not ready within 180 s"
}

# owns_port PID PORT: PID holds UDP PORT (not some other process).
owns_port() {
	ss -Hlunp "sport = :$2" 2>/dev/null | grep -q "pid=$1,"
}

# cpu_ticks PID: utime+stime of a process (all threads), in clock ticks.
cpu_ticks() {
	local s
	s=$(<"/proc/$1/stat") || die "process $1 is gone"
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	echo $((${12} + ${13}))
}

# settle PID: wait until the process uses under 10 % of a CPU for 3 s in a
# row (start-up, ECS scope tables), at most MAX s (default 300).
settle() {
	local pid=$1 max=${2:-300} prev cur calm=0 i lim
	lim=$(($(getconf CLK_TCK) / 10))
	prev=$(cpu_ticks "$pid")
	for i in $(seq 1 "$max"); do
		sleep 1
		cur=$(cpu_ticks "$pid")
		if [ $((cur - prev)) -lt "$lim" ]; then calm=$((calm + 1)); else calm=0; fi
		prev=$cur
		[ $calm -ge 3 ] && return 0
	done
	log "process $pid still busy after $max s; going on"
}

# mem PID HTTP: one line of memory figures: VmRSS (RssAnon + RssFile +
# RssShmem) and VmHWM from /proc/PID/status, and from glbd's /metrics Go's
# heap in use, the next GC's heap goal (with GOGC=100 twice the heap that
# was live after the last GC) and all memory the runtime holds, in MiB.
mem() {
	local pid=$1 http=$2 st m
	st=$(awk '/^(VmRSS|VmHWM|RssAnon|RssFile|RssShmem):/ {printf "%s %.1f ", $1, $2/1024}' "/proc/$pid/status")
	m=$(curl -s --max-time 60 "http://$http/metrics" | awk '
		/^go_memstats_heap_inuse_bytes / {printf "go_heap_inuse: %.1f ", $2/1048576}
		/^go_memstats_next_gc_bytes / {printf "go_next_gc: %.1f ", $2/1048576}
		/^go_memstats_sys_bytes / {printf "go_sys: %.1f ", $2/1048576}' || true)
	echo "${st}${m}(MiB)"
}

# metric HTTP NAME: the lines of one metric (all its series) from /metrics.
metric() {
	curl -s --max-time 60 "http://$1/metrics" | grep -E "^$2(_bucket|_sum|_count)?[ {]" || true
}

# hist_count HTTP NAME: the _count of a histogram (0 when absent).
hist_count() {
	local v
	v=$(curl -s --max-time 60 "http://$1/metrics" | awk -v n="$2_count" '$1 == n {print $2}' || true)
	echo "${v:-0}"
}
