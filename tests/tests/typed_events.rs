//! Typed events over real sockets: declared once with `hisock::events!`,
//! handled and sent through the typed methods of the server and the Rust
//! client, and understood by untyped peers under the same names.

use std::time::Duration;

use hisock::{ClientInfo, ClientOptions, Error, ErrorCode, Rejection, Server};
use hisock_test_support::{transport_tests, TestServer, WAIT};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ChatLine {
    from: String,
    text: String,
}

hisock::events! {
    /// The events of these tests.
    Chat {
        to_server {
            Say("say"): String,
            Add("add"): Vec<i64> => i64,
            Nick("nick"): String => Result<String, String>,
            Divide("divide"): (i64, i64) => i64,
        }
        to_client {
            Said("said"): ChatLine,
            AreYouThere("are_you_there"): u32 => bool,
        }
    }
}

/// A server with the typed handlers of [`Chat`].
fn chat_server() -> Server {
    let server = Server::new();
    server
        .on_event(
            Say,
            |text: String, from: ClientInfo, server: Server| async move {
                let line = ChatLine {
                    from: from.name().unwrap_or("?").to_string(),
                    text,
                };
                server
                    .to_all()
                    .except(from.id)
                    .emit_event(Said, line)
                    .map(|_| ())
            },
        )
        .on_event(Add, |numbers: Vec<i64>| async move {
            numbers.iter().sum::<i64>()
        })
        .on_event(Nick, |nick: String| async move {
            // The reply type is itself a Result: Ok and Err both travel.
            if nick.is_empty() {
                Err("empty".to_string())
            } else {
                Ok(nick.to_uppercase())
            }
        })
        .on_event(Divide, |(a, b): (i64, i64)| async move {
            if b == 0 {
                // A rejection keeps its own code.
                Err(Rejection::new(ErrorCode::Refused, "division by zero"))
            } else {
                Ok(a / b)
            }
        });
    server
}

transport_tests! {
    /// Payloads, replies and handler arguments follow the declaration; a
    /// broadcast reaches the others as the declared type.
    async fn typed_events_round_trip(t: Transport) {
        let test = TestServer::start(t, chat_server()).await;
        let ada = test.connect_named("ada").await;
        let bob = test.connect_named("bob").await;

        assert_eq!(ada.request_event(Add, vec![1, 2, 39], WAIT).await.expect("add"), 42);
        assert_eq!(ada.request_event(Add, &vec![], WAIT).await.expect("add"), 0);
        assert_eq!(
            ada.request_event(Nick, "ada".to_string(), WAIT).await.expect("nick"),
            Ok("ADA".to_string())
        );
        assert_eq!(
            ada.request_event(Nick, String::new(), WAIT).await.expect("nick"),
            Err("empty".to_string())
        );
        assert_eq!(ada.request_event(Divide, (7, 2), WAIT).await.expect("divide"), 3);
        match ada.request_event(Divide, (1, 0), WAIT).await {
            Err(Error::Remote { code, message }) => {
                assert_eq!(code, ErrorCode::Refused);
                assert_eq!(message, "division by zero");
            }
            other => panic!("expected the handler's rejection, got {other:?}"),
        }

        ada.send_event(Say, "hello".to_string()).await.expect("say");
        let line = bob.recv_event(Said, WAIT).await.expect("said");
        assert_eq!(line, ChatLine { from: "ada".into(), text: "hello".into() });
    }

    /// The server asks typed questions: of one client, and of every client
    /// at once; clients answer with typed handlers installed before the
    /// handshake or after it.
    async fn the_server_asks_typed_questions(t: Transport) {
        let test = TestServer::start(t, chat_server()).await;
        let ada = test
            .connect(
                ClientOptions::new()
                    .name("ada")
                    .on_event(AreYouThere, |n: u32| async move { n % 2 == 0 }),
            )
            .await;
        let bob = test.connect_named("bob").await;
        bob.on_event(AreYouThere, |_: u32, client: hisock::Client| async move {
            client.name().as_deref() == Some("bob")
        });
        let server = &test.server;

        assert!(server.request_event(ada.id(), AreYouThere, 4, WAIT).await.expect("ask ada"));
        assert!(!server.request_event(ada.id(), AreYouThere, 3, WAIT).await.expect("ask ada"));
        let replies = server
            .to_all()
            .request_event(AreYouThere, 2, WAIT)
            .await
            .expect("ask all");
        let mut answers: Vec<(u64, bool)> = replies.ok().map(|(id, yes)| (id, *yes)).collect();
        answers.sort();
        let mut expected = vec![(ada.id(), true), (bob.id(), true)];
        expected.sort();
        assert_eq!(answers, expected);
    }

    /// On the wire a typed event is an ordinary event: an untyped client
    /// reaches a typed handler, and a payload that does not fit the
    /// declaration is refused with BadPayload (the handler never runs).
    async fn typed_and_untyped_peers_understand_each_other(t: Transport) {
        let test = TestServer::start(t, chat_server()).await;
        let ada = test.connect_named("ada").await;
        let sum: i64 = ada.request("add", [20, 22], WAIT).await.expect("add");
        assert_eq!(sum, 42);
        match ada.request::<i64, _>("add", "not numbers", WAIT).await {
            Err(Error::Remote { code, message }) => {
                assert_eq!(code, ErrorCode::BadPayload);
                assert!(message.contains("\"add\""), "{message}");
            }
            other => panic!("expected BadPayload, got {other:?}"),
        }
        // A typed receiver of an untyped send.
        test.server.to_all().emit("said", ChatLine { from: "srv".into(), text: "hi".into() }).expect("emit");
        let line = ada.recv_event(Said, WAIT).await.expect("said");
        assert_eq!(line.from, "srv");
        // An event that does not fit the declared type is a decode error
        // for the typed receiver.
        test.server.to_all().emit("said", 7).expect("emit");
        let wrong = ada.recv_event(Said, WAIT).await;
        assert!(matches!(wrong, Err(Error::Decode(_))), "{wrong:?}");
        let short = Duration::from_millis(200);
        assert!(matches!(ada.recv_event(Said, short).await, Err(Error::Timeout(_))));
    }
}
