//! A demo certificate, made when a program starts (`chat_server --tls`,
//! `axum_tls`): a CA of its own signs a certificate for `localhost`,
//! `127.0.0.1` and `::1`, and all three PEM files are written to a folder
//! so that clients can trust the CA. For trying TLS out on one machine;
//! a real deployment brings its own certificate (`--cert`, `--key`).

use std::io;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// Where the demo certificate's files are.
#[derive(Debug, Clone)]
pub struct DemoCerts {
    /// The CA certificate clients trust (`chat_client --tls-ca`).
    pub ca: PathBuf,
    /// The server's certificate.
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
}

/// The folder the demo certificate goes to unless told otherwise.
pub fn default_dir() -> PathBuf {
    std::env::temp_dir().join("hisock-demo-tls")
}

/// Makes a new CA and a server certificate it signs, and writes `ca.pem`,
/// `cert.pem` and `key.pem` into `dir` (created if missing; the key file
/// readable by its owner only on Unix).
pub fn write_demo_certs(dir: &Path) -> io::Result<DemoCerts> {
    let fail = |err: rcgen::Error| io::Error::other(format!("making the demo certificate: {err}"));
    let ca_key = KeyPair::generate().map_err(fail)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "hisock demo CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).map_err(fail)?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate().map_err(fail)?;
    let names = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let mut leaf = CertificateParams::new(names).map_err(fail)?;
    leaf.distinguished_name
        .push(DnType::CommonName, "hisock demo server");
    leaf.use_authority_key_identifier_extension = true;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = leaf.signed_by(&key, &issuer).map_err(fail)?;

    std::fs::create_dir_all(dir)?;
    let certs = DemoCerts {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&certs.ca, ca_cert.pem())?;
    std::fs::write(&certs.cert, cert.pem())?;
    write_private(&certs.key, &key.serialize_pem())?;
    Ok(certs)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> io::Result<()> {
    std::fs::write(path, text)
}
