//! Tools over HTTPS to a service whose certificate comes from a private CA
//! (`http.ca_file`): a real TLS server on 127.0.0.1 with a certificate for
//! localhost/127.0.0.1 from a CA made for the test; trusted with the CA's
//! file, refused without it or with another CA's; and the start-up errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::routing::get;
use axum::serve::Listener;
use axum::Router;
use moat_tools::{RegistryError, ToolConfig, ToolError, ToolExecutor, ToolRegistry};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde::Deserialize;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

// ---------------------------------------------------------------------------
// Certificates

struct Authority {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

impl Authority {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Self { params, key, pem }
    }

    /// A server certificate for localhost and 127.0.0.1: (cert PEM, key PEM).
    fn issue_server(&self) -> (String, String) {
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "orders test");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

// ---------------------------------------------------------------------------
// HTTPS service

/// Completes each TLS handshake before handing the connection to axum; a
/// client that gives up on the handshake is dropped and the next one served.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, client)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, client);
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// An HTTPS order service whose certificate `ca` issued.
struct OrderService {
    port: u16,
    /// Requests that got past the handshake.
    hits: Arc<AtomicUsize>,
}

impl OrderService {
    async fn start(ca: &Authority) -> Self {
        let (cert, key) = ca.issue_server();
        let chain = vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
        let mut config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];

        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = Router::new().route(
            "/orders/{id}",
            get(
                move |axum::extract::Path(id): axum::extract::Path<String>| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async move { format!("order {id}: shipped") }
                },
            ),
        );
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = tcp.local_addr().unwrap().port();
        let listener = TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        };
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { port, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

// ---------------------------------------------------------------------------
// Tools

#[derive(Deserialize)]
struct File {
    tools: Vec<ToolConfig>,
}

/// The tools of a config file in `dir`: one `order_status` tool at `url`
/// with `extra` lines in its `[tools.http]`.
fn registry(dir: &Path, url: &str, extra: &str) -> Result<ToolRegistry, RegistryError> {
    let text = format!(
        r#"
[[tools]]
name = "order_status"
description = "Status of one order."
[tools.parameters]
type = "object"
[tools.parameters.properties.id]
type = "string"
[tools.http]
url = "{url}"
{extra}
"#
    );
    let configs = toml::from_str::<File>(&text).unwrap().tools;
    ToolRegistry::with_env(configs, dir, |_: &str| None)
}

fn executor(dir: &Path, url: &str, extra: &str) -> ToolExecutor {
    ToolExecutor::new(registry(dir, url, extra).unwrap()).unwrap()
}

/// A config directory with `files` (path, contents) in it.
fn config_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, contents) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
    dir
}

async fn order_status(tools: &ToolExecutor) -> Result<String, ToolError> {
    tools
        .execute("order_status", &json!({"id": "A-1001"}), "alice")
        .await
        .map(|output| output.content)
}

// ---------------------------------------------------------------------------
// Calls

#[tokio::test]
async fn ca_file_makes_the_private_ca_trusted() {
    let ca = Authority::new("Internal Orders CA");
    let service = OrderService::start(&ca).await;
    let dir = config_dir(&[("certs/internal-ca.pem", &ca.pem)]);

    for host in ["localhost", "127.0.0.1"] {
        let url = format!("https://{host}:{}/orders/{{id}}", service.port);
        let tools = executor(dir.path(), &url, "ca_file = \"certs/internal-ca.pem\"");
        assert_eq!(order_status(&tools).await.unwrap(), "order A-1001: shipped");
    }
    assert_eq!(service.hits(), 2);

    // A bundle: every certificate in the file is trusted, not only the first.
    let other = Authority::new("Unrelated CA");
    let bundle = format!("{}\n{}", other.pem, ca.pem);
    let dir = config_dir(&[("bundle.pem", &bundle)]);
    let url = format!("https://localhost:{}/orders/{{id}}", service.port);
    let tools = executor(dir.path(), &url, "ca_file = \"bundle.pem\"");
    assert_eq!(order_status(&tools).await.unwrap(), "order A-1001: shipped");
    assert_eq!(service.hits(), 3);
}

#[tokio::test]
async fn without_the_right_ca_the_call_fails_as_a_tls_error() {
    let ca = Authority::new("Internal Orders CA");
    let service = OrderService::start(&ca).await;
    let url = format!("https://localhost:{}/orders/{{id}}", service.port);

    // Public roots only.
    let dir = config_dir(&[]);
    let err = order_status(&executor(dir.path(), &url, ""))
        .await
        .unwrap_err();
    let ToolError::Tls(message) = &err else {
        panic!("expected a TLS error, got {err:?}");
    };
    assert!(message.contains("UnknownIssuer"), "{message}");
    assert_eq!(err.outcome(), "tls_error");
    assert!(
        err.to_string()
            .starts_with("no secure connection to the tool's service: "),
        "{err}"
    );
    assert!(
        !err.to_string().contains("A-1001"),
        "no URL in the message: {err}"
    );

    // Another private CA: ca_file adds that CA, it does not turn checks off.
    let other = Authority::new("Unrelated CA");
    let dir = config_dir(&[("other.pem", &other.pem)]);
    let err = order_status(&executor(dir.path(), &url, "ca_file = \"other.pem\""))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ToolError::Tls(m) if m.contains("UnknownIssuer")),
        "{err:?}"
    );

    assert_eq!(service.hits(), 0, "no request got past the handshake");
}

// ---------------------------------------------------------------------------
// Start-up errors

/// The start-up error, which must name the tool and `file`.
fn startup_error(dir: &Path, url: &str, file: &str) -> String {
    let err = registry(dir, url, &format!("ca_file = \"{file}\"")).unwrap_err();
    assert!(matches!(err, RegistryError::CaFile { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with("tool `order_status`: http.ca_file `"),
        "names the tool and the field: {message}"
    );
    let name = Path::new(file).file_name().unwrap().to_str().unwrap();
    assert!(message.contains(name), "names the file: {message}");
    message
}

const HTTPS: &str = "https://orders.internal/orders/{id}";

#[test]
fn a_missing_ca_file_is_a_startup_error() {
    let dir = config_dir(&[]);
    let message = startup_error(dir.path(), HTTPS, "certs/missing-ca.pem");
    let expected = dir.path().join("certs/missing-ca.pem");
    assert!(
        message.contains(&format!("`{}`", expected.display())),
        "resolved against the config's directory: {message}"
    );
    assert!(message.contains("cannot read it"), "{message}");
    assert!(
        message.contains("relative path is resolved against the config file's directory"),
        "{message}"
    );
}

#[test]
fn a_ca_file_without_a_certificate_is_a_startup_error() {
    let key = KeyPair::generate().unwrap().serialize_pem();
    let dir = config_dir(&[
        ("empty.pem", ""),
        ("notes.txt", "ask the PKI team for the CA\n"),
        ("ca.key", &key),
    ]);
    for file in ["empty.pem", "notes.txt"] {
        let message = startup_error(dir.path(), HTTPS, file);
        assert!(message.contains("no certificate found;"), "{message}");
        assert!(message.contains("-----BEGIN CERTIFICATE-----"), "{message}");
    }
    let message = startup_error(dir.path(), HTTPS, "ca.key");
    assert!(
        message.contains("no certificate found, only a private key"),
        "{message}"
    );
    assert!(!message.contains("PRIVATE KEY-----"), "{message}");
}

#[test]
fn a_certificate_that_does_not_parse_is_a_startup_error() {
    let good = Authority::new("Internal Orders CA").pem;
    // Valid PEM and base64, not a certificate.
    let garbage =
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
    let dir = config_dir(&[("bundle.pem", &format!("{good}{garbage}"))]);
    let message = startup_error(dir.path(), HTTPS, "bundle.pem");
    assert!(
        message.contains("certificate 2 of 2 is not a usable X.509 CA certificate"),
        "{message}"
    );
    assert!(
        message.contains("export the CA certificate again"),
        "{message}"
    );

    // A block cut short.
    let cut = &good[..good.len() - 40];
    let dir = config_dir(&[("cut.pem", cut)]);
    let message = startup_error(dir.path(), HTTPS, "cut.pem");
    assert!(message.contains("not valid PEM"), "{message}");
}

#[test]
fn ca_file_on_an_http_url_is_a_startup_error() {
    let ca = Authority::new("Internal Orders CA");
    let dir = config_dir(&[("ca.pem", &ca.pem)]);
    let message = startup_error(dir.path(), "http://orders.internal/orders/{id}", "ca.pem");
    assert!(message.contains("the URL is http://"), "{message}");
    assert!(
        message.contains("use an https:// URL or remove ca_file"),
        "{message}"
    );
    // The same file on the https URL is accepted.
    let registry = registry(dir.path(), HTTPS, "ca_file = \"ca.pem\"").unwrap();
    let debug = format!("{registry:?}");
    assert!(debug.contains("ca.pem"), "{debug}");
}
