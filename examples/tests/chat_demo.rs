//! The chat demo as an operator and its users see it: `/metrics` whose
//! figures move when real clients chat, a second client with a taken name
//! refused in words, one readable line when the server goes away, and a
//! client that comes back by itself when the server restarts.

use std::time::{Duration, Instant};

use hisock_test_support::{http_get, FaultProxy, Program, WAIT};

const CHAT_SERVER: &str = env!("CARGO_BIN_EXE_chat_server");
const CHAT_CLIENT: &str = env!("CARGO_BIN_EXE_chat_client");

/// A chat server on free ports: it, its TCP address and its HTTP address.
fn start_chat_server() -> (Program, String, String) {
    let (mut server, tcp) = Program::start_server(
        CHAT_SERVER,
        &["--ws", "127.0.0.1:0", "--http", "127.0.0.1:0"],
    );
    let line = server.wait_for("listening on http://");
    let http = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("the line has an address")
        .to_string();
    (server, tcp, http)
}

/// A client that joins as `name` and listens (no input) until killed,
/// with `extra` arguments.
fn listening_client(addr: &str, name: &str, extra: &[&str]) -> Program {
    let args = [
        &[
            "--addr",
            addr,
            "--name",
            name,
            "--script",
            "",
            "--exit-after",
            "60",
        ][..],
        extra,
    ]
    .concat();
    let mut client = Program::start(CHAT_CLIENT, &args);
    client.wait_for(&format!("connected as {name}"));
    client
}

/// The value of the sample `series` (a name, with its labels if it has
/// any, as Prometheus prints them) in a scrape.
fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

/// Scrapes `/metrics` until `ok` holds for the scrape (the server copies
/// its figures into the recorder once a second); panics after [`WAIT`].
fn scrape_until(http: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let until = Instant::now() + WAIT;
    loop {
        let scrape = http_get(http, "/metrics");
        if ok(&scrape) {
            return scrape;
        }
        assert!(
            Instant::now() < until,
            "never {what}; last scrape:\n{scrape}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn chat_server_metrics_move_when_clients_connect_and_chat() {
    let (_server, tcp, http) = start_chat_server();
    let first = scrape_until(&http, "served the figures", |s| {
        s.starts_with("HTTP/1.1 200") && s.contains("hisock_connections_total")
    });
    assert!(
        first.contains("text/plain; version=0.0.4"),
        "Prometheus text: {first}"
    );
    assert_eq!(sample(&first, "hisock_events_received_total"), Some(0.0));

    // With reconnection (the default): a client that closes must not
    // connect again, or its connections would be counted here.
    let _bob = listening_client(&tcp, "bob", &[]);
    let mut alice = Program::start(
        CHAT_CLIENT,
        &[
            "--addr",
            &tcp,
            "--name",
            "alice",
            "--script",
            "hi bob;still there?",
        ],
    );
    alice.expect_success();

    let scrape = scrape_until(&http, "counted alice's lines", |s| {
        sample(s, "hisock_events_received_total") >= Some(2.0)
            && sample(s, "hisock_connections{transport=\"tcp\"}") == Some(1.0)
    });
    let tcp_total = "hisock_connections_total{transport=\"tcp\"}";
    assert_eq!(sample(&scrape, tcp_total), Some(2.0), "{scrape}");
    for series in [
        "hisock_frames_received_total",
        "hisock_received_bytes_total",
        "hisock_frames_sent_total",
        "hisock_events_sent_total",
        "hisock_sent_bytes_total",
    ] {
        assert!(sample(&scrape, series) > Some(0.0), "{series}: {scrape}");
    }
    // Help texts and units reach the exporter.
    assert!(scrape.contains("# HELP hisock_connections "), "{scrape}");
}

#[test]
fn a_second_client_with_a_taken_name_is_refused_in_words() {
    let (_server, tcp, _http) = start_chat_server();
    let _first = listening_client(&tcp, "ada", &[]);

    let mut second = Program::start(
        CHAT_CLIENT,
        &["--addr", &tcp, "--name", "ada", "--script", ""],
    );
    second.expect_failure();
    let said = second.transcript();
    assert!(said.contains("the name \"ada\" is taken"), "{said}");

    // Without --name, each client gets a name of its own.
    let mut guest = Program::start(CHAT_CLIENT, &["--addr", &tcp, "--script", "/who"]);
    guest.expect_success();
    let who = guest.stdout();
    assert!(who.contains("connected as guest"), "{who}");
}

#[test]
fn a_client_says_once_and_in_words_that_the_server_went_away() {
    let (server, tcp, _http) = start_chat_server();
    let mut client = listening_client(&tcp, "bo", &["--no-reconnect"]);
    drop(server);

    client.wait_for("lost the connection to the server");
    client.wait_for_exit();
    let said = client.stdout();
    let alerts = said.lines().filter(|line| line.starts_with('!')).count();
    assert_eq!(alerts, 1, "one line: {said}");
    assert!(!said.contains("1006"), "words, not a close code: {said}");
}

#[test]
fn a_client_comes_back_by_itself_when_the_server_restarts_on_its_port() {
    let (server, tcp, _http) = start_chat_server();
    let mut client = listening_client(&tcp, "cy", &[]);
    drop(server);
    client.wait_for("! lost the connection to the server; reconnecting");
    client.wait_for("* reconnecting: attempt 1");

    // The same port again: a new server, which knows nobody.
    let mut again = Program::start(
        CHAT_SERVER,
        &[
            "--addr",
            &tcp,
            "--ws",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
        ],
    );
    again.wait_for("listening on http://");
    // Back with its name and room, and welcomed by the new server.
    client.wait_for("* reconnected as cy in lobby");
    client.wait_for("* welcome cy!");
    let said = client.stdout();
    let alerts = said.lines().filter(|line| line.starts_with('!')).count();
    assert_eq!(alerts, 1, "one line for the break: {said}");
}

#[test]
fn a_client_whose_connection_is_cut_resumes_as_itself() {
    let (_server, tcp, _http) = start_chat_server();
    // A proxy between the client and the server that cuts on command.
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let server_addr = tcp.parse().expect("a socket address");
    let proxy = runtime.block_on(FaultProxy::start(server_addr));
    let mut client = listening_client(&proxy.addr.to_string(), "dee", &[]);
    let mut other = listening_client(&tcp, "eve", &[]);

    assert_eq!(proxy.cut_all(), 1);
    client.wait_for("! lost the connection to the server; reconnecting");
    // The server kept its session: its name is its own, not taken, and
    // nothing was lost; the others saw it neither leave nor join.
    client.wait_for("* reconnected: nothing was lost as dee in lobby");
    other.wait_for("connected as eve");
    let said = other.stdout();
    assert!(!said.contains("dee left"), "{said}");
}
