#!/usr/bin/env bash
# The cluster demo: two chat server nodes joined through a redis-server that
# this script starts on a loopback port (installed with apt when missing),
# so a terminal client on node 1 and the web page of node 2 chat together.
# Ctrl-C stops both nodes and the redis-server.
#
#   node 1: tcp 127.0.0.1:6969, ws 127.0.0.1:6970, page http://127.0.0.1:8080/
#   node 2: tcp 127.0.0.1:6979, ws 127.0.0.1:6980, page http://127.0.0.1:8081/
#   redis:  127.0.0.1:${REDIS_PORT:-6390} (no persistence)
set -euo pipefail
cd "$(dirname "$0")/.."

redis_port=${REDIS_PORT:-6390}
if ! command -v redis-server >/dev/null; then
  echo "== installing redis-server (apt)"
  apt-get update -q && apt-get install -y -q redis-server
fi

if [ ! -f wasm/pkg/hisock.js ]; then
  echo "note: the web page needs the browser client: run bash scripts/build-npm.sh"
  echo "      (or bash scripts/demo.sh once); the terminal clients work without it."
fi
echo "== building the chat server and client (release; seconds once built)"
cargo build --release -p hisock-examples --bin chat_server --bin chat_client
bin="${CARGO_TARGET_DIR:-target}/release"

pids=()
stop() {
  # Only what this script started, by pid.
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 0' INT TERM

redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  > >(sed -u 's/^/[redis]  /') 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
url="redis://127.0.0.1:$redis_port/"

"$bin/chat_server" --redis "$url" \
  > >(sed -u 's/^/[node 1] /') 2>&1 &
pids+=($!)
# One after the other, so that they take node numbers 1 and 2 in order.
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/6969) 2>/dev/null && break
  sleep 0.1
done
"$bin/chat_server" --redis "$url" \
  --addr 127.0.0.1:6979 --ws 127.0.0.1:6980 --http 127.0.0.1:8081 \
  > >(sed -u 's/^/[node 2] /') 2>&1 &
pids+=($!)
sleep 1

cat <<TXT

Two chat nodes joined through Redis at $url.
In another terminal, join node 1 over TCP:
  $bin/chat_client --name alice
and open node 2's page in a browser: http://127.0.0.1:8081/
(or, in a third terminal, join node 2 over WebSocket:
  $bin/chat_client --name bob --ws ws://127.0.0.1:6980/ )
Both start in the same room: what one types, the other reads; /who lists
the clients of both nodes, and a name taken on one node is refused on the
other. Ctrl-C stops the nodes and Redis.
TXT
wait
