//! Application data in handlers: the server's `State<T>`, and each
//! connection's `Extensions` (set in the auth hook, read and changed by
//! later handlers, still there in `leave`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hisock::server::{Ext, Extensions, State};
use hisock::{ClientInfo, ClientOptions, Data, Error, ErrorCode, Server};
use hisock_test_support::{transport_tests, Probe, TestServer, WAIT};

#[derive(Clone, Default)]
struct Hits(Arc<AtomicU64>);

#[derive(Clone, Debug, PartialEq)]
struct User(String);

/// A server whose auth hook puts the client's token into its extensions
/// as a `User`.
fn server_with_users() -> Server {
    let server = Server::builder()
        .with_state(Hits::default())
        .with_state(String::from("hisock"))
        .build();
    server.auth(|request| async move {
        let token: Option<String> = request.data().map_err(|e| e.to_string())?;
        request
            .extensions()
            .insert(User(token.ok_or("a token is required")?));
        Ok(())
    });
    server
}

transport_tests! {
    /// Every handler call gets the one state the server was built with,
    /// by type.
    async fn state_is_shared_by_every_handler_call(t: Transport) {
        let server = server_with_users();
        server.on("hit", |State(hits): State<Hits>, State(name): State<String>| async move {
            format!("{name}:{}", hits.0.fetch_add(1, Ordering::SeqCst) + 1)
        });
        let test = TestServer::start(t, server).await;
        let ada = test.connect(ClientOptions::new().auth("ada").expect("auth")).await;
        let bob = test.connect(ClientOptions::new().auth("bob").expect("auth")).await;

        let first: String = ada.request("hit", &(), WAIT).await.expect("hit");
        let second: String = bob.request("hit", &(), WAIT).await.expect("hit");

        assert_eq!((first.as_str(), second.as_str()), ("hisock:1", "hisock:2"));
    }

    /// A state of a type the server was not given is a clear error, and
    /// the server goes on.
    async fn a_missing_state_is_refused_by_name(t: Transport) {
        let server = server_with_users();
        server.on("needs_u64", |State(n): State<u64>| async move { n });
        let test = TestServer::start(t, server).await;
        let ada = test.connect(ClientOptions::new().auth("ada").expect("auth")).await;

        match ada.request::<u64, _>("needs_u64", &(), WAIT).await {
            Err(Error::Remote { code, message }) => {
                assert_eq!(code, ErrorCode::HandlerFailed);
                assert!(message.contains("u64") && message.contains("with_state"), "{message}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    /// What the auth hook stored is each client's own, later handlers can
    /// change it, and `leave` still sees it.
    async fn extensions_set_in_auth_follow_the_connection(t: Transport) {
        let server = server_with_users();
        server.on("whoami", |Ext(User(name)): Ext<User>| async move { name });
        server.on("rename", |ext: Extensions, Data(name): Data<String>| async move {
            ext.insert(User(name));
        });
        let left = Probe::new("users that left");
        let record = left.clone();
        server.on("leave", move |Ext(user): Ext<User>| {
            record.push(user);
            async {}
        });
        let test = TestServer::start(t, server).await;
        let ada = test.connect(ClientOptions::new().auth("ada").expect("auth")).await;
        let bob = test.connect(ClientOptions::new().auth("bob").expect("auth")).await;

        let who: String = ada.request("whoami", &(), WAIT).await.expect("whoami");
        assert_eq!(who, "ada");
        let who: String = bob.request("whoami", &(), WAIT).await.expect("whoami");
        assert_eq!(who, "bob");
        let () = ada.request("rename", "ada lovelace", WAIT).await.expect("rename");
        let who: String = ada.request("whoami", &(), WAIT).await.expect("whoami");
        assert_eq!(who, "ada lovelace");
        let outside = test.server.extensions(bob.id()).expect("bob is connected");
        assert_eq!(outside.get::<User>(), Some(User("bob".into())));

        ada.close().await;
        assert_eq!(left.next().await, User("ada lovelace".into()));
    }

    /// A connection without the value asked for: the handler is refused
    /// with the type's name; `Extensions` itself is always there.
    async fn a_missing_extension_is_refused_by_name(t: Transport) {
        let server = Server::new();
        server.on("whoami", |Ext(User(name)): Ext<User>| async move { name });
        server.on("has_user", |ext: Extensions, _: ClientInfo| async move { ext.contains::<User>() });
        let test = TestServer::start(t, server).await;
        let ada = test.connect_named("ada").await;

        let has: bool = ada.request("has_user", &(), WAIT).await.expect("has_user");
        assert!(!has);
        match ada.request::<String, _>("whoami", &(), WAIT).await {
            Err(Error::Remote { code, message }) => {
                assert_eq!(code, ErrorCode::HandlerFailed);
                assert!(message.contains("User"), "{message}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}
