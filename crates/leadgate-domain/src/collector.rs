//! The vocabulary of mail collectors: which protocol, how the connection is secured, who judges subjects,
//! and what happens to a message after import.

use serde::{Deserialize, Serialize};

use crate::vocabulary;

/// IMAP or POP3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// IMAP4rev1.
    Imap,
    /// POP3.
    Pop3,
}

vocabulary!(Protocol, "protocol", {
    Imap => "imap",
    Pop3 => "pop3",
});

/// How a connection to the mail server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// TLS from the first byte (IMAPS 993, POP3S 995).
    Implicit,
    /// A plain connection upgraded with `STARTTLS` (IMAP) or `STLS` (POP3) before login.
    #[serde(rename = "starttls")]
    StartTls,
    /// No TLS at all: the password crosses the network in clear text.
    None,
}

vocabulary!(TlsMode, "TLS mode", {
    Implicit => "implicit",
    StartTls => "starttls",
    None => "none",
});

/// What a collector does with a message after its lead is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterImport {
    /// Leave it as it is (the default).
    #[default]
    Keep,
    /// Set `\Seen` (IMAP).
    Seen,
    /// Move it to `move_to` (IMAP).
    Move,
    /// Delete it.
    Delete,
}

vocabulary!(AfterImport, "after-import action", {
    Keep => "keep",
    Seen => "seen",
    Move => "move",
    Delete => "delete",
});

/// Who decides which new IMAP messages hold the keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectFilter {
    /// The server (`UID SEARCH SUBJECT`): mail without the keyword is never downloaded (the default).
    #[default]
    Server,
    /// leadgate: it reads the subject of every new message (its header fields only) and judges it itself,
    /// for servers whose SEARCH does not decode RFC 2047.
    Local,
}

vocabulary!(SubjectFilter, "subject filter", {
    Server => "server",
    Local => "local",
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::tests::assert_words_agree;

    #[test]
    fn every_value_round_trips_through_its_word_and_through_serde() {
        assert_words_agree::<Protocol>();
        assert_words_agree::<TlsMode>();
        assert_words_agree::<AfterImport>();
        assert_words_agree::<SubjectFilter>();
    }
}
