//! The certificate of the TLS and WSS figures, the same for raw and
//! hisock: a test CA and a leaf for 127.0.0.1 (hisock-test-support's
//! `TestCerts`, made once per run). The M1 helper processes load the copy
//! the benchmark wrote, named by [`DIR_VAR`], so that their server and
//! clients agree on it.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use hisock_tcp::tls::rustls::{ClientConfig, ServerConfig};
use hisock_tcp::tls::{ClientTls, ServerTls};
use hisock_test_support::TestCerts;

use crate::util::BenchResult;

/// The environment variable naming the folder with the PEM files.
pub const DIR_VAR: &str = "HISOCK_BENCH_TLS_DIR";

fn certs() -> &'static TestCerts {
    static CERTS: OnceLock<TestCerts> = OnceLock::new();
    CERTS.get_or_init(|| match std::env::var_os(DIR_VAR) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
            TestCerts {
                ca_pem: read("ca.pem"),
                cert_pem: read("cert.pem"),
                key_pem: read("key.pem"),
                spki_sha256: String::new(),
            }
        }
        None => TestCerts::generate(),
    })
}

/// Writes this run's certificate for the helper processes; returns the
/// folder to name in [`DIR_VAR`].
pub fn shared_dir() -> BenchResult<PathBuf> {
    if let Some(dir) = DIR.get() {
        return Ok(dir.clone());
    }
    let dir = std::env::temp_dir().join(format!("hisock-bench-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    certs().write_to(&dir);
    Ok(DIR.get_or_init(|| dir).clone())
}

/// The folder [`shared_dir`] wrote, once it has.
static DIR: OnceLock<PathBuf> = OnceLock::new();

/// Removes the folder [`shared_dir`] wrote, if it did (the end of a run).
pub fn remove_shared_dir() {
    if let Some(dir) = DIR.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The server side (hisock listeners).
pub fn server_tls() -> &'static ServerTls {
    static TLS: OnceLock<ServerTls> = OnceLock::new();
    TLS.get_or_init(|| certs().server_tls())
}

/// The client side (hisock clients).
pub fn client_tls() -> &'static ClientTls {
    static TLS: OnceLock<ClientTls> = OnceLock::new();
    TLS.get_or_init(|| certs().client_tls())
}

/// The rustls server config, for the raw side.
pub fn server_config() -> Arc<ServerConfig> {
    server_tls().config().clone()
}

/// The rustls client config, for the raw side.
pub fn client_config() -> Arc<ClientConfig> {
    client_tls().config().clone()
}
