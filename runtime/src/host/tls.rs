//! The roots HTTPS trusts: the system's (read once per process, from
//! where the platform keeps them; `SSL_CERT_FILE` and `SSL_CERT_DIR`
//! override, as OpenSSL's tools do), plus the CA bundle a pipeline grants
//! for a private API. The client config is built on a connector's first
//! HTTPS request, so instances that never make one pay nothing.

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The trust of one connector instance.
pub(crate) struct Tls {
    /// The certificates of the granted CA bundle.
    extra: Vec<CertificateDer<'static>>,
    config: OnceLock<Result<Arc<rustls::ClientConfig>, String>>,
}

impl Tls {
    /// The system's roots and those in the PEM file `bundle`, if any; an
    /// error names the file and what is wrong with it.
    pub(crate) fn new(bundle: Option<&Path>) -> Result<Tls, String> {
        let extra = match bundle {
            None => Vec::new(),
            Some(path) => read_bundle(path)?,
        };
        Ok(Tls {
            extra,
            config: OnceLock::new(),
        })
    }

    /// The client config: built once, then shared.
    pub(crate) fn config(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        self.config
            .get_or_init(|| client_config(&self.extra).map(Arc::new))
            .clone()
    }
}

/// The certificates of a PEM file, at least one.
fn read_bundle(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read the CA bundle `{shown}`: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the CA bundle `{shown}` is not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "the CA bundle `{shown}` holds no certificate (`-----BEGIN CERTIFICATE-----` blocks)"
        ));
    }
    Ok(certs)
}

/// The system's trusted roots, loaded once per process. A store that
/// cannot be read is logged; HTTPS then trusts only granted bundles.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::warn!("reading the system's trusted certificates: {e}");
        }
        tracing::debug!("{} trusted certificates from the system", found.certs.len());
        found.certs
    })
}

/// A client config trusting the system's roots and `extra`, TLS 1.2 and
/// 1.3 with ring's algorithms.
fn client_config(extra: &[CertificateDer<'static>]) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(system_roots().iter().cloned());
    tracing::debug!("trusting {added} system roots ({ignored} unusable)");
    for cert in extra {
        if let Err(e) = roots.add(cert.clone()) {
            tracing::warn!("a certificate of the CA bundle is not usable as a root: {e}");
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = Tls::new(Some(&empty)).err().unwrap();
        assert!(
            err.contains("holds no certificate") && err.contains("empty.pem"),
            "{err}"
        );
        let missing = dir.path().join("missing.pem");
        let err = Tls::new(Some(&missing)).err().unwrap();
        assert!(
            err.contains("cannot read") && err.contains("missing.pem"),
            "{err}"
        );
        assert!(Tls::new(None).is_ok());
    }
}
