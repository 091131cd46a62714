//! One server, TCP and WebSocket clients at once: broadcasts, presence
//! events and requests cross transports.

use hisock::{Change, ClientInfo, ClientOptions, Data, Server, TransportKind};
use hisock_test_support::{within, ws_url, Probe, Transport, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_reaches_ws_and_tcp_clients_in_one_group() {
    let server = Server::new();
    // A client's "shout" goes to everyone in its group.
    server.on(
        "shout",
        |who: ClientInfo, server: Server, Data(text): Data<String>| async move {
            let group = who.group().unwrap_or_default().to_owned();
            server.to_group(group).emit("news", &text).map(|_| ())
        },
    );
    let tcp = Transport::Tcp.listen(&server).await;
    let ws = Transport::Ws.listen(&server).await;
    let web = hisock_ws::connect(&ws_url(ws), ClientOptions::new().name("web").group("room"))
        .await
        .expect("ws client connects");
    let native = hisock_tcp::connect(tcp, ClientOptions::new().name("native").group("room"))
        .await
        .expect("tcp client connects");

    let reached = server
        .to_group("room")
        .emit("news", "from the server")
        .expect("emit");
    assert_eq!(reached, 2);
    for client in [&web, &native] {
        let news: String = client.recv("news", WAIT).await.expect("news arrives");
        assert_eq!(news, "from the server");
    }

    web.send("shout", "from the browser side")
        .await
        .expect("send");
    for client in [&web, &native] {
        let news: String = client.recv("news", WAIT).await.expect("shout arrives");
        assert_eq!(news, "from the browser side");
    }

    web.close().await;
    native.close().await;
    within("shutdown", server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_leave_and_name_change_are_seen_across_transports() {
    let server = Server::new();
    let server_joins = Probe::<ClientInfo>::new("server_joins");
    let server_leaves = Probe::<ClientInfo>::new("server_leaves");
    {
        let joins = server_joins.clone();
        server.on("join", move |who: ClientInfo| {
            let joins = joins.clone();
            async move { joins.push(who) }
        });
        let leaves = server_leaves.clone();
        server.on("leave", move |who: ClientInfo| {
            let leaves = leaves.clone();
            async move { leaves.push(who) }
        });
    }
    let tcp = Transport::Tcp.listen(&server).await;
    let ws = Transport::Ws.listen(&server).await;

    let connects = Probe::<ClientInfo>::new("connects");
    let renames = Probe::<(ClientInfo, Change)>::new("renames");
    let leaves = Probe::<ClientInfo>::new("leaves");
    let (c, r, l) = (connects.clone(), renames.clone(), leaves.clone());
    let native_options = ClientOptions::new()
        .name("native")
        .on("client_connect", move |who: ClientInfo| {
            let c = c.clone();
            async move { c.push(who) }
        })
        .on(
            "client_name_change",
            move |who: ClientInfo, change: Change| {
                let r = r.clone();
                async move { r.push((who, change)) }
            },
        )
        .on("client_disconnect", move |who: ClientInfo| {
            let l = l.clone();
            async move { l.push(who) }
        });
    let native = hisock_tcp::connect(tcp, native_options)
        .await
        .expect("tcp client connects");
    assert_eq!(server_joins.next().await.transport, TransportKind::Tcp);

    let web_sees = Probe::<ClientInfo>::new("web_sees");
    let w = web_sees.clone();
    let web = hisock_ws::connect(
        &ws_url(ws),
        ClientOptions::new()
            .name("web")
            .on("client_connect", move |who: ClientInfo| {
                let w = w.clone();
                async move { w.push(who) }
            }),
    )
    .await
    .expect("ws client connects");

    let joined = server_joins.next().await;
    assert_eq!(
        (joined.name(), joined.transport),
        (Some("web"), TransportKind::Ws)
    );
    let seen = connects.next().await;
    assert_eq!(seen.id, web.id());
    assert_eq!(seen.transport, TransportKind::Ws);

    web.change_name(Some("web2")).await.expect("rename");
    let (who, change) = renames.next().await;
    assert_eq!(who.id, web.id());
    assert_eq!(change.old.as_deref(), Some("web"));
    assert_eq!(change.new.as_deref(), Some("web2"));

    // And the other way round: the ws client sees a tcp client join.
    let late = hisock_tcp::connect(tcp, ClientOptions::new().name("late"))
        .await
        .expect("second tcp client connects");
    let seen = web_sees.next().await;
    assert_eq!((seen.id, seen.transport), (late.id(), TransportKind::Tcp));
    // The tcp client saw that join too; keep the probe in step.
    assert_eq!(connects.next().await.id, late.id());

    web.close().await;
    let left = leaves.next().await;
    assert_eq!(left.id, web.id());
    let left = server_leaves.next().await;
    assert_eq!((left.id, left.transport), (web.id(), TransportKind::Ws));

    native.close().await;
    late.close().await;
    within("shutdown", server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_cross_both_ways_between_server_and_ws_client() {
    let server = Server::new();
    server.on("double", |Data(n): Data<i64>| async move { n * 2 });
    let ws = Transport::Ws.listen(&server).await;
    let web = hisock_ws::connect(
        &ws_url(ws),
        ClientOptions::new().on("whoami", |Data(prefix): Data<String>| async move {
            format!("{prefix}: a websocket client")
        }),
    )
    .await
    .expect("ws client connects");

    let doubled: i64 = web.request("double", &21, WAIT).await.expect("reply");
    assert_eq!(doubled, 42);

    let answer: String = server
        .request(web.id(), "whoami", "server asks", WAIT)
        .await
        .expect("ws client answers");
    assert_eq!(answer, "server asks: a websocket client");

    web.close().await;
    within("shutdown", server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_client_info_says_ws_and_has_both_addresses() {
    let server = Server::new();
    let tcp = Transport::Tcp.listen(&server).await;
    let ws = Transport::Ws.listen(&server).await;
    let web = hisock_ws::connect(&ws_url(ws), ClientOptions::new().name("web"))
        .await
        .expect("ws client connects");

    assert_eq!(web.transport(), TransportKind::Ws);
    assert_eq!(web.server_addr(), Some(ws));
    let local = web.local_addr().expect("client knows its local address");
    assert_eq!(web.addr_seen_by_server(), Some(local));

    let info = server.client(web.id()).expect("server lists the ws client");
    assert_eq!(info.transport, TransportKind::Ws);
    assert_eq!(info.addr, Some(local));
    assert_eq!(server.client_by_addr(local).map(|i| i.id), Some(web.id()));

    // Other clients see the same through a look-up, whatever their transport.
    let native = hisock_tcp::connect(tcp, ClientOptions::new())
        .await
        .expect("tcp client connects");
    let looked_up = native
        .client_by_name("web")
        .await
        .expect("look-up")
        .expect("found");
    assert_eq!(looked_up.transport, TransportKind::Ws);

    web.close().await;
    native.close().await;
    within("shutdown", server.shutdown()).await;
}
