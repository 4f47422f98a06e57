#!/usr/bin/env bash
# Builds the Go backend component into dist/gpx_metricshub_<os>_<arch>[.exe],
# the names Grafana derives from plugin.json "executable": "gpx_metricshub".
# Usage: bash scripts/build-backend.sh [os/arch ...]   (default: all release targets)
set -euo pipefail
cd "$(dirname "$0")/.."

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(linux/amd64 linux/arm64 darwin/arm64 windows/amd64)
fi

version="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' package.json | head -n 1)"
built_ms="$(( ${SOURCE_DATE_EPOCH:-$(date +%s)} * 1000 ))"
# The SDK reads this at run time (user agent, `gpx_metricshub -buildinfo`).
buildinfo="{\"time\":${built_ms},\"pluginID\":\"metricshub-datasource\",\"version\":\"${version:-0.0.0}\"}"
ldflags="-w -s -X 'github.com/grafana/grafana-plugin-sdk-go/build/buildinfo.buildInfoJSON=${buildinfo}'"

mkdir -p dist
for target in "${targets[@]}"; do
  os="${target%/*}"
  arch="${target#*/}"
  out="dist/gpx_metricshub_${os}_${arch}"
  [ "$os" = windows ] && out="${out}.exe"
  echo "go build ${os}/${arch} -> ${out}"
  # CGO off: a static binary runs in any Grafana image, Alpine included.
  CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" \
    go build -trimpath -tags arrow_json_stdlib -ldflags "$ldflags" -o "$out" ./pkg
done
