//! Smoke tests: the example binaries, run as a user would, against each
//! other on loopback ports picked by the OS.

use hisock_test_support::{http_get, within, Program, WAIT};

const BASIC_SERVER: &str = env!("CARGO_BIN_EXE_basic_server");
const BASIC_CLIENT: &str = env!("CARGO_BIN_EXE_basic_client");
const CHAT_SERVER: &str = env!("CARGO_BIN_EXE_chat_server");
const CHAT_CLIENT: &str = env!("CARGO_BIN_EXE_chat_client");
const TICTACTOE_SERVER: &str = env!("CARGO_BIN_EXE_tictactoe_server");
const TICTACTOE_CLIENT: &str = env!("CARGO_BIN_EXE_tictactoe_client");

#[test]
fn basic_client_completes_the_tutorial_against_basic_server() {
    let (_server, addr) = Program::start_server(BASIC_SERVER, &[]);

    let mut client = Program::start(BASIC_CLIENT, &["--addr", &addr, "--name", "ada"]);
    client.expect_success();

    let out = client.stdout();
    for expected in [
        "server: welcome, ada!",
        "server: hello ada, you said \"nice to meet you\"",
        "40 + 2 = 42",
        "1 / 0 refused: division by zero",
        "no news after",
        "bye",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
}

#[test]
fn scripted_chat_clients_over_tcp_and_websocket_exchange_room_and_direct_messages() {
    let (mut server, addr) = Program::start_server(
        CHAT_SERVER,
        &["--ws", "127.0.0.1:0", "--http", "127.0.0.1:0"],
    );
    let ws_line = server.wait_for("listening on ws://");
    let ws_url = ws_line.rsplit(' ').next().expect("a url").to_string();

    // Clients that only listen: connected, no input, leaving after a minute
    // (or when the test kills them).
    let listener = |name: &str, room: &str, transport: &[&str]| {
        let args = [
            "--name",
            name,
            "--room",
            room,
            "--script",
            "",
            "--exit-after",
            "60",
        ];
        let mut client = Program::start(CHAT_CLIENT, &[transport, &args[..]].concat());
        client.wait_for(&format!("connected as {name}"));
        client
    };
    let mut bob = listener("bob", "lobby", &["--addr", &addr]);
    let mut carol = listener("carol", "games", &["--addr", &addr]);
    let mut dave = listener("dave", "lobby", &["--ws", &ws_url]);

    let script = "hello lobby;/msg bob psst;/who";
    let mut alice = Program::start(
        CHAT_CLIENT,
        &["--addr", &addr, "--name", "alice", "--script", script],
    );
    alice.expect_success();
    let who = alice.stdout();
    for expected in [
        "bob in lobby via tcp",
        "carol in games via tcp",
        "dave in lobby via ws",
    ] {
        assert!(
            who.contains(expected),
            "missing {expected:?} in /who:\n{who}"
        );
    }

    bob.wait_for("[lobby] alice: hello lobby");
    bob.wait_for("[dm] alice: psst");
    dave.wait_for("[lobby] alice: hello lobby");

    // `/msg` waited for the server's reply, and a client's events are
    // handled in order, so the room line had been relayed before alice
    // left: by the time carol hears that she left, carol would have it.
    carol.wait_for("* alice left");
    let carol_saw = carol.stdout();
    assert!(
        !carol_saw.contains("hello lobby"),
        "another room heard it:\n{carol_saw}"
    );
    assert!(
        !carol_saw.contains("psst"),
        "a direct message leaked:\n{carol_saw}"
    );
}

#[test]
fn chat_in_tls_mode_serves_tls_and_wss_clients_that_trust_the_ca_file_it_wrote() {
    let dir = std::env::temp_dir().join(format!("hisock-chat-tls-{}", std::process::id()));
    let dir_arg = dir.to_str().expect("a UTF-8 path");
    let mut server = Program::start(
        CHAT_SERVER,
        &[
            "--tls",
            "--tls-dir",
            dir_arg,
            "--addr",
            "127.0.0.1:0",
            "--ws",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
        ],
    );
    let ca_line = server.wait_for("clients trust the CA in ");
    let ca = ca_line
        .split("clients trust the CA in ")
        .nth(1)
        .expect("a path")
        .trim()
        .to_string();
    assert_eq!(std::path::Path::new(&ca), dir.join("ca.pem"));
    let tls_line = server.wait_for("listening on tls://");
    let tls_addr = tls_line
        .rsplit("tls://")
        .next()
        .expect("an address")
        .trim()
        .to_string();
    let wss_line = server.wait_for("listening on wss://");
    let wss_url = wss_line.rsplit(' ').next().expect("a url").to_string();

    let mut bob = Program::start(
        CHAT_CLIENT,
        &[
            "--addr",
            &tls_addr,
            "--tls-ca",
            &ca,
            "--name",
            "bob",
            "--script",
            "",
            "--exit-after",
            "60",
        ],
    );
    bob.wait_for("connected as bob");
    let mut dave = Program::start(
        CHAT_CLIENT,
        &[
            "--ws",
            &wss_url,
            "--tls-ca",
            &ca,
            "--name",
            "dave",
            "--script",
            "",
            "--exit-after",
            "60",
        ],
    );
    dave.wait_for("connected as dave");

    let mut alice = Program::start(
        CHAT_CLIENT,
        &[
            "--addr",
            &tls_addr,
            "--tls-ca",
            &ca,
            "--name",
            "alice",
            "--script",
            "hello over tls;/who",
        ],
    );
    alice.expect_success();
    let who = alice.stdout();
    for expected in ["bob in lobby via tls", "dave in lobby via wss"] {
        assert!(
            who.contains(expected),
            "missing {expected:?} in /who:\n{who}"
        );
    }
    bob.wait_for("[lobby] alice: hello over tls");
    dave.wait_for("[lobby] alice: hello over tls");

    // Without the CA file the client refuses the server, and says why.
    let mut stranger = Program::start(
        CHAT_CLIENT,
        &["--ws", &wss_url, "--name", "eve", "--script", ""],
    );
    stranger.expect_failure();
    let said = stranger.transcript();
    assert!(said.contains("not signed by a trusted CA"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn chat_server_serves_its_page_the_browser_client_and_the_chat_on_one_http_port() {
    // A stand-in package folder, so that the test does not need a wasm build.
    let pkg = std::env::temp_dir().join(format!("hisock-chat-pkg-{}", std::process::id()));
    std::fs::create_dir_all(&pkg).expect("a temporary folder");
    std::fs::write(pkg.join("hisock.js"), "export default 42;").expect("a file");
    let pkg_arg = pkg.to_str().expect("a UTF-8 path");
    let (mut server, tcp_addr) = Program::start_server(
        CHAT_SERVER,
        &[
            "--ws",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--pkg",
            pkg_arg,
        ],
    );
    let line = server.wait_for("listening on http://");
    let http_addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("the line has an address")
        .to_string();

    let page = http_get(&http_addr, "/");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("<title>hisock chat</title>"), "{page}");
    assert!(page.contains("/chat.js"), "{page}");
    let script = http_get(&http_addr, "/chat.js");
    assert!(script.contains("import(\"/pkg/hisock.js\")"), "{script}");
    let package = http_get(&http_addr, "/pkg/hisock.js");
    assert!(package.contains("text/javascript"), "{package}");
    assert!(package.ends_with("export default 42;"), "{package}");
    for outside in ["/pkg/..%2FCargo.toml", "/pkg/.hidden", "/pkg/missing.js"] {
        let refused = http_get(&http_addr, outside);
        assert!(refused.starts_with("HTTP/1.1 404"), "{outside}: {refused}");
    }

    // The chat on /ws: a hisock client there hears a TCP chat client.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let url = format!("ws://{http_addr}/ws");
        let options = hisock::ClientOptions::new().name("web").group("lobby");
        let web = within("connect", hisock_ws::connect(&url, options))
            .await
            .expect("/ws speaks hisock");
        let mut alice = Program::start(
            CHAT_CLIENT,
            &["--addr", &tcp_addr, "--name", "alice", "--script", "hi web"],
        );
        let line: hisock_examples::chat::ChatLine =
            web.recv("chat", WAIT).await.expect("the line arrives");
        assert_eq!(
            (line.from.as_str(), line.text.as_str()),
            ("alice", "hi web")
        );
        alice.expect_success();
        web.close().await;
    });
    std::fs::remove_dir_all(&pkg).expect("the folder is removed");
}

#[test]
fn two_auto_tictactoe_clients_play_a_game_to_its_end() {
    let (_server, addr) = Program::start_server(TICTACTOE_SERVER, &[]);

    let mut first = Program::start(TICTACTOE_CLIENT, &["--addr", &addr, "--auto"]);
    let mut second = Program::start(TICTACTOE_CLIENT, &["--addr", &addr, "--auto"]);
    first.expect_success();
    second.expect_success();

    let (a, b) = (first.stdout(), second.stdout());
    let outcome = |out: &str| {
        let last = out.lines().last().unwrap_or_default();
        ["you win", "you lose", "draw"]
            .into_iter()
            .find(|o| last.starts_with("game over") && last.contains(o))
            .unwrap_or_else(|| panic!("the game did not end in:\n{out}"))
    };
    let pair = (outcome(&a), outcome(&b));
    assert!(
        matches!(
            pair,
            ("you win", "you lose") | ("you lose", "you win") | ("draw", "draw")
        ),
        "the players disagree on the result {pair:?}:\n{a}\n----\n{b}"
    );
}

#[test]
fn axum_app_serves_its_page_and_hisock_on_the_same_port() {
    let mut app = Program::start(env!("CARGO_BIN_EXE_axum_mount"), &["--addr", "127.0.0.1:0"]);
    let line = app.wait_for("with hisock at ws://");
    let url = line.rsplit(' ').next().expect("a url").to_string();
    let http_addr = url
        .trim_start_matches("ws://")
        .trim_end_matches("/ws")
        .to_string();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let connect = hisock_ws::connect(&url, hisock::ClientOptions::new().name("ada"));
        let client = within("connect", connect)
            .await
            .expect("the /ws route speaks hisock");
        let answer: String = client
            .request("echo", "hi", WAIT)
            .await
            .expect("echo answers");
        assert_eq!(answer, "ada said hi");
        client.close().await;
    });
    // The app's own route still answers plain HTTP on the same port.
    let response = http_get(&http_addr, "/");
    assert!(response.contains("hisock lives on /ws"), "{response}");
}

#[test]
fn axum_app_over_https_serves_hisock_on_wss_with_its_demo_certificate() {
    let dir = std::env::temp_dir().join(format!("hisock-axum-tls-{}", std::process::id()));
    let dir_arg = dir.to_str().expect("a UTF-8 path");
    let mut app = Program::start(
        env!("CARGO_BIN_EXE_axum_tls"),
        &["--addr", "127.0.0.1:0", "--tls-dir", dir_arg],
    );
    let line = app.wait_for("with hisock at wss://");
    let url = line.rsplit(' ').next().expect("a url").to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let tls =
            hisock_tcp::tls::ClientTls::with_ca_file(dir.join("ca.pem")).expect("the CA file");
        let config = hisock_ws::WsConfig::new().tls(tls);
        let options = hisock::ClientOptions::new().name("ada");
        let client = within(
            "connect",
            hisock_ws::connect_with(url.as_str(), options, &config),
        )
        .await
        .expect("wss through axum-server");
        let answer: String = client
            .request("echo", "hi", WAIT)
            .await
            .expect("echo answers");
        assert_eq!(answer, "ada said hi over wss");
        client.close().await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn chat_client_says_in_words_when_nothing_listens() {
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let mut client = Program::start(
        CHAT_CLIENT,
        &["--addr", &free.to_string(), "--name", "eve", "--script", ""],
    );
    client.expect_failure();
    let said = client.transcript();
    assert!(
        said.contains(&format!(
            "cannot connect to {free}: nothing accepts connections there"
        )),
        "{said}"
    );
    assert!(!said.contains("Connect {"), "Display, not Debug: {said}");
}
