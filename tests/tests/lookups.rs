//! Finding clients: by id, name, address, all of them, one group; asked by
//! the server application or by a client.

use hisock::{ClientInfo, ClientOptions, Server};
use hisock_test_support::{transport_tests, Probe, TestServer};

fn ids(clients: &[ClientInfo]) -> Vec<u64> {
    clients.iter().map(|c| c.id).collect()
}

transport_tests! {
    /// The server finds clients by id, name and address, lists them all
    /// (by id) and lists a group.
    async fn server_finds_clients_by_id_name_and_addr(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let ada = test.connect(ClientOptions::new().name("ada").group("red")).await;
        let bob = test.connect(ClientOptions::new().name("bob").group("red")).await;
        let cy = test.connect(ClientOptions::new().name("cy").group("blue")).await;
        let server = &test.server;

        let found = server.client(ada.id()).expect("by id");
        assert_eq!((found.name(), found.group()), (Some("ada"), Some("red")));
        assert_eq!(found.transport, t.kind());
        assert_eq!(server.client_by_name("bob").map(|c| c.id), Some(bob.id()));
        let cy_addr = cy.addr_seen_by_server().expect("the server told cy its address");
        assert_eq!(server.client_by_addr(cy_addr).map(|c| c.id), Some(cy.id()));
        assert_eq!(ids(&server.clients()), [ada.id(), bob.id(), cy.id()]);
        assert_eq!(ids(&server.group("red")), [ada.id(), bob.id()]);
        assert_eq!(ids(&server.group("blue")), [cy.id()]);
        assert_eq!(server.client_count(), 3);

        assert!(server.client(9999).is_none());
        assert!(server.client_by_name("nobody").is_none());
        assert!(server.group("nobody").is_empty());
    }

    /// A client asks the server about other clients the same ways.
    async fn client_asks_about_other_clients(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let ada = test.connect(ClientOptions::new().name("ada").group("red")).await;
        let bob = test.connect(ClientOptions::new().name("bob").group("red")).await;
        let cy = test.connect(ClientOptions::new().name("cy").group("blue")).await;

        let found = ada.client_by_name("bob").await.expect("lookup").expect("bob");
        assert_eq!((found.id, found.name(), found.group()), (bob.id(), Some("bob"), Some("red")));
        assert_eq!(found.addr, bob.addr_seen_by_server());
        assert_eq!(found.transport, t.kind());
        let found = ada.client_by_id(cy.id()).await.expect("lookup").expect("cy");
        assert_eq!(found.name(), Some("cy"));
        let cy_addr = cy.addr_seen_by_server().expect("address");
        let found = ada.client_by_addr(cy_addr).await.expect("lookup").expect("cy");
        assert_eq!(found.id, cy.id());
        let everyone = ada.list_clients(None).await.expect("list");
        assert_eq!(ids(&everyone), [ada.id(), bob.id(), cy.id()]);
        let red = ada.list_clients(Some("red")).await.expect("list");
        assert_eq!(ids(&red), [ada.id(), bob.id()]);

        assert!(ada.client_by_name("nobody").await.expect("lookup").is_none());
        assert!(ada.client_by_id(9999).await.expect("lookup").is_none());
        assert!(ada.list_clients(Some("nobody")).await.expect("list").is_empty());
    }

    /// Look-ups follow name and group changes, on both sides.
    async fn lookups_follow_name_and_group_changes(t: Transport) {
        let renamed = Probe::new("name_change");
        let server = Server::new();
        let seen = renamed.clone();
        server.on("name_change", move |who: ClientInfo| {
            seen.push(who.id);
            async {}
        });
        let test = TestServer::start(t, server).await;
        let ada = test.connect(ClientOptions::new().name("ada").group("red")).await;
        let bob = test.connect_named("bob").await;

        ada.change_name(Some("ada2")).await.expect("rename");
        ada.change_group(Some("blue")).await.expect("regroup");
        assert_eq!(renamed.next().await, ada.id());

        let server = &test.server;
        assert!(server.client_by_name("ada").is_none());
        assert_eq!(server.client_by_name("ada2").map(|c| c.id), Some(ada.id()));
        assert!(server.group("red").is_empty());
        assert_eq!(ids(&server.group("blue")), [ada.id()]);
        assert!(bob.client_by_name("ada").await.expect("lookup").is_none());
        let found = bob.client_by_name("ada2").await.expect("lookup").expect("ada2");
        assert_eq!((found.id, found.group()), (ada.id(), Some("blue")));
        assert_eq!(ids(&bob.list_clients(Some("blue")).await.expect("list")), [ada.id()]);

        ada.change_group(None).await.expect("leave group");
        assert!(server.group("blue").is_empty());
        assert_eq!(server.client(ada.id()).expect("ada").group(), None);
    }

    /// Clients that leave disappear from look-ups.
    async fn departed_clients_disappear_from_lookups(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let ada = test.connect(ClientOptions::new().name("ada").group("red")).await;
        let bob = test.connect_named("bob").await;
        let ada_id = ada.id();

        hisock_test_support::within("close", ada.close()).await;
        test.wait_for_client_count(1).await;

        assert!(test.server.client(ada_id).is_none());
        assert!(test.server.client_by_name("ada").is_none());
        assert!(test.server.group("red").is_empty());
        assert!(bob.client_by_id(ada_id).await.expect("lookup").is_none());
        assert_eq!(ids(&bob.list_clients(None).await.expect("list")), [bob.id()]);
    }
}
