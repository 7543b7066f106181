//! IMAP access for the mail collector: a thin wrapper over `async-imap`.
//!
//! The collector needs a handful of operations, and each has a trap this wrapper closes once:
//!
//! - **Only new, matching mail is listed** (`UID SEARCH UID n:* SUBJECT ...`): `n:*` always
//!   includes the highest UID even when it is below `n`, so results are filtered again here.
//!   The server's `SUBJECT` match is a substring match, so callers still check the keyword as a
//!   whole word on the decoded subject.
//! - **Fetching never marks mail read** (`BODY.PEEK[]`): people read these mailboxes too, and
//!   leadgate never relies on `\Seen`.
//! - **Moving works without the MOVE extension** (COPY, `\Deleted`, `UID EXPUNGE`), and creates
//!   the target folder when it is missing.
//! - **Folder names may be Cyrillic**: they are sent in modified UTF-7 (RFC 3501 5.1.3).
//! - **Nothing hangs**: every read and write on the socket has the endpoint's timeout
//!   ([`super::tls::TimeoutIo`]), and every command as a whole has it too, so a server that trickles a
//!   byte now and then cannot hold a command open.
//! - **Nothing grows without bound**: a literal announced larger than the session's limit (the
//!   collector's `max_message_bytes`) fails the command before async-imap allocates room for it;
//!   unsolicited responses and FETCH responses for messages not asked for are dropped as they come.
//! - **STARTTLS is mandatory when configured**: a server that does not offer it is refused
//!   before the password is sent.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::error::Error as RawError;
use async_imap::imap_proto::{Response, Status};
use async_imap::types::{Fetch, Flag};
use base64::Engine as _;
use chrono::NaiveDate;
use futures::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::Credentials;
use crate::tls::{self, ConnectError, Endpoint, MailStream, TlsError};
use leadgate_domain::collector::TlsMode;

/// At most this many UIDs go into one command, to stay far below servers' line limits.
const UIDS_PER_COMMAND: usize = 500;

/// The largest literal a session accepts until [`ImapSession::set_max_literal`] says otherwise: leadgate's
/// default `limits.max_message_bytes`.
pub const DEFAULT_MAX_LITERAL: usize = 26_214_400;

/// The least that one FETCH command may bring back in message bytes, whatever the literal limit: the
/// collector's batches hold up to 8 MiB of messages.
const MIN_FETCH_BYTES: usize = 16 << 20;

/// An IMAP failure, by kind: the collector records it and goes on with the next collector.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// The server refused the user name or password.
    #[error("IMAP login as {user:?} refused: {message}")]
    Auth {
        /// The login name (never the password).
        user: String,
        /// The server's text.
        message: String,
    },
    /// The server answered `NO` or `BAD` to a command.
    #[error("IMAP server refused {step}: {message}")]
    Refused {
        /// The operation.
        step: &'static str,
        /// The server's text.
        message: String,
    },
    /// The server's answer could not be understood, lacked something required (such as
    /// UIDVALIDITY), or the connection closed mid-answer.
    #[error("IMAP protocol error in {step}: {message}")]
    Protocol {
        /// The operation.
        step: &'static str,
        /// What was wrong.
        message: String,
    },
    /// An argument cannot be sent (a line break in a folder name, for example).
    #[error("IMAP {step}: invalid argument: {message}")]
    InvalidArgument {
        /// The operation.
        step: &'static str,
        /// What was wrong.
        message: String,
    },
    /// The endpoint requires STARTTLS but the server does not offer it.
    #[error("IMAP server does not offer STARTTLS; refusing to log in without TLS")]
    StartTlsUnsupported,
    /// A plain-text connection (`starttls` or `none`) got no greeting in time: what a port that expects TLS
    /// from the first byte does.
    #[error(
        "IMAP server sent no greeting within {after:?}; if this port expects TLS from the first byte (IMAPS, \
         usually 993), set tls = \"implicit\""
    )]
    NoGreeting {
        /// The configured timeout.
        after: Duration,
    },
    /// Connecting, or a read or write, took longer than the endpoint's timeout.
    #[error("IMAP {step} timed out after {after:?}")]
    Timeout {
        /// The operation.
        step: &'static str,
        /// The configured timeout.
        after: Duration,
    },
    /// A socket error.
    #[error("IMAP {step}: connection error")]
    Io {
        /// The operation.
        step: &'static str,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The TCP connection failed (refused, unreachable, name not resolved): the error names the host and
    /// port.
    #[error("IMAP connect")]
    Connect(#[source] ConnectError),
    /// TLS could not be set up, or the certificate did not verify.
    #[error("IMAP TLS")]
    Tls(#[source] TlsError),
}

impl From<ConnectError> for ImapError {
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

/// What `SELECT` tells about a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectedFolder {
    /// UIDVALIDITY: when it changes, all remembered UIDs of the folder are void.
    pub uid_validity: u32,
    /// The UID the next message will get, if the server said.
    pub uid_next: Option<u32>,
    /// Number of messages in the folder.
    pub exists: u32,
}

/// What ended one [`ImapSession::idle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleEnd {
    /// The server announced new mail in the folder.
    NewMail,
    /// Nothing new came in the time given: IDLE was ended so that it can be renewed.
    Renew,
}

fn is_new_mail(response: &async_imap::types::UnsolicitedResponse) -> bool {
    use async_imap::types::UnsolicitedResponse;
    matches!(response, UnsolicitedResponse::Exists(_))
}

/// One message fetched with `BODY.PEEK[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMessage {
    /// Its UID in the selected folder.
    pub uid: u32,
    /// The raw RFC 5322 message.
    pub raw: Vec<u8>,
}

/// A logged-in IMAP session.
#[derive(Debug)]
pub struct ImapSession {
    session: async_imap::Session<GuardedStream>,
    timeout: Duration,
    capabilities: BTreeSet<String>,
    max_literal: Arc<AtomicUsize>,
}

impl ImapSession {
    /// Connects to `endpoint` (implicit TLS, STARTTLS or plain, as configured) and logs in.
    ///
    /// # Errors
    ///
    /// [`ImapError::Auth`] for a wrong user or password; [`ImapError::Timeout`],
    /// [`ImapError::Io`] or [`ImapError::Tls`] when the connection cannot be made or secured;
    /// [`ImapError::StartTlsUnsupported`] when STARTTLS is required but not offered;
    /// [`ImapError::Protocol`] or [`ImapError::Refused`] for an unexpected greeting;
    /// [`ImapError::NoGreeting`] for none on a plain-text connection.
    #[tracing::instrument(skip_all, fields(host = %endpoint.host, user = %credentials.user))]
    pub async fn connect_and_login(
        endpoint: &Endpoint,
        credentials: &Credentials,
    ) -> Result<Self, ImapError> {
        // Connecting, the greeting, STARTTLS, LOGIN and CAPABILITY: each has the timeout, and all together
        // at most twice it.
        within(
            "LOGIN",
            endpoint.timeout.saturating_mul(2),
            Self::connect_and_login_unbounded(endpoint, credentials),
        )
        .await
    }

    async fn connect_and_login_unbounded(
        endpoint: &Endpoint,
        credentials: &Credentials,
    ) -> Result<Self, ImapError> {
        let timeout = endpoint.timeout;
        let max_literal = Arc::new(AtomicUsize::new(DEFAULT_MAX_LITERAL));
        let stream = GuardedStream::new(tls::connect(endpoint).await?, max_literal.clone());
        let mut client = async_imap::Client::new(stream);
        read_greeting(&mut client, timeout)
            .await
            .map_err(|e| match e {
                ImapError::Timeout { after, .. } if endpoint.tls.mode != TlsMode::Implicit => {
                    ImapError::NoGreeting { after }
                }
                other => other,
            })?;
        if endpoint.tls.mode == TlsMode::StartTls {
            // A server without STARTTLS answers BAD or NO; the password is not sent then.
            client
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| match e {
                    RawError::No(_) | RawError::Bad(_) => ImapError::StartTlsUnsupported,
                    other => map_error("STARTTLS", timeout, other),
                })?;
            let stream = tls::upgrade(endpoint, client.into_inner().inner).await?;
            client = async_imap::Client::new(GuardedStream::new(stream, max_literal.clone()));
        }
        let session = client
            .login(&credentials.user, credentials.password.expose())
            .await
            .map_err(|(error, _client)| match error {
                RawError::No(message) => ImapError::Auth {
                    user: credentials.user.clone(),
                    message: server_text(&message),
                },
                RawError::Validate(_) => ImapError::InvalidArgument {
                    step: "LOGIN",
                    message: "user name or password holds a line break".into(),
                },
                other => map_error("LOGIN", timeout, other),
            })?;
        let mut session = Self {
            session,
            timeout,
            capabilities: BTreeSet::new(),
            max_literal,
        };
        let capabilities = session
            .session
            .capabilities()
            .await
            .map_err(|e| session.error("CAPABILITY", e))?;
        session.drop_unsolicited();
        session.capabilities = capabilities
            .iter()
            .filter_map(capability_name)
            .map(|name| name.to_ascii_uppercase())
            .collect();
        tracing::debug!(tls = session.is_tls(), "IMAP logged in");
        Ok(session)
    }

    /// Whether the session runs over TLS (implicit or after STARTTLS).
    pub fn is_tls(&self) -> bool {
        self.session.get_ref().inner.is_tls()
    }

    /// Sets the largest literal the server may send (a message, or a part of one): a larger one fails the
    /// command with [`ImapError::Protocol`] as soon as it is announced, before any room is made for it.
    pub fn set_max_literal(&mut self, bytes: usize) {
        self.max_literal.store(bytes, Ordering::Relaxed);
    }

    /// Runs one command under the session's timeout as a whole, then drops what the server said unasked
    /// (async-imap queues up to 100 unsolicited responses, which leadgate never reads).
    async fn command<T>(
        &mut self,
        step: &'static str,
        run: impl AsyncFnOnce(&mut async_imap::Session<GuardedStream>) -> Result<T, RawError>,
    ) -> Result<T, ImapError> {
        let timeout = self.timeout;
        let result = match tokio::time::timeout(timeout, run(&mut self.session)).await {
            Ok(result) => result.map_err(|e| map_error(step, timeout, e)),
            Err(_) => Err(ImapError::Timeout {
                step,
                after: timeout,
            }),
        };
        self.drop_unsolicited();
        result
    }

    fn drop_unsolicited(&mut self) {
        while self.session.unsolicited_responses.try_recv().is_ok() {}
    }

    /// Whether the server announced a capability (case-insensitive), such as `MOVE`.
    pub fn has_capability(&self, name: &str) -> bool {
        self.capabilities.contains(&name.to_ascii_uppercase())
    }

    /// Waits in IMAP IDLE (RFC 2177) on the selected folder until the server announces new mail (`EXISTS`)
    /// or `renew_after` passes without it, then ends the IDLE with `DONE`: the session is back, ready for
    /// commands or the next IDLE. The caller renews IDLE by calling this again, well before the 29 minutes
    /// after which a server may drop an idle client. Other announcements (flags, expunges) are let pass.
    ///
    /// Only for a server that has the `IDLE` capability ([`ImapSession::has_capability`]).
    ///
    /// # Errors
    ///
    /// [`ImapError::Io`] or [`ImapError::Protocol`] when the connection drops or the server refuses
    /// (`BYE` at shutdown), [`ImapError::Timeout`] when `IDLE` or `DONE` is not answered in time; the
    /// session is gone then.
    pub async fn idle(mut self, renew_after: Duration) -> Result<(Self, IdleEnd), ImapError> {
        let timeout = self.timeout;
        // Announcements that came with earlier answers count too.
        if self.drain_new_mail() {
            return Ok((self, IdleEnd::NewMail));
        }
        let unsolicited = self.session.unsolicited_responses.clone();
        // A read waits as long as the IDLE may, and the command's timeout on top.
        self.session
            .get_mut()
            .inner
            .set_timeout(renew_after.saturating_add(timeout));
        let Self {
            session,
            capabilities,
            max_literal,
            ..
        } = self;
        let mut handle = session.idle();
        match tokio::time::timeout(timeout, handle.init()).await {
            Ok(result) => result.map_err(|e| map_error("IDLE", timeout, e))?,
            Err(_) => {
                return Err(ImapError::Timeout {
                    step: "IDLE",
                    after: timeout,
                });
            }
        }
        let deadline = tokio::time::Instant::now() + renew_after;
        let mut end = IdleEnd::Renew;
        // What the server said between IDLE and its go-ahead was queued.
        while let Ok(response) = unsolicited.try_recv() {
            if is_new_mail(&response) {
                end = IdleEnd::NewMail;
            }
        }
        while end == IdleEnd::Renew {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break;
            }
            let (wait, _stop) = handle.wait_with_timeout(left);
            match wait.await.map_err(|e| map_error("IDLE", timeout, e))? {
                async_imap::extensions::idle::IdleResponse::NewData(data) => {
                    if let Response::MailboxData(async_imap::imap_proto::MailboxDatum::Exists(_)) =
                        data.parsed()
                    {
                        end = IdleEnd::NewMail;
                    }
                }
                async_imap::extensions::idle::IdleResponse::Timeout
                | async_imap::extensions::idle::IdleResponse::ManualInterrupt => break,
            }
        }
        let mut session = match tokio::time::timeout(timeout, handle.done()).await {
            Ok(result) => result.map_err(|e| map_error("DONE", timeout, e))?,
            Err(_) => {
                return Err(ImapError::Timeout {
                    step: "DONE",
                    after: timeout,
                });
            }
        };
        session.get_mut().inner.set_timeout(timeout);
        let mut this = Self {
            session,
            timeout,
            capabilities,
            max_literal,
        };
        if this.drain_new_mail() {
            end = IdleEnd::NewMail;
        }
        Ok((this, end))
    }

    /// Drops what the server said unasked; whether it announced new mail.
    fn drain_new_mail(&mut self) -> bool {
        let mut new_mail = false;
        while let Ok(response) = self.session.unsolicited_responses.try_recv() {
            new_mail |= is_new_mail(&response);
        }
        new_mail
    }

    /// Selects `folder` read-write (flags, moves and deletes come later in the same session).
    ///
    /// # Errors
    ///
    /// [`ImapError::Refused`] for a folder that does not exist; [`ImapError::Protocol`] when
    /// the server gives no UIDVALIDITY; [`ImapError::InvalidArgument`] for a line break in the
    /// name; [`ImapError::Timeout`] or [`ImapError::Io`].
    #[tracing::instrument(skip(self))]
    pub async fn select(&mut self, folder: &str) -> Result<SelectedFolder, ImapError> {
        let name = encode_folder("SELECT", folder)?;
        let mailbox = self
            .command("SELECT", async |s| s.select(&name).await)
            .await?;
        let uid_validity = mailbox.uid_validity.ok_or_else(|| ImapError::Protocol {
            step: "SELECT",
            message: "server gave no UIDVALIDITY".into(),
        })?;
        Ok(SelectedFolder {
            uid_validity,
            uid_next: mailbox.uid_next,
            exists: mailbox.exists,
        })
    }

    /// UIDs above `after_uid` whose subject contains `keyword` (server-side substring match,
    /// case-insensitive), ascending. An empty keyword lists every newer message.
    ///
    /// A non-ASCII keyword is sent as a UTF-8 literal when the server has `LITERAL+`;
    /// otherwise every newer message is listed and the caller's subject check decides.
    ///
    /// # Errors
    ///
    /// [`ImapError::InvalidArgument`] for a line break in the keyword; [`ImapError::Refused`],
    /// [`ImapError::Protocol`], [`ImapError::Timeout`] or [`ImapError::Io`].
    #[tracing::instrument(skip(self))]
    pub async fn search_new(
        &mut self,
        keyword: &str,
        after_uid: u32,
    ) -> Result<Vec<u32>, ImapError> {
        let Some(first) = after_uid.checked_add(1) else {
            return Ok(Vec::new());
        };
        if keyword.contains(['\r', '\n', '\0']) {
            return Err(ImapError::InvalidArgument {
                step: "SEARCH",
                message: "keyword holds a line break".into(),
            });
        }
        let query = if keyword.is_empty() {
            format!("UID {first}:*")
        } else if keyword.is_ascii() {
            format!("UID {first}:* SUBJECT {}", quote(keyword))
        } else if self.has_capability("LITERAL+") {
            format!(
                "CHARSET UTF-8 UID {first}:* SUBJECT {{{}+}}\r\n{keyword}",
                keyword.len()
            )
        } else {
            tracing::debug!("server lacks LITERAL+: listing all new mail for a non-ASCII keyword");
            format!("UID {first}:*")
        };
        let uids = self
            .command("SEARCH", async |s| s.uid_search(&query).await)
            .await?;
        // "n:*" matches the highest UID even when it is below n.
        let mut uids: Vec<u32> = uids.into_iter().filter(|&uid| uid > after_uid).collect();
        uids.sort_unstable();
        Ok(uids)
    }

    /// UIDs of messages received before `date` (`UID SEARCH BEFORE`), ascending; for retention.
    ///
    /// # Errors
    ///
    /// [`ImapError::Refused`], [`ImapError::Protocol`], [`ImapError::Timeout`] or
    /// [`ImapError::Io`].
    #[tracing::instrument(skip(self))]
    pub async fn search_before(&mut self, date: NaiveDate) -> Result<Vec<u32>, ImapError> {
        self.search_sorted(format!("BEFORE {}", date.format("%-d-%b-%Y")))
            .await
    }

    /// `UID SEARCH query`: the UIDs, ascending.
    async fn search_sorted(&mut self, query: String) -> Result<Vec<u32>, ImapError> {
        let uids = self
            .command("SEARCH", async |s| s.uid_search(&query).await)
            .await?;
        let mut uids: Vec<u32> = uids.into_iter().collect();
        uids.sort_unstable();
        Ok(uids)
    }

    /// UIDs of the messages of the selected folder whose `Message-ID` header holds `message_id`
    /// (`UID SEARCH HEADER Message-ID`), ascending; for finding a message again after it was moved.
    ///
    /// # Errors
    ///
    /// [`ImapError::InvalidArgument`] for an id that is not printable ASCII; [`ImapError::Refused`],
    /// [`ImapError::Protocol`], [`ImapError::Timeout`] or [`ImapError::Io`].
    #[tracing::instrument(skip(self))]
    pub async fn search_message_id(&mut self, message_id: &str) -> Result<Vec<u32>, ImapError> {
        if message_id.is_empty() || !message_id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ImapError::InvalidArgument {
                step: "SEARCH",
                message: "the Message-ID is empty or not printable ASCII".into(),
            });
        }
        self.search_sorted(format!("HEADER Message-ID {}", quote(message_id)))
            .await
    }

    /// The sizes (RFC822.SIZE) of the given messages, so oversized ones can be refused before
    /// they are downloaded. Messages that no longer exist are left out.
    ///
    /// # Errors
    ///
    /// [`ImapError::Refused`], [`ImapError::Protocol`], [`ImapError::Timeout`] or
    /// [`ImapError::Io`].
    pub async fn fetch_sizes(&mut self, uids: &[u32]) -> Result<Vec<(u32, u32)>, ImapError> {
        let fetches = self.uid_fetch(uids, "(UID RFC822.SIZE)").await?;
        let mut sizes: Vec<(u32, u32)> = fetches
            .iter()
            .filter_map(|f| Some((f.uid?, f.size?)))
            .collect();
        sizes.sort_unstable();
        Ok(sizes)
    }

    /// The `Subject` and `Message-ID` header fields of the given messages
    /// (`BODY.PEEK[HEADER.FIELDS (SUBJECT MESSAGE-ID)]`, never sets `\Seen`), ascending by UID, so that a
    /// collector can judge subjects itself. Messages that no longer exist are left out.
    ///
    /// # Errors
    ///
    /// [`ImapError::Refused`], [`ImapError::Protocol`], [`ImapError::Timeout`] or
    /// [`ImapError::Io`].
    #[tracing::instrument(skip_all, fields(count = uids.len()))]
    pub async fn fetch_subjects(&mut self, uids: &[u32]) -> Result<Vec<(u32, Vec<u8>)>, ImapError> {
        let fetches = self
            .uid_fetch(uids, "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT MESSAGE-ID)])")
            .await?;
        let mut heads: Vec<(u32, Vec<u8>)> = fetches
            .iter()
            .filter_map(|f| Some((f.uid?, f.header()?.to_vec())))
            .collect();
        heads.sort_unstable_by_key(|(uid, _)| *uid);
        Ok(heads)
    }

    /// Downloads the given messages whole with `BODY.PEEK[]` (never sets `\Seen`), ascending by
    /// UID. Messages that no longer exist are left out.
    ///
    /// # Errors
    ///
    /// [`ImapError::Refused`], [`ImapError::Protocol`], [`ImapError::Timeout`] or
    /// [`ImapError::Io`].
    #[tracing::instrument(skip_all, fields(count = uids.len()))]
    pub async fn fetch_batch(&mut self, uids: &[u32]) -> Result<Vec<FetchedMessage>, ImapError> {
        let fetches = self.uid_fetch(uids, "(UID BODY.PEEK[])").await?;
        let mut messages: Vec<FetchedMessage> = fetches
            .iter()
            .filter_map(|f| {
                Some(FetchedMessage {
                    uid: f.uid?,
                    raw: f.body()?.to_vec(),
                })
            })
            .collect();
        messages.sort_unstable_by_key(|m| m.uid);
        Ok(messages)
    }

    /// Downloads one message in parts of `part` bytes (`BODY.PEEK[]<offset.length>`), so that the
    /// connection's buffer holds one part at a time and the message itself is held once, in a buffer of
    /// `size` bytes (its `RFC822.SIZE`). Stops with [`ImapError::Protocol`] should the server send more than
    /// `limit` bytes. `None` when the message no longer exists.
    ///
    /// # Errors
    ///
    /// [`ImapError::Refused`], [`ImapError::Protocol`], [`ImapError::Timeout`] or
    /// [`ImapError::Io`].
    #[tracing::instrument(skip(self))]
    pub async fn fetch_in_parts(
        &mut self,
        uid: u32,
        size: u32,
        part: u32,
        limit: usize,
    ) -> Result<Option<FetchedMessage>, ImapError> {
        let part = part.max(1);
        let mut raw = Vec::with_capacity((size as usize).min(limit));
        loop {
            let query = format!("(UID BODY.PEEK[]<{}.{part}>)", raw.len());
            let fetches = self.uid_fetch(&[uid], &query).await?;
            let Some(fetch) = fetches.iter().find(|f| f.uid == Some(uid)) else {
                return Ok(None);
            };
            let body = fetch.body().unwrap_or_default();
            raw.extend_from_slice(body);
            if raw.len() > limit {
                return Err(ImapError::Protocol {
                    step: "FETCH",
                    message: format!("message {uid} is longer than {limit} bytes"),
                });
            }
            if body.len() < part as usize {
                break;
            }
        }
        Ok(Some(FetchedMessage { uid, raw }))
    }

    /// The flags of the given messages (`\Seen`, `\Deleted`, keywords), ascending by UID.
    ///
    /// # Errors
    ///
    /// [`ImapError::Refused`], [`ImapError::Protocol`], [`ImapError::Timeout`] or
    /// [`ImapError::Io`].
    pub async fn flags(&mut self, uids: &[u32]) -> Result<Vec<(u32, Vec<String>)>, ImapError> {
        let fetches = self.uid_fetch(uids, "(UID FLAGS)").await?;
        let mut flags: Vec<(u32, Vec<String>)> = fetches
            .iter()
            .filter_map(|f| Some((f.uid?, f.flags().map(|flag| flag_name(&flag)).collect())))
            .collect();
        flags.sort_unstable_by_key(|(uid, _)| *uid);
        Ok(flags)
    }

    /// Sets `\Seen` on the given messages.
    ///
    /// # Errors
    ///
    /// [`ImapError::Refused`], [`ImapError::Protocol`], [`ImapError::Timeout`] or
    /// [`ImapError::Io`].
    #[tracing::instrument(skip_all, fields(count = uids.len()))]
    pub async fn mark_seen(&mut self, uids: &[u32]) -> Result<(), ImapError> {
        self.store(uids, "+FLAGS.SILENT (\\Seen)").await
    }

    /// Moves the given messages to `folder`, creating it when missing. Uses `MOVE` when the
    /// server has it, else `COPY` + `\Deleted` + expunge.
    ///
    /// # Errors
    ///
    /// [`ImapError::Refused`] when the folder cannot be created or the move fails;
    /// [`ImapError::InvalidArgument`] for a line break in the name; [`ImapError::Protocol`],
    /// [`ImapError::Timeout`] or [`ImapError::Io`].
    #[tracing::instrument(skip(self, uids), fields(count = uids.len()))]
    pub async fn move_to(&mut self, uids: &[u32], folder: &str) -> Result<(), ImapError> {
        if uids.is_empty() {
            return Ok(());
        }
        let name = encode_folder("MOVE", folder)?;
        self.ensure_folder(&name).await?;
        if self.has_capability("MOVE") {
            for set in uid_sets(uids) {
                self.command("MOVE", async |s| s.uid_mv(&set, &name).await)
                    .await?;
            }
            Ok(())
        } else {
            for set in uid_sets(uids) {
                self.command("COPY", async |s| s.uid_copy(&set, &name).await)
                    .await?;
            }
            self.delete(uids).await
        }
    }

    /// Deletes the given messages: `\Deleted`, then `UID EXPUNGE` of exactly these (plain
    /// `EXPUNGE` when the server lacks UIDPLUS, which also removes other messages already
    /// marked deleted).
    ///
    /// # Errors
    ///
    /// [`ImapError::Refused`], [`ImapError::Protocol`], [`ImapError::Timeout`] or
    /// [`ImapError::Io`].
    #[tracing::instrument(skip_all, fields(count = uids.len()))]
    pub async fn delete(&mut self, uids: &[u32]) -> Result<(), ImapError> {
        if uids.is_empty() {
            return Ok(());
        }
        self.store(uids, "+FLAGS.SILENT (\\Deleted)").await?;
        if self.has_capability("UIDPLUS") {
            for set in uid_sets(uids) {
                self.command("EXPUNGE", async |s| {
                    let _expunged: Vec<u32> = s.uid_expunge(&set).await?.try_collect().await?;
                    Ok(())
                })
                .await?;
            }
        } else {
            self.command("EXPUNGE", async |s| {
                let _expunged: Vec<u32> = s.expunge().await?.try_collect().await?;
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    /// Ends the session with `LOGOUT`.
    ///
    /// # Errors
    ///
    /// [`ImapError::Timeout`], [`ImapError::Io`] or [`ImapError::Protocol`]; the session is
    /// gone either way.
    pub async fn logout(mut self) -> Result<(), ImapError> {
        self.command("LOGOUT", async |s| s.logout().await).await
    }

    async fn ensure_folder(&mut self, encoded: &str) -> Result<(), ImapError> {
        let quoted = quote(encoded);
        let listed = self
            .command("LIST", async |s| {
                let names: Vec<async_imap::types::Name> =
                    s.list(Some(""), Some(&quoted)).await?.try_collect().await?;
                Ok(!names.is_empty())
            })
            .await?;
        if !listed {
            tracing::info!(folder = encoded, "creating IMAP folder");
            self.command("CREATE", async |s| s.create(encoded).await)
                .await?;
        }
        Ok(())
    }

    async fn store(&mut self, uids: &[u32], query: &str) -> Result<(), ImapError> {
        for set in uid_sets(uids) {
            // The answers (the new flags) are not kept: a server could send them without end.
            self.command("STORE", async |s| {
                s.uid_store(&set, query)
                    .await?
                    .try_for_each(|_| std::future::ready(Ok(())))
                    .await
            })
            .await?;
        }
        Ok(())
    }

    /// Fetches `query` for `uids`, keeping one answer per UID asked for: the server may send FETCH
    /// responses unasked (flag changes, other messages), and those are dropped as they arrive. The message
    /// bytes kept are bounded too, by twice the literal limit (and at least [`MIN_FETCH_BYTES`]).
    async fn uid_fetch(&mut self, uids: &[u32], query: &str) -> Result<Vec<Fetch>, ImapError> {
        let max_bytes = self
            .max_literal
            .load(Ordering::Relaxed)
            .saturating_mul(2)
            .max(MIN_FETCH_BYTES);
        let mut all = Vec::new();
        let mut kept = 0usize;
        for set in uid_sets(uids) {
            let mut wanted: BTreeSet<u32> = set_members(&set);
            let mut fetches = self
                .command("FETCH", async |s| {
                    let mut fetches = Vec::new();
                    let mut stream = s.uid_fetch(&set, query).await?;
                    while let Some(fetch) = stream.try_next().await? {
                        if !fetch.uid.is_some_and(|uid| wanted.remove(&uid)) {
                            continue;
                        }
                        kept = kept.saturating_add(fetch.body().map_or(0, <[u8]>::len));
                        if kept > max_bytes {
                            return Err(RawError::Io(std::io::Error::new(
                                std::io::ErrorKind::InvalidData,
                                format!("the server sent more than {max_bytes} bytes of messages"),
                            )));
                        }
                        fetches.push(fetch);
                    }
                    Ok(fetches)
                })
                .await?;
            all.append(&mut fetches);
        }
        Ok(all)
    }

    fn error(&self, step: &'static str, error: RawError) -> ImapError {
        map_error(step, self.timeout, error)
    }
}

/// The UIDs of a set [`uid_sets`] made ("1:3,7").
fn set_members(set: &str) -> BTreeSet<u32> {
    set.split(',')
        .flat_map(|range| {
            let (start, end) = range.split_once(':').unwrap_or((range, range));
            let start = start.parse::<u32>().unwrap_or(1);
            let end = end.parse::<u32>().unwrap_or(0);
            start..=end
        })
        .collect()
}

/// Runs `future` for at most `after`.
async fn within<T>(
    step: &'static str,
    after: Duration,
    future: impl Future<Output = Result<T, ImapError>>,
) -> Result<T, ImapError> {
    tokio::time::timeout(after, future)
        .await
        .unwrap_or(Err(ImapError::Timeout { step, after }))
}

/// The socket as async-imap reads it, watched for literals (`{n}` at the end of a line): one larger than
/// the limit fails the read with [`std::io::ErrorKind::InvalidData`] before async-imap, which makes room
/// for a whole literal at once, allocates it.
#[derive(Debug)]
struct GuardedStream {
    inner: MailStream,
    max_literal: Arc<AtomicUsize>,
    scan: LiteralScan,
}

impl GuardedStream {
    fn new(inner: MailStream, max_literal: Arc<AtomicUsize>) -> Self {
        Self {
            inner,
            max_literal,
            scan: LiteralScan::default(),
        }
    }
}

/// Where the reader is in the server's byte stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum LiteralScan {
    /// In a line, nothing literal-like just read.
    #[default]
    Line,
    /// After `{` and these digits.
    Digits(u64),
    /// After `{n}`.
    Closed(u64),
    /// After `{n}\r`.
    ClosedCr(u64),
    /// Inside a literal, this many bytes to go.
    Literal(u64),
}

impl LiteralScan {
    /// Moves over `bytes`; when a literal is announced larger than `limit`, its size as far as read (the
    /// first digits that pass the limit).
    fn over(&mut self, bytes: &[u8], limit: u64) -> Option<u64> {
        let mut at = 0;
        while at < bytes.len() {
            if let Self::Literal(left) = *self {
                let skip = usize::try_from(left)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len() - at);
                at += skip;
                let left = left - skip as u64;
                *self = if left == 0 {
                    Self::Line
                } else {
                    Self::Literal(left)
                };
                continue;
            }
            let byte = bytes[at];
            at += 1;
            *self = match (*self, byte) {
                (Self::Digits(n), b'0'..=b'9') => {
                    let n = n.saturating_mul(10).saturating_add(u64::from(byte - b'0'));
                    if n > limit {
                        return Some(n);
                    }
                    Self::Digits(n)
                }
                (Self::Digits(n), b'}') => Self::Closed(n),
                (Self::Closed(n), b'\r') => Self::ClosedCr(n),
                (Self::Closed(n) | Self::ClosedCr(n), b'\n') if n > 0 => Self::Literal(n),
                (_, b'{') => Self::Digits(0),
                _ => Self::Line,
            };
        }
        None
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let limit = this.max_literal.load(Ordering::Relaxed) as u64;
            if this.scan.over(&buf.filled()[before..], limit).is_some() {
                return Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("the server announced a literal of more than {limit} bytes"),
                )));
            }
        }
        polled
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

async fn read_greeting(
    client: &mut async_imap::Client<GuardedStream>,
    timeout: Duration,
) -> Result<(), ImapError> {
    let greeting = client
        .read_response()
        .await
        .map_err(|e| map_error("greeting", timeout, RawError::Io(e)))?
        .ok_or_else(|| ImapError::Protocol {
            step: "greeting",
            message: "connection closed before the greeting".into(),
        })?;
    match greeting.parsed() {
        Response::Data {
            status: Status::Ok, ..
        } => Ok(()),
        Response::Data {
            status: Status::PreAuth,
            ..
        } => Err(ImapError::Protocol {
            step: "greeting",
            message: "server pre-authenticated the connection; expected a login".into(),
        }),
        other => Err(ImapError::Refused {
            step: "greeting",
            message: format!("{other:?}"),
        }),
    }
}

/// The responses in `bytes`, in order, as the IMAP library parses them off the connection; stops at the
/// first one that is incomplete or cannot be parsed. Pure (no I/O), so the parsing of a server's answers
/// can be fuzzed without a connection.
pub fn parse_responses(mut bytes: &[u8]) -> Vec<Response<'_>> {
    let mut responses = Vec::new();
    // The library's parser panics on some malformed answers; a collector's run treats that as an error
    // (see `collector::run`), and so does this parse: it stops at such a response.
    let parse = |bytes| std::panic::catch_unwind(|| Response::parse(bytes));
    while let Ok(Ok((rest, response))) = parse(bytes) {
        responses.push(response);
        if rest.len() == bytes.len() {
            break;
        }
        bytes = rest;
    }
    responses
}

fn capability_name(capability: &async_imap::types::Capability) -> Option<String> {
    use async_imap::types::Capability;
    match capability {
        Capability::Imap4rev1 => Some("IMAP4REV1".into()),
        Capability::Auth(mechanism) => Some(format!("AUTH={mechanism}")),
        Capability::Atom(atom) => Some(atom.clone()),
    }
}

fn flag_name(flag: &Flag<'_>) -> String {
    match flag {
        Flag::Seen => "\\Seen".into(),
        Flag::Answered => "\\Answered".into(),
        Flag::Flagged => "\\Flagged".into(),
        Flag::Deleted => "\\Deleted".into(),
        Flag::Draft => "\\Draft".into(),
        Flag::Recent => "\\Recent".into(),
        Flag::MayCreate => "\\*".into(),
        Flag::Custom(name) => name.to_string(),
    }
}

fn map_error(step: &'static str, timeout: Duration, error: RawError) -> ImapError {
    match error {
        RawError::Io(source) if source.kind() == std::io::ErrorKind::TimedOut => {
            ImapError::Timeout {
                step,
                after: timeout,
            }
        }
        RawError::Io(source) if source.kind() == std::io::ErrorKind::InvalidData => {
            ImapError::Protocol {
                step,
                message: source.to_string(),
            }
        }
        RawError::Io(source) => ImapError::Io { step, source },
        RawError::No(message) | RawError::Bad(message) => ImapError::Refused {
            step,
            message: server_text(&message),
        },
        RawError::Validate(invalid) => ImapError::InvalidArgument {
            step,
            message: invalid.to_string(),
        },
        RawError::ConnectionLost => ImapError::Protocol {
            step,
            message: "connection lost".into(),
        },
        other => ImapError::Protocol {
            step,
            message: other.to_string(),
        },
    }
}

/// An IMAP quoted string.
fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Compact UID sets ("1:3,7"), at most [`UIDS_PER_COMMAND`] UIDs each.
fn uid_sets(uids: &[u32]) -> Vec<String> {
    let sorted: Vec<u32> = uids
        .iter()
        .copied()
        .collect::<BTreeSet<u32>>()
        .into_iter()
        .collect();
    sorted
        .chunks(UIDS_PER_COMMAND)
        .map(|chunk| {
            let mut parts: Vec<String> = Vec::new();
            let mut iter = chunk.iter().copied().peekable();
            while let Some(start) = iter.next() {
                let mut end = start;
                while iter.peek() == Some(&(end.wrapping_add(1))) {
                    end += 1;
                    iter.next();
                }
                parts.push(if start == end {
                    start.to_string()
                } else {
                    format!("{start}:{end}")
                });
            }
            parts.join(",")
        })
        .collect()
}

/// Encodes a folder name in IMAP's modified UTF-7 (RFC 3501 5.1.3).
fn encode_folder(step: &'static str, folder: &str) -> Result<String, ImapError> {
    if folder.is_empty() || folder.contains(['\r', '\n', '\0']) {
        return Err(ImapError::InvalidArgument {
            step,
            message: format!("bad folder name {folder:?}"),
        });
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::IMAP_MUTF7,
        base64::engine::general_purpose::NO_PAD,
    );
    let mut out = String::with_capacity(folder.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if !pending.is_empty() {
            let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
            out.push('&');
            out.push_str(&engine.encode(bytes));
            out.push('-');
            pending.clear();
        }
    };
    for c in folder.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush(&mut pending, &mut out);
    Ok(out)
}

/// The server's own text of a `NO` or `BAD` answer. The IMAP library hands it over in Rust's debug form
/// (`code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")`); the administrator reads what
/// the server said. Any other form is kept as it is.
fn server_text(answer: &str) -> String {
    let info = answer
        .split_once("info: Some(\"")
        .and_then(|(_, rest)| rest.strip_suffix("\")"));
    let Some(info) = info else {
        return answer.to_owned();
    };
    let mut text = String::with_capacity(info.len());
    let mut chars = info.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some(escaped @ ('"' | '\\' | '\''))) => {
                text.push(escaped);
                chars.next();
            }
            _ => text.push(c),
        }
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn uid_sets_collapse_runs_and_split_long_lists() {
        assert_eq!(uid_sets(&[5, 1, 2, 3, 9, 10, 3]), vec!["1:3,5,9:10"]);
        assert!(uid_sets(&[]).is_empty());
        let many: Vec<u32> = (1..=1200).map(|n| n * 2).collect();
        assert_eq!(uid_sets(&many).len(), 3);
    }

    #[test]
    fn folder_names_are_sent_in_modified_utf7() {
        assert_eq!(encode_folder("t", "INBOX").unwrap(), "INBOX");
        assert_eq!(encode_folder("t", "A&B").unwrap(), "A&-B");
        // RFC 3501's own example.
        assert_eq!(
            encode_folder("t", "~peter/mail/台北/日本語").unwrap(),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        assert_eq!(
            encode_folder("t", "Обработано").unwrap(),
            "&BB4EMQRABDAEMQQ+BEIEMAQ9BD4-"
        );
        assert!(encode_folder("t", "a\r\nb").is_err());
    }

    #[test]
    fn literals_over_the_limit_are_noticed_when_announced_and_literal_bytes_are_skipped() {
        let mut scan = LiteralScan::default();
        // A literal's contents may look like an announcement; they are skipped, not read.
        assert_eq!(
            scan.over(b"* 1 FETCH (BODY[] {12}\r\n{99999999}\r\n)\r\n", 100),
            None
        );
        assert_eq!(scan, LiteralScan::Line);
        assert_eq!(scan.over(b"* 2 FETCH (BODY[] {10", 100), None);
        assert_eq!(scan.over(b"1}\r\n", 100), Some(101));
        let mut scan = LiteralScan::default();
        assert_eq!(scan.over(b"* 2 FETCH (BODY[] {100}\r\n", 100), None);
        assert_eq!(scan, LiteralScan::Literal(100));
    }

    #[test]
    fn uid_sets_give_back_their_members() {
        assert_eq!(set_members("1:3,7"), BTreeSet::from([1, 2, 3, 7]));
    }

    #[test]
    fn quoting_escapes_quotes_and_backslashes() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
