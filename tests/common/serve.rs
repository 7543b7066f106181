//! Several `leadgate serve` processes (the real binary) on one database, as instances behind a load balancer
//! run: the same configuration file, the same data directory (so the same secrets key), each on a port of its
//! own. Each binds port 0 and is ready once it logs the address it listens on.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use super::TestDir;

/// The administrator's API token of every instance.
pub const ADMIN_TOKEN: &str = "admin-token-for-tests";

/// The token of the HTTP source "website".
pub const SOURCE_TOKEN: &str = "website-token-for-tests";

/// How long an instance may take to start (migrations included) on a loaded machine.
const START_PATIENCE: Duration = Duration::from_secs(120);

/// Writes the instances' configuration file into `dir` (with `extra` TOML appended) and returns its path.
pub fn config(dir: &TestDir, extra: &str) -> PathBuf {
    let path = |name: &str| dir.path().join(name).display().to_string();
    std::fs::write(dir.path().join("admin.token"), format!("{ADMIN_TOKEN}\n")).unwrap();
    std::fs::write(dir.path().join("website.token"), SOURCE_TOKEN).unwrap();
    let config = dir.path().join("leadgate.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nadmin_token_file = {admin:?}\n\n\
             [database]\nurl = {url:?}\ndata_dir = {data:?}\n\n\
             [layout_files]\nenabled = false\n\n\
             [[http_sources]]\nname = \"website\"\ntoken_file = {token:?}\n\n{extra}",
            admin = path("admin.token"),
            url = dir.database_url(),
            data = path("data"),
            token = path("website.token"),
        ),
    )
    .unwrap();
    config
}

/// One running `leadgate serve`; killed when dropped.
pub struct Instance {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its log lines (JSON) so far.
    log: Arc<Mutex<Vec<String>>>,
}

impl Instance {
    /// Starts `leadgate --config CONFIG serve` and returns once it listens.
    pub fn start(config: &std::path::Path) -> Self {
        let mut child = super::cli::leadgate_process()
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("LEADGATE_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (listening, address) = mpsc::channel();
        std::thread::spawn({
            let log = log.clone();
            move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line)
                        && entry["fields"]["message"] == "leadgate listening"
                        && let Some(addr) = entry["fields"]["addr"].as_str()
                    {
                        let _ = listening.send(addr.to_owned());
                    }
                    log.lock().unwrap().push(line);
                }
            }
        });
        let addr = match address.recv_timeout(START_PATIENCE) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "leadgate serve did not start: {}",
                    log.lock().unwrap().join("\n")
                );
            }
        };
        Self {
            child,
            base: format!("http://{addr}"),
            log,
        }
    }

    /// Its log so far, one JSON line each.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Posts a JSON payload to its intake as the source "website" (or with `token`).
    pub async fn post(
        &self,
        client: &reqwest::Client,
        token: Option<&str>,
        json: &str,
    ) -> reqwest::Response {
        client
            .post(format!("{}/api/v1/intake", self.base))
            .bearer_auth(token.unwrap_or(SOURCE_TOKEN))
            .header("content-type", "application/json")
            .body(json.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// GETs a read-API path as the administrator and returns the JSON.
    pub async fn get(&self, client: &reqwest::Client, path: &str) -> serde_json::Value {
        let response = client
            .get(format!("{}{path}", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
