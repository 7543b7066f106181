//! Finding the site payload inside an e-mail: the first attachment whose text is a JSON object.
//!
//! Sites send their JSON as an attachment of any name, in Windows-1251 more often than not, frequently without
//! declaring a charset, and sometimes as `text/plain`. A MIME library that "helpfully" turns text parts into
//! UTF-8 would guess (mail-parser falls back to lossy UTF-8 for an undeclared charset) and destroy the
//! Cyrillic, so this module takes each attachment's transfer-decoded *bytes* and its declared `charset`
//! parameter, and decodes them with [`leadgate_domain::charset::decode`] in the specification's order:
//! declared charset, byte-order mark, valid UTF-8, the collector's default.
//!
//! Messages attached as `message/rfc822` (a manager's "Forward as attachment") are searched too, in document
//! order, down to [`MAX_NESTED_MESSAGES`] levels: the specification says "at any nesting depth", and a
//! forwarded site order is still that order. The attached message itself is never the payload.
//!
//! Everything here is pure and never panics, whatever the bytes: it runs on untrusted mail.

use std::sync::LazyLock;

use encoding_rs::Encoding as TextEncoding;
use mail_parser::{
    Encoding as TransferEncoding, HeaderName, Message, MessageParser, MessagePart, MimeHeaders,
    PartType,
    decoders::{base64::base64_decode, quoted_printable::quoted_printable_decode},
};

use leadgate_domain::charset;

/// mail-parser set to parse only the header fields leadgate reads: the MIME ones, Subject, Message-ID, Date
/// and From. The others (Received chains, recipient lists, mailer tags) are skipped, not parsed.
static PARSER: LazyLock<MessageParser> = LazyLock::new(|| {
    MessageParser::new()
        .with_mime_headers()
        .header_text(HeaderName::Subject)
        .header_id(HeaderName::MessageId)
        .header_date(HeaderName::Date)
        .header_address(HeaderName::From)
        .default_header_ignore()
});

/// How many `message/rfc822` levels are searched for the payload. Deeper ones are ignored, so hostile mail
/// cannot make the search recurse without bound.
pub const MAX_NESTED_MESSAGES: usize = 8;

/// The most `message/*` and `multipart/digest` mentions a message may hold before it is refused unparsed.
///
/// mail-parser parses nested messages iteratively but builds, copies and drops them recursively: about 10,000
/// nested `message/rfc822` headers (half a megabyte of mail) overflow a 2 MiB thread stack in a debug build,
/// which aborts the whole process rather than failing the message. Counting the mentions is a cheap upper
/// bound on that nesting; real mail, even a long forwarding chain, has a handful.
pub const MAX_MESSAGE_MENTIONS: usize = 128;

/// The most MIME parts a message may hold before it is refused unparsed. mail-parser keeps a few hundred
/// bytes for every part, so a message of tiny parts would cost many times its size; real mail has a few
/// dozen. Parts are counted from above, as lines that start with `--` and something more than dashes.
pub const MAX_MIME_PARTS: usize = 2_000;

/// The most JSON-looking attachments read for the payload in one message. Reading stops at the first JSON
/// object; past this many that were not, the message has no payload.
pub const MAX_JSON_CANDIDATES: usize = 16;

/// The largest payload attachment leadgate's default `limits.max_body_bytes` allows; [`find_payload`]
/// applies it.
pub const DEFAULT_MAX_ATTACHMENT_BYTES: usize = 1_048_576;

/// The header fields a collector needs to select and record a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailHeaders {
    /// The `Message-ID`, without its angle brackets; `None` when absent or empty.
    pub message_id: Option<String>,
    /// The subject, RFC 2047 encoded-words decoded.
    pub subject: Option<String>,
    /// The `Date`, when present and plausible (mail-parser's validity check: years 1900 to 3000).
    pub date: Option<chrono::DateTime<chrono::Utc>>,
    /// The first `From` address (`user@host`), or its display name when it has no address.
    pub from: Option<String>,
}

/// Parses only what is needed to select the message. Also works on a headers-only fetch (POP3 `TOP n 0`,
/// IMAP `BODY.PEEK[HEADER]`). Never fails: what cannot be read is `None`.
pub fn headers(raw: &[u8]) -> MailHeaders {
    PARSER
        .parse_headers(raw)
        .map(|message| headers_of(&message))
        .unwrap_or_default()
}

fn headers_of(message: &Message<'_>) -> MailHeaders {
    MailHeaders {
        message_id: message
            .message_id()
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned),
        subject: message.subject().map(str::to_owned),
        date: message
            .date()
            .filter(|date| date.is_valid())
            .and_then(|date| chrono::DateTime::from_timestamp(date.to_timestamp(), 0)),
        from: message
            .from()
            .and_then(|from| from.first())
            .and_then(|addr| {
                addr.address()
                    .or_else(|| addr.name())
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            }),
    }
}

/// The attachment chosen as the payload, decoded to text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundPayload {
    /// The decoded text, without a byte-order mark.
    pub text: String,
    /// The attachment's file name (RFC 2231 and RFC 2047 decoded), when it has one.
    pub file_name: Option<String>,
    /// The encoding the text was decoded with.
    pub encoding: &'static TextEncoding,
    /// True when some bytes were invalid in that encoding and became U+FFFD.
    pub had_errors: bool,
    /// The text read as JSON, when it is an object. `None` means no attachment held one, and this is the
    /// first that looked like JSON (starts with `{` or `[`): the caller reports its parse error or its
    /// non-object type.
    pub object: Option<serde_json::Value>,
    /// The attachment's size after transfer decoding, when it is over the limit: then it was neither
    /// decoded to text nor parsed, and `text` is empty.
    pub oversized: Option<usize>,
}

impl FoundPayload {
    /// Whether the text is a JSON object.
    pub fn is_json_object(&self) -> bool {
        self.object.is_some()
    }
}

/// Why a message has no payload.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ExtractError {
    /// The bytes are not an e-mail message at all (no header could be read).
    #[error("not a MIME message: no header could be read")]
    NotMime,
    /// The message has no attachment.
    #[error("the message has no attachment")]
    NoAttachment,
    /// The message nests too many attached messages to be parsed safely (see [`MAX_MESSAGE_MENTIONS`]).
    #[error("the message mentions more than {limit} attached messages; refusing to parse it")]
    TooManyNestedMessages {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The message has more MIME parts than can be parsed safely (see [`MAX_MIME_PARTS`]).
    #[error("the message has more than {limit} MIME parts; refusing to parse it")]
    TooManyParts {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// No payload was found, and the message holds attached messages deeper than [`MAX_NESTED_MESSAGES`]
    /// levels, which are not searched: the order may be in one of them.
    #[error(
        "no JSON attachment within {limit} levels of attached messages, and the message nests deeper ones, \
         which are not searched"
    )]
    NestedTooDeep {
        /// The levels searched.
        limit: usize,
    },
    /// The message has attachments, but none of them looks like JSON.
    #[error("none of the {attachments} attachment(s) is JSON")]
    NoJsonAttachment {
        /// How many attachments were looked at.
        attachments: usize,
    },
}

/// Finds the payload: the first attachment (a part with a file name or `Content-Disposition: attachment`),
/// at any multipart depth and inside attached messages, whose decoded text is a JSON object.
///
/// When none is a JSON object but one looks like JSON (its trimmed text starts with `{` or `[`), the first
/// such attachment is returned with `object == None`, so the caller can report its parse error. Text
/// is decoded by [`charset::decode`] with the part's declared charset and `default` (the collector's default
/// charset). A JSON-looking attachment over [`DEFAULT_MAX_ATTACHMENT_BYTES`] is neither decoded nor parsed
/// (see [`read`]). Never panics.
///
/// # Errors
///
/// - [`ExtractError::NotMime`] when no header can be parsed from `raw`;
/// - [`ExtractError::TooManyNestedMessages`] when `raw` could nest attached messages deeply enough to
///   overflow the stack while parsing;
/// - [`ExtractError::TooManyParts`] when `raw` has more than [`MAX_MIME_PARTS`] parts;
/// - [`ExtractError::NestedTooDeep`] when nothing was found and attached messages go deeper than are
///   searched;
/// - [`ExtractError::NoAttachment`] when the message has no attachment;
/// - [`ExtractError::NoJsonAttachment`] when it has attachments but none looks like JSON.
pub fn find_payload(
    raw: &[u8],
    default: &'static TextEncoding,
) -> Result<FoundPayload, ExtractError> {
    read(raw, default, DEFAULT_MAX_ATTACHMENT_BYTES).1
}

/// Reads a whole message once: its header fields (as [`headers`] gives them) and the payload
/// [`find_payload`] finds. A message that nests too many attached messages or has too many parts to be
/// parsed safely gets its header fields from the header block alone.
///
/// A JSON-looking attachment larger than `max_attachment_bytes` once transfer-decoded is judged by its size
/// alone: it is not decoded to text nor parsed, and is returned (when no attachment is a JSON object) with
/// [`FoundPayload::oversized`] set. So one message costs a small multiple of its own size, whatever it holds.
pub fn read(
    raw: &[u8],
    default: &'static TextEncoding,
    max_attachment_bytes: usize,
) -> (MailHeaders, Result<FoundPayload, ExtractError>) {
    let shape = message_shape(raw);
    let refused = if shape.mentions > MAX_MESSAGE_MENTIONS {
        Some(ExtractError::TooManyNestedMessages {
            limit: MAX_MESSAGE_MENTIONS,
        })
    } else if shape.parts > MAX_MIME_PARTS {
        Some(ExtractError::TooManyParts {
            limit: MAX_MIME_PARTS,
        })
    } else {
        None
    };
    if let Some(refused) = refused {
        return (headers(raw), Err(refused));
    }
    // mail-parser asserts its own invariants in debug builds, and a message it cannot reconcile (a part id
    // without its multipart, found by fuzzing) trips one: read such a message as not MIME instead of panicking.
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| PARSER.parse(raw)));
    match parsed {
        Ok(Some(message)) => (
            headers_of(&message),
            payload_of(&message, default, max_attachment_bytes),
        ),
        Ok(None) | Err(_) => (headers(raw), Err(ExtractError::NotMime)),
    }
}

fn payload_of(
    message: &Message<'_>,
    default: &'static TextEncoding,
    max_bytes: usize,
) -> Result<FoundPayload, ExtractError> {
    let mut search = Search {
        default,
        max_bytes,
        attachments: 0,
        candidates: 0,
        too_deep: false,
        first_broken: None,
    };
    if let Some(found) = search.message(message, 0) {
        return Ok(found);
    }
    match search.first_broken {
        Some(broken) => Ok(broken),
        None if search.too_deep => Err(ExtractError::NestedTooDeep {
            limit: MAX_NESTED_MESSAGES,
        }),
        None if search.attachments == 0 => Err(ExtractError::NoAttachment),
        None => Err(ExtractError::NoJsonAttachment {
            attachments: search.attachments,
        }),
    }
}

/// What a message could make mail-parser build, counted from above before parsing it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Shape {
    /// Nested messages: `message/` and `digest` mentions.
    mentions: usize,
    /// MIME parts: lines that may be boundaries.
    parts: usize,
}

/// Counts `message/` and `digest` (ASCII case-insensitive): every nested message mail-parser builds is
/// introduced by one of them; and the lines that may start a MIME part. mail-parser also parses base64 and
/// quoted-printable `message/*` parts (up to 3 levels), so the body of every encoded part that may be a
/// message is decoded and counted too.
fn message_shape(raw: &[u8]) -> Shape {
    shape_within(raw, ENCODED_MESSAGE_LEVELS)
}

/// mail-parser's own limit on encoded nested messages (`MAX_NESTED_ENCODED`), plus one for safety.
const ENCODED_MESSAGE_LEVELS: usize = 4;

/// Each header block and each decoded body is scanned once (`from` only moves forward), so this stays linear
/// in the size of the message whatever it holds.
fn shape_within(raw: &[u8], levels: usize) -> Shape {
    let (mentions, digests) = count_mentions(raw);
    let mut shape = Shape {
        mentions,
        parts: count_boundary_lines(raw),
    };
    if mentions == 0 || levels == 0 {
        return shape;
    }
    let needle = b"content-transfer-encoding:";
    let mut from = 0;
    while let Some(found) = find_ignoring_case(raw.get(from..).unwrap_or_default(), needle) {
        let at = from + found;
        // The header block holding this field: from the blank line before it (not before `from`) ...
        let block_start = raw[from..at]
            .windows(2)
            .rposition(|w| w == b"\n\n" || w == b"\n\r")
            .map_or(from, |offset| from + offset);
        // ... to the blank line after it, where the part's body starts.
        let Some(body_start) = raw[at..]
            .windows(3)
            .position(|w| w == b"\n\r\n" || w.starts_with(b"\n\n"))
            .map(|offset| at + offset)
        else {
            break;
        };
        from = body_start;
        let block = &raw[block_start..body_start];
        // In a digest, parts without a Content-Type are messages too.
        if digests == 0 && find_ignoring_case(block, b"message/").is_none() {
            continue;
        }
        let body = &raw[body_start..];
        let body = &body[..body
            .windows(3)
            .position(|w| w == b"\n--")
            .unwrap_or(body.len())];
        from = body_start + body.len();
        let decoded = if find_ignoring_case(block, b"base64").is_some() {
            base64_decode(body)
        } else if find_ignoring_case(block, b"quoted-printable").is_some() {
            quoted_printable_decode(body)
        } else {
            None
        };
        if let Some(decoded) = decoded {
            let inner = shape_within(&decoded, levels - 1);
            shape.mentions = shape.mentions.saturating_add(inner.mentions);
            shape.parts = shape.parts.saturating_add(inner.parts);
        }
        if shape.mentions > MAX_MESSAGE_MENTIONS || shape.parts > MAX_MIME_PARTS {
            break;
        }
    }
    shape
}

/// Counts the lines that start with `--` followed by something other than dashes and white space: every
/// MIME boundary line is one (a signature's `-- ` and a row of dashes are not).
fn count_boundary_lines(raw: &[u8]) -> usize {
    let starts = std::iter::once(0).chain(memchr::memchr_iter(b'\n', raw).map(|at| at + 1));
    starts
        .filter(|&at| {
            raw.get(at..at + 2) == Some(b"--")
                && raw
                    .get(at + 2..)
                    .unwrap_or_default()
                    .iter()
                    .take_while(|&&b| b != b'\n')
                    .any(|&b| b != b'-' && !b.is_ascii_whitespace())
        })
        .count()
}

/// Counts `message/` and `digest` in `raw`, ignoring ASCII case: (both, `digest` alone). Every message a
/// collector downloads goes through this, so memchr finds the candidates (the `/` that ends one, the `g` or
/// `G` inside the other) and each is checked in place. An automaton stepping through every byte cost more
/// than parsing the message, as base64 text is full of its candidate bytes.
fn count_mentions(raw: &[u8]) -> (usize, usize) {
    let messages = memchr::memchr_iter(b'/', raw)
        .filter(|&at| at >= 7 && raw[at - 7..at].eq_ignore_ascii_case(b"message"))
        .count();
    let digests = memchr::memchr2_iter(b'g', b'G', raw)
        .filter(|&at| {
            at >= 2
                && raw
                    .get(at - 2..at + 4)
                    .is_some_and(|word| word.eq_ignore_ascii_case(b"digest"))
        })
        .count();
    (messages + digests, digests)
}

fn find_ignoring_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle))
}

/// The state of one depth-first walk over a message's parts, in document order.
struct Search {
    default: &'static TextEncoding,
    /// The largest attachment decoded to text and parsed.
    max_bytes: usize,
    attachments: usize,
    /// JSON-looking attachments read so far (see [`MAX_JSON_CANDIDATES`]).
    candidates: usize,
    /// An attached message deeper than [`MAX_NESTED_MESSAGES`] was left unsearched.
    too_deep: bool,
    first_broken: Option<FoundPayload>,
}

impl Search {
    /// Walks `message`'s parts in document order (mail-parser stores them in that order); returns the first
    /// attachment that is a JSON object.
    fn message(&mut self, message: &Message<'_>, depth: usize) -> Option<FoundPayload> {
        for part in &message.parts {
            if self.candidates >= MAX_JSON_CANDIDATES {
                return None;
            }
            match &part.body {
                PartType::Multipart(_) => {}
                PartType::Message(nested) => {
                    if depth >= MAX_NESTED_MESSAGES {
                        self.too_deep = true;
                    } else if let Some(found) = self.message(nested, depth + 1) {
                        return Some(found);
                    }
                }
                PartType::Text(_)
                | PartType::Html(_)
                | PartType::Binary(_)
                | PartType::InlineBinary(_) => {
                    if !is_attachment(part) {
                        continue;
                    }
                    self.attachments += 1;
                    if let Some(found) = self.candidate(message, part) {
                        return Some(found);
                    }
                }
            }
        }
        None
    }

    /// Decodes one attachment. Returns it when it is a JSON object; remembers the first JSON-looking one.
    fn candidate(&mut self, message: &Message<'_>, part: &MessagePart<'_>) -> Option<FoundPayload> {
        let (bytes, declared) = part_bytes(message, part);
        if !may_be_json(&bytes, declared) {
            return None;
        }
        self.candidates += 1;
        if bytes.len() > self.max_bytes {
            // Judged by its size: decoding it to text and parsing it would cost many times the message.
            if self.first_broken.is_none() {
                self.first_broken = Some(FoundPayload {
                    text: String::new(),
                    file_name: part.attachment_name().map(decode_file_name),
                    encoding: declared
                        .and_then(charset::encoding_for_label)
                        .unwrap_or(self.default),
                    had_errors: false,
                    object: None,
                    oversized: Some(bytes.len()),
                });
            }
            return None;
        }
        let decoded = charset::decode(&bytes, declared, self.default);
        let trimmed = decoded
            .text
            .trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        let looks_like_object = trimmed.starts_with('{');
        let looks_like_json = looks_like_object || trimmed.starts_with('[');
        if !looks_like_json {
            return None;
        }
        // A value that starts with `{` and parses is an object. It is kept, so the order is read from it
        // rather than parsed a second time.
        // The size check first: the tree of a long array is forty times its text.
        let object = (looks_like_object
            && leadgate_domain::payload::check_json_size(&decoded.text).is_ok())
        .then(|| serde_json::from_str::<serde_json::Value>(&decoded.text).ok())
        .flatten();
        let found = FoundPayload {
            file_name: part.attachment_name().map(decode_file_name),
            encoding: decoded.encoding,
            had_errors: decoded.had_errors,
            text: decoded.text,
            object,
            oversized: None,
        };
        if found.is_json_object() {
            return Some(found);
        }
        if self.first_broken.is_none() {
            self.first_broken = Some(found);
        }
        None
    }
}

/// An attachment is a part with a file name or `Content-Disposition: attachment` (the specification's rule;
/// mail-parser's own notion of "attachment" also counts inline images and non-body text parts).
fn is_attachment(part: &MessagePart<'_>) -> bool {
    part.attachment_name().is_some()
        || part
            .content_disposition()
            .is_some_and(|cd| cd.is_attachment())
}

/// The part's transfer-decoded bytes and its declared charset.
///
/// mail-parser has already converted text parts to UTF-8 (lossily when no charset is declared), so for those
/// the original bytes are decoded again from the raw message; binary parts are used as they are.
fn part_bytes<'a>(
    message: &'a Message<'_>,
    part: &'a MessagePart<'_>,
) -> (std::borrow::Cow<'a, [u8]>, Option<&'a str>) {
    let declared = declared_charset(part);
    match &part.body {
        PartType::Text(text) | PartType::Html(text) => match raw_body(message, part) {
            Some(bytes) => (bytes, declared),
            // Cannot happen for what mail-parser produced itself; if it does, its UTF-8 is the best we have.
            None => (std::borrow::Cow::Borrowed(text.as_bytes()), Some("utf-8")),
        },
        _ => (std::borrow::Cow::Borrowed(part.contents()), declared),
    }
}

/// The `charset` parameter of the part's `Content-Type`, if any (parameter names compared without case).
fn declared_charset<'a>(part: &'a MessagePart<'_>) -> Option<&'a str> {
    part.content_type()?
        .attributes()?
        .iter()
        .find(|attribute| attribute.name.eq_ignore_ascii_case("charset"))
        .map(|attribute| attribute.value.as_ref())
        .filter(|value| !value.trim().is_empty())
}

/// The part's body from the raw message, with its transfer encoding undone.
///
/// The part's offsets index the buffer mail-parser parsed: the whole downloaded message, also for the parts
/// of a message attached to it, or the decoded body of an attached message carried in base64 or
/// quoted-printable. That buffer is `raw_message` itself, not `raw_message()`: the latter is cut to the
/// message's own extent, so for an attached message it starts at its header and every offset would miss.
fn raw_body<'a>(
    message: &'a Message<'_>,
    part: &MessagePart<'_>,
) -> Option<std::borrow::Cow<'a, [u8]>> {
    let start = usize::try_from(part.offset_body).ok()?;
    let end = usize::try_from(part.offset_end).ok()?;
    let body = message.raw_message.get(start..end)?;
    match part.encoding {
        TransferEncoding::None => Some(std::borrow::Cow::Borrowed(body)),
        TransferEncoding::Base64 => base64_decode(body).map(std::borrow::Cow::Owned),
        TransferEncoding::QuotedPrintable => {
            quoted_printable_decode(body).map(std::borrow::Cow::Owned)
        }
    }
}

/// Whether the bytes can be JSON at all, checked before decoding so big images and PDFs are not converted to
/// text: after an optional UTF-8 byte-order mark and ASCII whitespace, the first byte is `{` or `[`. UTF-16
/// (by BOM or declaration) is always decoded, since its first byte says nothing.
fn may_be_json(bytes: &[u8], declared: Option<&str>) -> bool {
    let utf16 = |encoding: &'static TextEncoding| {
        encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE
    };
    if declared
        .and_then(charset::encoding_for_label)
        .is_some_and(utf16)
        || TextEncoding::for_bom(bytes).is_some_and(|(encoding, _)| utf16(encoding))
    {
        return true;
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    matches!(
        bytes.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    )
}

/// mail-parser decodes RFC 2231 names (with continuations) itself, but not the RFC 2047 encoded-words that
/// Outlook puts inside a quoted `name="=?windows-1251?B?...?="`; those are decoded here.
fn decode_file_name(name: &str) -> String {
    if name.contains("=?") && name.contains("?=") {
        let header = format!("Subject: {name}\r\n\r\n");
        if let Some(decoded) = PARSER
            .parse_headers(header.as_bytes())
            .and_then(|m| m.subject().map(str::to_owned))
        {
            return decoded;
        }
    }
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The plain definition: every position where either word starts, ignoring ASCII case.
    fn naive(raw: &[u8]) -> (usize, usize) {
        let at = |word: &[u8]| {
            raw.windows(word.len())
                .filter(|w| w.eq_ignore_ascii_case(word))
                .count()
        };
        let digests = at(b"digest");
        (at(b"message/") + digests, digests)
    }

    #[test]
    fn mentions_are_counted_in_any_case_and_at_either_end() {
        assert_eq!(count_mentions(b"MeSsAgE/rfc822 x-message/ DIGEST"), (3, 1));
        assert_eq!(count_mentions(b"digest"), (1, 1));
        assert_eq!(count_mentions(b"message"), (0, 0));
        assert_eq!(count_mentions(b"/essage/ digesT"), (1, 1));
        assert_eq!(count_mentions(b""), (0, 0));
    }

    proptest! {
        #[test]
        fn mentions_match_the_plain_definition(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    "message/", "MeSsAgE/", "mess", "AGE/", "messag", "e", "/", "digest", "DiGeSt", "dig",
                    "G", "est", "x", " ",
                ]),
                0..60,
            )
        ) {
            let raw = pieces.concat().into_bytes();
            prop_assert_eq!(count_mentions(&raw), naive(&raw));
        }
    }
}
