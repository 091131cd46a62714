//! [`TlsError`]: what can go wrong setting up or running TLS, typed so that
//! an application (and a test) can tell an untrusted certificate from a
//! wrong hostname without reading text.

use std::io;

use hisock::TransportError;
use rustls::CertificateError;

/// Why TLS failed: loading certificates, or a handshake.
///
/// A failed client connect reaches the application as
/// [`hisock::Error::Transport`]; [`TlsError::find`] gets the `TlsError`
/// back out of it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The server's certificate does not chain to a CA this client trusts
    /// (a self-signed certificate, or a private CA that was not added with
    /// [`ClientTls::with_ca_pem`](super::ClientTls::with_ca_pem)).
    #[error(
        "TLS: the server's certificate is not signed by a trusted CA (unknown issuer); \
         trust its CA with ClientTls::with_ca_pem or with_ca_file"
    )]
    UntrustedCertificate,
    /// The server's certificate is valid, but not for the host the client
    /// connected to.
    #[error("TLS: the server's certificate is not valid for the hostname {host:?}")]
    WrongHostname {
        /// The name the client expected the certificate to carry.
        host: String,
    },
    /// The server's certificate was refused for another reason (expired,
    /// revoked, not yet valid, …).
    #[error("TLS: the peer's certificate is invalid: {0:?}")]
    InvalidCertificate(CertificateError),
    /// The handshake failed (no common protocol version or cipher suite, a
    /// peer that does not speak TLS, an alert from the peer, …).
    #[error("TLS handshake failed: {0}")]
    Handshake(rustls::Error),
    /// The handshake did not finish within its timeout.
    #[error("TLS handshake timed out after {} ms", .0.as_millis() as u64)]
    HandshakeTimedOut(std::time::Duration),
    /// A host that cannot be a TLS server name.
    #[error("TLS: {0:?} is not a valid server name")]
    InvalidServerName(String),
    /// A PEM file or buffer could not be read or holds no usable item.
    #[error("TLS: {what}: {reason}")]
    Pem {
        /// What was being loaded ("certificate chain", "private key", "CA").
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the configuration (a key that does not match the
    /// certificate, say).
    #[error("TLS configuration refused: {0}")]
    Config(rustls::Error),
    /// The socket failed during the handshake.
    #[error("i/o error during the TLS handshake: {0}")]
    Io(io::Error),
}

impl TlsError {
    /// Classifies the error of a tokio-rustls handshake for the client
    /// that expected `host`: rustls errors travel inside `io::Error`.
    pub(crate) fn from_handshake(err: io::Error, host: &str) -> Self {
        let rustls_error = err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .cloned();
        match rustls_error {
            Some(rustls::Error::InvalidCertificate(cert)) => match cert {
                CertificateError::UnknownIssuer => TlsError::UntrustedCertificate,
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => TlsError::WrongHostname {
                    host: host.to_owned(),
                },
                other => TlsError::InvalidCertificate(other),
            },
            Some(other) => TlsError::Handshake(other),
            None => TlsError::Io(err),
        }
    }

    /// The `TlsError` inside a hisock error, if TLS is why it failed.
    ///
    /// ```
    /// # fn check(err: &hisock::Error) {
    /// use hisock_tcp::tls::TlsError;
    /// if let Some(TlsError::UntrustedCertificate) = TlsError::find(err) {
    ///     eprintln!("add the server's CA with ClientTls::with_ca_pem");
    /// }
    /// # }
    /// ```
    pub fn find(err: &hisock::Error) -> Option<&TlsError> {
        match err {
            hisock::Error::Transport(TransportError::Io(io)) => io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<TlsError>()),
            _ => None,
        }
    }
}

impl From<TlsError> for TransportError {
    fn from(err: TlsError) -> Self {
        let kind = match &err {
            TlsError::Io(io) => io.kind(),
            TlsError::HandshakeTimedOut(_) => io::ErrorKind::TimedOut,
            _ => io::ErrorKind::InvalidData,
        };
        TransportError::Io(io::Error::new(kind, err))
    }
}

impl From<TlsError> for hisock::Error {
    fn from(err: TlsError) -> Self {
        hisock::Error::Transport(err.into())
    }
}
