#!/usr/bin/env bash
# protocol-check.sh: glbd checked by third-party DNS software.
#
#   1. dnsviz probe + grok of the zone gslb.example.test against glbd, with
#      the delegation (NS + glue) given to dnsviz so that it also checks NS
#      and glue consistency, and EDNS compatibility queries (-E): any error
#      or warning fails.
#   2. Unbound as a real recursive resolver in front of glbd: a stub-zone for
#      the zone, module-config "subnetcache iterator", send-client-subnet for
#      127.0.0.0/8. dig asks Unbound with ECS from several continents: the
#      answer must be the one glbd gives for that subnet directly, the
#      answers must differ between continents, and Unbound must cache per
#      ECS scope: a subnet inside a cached answer's scope is answered
#      without a query to glbd (glb_dns_queries_total unchanged), one outside
#      it is not.
#   3. DNSSEC: dev mode signs the zone and prints its DS (the trust anchor).
#      delv validates with it (steered answers, SOA, NS, DNSKEY, a missing
#      name, a missing type), and a validating Unbound (validator module,
#      the DS as trust anchor, ECS) sets AD on steered answers from three
#      continents, a missing name and a missing type. dnsviz (1.) gets the
#      DS in its delegation and grok the zone's DNSKEY as trust anchor.
#      With GLB_DNS, GLB_ANCHOR="<the DS record>" enables this part.
#
#   deploy/protocol-check.sh            run everything; PASS/FAIL lines; exit 1 on any FAIL
#   deploy/protocol-check.sh --keep     keep the working directory (logs, dnsviz output)
#   deploy/protocol-check.sh --bin DIR  use DIR/glbd instead of building bin/glbd
#
# Isolation: by default the whole check re-runs itself in a new network
# namespace (unshare -n, as root) that has only the loopback interface.
# dnsviz follows the zone's NS records and, for names it cannot place,
# starts from the root servers: in the namespace nothing can leave the
# machine, and glbd can listen on 127.0.0.1:53 (where dnsviz and Unbound
# find the zone's name server through its glue) without touching the ports
# other people use. glbd runs in dev mode with the example configuration,
# its NS set replaced by ns1.gslb.example.test with glue 127.0.0.1.
#
# GLB_DNS=ip:port GLB_HTTP=ip:port use a running glbd instead (no
# namespace; its zone must be the dev example's). dnsviz will then query
# whatever the zone's NS records name, which may not be on loopback.
#
# Needs dig, curl, python3; as root on Debian it installs what is missing
# (dnsviz, unbound, bind9 and bind9-utils for dnsviz -N, bind9-dnsutils
# for dig and delv, python3-pygraphviz for dnsviz grok -t, curl), with the packages' own services kept from starting.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/bin
BUILD=true
KEEP=false
while [ $# -gt 0 ]; do
	case $1 in
	--keep) KEEP=true ;;
	--bin) BIN=$(cd "${2:?--bin needs a directory}" && pwd); BUILD=false; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "$0: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done

ZONE=gslb.example.test
UNBOUND_PORT=5300

log() { printf '%s\n' "$*" >&2; }
die() { log "$0: $*"; exit 1; }

# --- tools (in the host namespace: apt needs the network) -------------------

need_tools() {
	# named and named-checkconf: dnsviz serves the -N delegation with them.
	local -A pkg=([dnsviz]=dnsviz [unbound]=unbound [dig]=bind9-dnsutils [curl]=curl [python3]=python3
		[named]=bind9 [named-checkconf]=bind9-utils)
	local missing=() c
	for c in "${!pkg[@]}"; do
		command -v "$c" >/dev/null || [ -x "/usr/sbin/$c" ] || missing+=("${pkg[$c]}")
	done
	# dnsviz grok -t (the trust anchor of part 3) needs pygraphviz.
	/usr/bin/python3 -c 'import pygraphviz' 2>/dev/null || missing+=(python3-pygraphviz)
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
		log "installing ${missing[*]} from Debian"
		# policy-rc.d keeps the packages' own services (unbound on port 53)
		# from starting: this script runs its own.
		local prc=/usr/sbin/policy-rc.d created=false
		if [ ! -e $prc ]; then printf '#!/bin/sh\nexit 101\n' >$prc; chmod +x $prc; created=true; fi
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
			{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
		if $created; then rm -f $prc; fi
	else
		die "missing ${missing[*]}: apt-get install ${missing[*]} (as root)"
	fi
}

if [ -z "${GLB_PROTOCOL_CHECK_INNER:-}" ]; then
	need_tools
	if $BUILD; then
		(cd "$ROOT" && go build -o bin/ ./cmd/glbd)
	fi
	if [ -z "${GLB_DNS:-}" ]; then
		[ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null ||
			die "the isolated run needs root and unshare(1); or set GLB_DNS and GLB_HTTP to a running glbd"
		# Run again in a namespace of our own; its only interface is lo.
		args=(--bin "$BIN")
		$KEEP && args+=(--keep)
		exec unshare --net -- env GLB_PROTOCOL_CHECK_INNER=1 "$0" "${args[@]}"
	fi
fi
PATH=$PATH:/usr/sbin

# --- working directory, processes, cleanup ----------------------------------

WORK=$(mktemp -d /tmp/glb-protocol-check.XXXXXX)
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	if $KEEP || [ "${FAILS:-1}" -gt 0 ]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FAILS=0
pass() { printf 'PASS %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*"; FAILS=$((FAILS + 1)); }

if [ -n "${GLB_PROTOCOL_CHECK_INNER:-}" ]; then
	ip link set lo up
	DNS_IP=127.0.0.1 DNS_PORT=53 HTTP=127.0.0.1:8053
	# The example configuration, with a name server that is this glbd.
	python3 - "$ROOT/testdata/dev/config.json" "$WORK/seed.json" <<'EOF'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["zones"]["gslb.example.test"]["ns"] = [{"name": "ns1.gslb.example.test", "addrs": ["127.0.0.1"]}]
json.dump(cfg, open(sys.argv[2], "w"), indent=1)
EOF
	(cd "$ROOT" && exec "$BIN/glbd" -dev -dev-seed "$WORK/seed.json" -dns "$DNS_IP:$DNS_PORT" -http "$HTTP" \
		-dev-etcd 127.0.0.1:2379 -log-level warn >"$WORK/glbd.log" 2>&1) &
	PIDS+=($!)
	for _ in $(seq 100); do
		curl -sf "http://$HTTP/readyz" >/dev/null 2>&1 && break
		sleep 0.2
	done
	curl -sf "http://$HTTP/readyz" >/dev/null || { cat "$WORK/glbd.log" >&2; die "glbd did not become ready"; }
	# Let the dev prober's checks rise (rise 2 x 1 s), so answers are steady.
	sleep 3
	# The trust anchor dev mode printed: "  <zone>. 3600 IN DS <tag> 13 2 <digest>".
	ANCHOR=$(sed -n 's/^ *\([^ ]* [0-9]* IN DS .*\)$/\1/p' "$WORK/glbd.log" | head -1)
else
	DNS_IP=${GLB_DNS%:*} DNS_PORT=${GLB_DNS##*:} HTTP=${GLB_HTTP:?GLB_HTTP=ip:port of the running glbd}
	ANCHOR=${GLB_ANCHOR:-}
fi
DNSVIZ_DS=() GROK_TA=()
if [ -n "$ANCHOR" ]; then
	log "trust anchor: $ANCHOR"
	printf '%s\n' "$ANCHOR" >"$WORK/ds.txt"
	dig +time=2 +tries=1 +norec +short "@$DNS_IP" -p "$DNS_PORT" "$ZONE" DNSKEY | sed "s/^/$ZONE. 3600 IN DNSKEY /" >"$WORK/dnskey.txt"
	DNSVIZ_DS=(-D "$ZONE:$WORK/ds.txt") GROK_TA=(-t "$WORK/dnskey.txt")
fi
log "glbd: dns $DNS_IP port $DNS_PORT, http $HTTP; work dir $WORK"

# --- 1. dnsviz -------------------------------------------------------------------

# -A: analyse authoritative servers, from the zone down (nothing above it
# is queried: the zone is not delegated anywhere real); -N: the delegation
# a parent would publish, ns1 with glue 127.0.0.1 (dnsviz serves it with a
# named of its own), through which dnsviz finds glbd on port 53 and against
# which it checks the zone's own NS set and glue; -E: EDNS compatibility
# queries.
if timeout 300 dnsviz probe -A -E -N "$ZONE:ns1.$ZONE=$DNS_IP" "${DNSVIZ_DS[@]}" \
	-R A,AAAA,NS,SOA,TXT,MX -o "$WORK/probe.json" "$ZONE" "www.$ZONE" "api.$ZONE" "nothere.$ZONE" \
	2>"$WORK/dnsviz-probe.log"; then
	pass "dnsviz probe of $ZONE (and www, api, a missing name)"
else
	fail "dnsviz probe exited with $? (see $WORK/dnsviz-probe.log)"
fi
# Debian 12's dnsviz looks for pygraphviz.release, which its pygraphviz
# (1.7) no longer has, and refuses -t: give it one.
dnsviz_ta() {
	/usr/bin/python3 - "$@" <<'EOF'
import runpy, sys, types, pygraphviz
if not hasattr(pygraphviz, "release"):
    m = types.ModuleType("pygraphviz.release")
    m.version = pygraphviz.__version__
    sys.modules["pygraphviz.release"] = pygraphviz.release = m
sys.argv = ["dnsviz"] + sys.argv[1:]
runpy.run_path("/usr/bin/dnsviz", run_name="__main__")
EOF
}
dnsviz_ta grok "${GROK_TA[@]}" -r "$WORK/probe.json" -o "$WORK/grok.json" 2>"$WORK/dnsviz-grok.log" || true
dnsviz_ta print "${GROK_TA[@]}" -r "$WORK/probe.json" -o "$WORK/print.txt" 2>/dev/null || true
# grok prints the whole analysis as JSON (with -l warning it prints nothing
# when all is well, which cannot be told from a grok that did not run); an
# "errors" or "warnings" list anywhere in it is a finding, except two that
# only say the name server is on a private address, which a check on
# loopback cannot avoid: they are printed, not counted.
if findings=$(python3 - "$WORK/grok.json" <<'EOF'
import json, sys
out = []
LOOPBACK_ONLY = {"NS_NAME_PRIVATE_IP", "GLUE_PRIVATE_IP"}
def walk(node, path):
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("errors", "warnings") and v:
                for item in v:
                    if item.get("code") in LOOPBACK_ONLY:
                        print("ignored (the name server is on loopback here): %s" % item["code"], file=sys.stderr)
                        continue
                    out.append("%s %s: %s: %s" % (path, k[:-1], item.get("code", "?"), item.get("description", item)))
            else:
                walk(v, path + "/" + k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk(v, path)
try:
    doc = json.load(open(sys.argv[1]))
    if "gslb.example.test." not in doc:
        out.append("grok output has no analysis of the zone")
    walk(doc, "")
except Exception as e:
    out.append("cannot read grok output: %s" % e)
print("\n".join(out))
sys.exit(1 if out else 0)
EOF
); then
	pass "dnsviz grok: no errors or warnings"
else
	fail "dnsviz grok found:"
	printf '  %s\n' "$findings"
fi

# --- 2. Unbound with ECS ------------------------------------------------------

cat >"$WORK/unbound.conf" <<EOF
server:
	interface: 127.0.0.1
	port: $UNBOUND_PORT
	do-daemonize: no
	use-syslog: no
	logfile: ""
	verbosity: 1
	username: ""
	chroot: ""
	directory: "$WORK"
	pidfile: "$WORK/unbound.pid"
	access-control: 127.0.0.0/8 allow
	# glbd is on loopback, which Unbound refuses to query by default.
	do-not-query-localhost: no
	# test. is special-use (RFC 6761) and blocked by default.
	local-zone: "test." nodefault
	qname-minimisation: no
	prefetch: no
	# No validator: the zone is unsigned and has no trust anchor.
	module-config: "subnetcache iterator"
	# Send ECS to servers on loopback: the client's own option when it
	# sends one, else the client's address.
	send-client-subnet: 127.0.0.0/8
	max-client-subnet-ipv4: 24
	max-client-subnet-ipv6: 56
stub-zone:
	name: "$ZONE"
	stub-addr: $DNS_IP@$DNS_PORT
EOF
unbound-checkconf "$WORK/unbound.conf" >/dev/null || die "unbound-checkconf $WORK/unbound.conf failed"
unbound -d -c "$WORK/unbound.conf" >"$WORK/unbound.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do
	dig +time=1 +tries=1 @127.0.0.1 -p $UNBOUND_PORT "mail.$ZONE" A >/dev/null 2>&1 && break
	sleep 0.2
done

# addrs SERVER PORT NAME SUBNET [rd]: the sorted answer addresses, one line.
addrs() {
	dig +time=2 +tries=1 +short "@$1" -p "$2" "$3" A "+subnet=$4" ${5:-+norec} | sort | paste -sd' '
}
# scope SERVER PORT NAME SUBNET: the ECS scope prefix length of the reply.
scope() {
	dig +time=2 +tries=1 "@$1" -p "$2" "$3" A "+subnet=$4" +norec | sed -n 's/.*CLIENT-SUBNET: [^/]*\/[0-9]*\/\([0-9]*\).*/\1/p'
}
# queries: glbd's count of answered queries, all labels.
queries() {
	curl -sf "http://$HTTP/metrics" | awk '/^glb_dns_queries_total[{ ]/ { n += $NF } END { printf "%d\n", n }'
}

# Warm Unbound up: it learns the zone's name servers (NS, their address)
# with its first query; later ones go straight to the answer.
dig +short @127.0.0.1 -p $UNBOUND_PORT "api.$ZONE" A +subnet=91.198.174.0/24 >/dev/null
sleep 1

# Subnets of the test GeoIP database on three continents, and what glbd
# answers for each directly.
declare -A WANT
for s in 81.2.69.0/24 216.160.83.0/24 133.242.1.0/24; do
	WANT[$s]=$(addrs $DNS_IP $DNS_PORT "www.$ZONE" $s)
done
if [ "${WANT[81.2.69.0/24]}" != "${WANT[216.160.83.0/24]}" ] && [ "${WANT[216.160.83.0/24]}" != "${WANT[133.242.1.0/24]}" ] &&
	[ "${WANT[81.2.69.0/24]}" != "${WANT[133.242.1.0/24]}" ] && [ -n "${WANT[81.2.69.0/24]}" ]; then
	pass "glbd answers differ by subnet: London [${WANT[81.2.69.0/24]}], Milton WA [${WANT[216.160.83.0/24]}], Tokyo [${WANT[133.242.1.0/24]}]"
else
	fail "glbd answers do not differ by subnet: ${WANT[*]}"
fi

for s in 81.2.69.0/24 216.160.83.0/24 133.242.1.0/24; do
	before=$(queries)
	got=$(addrs 127.0.0.1 $UNBOUND_PORT "www.$ZONE" $s +rec)
	after=$(queries)
	if [ "$got" = "${WANT[$s]}" ] && [ "$after" -gt "$before" ]; then
		pass "Unbound with ECS $s: [$got], as glbd answers it (glbd asked $((after - before)) time(s))"
	else
		fail "Unbound with ECS $s: [$got], glbd directly: [${WANT[$s]}]; glbd queries $before -> $after"
	fi
done

# Per-scope caching. Tokyo's network in the test database is 133.242.0.0/16,
# so glbd answers 133.242.1.0/24 with scope /16: another /24 inside it must
# come from Unbound's cache, one outside it (133.243.1.0/24) must not.
tokyo_scope=$(scope $DNS_IP $DNS_PORT "www.$ZONE" 133.242.1.0/24)
if [ "$tokyo_scope" = 16 ]; then
	pass "glbd's ECS scope for 133.242.1.0/24 is /16 (the GeoIP network)"
else
	fail "glbd's ECS scope for 133.242.1.0/24 is /$tokyo_scope, want /16"
fi
check_cached() { # SUBNET WANT(hit|miss) WHY
	local before got after
	before=$(queries)
	got=$(addrs 127.0.0.1 $UNBOUND_PORT "www.$ZONE" "$1" +rec)
	after=$(queries)
	if [ "$2" = hit ] && [ "$after" -eq "$before" ] && [ "$got" = "${WANT[133.242.1.0/24]}" ]; then
		pass "Unbound answers $1 from its cache ($3): [$got], glbd not asked"
	elif [ "$2" = miss ] && [ "$after" -gt "$before" ] && [ -n "$got" ]; then
		pass "Unbound asks glbd for $1 ($3): [$got]"
	else
		fail "Unbound for $1 ($3): want a cache $2; got [$got], glbd queries $before -> $after"
	fi
}
check_cached 133.242.200.0/24 hit "inside the /16 scope of the cached Tokyo answer"
check_cached 133.242.7.0/24 hit "inside the same scope"
check_cached 133.243.1.0/24 miss "outside the scope"
# London's network is a /24: its answer covers only that /24.
check_cached 81.2.70.0/24 miss "London's neighbour /24, outside the /24 scope of the London answer"

# --- 3. DNSSEC validation ----------------------------------------------------

if [ -n "$ANCHOR" ]; then
	set -- $ANCHOR # owner ttl class DS tag alg digest-type digest
	printf 'trust-anchors {\n\t%s static-ds %s %s %s "%s";\n};\n' "$1" "$5" "$6" "$7" "$8" >"$WORK/delv-anchor.conf"
	for q in "www.$ZONE A" "www.$ZONE AAAA" "api.$ZONE A" "$ZONE SOA" "$ZONE NS" "$ZONE DNSKEY" "$ZONE CDS" "$ZONE MX" "docs.$ZONE A" \
		"nothere.$ZONE A" "www.$ZONE TXT"; do
		# shellcheck disable=SC2086
		out=$(delv "@$DNS_IP" -p "$DNS_PORT" -a "$WORK/delv-anchor.conf" +root="$ZONE" $q 2>&1 || true)
		if grep -q "fully validated" <<<"$out"; then
			pass "delv validates $q ($(grep -m1 -o '^; [a-z ,]*validated' <<<"$out"))"
		else
			fail "delv does not validate $q: $(head -3 <<<"$out" | paste -sd' ')"
		fi
	done

	VPORT=$((UNBOUND_PORT + 1))
	sed -e "s/port: $UNBOUND_PORT/port: $VPORT/" -e "s/unbound.pid/unbound-v.pid/" \
		-e 's/module-config: "subnetcache iterator"/module-config: "subnetcache validator iterator"/' \
		-e '/# No validator/d' "$WORK/unbound.conf" >"$WORK/unbound-v.conf"
	awk -v ta="$ANCHOR" '{ print } /^server:/ { printf "\ttrust-anchor: \"%s\"\n\tval-log-level: 2\n", ta }' \
		"$WORK/unbound-v.conf" >"$WORK/unbound-v.tmp" && mv "$WORK/unbound-v.tmp" "$WORK/unbound-v.conf"
	unbound-checkconf "$WORK/unbound-v.conf" >/dev/null || die "unbound-checkconf $WORK/unbound-v.conf failed"
	unbound -d -c "$WORK/unbound-v.conf" >"$WORK/unbound-v.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 50); do
		dig +time=1 +tries=1 @127.0.0.1 -p $VPORT "mail.$ZONE" A >/dev/null 2>&1 && break
		sleep 0.2
	done
	validated() { # NAME TYPE [SUBNET] WANT-STATUS
		local sub=() out
		[ -n "$3" ] && sub=("+subnet=$3")
		out=$(dig +time=3 +tries=1 +dnssec @127.0.0.1 -p $VPORT "$1" "$2" "${sub[@]}")
		if grep -q "status: $4" <<<"$out" && grep -q "flags:[a-z ]* ad[ ;]" <<<"$out"; then
			pass "validating Unbound: $1 $2 ${3:+ECS $3 }$4 with AD: [$(dig +short @127.0.0.1 -p $VPORT "$1" "$2" "${sub[@]}" | sort | paste -sd' ')]"
		else
			fail "validating Unbound: $1 $2 ${3:+ECS $3 }not validated: $(grep -m2 'status:\|flags:' <<<"$out" | paste -sd' ')"
		fi
	}
	for s in 81.2.69.0/24 216.160.83.0/24 133.242.1.0/24; do
		validated "www.$ZONE" A $s NOERROR
	done
	validated "www.$ZONE" AAAA "" NOERROR
	validated "nothere.$ZONE" A "" NOERROR
	validated "www.$ZONE" TXT "" NOERROR
	validated "docs.$ZONE" A 81.2.69.0/24 NOERROR
	# Without DO the same addresses, and no RRSIG.
	plain=$(dig +short +norec "@$DNS_IP" -p "$DNS_PORT" "www.$ZONE" A +subnet=81.2.69.0/24 | sort | paste -sd' ')
	signed=$(dig +norec +dnssec "@$DNS_IP" -p "$DNS_PORT" "www.$ZONE" A +subnet=81.2.69.0/24)
	if [ "$plain" = "$(awk '$4 == "A" { print $5 }' <<<"$signed" | sort | paste -sd' ')" ] && grep -q RRSIG <<<"$signed" &&
		! dig +norec "@$DNS_IP" -p "$DNS_PORT" "www.$ZONE" A | grep -q RRSIG; then
		pass "answers with and without DO agree; only DO ones carry RRSIGs"
	else
		fail "answers with and without DO differ: [$plain] vs $(grep -c RRSIG <<<"$signed") RRSIG(s)"
	fi
else
	log "no trust anchor (not dev mode, and GLB_ANCHOR unset): DNSSEC checks skipped"
fi

if [ $FAILS -gt 0 ]; then
	log "$FAILS check(s) failed; dnsviz's view is in $WORK/print.txt and $WORK/grok.json"
	exit 1
fi
log "all protocol checks passed"
