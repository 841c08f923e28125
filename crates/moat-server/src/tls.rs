//! Serving HTTPS: the rustls server configuration from the operator's PEM
//! files (optionally requiring client certificates), and a listener that
//! completes TLS handshakes concurrently so one slow client cannot stall
//! the others.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::serve::{Listener, ListenerExt, TapIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::rustls;
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{InconsistentKeys, RootCertStore, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How long a client has to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many handshakes may be under way at once; beyond that, new
/// connections wait in the kernel's accept queue.
pub const MAX_PENDING_HANDSHAKES: usize = 1024;

/// TLS settings from the config (all paths already given by the operator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM certificate chain, the server's certificate first.
    pub cert: PathBuf,
    /// PEM private key of the certificate (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// Accept TLS 1.3 only; otherwise TLS 1.2 and 1.3.
    pub tls13_only: bool,
    /// PEM CA certificates: when set, every client must present a
    /// certificate chaining to one of them.
    pub client_ca: Option<PathBuf>,
}

/// Why the TLS configuration cannot be built; each names the file at fault.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// The file cannot be read.
    Read { path: PathBuf, source: io::Error },
    /// The file is not valid PEM.
    Pem { path: PathBuf, source: io::Error },
    /// The file holds no certificate.
    NoCertificate { path: PathBuf },
    /// The file holds no private key.
    NoPrivateKey { path: PathBuf },
    /// The private key is not the certificate's.
    KeyMismatch { cert: PathBuf, key: PathBuf },
    /// The certificate or key is unusable (unsupported key type, malformed
    /// certificate, ...).
    Certificate {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
    /// The client CA certificates are unusable.
    ClientCa { path: PathBuf, reason: String },
    /// The protocol versions cannot be configured.
    Protocol(rustls::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Self::Pem { path, source } => {
                write!(f, "{} is not valid PEM: {source}", path.display())
            }
            Self::NoCertificate { path } => {
                write!(f, "no certificate found in {}", path.display())
            }
            Self::NoPrivateKey { path } => write!(f, "no private key in {}", path.display()),
            Self::KeyMismatch { cert, key } => write!(
                f,
                "key does not match certificate: the key in {} is not the key of the certificate in {}",
                key.display(),
                cert.display()
            ),
            Self::Certificate { cert, key, source } => write!(
                f,
                "certificate {} with key {} is unusable: {source}",
                cert.display(),
                key.display()
            ),
            Self::ClientCa { path, reason } => {
                write!(f, "client CA {} is unusable: {reason}", path.display())
            }
            Self::Protocol(source) => write!(f, "cannot configure TLS versions: {source}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } | Self::Pem { source, .. } => Some(source),
            Self::Certificate { source, .. } | Self::Protocol(source) => Some(source),
            Self::NoCertificate { .. }
            | Self::NoPrivateKey { .. }
            | Self::KeyMismatch { .. }
            | Self::ClientCa { .. } => None,
        }
    }
}

/// Build the rustls server config: PEM cert chain + PEM private key
/// (PKCS#8, PKCS#1 or SEC1); TLS 1.2 and 1.3, or only 1.3 when
/// `tls13_only`; ALPN `http/1.1`; when `client_ca` is set, a client
/// certificate chaining to it is required.
pub fn server_config(settings: &TlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = read_certificates(&settings.cert)?;
    let key = read_private_key(&settings.key)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&'static rustls::SupportedProtocolVersion] = if settings.tls13_only {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(TlsError::Protocol)?;
    let builder = match &settings.client_ca {
        Some(path) => builder.with_client_cert_verifier(client_verifier(path, provider)?),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|source| match source {
            rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch) => {
                TlsError::KeyMismatch {
                    cert: settings.cert.clone(),
                    key: settings.key.clone(),
                }
            }
            source => TlsError::Certificate {
                cert: settings.cert.clone(),
                key: settings.key.clone(),
                source,
            },
        })?;
    // axum serves HTTP/1.1 only (its `http2` feature is off).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read_pem(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read_pem(path)?;
    let certificates = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            path: path.to_owned(),
            source,
        })?;
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certificates)
}

fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read_pem(path)?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|source| TlsError::Pem {
            path: path.to_owned(),
            source,
        })?
        .ok_or_else(|| TlsError::NoPrivateKey {
            path: path.to_owned(),
        })
}

fn client_verifier(
    path: &Path,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let unusable = |reason: String| TlsError::ClientCa {
        path: path.to_owned(),
        reason,
    };
    let mut roots = RootCertStore::empty();
    for certificate in read_certificates(path)? {
        roots
            .add(certificate)
            .map_err(|error| unusable(error.to_string()))?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|error| unusable(error.to_string()))
}

/// A listener that accepts TCP connections and completes TLS handshakes
/// concurrently: each handshake runs in its own task with a
/// [`HANDSHAKE_TIMEOUT`], at most [`MAX_PENDING_HANDSHAKES`] at once, so one
/// slow or malicious client cannot stall accepts. Failed handshakes are
/// logged at debug and never end the loop. `TCP_NODELAY` is set on every
/// accepted socket. Dropping the listener (as graceful shutdown does) drops
/// the handshakes still under way.
///
/// For handlers to see `ConnectInfo<SocketAddr>`, serve
/// [`TlsListener::with_connect_info`]: axum only derives a `SocketAddr`
/// from the connections of its own listener types.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

/// [`TlsListener`] in the wrapper for which axum implements
/// `Connected<IncomingStream<'_, _>> for SocketAddr`.
pub type TlsListenerWithConnectInfo = TapIo<TlsListener, fn(&mut TlsStream<TcpStream>)>;

impl TlsListener {
    /// Serve TLS with `config` on the connections `tcp` accepts.
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> Self {
        Self {
            tcp,
            acceptor: TlsAcceptor::from(config),
            handshakes: JoinSet::new(),
        }
    }

    /// This listener in the form that lets
    /// `Router::into_make_service_with_connect_info::<SocketAddr>()` give
    /// handlers the client's address; the connections are unchanged.
    pub fn with_connect_info(self) -> TlsListenerWithConnectInfo {
        self.tap_io(unchanged as fn(&mut TlsStream<TcpStream>))
    }

    fn start_handshake(&mut self, tcp: TcpStream, client: SocketAddr) {
        // Tokens are small writes: send them at once.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%client, %error, "could not set TCP_NODELAY");
        }
        let acceptor = self.acceptor.clone();
        self.handshakes.spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => Some((stream, client)),
                Ok(Err(error)) => {
                    tracing::debug!(%client, %error, "TLS handshake failed");
                    None
                }
                Err(_) => {
                    tracing::debug!(%client, "TLS handshake timed out");
                    None
                }
            }
        });
    }
}

fn unchanged(_: &mut TlsStream<TcpStream>) {}

impl fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsListener")
            .field("local_addr", &self.tcp.local_addr().ok())
            .field("pending_handshakes", &self.handshakes.len())
            .finish_non_exhaustive()
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // Both branches are cancel-safe: a handshake finished while this
        // future was dropped is picked up by the next call.
        loop {
            tokio::select! {
                biased;
                Some(joined) = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    match joined {
                        Ok(Some(connection)) => return connection,
                        Ok(None) => {}
                        Err(error) => tracing::debug!(%error, "TLS handshake task ended abnormally"),
                    }
                }
                accepted = self.tcp.accept(), if self.handshakes.len() < MAX_PENDING_HANDSHAKES => {
                    match accepted {
                        Ok((tcp, client)) => self.start_handshake(tcp, client),
                        Err(error) => handle_accept_error(error).await,
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// A connection that failed before it was accepted is that client's
/// problem; anything else (such as too many open files) is logged and
/// retried after a pause, as axum does for plain TCP.
async fn handle_accept_error(error: io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
