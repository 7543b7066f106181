//! Three `leadgate serve` processes on one PostgreSQL database, all with the mail collector scheduled every
//! two seconds on one mailbox of 3,000 site orders in the test Dovecot. The process running the job is killed
//! with SIGKILL in the middle of its run (after its first batches are committed, before the last): every
//! order ends up imported exactly once, and one of the two survivors finishes the import on its own schedule.
//!
//! PostgreSQL only: on SQLite one file belongs to one process, and the test says so and passes.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use common::TestDir;
use common::dovecot::{Dovecot, dovecot, unique_user};
use sqlx::{Connection, PgConnection};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mail");

/// How many orders the mailbox holds: six of the collector's batches.
const ORDERS: usize = 3000;

/// What a process logs when a collector's run is over (with its counts).
const RUN_FINISHED: &str = "collector run finished";

/// Whether a log tells of a finished collector run that imported something.
fn imported_something(log: &str) -> bool {
    log.lines().any(|l| {
        l.contains(RUN_FINISHED) && l.contains("imported: ") && !l.contains("imported: 0,")
    })
}

/// The product note's sample order with a Message-ID and an order number of its own.
fn order(template: &str, n: usize) -> Vec<u8> {
    template
        .replacen(
            "Message-ID: <seed_sample@shop.example>",
            &format!("Message-ID: <order-{n}@shop.example>"),
            1,
        )
        .replacen("Subject: ORDER: 123", &format!("Subject: ORDER: {n}"), 1)
        .into_bytes()
}

/// One `leadgate serve` process, its log in a file.
struct Instance {
    name: &'static str,
    child: Child,
    log: PathBuf,
    base: String,
}

impl Instance {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Instance {
    /// The local ports of this process's TCP sockets (from its file descriptors and `/proc/net/tcp`).
    fn tcp_ports(&self) -> Vec<u16> {
        let fds = std::fs::read_dir(format!("/proc/{}/fd", self.child.id())).unwrap();
        let inodes: Vec<String> = fds
            .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
            .filter_map(|link| {
                let link = link.to_string_lossy().into_owned();
                Some(link.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
            })
            .collect();
        let mut ports = Vec::new();
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let text = std::fs::read_to_string(table).unwrap_or_default();
            for line in text.lines().skip(1) {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let (Some(local), Some(inode)) = (fields.get(1), fields.get(9)) else {
                    continue;
                };
                if inodes.iter().any(|i| i == inode)
                    && let Some((_, port)) = local.rsplit_once(':')
                {
                    ports.push(u16::from_str_radix(port, 16).unwrap());
                }
            }
        }
        ports
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A configuration file for one instance: its own port, the shared database and secret key, the collector on
/// the test Dovecot's mailbox of `user`, scheduled every two seconds.
fn config(dir: &TestDir, dc: &Dovecot, user: &str, name: &str, port: u16) -> PathBuf {
    let path = |file: &str| dir.path().join(file).display().to_string();
    let config = dir.path().join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\nadmin_token_file = {admin:?}\n\n\
             {database}\n\
             [secrets]\nkey_file = {key:?}\n\n\
             [layout_files]\nenabled = false\n\n\
             [schedule.mail_collector]\ncron = \"*/2 * * * * *\"\nenabled = true\n\n\
             [[collectors]]\nname = \"site-orders\"\nprotocol = \"imap\"\nhost = \"localhost\"\n\
             port = {imap}\ntls = \"none\"\nusername = {user:?}\npassword_file = {password:?}\n\
             folder = \"INBOX\"\nkeyword = \"ORDER\"\npush = false\n",
            admin = path("admin.token"),
            key = path("shared.key"),
            database = dir.database_toml(),
            imap = dc.port("DOVECOT_IMAP_PORT"),
            password = path("mailbox.password"),
        ),
    )
    .unwrap();
    config
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(dir: &TestDir, dc: &Dovecot, user: &str, name: &'static str) -> Instance {
    let port = free_port();
    let config = config(dir, dc, user, name, port);
    let log = dir.path().join(format!("{name}.log"));
    let file = std::fs::File::create(&log).unwrap();
    let child = common::cli::leadgate_process()
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env("RUST_LOG", "info,sqlx=warn")
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    Instance {
        name,
        child,
        log,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// Polls `probe` every few milliseconds until it gives a value, failing after `limit` with `what` and the
/// instances' logs.
async fn until<T>(
    limit: Duration,
    what: &str,
    instances: &[Instance],
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        if Instant::now() >= deadline {
            for i in instances {
                eprintln!("---- the log of instance {}:\n{}", i.name, i.log());
            }
            panic!("{what}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn count(conn: &mut PgConnection, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(conn).await.unwrap()
}

/// Each collector run as recorded: (imported, finished).
async fn runs(conn: &mut PgConnection) -> Vec<(i64, bool)> {
    sqlx::query_as("SELECT imported, finished_at IS NOT NULL FROM collector_runs ORDER BY id")
        .fetch_all(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_instance_running_the_collector_killed_mid_run_leaves_every_order_imported_exactly_once()
 {
    if !common::postgres_only("several leadgate instances share one database only on PostgreSQL") {
        return;
    }
    let dc = dovecot();
    let user = unique_user("multi-instance");
    let template = std::fs::read_to_string(Path::new(FIXTURES).join("seed_sample.eml")).unwrap();
    for n in 1..=ORDERS {
        dc.deliver(&user, &order(&template, n));
    }
    let dir = TestDir::new_postgres().await;
    std::fs::write(dir.path().join("admin.token"), "admin-token-for-tests\n").unwrap();
    std::fs::write(
        dir.path().join("mailbox.password"),
        format!("{}\n", dc.var("DOVECOT_PASSWORD")),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("shared.key"),
        format!("{}\n", "5a".repeat(32)),
    )
    .unwrap();
    let mut db = PgConnection::connect(&dir.database_url()).await.unwrap();

    let client = reqwest::Client::new();
    // Started together, so that all three are scheduled by the time the first run falls due.
    let mut instances: Vec<Instance> = ["a", "b", "c"]
        .into_iter()
        .map(|name| spawn(&dir, &dc, &user, name))
        .collect();
    for instance in &instances {
        let ready = format!("{}/readyz", instance.base);
        until(
            Duration::from_secs(60),
            "an instance never got ready",
            &instances,
            async || {
                let r = client.get(&ready).send().await.ok()?;
                r.status().is_success().then_some(())
            },
        )
        .await;
    }

    // Once the run has committed its first batches: the instance whose session holds the job's advisory
    // lock, as the server lists it (its 64-bit key, classid:objid, is the first 8 bytes of the SHA-256 of
    // the job's name; other instances hold other locks, such as the one of IMAP push).
    until(
        Duration::from_secs(120),
        "the run committed nothing",
        &instances,
        async || (count(&mut db, "SELECT count(*) FROM messages").await > 0).then_some(()),
    )
    .await;
    let lockers: Vec<i32> = sqlx::query_scalar(
        "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND (l.classid::bigint << 32) | l.objid::bigint = ('x' || left(encode(
                   sha256(convert_to('leadgate:job:mail_collector', 'UTF8')), 'hex'), 16))::bit(64)::bigint",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert!(!lockers.is_empty(), "no session holds the job's lock");
    let holders: Vec<usize> = (0..instances.len())
        .filter(|&i| {
            let ports = instances[i].tcp_ports();
            lockers.iter().any(|&p| ports.contains(&(p as u16)))
        })
        .collect();
    assert_eq!(
        holders.len(),
        1,
        "one instance holds the locks: {holders:?}"
    );
    let holder = holders[0];
    let mut killed = instances.remove(holder);
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    let killed_log = killed.log();
    assert!(
        !killed_log.contains(RUN_FINISHED),
        "instance {} finished its run before it was killed: {killed_log}",
        killed.name
    );
    let unfinished = runs(&mut db).await.iter().filter(|&&(_, f)| !f).count();
    assert_eq!(unfinished, 1, "the killed instance's run is the one going");

    // A survivor takes the job at its next scheduled run and imports the rest.
    until(
        Duration::from_secs(120),
        "the survivors never finished the import",
        &instances,
        async || {
            let done = count(&mut db, "SELECT count(*) FROM messages").await == ORDERS as i64;
            let finished = runs(&mut db).await.iter().any(|&(n, f)| f && n > 0);
            (done && finished).then_some(())
        },
    )
    .await;
    let finisher = until(
        Duration::from_secs(60),
        "no survivor logged the end of its run",
        &instances,
        async || instances.iter().find(|i| imported_something(&i.log())),
    )
    .await;
    println!(
        "instance {} was killed; instance {} finished the import",
        killed.name, finisher.name
    );

    assert_eq!(
        count(&mut db, "SELECT count(*) FROM leads").await,
        ORDERS as i64,
        "one lead per order"
    );
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM messages WHERE outcome = 'imported'"
        )
        .await,
        ORDERS as i64,
        "one imported ledger record per order"
    );
    assert_eq!(
        count(&mut db, "SELECT count(DISTINCT message_id) FROM messages").await,
        ORDERS as i64,
        "no order recorded twice"
    );
    assert_eq!(
        count(&mut db, "SELECT count(DISTINCT lead_id) FROM messages").await,
        ORDERS as i64,
        "every record its own lead"
    );
    // Only the killed run stays unfinished. The survivors run the job every 2 s, so a later run (with
    // nothing left to import) may be going at this moment: it must end.
    let runs = until(
        Duration::from_secs(60),
        "a run other than the killed one never finished",
        &instances,
        async || {
            let all = runs(&mut db).await;
            (all.iter().filter(|&&(_, finished)| !finished).count() == 1).then_some(all)
        },
    )
    .await;
    let by_survivors: i64 = runs.iter().filter(|&&(_, f)| f).map(|&(n, _)| n).sum();
    assert!(
        by_survivors > 0 && by_survivors < ORDERS as i64,
        "the killed run imported some orders and the survivors the rest ({by_survivors} of {ORDERS}): {runs:?}"
    );
    db.close().await.unwrap();
}
