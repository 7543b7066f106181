//! CPU per collected message, without IMAP or SQLite: what the mail collector's parse threads do with each
//! downloaded message. On this machine kind the collector is CPU-bound once its pipeline is full (two cores
//! shared with Dovecot), so these figures are what the throughput of `bench/run mail` is made of.
//!
//! `cargo bench --bench parse` prints, for the PHPMailer fixture (a site order with a cp1251 JSON attachment,
//! like the messages of `bench/run mail`), the median over 15 rounds of 2,000 messages of:
//! - `read`: mail-parser, the payload search and reading the attachment's JSON
//!   ([`leadgate_mail::extract::read`]);
//! - `payload`: that JSON into a lead draft ([`leadgate::intake::parse_read_json`]);
//! - `compress`: the raw message into the form the ledger keeps ([`leadgate_storage::StoredRaw::new`]);
//! - `submission`: all of it, as the collector calls it ([`leadgate::collector::submission_for`]).

use std::hint::black_box;
use std::time::{Duration, Instant};

use leadgate::intake::mail::{MailRules, submission_for};
use leadgate::intake::{IntakeSettings, parse_read_json};
use leadgate_mail::extract;
use leadgate_storage::StoredRaw;

const MAIL: &[u8] = include_bytes!("../tests/fixtures/mail/phpmailer_cp1251.eml");
const ROUNDS: usize = 15;
const PER_ROUND: usize = 2_000;

/// The median time of one call over `ROUNDS` rounds of `PER_ROUND` calls.
fn median(mut f: impl FnMut()) -> Duration {
    let mut rounds: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..PER_ROUND {
                f();
            }
            started.elapsed() / PER_ROUND as u32
        })
        .collect();
    rounds.sort_unstable();
    rounds[ROUNDS / 2]
}

fn report(name: &str, per_message: Duration) {
    let rate = 1.0 / per_message.as_secs_f64();
    println!(
        "{name:<11} {:>8.1} µs/message {rate:>10.0} messages/s on one core",
        per_message.as_secs_f64() * 1e6
    );
}

fn main() {
    let settings = IntakeSettings {
        timezone: chrono_tz::Europe::Moscow,
        max_body_bytes: 1 << 20,
        group_commit: false,
        max_batch: 1,
    };
    let rules = MailRules::for_saved_message(1, 25 << 20);
    let (_, found) = extract::read(
        MAIL,
        encoding_rs::WINDOWS_1251,
        extract::DEFAULT_MAX_ATTACHMENT_BYTES,
    );
    let found = found.expect("the fixture carries a JSON attachment");
    let json = found.object.expect("the attachment is a JSON object");
    println!(
        "message: tests/fixtures/mail/phpmailer_cp1251.eml, {} bytes",
        MAIL.len()
    );
    report(
        "read",
        median(|| {
            black_box(
                extract::read(
                    black_box(MAIL),
                    encoding_rs::WINDOWS_1251,
                    extract::DEFAULT_MAX_ATTACHMENT_BYTES,
                )
                .1
                .is_ok(),
            );
        }),
    );
    report(
        "payload",
        median(|| {
            black_box(parse_read_json(&found.text, black_box(&json), None, &settings).is_ok());
        }),
    );
    report(
        "compress",
        median(|| {
            black_box(StoredRaw::new(black_box(MAIL.to_vec())));
        }),
    );
    report(
        "submission",
        median(|| {
            black_box(submission_for(MAIL.to_vec(), None, &rules, &settings));
        }),
    );
}
