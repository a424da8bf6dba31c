#!/usr/bin/env bash
# load-config.sh: write a glb configuration file into etcd, one `etcdctl put`
# per key.
#
#   ETCDCTL_ENDPOINTS=https://etcd-1.example.net:2379 deploy/examples/load-config.sh config.json
#   deploy/examples/load-config.sh -n config.json     # print the etcdctl commands instead
#
# The file has the format of testdata/dev/config.json: one JSON object whose
# keys are etcd keys relative to the prefix ("regions/eu-west"). A string
# value is stored as it is (weights: "100"); any other value is stored as its
# compact JSON ({"lat":50.11,...}). That is what glbd -dev does with its seed.
#
# Keys are written in sorted order, which puts regions before their weights
# and zones before their names. glbd re-checks cross-key references on every
# change, so the order only spares a few transient "rejected etcd key" lines.
# Each put is one etcd revision; glbd applies them as they arrive.
#
# Keys in etcd that the file does not mention are left alone: to remove one,
# `etcdctl del` it.
#
# Needs jq and etcdctl (Debian: jq, etcd-client). etcdctl reads
# ETCDCTL_ENDPOINTS and, for TLS, ETCDCTL_CACERT (and ETCDCTL_CERT/KEY).
set -euo pipefail

usage() {
	echo "usage: $0 [-n] [-p PREFIX] CONFIG.json" >&2
	echo "  -n         print the etcdctl commands, write nothing" >&2
	echo "  -p PREFIX  etcd key prefix (default /glb/)" >&2
	exit 2
}

dry=false
prefix=/glb/
while getopts np: opt; do
	case $opt in
	n) dry=true ;;
	p) prefix=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
file=$1
case $prefix in
/*/ | /) ;;
*) echo "$0: prefix $prefix: must start and end with /" >&2; exit 2 ;;
esac

for cmd in jq etcdctl; do
	if ! $dry || [ "$cmd" = jq ]; then
		command -v "$cmd" >/dev/null || { echo "$0: $cmd not found (Debian: apt-get install jq etcd-client)" >&2; exit 1; }
	fi
done
if ! jq -e 'type == "object"' "$file" >/dev/null; then
	echo "$0: $file: want a JSON object of key: value pairs" >&2
	exit 1
fi
if bad=$(jq -r 'keys[] | select(startswith("/") or . == "" or test("\\s"))' "$file") && [ -n "$bad" ]; then
	echo "$0: $file: keys must be relative to the prefix, non-empty and without spaces: $bad" >&2
	exit 1
fi

export ETCDCTL_API=3
n=0
while IFS= read -r key; do
	value=$(jq -r --arg k "$key" '.[$k] | if type == "string" then . else tojson end' "$file")
	if $dry; then
		jq -rn --arg k "$prefix$key" --arg v "$value" '"etcdctl put -- \($k | @sh) \($v | @sh)"'
	else
		# "--": a value such as "-5" is data, not a flag.
		etcdctl put -- "$prefix$key" "$value" >/dev/null
	fi
	n=$((n + 1))
done < <(jq -r 'keys[]' "$file")
$dry || echo "wrote $n keys from $file under $prefix" >&2
