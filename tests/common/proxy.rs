//! A TCP proxy on loopback between leadgate and its database, which a test cuts and restores: a database
//! that goes away (a network cut, a restart) without stopping the server every other test shares.
//!
//! While cut, every connection through it is closed and each new one is closed as soon as it is accepted;
//! restored, it forwards again. Armed with [`Proxy::lose_next_commit_answer`], it forwards the next `COMMIT`
//! to the server and closes that connection before the server's answer reaches the client: a commit whose
//! outcome the client cannot know.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The proxy; it stops when dropped.
pub struct Proxy {
    addr: SocketAddr,
    up: watch::Sender<bool>,
    lose_commit_answer: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

/// A simple-protocol query's text as the client sends it for a transaction's commit.
const COMMIT: &[u8] = b"COMMIT\0";

/// Forwards one connection until either side closes or the proxy is cut; a client's `COMMIT` while `lose`
/// is armed goes to the server, and the connection is then closed without its answer.
async fn forward(
    client: TcpStream,
    server: TcpStream,
    mut up: watch::Receiver<bool>,
    lose: Arc<AtomicBool>,
) {
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    // Whether the connection ends on a COMMIT whose answer is to be lost. The COMMIT is written and the
    // branch is done in one poll: the answer cannot be forwarded before the select ends.
    let upstream = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from_client.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => n,
            };
            let chunk = &buf[..n];
            let commit = chunk.windows(COMMIT.len()).any(|w| w == COMMIT);
            if to_server.write_all(chunk).await.is_err() {
                return false;
            }
            if commit && lose.swap(false, Ordering::SeqCst) {
                return true;
            }
        }
    };
    let downstream = tokio::io::copy(&mut from_server, &mut to_client);
    let lost = tokio::select! {
        lost = upstream => lost,
        _ = downstream => false,
        _ = up.wait_for(|up| !*up) => false,
    };
    drop((from_client, to_client));
    if lost {
        // The server has the COMMIT; give it time to read it before its side closes too.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

impl Proxy {
    /// A proxy to `target` on a free loopback port, forwarding when `up`.
    pub async fn start(target: SocketAddr, up: bool) -> Self {
        assert!(target.ip().is_loopback(), "tests reach loopback only");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = watch::channel(up);
        let lose_commit_answer = Arc::new(AtomicBool::new(false));
        let lose = lose_commit_answer.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if !*rx.borrow() {
                    drop(client);
                    continue;
                }
                let rx = rx.clone();
                let lose = lose.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    forward(client, server, rx, lose).await;
                });
            }
        });
        Self {
            addr,
            up: tx,
            lose_commit_answer,
            task,
        }
    }

    /// The next `COMMIT` a client sends reaches the server, but its connection is closed before the answer
    /// comes back.
    pub fn lose_next_commit_answer(&self) {
        self.lose_commit_answer.store(true, Ordering::SeqCst);
    }

    /// Where to connect instead of the target.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every connection through the proxy, and every new one until [`Proxy::restore`].
    pub fn cut(&self) {
        self.up.send_replace(false);
    }

    /// Forwards again.
    pub fn restore(&self) {
        self.up.send_replace(true);
    }

    /// `url` (a `postgres://` URL) with its host and port replaced by the proxy's.
    pub fn url_through(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).unwrap();
        url.set_host(Some(&self.addr.ip().to_string())).unwrap();
        url.set_port(Some(self.addr.port())).unwrap();
        url.into()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.up.send_replace(false);
        self.task.abort();
    }
}

/// The address a `postgres://` URL names (loopback in the tests).
pub fn target_of(url: &str) -> SocketAddr {
    let url = url::Url::parse(url).unwrap();
    let host = url.host_str().unwrap();
    let port = url.port().unwrap_or(5432);
    format!("{host}:{port}").parse().unwrap()
}
