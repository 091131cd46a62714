//! Test certificates, generated at run time with rcgen: a test CA and a
//! leaf it signs for `localhost`, `127.0.0.1` and `::1`. Nothing here is a
//! real key; nothing is committed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hisock_tcp::tls::{ClientTls, ServerTls};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData,
};

/// A test CA and a server certificate it signed, as PEM text.
pub struct TestCerts {
    /// The CA's certificate: what a client trusts.
    pub ca_pem: String,
    /// The server's certificate chain (the leaf, then nothing: the CA is
    /// the trust anchor).
    pub cert_pem: String,
    /// The server's private key (PKCS#8).
    pub key_pem: String,
    /// The base64 SHA-256 of the leaf key's SubjectPublicKeyInfo: what
    /// Chromium's `--ignore-certificate-errors-spki-list` takes to trust
    /// this one certificate and no other.
    pub spki_sha256: String,
}

/// Differs for every CA made in any test process on this machine.
fn unique_id() -> String {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{}-{nanos}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    )
}

impl TestCerts {
    /// A fresh CA and a leaf for `names` (DNS names or IP addresses).
    pub fn generate_for(names: &[&str]) -> Self {
        let ca_key = KeyPair::generate().expect("generate the CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // A name of its own: two test CAs of one name would make a client
        // that trusts the other one see a bad signature, not an unknown
        // issuer.
        ca.distinguished_name.push(
            DnType::CommonName,
            format!("hisock test CA {}", unique_id()),
        );
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).expect("self-sign the CA");
        let issuer = Issuer::new(ca, ca_key);

        let leaf_key = KeyPair::generate().expect("generate the server key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut leaf = CertificateParams::new(names).expect("leaf params");
        leaf.distinguished_name
            .push(DnType::CommonName, "hisock test server");
        leaf.use_authority_key_identifier_extension = true;
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_cert = leaf
            .signed_by(&leaf_key, &issuer)
            .expect("sign the server certificate");

        let spki = leaf_key.subject_public_key_info();
        let digest = ring::digest::digest(&ring::digest::SHA256, &spki);
        Self {
            ca_pem: ca_cert.pem(),
            cert_pem: leaf_cert.pem(),
            key_pem: leaf_key.serialize_pem(),
            spki_sha256: base64::engine::general_purpose::STANDARD.encode(digest.as_ref()),
        }
    }

    /// A fresh CA and a leaf for `localhost`, `127.0.0.1` and `::1`.
    pub fn generate() -> Self {
        Self::generate_for(&["localhost", "127.0.0.1", "::1"])
    }

    /// One set per test process, for tests that only need TLS to work.
    pub fn shared() -> &'static TestCerts {
        static CERTS: OnceLock<TestCerts> = OnceLock::new();
        CERTS.get_or_init(TestCerts::generate)
    }

    /// The server side: this leaf and its key.
    pub fn server_tls(&self) -> ServerTls {
        ServerTls::from_pem(self.cert_pem.as_bytes(), self.key_pem.as_bytes())
            .expect("the test certificate loads")
    }

    /// The client side: trusts this CA only.
    pub fn client_tls(&self) -> ClientTls {
        ClientTls::with_ca_pem(self.ca_pem.as_bytes()).expect("the test CA loads")
    }

    /// Writes `ca.pem`, `cert.pem` and `key.pem` into `dir`; returns their
    /// paths in that order.
    pub fn write_to(&self, dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write a test PEM file");
            path
        };
        (
            write("ca.pem", &self.ca_pem),
            write("cert.pem", &self.cert_pem),
            write("key.pem", &self.key_pem),
        )
    }
}
