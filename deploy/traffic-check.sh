#!/usr/bin/env bash
# traffic-check.sh: the traffic operations end to end, as an operator runs
# them, against glbd -dev with the real glbctl, etcdctl and dig.
#
#   deploy/traffic-check.sh [--ip 127.0.0.1] [--keep]
#   CITY_DB=/path/City.mmdb   use a real City database (default: the test one)
#   ASN_DB=/path/asn.mmdb     also load it with -geoip-asn and check an ASN pin
#
#   a. a three-step drain of eu-west, `glbctl drain eu-west --steps 50,10,0
#      --every 4s --expires 20s`, written by a glbctl that then exits; every
#      second until after the expiry, a timeline: the step in force as
#      `glbctl status` gives it, the share of eu-west in the answers to 20
#      London client /32s of www (geo: all of them while the weight is above
#      0) and to 200 of a `weighted` name over eu-west and eu-central (the
#      step's share, weight/(weight+100), within 15 points). The shares must
#      follow the steps and come back after the expiry.
#   b. a per-name drain: `glbctl drain eu-west --name www` moves www's London
#      clients off eu-west while api keeps them; undrain brings www back.
#   c. a pinned network (etcdctl): inside the pinned /24 the pin's region,
#      outside it GeoIP's, and both ECS scopes stay on their side of the pin;
#      `glbctl explain` names the pin.
#   d. admin state: `glbctl admin eu-west down --expires 6s` takes eu-west
#      out, then back when it expires; with eu-west's backend failing,
#      `admin eu-west up --expires 6s` answers with it until the expiry.
#   e. with ASN_DB: an ASN pin (AS20712, 81.2.64.0/18 in ip-location-db's
#      data; ASN_PIN and ASN_CLIENT change them): a client in the AS gets the
#      pin's region with a scope inside the AS's network, one outside does not.
#
# Loopback only: glbd's DNS on IP:5353, HTTP on IP:8053, its embedded etcd on
# IP:2379 and the dev backends on IP (or free ports there); bounded in time
# (about 75 s after the build); everything started is stopped at exit.
# Prints PASS/FAIL lines and exits 1 on any FAIL.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

IP=127.0.0.1
KEEP=false
while [ $# -gt 0 ]; do
	case "$1" in
	--ip) IP="$2"; shift 2 ;;
	--keep) KEEP=true; shift ;;
	*) echo "usage: $0 [--ip 127.0.x.y] [--keep]" >&2; exit 2 ;;
	esac
done
case "$IP" in 127.*) ;; *) echo "--ip: want a loopback address (127.x.y.z)" >&2; exit 2 ;; esac

ZONE=gslb.example.test
DNS_PORT=5353
HTTP=$IP:8053
export ETCDCTL_ENDPOINTS=$IP:2379
GO=${GO:-go}

log() { printf '%s\n' "$*" >&2; }
die() { log "$0: $*"; exit 1; }

# --- tools -----------------------------------------------------------------

need_tools() {
	local -A pkg=([dig]=bind9-dnsutils [etcdctl]=etcd-client [curl]=curl)
	local missing=() c
	for c in "${!pkg[@]}"; do command -v "$c" >/dev/null || missing+=("${pkg[$c]}"); done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
		log "installing ${missing[*]} from Debian"
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
			{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
	else
		die "missing ${missing[*]}: apt-get install ${missing[*]} (as root)"
	fi
}
need_tools

# --- glbd ------------------------------------------------------------------

WORK=$(mktemp -d /tmp/glb-traffic-check.XXXXXX)
GLBD_PID=
FAILS=0
cleanup() {
	if [ -n "$GLBD_PID" ]; then
		kill "$GLBD_PID" 2>/dev/null || true
		wait "$GLBD_PID" 2>/dev/null || true
	fi
	if $KEEP || [ "$FAILS" -gt 0 ]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { printf 'PASS %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*"; FAILS=$((FAILS + 1)); }

"$GO" build -o "$WORK/" ./cmd/glbd ./cmd/glbctl
GLBCTL=("$WORK/glbctl" --glbd "http://$HTTP")
# glbctl ARGS...: runs the real glbctl, its output indented; a failure is a FAIL.
glbctl() {
	local rc=0
	"${GLBCTL[@]}" "$@" >"$WORK/glbctl.out" 2>&1 || rc=$?
	sed 's/^/   /' "$WORK/glbctl.out"
	[ "$rc" = 0 ] || fail "glbctl $*: exit status $rc"
	return "$rc"
}

# The example configuration, its stand-in backends on our address.
sed "s/127\.0\.0\.1:180/$IP:180/g" testdata/dev/config.json >"$WORK/seed.json"
args=(-dev -dev-seed "$WORK/seed.json" -dns "$IP:$DNS_PORT" -http "$HTTP" -dev-etcd "$IP:2379")
[ -n "${CITY_DB:-}" ] && args+=(-geoip "$CITY_DB")
[ -n "${ASN_DB:-}" ] && args+=(-geoip-asn "$ASN_DB")
log "glbd ${args[*]}"
"$WORK/glbd" "${args[@]}" >"$WORK/glbd.log" 2>&1 &
GLBD_PID=$!
for _ in $(seq 150); do
	curl -sf "http://$HTTP/readyz" >/dev/null 2>&1 && break
	kill -0 "$GLBD_PID" 2>/dev/null || { cat "$WORK/glbd.log" >&2; die "glbd exited"; }
	sleep 0.2
done
curl -sf "http://$HTTP/readyz" >/dev/null || { cat "$WORK/glbd.log" >&2; die "glbd did not become ready"; }
log "glbd ready ($(sed -n 's/.*msg="glbd started".* geoip=\([^ ]*\).*/geoip \1/p' "$WORK/glbd.log"))"

# --- queries ---------------------------------------------------------------

EU_WEST='198\.51\.100\.1[01]|2001:db8:3::10'
US_EAST='192\.0\.2\.1[01]'

# clients FILE NAME N SUBNET_PREFIX: N queries of NAME from /32s of a /24.
clients() {
	local i
	for i in $(seq 1 "$3"); do
		printf '%s.%s A +subnet=%s.%d/32\n' "$2" "$ZONE" "$4" $(((i * 251) % 254 + 1))
	done >"$1"
}
# share FILE REGEX: "k n", the queries of FILE (one dig, in order) with an
# address matching REGEX in their answer, and the queries asked (a
# question line each: ";name. IN A"; dig's own ";;" lines are not).
share() {
	dig @"$IP" -p $DNS_PORT +noall +question +answer +tries=2 +time=2 -f "$1" |
		awk -v re="^($2)\$" '/^;;/ { next } /^;/ { n++; next } $4 == "A" || $4 == "AAAA" { if ($5 ~ re) hit[n] = 1 }
			END { print length(hit), n + 0 }'
}
# answer NAME CLIENT: "addresses... scope" of one query with ECS CLIENT.
answer() {
	dig @"$IP" -p $DNS_PORT +noall +answer +comments +tries=2 +time=2 "$1.$ZONE" A +subnet="$2" |
		awk '/CLIENT-SUBNET:/ { split($3, p, "/"); scope = p[3] } $4 == "A" { a = a $5 " " } END { print a scope }'
}
# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.25 s.
wait_for() {
	local secs=$1 what=$2 until=$((SECONDS + $1))
	shift 2
	while ! "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $until ] && { fail "$what (waited $secs s)"; return 1; }
		sleep 0.25
	done
}
# all_of / none_of FILE REGEX N: all N queries answered, all / none matching.
all_of() { [ "$(share "$1" "$2")" = "$3 $3" ]; }
none_of() { [ "$(share "$1" "$2")" = "0 $3" ]; }

clients "$WORK/www.q" www 20 81.2.69
clients "$WORK/api.q" api 20 81.2.69
clients "$WORK/split.q" split 200 81.2.69
"$WORK/glbctl" status >/dev/null || die "glbctl cannot read etcd at $ETCDCTL_ENDPOINTS"
etcdctl put /glb/zones/$ZONE/names/split '{"regions": ["eu-west", "eu-central"], "policy": "weighted", "answers": 1}' >/dev/null
# The dev prober's checks rise (2 x 1 s) before answers are steady.
wait_for 15 "baseline: www's London clients get eu-west (is 81.2.69.0/24 near London in this database?)" \
	all_of "$WORK/www.q" "$EU_WEST" 20 && pass "baseline: www's 20 London clients get eu-west"

# --- a. a three-step drain, glbctl gone ------------------------------------

# status_weight: "weight|schedule note" of eu-west as glbctl status prints it.
status_weight() {
	"$WORK/glbctl" status 2>/dev/null | awk '
		$1 == "eu-west" && w == "" { w = $2 }
		/^eu-west: drain schedule:/ { sub(/^eu-west: drain schedule: /, ""); sub(/,.*/, ""); note = $0 }
		END { printf "%s|%s\n", w, note }' || true
}

echo "== a. glbctl drain eu-west --steps 50,10,0 --every 4s --expires 20s"
t0=$(date +%s.%N)
glbctl drain eu-west --steps 50,10,0 --every 4s --expires 20s &&
	pass "glbctl drain wrote the schedule and exited ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f s", b - a }'))"
printf '%6s  %-24s  %-16s  %-18s  %s\n' t "glbctl status" "www eu-west" "split eu-west" check
steps_seen=" "
row_fails=0
# Steps begin on whole seconds (glbd's and glbctl's clock): sampling at
# half past keeps each row half a second from any step's instant.
base=$(awk -v a="$t0" 'BEGIN { b = int(a) + 0.5; if (b < a + 0.05) b += 1; printf "%.3f", b }')
for i in $(seq 0 25); do
	next=$(awk -v a="$base" -v i="$i" 'BEGIN { printf "%.3f", a + i }')
	now=$(date +%s.%N)
	sleep "$(awk -v n="$next" -v t="$now" 'BEGIN { d = n - t; print (d > 0 ? d : 0) }')"
	before=$(status_weight)
	read -r wk wn <<<"$(share "$WORK/www.q" "$EU_WEST")"
	read -r sk sn <<<"$(share "$WORK/split.q" "$EU_WEST")"
	after=$(status_weight)
	w=${before%%|*} note=${before#*|}
	[ -z "$note" ] && note="weight $w"
	t=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	verdict=ok
	if [ "$before" != "$after" ]; then
		verdict="(step changed during the row: not checked)"
	else
		steps_seen+="$w "
		wwant=$([ "$w" -gt 0 ] && echo "$wn" || echo 0)
		sok=$(awk -v k="$sk" -v n="$sn" -v w="$w" 'BEGIN { want = 100 * w / (w + 100); got = 100 * k / n
			d = got - want; print ((d < 0 ? -d : d) <= 15 ? "ok" : sprintf("want %.0f%%", want)) }')
		if [ "$wk" != "$wwant" ] || [ "$sok" != ok ] || [ "$wn" != 20 ] || [ "$sn" != 200 ]; then
			verdict="FAIL: www want $wwant/20, split $sok"
			row_fails=$((row_fails + 1))
		fi
	fi
	printf '%6s  %-24s  %-16s  %-18s  %s\n' "$t" "$note" "$wk/$wn" "$sk/$sn" "$verdict"
done
[ "$row_fails" = 0 ] && pass "a. every row's shares match the step in force" || fail "a. $row_fails rows' shares do not match the step in force"
for want in 50 10 0 100; do
	case "$steps_seen" in *" $want "*) ;; *) fail "a. weight $want never seen in force by glbctl status" ;; esac
done
case "$steps_seen" in *" 0 "*100*) pass "a. weights seen in order, back to 100 after the expiry:$steps_seen" ;;
*) fail "a. the weight did not come back after the expiry:$steps_seen" ;; esac

# --- b. a per-name drain ---------------------------------------------------

echo "== b. glbctl drain eu-west --name www"
glbctl drain eu-west --name www || true
wait_for 5 "b. www's London clients leave eu-west" none_of "$WORK/www.q" "$EU_WEST" 20 &&
	pass "b. www's 20 London clients: none get eu-west"
all_of "$WORK/api.q" "$EU_WEST" 20 && pass "b. api's 20 London clients still get eu-west" ||
	fail "b. api's London clients: $(share "$WORK/api.q" "$EU_WEST") get eu-west, want all"
glbctl undrain eu-west --name www || true
wait_for 5 "b. www's London clients back on eu-west after undrain --name" all_of "$WORK/www.q" "$EU_WEST" 20 &&
	pass "b. after undrain --name www: all 20 get eu-west again"

# --- c. a pinned network ---------------------------------------------------

# scope_at_least NAME CLIENT REGEX MIN: the answer matches REGEX and its ECS
# scope is MIN or longer (so the scoped prefix stays on its side of a /MIN).
scope_at_least() {
	local got
	got=$(answer "$1" "$2")
	printf '   %-10s %-18s -> %s (scope /%s)\n' "$1" "$2" "${got% *}" "${got##* }"
	[[ " ${got% *} " =~ \ ($3)\  ]] && [ "${got##* }" -ge "$4" ]
}

echo "== c. etcdctl put /glb/nets/tc '{\"office\": [\"81.2.69.0/24\"]}' and a name pinning it to us-east"
etcdctl put /glb/nets/tc '{"office": ["81.2.69.0/24"]}' >/dev/null
etcdctl put /glb/zones/$ZONE/names/intranet \
	'{"regions": ["us-east", "eu-west", "eu-central"], "pins": {"tc/office": ["us-east"]}}' >/dev/null
wait_for 5 "c. a client inside the pinned /24 gets us-east" scope_at_least intranet 81.2.69.160/32 "$US_EAST" 24 &&
	scope_at_least intranet 81.2.69.160/32 "$US_EAST" 24 &&
	pass "c. inside the pin: us-east, scope inside 81.2.69.0/24"
# 81.2.70.0/23 is the widest prefix around 81.2.70.10 that leaves the pin out.
scope_at_least intranet 81.2.70.10/32 "$EU_WEST" 23 &&
	pass "c. outside the pin (London): eu-west by GeoIP, scope clear of 81.2.69.0/24" ||
	fail "c. outside the pin: want eu-west with a scope of /23 or longer"
"${GLBCTL[@]}" explain intranet 81.2.69.160 >"$WORK/explain.txt" 2>&1 || true
grep -q 'pinned: tc/office' "$WORK/explain.txt" &&
	pass "c. glbctl explain: $(grep -m1 'pinned: tc/office' "$WORK/explain.txt" | sed 's/^ *//')" ||
	fail "c. glbctl explain does not name the pin tc/office: $(head -5 "$WORK/explain.txt")"

# --- d. admin state --------------------------------------------------------

echo "== d. glbctl admin eu-west down --expires 6s"
glbctl admin eu-west down --expires 6s || true
t1=$SECONDS
wait_for 3 "d. admin down takes eu-west out" none_of "$WORK/www.q" "$EU_WEST" 20 &&
	pass "d. admin down: none of www's London clients get eu-west"
status=$("$WORK/glbctl" status 2>&1) || true
grep -q 'admin down until' <<<"$status" && pass "d. glbctl status shows the admin state" ||
	fail "d. glbctl status does not show 'admin down until'"
wait_for 10 "d. eu-west back after the admin state expired" all_of "$WORK/www.q" "$EU_WEST" 20 &&
	pass "d. expired after $((SECONDS - t1)) s (--expires 6s, checked each second): eu-west again"

backend=$(awk '$1 == "eu-west" && match($0, / http [0-9.]+:[0-9]+ /) { print substr($0, RSTART + 6, RLENGTH - 7); exit }' <<<"$status")
echo "== d. eu-west's backend ($backend) fails; glbctl admin eu-west up --expires 6s"
curl -sf -X POST "http://$backend/fail" >/dev/null || fail "d. cannot make eu-west's backend fail at $backend"
wait_for 10 "d. the probers take eu-west out when its backend fails" none_of "$WORK/www.q" "$EU_WEST" 20 &&
	pass "d. backend failing: eu-west out by the probers"
glbctl admin eu-west up --expires 6s || true
t1=$SECONDS
wait_for 3 "d. admin up answers with eu-west despite the probers" all_of "$WORK/www.q" "$EU_WEST" 20 &&
	pass "d. admin up: all 20 get eu-west though the probers say down"
wait_for 10 "d. the probers decide again after admin up expired" none_of "$WORK/www.q" "$EU_WEST" 20 &&
	pass "d. admin up expired after $((SECONDS - t1)) s: eu-west out again"
curl -sf -X POST "http://$backend/recover" >/dev/null || true
wait_for 10 "d. eu-west back when its backend recovers" all_of "$WORK/www.q" "$EU_WEST" 20 &&
	pass "d. backend recovered: eu-west again"

# --- e. an ASN pin ---------------------------------------------------------

if [ -n "${ASN_DB:-}" ]; then
	ASN_PIN=${ASN_PIN:-AS20712} ASN_CLIENT=${ASN_CLIENT:-81.2.70.10} ASN_SCOPE=${ASN_SCOPE:-18}
	echo "== e. etcdctl put /glb/nets/isp '{\"aaisp\": [\"$ASN_PIN\"]}' and a name pinning it to us-east"
	etcdctl put /glb/nets/isp "{\"aaisp\": [\"$ASN_PIN\"]}" >/dev/null
	etcdctl put /glb/zones/$ZONE/names/isp '{"regions": ["us-east", "eu-west", "eu-central"], "pins": {"isp/aaisp": ["us-east"]}}' >/dev/null
	wait_for 5 "e. a client in $ASN_PIN gets us-east" scope_at_least isp "$ASN_CLIENT/32" "$US_EAST" "$ASN_SCOPE" &&
		scope_at_least isp "$ASN_CLIENT/32" "$US_EAST" "$ASN_SCOPE" &&
		pass "e. $ASN_CLIENT in $ASN_PIN: us-east, scope /$ASN_SCOPE or longer"
	scope_at_least isp 89.160.20.10/32 "198\.51\.100\.20" 1 &&
		pass "e. 89.160.20.10 (Sweden, not in $ASN_PIN): eu-central by GeoIP" ||
		fail "e. 89.160.20.10: want eu-central by GeoIP"
	"${GLBCTL[@]}" explain isp "$ASN_CLIENT" >"$WORK/explain-asn.txt" 2>&1 || true
	grep -q "by ASN $ASN_PIN" "$WORK/explain-asn.txt" &&
		pass "e. glbctl explain: $(grep -m1 'pinned:' "$WORK/explain-asn.txt" | sed 's/^ *//')" ||
		fail "e. glbctl explain does not say the client is pinned by $ASN_PIN"
else
	echo "== e. skipped: ASN_DB is not set"
fi

echo "traffic-check: $FAILS failed ($( [ -n "${CITY_DB:-}" ] && echo "CITY_DB=$CITY_DB" || echo "test GeoIP database")${ASN_DB:+, ASN_DB=$ASN_DB})"
[ "$FAILS" = 0 ]
