//! Rooms: any number per client, beside the one group; the server puts
//! clients in and out, sends to a room, and a client that leaves leaves
//! its rooms.

use hisock::{Client, ClientInfo, ClientOptions, Data, Error, Server};
use hisock_test_support::{transport_tests, TestServer, WAIT};

/// The command of the next event `client` got that no handler took.
async fn next_command(client: &Client) -> String {
    client
        .recv_any(WAIT)
        .await
        .expect("an event")
        .command
        .to_string()
}

transport_tests! {
    /// A client can be in several rooms; a room's events reach its members
    /// only (but the ones left out), and groups are untouched.
    async fn rooms_hold_many_clients_and_clients_many_rooms(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let ada = test.connect(ClientOptions::new().name("ada").group("g")).await;
        let bob = test.connect_named("bob").await;
        let cy = test.connect_named("cy").await;
        let server = &test.server;

        assert!(server.join_room(ada.id(), "red").expect("join"));
        assert!(!server.join_room(ada.id(), "red").expect("join"), "already in it");
        server.join_room(ada.id(), "blue").expect("join");
        server.join_room(bob.id(), "red").expect("join");

        assert_eq!(server.rooms_of(ada.id()).expect("rooms"), ["blue", "red"]);
        assert_eq!(server.rooms_of(cy.id()).expect("rooms"), Vec::<String>::new());
        assert_eq!(server.rooms(), ["blue", "red"]);
        let red: Vec<u64> = server.room("red").iter().map(|c| c.id).collect();
        let mut expected = vec![ada.id(), bob.id()];
        expected.sort();
        assert_eq!(red, expected);

        assert_eq!(server.to_room("red").emit("to_red", &1).expect("emit"), 2);
        assert_eq!(server.to_room("blue").emit("to_blue", &1).expect("emit"), 1);
        assert_eq!(server.to_room("red").except(bob.id()).emit("red_but_bob", &1).expect("emit"), 1);
        server.to_all().emit("marker", &()).expect("emit");

        assert_eq!(next_command(&ada).await, "to_red");
        assert_eq!(next_command(&ada).await, "to_blue");
        assert_eq!(next_command(&ada).await, "red_but_bob");
        assert_eq!(next_command(&ada).await, "marker");
        assert_eq!(next_command(&bob).await, "to_red");
        assert_eq!(next_command(&bob).await, "marker");
        assert_eq!(next_command(&cy).await, "marker");

        assert!(server.leave_room(ada.id(), "red").expect("leave"));
        assert!(!server.leave_room(ada.id(), "red").expect("leave"), "not in it");
        assert_eq!(server.rooms_of(ada.id()).expect("rooms"), ["blue"]);
        assert_eq!(server.group("g").len(), 1, "the group is untouched");
        assert!(matches!(server.join_room(9_999, "red"), Err(Error::NoSuchClient(9_999))));
    }

    /// Handlers put their sender in rooms; a client that leaves is out of
    /// every room, and an empty room is gone.
    async fn a_client_that_leaves_leaves_its_rooms(t: Transport) {
        let server = Server::new();
        server.on("enter", |s: Server, c: ClientInfo, Data(room): Data<String>| async move {
            s.join_room(c.id, &room).map_err(|e| e.to_string())
        });
        let test = TestServer::start(t, server).await;
        let ada = test.connect_named("ada").await;
        let bob = test.connect_named("bob").await;

        let joined: bool = ada.request("enter", "lobby", WAIT).await.expect("enter");
        assert!(joined);
        let _: bool = ada.request("enter", "solo", WAIT).await.expect("enter");
        let _: bool = bob.request("enter", "lobby", WAIT).await.expect("enter");
        assert_eq!(test.server.rooms(), ["lobby", "solo"]);

        ada.close().await;
        test.wait_for_client_count(1).await;

        assert_eq!(test.server.rooms(), ["lobby"], "solo emptied and went");
        let lobby: Vec<u64> = test.server.room("lobby").iter().map(|c| c.id).collect();
        assert_eq!(lobby, [bob.id()]);
        assert_eq!(test.server.to_room("lobby").emit("hi", &()).expect("emit"), 1);
        assert_eq!(next_command(&bob).await, "hi");
    }
}
