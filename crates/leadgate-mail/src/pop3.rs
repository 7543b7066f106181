//! A small POP3 client (RFC 1939, CAPA and STLS from RFC 2449/2595) on tokio and rustls.
//!
//! Some shops only offer POP3 mailboxes. No maintained crate speaks POP3 with STLS over
//! rustls 0.23, and the protocol is small, so this is our own: greeting, `CAPA`, `STLS`,
//! `USER`/`PASS`, `STAT`, `LIST`, `UIDL`, `TOP n 0` (headers only, so non-matching mail is never
//! downloaded whole), `RETR` with dot-unstuffing, `DELE` and `QUIT`.
//!
//! It is defensive because the server is outside our control: every read and write has a
//! timeout (see [`super::tls::TimeoutIo`]), and so has every command as a whole, answer included
//! (a server that trickles a byte now and then cannot hold it open); status lines are capped, and
//! messages are capped at the caller's `max_message_bytes` (refused early from `LIST`, or drained,
//! at most [`MAX_DRAIN_BYTES`], and refused when the server under-reported). The password is never
//! logged.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::time::Instant;

use crate::Credentials;
use crate::tls::{self, ConnectError, Endpoint, MailStream, TlsError};
use leadgate_domain::collector::TlsMode;

/// Longest status line accepted (RFC 1939 allows 512 bytes; servers add a little).
const MAX_STATUS_LINE: usize = 8 * 1024;
/// Longest `UIDL`/`LIST`/`CAPA` listing accepted, in bytes.
const MAX_LISTING_BYTES: usize = 64 * 1024 * 1024;
/// The most bytes of an over-long answer read and thrown away to keep the connection usable; past it
/// the answer fails with [`Pop3Error::Protocol`] and the connection is given up.
pub const MAX_DRAIN_BYTES: u64 = 64 * 1024 * 1024;

/// A POP3 failure, by kind: the collector records it and goes on with the next collector.
#[derive(Debug, thiserror::Error)]
pub enum Pop3Error {
    /// The server refused the user name or password.
    #[error("POP3 login as {user:?} refused: {message}")]
    Auth {
        /// The login name (never the password).
        user: String,
        /// The server's `-ERR` text.
        message: String,
    },
    /// The server answered `-ERR` to a command.
    #[error("POP3 server refused {step}: {message}")]
    Refused {
        /// The command.
        step: &'static str,
        /// The server's `-ERR` text.
        message: String,
    },
    /// The server said something that is not POP3, or closed the connection mid-answer.
    #[error("POP3 protocol error in {step}: {message}")]
    Protocol {
        /// The command or phase.
        step: &'static str,
        /// What was wrong.
        message: String,
    },
    /// The server does not offer STLS, but the endpoint requires STARTTLS.
    #[error("POP3 server does not offer STLS; refusing to log in without TLS")]
    StartTlsUnsupported,
    /// A plain-text connection (`starttls` or `none`) got no greeting in time: what a port that expects TLS
    /// from the first byte does.
    #[error(
        "POP3 server sent no greeting within {after:?}; if this port expects TLS from the first byte (POP3S, \
         usually 995), set tls = \"implicit\""
    )]
    NoGreeting {
        /// The configured timeout.
        after: Duration,
    },
    /// Connecting, or a read or write, took longer than the endpoint's timeout.
    #[error("POP3 {step} timed out after {after:?}")]
    Timeout {
        /// The command or phase.
        step: &'static str,
        /// The configured timeout.
        after: Duration,
    },
    /// A socket error.
    #[error("POP3 {step}: connection error")]
    Io {
        /// The command or phase.
        step: &'static str,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The TCP connection failed (refused, unreachable, name not resolved): the error names the host and
    /// port.
    #[error("POP3 connect")]
    Connect(#[source] ConnectError),
    /// TLS could not be set up, or the certificate did not verify.
    #[error("POP3 TLS")]
    Tls(#[source] TlsError),
    /// A message is larger than `max_message_bytes`.
    #[error("POP3 message {msgno} has {size} bytes, more than the limit of {limit}")]
    MessageTooLarge {
        /// Its message number.
        msgno: u32,
        /// Its size as reported by `LIST`, or (for an answer longer than `LIST` said) as far as it was read.
        size: u64,
        /// The limit.
        limit: usize,
    },
}

impl From<ConnectError> for Pop3Error {
    fn from(error: ConnectError) -> Self {
        match error {
            ConnectError::Timeout { after, .. } => Self::Timeout {
                step: "connect",
                after,
            },
            error @ ConnectError::Io { .. } => Self::Connect(error),
            ConnectError::Tls(tls) => Self::Tls(tls),
        }
    }
}

/// The mailbox size from `STAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxStat {
    /// Number of messages.
    pub count: u32,
    /// Total size in bytes.
    pub size: u64,
}

/// A logged-in (or about to log in) POP3 connection.
///
/// Deletions made with [`Pop3Client::dele`] take effect only at [`Pop3Client::quit`]; a dropped
/// connection deletes nothing.
#[derive(Debug)]
pub struct Pop3Client {
    reader: BufReader<MailStream>,
    timeout: Duration,
    /// When the current command (its status line and answer) must be done: `timeout` after it was sent.
    deadline: Instant,
}

impl Pop3Client {
    /// Connects, reads the greeting and, for [`TlsMode::StartTls`], upgrades with `STLS`.
    ///
    /// # Errors
    ///
    /// [`Pop3Error::Timeout`], [`Pop3Error::Io`] or [`Pop3Error::Tls`] when the connection
    /// cannot be made or secured; [`Pop3Error::StartTlsUnsupported`] when STARTTLS is required
    /// but not offered; [`Pop3Error::Protocol`] or [`Pop3Error::Refused`] for a bad greeting;
    /// [`Pop3Error::NoGreeting`] for none on a plain-text connection.
    #[tracing::instrument(skip_all, fields(host = %endpoint.host, port = endpoint.port))]
    pub async fn connect(endpoint: &Endpoint) -> Result<Self, Pop3Error> {
        let stream = tls::connect(endpoint).await?;
        let mut client = Self {
            reader: BufReader::new(stream),
            timeout: endpoint.timeout,
            deadline: Instant::now() + endpoint.timeout,
        };
        client.status("greeting").await.map_err(|e| match e {
            Pop3Error::Timeout { after, .. } if endpoint.tls.mode != TlsMode::Implicit => {
                Pop3Error::NoGreeting { after }
            }
            other => other,
        })?;
        if endpoint.tls.mode == TlsMode::StartTls {
            client = client.start_tls(endpoint).await?;
        }
        tracing::debug!(tls = client.reader.get_ref().is_tls(), "POP3 connected");
        Ok(client)
    }

    /// Connects and logs in: [`Pop3Client::connect`] then [`Pop3Client::login`].
    ///
    /// # Errors
    ///
    /// As [`Pop3Client::connect`] and [`Pop3Client::login`].
    #[tracing::instrument(skip_all, fields(host = %endpoint.host, user = %credentials.user))]
    pub async fn connect_and_login(
        endpoint: &Endpoint,
        credentials: &Credentials,
    ) -> Result<Self, Pop3Error> {
        let mut client = Self::connect(endpoint).await?;
        client.login(credentials).await?;
        Ok(client)
    }

    /// Whether the connection runs over TLS (implicit or after STLS).
    pub fn is_tls(&self) -> bool {
        self.reader.get_ref().is_tls()
    }

    async fn start_tls(mut self, endpoint: &Endpoint) -> Result<Self, Pop3Error> {
        let capabilities = self.capa().await?;
        if !capabilities.iter().any(|c| c.eq_ignore_ascii_case("STLS")) {
            return Err(Pop3Error::StartTlsUnsupported);
        }
        self.command("STLS", "STLS").await?;
        // Anything the server sent after "+OK" but before the handshake would be read as if it
        // came over TLS: refuse it (the STARTTLS command injection class of bugs).
        if !self.reader.buffer().is_empty() {
            return Err(Pop3Error::Protocol {
                step: "STLS",
                message: "server sent data before the TLS handshake".into(),
            });
        }
        let stream = tls::upgrade(endpoint, self.reader.into_inner()).await?;
        Ok(Self {
            reader: BufReader::new(stream),
            timeout: self.timeout,
            deadline: self.deadline,
        })
    }

    /// Lists the server's capabilities (`CAPA`); empty when the server does not support CAPA.
    ///
    /// # Errors
    ///
    /// [`Pop3Error::Timeout`], [`Pop3Error::Io`] or [`Pop3Error::Protocol`].
    pub async fn capa(&mut self) -> Result<Vec<String>, Pop3Error> {
        match self.command("CAPA", "CAPA").await {
            Ok(_) => {}
            Err(Pop3Error::Refused { .. }) => return Ok(Vec::new()),
            Err(error) => return Err(error),
        }
        let body = self.multiline("CAPA", MAX_LISTING_BYTES).await?;
        Ok(String::from_utf8_lossy(&body)
            .lines()
            .map(|line| line.trim().to_owned())
            .filter(|line| !line.is_empty())
            .collect())
    }

    /// Logs in with `USER` and `PASS`.
    ///
    /// # Errors
    ///
    /// [`Pop3Error::Auth`] when the server refuses the user or the password; otherwise
    /// [`Pop3Error::Timeout`], [`Pop3Error::Io`] or [`Pop3Error::Protocol`].
    #[tracing::instrument(skip_all, fields(user = %credentials.user))]
    pub async fn login(&mut self, credentials: &Credentials) -> Result<(), Pop3Error> {
        let user = &credentials.user;
        check_argument("USER", user)?;
        check_argument("PASS", credentials.password.expose())?;
        let auth_error = |error| match error {
            Pop3Error::Refused { message, .. } => Pop3Error::Auth {
                user: user.clone(),
                message,
            },
            other => other,
        };
        self.command("USER", &format!("USER {user}"))
            .await
            .map_err(auth_error)?;
        self.command("PASS", &format!("PASS {}", credentials.password.expose()))
            .await
            .map_err(auth_error)?;
        tracing::debug!("POP3 logged in");
        Ok(())
    }

    /// Counts the messages and their total size (`STAT`).
    ///
    /// # Errors
    ///
    /// [`Pop3Error::Refused`], [`Pop3Error::Protocol`], [`Pop3Error::Timeout`] or
    /// [`Pop3Error::Io`].
    pub async fn stat(&mut self) -> Result<MailboxStat, Pop3Error> {
        let text = self.command("STAT", "STAT").await?;
        parse_stat(&text)
    }

    /// Lists every message's unique id (`UIDL`) as `(message number, uidl)`.
    ///
    /// # Errors
    ///
    /// [`Pop3Error::Refused`] when the server has no UIDL, [`Pop3Error::Protocol`] for a
    /// malformed listing, [`Pop3Error::Timeout`] or [`Pop3Error::Io`].
    pub async fn uidl_all(&mut self) -> Result<Vec<(u32, String)>, Pop3Error> {
        self.command("UIDL", "UIDL").await?;
        let body = self.multiline("UIDL", MAX_LISTING_BYTES).await?;
        parse_uidl(&body)
    }

    /// Lists every message's size (`LIST`) as `(message number, bytes)`.
    ///
    /// # Errors
    ///
    /// [`Pop3Error::Refused`], [`Pop3Error::Protocol`], [`Pop3Error::Timeout`] or
    /// [`Pop3Error::Io`].
    pub async fn list_all(&mut self) -> Result<Vec<(u32, u64)>, Pop3Error> {
        self.command("LIST", "LIST").await?;
        let body = self.multiline("LIST", MAX_LISTING_BYTES).await?;
        parse_list(&body)
    }

    /// The size of one message (`LIST n`).
    ///
    /// # Errors
    ///
    /// [`Pop3Error::Refused`] for a message that does not exist or was deleted;
    /// [`Pop3Error::Protocol`], [`Pop3Error::Timeout`] or [`Pop3Error::Io`].
    pub async fn list(&mut self, msgno: u32) -> Result<u64, Pop3Error> {
        let text = self.command("LIST", &format!("LIST {msgno}")).await?;
        let mut fields = text.split_ascii_whitespace();
        let _msgno: u32 = parse_field(fields.next(), "LIST", &text)?;
        parse_field(fields.next(), "LIST", &text)
    }

    /// The header of one message (`TOP n 0`), dot-unstuffed, ending with the empty line.
    ///
    /// # Errors
    ///
    /// [`Pop3Error::MessageTooLarge`] when the header exceeds `max_bytes` (the rest is drained,
    /// so the connection stays usable); [`Pop3Error::Refused`] for a missing message or a
    /// server without TOP; [`Pop3Error::Protocol`], [`Pop3Error::Timeout`] or [`Pop3Error::Io`].
    pub async fn top_headers(
        &mut self,
        msgno: u32,
        max_bytes: usize,
    ) -> Result<Vec<u8>, Pop3Error> {
        self.command("TOP", &format!("TOP {msgno} 0")).await?;
        self.multiline_capped("TOP", msgno, max_bytes, 0).await
    }

    /// The whole raw message (`RETR n`), dot-unstuffed.
    ///
    /// The size from `LIST n` is checked first, so an oversized message is refused without
    /// downloading it; if the server under-reported, the download stops storing at `max_bytes`,
    /// drains the rest and fails.
    ///
    /// # Errors
    ///
    /// [`Pop3Error::MessageTooLarge`] above `max_bytes`; [`Pop3Error::Refused`] for a missing
    /// message; [`Pop3Error::Protocol`], [`Pop3Error::Timeout`] or [`Pop3Error::Io`].
    pub async fn retr(&mut self, msgno: u32, max_bytes: usize) -> Result<Vec<u8>, Pop3Error> {
        let size = self.list(msgno).await?;
        if size > max_bytes as u64 {
            return Err(Pop3Error::MessageTooLarge {
                msgno,
                size,
                limit: max_bytes,
            });
        }
        self.command("RETR", &format!("RETR {msgno}")).await?;
        let expected = usize::try_from(size).unwrap_or(max_bytes);
        self.multiline_capped("RETR", msgno, max_bytes, expected)
            .await
    }

    /// Marks a message for deletion (`DELE n`); it is removed at [`Pop3Client::quit`].
    ///
    /// # Errors
    ///
    /// [`Pop3Error::Refused`] for a missing or already deleted message;
    /// [`Pop3Error::Protocol`], [`Pop3Error::Timeout`] or [`Pop3Error::Io`].
    pub async fn dele(&mut self, msgno: u32) -> Result<(), Pop3Error> {
        self.command("DELE", &format!("DELE {msgno}")).await?;
        Ok(())
    }

    /// Ends the session (`QUIT`), which commits the deletions.
    ///
    /// # Errors
    ///
    /// [`Pop3Error::Refused`] when the server could not remove the deleted messages;
    /// [`Pop3Error::Protocol`], [`Pop3Error::Timeout`] or [`Pop3Error::Io`].
    pub async fn quit(mut self) -> Result<(), Pop3Error> {
        self.command("QUIT", "QUIT").await?;
        if let Err(error) = self.reader.get_mut().shutdown().await {
            tracing::debug!(%error, "POP3 shutdown after QUIT");
        }
        Ok(())
    }

    /// Sends one command and reads its status line; returns the text after `+OK`.
    async fn command(&mut self, step: &'static str, line: &str) -> Result<String, Pop3Error> {
        if step == "PASS" {
            tracing::trace!("POP3 > PASS ***");
        } else {
            tracing::trace!("POP3 > {line}");
        }
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.deadline = Instant::now() + self.timeout;
        let stream = self.reader.get_mut();
        let sent = tokio::time::timeout_at(self.deadline, async {
            stream.write_all(&bytes).await?;
            stream.flush().await
        })
        .await
        .map_err(|_| self.timed_out(step))?;
        sent.map_err(|e| self.io_error(step, e))?;
        self.status(step).await
    }

    /// Reads a status line: `+OK text` gives the text, `-ERR text` gives [`Pop3Error::Refused`].
    async fn status(&mut self, step: &'static str) -> Result<String, Pop3Error> {
        let mut line = Vec::new();
        if !self.read_line(&mut line, MAX_STATUS_LINE, step).await? {
            return Err(protocol(step, "status line too long"));
        }
        parse_status(step, &line)
    }

    /// Reads a multi-line body up to the terminating `.` line and dot-unstuffs it; more than
    /// `max_bytes` is a protocol error.
    async fn multiline(
        &mut self,
        step: &'static str,
        max_bytes: usize,
    ) -> Result<Vec<u8>, Pop3Error> {
        match self.multiline_body(step, max_bytes, 0).await? {
            (body, None) => Ok(body),
            (_, Some(_)) => Err(protocol(
                step,
                format!("answer longer than {max_bytes} bytes"),
            )),
        }
    }

    async fn multiline_capped(
        &mut self,
        step: &'static str,
        msgno: u32,
        max_bytes: usize,
        expected: usize,
    ) -> Result<Vec<u8>, Pop3Error> {
        match self.multiline_body(step, max_bytes, expected).await? {
            (body, None) => Ok(body),
            (_, Some(size)) => Err(Pop3Error::MessageTooLarge {
                msgno,
                size,
                limit: max_bytes,
            }),
        }
    }

    /// Returns the body, or on overflow of `max_bytes` what was kept and the whole answer's size. On
    /// overflow the rest of the answer is read and thrown away, so the connection can go on. The body's
    /// buffer starts at `expected` bytes (the size LIST gave), so a large message is not copied as it grows.
    async fn multiline_body(
        &mut self,
        step: &'static str,
        max_bytes: usize,
        expected: usize,
    ) -> Result<(Vec<u8>, Option<u64>), Pop3Error> {
        let mut body = Vec::with_capacity(expected.min(max_bytes));
        let mut line = Vec::new();
        let mut overflow = false;
        let mut skipped: u64 = 0;
        loop {
            line.clear();
            // On overflow keep reading short slices to find the terminator, storing nothing.
            let budget = if overflow {
                MAX_STATUS_LINE
            } else {
                max_bytes.saturating_sub(body.len()).saturating_add(3)
            };
            let complete = self.read_line(&mut line, budget, step).await?;
            if complete && (line == b".\r\n" || line == b".\n") {
                break;
            }
            if !complete {
                overflow = true;
            }
            if overflow {
                skipped = skipped.saturating_add(line.len() as u64);
                if skipped > MAX_DRAIN_BYTES {
                    return Err(protocol(
                        step,
                        format!(
                            "answer longer than {max_bytes} bytes, and still going after {MAX_DRAIN_BYTES} more"
                        ),
                    ));
                }
                continue;
            }
            // Dot-unstuffing: a line that starts with "." was sent with one more ".".
            let content = line.strip_prefix(b".").unwrap_or(&line);
            if body.len() + content.len() > max_bytes {
                overflow = true;
                skipped = skipped.saturating_add(content.len() as u64);
                continue;
            }
            body.extend_from_slice(content);
        }
        if !overflow {
            return Ok((body, None));
        }
        tracing::debug!(
            step,
            kept = body.len(),
            skipped,
            "POP3 answer over the limit drained"
        );
        let size = (body.len() as u64).saturating_add(skipped);
        Ok((body, Some(size)))
    }

    /// Reads one line including its `\n` into `out`. Returns `false` when the line was longer
    /// than `limit`: then `out` holds only a prefix and the rest of the line is consumed.
    async fn read_line(
        &mut self,
        out: &mut Vec<u8>,
        limit: usize,
        step: &'static str,
    ) -> Result<bool, Pop3Error> {
        let start = out.len();
        let mut complete = true;
        loop {
            let (deadline, after) = (self.deadline, self.timeout);
            let available = match tokio::time::timeout_at(deadline, self.reader.fill_buf()).await {
                Ok(Ok(available)) => available,
                Ok(Err(error)) => return Err(self.io_error(step, error)),
                Err(_) => return Err(Pop3Error::Timeout { step, after }),
            };
            if available.is_empty() {
                return Err(protocol(step, "connection closed by the server"));
            }
            let (chunk_len, done) = match available.iter().position(|&b| b == b'\n') {
                Some(at) => (at + 1, true),
                None => (available.len(), false),
            };
            if complete {
                let room = limit.saturating_sub(out.len() - start);
                if chunk_len <= room {
                    out.extend_from_slice(&available[..chunk_len]);
                } else {
                    out.extend_from_slice(&available[..room]);
                    complete = false;
                }
            }
            self.reader.consume(chunk_len);
            if done {
                return Ok(complete);
            }
        }
    }

    fn timed_out(&self, step: &'static str) -> Pop3Error {
        Pop3Error::Timeout {
            step,
            after: self.timeout,
        }
    }

    fn io_error(&self, step: &'static str, error: std::io::Error) -> Pop3Error {
        if error.kind() == std::io::ErrorKind::TimedOut {
            Pop3Error::Timeout {
                step,
                after: self.timeout,
            }
        } else {
            Pop3Error::Io {
                step,
                source: error,
            }
        }
    }
}

/// Reads a status line as the client does: `+OK text` gives the text, `-ERR text` gives
/// [`Pop3Error::Refused`]. Pure, like the other `parse_` functions here, so the server's answers can be
/// fuzzed without a connection.
///
/// # Errors
///
/// [`Pop3Error::Refused`] for `-ERR`; [`Pop3Error::Protocol`] for anything else.
pub fn parse_status(step: &'static str, line: &[u8]) -> Result<String, Pop3Error> {
    let line = String::from_utf8_lossy(line);
    let line = line.trim_end_matches(['\r', '\n']);
    tracing::trace!("POP3 < {line}");
    if let Some(rest) = strip_prefix_ignore_case(line, "+OK") {
        Ok(rest.trim_start().to_owned())
    } else if let Some(rest) = strip_prefix_ignore_case(line, "-ERR") {
        Err(Pop3Error::Refused {
            step,
            message: rest.trim_start().to_owned(),
        })
    } else {
        Err(protocol(step, format!("unexpected status line {line:?}")))
    }
}

/// Reads the text after `+OK` of a `STAT` answer.
///
/// # Errors
///
/// [`Pop3Error::Protocol`] when it is not two numbers.
pub fn parse_stat(text: &str) -> Result<MailboxStat, Pop3Error> {
    let mut fields = text.split_ascii_whitespace();
    let count = parse_field(fields.next(), "STAT", text)?;
    let size = parse_field(fields.next(), "STAT", text)?;
    Ok(MailboxStat { count, size })
}

/// Reads the dot-unstuffed body of a `UIDL` answer as `(message number, uidl)`.
///
/// # Errors
///
/// [`Pop3Error::Protocol`] for a malformed line or unique id.
pub fn parse_uidl(body: &[u8]) -> Result<Vec<(u32, String)>, Pop3Error> {
    listing(body, "UIDL")?
        .into_iter()
        .map(|(msgno, uidl)| {
            // RFC 1939: 1 to 70 characters in 0x21..=0x7E.
            if uidl.is_empty() || uidl.len() > 70 || !uidl.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(protocol("UIDL", format!("bad unique id {uidl:?}")));
            }
            Ok((msgno, uidl))
        })
        .collect()
}

/// Reads the dot-unstuffed body of a `LIST` answer as `(message number, bytes)`.
///
/// # Errors
///
/// [`Pop3Error::Protocol`] for a malformed line.
pub fn parse_list(body: &[u8]) -> Result<Vec<(u32, u64)>, Pop3Error> {
    listing(body, "LIST")?
        .into_iter()
        .map(|(msgno, size)| Ok((msgno, parse_field(Some(&size), "LIST", &size)?)))
        .collect()
}

fn protocol(step: &'static str, message: impl Into<String>) -> Pop3Error {
    Pop3Error::Protocol {
        step,
        message: message.into(),
    }
}

fn strip_prefix_ignore_case<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    let head = line.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &line[prefix.len()..])
        .filter(|rest| rest.is_empty() || rest.starts_with(' '))
}

fn parse_field<T: std::str::FromStr>(
    field: Option<&str>,
    step: &'static str,
    line: &str,
) -> Result<T, Pop3Error> {
    field
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| protocol(step, format!("cannot read {line:?}")))
}

/// Parses `n value` lines of a `UIDL` or `LIST` listing.
fn listing(body: &[u8], step: &'static str) -> Result<Vec<(u32, String)>, Pop3Error> {
    let text = std::str::from_utf8(body).map_err(|_| protocol(step, "listing is not UTF-8"))?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut fields = line.split_ascii_whitespace();
            let msgno = parse_field(fields.next(), step, line)?;
            let value = fields
                .next()
                .ok_or_else(|| protocol(step, format!("cannot read {line:?}")))?;
            Ok((msgno, value.to_owned()))
        })
        .collect()
}

/// Refuses arguments that would break the line-based protocol (command injection).
fn check_argument(step: &'static str, value: &str) -> Result<(), Pop3Error> {
    if value.is_empty() || value.contains(['\r', '\n', '\0']) {
        return Err(protocol(step, "argument is empty or holds a line break"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn status_prefixes_match_whole_words_only() {
        assert_eq!(strip_prefix_ignore_case("+OK 2 320", "+OK"), Some(" 2 320"));
        assert_eq!(strip_prefix_ignore_case("+ok", "+OK"), Some(""));
        assert_eq!(strip_prefix_ignore_case("+OKAY", "+OK"), None);
        assert_eq!(strip_prefix_ignore_case("-ERR no", "+OK"), None);
    }

    #[test]
    fn a_uidl_listing_becomes_number_and_id_pairs() {
        let body = b"1 000000016b0ab814\r\n2 000000026b0ab814\r\n";
        let pairs = listing(body, "UIDL").unwrap();
        assert_eq!(
            pairs,
            vec![
                (1, "000000016b0ab814".to_owned()),
                (2, "000000026b0ab814".to_owned())
            ]
        );
    }

    #[test]
    fn a_line_break_in_a_password_is_refused_before_sending() {
        assert!(check_argument("PASS", "secret\r\nDELE 1").is_err());
        assert!(check_argument("PASS", "").is_err());
        assert!(check_argument("PASS", "s e c r e t").is_ok());
    }
}
