//! HTTPS over a real socket: `axum::serve` on a [`TlsListener`] at
//! 127.0.0.1:0 with certificates made for the test, driven by reqwest and by
//! a bare rustls client that controls versions and client certificates; the
//! client-address allow-list behind a real socket.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::Router;
use moat_server::network::{check_client_address, ClientAllowList};
use moat_server::tls::{server_config, TlsError, TlsListener, TlsSettings};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, ProtocolVersion, RootCertStore};
use tokio_rustls::TlsConnector;

/// Long enough for any honest exchange on loopback, well below the server's
/// 10 s handshake timeout.
const QUICK: Duration = Duration::from_secs(3);

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

    /// A certificate for `names` signed by this authority: (cert PEM, key PEM).
    fn issue(&self, names: &[&str], usage: ExtendedKeyUsagePurpose) -> (String, String) {
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "moat test");
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// A CA, a server certificate for localhost/127.0.0.1, a client certificate
/// from the same CA and one from another CA, written to a fresh directory.
struct Pki {
    dir: PathBuf,
    ca: String,
    client: (String, String),
    stranger: (String, String),
}

impl Pki {
    fn new(test: &str) -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("tls")
            .join(test);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();

        let ca = Authority::new("moat test CA");
        let other_ca = Authority::new("another CA");
        let (server_cert, server_key) = ca.issue(
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let pki = Self {
            ca: ca.pem.clone(),
            client: ca.issue(&["client.example"], ExtendedKeyUsagePurpose::ClientAuth),
            stranger: other_ca.issue(&["client.example"], ExtendedKeyUsagePurpose::ClientAuth),
            dir,
        };
        pki.write("ca.pem", &ca.pem);
        pki.write("server.pem", &server_cert);
        pki.write("server.key", &server_key);
        pki
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn settings(&self) -> TlsSettings {
        TlsSettings {
            cert: self.path("server.pem"),
            key: self.path("server.key"),
            tls13_only: false,
            client_ca: None,
        }
    }
}

// ---------------------------------------------------------------------------
// Server

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Serve a router that answers `hello <client address>` over TLS.
    async fn start(settings: &TlsSettings) -> Self {
        let router =
            Router::new().route(
                "/",
                get(|ConnectInfo(client): ConnectInfo<SocketAddr>| async move {
                    format!("hello {client}")
                }),
            );
        Self::serve(settings, router).await
    }

    async fn serve(settings: &TlsSettings, router: Router) -> Self {
        let config = server_config(settings).unwrap();
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let listener = TlsListener::new(tcp, config).with_connect_info();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .into_future(),
        );
        Self {
            addr,
            stop: Some(stop),
            server,
        }
    }

    async fn shutdown(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        let result = tokio::time::timeout(QUICK, self.server)
            .await
            .expect("server did not stop after graceful shutdown")
            .unwrap();
        assert!(result.is_ok(), "{result:?}");
    }
}

// ---------------------------------------------------------------------------
// Bare rustls client

fn client_config(
    ca_pem: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
    identity: Option<&(String, String)>,
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots);
    let mut config = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

/// What one HTTPS exchange showed.
#[derive(Debug)]
struct Exchange {
    /// The client's end of the connection.
    local: SocketAddr,
    version: Option<ProtocolVersion>,
    alpn: Option<Vec<u8>>,
    response: String,
}

/// `GET /` over a fresh TLS connection; any TLS failure is an error.
async fn https_get(addr: SocketAddr, config: Arc<ClientConfig>) -> std::io::Result<Exchange> {
    tokio::time::timeout(QUICK, async move {
        let tcp = TcpStream::connect(addr).await?;
        let local = tcp.local_addr()?;
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = TlsConnector::from(config).connect(name, tcp).await?;
        let (_, connection) = tls.get_ref();
        let version = connection.protocol_version();
        let alpn = connection.alpn_protocol().map(<[u8]>::to_vec);
        tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await?;
        let mut response = Vec::new();
        tls.read_to_end(&mut response).await?;
        Ok(Exchange {
            local,
            version,
            alpn,
            response: String::from_utf8_lossy(&response).into_owned(),
        })
    })
    .await
    .expect("HTTPS exchange did not finish in time")
}

fn assert_hello(exchange: &Exchange) {
    assert!(
        exchange.response.starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        exchange.response
    );
    let body = format!("\r\n\r\nhello {}", exchange.local);
    assert!(
        exchange.response.ends_with(&body),
        "handler did not see the client address {}: {}",
        exchange.local,
        exchange.response
    );
}

const BOTH: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
const TLS12: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
const TLS13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

// ---------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn https_request_succeeds_and_the_handler_sees_the_client_address() {
    let pki = Pki::new("https_request");
    let running = Running::start(&pki.settings()).await;

    // A real client trusting only the test CA.
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca.as_bytes()).unwrap())
        .resolve("localhost", running.addr)
        .build()
        .unwrap();
    let response = client
        .get(format!("https://localhost:{}/", running.addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(body.starts_with("hello 127.0.0.1:"), "{body}");

    // The exact client port, TLS 1.3 preferred, HTTP/1.1 negotiated.
    let exchange = https_get(running.addr, client_config(&pki.ca, BOTH, None))
        .await
        .unwrap();
    assert_hello(&exchange);
    assert_eq!(exchange.version, Some(ProtocolVersion::TLSv1_3));
    assert_eq!(exchange.alpn.as_deref(), Some(&b"http/1.1"[..]));

    running.shutdown().await;
}

#[tokio::test]
async fn plain_http_to_the_tls_port_fails_and_serving_goes_on() {
    let pki = Pki::new("plain_http");
    let running = Running::start(&pki.settings()).await;

    let plain = reqwest::get(format!("http://{}/", running.addr)).await;
    assert!(plain.is_err(), "plain HTTP got an answer: {plain:?}");

    let mut tcp = TcpStream::connect(running.addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(QUICK, tcp.read_to_end(&mut answer))
        .await
        .expect("the server kept a plain HTTP connection open");
    assert!(
        !answer.starts_with(b"HTTP/"),
        "plain HTTP got an HTTP answer: {}",
        String::from_utf8_lossy(&answer)
    );

    let exchange = https_get(running.addr, client_config(&pki.ca, BOTH, None))
        .await
        .unwrap();
    assert_hello(&exchange);
    running.shutdown().await;
}

#[tokio::test]
async fn tls12_is_accepted_by_default_and_refused_when_tls13_only() {
    let pki = Pki::new("versions");

    let default = Running::start(&pki.settings()).await;
    let exchange = https_get(default.addr, client_config(&pki.ca, TLS12, None))
        .await
        .unwrap();
    assert_hello(&exchange);
    assert_eq!(exchange.version, Some(ProtocolVersion::TLSv1_2));
    default.shutdown().await;

    let strict = Running::start(&TlsSettings {
        tls13_only: true,
        ..pki.settings()
    })
    .await;
    let refused = https_get(strict.addr, client_config(&pki.ca, TLS12, None)).await;
    assert!(refused.is_err(), "TLS 1.2 client served: {refused:?}");
    let exchange = https_get(strict.addr, client_config(&pki.ca, TLS13, None))
        .await
        .unwrap();
    assert_hello(&exchange);
    assert_eq!(exchange.version, Some(ProtocolVersion::TLSv1_3));
    strict.shutdown().await;
}

#[tokio::test]
async fn client_ca_requires_a_certificate_from_that_ca() {
    let pki = Pki::new("client_ca");
    let running = Running::start(&TlsSettings {
        client_ca: Some(pki.path("ca.pem")),
        ..pki.settings()
    })
    .await;

    for versions in [TLS13, TLS12] {
        let anonymous = https_get(running.addr, client_config(&pki.ca, versions, None)).await;
        assert!(
            anonymous.is_err(),
            "client without certificate served: {anonymous:?}"
        );

        let stranger = https_get(
            running.addr,
            client_config(&pki.ca, versions, Some(&pki.stranger)),
        )
        .await;
        assert!(
            stranger.is_err(),
            "client with another CA's certificate served: {stranger:?}"
        );

        let exchange = https_get(
            running.addr,
            client_config(&pki.ca, versions, Some(&pki.client)),
        )
        .await
        .unwrap();
        assert_hello(&exchange);
    }
    running.shutdown().await;
}

#[tokio::test]
async fn clients_that_never_handshake_do_not_block_others() {
    let pki = Pki::new("silent_clients");
    let running = Running::start(&pki.settings()).await;

    // Connected, never a byte sent; one sends half a record header.
    let mut silent = Vec::new();
    for _ in 0..8 {
        silent.push(TcpStream::connect(running.addr).await.unwrap());
    }
    silent[0].write_all(&[0x16, 0x03]).await.unwrap();

    let started = Instant::now();
    for _ in 0..3 {
        let exchange = https_get(running.addr, client_config(&pki.ca, BOTH, None))
            .await
            .unwrap();
        assert_hello(&exchange);
    }
    assert!(started.elapsed() < QUICK, "took {:?}", started.elapsed());

    drop(silent);
    running.shutdown().await;
}

#[tokio::test]
async fn server_config_names_the_file_at_fault() {
    let pki = Pki::new("config_errors");
    assert!(server_config(&pki.settings()).is_ok());
    assert!(server_config(&TlsSettings {
        tls13_only: true,
        client_ca: Some(pki.path("ca.pem")),
        ..pki.settings()
    })
    .is_ok());

    let error = |settings: TlsSettings| server_config(&settings).unwrap_err();

    // A missing file.
    let missing = pki.path("missing.pem");
    let err = error(TlsSettings {
        cert: missing.clone(),
        ..pki.settings()
    });
    assert!(
        matches!(&err, TlsError::Read { path, .. } if path == &missing),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("cannot read {}: ", missing.display())),
        "{err}"
    );

    // A certificate file holding only a key, or nothing PEM at all.
    for (name, contents) in [
        (
            "only-key.pem",
            std::fs::read_to_string(pki.path("server.key")).unwrap(),
        ),
        ("not-pem.txt", "just some text\n".to_string()),
        ("empty.pem", String::new()),
    ] {
        let path = pki.write(name, &contents);
        let err = error(TlsSettings {
            cert: path.clone(),
            ..pki.settings()
        });
        assert_eq!(
            err.to_string(),
            format!("no certificate found in {}", path.display())
        );
    }

    // A key file holding only a certificate.
    let err = error(TlsSettings {
        key: pki.path("server.pem"),
        ..pki.settings()
    });
    assert_eq!(
        err.to_string(),
        format!("no private key in {}", pki.path("server.pem").display())
    );

    // A key that is not the certificate's.
    let (_, other_key) = pki.client.clone();
    let other_key = pki.write("other.key", &other_key);
    let err = error(TlsSettings {
        key: other_key.clone(),
        ..pki.settings()
    });
    assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("key does not match certificate"),
        "{err}"
    );
    assert!(
        err.to_string().contains(&other_key.display().to_string()),
        "{err}"
    );

    // A client CA file without a certificate.
    let no_ca = pki.write("no-ca.pem", "");
    let err = error(TlsSettings {
        client_ca: Some(no_ca.clone()),
        ..pki.settings()
    });
    assert_eq!(
        err.to_string(),
        format!("no certificate found in {}", no_ca.display())
    );
}

// ---------------------------------------------------------------------------
// Client-address allow-list

async fn serve_with_allow_list(entries: &[&str]) -> SocketAddr {
    let list = Arc::new(ClientAllowList::parse(entries).unwrap());
    let router = Router::new().route("/", get(|| async { "hello" })).layer(
        axum::middleware::from_fn_with_state(list, check_client_address),
    );
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    tokio::spawn(
        axum::serve(
            tcp,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .into_future(),
    );
    addr
}

const ADDRESS_NOT_ALLOWED: &str = r#"{"error":{"message":"Requests from your address are not allowed.","type":"permission_error","param":null,"code":"address_not_allowed"}}"#;

#[tokio::test]
async fn allow_list_lets_listed_clients_through() {
    let addr = serve_with_allow_list(&["127.0.0.1"]).await;
    let response = reqwest::get(format!("http://{addr}/")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "hello");
}

#[tokio::test]
async fn allow_list_refuses_other_clients_with_403() {
    let addr = serve_with_allow_list(&["10.0.0.0/8"]).await;
    for path in ["/", "/v1/chat/completions"] {
        let response = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
        assert_eq!(response.status(), 403);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "application/json"
        );
        assert_eq!(response.text().await.unwrap(), ADDRESS_NOT_ALLOWED);
    }
}

#[tokio::test]
async fn allow_list_sees_the_client_address_through_tls() {
    let pki = Pki::new("allow_list_tls");
    for (entries, allowed) in [(["127.0.0.0/8"], true), (["10.0.0.0/8"], false)] {
        let list = Arc::new(ClientAllowList::parse(&entries).unwrap());
        let router = Router::new()
            .route(
                "/",
                get(|ConnectInfo(client): ConnectInfo<SocketAddr>| async move {
                    format!("hello {client}")
                }),
            )
            .layer(axum::middleware::from_fn_with_state(
                list,
                check_client_address,
            ));
        let running = Running::serve(&pki.settings(), router).await;
        let exchange = https_get(running.addr, client_config(&pki.ca, BOTH, None))
            .await
            .unwrap();
        if allowed {
            assert_hello(&exchange);
        } else {
            assert!(
                exchange.response.starts_with("HTTP/1.1 403 Forbidden\r\n"),
                "{}",
                exchange.response
            );
            assert!(
                exchange.response.ends_with(ADDRESS_NOT_ALLOWED),
                "{}",
                exchange.response
            );
        }
        running.shutdown().await;
    }
}
