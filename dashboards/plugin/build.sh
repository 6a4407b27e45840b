#!/bin/sh
# Builds votestream's Grafana data source plugin into OUT, the folder Grafana loads as
# <plugins path>/votestream-live-datasource: plugin.json, the front end (src/) and the back
# end for each linux architecture named (default amd64 and arm64). `make plugin` and the
# Dockerfile's plugin stage both run it.
#
#   dashboards/plugin/build.sh OUT [ARCH ...]
set -eu
[ $# -ge 1 ] || { echo "usage: $0 OUT [ARCH ...]" >&2; exit 2; }
out=$1
shift
[ $# -gt 0 ] || set -- amd64 arm64
for arch in "$@"; do
  case $arch in
    amd64|arm64) ;;
    *) echo "$0: architecture $arch: Grafana runs this plugin on linux amd64 or arm64" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
go=${GO:-go}
rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)
cp -R "$here/src/." "$out/"
for arch in "$@"; do
  (cd "$here" && CGO_ENABLED=0 GOOS=linux GOARCH=$arch "$go" build -trimpath -ldflags="-s -w" \
    -o "$out/gpx_votestream_linux_$arch" ./cmd/gpx_votestream)
done
echo "plugin: built $out ($*)" >&2
