#!/usr/bin/env bash
# Builds the Redraft container image from a release binary, with no base image (the machines
# it is built on cannot pull one): the binary, stripped of debug info, and the shared libraries
# `ldd` finds for it, at their paths, in an image FROM scratch.
#
# Usage: docker/build.sh [BINARY] [TAG]   (defaults: target/release/redraft, redraft:latest;
# the binary is built with `cargo build --release` when the default is missing)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN="${1:-target/release/redraft}"
TAG="${2:-redraft:latest}"
if [[ ! -x "$BIN" && "$BIN" == target/release/redraft ]]; then
    cargo build --release --bin redraft
fi
[[ -x "$BIN" ]] || { echo "docker/build.sh: no binary at $BIN" >&2; exit 2; }
CONTEXT="$(mktemp -d /tmp/redraft-image.XXXXXX)"
trap 'rm -rf "$CONTEXT"' EXIT
mkdir -p "$CONTEXT/rootfs/data" "$CONTEXT/rootfs/tmp"
chmod 1777 "$CONTEXT/rootfs/tmp"
objcopy --strip-debug "$BIN" "$CONTEXT/rootfs/redraft"
# Every library the dynamic loader would map, the loader itself included (`ldd` prints
# "name => /path (addr)" or "/path (addr)"; the vDSO has no file).
while read -r lib; do
    mkdir -p "$CONTEXT/rootfs$(dirname "$lib")"
    cp -L "$lib" "$CONTEXT/rootfs$lib"
done < <(ldd "$BIN" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }')
cp docker/Dockerfile "$CONTEXT/Dockerfile"
docker build -q -t "$TAG" "$CONTEXT" >/dev/null
echo "built $TAG ($(docker image inspect -f '{{.Size}}' "$TAG" | awk '{ printf "%.1f MB", $1 / 1e6 }'))"
