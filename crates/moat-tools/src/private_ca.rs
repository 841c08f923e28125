//! A tool's private certificate authority (`http.ca_file`): the PEM file
//! read and every certificate in it checked at start-up, so the tool's HTTPS
//! client can trust them besides the public web roots.

use std::path::{Path, PathBuf};

use tokio_rustls::rustls::pki_types::pem::{self, PemObject, SectionKind};
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::{self, RootCertStore};

use crate::error::RegistryError;

/// Largest `ca_file` read: a private CA is a handful of certificates; the
/// whole public web bundle is about 200 KiB.
pub const MAX_CA_FILE_BYTES: u64 = 1024 * 1024;

/// What to write in `ca_file`, said after every "no certificate" problem.
const EXPECTED: &str = "ca_file takes the CA certificate(s) in PEM, \
    `-----BEGIN CERTIFICATE-----` blocks (convert a DER file with \
    `openssl x509 -inform der -in ca.der -out ca.pem`)";

/// The CA certificates of one tool, each usable as a trusted root.
#[derive(Clone)]
pub(crate) struct PrivateCa {
    /// The file they came from, canonical.
    pub(crate) path: PathBuf,
    pub(crate) certificates: Vec<reqwest::Certificate>,
}

impl PrivateCa {
    /// Read `file` (relative to `base_dir`) and check every certificate.
    pub(crate) fn load(tool: &str, file: &Path, base_dir: &Path) -> Result<Self, RegistryError> {
        let joined = base_dir.join(file);
        let error = |path: &Path, problem: String| RegistryError::CaFile {
            tool: tool.to_owned(),
            path: path.display().to_string(),
            problem,
        };
        let unreadable = |path: &Path, e: std::io::Error| {
            error(
                path,
                format!(
                    "cannot read it: {e}; give a readable PEM file (a relative path is \
                     resolved against the config file's directory)"
                ),
            )
        };
        let path = joined.canonicalize().map_err(|e| unreadable(&joined, e))?;
        let len = std::fs::metadata(&path)
            .map_err(|e| unreadable(&path, e))?
            .len();
        if len > MAX_CA_FILE_BYTES {
            return Err(error(
                &path,
                format!(
                    "the file is larger than {MAX_CA_FILE_BYTES} bytes; give only the CA \
                     certificate(s) of the tool's service"
                ),
            ));
        }
        let bytes = std::fs::read(&path).map_err(|e| unreadable(&path, e))?;
        let der = certificates(&bytes).map_err(|problem| error(&path, problem))?;
        let count = der.len();
        let mut certificates = Vec::with_capacity(count);
        for (i, cert) in der.into_iter().enumerate() {
            let number = i + 1;
            // The check reqwest makes when it builds the client, made here so
            // the message can name the file and the certificate.
            RootCertStore::empty().add(cert.clone()).map_err(|e| {
                error(
                    &path,
                    format!(
                        "certificate {number} of {count} is not a usable X.509 CA certificate \
                         ({}); export the CA certificate again in PEM",
                        describe(&e)
                    ),
                )
            })?;
            let certificate = reqwest::Certificate::from_der(&cert).map_err(|e| {
                error(
                    &path,
                    format!("certificate {number} of {count} is not usable: {e}"),
                )
            })?;
            certificates.push(certificate);
        }
        Ok(Self { path, certificates })
    }
}

/// The DER of every `CERTIFICATE` block; a problem if there is none.
fn certificates(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut certificates = Vec::new();
    let mut private_key = false;
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes) {
        match section.map_err(|e| format!("not valid PEM ({}); {EXPECTED}", pem_problem(&e)))? {
            (SectionKind::Certificate, der) => certificates.push(CertificateDer::from(der)),
            (
                SectionKind::PrivateKey | SectionKind::RsaPrivateKey | SectionKind::EcPrivateKey,
                _,
            ) => {
                private_key = true;
            }
            _ => {}
        }
    }
    match (certificates.is_empty(), private_key) {
        (false, _) => Ok(certificates),
        (true, true) => Err(format!(
            "no certificate found, only a private key; {EXPECTED}, never a key"
        )),
        (true, false) => Err(format!("no certificate found; {EXPECTED}")),
    }
}

/// A PEM syntax error in words (pki-types prints the markers as byte lists).
fn pem_problem(error: &pem::Error) -> String {
    match error {
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "the `-----END {}-----` line is missing",
            String::from_utf8_lossy(end_marker).trim()
        ),
        pem::Error::IllegalSectionStart { line } => format!(
            "bad `-----BEGIN` line `{}`",
            String::from_utf8_lossy(line)
                .chars()
                .take(80)
                .collect::<String>()
        ),
        other => other.to_string(),
    }
}

/// rustls says "invalid peer certificate", which is about a server's chain.
fn describe(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(reason) => format!("{reason:?}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn ca_pem() -> String {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn every_certificate_block_is_read_and_other_blocks_are_skipped() {
        let key = rcgen::KeyPair::generate().unwrap().public_key_pem();
        let bundle = format!("# comment\n{}\n{key}\n{}", ca_pem(), ca_pem());
        assert_eq!(certificates(bundle.as_bytes()).unwrap().len(), 2);
    }

    #[test]
    fn no_certificate_says_what_to_give() {
        for text in ["", "just text\n", "\u{0}\u{1}binary"] {
            let problem = certificates(text.as_bytes()).unwrap_err();
            assert!(problem.starts_with("no certificate found;"), "{problem}");
            assert!(problem.contains("BEGIN CERTIFICATE"), "{problem}");
        }
        let key = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let problem = certificates(key.as_bytes()).unwrap_err();
        assert!(problem.contains("only a private key"), "{problem}");
        assert!(problem.ends_with("never a key"), "{problem}");
    }

    #[test]
    fn broken_pem_is_named() {
        let pem = ca_pem();
        let cut = &pem[..pem.len() - 30];
        let problem = certificates(cut.as_bytes()).unwrap_err();
        assert!(problem.starts_with("not valid PEM ("), "{problem}");
        assert!(
            problem.contains("the `-----END CERTIFICATE-----` line is missing"),
            "{problem}"
        );
    }
}
