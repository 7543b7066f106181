//! A Postfix of the test's own, started by `scripts/postfix.sh` in a temp directory and stopped when dropped.
//! It listens on loopback (plain with STARTTLS, and implicit TLS) and hands mail to `USER@leadgate.test` to
//! the test Dovecot's LDA, so a test reads what leadgate sent back from USER's mailbox over IMAP.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use leadgate_domain::collector::TlsMode;
use leadgate_mail::imap::ImapSession;

use super::dovecot::{Dovecot, dovecot};

pub struct Postfix {
    dir: tempfile::TempDir,
    pub smtp_port: u16,
    pub smtps_port: u16,
    pub ca_file: PathBuf,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/postfix.sh")
}

fn run(args: &[&str]) {
    let output = Command::new(script()).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "scripts/postfix.sh {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

impl Postfix {
    /// Starts a Postfix delivering into the test Dovecot.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let dovecot_dir = dovecot().var("DOVECOT_DIR").to_owned();
        run(&["start", dir.path().to_str().unwrap(), &dovecot_dir]);
        let env = Dovecot::from_env_file(&dir.path().join("env"));
        Postfix {
            smtp_port: env.port("POSTFIX_SMTP_PORT"),
            smtps_port: env.port("POSTFIX_SMTPS_PORT"),
            ca_file: PathBuf::from(env.var("POSTFIX_CA_FILE")),
            dir,
        }
    }

    /// Refuses these recipients with a temporary error (450) until [`Postfix::accept_all`].
    pub fn refuse(&self, addresses: &[&str]) {
        let mut args = vec!["refuse", self.dir.path().to_str().unwrap()];
        args.extend_from_slice(addresses);
        run(&args);
    }

    /// Accepts every recipient again.
    pub fn accept_all(&self) {
        run(&["accept", self.dir.path().to_str().unwrap()]);
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .args(["stop", self.dir.path().to_str().unwrap()])
            .output();
    }
}

/// A mail read back from a mailbox: its decoded subject and its text.
#[derive(Debug, Clone)]
pub struct ReadMail {
    pub subject: String,
    pub text: String,
    pub raw: String,
}

/// Every message in `user`'s INBOX of the test Dovecot, read over IMAP.
pub async fn mailbox(user: &str) -> Vec<ReadMail> {
    use base64::Engine as _;
    let server = dovecot();
    let mut session =
        ImapSession::connect_and_login(&server.imap(TlsMode::Implicit), &server.login(user))
            .await
            .unwrap();
    session.select("INBOX").await.unwrap();
    let uids = session.search_new("", 0).await.unwrap();
    let messages = session.fetch_batch(&uids).await.unwrap();
    session.logout().await.unwrap();
    messages
        .into_iter()
        .map(|m| {
            let raw = String::from_utf8_lossy(&m.raw).into_owned();
            let subject = leadgate_mail::extract::headers(&m.raw)
                .subject
                .unwrap_or_default();
            let body = raw
                .split_once("\r\n\r\n")
                .map(|(_, b)| b)
                .unwrap_or_default();
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let text = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map(|b| String::from_utf8_lossy(&b).replace("\r\n", "\n"))
                .unwrap_or_default();
            ReadMail { subject, text, raw }
        })
        .collect()
}

/// Waits until `user`'s INBOX holds at least `count` messages (Postfix delivers after it has accepted);
/// returns them.
pub async fn wait_for_mail(user: &str, count: usize) -> Vec<ReadMail> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mail = mailbox(user).await;
        if mail.len() >= count {
            return mail;
        }
        assert!(
            Instant::now() < deadline,
            "{user} has {} message(s), not {count}, 30 s after Postfix accepted them",
            mail.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
