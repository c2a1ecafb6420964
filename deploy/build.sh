#!/usr/bin/env bash
# Builds the release binary of keyward: static (CGO_ENABLED=0; the SQLite
# driver is pure Go), -trimpath, stripped, with the version stamped in.
# The Dockerfile's build stage runs exactly this, and so does .ci/run.
#
#   deploy/build.sh OUTPUT        e.g. deploy/build.sh /tmp/keyward
#
# VERSION, REVISION and BUILD_TIME override what is stamped; unset, REVISION
# and BUILD_TIME come from Git when this is a checkout, and the version from
# the module (keyward version prints "dev" for an untagged build).
set -euo pipefail
out="${1:?usage: deploy/build.sh OUTPUT}"
cd "$(dirname "$0")/.."

if [ -z "${REVISION:-}" ] && git rev-parse --git-dir >/dev/null 2>&1; then
  REVISION="$(git rev-parse --short=12 HEAD)"
  git diff --quiet HEAD -- 2>/dev/null || REVISION="$REVISION-dirty"
  BUILD_TIME="${BUILD_TIME:-$(git show -s --format=%cI HEAD)}"
fi

ldflags="-s -w"
[ -n "${VERSION:-}" ] && ldflags="$ldflags -X main.version=$VERSION"
[ -n "${REVISION:-}" ] && ldflags="$ldflags -X main.revision=$REVISION"
[ -n "${BUILD_TIME:-}" ] && ldflags="$ldflags -X main.buildTime=$BUILD_TIME"

CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out" ./cmd/keyward
