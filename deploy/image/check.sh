#!/usr/bin/env bash
# check.sh: run the image built by make image without a container runtime
# (make image-check). For machines where podman cannot start containers
# (no user namespaces, cgroups or overlayfs), this does what a runtime does
# with the image's config: extract the layers in order into a directory,
# then run the entrypoint there as the image's user, in its working
# directory, with its root as /:
#
#   unshare --root=<rootfs> --wd=<WorkingDir> -S <uid> -G <gid> <Entrypoint> ...
#
# (needs root for the chroot; without it the binaries run from the rootfs
# as the current user). It checks glbd --version, glbprobe --version and
# glbctl version, then starts glbd -dev inside the rootfs on ADDR (default
# 127.0.0.1, ports 5353 DNS, 8053 HTTP, 2379 for dev etcd), waits for
# /readyz and asks it over UDP and TCP with dig for a London client, which
# must get eu-west's addresses. Exits 1 on any failure.
#
#   deploy/image/check.sh dist/glb-v0.1.0-image-linux-amd64.oci.tar [ADDR]
set -euo pipefail
archive=$(realpath "${1:?usage: check.sh IMAGE.oci.tar [ADDR]}")
addr=${2:-127.0.0.1}
cd "$(dirname "$0")"
work=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
root=$work/rootfs
mkdir "$root"
config=$(go run . -unpack "$archive" -into "$root")
echo "$config" | sed 's/^/image: /'
get() { echo "$config" | sed -n "s/^$1=//p"; }
entrypoint=$(get entrypoint) user=$(get user) workdir=$(get workdir)

# in_image runs a command as the image's config says.
in_image() {
	if [ "$(id -u)" = 0 ]; then
		unshare --root="$root" --wd="$workdir" -S "${user%%:*}" -G "${user##*:}" "$@"
	else
		(cd "$root$workdir" && "$root$1" "${@:2}")
	fi
}

fail() { echo "image-check: FAIL: $*" >&2; exit 1; }
for v in "$entrypoint --version" "/usr/local/bin/glbprobe --version" "/usr/local/bin/glbctl version"; do
	# shellcheck disable=SC2086
	out=$(in_image $v) || fail "$v"
	echo "image-check: $v: $out"
	[[ $out =~ \ v[0-9].*\(revision\ [0-9a-f]{7,} ]] || fail "$v: no version and revision in $out"
done

in_image "$entrypoint" -dev -dns "$addr:5353" -http "$addr:8053" -dev-etcd "$addr:2379" >"$work/glbd.log" 2>&1 &
pid=$!
for _ in $(seq 1 150); do
	curl -fsS "http://$addr:8053/readyz" >/dev/null 2>&1 && break
	kill -0 "$pid" 2>/dev/null || { cat "$work/glbd.log"; fail "glbd -dev exited"; }
	sleep 0.2
done
curl -fsS "http://$addr:8053/readyz" | grep -q '"ready": true' || { cat "$work/glbd.log"; fail "glbd -dev not ready"; }
echo "image-check: /readyz version: $(curl -fsS "http://$addr:8053/readyz" | sed -n 's/.*"version": "\(.*\)".*/\1/p')"
for proto in +notcp +tcp; do
	got=$(dig @"$addr" -p 5353 www.gslb.example.test A +subnet=81.2.69.0/24 +short "$proto" | sort | tr '\n' ' ')
	echo "image-check: dig $proto www.gslb.example.test A from London: $got"
	[ "$got" = "198.51.100.10 198.51.100.11 " ] || { cat "$work/glbd.log"; fail "dig $proto: want 198.51.100.10 198.51.100.11"; }
done
curl -fsS "http://$addr:8053/metrics" | grep '^glb_build_info' || fail "no glb_build_info on /metrics"
echo "image-check: OK"
