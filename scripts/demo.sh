#!/usr/bin/env bash
# The main demo: the hisock chat server and its web page. Connect terminal
# clients from other terminals and a browser tab with what it prints.
# The page needs the browser client (wasm/pkg): when it is missing, this
# builds it if the tools are installed (the wasm32 target and the matching
# wasm-bindgen CLI), and otherwise says how.
# `bash scripts/demo.sh --tls`: TCP+TLS and WSS with a certificate made at
# start; the server prints the CA file the clients trust.
set -euo pipefail
cd "$(dirname "$0")/.."

page_tools_ready() {
  local wb_version
  wb_version=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' Cargo.toml)
  rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$' &&
    wasm-bindgen --version 2>/dev/null | grep -q " $wb_version\$" &&
    command -v npm >/dev/null
}

if [ ! -f wasm/pkg/hisock.js ] && page_tools_ready; then
  echo "== building the browser client for the chat page (scripts/build-npm.sh, 1-3 minutes the first time)"
  bash scripts/build-npm.sh || echo "the browser client did not build; the terminal chat still works" >&2
fi
if [ -f wasm/pkg/hisock.js ]; then
  page="In a browser, open http://127.0.0.1:8080/ to chat from a web page."
else
  page="For the web page, run: bash scripts/build-npm.sh (it installs the wasm32
target and the wasm-bindgen CLI, a few minutes); then open http://127.0.0.1:8080/."
fi

# Cargo's own progress lines show, rather than minutes of silence.
if [ -x "${CARGO_TARGET_DIR:-target}/release/chat_server" ]; then
  echo "== building the chat server and client (release; up to date in seconds)"
else
  echo "== building the chat server and client (release). The first build compiles"
  echo "   about 170 crates: 3-6 minutes on 2 cores, faster on more; later runs take seconds."
fi
cargo build --release -p hisock-examples --bin chat_server --bin chat_client
echo
if [[ " $* " == *" --tls "* ]]; then
  ca="${TMPDIR:-/tmp}/hisock-demo-tls/ca.pem"
  cat <<TXT
hisock chat server starting over TLS (a certificate is made now; its CA goes
to $ca, printed below too).
In another terminal, join the chat over TCP+TLS:
  cargo run --release -q -p hisock-examples --bin chat_client -- --name alice --tls-ca $ca
or over WSS:
  cargo run --release -q -p hisock-examples --bin chat_client -- --name bob --ws wss://localhost:6970/ --tls-ca $ca
Type /help in a client for commands. Ctrl-C stops the server.
TXT
  exec cargo run --release -q -p hisock-examples --bin chat_server -- "$@"
fi
cat <<TXT
hisock chat server starting.
In another terminal, join the chat:
  cargo run --release -q -p hisock-examples --bin chat_client -- --name alice
or over WebSocket:
  cargo run --release -q -p hisock-examples --bin chat_client -- --name bob --ws ws://127.0.0.1:6970/
$page
Type /help in a client for commands. Ctrl-C stops the server.
TXT
exec cargo run --release -q -p hisock-examples --bin chat_server -- "$@"
