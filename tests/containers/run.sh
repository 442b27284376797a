#!/usr/bin/env bash
# The container suite: builds the image from a release binary (docker/build.sh) under a tag of
# its own, runs tests/containers/test_containers.py against docker/compose.yml's 3-node cluster
# (one command forms it; a leader killed with SIGKILL; a leader cut off by a network partition),
# then removes the image. Needs Docker, docker-compose, python3 with redis-py and pytest.
#
# Usage: tests/containers/run.sh   (REDRAFT_BIN: the binary, default target/release/redraft)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BIN="${REDRAFT_BIN:-target/release/redraft}"
TAG="redraft:test-$$"
for tool in docker docker-compose python3; do
    command -v "$tool" >/dev/null || { echo "ERROR: $tool is needed" >&2; exit 2; }
done
docker info >/dev/null 2>&1 || { echo "ERROR: the Docker daemon does not answer" >&2; exit 2; }
trap 'docker image rm -f "$TAG" >/dev/null 2>&1 || true' EXIT
docker/build.sh "$BIN" "$TAG"
REDRAFT_IMAGE="$TAG" python3 -m pytest -q -x tests/containers/test_containers.py "$@"
