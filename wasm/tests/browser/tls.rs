//! `wss://` from the browser: the test server's WSS listener has a test
//! certificate that Chromium trusts by its key's SPKI hash
//! (`--ignore-certificate-errors-spki-list`, set by
//! scripts/browser-tests.sh), and only that one: the second listener's
//! certificate must be refused.

use hisock::{ClientInfo, ClientOptions, TransportKind};
use wasm_bindgen_test::wasm_bindgen_test;

use crate::support::{unique, within, WAIT};

fn url(var: Option<&'static str>, name: &str) -> &'static str {
    match var {
        Some(url) if !url.is_empty() => url,
        _ => {
            panic!("{name} was not set when the tests were compiled; run scripts/browser-tests.sh")
        }
    }
}

#[wasm_bindgen_test]
async fn the_rust_client_connects_over_wss_and_the_server_sees_a_wss_client() {
    let wss = url(option_env!("HISOCK_TEST_WSS_URL"), "HISOCK_TEST_WSS_URL");
    let name = unique("wss");
    let client = within(
        "connect over wss",
        hisock_wasm::connect(wss, ClientOptions::new().name(&name)),
    )
    .await
    .expect("the test certificate is trusted by its SPKI hash");
    assert_eq!(client.transport(), TransportKind::Wss);
    let me: ClientInfo = client.request("whoami", &(), WAIT).await.expect("whoami");
    assert_eq!(me.name(), Some(name.as_str()));
    assert_eq!(me.transport, TransportKind::Wss);
    client.close().await;
}

#[wasm_bindgen_test]
async fn a_certificate_chromium_was_not_told_to_trust_is_refused() {
    let untrusted = url(
        option_env!("HISOCK_TEST_WSS_UNTRUSTED_URL"),
        "HISOCK_TEST_WSS_UNTRUSTED_URL",
    );
    let refused = within(
        "connect to the untrusted certificate",
        hisock_wasm::connect(untrusted, ClientOptions::new()),
    )
    .await;
    assert!(refused.is_err(), "certificate checks are on");
}
