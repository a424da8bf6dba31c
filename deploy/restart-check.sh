#!/usr/bin/env bash
# restart-check.sh: rolling restarts of real glbd processes under steady load,
# counting lost queries. Loopback only, bounded in count and time.
#
#   deploy/restart-check.sh                 10 restarts, once as the host is set up
#                                           and, as root, once more in a private
#                                           network namespace with tcp_migrate_req=1
#   deploy/restart-check.sh --restarts N    N restarts per run (1..1000)
#   deploy/restart-check.sh --host-only     only the run with the host's settings
#
# Each run is TestRollingRestartProcesses (cmd/glbd/restart_test.go): it
# builds glbd, starts it against an embedded etcd on 127.0.0.1, and runs 32
# UDP clients (one socket each, so the flows reach every socket of the port)
# and 4 TCP clients (a connection per query), one query at a time each;
# a query not answered NOERROR within 1 s is lost. Each restart starts the
# next glbd on the same -dns address (SO_REUSEPORT), waits for its /readyz,
# then SIGTERMs the old one, as deploy/systemd/glbd-rolling-restart does.
#
# UDP must lose nothing. TCP loses the connections queued on the old
# listener when it closes unless net.ipv4.tcp_migrate_req=1 moves them to
# the new one (kernel >= 5.14); the second run shows that without changing
# the host's setting: `unshare --net` gives it its own loopback and sysctls.
# TCP must lose nothing there; with the host's setting at 0 its loss is
# printed, not failed.
#
# Prints one line per run:
#   restart-check: restarts=10 seconds=... udp_sent=... udp_answered=... udp_lost=0 tcp_sent=... tcp_lost=... tcp_migrate_req=...
# and exits 1 if a run fails (a UDP query lost, a TCP query lost with
# tcp_migrate_req=1, a glbd that did not stop cleanly).
set -euo pipefail
cd "$(dirname "$0")/.."

restarts=10
host_only=0
while [ $# -gt 0 ]; do
	case "$1" in
	--restarts) restarts="$2"; shift 2 ;;
	--host-only) host_only=1; shift ;;
	*) echo "usage: $0 [--restarts N] [--host-only]" >&2; exit 2 ;;
	esac
done
case "$restarts" in ''|*[!0-9]*) echo "--restarts: want a number" >&2; exit 2 ;; esac

GO=${GO:-go}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
# Compiled once, run in each setting; run from cmd/glbd for its relative test data.
"$GO" test -c -o "$bin/glbd.test" ./cmd/glbd

run() { # label, command prefix...
	local label=$1; shift
	echo "== $label"
	local out=$bin/out.txt status=0
	(cd cmd/glbd && GLB_RESTARTS=$restarts GOROOT="$("$GO" env GOROOT)" timeout 600 "$@" "$bin/glbd.test" \
		-test.run '^TestRollingRestartProcesses$' -test.count=1 -test.v -test.timeout 590s) >"$out" 2>&1 || status=$?
	grep -o 'restart-check: .*' "$out" || true
	# The kernel migrates the old listener's queue: glbd has no excuse.
	if [ "$status" = 0 ] && grep -q 'tcp_migrate_req=true' "$out" && ! grep -q ' tcp_lost=0 ' "$out"; then
		echo "TCP queries lost with tcp_migrate_req=1: want 0"
		status=1
	fi
	if [ "$status" != 0 ]; then
		grep -E -- '--- FAIL|restart_test.go' "$out" | grep -v 'restart-check:' | head -20
		echo "FAIL ($label)"
	fi
	return "$status"
}

failed=0
run "host settings (net.ipv4.tcp_migrate_req=$(cat /proc/sys/net/ipv4/tcp_migrate_req 2>/dev/null || echo ?))" env || failed=1
if [ "$host_only" = 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v ip >/dev/null; then
		run "private network namespace, net.ipv4.tcp_migrate_req=1" \
			unshare --net sh -c 'ip link set lo up && sysctl -qw net.ipv4.tcp_migrate_req=1 && exec "$@"' sh || failed=1
	else
		echo "== private network namespace run skipped: needs root, unshare and ip"
	fi
fi
exit "$failed"
