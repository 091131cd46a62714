//! The cluster demo (scripts/cluster-demo.sh) as its users see it: two
//! `chat_server --redis` nodes on a real redis-server, a terminal client
//! over TCP on node 1 and one over WebSocket (the web page's transport) on
//! node 2, and lines crossing between the nodes both ways.

use hisock_test_support::{Program, RedisServer};

const CHAT_SERVER: &str = env!("CARGO_BIN_EXE_chat_server");
const CHAT_CLIENT: &str = env!("CARGO_BIN_EXE_chat_client");

/// A chat node of the cluster on `redis`, on free ports: it, its TCP
/// address and its WebSocket URL.
fn start_node(redis: &RedisServer) -> (Program, String, String) {
    let url = redis.url();
    let args = [
        "--ws",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--redis",
        &url,
    ];
    let (mut node, tcp) = Program::start_server(CHAT_SERVER, &args);
    node.wait_for("joined the cluster as node");
    let line = node.wait_for("listening on ws://");
    let ws = line
        .split("listening on ")
        .nth(1)
        .expect("the line has a URL")
        .trim()
        .to_string();
    (node, tcp, ws)
}

/// A client of the chat that joins as `name` (over TCP to `addr`, or over
/// WebSocket with `ws`), runs `script` and stays 60 s or until killed.
fn client(transport: (&str, &str), name: &str, script: &str) -> Program {
    let args = [
        transport.0,
        transport.1,
        "--name",
        name,
        "--script",
        script,
        "--exit-after",
        "60",
    ];
    let mut client = Program::start(CHAT_CLIENT, &args);
    client.wait_for(&format!("connected as {name}"));
    client
}

#[test]
fn clients_of_two_nodes_joined_through_redis_chat_together() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (_node1, tcp1, _) = start_node(&redis);
    let (_node2, _, ws2) = start_node(&redis);

    // The terminal user on node 1, the page's transport on node 2.
    let mut alice = client(("--addr", &tcp1), "alice", "");
    let mut bob = client(("--ws", &ws2), "bob", "");

    // One line each way, each to the sender's room on every node.
    let _carol = client(("--addr", &tcp1), "carol", "hello from node 1");
    bob.wait_for("carol: hello from node 1");
    let _dave = client(("--ws", &ws2), "dave", "hello from node 2");
    alice.wait_for("dave: hello from node 2");
}
