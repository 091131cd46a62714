#!/usr/bin/env bash
# Browser tests of hisock, in Debian's Chromium:
#   (a) wasm-bindgen-test tests of the Rust client API (wasm/tests/browser/),
#       run by wasm-bindgen-test-runner through chromedriver;
#   (b) end-to-end tests of the npm package (tests/browser/e2e.test.mjs),
#       driven by playwright-core: a page on loopback imports the packed
#       package and meets native TCP clients on the same server; and the
#       chat demo (tests/browser/chat-demo.test.mjs): chat_server's own page
#       chatting with terminal chat_clients, screenshot in
#       tests/browser/artifacts/; what the package ships
#       (package.test.mjs), its connect errors (connect-errors.test.mjs) and
#       its reconnection through fault proxies (reconnect.test.mjs);
#   (c) the bundler recipes (wasm/bundlers/run.sh): a tiny app built with
#       Vite, esbuild and webpack 5 and a plain page, each in Chromium;
#   (d) the browser benchmark's smoke run (bench/browser/run.sh --quick).
# (a), (b) and (c) talk to the native hisock-test-server, started here
# on free loopback ports and stopped on exit (the chat demo test starts its
# own chat_server). Exits non-zero if anything fails; every step is bounded
# in time. Honours CARGO_TARGET_DIR, CHROMEDRIVER and CHROMIUM.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

export CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
target_dir=${CARGO_TARGET_DIR:-$root/target}

step() { printf '\n==> %s\n' "$*"; }
missing=()
[ -x "$CHROMIUM" ] || missing+=("$CHROMIUM (apt-get install chromium)")
[ -x "$CHROMEDRIVER" ] || missing+=("$CHROMEDRIVER (apt-get install chromium-driver)")
command -v npm >/dev/null || missing+=("npm (apt-get install nodejs npm)")
if [ ${#missing[@]} -gt 0 ]; then
  printf 'browser-tests.sh: missing %s\n' "${missing[@]}" >&2
  exit 1
fi

step "building the npm package"
timeout 1200 bash scripts/build-npm.sh
command -v wasm-bindgen-test-runner >/dev/null || {
  echo "browser-tests.sh: wasm-bindgen-test-runner is missing (it comes with wasm-bindgen-cli)" >&2
  exit 1
}

step "building the test server and the chat example"
timeout 1200 cargo build -q -p hisock-test-support --bin hisock-test-server
server_bin=$target_dir/debug/hisock-test-server
timeout 1200 cargo build -q -p hisock-examples --bin chat_server --bin chat_client
export HISOCK_CHAT_SERVER=$target_dir/debug/chat_server
export HISOCK_CHAT_CLIENT=$target_dir/debug/chat_client

logs=$(mktemp -d)
server_pid=
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$logs"
}
trap stop_server EXIT

step "starting the test server"
# --max-seconds: it stops by itself even if this script is killed. The log
# files exist before the server starts, so polling them never races its
# redirections.
: >"$logs/server.out"
: >"$logs/server.err"
"$server_bin" --max-seconds 1800 >"$logs/server.out" 2>"$logs/server.err" &
server_pid=$!
ws_url=
for _ in $(seq 300); do
  ws_url=$(sed -n 's/^READY ws=\([^ ]*\) .*/\1/p' "$logs/server.out" || true)
  [ -n "$ws_url" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$ws_url" ]; then
  echo "browser-tests.sh: the test server did not start" >&2
  cat "$logs/server.err" >&2
  exit 1
fi
sed -n 's/^READY //p' "$logs/server.out"
export HISOCK_TEST_WS_URL=$ws_url
HISOCK_TEST_RAW_WS_URL=$(sed -n 's/^READY .* raw=\([^ ]*\).*/\1/p' "$logs/server.out")
export HISOCK_TEST_RAW_WS_URL
# The hisock TCP port, where a browser connect must fail with a clear error.
HISOCK_TEST_TCP_ADDR=$(sed -n 's/^READY .* tcp=\([^ ]*\).*/\1/p' "$logs/server.out")
export HISOCK_TEST_TCP_ADDR
# WSS: the server made a test certificate at start; Chromium trusts exactly
# that one by its key's SPKI hash (never by turning certificate checks off),
# and must refuse the second listener's.
HISOCK_TEST_WSS_URL=$(sed -n 's/^READY .* wss=\([^ ]*\).*/\1/p' "$logs/server.out")
HISOCK_TEST_WSS_UNTRUSTED_URL=$(sed -n 's/^READY .* wss_untrusted=\([^ ]*\).*/\1/p' "$logs/server.out")
HISOCK_TEST_SPKI=$(sed -n 's/^READY .* spki=\([^ ]*\).*/\1/p' "$logs/server.out")
export HISOCK_TEST_WSS_URL HISOCK_TEST_WSS_UNTRUSTED_URL HISOCK_TEST_SPKI
if [ -z "$HISOCK_TEST_WSS_URL" ] || [ -z "$HISOCK_TEST_SPKI" ]; then
  echo "browser-tests.sh: the test server printed no WSS URL or SPKI hash" >&2
  exit 1
fi
# wasm-bindgen-test-runner's Chromium flags: wasm/webdriver.json plus the
# SPKI flag, in a copy it is pointed to.
export WASM_BINDGEN_TEST_WEBDRIVER_JSON=$logs/webdriver.json
sed "s|\"args\": \[|\"args\": [\n      \"--ignore-certificate-errors-spki-list=$HISOCK_TEST_SPKI\",|" \
  wasm/webdriver.json >"$WASM_BINDGEN_TEST_WEBDRIVER_JSON"

failed=()

step "(a) Rust client API in Chromium (wasm-bindgen-test)"
# The runner reads its Chromium flags from WASM_BINDGEN_TEST_WEBDRIVER_JSON
# (wasm/webdriver.json plus the SPKI flag, above). Feature talc: the npm package's allocator.
if ! (cd wasm && CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  WASM_BINDGEN_TEST_TIMEOUT=300 \
  timeout 1200 cargo test --target wasm32-unknown-unknown -p hisock-wasm --features talc --test browser); then
  failed+=("wasm-bindgen-test")
fi

step "(b) the npm package in Chromium (playwright-core)"
# The TypeScript of the typed-event mapping rows, for mapping.test.mjs
# (tests/browser/generated/ is not in git: a fresh clone has none).
mkdir -p tests/browser/generated
"$server_bin" --write-typescript tests/browser/generated/mapping-events.ts
if (cd tests/browser && { [ -d node_modules/playwright-core ] || timeout 600 npm ci --no-audit --no-fund; } &&
  timeout 600 npm test); then
  :
else
  failed+=("npm package end-to-end")
fi

step "(c) the npm package built with Vite, esbuild, webpack 5 and in a plain page (wasm/bundlers)"
# Tools from the npm registry, pinned by wasm/bundlers/package-lock.json,
# installed once under target/bundlers/.
if ! timeout 1500 bash wasm/bundlers/run.sh; then
  failed+=("bundler recipes")
fi

step "(d) the browser benchmark, --quick (a smoke check: every client runs every workload; no figure is checked)"
# Debug builds and the npm package built above; one round of a few hundred
# operations, about 5 s in Chromium.
if ! HISOCK_BENCH_SKIP_NPM=1 HISOCK_BENCH_PROFILE=dev timeout 900 \
  bash bench/browser/run.sh --quick --out "$logs/browser-bench" >/dev/null; then
  failed+=("browser benchmark --quick")
fi

if [ ${#failed[@]} -gt 0 ]; then
  printf '\nbrowser tests FAILED: %s\n' "${failed[*]}" >&2
  echo "--- test server stderr ---" >&2
  tail -n 50 "$logs/server.err" >&2 || true
  exit 1
fi
printf '\nbrowser tests passed\n'
