//! "Send to whom": one client, a group, everyone, everyone but one.
//!
//! Each check sends the targeted event, then a marker to everyone. Events
//! of one connection arrive in order, so a client whose first event is the
//! marker did not get the targeted one.

use hisock::{Client, ClientInfo, ClientOptions, Data, Error, Server};
use hisock_test_support::{transport_tests, TestServer, WAIT};

/// The commands of the next `n` events this client received and no
/// handler took.
async fn next_commands(client: &Client, n: usize) -> Vec<String> {
    let mut commands = Vec::with_capacity(n);
    for _ in 0..n {
        let message = client.recv_any(WAIT).await.expect("an event");
        commands.push(message.command.to_string());
    }
    commands
}

transport_tests! {
    /// `to_client` reaches that client only, with its payload.
    async fn to_client_reaches_only_that_client(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let ada = test.connect_named("ada").await;
        let bob = test.connect_named("bob").await;

        let sent = test.server.to_client(bob.id()).emit("secret", 42u32).expect("emit");
        test.server.to_all().emit("marker", ()).expect("emit");

        assert_eq!(sent, 1);
        assert_eq!(bob.recv::<u32>("secret", WAIT).await.expect("secret"), 42);
        assert_eq!(next_commands(&bob, 1).await, ["marker"]);
        assert_eq!(next_commands(&ada, 1).await, ["marker"]);
    }

    /// `to_group` reaches the group's members only.
    async fn to_group_reaches_only_its_members(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let red1 = test.connect(ClientOptions::new().name("r1").group("red")).await;
        let red2 = test.connect(ClientOptions::new().name("r2").group("red")).await;
        let blue = test.connect(ClientOptions::new().name("b").group("blue")).await;
        let none = test.connect_named("n").await;

        let sent = test.server.to_group("red").emit("team", "go").expect("emit");
        test.server.to_all().emit("marker", ()).expect("emit");

        assert_eq!(sent, 2);
        for member in [&red1, &red2] {
            assert_eq!(next_commands(member, 2).await, ["team", "marker"]);
        }
        for outsider in [&blue, &none] {
            assert_eq!(next_commands(outsider, 1).await, ["marker"]);
        }
        assert_eq!(test.server.to_group("nobody").emit("x", ()).expect("emit"), 0);
    }

    /// `to_all` reaches everyone; `except` leaves out the named clients.
    async fn to_all_reaches_everyone_and_except_leaves_clients_out(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let ada = test.connect_named("ada").await;
        let bob = test.connect_named("bob").await;
        let cy = test.connect_named("cy").await;

        assert_eq!(test.server.to_all().emit("all", ()).expect("emit"), 3);
        assert_eq!(test.server.to_all().except(bob.id()).emit("not-bob", ()).expect("emit"), 2);
        let sent = test
            .server
            .to_all()
            .except(ada.id())
            .except(cy.id())
            .emit("only-bob", ())
            .expect("emit");
        test.server.to_all().emit("marker", ()).expect("emit");

        assert_eq!(sent, 1);
        assert_eq!(next_commands(&ada, 3).await, ["all", "not-bob", "marker"]);
        assert_eq!(next_commands(&bob, 3).await, ["all", "only-bob", "marker"]);
        assert_eq!(next_commands(&cy, 3).await, ["all", "not-bob", "marker"]);
    }

    /// Relaying a client's event to the others, the usual chat pattern.
    async fn handler_relays_an_event_to_everyone_but_the_sender(t: Transport) {
        let server = Server::new();
        server.on("say", |who: ClientInfo, srv: Server, Data(text): Data<String>| async move {
            srv.to_all().except(who.id).emit("said", &text).map(|_| ())
        });
        let test = TestServer::start(t, server).await;
        let ada = test.connect_named("ada").await;
        let bob = test.connect_named("bob").await;

        ada.send("say", "hi bob").await.expect("send");
        assert_eq!(bob.recv::<String>("said", WAIT).await.expect("relayed"), "hi bob");
        // The relay went out to everyone at once; the marker comes after it.
        test.server.to_all().emit("marker", ()).expect("emit");

        assert_eq!(next_commands(&ada, 1).await, ["marker"]);
    }

    /// Sending to a client that is not connected says so.
    async fn to_unknown_client_is_no_such_client(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let err = test.server.to_client(999).emit("x", ()).expect_err("nobody");
        assert!(matches!(err, Error::NoSuchClient(999)), "{err}");
    }
}
