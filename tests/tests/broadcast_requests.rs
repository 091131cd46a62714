//! Requests to many clients at once: every recipient's reply or error,
//! and the ones that did not answer in time named.

use std::time::Duration;

use hisock::{ClientOptions, Data, Error, ErrorCode, Server};
use hisock_test_support::{transport_tests, TestServer, WAIT};

transport_tests! {
    /// A group request reaches the group's members only, and each answer
    /// comes back under its client: replies, a handler that failed, no
    /// handler, and one too slow for the timeout.
    async fn a_group_request_returns_every_members_answer(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let jury = |answer: bool| {
            ClientOptions::new()
                .group("jury")
                .on("vote", move |Data(q): Data<String>| async move {
                    assert_eq!(q, "guilty?");
                    answer
                })
        };
        let yes = test.connect(jury(true)).await;
        let no = test.connect(jury(false)).await;
        let slow = test
            .connect(ClientOptions::new().group("jury").on("vote", |Data(_): Data<String>| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                true
            }))
            .await;
        let failing = test
            .connect(ClientOptions::new().group("jury").on("vote", |Data(_): Data<String>| async {
                Err::<bool, _>("recused")
            }))
            .await;
        let mute = test.connect(ClientOptions::new().group("jury")).await;
        let _outsider = test
            .connect(ClientOptions::new().group("public").on("vote", |Data(_): Data<String>| async {
                panic!("the outsider is not asked");
                #[allow(unreachable_code)]
                false
            }))
            .await;

        let votes = test
            .server
            .to_group("jury")
            .request::<bool, _>("vote", "guilty?", Duration::from_millis(500))
            .await
            .expect("the request went out");

        assert_eq!(votes.len(), 5);
        let mut ok: Vec<(u64, bool)> = votes.ok().map(|(id, v)| (id, *v)).collect();
        ok.sort();
        let mut expected = vec![(yes.id(), true), (no.id(), false)];
        expected.sort();
        assert_eq!(ok, expected);
        assert_eq!(votes.timed_out(), [slow.id()]);
        for (id, err) in votes.failed() {
            match err {
                Error::Timeout(_) => assert_eq!(id, slow.id()),
                Error::Remote { code: ErrorCode::HandlerFailed, message } => {
                    assert_eq!(id, failing.id());
                    assert!(message.contains("recused"), "{message}");
                }
                Error::Remote { code: ErrorCode::NoHandler, .. } => assert_eq!(id, mute.id()),
                other => panic!("unexpected answer from {id}: {other:?}"),
            }
        }
    }

    /// `to_all().except(id)` asks everyone else; nobody to ask is an empty
    /// answer, not an error.
    async fn a_broadcast_request_to_all_but_one(t: Transport) {
        let test = TestServer::start(t, Server::new()).await;
        let echo = || ClientOptions::new().on("id", |c: hisock::Client| async move { c.id() });
        let a = test.connect(echo()).await;
        let b = test.connect(echo()).await;
        let c = test.connect(echo()).await;

        let ids = test
            .server
            .to_all()
            .except(a.id())
            .request::<u64, _>("id", &(), WAIT)
            .await
            .expect("request");
        let mut got: Vec<u64> = ids.ok().map(|(from, id)| {
            assert_eq!(from, *id, "each answer is its own client's");
            *id
        }).collect();
        got.sort();
        let mut expected = vec![b.id(), c.id()];
        expected.sort();
        assert_eq!(got, expected);

        let nobody = test.server.to_group("empty").request::<u64, _>("id", &(), WAIT).await.expect("request");
        assert!(nobody.is_empty());
    }
}
