#!/usr/bin/env bash
# dist.sh: release archives of glbd, glbprobe and glbctl (make dist).
#
#   deploy/dist.sh VERSION REVISION    what the Makefile passes (git describe, git rev-parse)
#
# Builds the three binaries for each of DIST_PLATFORMS (default linux/amd64
# and linux/arm64): static (CGO_ENABLED=0), -trimpath, no VCS stamping
# (the revision is injected with -X instead, as make build does), an empty
# build id and no symbol tables, so that the bytes depend only on the source,
# the Go toolchain and the version strings, not on the checkout's path or
# the time. Then one archive per platform:
#
#   dist/<os>-<arch>/{glbd,glbprobe,glbctl}        the binaries (make image packs these)
#   dist/glb-VERSION-<os>-<arch>.tar.gz            the binaries, README.md, LICENSE, NOTICE
#                                                  and the deployment files of deploy/
#   dist/SHA256SUMS                                sha256sum of each archive
#
# The archives are reproducible: entries sorted by name, every mtime the
# commit's time (SOURCE_DATE_EPOCH when set), owner root, modes 0644/0755
# whatever the umask of the checkout, and gzip without a name or time stamp.
# deploy/dist-check.sh proves it with two clones at different paths.
# Needs Go, git, GNU tar, gzip and sha256sum.
set -euo pipefail
cd "$(dirname "$0")/.."

version=${1:?usage: dist.sh VERSION REVISION}
revision=${2:?usage: dist.sh VERSION REVISION}
platforms=${DIST_PLATFORMS:-linux/amd64 linux/arm64}
GO=${GO:-go}
vpkg=github.com/glb-dns/glb/internal/version
ldflags="-s -w -buildid= -X $vpkg.version=$version -X $vpkg.revision=$revision"
# The time of every archive entry: the commit's, so that it is the same in
# every clone and build of the commit.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}

# The files shipped beside the binaries: tracked ones only, so that
# whatever else lies in the tree (editor files, local configs) stays out.
shipped=(README.md LICENSE NOTICE deploy/README.md deploy/systemd deploy/examples deploy/etcd
	deploy/prometheus deploy/grafana deploy/kubernetes deploy/helm)
mapfile -t files < <(git ls-files -- "${shipped[@]}")
if [ "${#files[@]}" -eq 0 ]; then
	echo "dist.sh: no tracked files to ship (not a git checkout?)" >&2
	exit 1
fi

rm -rf dist/glb-* dist/SHA256SUMS
mkdir -p dist
for p in $platforms; do
	os=${p%/*} arch=${p#*/}
	echo "== $os/$arch"
	mkdir -p "dist/$os-$arch"
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOFLAGS= "$GO" build -trimpath -buildvcs=false \
		-ldflags "$ldflags" -o "dist/$os-$arch/" ./cmd/glbd ./cmd/glbprobe ./cmd/glbctl

	name=glb-$version-$os-$arch
	stage=dist/$name
	mkdir -p "$stage"
	cp dist/"$os-$arch"/{glbd,glbprobe,glbctl} "$stage/"
	cp --parents -- "${files[@]}" "$stage/"
	tar --create --format=gnu --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
		--mode='u=rwX,go=rX' -C dist "$name" | gzip -9 -n >"dist/$name.tar.gz"
	rm -rf "$stage"
done
(cd dist && sha256sum glb-*.tar.gz >SHA256SUMS)
ls -l dist/glb-*.tar.gz dist/*/glbd
cat dist/SHA256SUMS
