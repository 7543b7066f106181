//! No secret in the logs at any log level: the real binary collecting from the test Dovecot with
//! `RUST_LOG=trace`, where the IMAP client library traces every command it sends.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::dovecot::{dovecot, unique_user};

#[test]
fn collect_with_rust_log_trace_never_logs_the_mailbox_password() {
    let dc = dovecot();
    let user = unique_user("trace");
    dc.deliver(
        &user,
        b"From: site@shop.example\r\nSubject: hello\r\nMessage-ID: <t1@shop.example>\r\n\r\nhi\r\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let password = dc.var("DOVECOT_PASSWORD");
    let password_file = dir.path().join("mail.password");
    std::fs::write(&password_file, format!("{password}\n")).unwrap();
    let config = dir.path().join("leadgate.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{db}\"\n\n[[collectors]]\nname = \"site\"\nprotocol = \"imap\"\n\
             host = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nusername = \"{user}\"\npassword_file = \"{pw}\"\n",
            db = dir.path().join("leadgate.db").display(),
            port = dc.port("DOVECOT_IMAP_PORT"),
            pw = password_file.display(),
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leadgate"))
        .arg("--config")
        .arg(&config)
        .arg("collect")
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("IMAP logged in") && stderr.contains(&user),
        "the sign-in to this mailbox is logged: {stderr}"
    );
    // The test Dovecot's password is a plain word that also occurs in logged SQL, so look for it where a
    // command carrying it would be: on a line that names the mailbox user.
    let leaks: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(&user) && l.contains(password))
        .collect();
    assert!(
        leaks.is_empty(),
        "the mailbox password is in the log: {leaks:?}"
    );
}
