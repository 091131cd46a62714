//! [`ClientTls`]: the client side of TLS, shared by the TCP+TLS client and
//! the WSS client: which CAs to trust, and the handshake with its errors
//! told apart (untrusted CA, wrong hostname).

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::server::pem_error;
use super::{provider, TlsError, DEFAULT_HANDSHAKE_TIMEOUT};

/// A client's TLS settings: the CAs it trusts (the Mozilla roots of
/// `webpki-roots` by default, or the application's own CA), and how long
/// the TLS handshake may take. Cheap to clone.
///
/// The certificate is always verified, against the host name the client
/// connects to (or the one set with [`server_name`](Self::server_name)).
#[derive(Clone)]
pub struct ClientTls {
    connector: TlsConnector,
    server_name: Option<String>,
    handshake_timeout: Duration,
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("server_name", &self.server_name)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl Default for ClientTls {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientTls {
    /// Trusts the Mozilla root CAs (the `webpki-roots` crate): what a
    /// client of a server with a public certificate wants.
    pub fn new() -> Self {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        Self::with_roots(roots)
    }

    /// Trusts exactly the CAs in `roots`.
    pub fn with_roots(roots: RootCertStore) -> Self {
        // The ring provider supports the safe default versions: building
        // cannot fail.
        let config = match ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
        {
            Ok(builder) => builder.with_root_certificates(roots).with_no_client_auth(),
            Err(err) => unreachable!("ring supports TLS 1.2 and 1.3: {err}"),
        };
        Self::from_config(Arc::new(config))
    }

    /// Trusts the CA certificates in `ca_pem` (one or more `CERTIFICATE`
    /// sections), and only them: a private deployment's own CA, or a test
    /// certificate.
    ///
    /// Errors: [`TlsError::Pem`] when `ca_pem` holds no certificate that
    /// can be a trust anchor.
    pub fn with_ca_pem(ca_pem: &[u8]) -> Result<Self, TlsError> {
        let certs = CertificateDer::pem_slice_iter(ca_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| pem_error("CA", err))?;
        Self::with_ca_der(certs)
    }

    /// Like [`with_ca_pem`](Self::with_ca_pem), reading the file at `path`.
    pub fn with_ca_file(path: impl AsRef<Path>) -> Result<Self, TlsError> {
        let certs = CertificateDer::pem_file_iter(path.as_ref())
            .map_err(|err| pem_error("CA", err))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| pem_error("CA", err))?;
        Self::with_ca_der(certs)
    }

    fn with_ca_der(certs: Vec<CertificateDer<'static>>) -> Result<Self, TlsError> {
        let mut roots = RootCertStore::empty();
        for cert in certs {
            roots.add(cert).map_err(|err| TlsError::Pem {
                what: "CA",
                reason: err.to_string(),
            })?;
        }
        if roots.is_empty() {
            return Err(TlsError::Pem {
                what: "CA",
                reason: "no CERTIFICATE section found".into(),
            });
        }
        Ok(Self::with_roots(roots))
    }

    /// Uses a `rustls::ClientConfig` the application built (client
    /// certificates, other roots, ALPN, …).
    pub fn from_config(config: Arc<ClientConfig>) -> Self {
        Self {
            connector: TlsConnector::from(config),
            server_name: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// Verifies the server's certificate against `name` (and sends it as
    /// SNI) instead of the host connected to: for a server reached by an
    /// address its certificate does not name.
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// How long the TLS handshake may take (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The rustls configuration in use.
    pub fn config(&self) -> &Arc<ClientConfig> {
        self.connector.config()
    }

    /// Runs the client side of the TLS handshake on a connected stream,
    /// verifying the server's certificate for `host` (a DNS name or an IP
    /// address; brackets around IPv6 are fine), unless
    /// [`server_name`](Self::server_name) says otherwise.
    ///
    /// Errors: [`TlsError::UntrustedCertificate`],
    /// [`TlsError::WrongHostname`], [`TlsError::HandshakeTimedOut`] and the
    /// other [`TlsError`]s.
    pub async fn connect<IO>(&self, host: &str, io: IO) -> Result<TlsStream<IO>, TlsError>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let host = self.server_name.as_deref().unwrap_or(host);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_owned())
            .map_err(|_| TlsError::InvalidServerName(host.to_owned()))?;
        match tokio::time::timeout(self.handshake_timeout, self.connector.connect(name, io)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(err)) => Err(TlsError::from_handshake(err, host)),
            Err(_) => Err(TlsError::HandshakeTimedOut(self.handshake_timeout)),
        }
    }
}
