#!/usr/bin/env bash
# Runs the bundler recipes (bundlers.test.mjs) in target/bundlers/: copies
# this directory there, installs the pinned tools from package-lock.json
# with `npm ci` (skipped while the lockfile is the one installed last time),
# and runs the test against the package that scripts/build-npm.sh made
# (HISOCK_NPM_TARBALL, else the newest in target/npm/) and the test server
# at HISOCK_TEST_WS_URL. Called by scripts/browser-tests.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
src=$root/wasm/bundlers
work=$root/target/bundlers

if [ -z "${HISOCK_NPM_TARBALL:-}" ]; then
  HISOCK_NPM_TARBALL=$(ls -t "$root"/target/npm/*.tgz 2>/dev/null | head -n1 || true)
fi
if [ -z "$HISOCK_NPM_TARBALL" ]; then
  echo "run.sh: no package in target/npm/: run scripts/build-npm.sh first" >&2
  exit 1
fi
export HISOCK_NPM_TARBALL

mkdir -p "$work"
# The recipes afresh; the installed tools stay.
find "$work" -mindepth 1 -maxdepth 1 ! -name node_modules -exec rm -rf {} +
cp -r "$src"/. "$work"/

stamp=$work/node_modules/.hisock-installed-lock
if [ ! -f "$stamp" ] || ! cmp -s "$src/package-lock.json" "$stamp"; then
  echo "installing the pinned bundlers (npm ci in target/bundlers)"
  (cd "$work" && timeout 900 npm ci --no-audit --no-fund)
  cp "$src/package-lock.json" "$stamp"
fi

cd "$work"
timeout 900 npm test
