//! HTTPS for the server: a CA made at start (its certificate is what a
//! client must trust, [`crate::HttpServer::ca_pem`]) and a certificate it
//! signed for `127.0.0.1` and `localhost`.

use crate::Error;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// What the server needs to speak TLS, and what a client must trust.
pub(crate) struct Identity {
    /// The CA's certificate, PEM.
    pub(crate) ca_pem: String,
    /// Accepts TLS connections with the signed certificate.
    pub(crate) acceptor: TlsAcceptor,
}

/// A new CA and a server certificate it signed.
pub(crate) fn identity() -> Result<Identity, Error> {
    let fail = |what: &str, e: &dyn std::fmt::Display| Error::Tls {
        reason: format!("{what}: {e}"),
    };
    let ca_key = KeyPair::generate().map_err(|e| fail("CA key", &e))?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(|e| fail("CA", &e))?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "sluice test API CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).map_err(|e| fail("CA", &e))?;
    let key = KeyPair::generate().map_err(|e| fail("server key", &e))?;
    let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    let mut leaf = CertificateParams::new(names).map_err(|e| fail("server", &e))?;
    leaf.distinguished_name
        .push(DnType::CommonName, "sluice test API");
    let cert = leaf
        .signed_by(&key, &ca_cert, &ca_key)
        .map_err(|e| fail("server", &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail("TLS set-up", &e))?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key_der)
        .map_err(|e| fail("TLS set-up", &e))?;
    Ok(Identity {
        ca_pem: ca_cert.pem(),
        acceptor: TlsAcceptor::from(Arc::new(config)),
    })
}
