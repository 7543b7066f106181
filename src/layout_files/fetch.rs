//! One guarded download: the URL a stranger typed into a website form is fetched by the server, so what it
//! may reach is narrowed before any connection is made. [`GuardedClient`] is the connection part, shared
//! with the webhooks' deliveries.
//!
//! - Only `http` and `https`, at every hop; redirects are followed by hand, at most `max_redirects`.
//! - Every host is resolved here, and loopback, private, link-local and other non-public addresses are
//!   dropped (unless the configuration allows them) before any connection; leadgate then connects to the
//!   checked addresses itself, so a name cannot resolve to a public address for the check and to a private
//!   one for the connection.
//! - No proxy, certificates verified (rustls with the Mozilla roots, as the mail channel), one request per
//!   connection over HTTP/1.1 (hyper), a size limit read as the body arrives, and one deadline for the whole
//!   download.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::header;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use url::Url;

use crate::config::LayoutFileSettings;
use leadgate_storage::DownloadedFile;

/// Why a download failed. The `Display` is the Russian sentence the lead page shows.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Not an http(s) URL, or not a URL at all.
    #[error("ссылка не http(s): {0}")]
    BadUrl(String),
    /// The address is not public and the configuration does not allow it.
    #[error("адрес {0} не публичный: такие адреса leadgate не запрашивает")]
    PrivateAddress(String),
    /// The site answered with an error status.
    #[error("сайт ответил {0}")]
    Status(u16),
    /// The file exceeds `max_bytes`.
    #[error("файл больше {0} байт")]
    TooLarge(u64),
    /// More redirects than allowed.
    #[error("слишком много перенаправлений (больше {0})")]
    TooManyRedirects(u32),
    /// A redirect without a usable `Location`.
    #[error("сайт перенаправил без адреса")]
    BadRedirect,
    /// The download did not finish in time.
    #[error("сайт не ответил вовремя")]
    Timeout,
    /// The site could not be reached (DNS, connection, TLS).
    #[error("сайт недоступен: {0}")]
    Unreachable(String),
}

impl FetchError {
    /// Whether trying again later may succeed (the site is down or busy), as opposed to an answer that will
    /// not change (404, a refused address, a file too large).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Status(code) => *code >= 500 || *code == 429 || *code == 408,
            Self::Timeout | Self::Unreachable(_) => true,
            _ => false,
        }
    }
}

/// Whether an address is on the public internet: not loopback, private, link-local, shared (CGNAT),
/// documentation, benchmarking, multicast, broadcast, reserved or unspecified; IPv6 forms that embed an IPv4
/// address are judged by it.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|&x| x == 0) {
        return is_public_v4(embedded(s[6], s[7]));
    }
    // 6to4 (2002::/16) carries one in its second and third groups.
    if s[0] == 0x2002 {
        return is_public_v4(embedded(s[1], s[2]));
    }
    // Global unicast is 2000::/3; everything else (loopback, unique and link local, site-local, multicast,
    // discard-only, local-use NAT64 and the rest) is not the public internet.
    (s[0] & 0xe000) == 0x2000
        && !(s[0] == 0x2001 && s[1] < 0x0200) // IETF protocol assignments: Teredo, benchmarking, ORCHID
        && !(s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        && !(s[0] == 0x3fff && s[1] < 0x1000) // documentation (3fff::/20)
}

/// The HTTP client for layout files, with the policy of `[layout_files]`.
#[derive(Clone)]
pub struct Fetcher {
    client: GuardedClient,
    settings: LayoutFileSettings,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// One plain or TLS connection.
enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Fetcher {
    /// Builds the client.
    ///
    /// # Errors
    /// The TLS configuration cannot be built.
    pub fn new(settings: &LayoutFileSettings) -> anyhow::Result<Self> {
        Ok(Self {
            client: GuardedClient::new(settings.allow_private_addresses)?,
            settings: settings.clone(),
        })
    }

    /// Downloads `url` under the policy, within one deadline.
    ///
    /// # Errors
    /// [`FetchError`]: its `Display` says why, in Russian, for the lead page.
    pub async fn fetch(&self, url: &str) -> Result<DownloadedFile, FetchError> {
        let deadline = Duration::from_secs(self.settings.timeout_secs.max(1));
        tokio::time::timeout(deadline, self.fetch_within(url))
            .await
            .unwrap_or(Err(FetchError::Timeout))
    }

    async fn fetch_within(&self, url: &str) -> Result<DownloadedFile, FetchError> {
        let mut url = Url::parse(url.trim()).map_err(|_| FetchError::BadUrl(url.to_owned()))?;
        let mut redirects = 0;
        loop {
            let request = hyper::Request::get("/").header(header::ACCEPT, "*/*");
            let response = self
                .client
                .send(&url, request, Empty::<Bytes>::new())
                .await?;
            let status = response.status();
            if status.is_redirection() {
                if redirects >= self.settings.max_redirects {
                    return Err(FetchError::TooManyRedirects(self.settings.max_redirects));
                }
                redirects += 1;
                let location = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or(FetchError::BadRedirect)?;
                url = url.join(location).map_err(|_| FetchError::BadRedirect)?;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status(status.as_u16()));
            }
            let max = self.settings.max_bytes;
            let declared = response
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n > max) {
                return Err(FetchError::TooLarge(max));
            }
            let content_type = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map_or_else(|| "application/octet-stream".to_owned(), media_type);
            let mut body = response.into_body();
            let mut bytes = Vec::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|_| unreachable(&url, "обмен прервался"))?;
                if let Some(chunk) = frame.data_ref() {
                    if (bytes.len() + chunk.len()) as u64 > max {
                        return Err(FetchError::TooLarge(max));
                    }
                    bytes.extend_from_slice(chunk);
                }
            }
            // An image is what its bytes say, not what the site claims: a thumbnail is shown only for one.
            let content_type = match image_type(&bytes) {
                Some(kind) => kind.to_owned(),
                None if content_type.starts_with("image/") => "application/octet-stream".to_owned(),
                None => content_type,
            };
            return Ok(DownloadedFile {
                file_name: file_name(&url),
                content_type,
                bytes,
            });
        }
    }
}

/// The image type of these bytes, from their signature: PNG, JPEG, GIF or WebP only (never SVG, which can
/// carry script).
pub fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Requests to URLs that others typed (layout file links, webhook URLs), each over a new connection that
/// leadgate opens itself to an address it has checked: http and https only, non-public addresses refused
/// unless allowed, certificates verified, no proxy, no redirects followed here.
#[derive(Clone)]
pub struct GuardedClient {
    tls: tokio_rustls::TlsConnector,
    allow_private: bool,
}

impl GuardedClient {
    /// A client that refuses non-public addresses unless `allow_private`.
    ///
    /// # Errors
    /// The TLS configuration cannot be built.
    pub fn new(allow_private: bool) -> anyhow::Result<Self> {
        let tls = leadgate_mail::tls::client_config(&leadgate_mail::tls::TlsSettings::default())?;
        Ok(Self {
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            allow_private,
        })
    }

    /// Checks `url` as a request to it would, without connecting: an http(s) URL whose host has an address
    /// the policy allows.
    ///
    /// # Errors
    /// `BadUrl`, `PrivateAddress`, or `Unreachable` when the name does not resolve.
    pub async fn check(&self, url: &Url) -> Result<(), FetchError> {
        let (_, host, port) = target(url)?;
        self.addresses(host.trim_start_matches('[').trim_end_matches(']'), port)
            .await
            .map(|_| ())
    }

    /// Sends one request over a new connection to a checked address of `url`'s host. `request` supplies
    /// the method and headers; its URI and `Host` are set from `url`.
    ///
    /// # Errors
    /// [`FetchError`]: a refused URL or address, or a host that cannot be reached.
    pub async fn send<B>(
        &self,
        url: &Url,
        request: axum::http::request::Builder,
        body: B,
    ) -> Result<hyper::Response<hyper::body::Incoming>, FetchError>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (https, host, port) = target(url)?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs = self.addresses(bare, port).await?;
        let tcp = connect(&addrs)
            .await
            .map_err(|_| unreachable(url, "нет соединения"))?;
        let stream = if https {
            let name = rustls_pki_types::ServerName::try_from(bare.to_owned())
                .map_err(|_| FetchError::BadUrl(url.to_string()))?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|_| unreachable(url, "ошибка TLS (сертификат не проверен)"))?;
            Stream::Tls(Box::new(tls))
        } else {
            Stream::Plain(tcp)
        };
        let mut path = url.path().to_owned();
        if let Some(query) = url.query() {
            path.push('?');
            path.push_str(query);
        }
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        let request = request
            .uri(path)
            .header(header::HOST, authority)
            .header(
                header::USER_AGENT,
                concat!("leadgate/", env!("CARGO_PKG_VERSION")),
            )
            .body(body)
            .map_err(|_| FetchError::BadUrl(url.to_string()))?;
        let response = match stream {
            Stream::Plain(s) => send(TokioIo::new(s), request).await,
            Stream::Tls(s) => send(TokioIo::new(s), request).await,
        };
        response.map_err(|_| unreachable(url, "ошибка обмена"))
    }

    /// The host's addresses that the policy allows; an address written in the URL is checked as it is.
    async fn addresses(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, FetchError> {
        let allowed = |ip: IpAddr| self.allow_private || is_public(ip);
        if let Ok(ip) = host.parse::<IpAddr>() {
            return if allowed(ip) {
                Ok(vec![SocketAddr::new(ip, port)])
            } else {
                Err(FetchError::PrivateAddress(ip.to_string()))
            };
        }
        let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| FetchError::Unreachable(format!("{host}, имя не найдено")))?
            .collect();
        let first = found.first().map(SocketAddr::ip);
        let public: Vec<SocketAddr> = found.into_iter().filter(|a| allowed(a.ip())).collect();
        match (public.is_empty(), first) {
            (false, _) => Ok(public),
            (true, Some(ip)) => Err(FetchError::PrivateAddress(ip.to_string())),
            (true, None) => Err(FetchError::Unreachable(format!("{host}, имя не найдено"))),
        }
    }
}

/// Whether `url` is https, its host as written and its port; `BadUrl` for anything but http(s) with a host.
fn target(url: &Url) -> Result<(bool, &str, u16), FetchError> {
    let https = match url.scheme() {
        "http" => false,
        "https" => true,
        _ => return Err(FetchError::BadUrl(url.to_string())),
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| FetchError::BadUrl(url.to_string()))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| FetchError::BadUrl(url.to_string()))?;
    Ok((https, host, port))
}

/// Connects to the first address that answers.
async fn connect(addrs: &[SocketAddr]) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::other("no address");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Sends one request over an HTTP/1.1 connection that serves only it.
async fn send<T, B>(
    io: TokioIo<T>,
    request: hyper::Request<B>,
) -> hyper::Result<hyper::Response<hyper::body::Incoming>>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "outbound connection ended with an error");
        }
    });
    sender.send_request(request).await
}

fn unreachable(url: &Url, why: &str) -> FetchError {
    FetchError::Unreachable(format!("{}, {why}", url.host_str().unwrap_or_default()))
}

/// The `type/subtype` of a `Content-Type` header, lower-cased; anything odd is `application/octet-stream`.
fn media_type(header: &str) -> String {
    let essence = header
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    match essence.split_once('/') {
        Some((t, s)) if token(t) && token(s) => essence,
        _ => "application/octet-stream".to_owned(),
    }
}

/// The last path segment, percent-decoded, for a file name (`file` when there is none).
fn file_name(url: &Url) -> String {
    let segment = url
        .path_segments()
        .and_then(|mut s| s.rfind(|seg| !seg.is_empty()))
        .unwrap_or_default();
    let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
    let name: String = decoded
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\'))
        .take(200)
        .collect();
    if name.trim().is_empty() {
        "file".to_owned()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
            "100::1",
            "64:ff9b:1::a00:1",
            "2002:7f00:1::",
            "2002:a00:1::1",
            "2001:0:a00:1::1",
            "2001:2::1",
            "fec0::1",
            "3fff::1",
            "::127.0.0.1",
        ] {
            let ip: IpAddr = private.parse().expect("a literal address");
            assert!(!is_public(ip), "{private} must not count as public");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2a00:1450:4010::8a",
            "::ffff:8.8.8.8",
            "2002:808:808::1",
            "2001:4860:4860::8888",
            "2606:4700::1111",
        ] {
            let ip: IpAddr = public.parse().expect("a literal address");
            assert!(is_public(ip), "{public} is public");
        }
    }

    #[test]
    fn file_names_come_from_the_last_path_segment_decoded() {
        let url = |s: &str| Url::parse(s).expect("a valid URL");
        assert_eq!(
            file_name(&url(
                "https://shop.example/u/%D0%BC%D0%B0%D0%BA%D0%B5%D1%82.pdf?x=1"
            )),
            "макет.pdf"
        );
        assert_eq!(file_name(&url("https://shop.example/dir/")), "dir");
        assert_eq!(file_name(&url("https://shop.example/")), "file");
        assert_eq!(file_name(&url("https://shop.example/a%2F..%2Fb")), "a..b");
    }

    #[test]
    fn content_types_keep_only_their_media_type() {
        assert_eq!(media_type("image/PNG; charset=binary"), "image/png");
        assert_eq!(
            media_type("text/html\"><script>"),
            "application/octet-stream"
        );
        assert_eq!(media_type(""), "application/octet-stream");
    }
}
