#!/usr/bin/env bash
# The main demo: the hisock chat server. Connect terminal clients from other
# terminals with the command it prints.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p hisock-examples --bins
cat <<'TXT'
hisock chat server starting.
In another terminal, join the chat:
  cargo run --release -q -p hisock-examples --bin chat_client -- --name alice
Type /help in a client for commands. Ctrl-C stops the server.
TXT
exec cargo run --release -q -p hisock-examples --bin chat_server -- "$@"
