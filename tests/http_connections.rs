//! Slow and idle clients cannot exhaust the server: a connection that sends nothing or not all its headers
//! is closed after `server.header_read_timeout_secs`, an idle keep-alive connection after
//! `server.idle_timeout_secs`, and at most `server.max_connections` are open at once; the intake still
//! answers while thousands of idle connections are held. Loopback only.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::time::Duration;

use common::{SEED_SAMPLE, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection (end of stream or reset); fails after 30 seconds.
async fn closed_by_server(stream: &mut TcpStream) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read_all)
        .await
        .expect("the server never closed the connection");
    seen
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_read_timeout() {
    let app = TestApp::spawn_with(|s| s.server.header_read_timeout_secs = 1).await;
    let mut silent = TcpStream::connect(addr(&app)).await.unwrap();
    assert!(closed_by_server(&mut silent).await.is_empty());
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let app = TestApp::spawn_with(|s| s.server.header_read_timeout_secs = 1).await;
    let mut slow = TcpStream::connect(addr(&app)).await.unwrap();
    slow.write_all(b"POST /api/v1/intake HTTP/1.1\r\nHost: leadgate\r\nContent-Type: appl")
        .await
        .unwrap();
    closed_by_server(&mut slow).await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let app = TestApp::spawn_with(|s| s.server.idle_timeout_secs = 1).await;
    let mut client = TcpStream::connect(addr(&app)).await.unwrap();
    client
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: leadgate\r\n\r\n")
        .await
        .unwrap();
    let answer = closed_by_server(&mut client).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("ok"), "{answer}");
}

#[tokio::test]
async fn two_thousand_idle_connections_neither_exhaust_descriptors_nor_stop_the_intake() {
    const IDLE: usize = 2000;
    const LIMIT: usize = 500;
    let app = TestApp::spawn_with(|s| {
        s.server.header_read_timeout_secs = 1;
        s.server.max_connections = LIMIT;
    })
    .await;
    let before = open_descriptors();
    let target = addr(&app);
    let mut idle = Vec::with_capacity(IDLE);
    let connects: Vec<_> = (0..IDLE)
        .map(|_| tokio::spawn(TcpStream::connect(target.clone())))
        .collect();
    for connect in connects {
        idle.push(connect.await.unwrap().unwrap());
    }
    // The test's own IDLE client ends, and at most LIMIT server ends (the rest wait in the listen queue).
    let held = open_descriptors() - before;
    assert!(
        held <= IDLE + LIMIT + 16,
        "{held} descriptors for {IDLE} idle connections"
    );

    let response = app.intake_json(SEED_SAMPLE).await;
    assert_eq!(response.status().as_u16(), 201);

    // The server closes its end of every idle connection it took; the test still holds all of its own.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while open_descriptors() - before > IDLE + 16 {
        assert!(
            std::time::Instant::now() < deadline,
            "the server still holds {} idle connections",
            open_descriptors() - before - IDLE
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(idle.len(), IDLE);
}
