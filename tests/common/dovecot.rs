//! The test Dovecot started by `scripts/test` (or `scripts/dovecot.sh start DIR`), described by the env file
//! named in `LEADGATE_TEST_DOVECOT_ENV`. Each test logs in as a user of its own, so it has its own mailbox.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use leadgate_domain::collector::TlsMode;
use leadgate_mail::Credentials;
use leadgate_mail::tls::{Endpoint, TlsSettings};

pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The running test Dovecot, as described by its env file.
pub struct Dovecot {
    vars: HashMap<String, String>,
}

pub fn dovecot() -> Dovecot {
    Dovecot::from_env_file(Path::new(&env_path()))
}

fn env_path() -> String {
    std::env::var("LEADGATE_TEST_DOVECOT_ENV").unwrap_or_else(|_| {
        panic!(
            "LEADGATE_TEST_DOVECOT_ENV is not set: the mail tests need the test Dovecot. \
             Run the suite via scripts/test (or: scripts/dovecot.sh start DIR and \
             LEADGATE_TEST_DOVECOT_ENV=DIR/env cargo test)"
        )
    })
}

impl Dovecot {
    /// Reads the `export KEY=value` lines `scripts/dovecot.sh start` wrote.
    pub fn from_env_file(path: &Path) -> Self {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read the Dovecot env file {}: {e}", path.display()));
        let vars = text
            .lines()
            .filter_map(|line| line.trim().strip_prefix("export "))
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim_matches(['"', '\'']).to_owned()))
            .collect();
        Dovecot { vars }
    }

    pub fn var(&self, key: &str) -> &str {
        self.vars
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing from the Dovecot env file"))
    }

    pub fn port(&self, key: &str) -> u16 {
        self.var(key).parse().unwrap()
    }

    pub fn endpoint(&self, port_key: &str, mode: TlsMode) -> Endpoint {
        Endpoint {
            host: "localhost".into(),
            port: self.port(port_key),
            tls: TlsSettings {
                mode,
                ca_file: Some(PathBuf::from(self.var("DOVECOT_CA_FILE"))),
                insecure_skip_verify: false,
            },
            timeout: TIMEOUT,
        }
    }

    pub fn imap(&self, mode: TlsMode) -> Endpoint {
        let key = match mode {
            TlsMode::Implicit => "DOVECOT_IMAPS_PORT",
            TlsMode::StartTls | TlsMode::None => "DOVECOT_IMAP_PORT",
        };
        self.endpoint(key, mode)
    }

    pub fn pop3(&self, mode: TlsMode) -> Endpoint {
        let key = match mode {
            TlsMode::Implicit => "DOVECOT_POP3S_PORT",
            TlsMode::StartTls | TlsMode::None => "DOVECOT_POP3_PORT",
        };
        self.endpoint(key, mode)
    }

    pub fn login(&self, user: &str) -> Credentials {
        Credentials::new(user, self.var("DOVECOT_PASSWORD"))
    }

    /// Drops `raw` into `user`'s Maildir/new (via tmp/, as Maildir delivery does), owned by
    /// the mail root's owner (nobody), with the given modification time = INTERNALDATE.
    pub fn deliver_at(&self, user: &str, raw: &[u8], received: SystemTime) {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let root = PathBuf::from(self.var("DOVECOT_MAIL_ROOT"));
        let meta = std::fs::metadata(&root).unwrap();
        let (uid, gid) = (meta.uid(), meta.gid());
        let home = root.join(user);
        let maildir = home.join("Maildir");
        for dir in [
            &home,
            &maildir,
            &maildir.join("new"),
            &maildir.join("cur"),
            &maildir.join("tmp"),
        ] {
            std::fs::create_dir_all(dir).unwrap();
            std::os::unix::fs::chown(dir, Some(uid), Some(gid)).unwrap();
        }
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap();
        let name = format!(
            "{}.M{}P{}Q{}.leadgate-test",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let tmp = maildir.join("tmp").join(&name);
        std::fs::write(&tmp, raw).unwrap();
        std::os::unix::fs::chown(&tmp, Some(uid), Some(gid)).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&tmp)
            .unwrap()
            .set_modified(received)
            .unwrap();
        std::fs::rename(&tmp, maildir.join("new").join(&name)).unwrap();
    }

    pub fn deliver(&self, user: &str, raw: &[u8]) {
        self.deliver_at(user, raw, SystemTime::now());
    }

    /// The folder's UIDVALIDITY, as the server reports it (`doveadm mailbox status`).
    pub fn uid_validity(&self, user: &str, folder: &str) -> u32 {
        let out = self.doveadm(&["mailbox", "status", "-u", user, "uidvalidity", folder]);
        out.trim()
            .rsplit_once("uidvalidity=")
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("doveadm mailbox status said {out:?}"))
    }

    /// Renumbers the folder as a server does after restoring a backup or rebuilding its index: gives it
    /// a new UIDVALIDITY (`doveadm mailbox update --uid-validity`), so every UID a client remembers is void.
    pub fn renumber(&self, user: &str, folder: &str, uid_validity: u32) {
        self.doveadm(&[
            "mailbox",
            "update",
            "-u",
            user,
            "--uid-validity",
            &uid_validity.to_string(),
            folder,
        ]);
        assert_eq!(self.uid_validity(user, folder), uid_validity);
    }

    fn doveadm(&self, args: &[&str]) -> String {
        let config = Path::new(self.var("DOVECOT_DIR")).join("dovecot.conf");
        let out = std::process::Command::new("doveadm")
            .arg("-c")
            .arg(&config)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("doveadm: {e}"));
        assert!(
            out.status.success(),
            "doveadm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// A user name of its own for each test (and each run), so mailboxes never mix.
pub fn unique_user(test: &str) -> String {
    format!("{test}-{:08x}", rand::random::<u32>())
}
