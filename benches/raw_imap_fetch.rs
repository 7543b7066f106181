//! The server's limit for the mail benchmark: how fast Dovecot can hand over the order messages.
//!
//! A minimal blocking IMAP client (std only, no parsing beyond what counting needs): plain TCP, `LOGIN`,
//! `SELECT`, `UID SEARCH SUBJECT <keyword>`, then `UID FETCH <those uids> BODY.PEEK[]` in chunks,
//! reading every literal and counting messages and bytes. No MIME parsing and no storage, so a
//! collector cannot beat this figure; `bench/run mail` compares leadgate against it.
//!
//! Settings come from the environment, because `cargo bench` passes its own arguments:
//! `LG_BENCH_IMAP_HOST` (default 127.0.0.1), `LG_BENCH_IMAP_PORT` (required), `LG_BENCH_IMAP_USER`
//! (default `bench`), `LG_BENCH_IMAP_PASSWORD` (default `secret`), `LG_BENCH_IMAP_FOLDER` (default
//! `INBOX`), `LG_BENCH_KEYWORD` (default `ORDER`), `LG_BENCH_FETCH_CHUNK` (UIDs per FETCH, default
//! 2000). Without `LG_BENCH_IMAP_PORT` it prints how to run it and exits successfully, so that
//! `cargo test --all-targets` does not fail on it.
//!
//! Output, one line on stdout: `messages=<n> seconds=<s> rate=<n/s> bytes=<n>`.

use std::error::Error;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

type Res<T> = Result<T, Box<dyn Error>>;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// One IMAP connection with a buffered reader, a tag counter and a reusable line buffer.
struct Imap {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    tag: u32,
    line: Vec<u8>,
}

/// What a FETCH pass counted.
#[derive(Default)]
struct Counts {
    messages: u64,
    bytes: u64,
}

impl Imap {
    fn connect(host: &str, port: u16) -> Res<Self> {
        let stream = TcpStream::connect((host, port))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        let writer = stream.try_clone()?;
        let mut imap = Imap {
            reader: BufReader::with_capacity(1 << 20, stream),
            writer,
            tag: 0,
            line: Vec::with_capacity(4096),
        };
        imap.read_line()?;
        if !imap.line.starts_with(b"* OK") {
            return Err(format!("unexpected greeting: {}", imap.line_str()).into());
        }
        Ok(imap)
    }

    fn line_str(&self) -> String {
        String::from_utf8_lossy(&self.line).trim_end().to_owned()
    }

    /// Reads one CRLF-terminated line (without following literals) into `self.line`.
    fn read_line(&mut self) -> Res<()> {
        self.line.clear();
        let n = self.reader.read_until(b'\n', &mut self.line)?;
        if n == 0 {
            return Err("server closed the connection".into());
        }
        Ok(())
    }

    /// If the current line ends with a literal announcement `{N}`, returns N.
    fn literal_len(&self) -> Option<u64> {
        let l = self.line.strip_suffix(b"\r\n").unwrap_or(&self.line);
        let l = l.strip_suffix(b"}")?;
        let open = l.iter().rposition(|&b| b == b'{')?;
        std::str::from_utf8(&l[open + 1..]).ok()?.parse().ok()
    }

    /// Sends one command and reads up to its tagged completion. Untagged lines go to `on_untagged`;
    /// literals are consumed (and their sizes passed along) without being stored.
    fn command(&mut self, cmd: &str, mut on_untagged: impl FnMut(&[u8], Option<u64>)) -> Res<()> {
        self.tag += 1;
        let tag = format!("a{}", self.tag);
        self.writer
            .write_all(format!("{tag} {cmd}\r\n").as_bytes())?;
        let mut sink = vec![0u8; 1 << 16];
        loop {
            self.read_line()?;
            if self.line.starts_with(tag.as_bytes()) && self.line.get(tag.len()) == Some(&b' ') {
                let status = &self.line[tag.len() + 1..];
                if status.starts_with(b"OK") {
                    return Ok(());
                }
                return Err(format!("{cmd:.60} failed: {}", self.line_str()).into());
            }
            let first = std::mem::take(&mut self.line);
            let mut literal = None;
            // A response may carry several literals; each is followed by the rest of the line.
            let mut current = first.clone();
            loop {
                self.line = current;
                let Some(len) = self.literal_len() else { break };
                literal = Some(literal.unwrap_or(0) + len);
                let mut left = len;
                while left > 0 {
                    let want = usize::try_from(left.min(sink.len() as u64))?;
                    let got = self.reader.read(&mut sink[..want])?;
                    if got == 0 {
                        return Err("server closed the connection inside a literal".into());
                    }
                    left -= got as u64;
                }
                self.read_line()?;
                current = std::mem::take(&mut self.line);
            }
            on_untagged(&first, literal);
        }
    }
}

/// Turns sorted UIDs into an IMAP sequence set with ranges (`1:5,7,9:12`).
fn sequence_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

fn run(port: u16) -> Res<()> {
    let host = env_or("LG_BENCH_IMAP_HOST", "127.0.0.1");
    let user = env_or("LG_BENCH_IMAP_USER", "bench");
    let password = env_or("LG_BENCH_IMAP_PASSWORD", "secret");
    let folder = env_or("LG_BENCH_IMAP_FOLDER", "INBOX");
    let keyword = env_or("LG_BENCH_KEYWORD", "ORDER");
    let chunk: usize = env_or("LG_BENCH_FETCH_CHUNK", "2000").parse()?;

    let started = Instant::now();
    let mut imap = Imap::connect(&host, port)?;
    imap.command(&format!("LOGIN \"{user}\" \"{password}\""), |_, _| {})?;
    imap.command(&format!("SELECT \"{folder}\""), |_, _| {})?;

    let mut uids: Vec<u32> = Vec::new();
    imap.command(&format!("UID SEARCH SUBJECT \"{keyword}\""), |line, _| {
        if let Some(rest) = line.strip_prefix(b"* SEARCH") {
            uids.extend(
                String::from_utf8_lossy(rest)
                    .split_ascii_whitespace()
                    .filter_map(|t| t.parse::<u32>().ok()),
            );
        }
    })?;
    uids.sort_unstable();

    let mut counts = Counts::default();
    for part in uids.chunks(chunk.max(1)) {
        let set = sequence_set(part);
        imap.command(&format!("UID FETCH {set} BODY.PEEK[]"), |line, literal| {
            if let Some(len) = literal
                && line.starts_with(b"* ")
                && line.windows(7).any(|w| w == b" FETCH ")
            {
                counts.messages += 1;
                counts.bytes += len;
            }
        })?;
    }
    let seconds = started.elapsed().as_secs_f64();
    imap.command("LOGOUT", |_, _| {})?;

    if counts.messages as usize != uids.len() {
        return Err(format!(
            "SEARCH found {} messages but FETCH returned {}",
            uids.len(),
            counts.messages
        )
        .into());
    }
    println!(
        "messages={} seconds={seconds:.3} rate={:.0} bytes={}",
        counts.messages,
        counts.messages as f64 / seconds,
        counts.bytes
    );
    Ok(())
}

fn main() {
    let Ok(port) = std::env::var("LG_BENCH_IMAP_PORT") else {
        eprintln!(
            "raw_imap_fetch: skipped; set LG_BENCH_IMAP_PORT (and optionally LG_BENCH_IMAP_HOST, \
             LG_BENCH_IMAP_USER, LG_BENCH_IMAP_PASSWORD) or run `bench/run mail`"
        );
        return;
    };
    let result = port
        .parse::<u16>()
        .map_err(|e| format!("LG_BENCH_IMAP_PORT={port}: {e}").into())
        .and_then(run);
    if let Err(e) = result {
        eprintln!("raw_imap_fetch: {e}");
        std::process::exit(1);
    }
}
