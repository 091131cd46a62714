#!/usr/bin/env bash
# The browser benchmark in one command (see bench/README.md, "Browser"):
#   bash bench/browser/run.sh            # full: 3 rounds, medians (a few minutes)
#   bash bench/browser/run.sh --quick    # one small round: a smoke check
# Builds the npm package (scripts/build-npm.sh), the native server
# (browser_server, release) and the Rust wasm client (bench/browser-wasm,
# release, wasm-bindgen --target web), installs the pinned npm packages
# (npm ci), then runs bench/browser/run.mjs, which prints a markdown table
# and writes target/browser-bench/report.json. Every other argument goes to
# run.mjs (--rounds N, --only rtt1,rtt64,c2s,s2c, --clients …, --cpu-prof
# DIR, --out DIR). Environment:
#   HISOCK_BENCH_NO_BUILD=1     skip every build (repeated runs)
#   HISOCK_BENCH_SKIP_NPM=1     use wasm/pkg as it is (already built)
#   HISOCK_BENCH_PROFILE=dev    debug builds of the server and the Rust
#                               client (the smoke run of scripts/browser-tests.sh;
#                               no figures worth reading)
# Honours CARGO_TARGET_DIR and CHROMIUM (default /usr/bin/chromium).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
target_dir=${CARGO_TARGET_DIR:-$root/target}
out=$root/target/browser-bench
step() { printf '==> %s\n' "$*" >&2; }

[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || {
  echo "run.sh: ${CHROMIUM:-/usr/bin/chromium} is missing (apt-get install chromium)" >&2
  exit 1
}
command -v npm >/dev/null || { echo "run.sh: npm is missing (apt-get install nodejs npm)" >&2; exit 1; }

profile=${HISOCK_BENCH_PROFILE:-release}
case $profile in
  release) profile_flag=--release; profile_dir=release ;;
  dev) profile_flag=; profile_dir=debug ;;
  *) echo "run.sh: HISOCK_BENCH_PROFILE must be release or dev" >&2; exit 2 ;;
esac
if [ "${HISOCK_BENCH_NO_BUILD:-}" != 1 ]; then
  if [ "${HISOCK_BENCH_SKIP_NPM:-}" != 1 ]; then
    step "the npm package (scripts/build-npm.sh)"
    bash scripts/build-npm.sh >&2
  fi
  step "the native server (browser_server, $profile)"
  cargo build -q ${profile_flag:+"$profile_flag"} -p hisock-bench --bin browser_server
  step "the Rust wasm client (bench/browser-wasm, $profile)"
  cargo build -q ${profile_flag:+"$profile_flag"} --target wasm32-unknown-unknown -p hisock-bench-wasm
  wasm-bindgen --target web --out-dir "$out/rust-wasm" \
    "$target_dir/wasm32-unknown-unknown/$profile_dir/hisock_bench_wasm.wasm"
fi
if [ ! -d bench/browser/node_modules/socket.io ]; then
  step "npm ci (bench/browser)"
  (cd bench/browser && timeout 600 npm ci --no-audit --no-fund --silent)
fi
step "running the benchmark in Chromium"
exec node bench/browser/run.mjs --server "$target_dir/$profile_dir/browser_server" \
  --hisock-pkg "$root/wasm/pkg" --rust-pkg "$out/rust-wasm" --out "$out" "$@"
