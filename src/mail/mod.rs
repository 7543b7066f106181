//! The mail channel: collectors read site requests out of mailboxes (IMAP or POP3) and hand them to the
//! intake pipeline.

pub mod extract;
