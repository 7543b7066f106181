//! TCP and TLS transport shared by the IMAP and POP3 clients.
//!
//! Mail servers of print shops are reached three ways: implicit TLS (993/995), a plain
//! connection upgraded with STARTTLS/STLS (143/110), or plain text on a trusted network. This
//! module owns that choice, so both protocols verify certificates the same way: against the
//! Mozilla roots of `webpki-roots` plus an optional CA file, with `ring` as the only crypto
//! provider (no OpenSSL, no aws-lc). Skipping verification is possible but explicit, and it is
//! logged as a warning on every connection made with it, so it cannot be forgotten in a config.
//!
//! Every socket is wrapped in [`TimeoutIo`], so a server that stops answering in the middle of a
//! response or a handshake fails the step after [`Endpoint::timeout`] instead of hanging a
//! collector run forever.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use leadgate_domain::collector::TlsMode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;
use tokio_rustls::TlsConnector;

/// TLS settings of one mail endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsSettings {
    /// Implicit TLS, STARTTLS or none.
    pub mode: TlsMode,
    /// A PEM file with extra CA certificates to trust besides the built-in Mozilla roots, for
    /// servers with a private CA.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate. Dangerous: anyone on the path can read the password. Every
    /// connection made with it logs a warning.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            mode: TlsMode::Implicit,
            ca_file: None,
            insecure_skip_verify: false,
        }
    }
}

/// Where a mail server is and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP address; also the name the certificate must carry.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// How the connection is secured.
    pub tls: TlsSettings,
    /// Limit for connecting, and for each read or write to make progress.
    pub timeout: Duration,
}

/// A TLS setup or handshake failure.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The CA file could not be read or is not PEM.
    #[error("cannot read CA file {path}")]
    CaFile {
        /// The configured CA file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// The CA file holds no certificate.
    #[error("CA file {path} holds no certificate")]
    NoCertificate {
        /// The configured CA file.
        path: PathBuf,
    },
    /// A certificate in the CA file cannot serve as a trust anchor.
    #[error("CA file {path} holds an unusable certificate")]
    BadCaCertificate {
        /// The configured CA file.
        path: PathBuf,
        /// Why rustls refused it.
        #[source]
        source: rustls::Error,
    },
    /// The host is neither a DNS name nor an IP address.
    #[error("{host:?} is not a valid TLS server name")]
    ServerName {
        /// The configured host.
        host: String,
    },
    /// rustls refused the configuration (no usable protocol versions).
    #[error("TLS configuration")]
    Config(#[source] rustls::Error),
    /// The handshake failed: most often the certificate did not verify.
    #[error("TLS handshake with {host} failed")]
    Handshake {
        /// The server's host.
        host: String,
        /// The handshake error; a certificate problem is an `InvalidData` error wrapping a
        /// [`rustls::Error`].
        #[source]
        source: io::Error,
    },
}

/// A failure to open a connection.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The TCP connection or TLS handshake did not finish in time.
    #[error("connecting to {host}:{port} timed out after {after:?}")]
    Timeout {
        /// The server's host.
        host: String,
        /// The server's port.
        port: u16,
        /// The configured timeout.
        after: Duration,
    },
    /// The TCP connection failed (refused, unreachable, name not resolved).
    #[error("cannot connect to {host}:{port}")]
    Io {
        /// The server's host.
        host: String,
        /// The server's port.
        port: u16,
        /// The socket error.
        #[source]
        source: io::Error,
    },
    /// TLS could not be set up.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Builds the rustls client configuration for `settings`.
///
/// Roots are the Mozilla set of `webpki-roots` plus the certificates in `settings.ca_file`.
/// With `insecure_skip_verify`, certificates are not checked at all (handshake signatures
/// still are).
///
/// # Errors
///
/// [`TlsError::CaFile`], [`TlsError::NoCertificate`] or [`TlsError::BadCaCertificate`] when the
/// CA file is unusable; [`TlsError::Config`] if rustls rejects the protocol versions.
pub fn client_config(settings: &TlsSettings) -> Result<ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?;
    let config = if settings.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoCertificateVerification {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = &settings.ca_file {
            add_ca_file(&mut roots, path)?;
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(config)
}

fn add_ca_file(roots: &mut RootCertStore, path: &Path) -> Result<(), TlsError> {
    let ca_file_error = |source| TlsError::CaFile {
        path: path.to_owned(),
        source,
    };
    let mut found = false;
    for cert in CertificateDer::pem_file_iter(path).map_err(ca_file_error)? {
        let cert = cert.map_err(ca_file_error)?;
        roots
            .add(cert)
            .map_err(|source| TlsError::BadCaCertificate {
                path: path.to_owned(),
                source,
            })?;
        found = true;
    }
    if found {
        Ok(())
    } else {
        Err(TlsError::NoCertificate {
            path: path.to_owned(),
        })
    }
}

/// Accepts every certificate; used only with `insecure_skip_verify`.
#[derive(Debug)]
struct NoCertificateVerification {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for NoCertificateVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Opens the TCP connection to `endpoint` and, for [`TlsMode::Implicit`], performs the TLS
/// handshake. For [`TlsMode::StartTls`] and [`TlsMode::None`] the stream is plain; the protocol
/// client upgrades it with [`upgrade`] after its STARTTLS/STLS command.
///
/// # Errors
///
/// [`ConnectError::Timeout`] when the TCP connect or the handshake takes longer than
/// `endpoint.timeout`, [`ConnectError::Io`] when the connection fails, [`ConnectError::Tls`]
/// when TLS cannot be set up or the certificate does not verify.
pub async fn connect(endpoint: &Endpoint) -> Result<MailStream, ConnectError> {
    let tcp = with_connect_timeout(endpoint, async {
        TcpStream::connect((endpoint.host.as_str(), endpoint.port))
            .await
            .map_err(|source| ConnectError::Io {
                host: endpoint.host.clone(),
                port: endpoint.port,
                source,
            })
    })
    .await?;
    // Mail protocols are chatty request/response exchanges: do not wait to fill packets.
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
    let plain = MailStream::Plain(TimeoutIo::new(tcp, endpoint.timeout));
    match endpoint.tls.mode {
        TlsMode::Implicit => upgrade(endpoint, plain).await,
        TlsMode::StartTls | TlsMode::None => Ok(plain),
    }
}

/// Performs the TLS handshake on a plain stream, after STARTTLS/STLS or at once for implicit
/// TLS. A stream that is already TLS is returned unchanged.
///
/// # Errors
///
/// [`ConnectError::Tls`] when the configuration is unusable, the host is not a valid server name
/// or the handshake fails (certificate not trusted, wrong name); [`ConnectError::Timeout`] when
/// it does not finish within `endpoint.timeout`.
pub async fn upgrade(endpoint: &Endpoint, stream: MailStream) -> Result<MailStream, ConnectError> {
    let plain = match stream {
        MailStream::Plain(plain) => plain,
        tls @ MailStream::Tls(_) => return Ok(tls),
    };
    if endpoint.tls.insecure_skip_verify {
        tracing::warn!(
            host = %endpoint.host,
            port = endpoint.port,
            "TLS certificate verification is switched off (insecure_skip_verify): \
             the password can be read by anyone on the path"
        );
    }
    let config = client_config(&endpoint.tls)?;
    let server_name =
        ServerName::try_from(endpoint.host.clone()).map_err(|_| TlsError::ServerName {
            host: endpoint.host.clone(),
        })?;
    let connector = TlsConnector::from(Arc::new(config));
    let tls = with_connect_timeout(endpoint, async {
        connector
            .connect(server_name, plain)
            .await
            .map_err(|source| {
                if source.kind() == io::ErrorKind::TimedOut {
                    ConnectError::Timeout {
                        host: endpoint.host.clone(),
                        port: endpoint.port,
                        after: endpoint.timeout,
                    }
                } else {
                    ConnectError::Tls(TlsError::Handshake {
                        host: endpoint.host.clone(),
                        source,
                    })
                }
            })
    })
    .await?;
    Ok(MailStream::Tls(Box::new(tls)))
}

async fn with_connect_timeout<T>(
    endpoint: &Endpoint,
    future: impl Future<Output = Result<T, ConnectError>>,
) -> Result<T, ConnectError> {
    tokio::time::timeout(endpoint.timeout, future)
        .await
        .unwrap_or_else(|_| {
            Err(ConnectError::Timeout {
                host: endpoint.host.clone(),
                port: endpoint.port,
                after: endpoint.timeout,
            })
        })
}

/// A connection to a mail server: plain TCP or TLS over TCP, with idle timeouts on both.
pub enum MailStream {
    /// Plain TCP (TLS mode none, or STARTTLS before the upgrade).
    Plain(TimeoutIo<TcpStream>),
    /// TLS over TCP.
    Tls(Box<tokio_rustls::client::TlsStream<TimeoutIo<TcpStream>>>),
}

impl MailStream {
    /// Whether the stream is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls(_))
    }

    /// Changes the timeout of each read and write (see [`TimeoutIo::set_timeout`]).
    pub fn set_timeout(&mut self, timeout: Duration) {
        match self {
            Self::Plain(s) => s.set_timeout(timeout),
            Self::Tls(s) => s.get_mut().0.set_timeout(timeout),
        }
    }
}

impl fmt::Debug for MailStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plain(_) => f.write_str("MailStream::Plain"),
            Self::Tls(_) => f.write_str("MailStream::Tls"),
        }
    }
}

impl AsyncRead for MailStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MailStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// An IO wrapper that fails a read or write with [`io::ErrorKind::TimedOut`] when it makes no
/// progress for `timeout`.
///
/// The limit applies to each single read or write, not to a whole exchange, so a large message
/// that keeps arriving is never cut off while a stalled server is noticed.
pub struct TimeoutIo<S> {
    inner: S,
    timeout: Duration,
    read_deadline: Option<Pin<Box<Sleep>>>,
    write_deadline: Option<Pin<Box<Sleep>>>,
}

impl<S> TimeoutIo<S> {
    /// Wraps `inner` with the given per-operation timeout.
    pub fn new(inner: S, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            read_deadline: None,
            write_deadline: None,
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Changes the per-operation timeout from the next read or write on (IMAP IDLE waits longer than a
    /// command may).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
        self.read_deadline = None;
        self.write_deadline = None;
    }
}

fn poll_deadline(
    deadline: &mut Option<Pin<Box<Sleep>>>,
    timeout: Duration,
    cx: &mut Context<'_>,
) -> Poll<io::Error> {
    let sleep = deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
    match sleep.as_mut().poll(cx) {
        Poll::Ready(()) => {
            *deadline = None;
            Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no progress for {timeout:?}"),
            ))
        }
        Poll::Pending => Poll::Pending,
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TimeoutIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.read_deadline = None;
                Poll::Ready(result)
            }
            Poll::Pending => poll_deadline(&mut this.read_deadline, this.timeout, cx).map(Err),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TimeoutIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(result) => {
                this.write_deadline = None;
                Poll::Ready(result)
            }
            Poll::Pending => poll_deadline(&mut this.write_deadline, this.timeout, cx).map(Err),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(result) => {
                this.write_deadline = None;
                Poll::Ready(result)
            }
            Poll::Pending => poll_deadline(&mut this.write_deadline, this.timeout, cx).map(Err),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_shutdown(cx) {
            Poll::Ready(result) => {
                this.write_deadline = None;
                Poll::Ready(result)
            }
            Poll::Pending => poll_deadline(&mut this.write_deadline, this.timeout, cx).map(Err),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use tokio::io::AsyncReadExt;

    #[test]
    fn a_missing_ca_file_is_a_ca_file_error() {
        let settings = TlsSettings {
            ca_file: Some(PathBuf::from("/nonexistent/ca.pem")),
            ..TlsSettings::default()
        };
        assert!(matches!(
            client_config(&settings),
            Err(TlsError::CaFile { .. })
        ));
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let settings = TlsSettings {
            ca_file: Some(path),
            ..TlsSettings::default()
        };
        assert!(matches!(
            client_config(&settings),
            Err(TlsError::NoCertificate { .. })
        ));
    }

    #[tokio::test]
    async fn a_silent_peer_times_out_a_read() {
        let (client, _server) = tokio::io::duplex(64);
        let mut io = TimeoutIo::new(client, Duration::from_millis(50));
        let mut buf = [0u8; 8];
        let error = io.read(&mut buf).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }
}
