//! [`ServerTls`]: the server side of TLS, shared by the TCP+TLS listener
//! and the WSS listener: the certificate, the handshake under its own
//! timeout, and the count of handshakes that failed.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::{provider, TlsError, DEFAULT_HANDSHAKE_TIMEOUT};

/// A server's TLS settings: its certificate chain and key (or a whole
/// `rustls::ServerConfig`), and how long a client may take to complete the
/// TLS handshake. Cheap to clone; clones share the failure count.
///
/// The handshake runs on the connection's own task, never in the accept
/// loop, so a slow or silent peer holds up nobody else. A handshake that
/// fails or times out is logged at `debug`, counted
/// ([`failed_handshakes`](Self::failed_handshakes)), and only that
/// connection is dropped.
#[derive(Clone)]
pub struct ServerTls {
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
    failed_handshakes: Arc<AtomicU64>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("handshake_timeout", &self.handshake_timeout)
            .field("failed_handshakes", &self.failed_handshakes())
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Uses a `rustls::ServerConfig` the application built (client
    /// certificates, ALPN, a certificate resolver, …).
    pub fn from_config(config: Arc<ServerConfig>) -> Self {
        Self {
            acceptor: TlsAcceptor::from(config),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            failed_handshakes: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Serves the certificate chain in `cert_chain_pem` (the server's
    /// certificate first, then its intermediates) with the private key in
    /// `key_pem` (PKCS#8, PKCS#1 or SEC1), TLS 1.2 and 1.3.
    ///
    /// Errors: [`TlsError::Pem`] when either holds nothing usable,
    /// [`TlsError::Config`] when the key does not fit the certificate.
    pub fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsError> {
        let chain = read_chain(CertificateDer::pem_slice_iter(cert_chain_pem))?;
        let key =
            PrivateKeyDer::from_pem_slice(key_pem).map_err(|err| pem_error("private key", err))?;
        Self::from_der(chain, key)
    }

    /// Like [`from_pem`](Self::from_pem), reading both from files.
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, TlsError> {
        let chain = CertificateDer::pem_file_iter(cert_chain.as_ref())
            .map_err(|err| pem_error("certificate chain", err))?;
        let chain = read_chain(chain)?;
        let key = PrivateKeyDer::from_pem_file(key.as_ref())
            .map_err(|err| pem_error("private key", err))?;
        Self::from_der(chain, key)
    }

    /// Serves a DER certificate chain with its private key.
    pub fn from_der(
        cert_chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsError> {
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_no_client_auth()
            .with_single_cert(cert_chain, key)
            .map_err(TlsError::Config)?;
        Ok(Self::from_config(Arc::new(config)))
    }

    /// How long a client may take to complete the TLS handshake (default
    /// 10 s). The server's own handshake timeout
    /// ([`ServerConfig::handshake_timeout`](hisock::ServerConfig::handshake_timeout))
    /// also bounds it, with the WebSocket upgrade and the hisock hello.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// How many TLS handshakes failed or timed out since this `ServerTls`
    /// was created (across its clones).
    pub fn failed_handshakes(&self) -> u64 {
        self.failed_handshakes.load(Ordering::Relaxed)
    }

    /// The rustls configuration in use.
    pub fn config(&self) -> &Arc<ServerConfig> {
        self.acceptor.config()
    }

    /// Runs the server side of the TLS handshake on an accepted stream,
    /// under the handshake timeout. A failure is logged at `debug` with the
    /// peer's address and counted.
    pub async fn accept<IO>(
        &self,
        io: IO,
        peer: Option<SocketAddr>,
    ) -> Result<TlsStream<IO>, TlsError>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let outcome =
            match tokio::time::timeout(self.handshake_timeout, self.acceptor.accept(io)).await {
                Ok(Ok(stream)) => return Ok(stream),
                Ok(Err(err)) => TlsError::from_handshake(err, ""),
                Err(_) => TlsError::HandshakeTimedOut(self.handshake_timeout),
            };
        self.failed_handshakes.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(?peer, err = %outcome, "TLS handshake failed");
        Err(outcome)
    }
}

fn read_chain<I>(items: I) -> Result<Vec<CertificateDer<'static>>, TlsError>
where
    I: Iterator<Item = Result<CertificateDer<'static>, rustls::pki_types::pem::Error>>,
{
    let chain = items
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| pem_error("certificate chain", err))?;
    if chain.is_empty() {
        return Err(TlsError::Pem {
            what: "certificate chain",
            reason: "no CERTIFICATE section found".into(),
        });
    }
    Ok(chain)
}

pub(super) fn pem_error(what: &'static str, err: rustls::pki_types::pem::Error) -> TlsError {
    let reason = match err {
        rustls::pki_types::pem::Error::NoItemsFound => "no usable PEM section found".to_owned(),
        other => other.to_string(),
    };
    TlsError::Pem { what, reason }
}
