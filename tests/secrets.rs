//! No secret in the logs at any log level: the real binary collecting from the test Dovecot with
//! `RUST_LOG=trace`, where the IMAP client library traces every command it sends.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::dovecot::{dovecot, unique_user};

#[tokio::test]
async fn collect_with_rust_log_trace_never_logs_the_mailbox_password() {
    let dc = dovecot();
    let user = unique_user("trace");
    dc.deliver(
        &user,
        b"From: site@shop.example\r\nSubject: hello\r\nMessage-ID: <t1@shop.example>\r\n\r\nhi\r\n",
    );
    let dir = common::TestDir::new().await;
    let password = dc.var("DOVECOT_PASSWORD");
    let password_file = dir.path().join("mail.password");
    std::fs::write(&password_file, format!("{password}\n")).unwrap();
    let config = dir.path().join("leadgate.toml");
    std::fs::write(
        &config,
        format!(
            "{db}\n[[collectors]]\nname = \"site\"\nprotocol = \"imap\"\n\
             host = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nusername = \"{user}\"\npassword_file = \"{pw}\"\n",
            db = database_toml(&dir),
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
    if let Some(db_password) = database_password(&dir) {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            !stderr.contains(&db_password) && !stdout.contains(&db_password),
            "the database password is in the output"
        );
    }
}

/// The configuration's `[database]`: on PostgreSQL with the password in `database.password_file`, not in
/// the URL (the way a deployment keeps it out of the file).
fn database_toml(dir: &common::TestDir) -> String {
    let Some(password) = database_password(dir) else {
        return dir.database_toml();
    };
    let mut url = url::Url::parse(&dir.database_url()).unwrap();
    url.set_password(None).unwrap();
    let file = dir.path().join("database.password");
    std::fs::write(&file, format!("{password}\n")).unwrap();
    format!(
        "[database]\nurl = {:?}\npassword_file = {:?}\ndata_dir = {:?}\n",
        url.as_str(),
        file.display().to_string(),
        dir.path().display().to_string()
    )
}

/// The PostgreSQL test database's password, decoded.
fn database_password(dir: &common::TestDir) -> Option<String> {
    if !common::on_postgres() {
        return None;
    }
    let url = url::Url::parse(&dir.database_url()).unwrap();
    let password = url.password()?;
    Some(
        percent_encoding::percent_decode_str(password)
            .decode_utf8()
            .unwrap()
            .into_owned(),
    )
}
