#!/usr/bin/env bash
# dist-check.sh: make dist is reproducible (make dist-check).
#
# Clones the current commit twice, at two paths of different lengths, runs
# make dist in each and compares their SHA256SUMS: the archives must be
# byte for byte the same. Only committed files take part: a change not yet
# committed is not in the clones. Prints both SHA256SUMS and exits 1 when
# they differ (with the first differing file names, for diffoscope).
#
# The clones share this machine's Go build cache, as two CI jobs on one
# runner would; DIST_CHECK_FRESH_CACHE=1 gives the second clone an empty
# cache, so that nothing compiled for the first one is reused (slower: a
# cold build of everything for both platforms).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$root" rev-parse HEAD)
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

a=$work/a/glb
b=$work/second/clone/at/a/longer/path/glb
for dir in "$a" "$b"; do
	git clone --quiet --no-local --no-checkout "$root" "$dir"
	git -C "$dir" checkout --quiet --detach "$commit"
done

start=$(date +%s)
make -C "$a" --no-print-directory dist >"$work/a.log" 2>&1 || { cat "$work/a.log"; exit 1; }
if [ "${DIST_CHECK_FRESH_CACHE:-0}" = 1 ]; then
	export GOCACHE=$work/gocache
fi
make -C "$b" --no-print-directory dist >"$work/b.log" 2>&1 || { cat "$work/b.log"; exit 1; }
echo "dist-check: two make dist runs took $(($(date +%s) - start)) s"

echo "== $a"; cat "$a/dist/SHA256SUMS"
echo "== $b"; cat "$b/dist/SHA256SUMS"
if ! cmp -s "$a/dist/SHA256SUMS" "$b/dist/SHA256SUMS"; then
	echo "dist-check: FAIL: the archives of commit $commit differ between the two clones" >&2
	for f in "$a"/dist/linux-*/*; do
		cmp -s "$f" "$b/dist/${f#"$a/dist/"}" || echo "  differs: dist/${f#"$a/dist/"}" >&2
	done
	exit 1
fi
echo "dist-check: OK: commit $commit gives identical archives in both clones"
