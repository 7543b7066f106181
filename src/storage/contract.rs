//! The storage contract: what every backend must do, checked through the storage traits alone.
//!
//! Each case is an async function that takes a fresh, empty backend as `&dyn Storage`, builds what it needs
//! through the traits (no SQL), and asserts behaviour a user relies on: the ledger's keys are recorded
//! exactly once, an idempotency key answers with its first lead, a counterparty is found or created by INN,
//! what a calendar hides stays hidden, sessions expire, a scan state round-trips, a job lock has one holder.
//! Together the cases call every method of every role trait.
//!
//! A backend runs the whole suite with one line in a test file, given an async factory of fresh backends
//! (anything that dereferences to one: a `Box`, an `Arc`, or a holder that also keeps its temporary
//! directory alive):
//!
//! ```ignore
//! leadgate::storage_contract_suite!(|| async { TempDatabase::new().await });
//! ```
//!
//! It expands to one `#[tokio::test]` per case, so a failure names the case.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;

use super::*;
use crate::domain::lead::{Channel, LeadKind, LeadStatus};
use crate::domain::payload::Payload;
use crate::domain::personal_data::PersonDataQuery;

/// Runs every case of the contract against backends made by `$make`, an expression that can be called
/// with no arguments and returns a future of a fresh, empty backend (anything that dereferences to a
/// type implementing [`Storage`]). Expands to one `#[tokio::test]` per case; the calling crate needs
/// `tokio` with its test macro.
#[macro_export]
macro_rules! storage_contract_suite {
    ($make:expr) => {
        $crate::storage_contract_suite!(@cases $make;
            the_database_answers_a_ping,
            a_lead_and_its_ledger_record_commit_together,
            a_ledger_key_is_recorded_exactly_once,
            an_idempotency_key_answers_with_its_first_lead,
            a_counterparty_is_found_or_created_by_inn,
            rejected_and_skipped_messages_are_recorded_with_their_reasons,
            a_rejected_message_gets_one_lead_however_often_it_is_reprocessed,
            mailbox_keys_tell_known_records_from_what_retention_may_delete,
            the_lead_list_filters_searches_and_pages,
            a_lead_changes_status_and_assignee,
            tech_cards_are_formed_once_per_goods_line,
            the_inbox_shows_new_leads_first_and_pages_by_cursor,
            calendar_views_count_and_list_leads_by_day_and_feed_them,
            a_hidden_calendar_hides_its_counterparties_and_their_contacts,
            users_are_created_once_and_upserted_by_login,
            a_password_change_ends_sessions_tokens_and_the_feed_key,
            sessions_expire_go_idle_end_and_die_with_a_disabled_user,
            sign_in_attempts_are_limited_per_login_and_address,
            api_tokens_are_added_revoked_and_provisioned,
            a_calendar_feed_key_names_its_user_until_replaced,
            calendars_are_created_once_and_upserted_by_name,
            http_sources_are_found_by_token_until_revoked,
            collectors_round_trip_and_are_upserted_by_name,
            a_scan_state_round_trips_per_folder,
            runs_are_recorded_and_the_last_one_shown,
            a_job_lock_has_one_holder_until_dropped,
            personal_data_is_found_erased_and_audited,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let held = ($make)().await;
                let storage: &dyn $crate::storage::Storage = &*held;
                $crate::storage::contract::$case(storage).await;
            }
        )+
    };
}

// ---- helpers ----------------------------------------------------------------------------------------------

/// The value, or a panic naming the step that failed.
fn ok<T>(step: &str, result: Result<T>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{step}: {e:?}"),
    }
}

/// The value of an `Option` that must be there.
fn some<T>(what: &str, value: Option<T>) -> T {
    match value {
        Some(value) => value,
        None => panic!("{what} is missing"),
    }
}

/// Now, to the millisecond (what storage keeps).
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_default()
}

fn page(limit: u32) -> PageRequest {
    PageRequest {
        limit,
        cursor: None,
    }
}

fn after(page: &Page<impl Sized>, limit: u32) -> PageRequest {
    PageRequest {
        limit,
        cursor: page.next.as_deref().and_then(|c| c.parse().ok()),
    }
}

fn payload(json: &str) -> Payload {
    match Payload::from_json(json, chrono_tz::UTC) {
        Ok(payload) => payload,
        Err(e) => panic!("contract payload {json}: {e}"),
    }
}

/// An order of one printed line (2 × 2 m, two pieces) and one service line, with extra works.
fn order(number: u32, inn: Option<&str>, person: &str, phone: &str, email: &str) -> Payload {
    let inn = inn.map_or(String::new(), |inn| format!(r#""ИНН": "{inn}","#));
    payload(&format!(
        r#"{{"Тема": "Заказ №{number}", "Описание": "описание {number}", {inn}
            "КонтактноеЛицо": "{person}", "Телефон": "{phone}", "АдресЭлектроннойПочты": "{email}",
            "ФайлыМакета": [{{"Файл": "https://shop.example/{number}.pdf"}}],
            "Товары": [
                {{"Номенклатура": "Баннер", "Ширина": 2, "Высота": 2, "Количество": 2, "Цена": 500,
                  "Сумма": 1000, "ДополнительныеРаботы": [{{"ВидРаботы": "Люверсы", "Количество": 8,
                  "Описание": "шаг 30 см"}}]}},
                {{"Номенклатура": "Доставка", "Услуга": true, "Количество": 1, "Цена": 300, "Сумма": 300}}
            ]}}"#
    ))
}

/// A contact lead (no goods).
fn contact(subject: &str, phone: &str) -> Payload {
    payload(&format!(r#"{{"Тема": "{subject}", "Телефон": "{phone}"}}"#))
}

fn entry(
    source: SourceRef,
    key: Option<&str>,
    raw: &[u8],
    received_at: DateTime<Utc>,
) -> LedgerEntry {
    LedgerEntry {
        source,
        ledger_key: key.map(str::to_owned),
        mailbox_key: key.map(|k| format!("1:{k}")),
        message_id: key.map(str::to_owned),
        external_number: None,
        received_at,
        raw: StoredRaw::new(raw.to_vec()),
        content_type: "message/rfc822".to_owned(),
        content_hash: key.map(|_| content_hash(raw)),
    }
}

fn lead_of(ledger: LedgerEntry, payload: Payload, calendar_id: i64) -> Submission {
    Submission {
        ledger,
        disposition: Disposition::Lead(Box::new(LeadDraft {
            payload,
            calendar_id,
            auto_tech_cards: false,
            extra_warnings: Vec::new(),
        })),
        idempotency: None,
    }
}

/// Submits one submission on its own and returns its outcome.
async fn submit(s: &dyn Storage, submission: Submission) -> SubmitOutcome {
    let mut outcomes = ok("submit", s.submit_batch(&[submission]).await);
    assert_eq!(outcomes.len(), 1, "one outcome per submission");
    some("the outcome", outcomes.pop())
}

/// Files a lead received over HTTP at `received_at` and returns its lead id.
async fn file_lead(
    s: &dyn Storage,
    source: i64,
    payload: Payload,
    calendar_id: i64,
    received_at: DateTime<Utc>,
) -> i64 {
    let ledger = entry(SourceRef::Http { id: source }, None, b"{}", received_at);
    match submit(s, lead_of(ledger, payload, calendar_id)).await {
        SubmitOutcome::Imported { lead_id, .. } => lead_id,
        other => panic!("a lead was expected: {other:?}"),
    }
}

/// A calendar and an HTTP source posting into it.
async fn calendar_and_source(s: &dyn Storage, name: &str) -> (i64, i64) {
    let calendar = ok("calendar", s.upsert_calendar(name, None).await);
    let source = ok(
        "source",
        s.create_http_source(&format!("{name}-site"), calendar, &format!("hash-{name}"))
            .await,
    );
    (calendar, source)
}

fn collector_record(name: &str, calendar_id: i64) -> CollectorRecord {
    CollectorRecord {
        id: 0,
        name: name.to_owned(),
        protocol: Protocol::Imap,
        host: "mail.shop.example".to_owned(),
        port: 993,
        tls: crate::mail::tls::TlsMode::Implicit,
        ca_file: Some("/etc/leadgate/ca.pem".into()),
        insecure_skip_verify: false,
        username: "orders".to_owned(),
        password_env: Some("LEADGATE_COLLECTOR_SITE_PASSWORD".to_owned()),
        password_file: None,
        folder: "INBOX".to_owned(),
        keyword: "ORDER".to_owned(),
        subject_filter: SubjectFilter::Local,
        calendar_id,
        default_charset: "windows-1251".to_owned(),
        after_import: AfterImport::Move,
        move_to: Some("Done".to_owned()),
        failed_folder: Some("Failed".to_owned()),
        delete_after_days: Some(30),
        auto_tech_cards: true,
        deleted: false,
    }
}

async fn lead_ids(s: &dyn Storage, filter: &LeadFilter, calendars: Option<&[i64]>) -> Vec<i64> {
    let found = ok("leads", s.leads(filter, calendars, page(500)).await);
    found.items.iter().map(|l| l.id).collect()
}

fn dec(v: i64) -> Option<Decimal> {
    Some(Decimal::from(v))
}

// ---- the ledger -------------------------------------------------------------------------------------------

/// [`Ledger::ping`].
pub async fn the_database_answers_a_ping(s: &dyn Storage) {
    ok("ping", s.ping().await);
}

/// [`Ledger::submit_batch`], [`Ledger::message`], [`Ledger::message_raw`], [`Ledger::message_of_lead`],
/// [`Leads::lead`]: a lead and its ledger record are one, and read back as they were sent.
pub async fn a_lead_and_its_ledger_record_commit_together(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    let received = now();
    let mut ledger = entry(SourceRef::Http { id: source }, None, b"{\"x\":1}", received);
    ledger.content_type = "application/json".to_owned();
    ledger.external_number = Some("123".to_owned());
    let sent = order(
        123,
        Some("7709745454"),
        "Прилепский Алексей",
        "+7 925 642 42-90",
        "a@shop.example",
    );
    let outcome = submit(s, lead_of(ledger, sent.clone(), calendar)).await;
    let SubmitOutcome::Imported {
        message_id,
        lead_id,
        counterparty,
    } = outcome
    else {
        panic!("imported expected: {outcome:?}");
    };
    let party = some("the counterparty of a valid INN", counterparty);
    assert_eq!(party.inn, "7709745454");

    let record = some(
        "the ledger record",
        ok("message", s.message(message_id).await),
    );
    assert_eq!(record.outcome, Outcome::Imported);
    assert_eq!(record.lead_id, Some(lead_id));
    assert_eq!(record.channel, Channel::Http);
    assert_eq!(record.http_source.as_deref(), Some("site-site"));
    assert_eq!(record.http_source_id, Some(source));
    assert_eq!(record.external_number.as_deref(), Some("123"));
    assert_eq!(record.received_at, received);
    assert!(record.has_raw);
    let raw = some("the raw body", ok("raw", s.message_raw(message_id).await));
    assert_eq!(raw.bytes, b"{\"x\":1}");
    assert_eq!(raw.content_type, "application/json");
    assert_eq!(
        ok("message of lead", s.message_of_lead(lead_id).await),
        Some(message_id)
    );

    let lead = some("the lead", ok("lead", s.lead(lead_id).await));
    assert_eq!(lead.kind, LeadKind::Order);
    assert_eq!(lead.status, LeadStatus::New);
    assert_eq!(lead.calendar.id, calendar);
    assert_eq!(lead.subject.as_deref(), Some("Заказ №123"));
    assert_eq!(lead.description.as_deref(), Some("описание 123"));
    assert_eq!(lead.received_at, received);
    assert_eq!(lead.contact.person.as_deref(), Some("Прилепский Алексей"));
    assert_eq!(lead.contact.phone_e164.as_deref(), Some("+79256424290"));
    assert_eq!(lead.contact.email.as_deref(), Some("a@shop.example"));
    assert_eq!(lead.inn.as_deref(), Some("7709745454"));
    assert_eq!(lead.counterparty.as_ref().map(|c| c.id), Some(party.id));
    assert_eq!(lead.layout_files, sent.layout_files);
    assert_eq!(lead.warnings, sent.warnings);
    assert_eq!(lead.source.channel, Channel::Http);
    assert_eq!(lead.source.external_number.as_deref(), Some("123"));
    assert_eq!(lead.lines.len(), 2);
    let line = &lead.lines[0];
    assert_eq!((line.position, line.is_service), (1, false));
    assert_eq!(line.nomenclature.as_deref(), Some("Баннер"));
    assert_eq!(
        (line.width, line.height, line.quantity),
        (dec(2), dec(2), dec(2))
    );
    assert_eq!((line.price, line.amount), (dec(500), dec(1000)));
    assert_eq!(line.extra_works.len(), 1);
    assert_eq!(line.extra_works[0].kind.as_deref(), Some("Люверсы"));
    assert_eq!(line.extra_works[0].quantity, dec(8));
    assert_eq!(
        line.extra_works[0].description.as_deref(),
        Some("шаг 30 см")
    );
    assert!(lead.lines[1].is_service);
    assert_eq!(
        ok("unknown lead", s.lead(lead_id + 1000).await).map(|l| l.id),
        None
    );
    assert!(ok("unknown message", s.message(message_id + 1000).await).is_none());
}

/// [`Ledger::submit_batch`] with ledger keys: a message is recorded once, whether it comes again in the same
/// batch or a later one; another message under a known key is a new record.
pub async fn a_ledger_key_is_recorded_exactly_once(s: &dyn Storage) {
    let calendar = ok("calendar", s.upsert_calendar("mail", None).await);
    let collector = ok(
        "collector",
        s.upsert_collector(&collector_record("site", calendar))
            .await,
    );
    let mail = SourceRef::Collector { id: collector };
    let raw = b"Subject: ORDER 1\r\n\r\nfirst".to_vec();
    let first = lead_of(
        entry(mail.clone(), Some("a@shop"), &raw, now()),
        contact("1", "+79250000001"),
        calendar,
    );
    let mut again = first.clone();
    again.ledger.mailbox_key = Some("1:again".to_owned());
    let outcomes = ok(
        "batch",
        s.submit_batch(&[first.clone(), again.clone()]).await,
    );
    let SubmitOutcome::Imported { lead_id, .. } = outcomes[0] else {
        panic!("the first copy makes a lead: {outcomes:?}");
    };
    assert_eq!(
        outcomes[1],
        SubmitOutcome::Duplicate {
            lead_id: Some(lead_id)
        }
    );
    // A later batch: still the same message.
    assert_eq!(
        submit(s, first.clone()).await,
        SubmitOutcome::Duplicate {
            lead_id: Some(lead_id)
        }
    );
    // Another message that reuses the Message-ID is not a duplicate.
    let other_raw = b"Subject: ORDER 2\r\n\r\nsecond".to_vec();
    let mut other = lead_of(
        entry(mail, Some("a@shop"), &other_raw, now()),
        contact("2", "+79250000002"),
        calendar,
    );
    other.ledger.mailbox_key = Some("1:other".to_owned());
    let SubmitOutcome::Imported {
        message_id,
        lead_id: other_lead,
        ..
    } = submit(s, other).await
    else {
        panic!("another message under a known key is imported");
    };
    assert_ne!(other_lead, lead_id);
    assert_eq!(
        some("raw", ok("raw", s.message_raw(message_id).await)).bytes,
        other_raw
    );
    let leads = lead_ids(s, &LeadFilter::default(), None).await;
    assert_eq!(leads.len(), 2, "two messages, two leads: {leads:?}");
    let all = ok("messages", s.messages(None, page(50)).await);
    let duplicates = all
        .items
        .iter()
        .filter(|m| m.outcome == Outcome::Duplicate)
        .count();
    assert_eq!(
        duplicates, 1,
        "the second mailbox copy is recorded once as a duplicate"
    );
}

/// [`Ledger::submit_batch`] with idempotency keys, within a batch and across batches.
pub async fn an_idempotency_key_answers_with_its_first_lead(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    let claim = |key: &str, body: &str| IdempotencyClaim {
        http_source_id: source,
        key: key.to_owned(),
        body_hash: content_hash(body.as_bytes()),
    };
    let post = |key: &str, body: &str| {
        let mut s = lead_of(
            entry(SourceRef::Http { id: source }, None, body.as_bytes(), now()),
            contact(body, "+79250000003"),
            calendar,
        );
        s.idempotency = Some(claim(key, body));
        s
    };
    let outcomes = ok(
        "batch",
        s.submit_batch(&[post("k1", "a"), post("k1", "a"), post("k1", "b")])
            .await,
    );
    let SubmitOutcome::Imported { lead_id, .. } = outcomes[0] else {
        panic!("the first use makes a lead: {outcomes:?}");
    };
    assert_eq!(outcomes[1], SubmitOutcome::IdempotentReplay { lead_id });
    assert_eq!(outcomes[2], SubmitOutcome::IdempotencyConflict);
    assert_eq!(
        submit(s, post("k1", "a")).await,
        SubmitOutcome::IdempotentReplay { lead_id }
    );
    assert_eq!(
        submit(s, post("k1", "c")).await,
        SubmitOutcome::IdempotencyConflict
    );
    let SubmitOutcome::Imported {
        lead_id: second, ..
    } = submit(s, post("k2", "a")).await
    else {
        panic!("another key makes another lead");
    };
    assert_eq!(
        lead_ids(s, &LeadFilter::default(), None).await,
        vec![second, lead_id]
    );
}

/// Counterparties by INN: [`Ledger::submit_batch`], [`Leads::counterparties`], [`Leads::counterparty`],
/// [`Leads::search_counterparties`], [`Leads::leads_of_counterparty`].
pub async fn a_counterparty_is_found_or_created_by_inn(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    let http = |payload| {
        lead_of(
            entry(SourceRef::Http { id: source }, None, b"{}", now()),
            payload,
            calendar,
        )
    };
    let outcomes = ok(
        "batch",
        s.submit_batch(&[
            http(order(
                1,
                Some("7709745454"),
                "Прилепский Алексей",
                "+7 925 642 42-90",
                "a@shop.example",
            )),
            http(order(
                2,
                Some("7709745454"),
                "Другой Человек",
                "+7 925 000 00-01",
                "b@shop.example",
            )),
            http(order(
                3,
                Some("1234"),
                "Без ИНН",
                "+7 925 000 00-02",
                "c@shop.example",
            )),
        ])
        .await,
    );
    let party = |o: &SubmitOutcome| match o {
        SubmitOutcome::Imported { counterparty, .. } => counterparty.clone(),
        other => panic!("imported expected: {other:?}"),
    };
    let first = some("the counterparty", party(&outcomes[0]));
    assert_eq!(
        party(&outcomes[1]).map(|c| c.id),
        Some(first.id),
        "one counterparty per INN"
    );
    assert_eq!(first.name, "Прилепский Алексей", "the first lead names it");
    assert_eq!(
        party(&outcomes[2]),
        None,
        "an invalid INN makes no counterparty"
    );
    // A later batch finds it too.
    let later = submit(
        s,
        http(order(
            4,
            Some("7709745454"),
            "Третий",
            "+7 925 000 00-03",
            "a@shop.example",
        )),
    )
    .await;
    assert_eq!(party(&later).map(|c| c.id), Some(first.id));

    let listed = ok(
        "by INN",
        s.counterparties(Some("7709 745454"), None, page(10)).await,
    );
    assert_eq!(listed.items.len(), 1);
    let view = &listed.items[0];
    assert_eq!(
        (view.id, view.inn_kind.as_str()),
        (first.id, "organisation")
    );
    let mut phones = view.phones.clone();
    phones.sort();
    assert_eq!(
        phones,
        vec!["+79250000001", "+79250000003", "+79256424290"],
        "each lead's phone, in E.164"
    );
    assert_eq!(view.emails.len(), 2, "each e-mail once: {:?}", view.emails);
    let one = some(
        "by id",
        ok("counterparty", s.counterparty(first.id, None).await),
    );
    assert_eq!(one.phones.len(), 3);
    assert_eq!(
        ok("all", s.counterparties(None, None, page(10)).await)
            .items
            .len(),
        1
    );
    let by_prefix = ok(
        "INN prefix",
        s.search_counterparties("7709 7", None, page(10)).await,
    );
    assert_eq!(
        by_prefix.items.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![first.id]
    );
    let by_name = ok(
        "name",
        s.search_counterparties("прилеп", None, page(10)).await,
    );
    assert_eq!(by_name.items.len(), 1, "a name word's prefix, in any case");
    assert!(
        ok(
            "no match",
            s.search_counterparties("Сидоров", None, page(10)).await
        )
        .items
        .is_empty()
    );
    assert_eq!(
        ok(
            "everything",
            s.search_counterparties("", None, page(10)).await
        )
        .items
        .len(),
        1
    );
    let leads = ok("its leads", s.leads_of_counterparty(first.id, 10).await);
    assert_eq!(leads.len(), 3);
    assert!(leads.windows(2).all(|w| w[0].id > w[1].id), "latest first");
    assert_eq!(
        leads[0].counterparty_name.as_deref(),
        Some("Прилепский Алексей")
    );
    assert_eq!(
        ok("limited", s.leads_of_counterparty(first.id, 2).await).len(),
        2
    );
}

/// [`Ledger::submit_batch`] of rejections and skips, [`Ledger::messages`] by outcome.
pub async fn rejected_and_skipped_messages_are_recorded_with_their_reasons(s: &dyn Storage) {
    let calendar = ok("calendar", s.upsert_calendar("mail", None).await);
    let collector = ok(
        "collector",
        s.upsert_collector(&collector_record("site", calendar))
            .await,
    );
    let mail = SourceRef::Collector { id: collector };
    let rejected = Submission {
        ledger: entry(mail.clone(), Some("r@shop"), b"broken", now()),
        disposition: Disposition::Rejected {
            reason: "not JSON".to_owned(),
        },
        idempotency: None,
    };
    let skipped = Submission {
        ledger: entry(mail, Some("s@shop"), b"no keyword", now()),
        disposition: Disposition::Skipped {
            reason: "no keyword".to_owned(),
        },
        idempotency: None,
    };
    let outcomes = ok("batch", s.submit_batch(&[rejected, skipped]).await);
    let (SubmitOutcome::Rejected { message_id: r }, SubmitOutcome::Skipped { message_id: k }) =
        (&outcomes[0], &outcomes[1])
    else {
        panic!("rejected and skipped: {outcomes:?}");
    };
    let r = some("rejected", ok("message", s.message(*r).await));
    assert_eq!(
        (r.outcome, r.reason.as_deref()),
        (Outcome::Rejected, Some("not JSON"))
    );
    assert!(r.has_raw, "a rejected message is kept for reprocessing");
    assert_eq!(r.collector.as_deref(), Some("site"));
    let k = some("skipped", ok("message", s.message(*k).await));
    assert_eq!(k.outcome, Outcome::Skipped);
    assert!(!k.has_raw, "a skipped message is not kept");
    assert!(ok("no raw", s.message_raw(k.id).await).is_none());
    let only = ok(
        "rejected only",
        s.messages(Some(Outcome::Rejected), page(10)).await,
    );
    assert_eq!(
        only.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![r.id]
    );
    // Paging: one at a time, newest first.
    let first = ok("page 1", s.messages(None, page(1)).await);
    assert_eq!(first.items[0].id, k.id);
    let second = ok("page 2", s.messages(None, after(&first, 1)).await);
    assert_eq!(second.items[0].id, r.id);
    assert!(second.next.is_none());
}

/// [`Ledger::import_for_message`] and [`Ledger::resolve_message`].
pub async fn a_rejected_message_gets_one_lead_however_often_it_is_reprocessed(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    let reject = |body: &str| Submission {
        ledger: entry(SourceRef::Http { id: source }, None, body.as_bytes(), now()),
        disposition: Disposition::Rejected {
            reason: "broken".to_owned(),
        },
        idempotency: None,
    };
    let SubmitOutcome::Rejected { message_id } = submit(s, reject("a")).await else {
        panic!("rejected expected");
    };
    let draft = LeadDraft {
        payload: order(7, None, "Иван", "+79250000007", "i@shop.example"),
        calendar_id: calendar,
        auto_tech_cards: true,
        extra_warnings: Vec::new(),
    };
    let Reimport::Imported { lead_id } =
        ok("reimport", s.import_for_message(message_id, &draft).await)
    else {
        panic!("a rejected record gets a lead");
    };
    assert_eq!(
        ok("again", s.import_for_message(message_id, &draft).await),
        Reimport::AlreadyResolved {
            outcome: Outcome::Imported,
            lead_id: Some(lead_id)
        }
    );
    assert_eq!(
        lead_ids(s, &LeadFilter::default(), None).await,
        vec![lead_id]
    );
    let record = some("record", ok("message", s.message(message_id).await));
    assert_eq!(
        (record.outcome, record.lead_id),
        (Outcome::Imported, Some(lead_id))
    );
    assert_eq!(
        ok("cards", s.tech_cards_of_lead(lead_id).await).len(),
        1,
        "auto tech cards"
    );
    assert_eq!(
        ok("message of lead", s.message_of_lead(lead_id).await),
        Some(message_id)
    );
    match s.import_for_message(message_id + 1000, &draft).await {
        Err(StorageError::NotFound { .. }) => {}
        other => panic!("an unknown record is NotFound: {other:?}"),
    }
    assert!(
        !ok(
            "resolve imported",
            s.resolve_message(message_id, Outcome::Discarded, None, None)
                .await
        ),
        "only a rejected record is resolved"
    );
    let SubmitOutcome::Rejected { message_id: other } = submit(s, reject("b")).await else {
        panic!("rejected expected");
    };
    assert!(ok(
        "discard",
        s.resolve_message(other, Outcome::Discarded, Some("spam"), None)
            .await
    ));
    let discarded = some("record", ok("message", s.message(other).await));
    assert_eq!(
        (discarded.outcome, discarded.reason.as_deref()),
        (Outcome::Discarded, Some("spam"))
    );
    assert!(!ok(
        "twice",
        s.resolve_message(other, Outcome::Discarded, None, None)
            .await
    ));
}

/// [`Ledger::known_mailbox_keys`], [`Ledger::imported_mailbox_keys`], [`Ledger::imported_mailbox_keys_before`].
pub async fn mailbox_keys_tell_known_records_from_what_retention_may_delete(s: &dyn Storage) {
    let calendar = ok("calendar", s.upsert_calendar("mail", None).await);
    let collector = ok(
        "collector",
        s.upsert_collector(&collector_record("site", calendar))
            .await,
    );
    let mail = SourceRef::Collector { id: collector };
    let source = mail.key();
    let imported = lead_of(
        entry(mail.clone(), Some("i@shop"), b"imported", now()),
        contact("i", "+79250000010"),
        calendar,
    );
    let mut copy = imported.clone();
    copy.ledger.mailbox_key = Some("1:copy".to_owned());
    let rejected = Submission {
        ledger: entry(mail.clone(), Some("r@shop"), b"rejected", now()),
        disposition: Disposition::Rejected {
            reason: "broken".to_owned(),
        },
        idempotency: None,
    };
    ok("batch", s.submit_batch(&[imported, rejected]).await);
    assert!(matches!(
        submit(s, copy).await,
        SubmitOutcome::Duplicate { .. }
    ));
    let keys: Vec<String> = ["1:i@shop", "1:copy", "1:r@shop", "1:unknown"]
        .map(str::to_owned)
        .to_vec();
    let known = ok("known", s.known_mailbox_keys(&source, &keys).await);
    assert_eq!(
        known,
        ["1:i@shop", "1:copy", "1:r@shop"]
            .map(str::to_owned)
            .into_iter()
            .collect()
    );
    let deletable = ok("imported", s.imported_mailbox_keys(&source, &keys).await);
    assert_eq!(
        deletable,
        ["1:i@shop", "1:copy"]
            .map(str::to_owned)
            .into_iter()
            .collect(),
        "imported, and duplicates of imported; never a rejected message"
    );
    assert!(
        ok(
            "other source",
            s.known_mailbox_keys("collector:999", &keys).await
        )
        .is_empty()
    );
    let later = now() + Duration::minutes(1);
    assert_eq!(
        ok(
            "before later",
            s.imported_mailbox_keys_before(&source, later).await
        ),
        deletable
    );
    let earlier = now() - Duration::days(1);
    assert!(
        ok(
            "before earlier",
            s.imported_mailbox_keys_before(&source, earlier).await
        )
        .is_empty()
    );
}

// ---- leads ------------------------------------------------------------------------------------------------

/// [`Leads::leads`]: filters, text search, calendar visibility and paging.
pub async fn the_lead_list_filters_searches_and_pages(s: &dyn Storage) {
    let (a, source) = calendar_and_source(s, "a").await;
    let b = ok("calendar b", s.upsert_calendar("b", None).await);
    let base = now();
    let day = |d: i64| base - Duration::days(d);
    let first = file_lead(
        s,
        source,
        order(1, None, "Иван 100%_", "+79250000011", "x@shop.example"),
        a,
        day(3),
    )
    .await;
    let second = file_lead(s, source, contact("Звонок", "+79250000012"), a, day(2)).await;
    let third = file_lead(s, source, contact("Звонок", "+79250000013"), b, day(1)).await;
    let all = LeadFilter::default();
    assert_eq!(lead_ids(s, &all, None).await, vec![third, second, first]);
    assert_eq!(lead_ids(s, &all, Some(&[a])).await, vec![second, first]);
    assert!(
        lead_ids(s, &all, Some(&[])).await.is_empty(),
        "no calendar, no leads"
    );
    let by = |f: LeadFilter| f;
    assert_eq!(
        lead_ids(
            s,
            &by(LeadFilter {
                calendar: Some("b".into()),
                ..all.clone()
            }),
            None
        )
        .await,
        vec![third]
    );
    assert_eq!(
        lead_ids(
            s,
            &by(LeadFilter {
                calendar: Some(a.to_string()),
                ..all.clone()
            }),
            None
        )
        .await,
        vec![second, first]
    );
    assert_eq!(
        lead_ids(
            s,
            &by(LeadFilter {
                kind: Some(LeadKind::Order),
                ..all.clone()
            }),
            None
        )
        .await,
        vec![first]
    );
    assert_eq!(
        lead_ids(
            s,
            &by(LeadFilter {
                from: Some(day(2)),
                to: Some(day(1)),
                ..all.clone()
            }),
            None
        )
        .await,
        vec![second]
    );
    assert_eq!(
        lead_ids(
            s,
            &by(LeadFilter {
                search: Some("ЗВОН".into()),
                ..all.clone()
            }),
            None
        )
        .await,
        vec![third, second]
    );
    assert_eq!(
        lead_ids(
            s,
            &by(LeadFilter {
                search: Some("100%_".into()),
                ..all.clone()
            }),
            None
        )
        .await,
        vec![first],
        "LIKE characters are literal"
    );
    assert!(
        lead_ids(
            s,
            &by(LeadFilter {
                search: Some("1%0".into()),
                ..all.clone()
            }),
            None
        )
        .await
        .is_empty()
    );
    assert_eq!(
        lead_ids(
            s,
            &by(LeadFilter {
                search: Some("9250000012".into()),
                ..all.clone()
            }),
            None
        )
        .await,
        vec![second]
    );
    ok(
        "status",
        s.update_lead(
            second,
            &LeadPatch {
                status: Some(LeadStatus::Done),
                assignee: None,
            },
        )
        .await,
    );
    assert_eq!(
        lead_ids(
            s,
            &by(LeadFilter {
                status: Some(LeadStatus::Done),
                ..all.clone()
            }),
            None
        )
        .await,
        vec![second]
    );
    let one = ok("page 1", s.leads(&all, None, page(2)).await);
    assert_eq!(
        one.items.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![third, second]
    );
    let two = ok("page 2", s.leads(&all, None, after(&one, 2)).await);
    assert_eq!(
        two.items.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![first]
    );
    assert!(two.next.is_none());
    assert_eq!(
        two.items[0].lines.len(),
        2,
        "listed leads carry their lines"
    );
}

/// [`Leads::update_lead`].
pub async fn a_lead_changes_status_and_assignee(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    ok(
        "user",
        s.create_user("maria", "Мария", Role::Manager, None).await,
    );
    let id = file_lead(
        s,
        source,
        contact("Звонок", "+79250000020"),
        calendar,
        now(),
    )
    .await;
    let patch = LeadPatch {
        status: Some(LeadStatus::InProgress),
        assignee: Some("maria".into()),
    };
    let lead = some("the lead", ok("update", s.update_lead(id, &patch).await));
    assert_eq!(
        (lead.status, lead.assignee.as_deref()),
        (LeadStatus::InProgress, Some("maria"))
    );
    let lead = some("the lead", ok("read", s.lead(id).await));
    assert_eq!(
        (lead.status, lead.assignee.as_deref()),
        (LeadStatus::InProgress, Some("maria"))
    );
    match s
        .update_lead(
            id,
            &LeadPatch {
                status: None,
                assignee: Some("nobody".into()),
            },
        )
        .await
    {
        Err(StorageError::NotFound { .. }) => {}
        other => panic!("an unknown assignee is NotFound: {other:?}"),
    }
    let cleared = ok(
        "clear",
        s.update_lead(
            id,
            &LeadPatch {
                status: None,
                assignee: Some(String::new()),
            },
        )
        .await,
    );
    let cleared = some("the lead", cleared);
    assert_eq!(
        (cleared.status, cleared.assignee),
        (LeadStatus::InProgress, None),
        "status kept, assignee cleared"
    );
    assert!(ok("unknown", s.update_lead(id + 1000, &patch).await).is_none());
}

/// [`Leads::form_tech_cards`], [`Leads::tech_cards_of_lead`], [`Leads::tech_card`].
pub async fn tech_cards_are_formed_once_per_goods_line(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    let id = file_lead(
        s,
        source,
        order(5, None, "Иван", "+79250000030", "i@shop.example"),
        calendar,
        now(),
    )
    .await;
    assert!(ok("none yet", s.tech_cards_of_lead(id).await).is_empty());
    let cards = some("the lead", ok("form", s.form_tech_cards(id).await));
    assert_eq!(cards.len(), 1, "the service line gets no card");
    let card = &cards[0];
    assert_eq!(
        (card.lead_id, card.line_position, card.number.as_str()),
        (id, 1, format!("{id}-1").as_str())
    );
    assert_eq!(
        (card.area_per_piece, card.total_area, card.perimeter),
        (dec(4), dec(8), dec(8))
    );
    assert_eq!(card.line.nomenclature.as_deref(), Some("Баннер"));
    assert_eq!(card.line.extra_works.len(), 1);
    let again = some("the lead", ok("form again", s.form_tech_cards(id).await));
    assert_eq!(
        again.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![card.id],
        "forming again changes nothing"
    );
    assert_eq!(ok("of lead", s.tech_cards_of_lead(id).await).len(), 1);
    let one = some("by id", ok("card", s.tech_card(card.id).await));
    assert_eq!((one.id, one.lead_id), (card.id, id));
    assert!(ok("unknown card", s.tech_card(card.id + 1000).await).is_none());
    assert!(ok("unknown lead", s.form_tech_cards(id + 1000).await).is_none());
}

/// [`Leads::inbox`] and [`Leads::inbox_pulse`].
pub async fn the_inbox_shows_new_leads_first_and_pages_by_cursor(s: &dyn Storage) {
    let (a, source) = calendar_and_source(s, "a").await;
    let b = ok("calendar b", s.upsert_calendar("b", None).await);
    let mut ids = Vec::new();
    for (i, calendar) in [a, a, a, b].into_iter().enumerate() {
        ids.push(
            file_lead(
                s,
                source,
                contact(&format!("Звонок {i}"), "+79250000040"),
                calendar,
                now(),
            )
            .await,
        );
    }
    ok(
        "done",
        s.update_lead(
            ids[2],
            &LeadPatch {
                status: Some(LeadStatus::Done),
                assignee: None,
            },
        )
        .await,
    );
    let inbox = |query: InboxQuery| async move { ok("inbox", s.inbox(&query).await) };
    let all = InboxQuery {
        limit: 10,
        ..InboxQuery::default()
    };
    let page_ids = |p: &InboxPage| p.items.iter().map(|l| l.id).collect::<Vec<_>>();
    assert_eq!(
        page_ids(&inbox(all.clone()).await),
        vec![ids[3], ids[1], ids[0], ids[2]],
        "new first"
    );
    let mut seen = Vec::new();
    let mut query = InboxQuery {
        limit: 1,
        ..all.clone()
    };
    loop {
        let p = inbox(query.clone()).await;
        seen.extend(page_ids(&p));
        match p.next {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(
        seen,
        vec![ids[3], ids[1], ids[0], ids[2]],
        "pages walk the same order"
    );
    let mine = InboxQuery {
        calendars: Some(vec![a]),
        ..all.clone()
    };
    assert_eq!(page_ids(&inbox(mine).await), vec![ids[1], ids[0], ids[2]]);
    assert!(
        inbox(InboxQuery {
            calendars: Some(Vec::new()),
            ..all.clone()
        })
        .await
        .items
        .is_empty()
    );
    let done = InboxQuery {
        status: Some(LeadStatus::Done),
        ..all.clone()
    };
    assert_eq!(page_ids(&inbox(done).await), vec![ids[2]]);
    let search = InboxQuery {
        search: Some("звонок 1".into()),
        ..all.clone()
    };
    assert_eq!(page_ids(&inbox(search).await), vec![ids[1]]);
    let summary = &inbox(all.clone()).await.items[0];
    assert_eq!(
        (summary.calendar_id, summary.calendar_name.as_str()),
        (b, "b")
    );
    assert_eq!(summary.phone_e164.as_deref(), Some("+79250000040"));

    let pulse = ok("pulse", s.inbox_pulse(None).await);
    assert_eq!((pulse.latest_id, pulse.new_count), (ids[3], 3));
    let pulse = ok("pulse of a", s.inbox_pulse(Some(&[a])).await);
    assert_eq!((pulse.latest_id, pulse.new_count), (ids[1], 2));
    let pulse = ok("pulse of none", s.inbox_pulse(Some(&[])).await);
    assert_eq!((pulse.latest_id, pulse.new_count), (0, 0));
}

/// [`Leads::calendar_days`] and [`Leads::calendar_feed`].
pub async fn calendar_views_count_and_list_leads_by_day_and_feed_them(s: &dyn Storage) {
    let (a, source) = calendar_and_source(s, "a").await;
    let b = ok("calendar b", s.upsert_calendar("b", None).await);
    let midnight =
        some("midnight", now().date_naive().and_hms_opt(0, 0, 0)).and_utc() - Duration::days(3);
    let at = |day: i64, hour: i64| midnight + Duration::days(day) + Duration::hours(hour);
    let late = file_lead(s, source, contact("поздно", "+79250000050"), a, at(0, 18)).await;
    let early = file_lead(s, source, contact("рано", "+79250000051"), a, at(0, 9)).await;
    let third = file_lead(s, source, contact("ещё", "+79250000052"), a, at(0, 12)).await;
    let next_day = file_lead(s, source, contact("завтра", "+79250000053"), a, at(1, 10)).await;
    let other = file_lead(s, source, contact("чужой", "+79250000054"), b, at(0, 10)).await;
    let bounds = [at(0, 0), at(1, 0), at(2, 0), at(3, 0)];
    let days = ok("days", s.calendar_days(&[a], &bounds, 2).await);
    assert_eq!(
        days.iter().map(|d| d.count).collect::<Vec<_>>(),
        vec![3, 1, 0]
    );
    assert_eq!(
        days[0].events.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![early, third],
        "the first by time"
    );
    assert_eq!(
        days[1].events.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![next_day]
    );
    let both = ok("both", s.calendar_days(&[a, b], &bounds, 0).await);
    assert_eq!(
        both.iter()
            .map(|d| (d.count, d.events.len()))
            .collect::<Vec<_>>(),
        vec![(4, 0), (1, 0), (0, 0)]
    );
    assert!(
        ok("none", s.calendar_days(&[], &bounds, 2).await)
            .iter()
            .all(|d| d.count == 0)
    );
    assert!(ok("no days", s.calendar_days(&[a], &bounds[..1], 2).await).is_empty());

    let feed = ok("feed", s.calendar_feed(a, at(0, 10), 10).await);
    assert_eq!(
        feed.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![next_day, late, third],
        "latest first, from `from`"
    );
    assert_eq!(
        ok("limited", s.calendar_feed(a, at(0, 0), 1).await)
            .iter()
            .map(|l| l.id)
            .collect::<Vec<_>>(),
        vec![next_day]
    );
    assert_eq!(
        ok("other", s.calendar_feed(b, at(0, 0), 10).await)
            .iter()
            .map(|l| l.id)
            .collect::<Vec<_>>(),
        vec![other]
    );
}

/// The `calendars` filter of [`Leads::counterparties`], [`Leads::counterparty`] and
/// [`Leads::search_counterparties`]: a counterparty and its contacts show through a visible lead only.
pub async fn a_hidden_calendar_hides_its_counterparties_and_their_contacts(s: &dyn Storage) {
    let (mine, source) = calendar_and_source(s, "mine").await;
    let theirs = ok("theirs", s.upsert_calendar("theirs", None).await);
    let inn = Some("7709745454");
    file_lead(
        s,
        source,
        order(1, inn, "Фирма", "+79250000060", "mine@shop.example"),
        mine,
        now(),
    )
    .await;
    file_lead(
        s,
        source,
        order(2, inn, "Фирма", "+79250000061", "theirs@shop.example"),
        theirs,
        now(),
    )
    .await;
    file_lead(
        s,
        source,
        order(
            3,
            Some("500100732259"),
            "ИП Чужой",
            "+79250000062",
            "ip@shop.example",
        ),
        theirs,
        now(),
    )
    .await;
    let visible = ok(
        "visible",
        s.counterparties(None, Some(&[mine]), page(10)).await,
    );
    assert_eq!(
        visible.items.len(),
        1,
        "only the one with a lead in my calendar"
    );
    let firm = &visible.items[0];
    assert_eq!(
        (firm.phones.clone(), firm.emails.clone()),
        (
            vec!["+79250000060".to_owned()],
            vec!["mine@shop.example".to_owned()]
        ),
        "only the contacts my calendar's leads brought"
    );
    let all = ok("all", s.counterparties(None, None, page(10)).await);
    assert_eq!(all.items.len(), 2);
    let ip = some(
        "the entrepreneur",
        all.items.iter().find(|c| c.inn_kind == "individual"),
    );
    assert!(ok("hidden", s.counterparty(ip.id, Some(&[mine])).await).is_none());
    assert_eq!(
        some(
            "shown",
            ok("shown", s.counterparty(firm.id, Some(&[mine])).await)
        )
        .phones
        .len(),
        1
    );
    assert_eq!(
        some(
            "all of it",
            ok("admin", s.counterparty(firm.id, None).await)
        )
        .phones
        .len(),
        2
    );
    assert!(
        ok(
            "search hidden",
            s.search_counterparties("Чужой", Some(&[mine]), page(10))
                .await
        )
        .items
        .is_empty()
    );
    assert_eq!(
        ok(
            "search all",
            s.search_counterparties("Чужой", None, page(10)).await
        )
        .items
        .len(),
        1
    );
    assert!(
        ok(
            "no calendars",
            s.counterparties(None, Some(&[]), page(10)).await
        )
        .items
        .is_empty()
    );
}

// ---- accounts ---------------------------------------------------------------------------------------------

/// [`Accounts::has_users`], [`Accounts::create_user`], [`Accounts::upsert_user`], [`Accounts::user`],
/// [`Accounts::users`], [`Accounts::user_credentials`].
pub async fn users_are_created_once_and_upserted_by_login(s: &dyn Storage) {
    assert!(
        !ok("fresh", s.has_users().await),
        "a fresh database has no users"
    );
    let maria = ok(
        "create",
        s.create_user("maria", "Мария", Role::Manager, Some("hash-1"))
            .await,
    );
    assert!(ok("now", s.has_users().await));
    match s.create_user("maria", "Другая", Role::Admin, None).await {
        Err(StorageError::Conflict(_)) => {}
        other => panic!("a taken login is a Conflict: {other:?}"),
    }
    let admin = ok(
        "upsert",
        s.upsert_user("admin", Role::Admin, Some("hash-a")).await,
    );
    assert_eq!(
        ok("again", s.upsert_user("admin", Role::Manager, None).await),
        admin,
        "by login"
    );
    let creds = some(
        "admin",
        ok("credentials", s.user_credentials("admin").await),
    );
    assert_eq!(
        (
            creds.id,
            creds.role,
            creds.password_hash.as_deref(),
            creds.disabled
        ),
        (admin, Role::Manager, Some("hash-a"), false),
        "the role is updated, the password kept"
    );
    assert!(ok("unknown", s.user_credentials("nobody").await).is_none());
    let view = some("maria", ok("user", s.user(maria).await));
    assert_eq!(
        (view.login.as_str(), view.display_name.as_str(), view.role),
        ("maria", "Мария", Role::Manager)
    );
    assert!(view.has_password && !view.has_ics_secret && !view.disabled);
    assert!(view.created_at <= now() && view.created_at > now() - Duration::minutes(5));
    assert!(ok("unknown", s.user(maria + 1000).await).is_none());
    let logins: Vec<String> = ok("users", s.users().await)
        .into_iter()
        .map(|u| u.login)
        .collect();
    assert_eq!(logins, vec!["admin", "maria"], "by login");
}

/// [`Accounts::update_user`]: a new password takes away what the old one gave out.
pub async fn a_password_change_ends_sessions_tokens_and_the_feed_key(s: &dyn Storage) {
    let id = ok(
        "user",
        s.create_user("maria", "Мария", Role::Manager, Some("old"))
            .await,
    );
    let t = now();
    let session = NewSession {
        id_hash: "s1".into(),
        user_id: id,
        csrf_token: "c".into(),
        created_at: t,
        expires_at: t + Duration::hours(8),
    };
    ok("session", s.create_session(&session).await);
    ok("token", s.add_api_token(id, "script", "tok-1").await);
    ok(
        "configured",
        s.provision_configured_token(Some((id, "tok-conf"))).await,
    );
    ok("feed", s.set_ics_secret(id, "ics-1").await);
    let check = SessionCheck {
        now: t,
        idle_since: t - Duration::hours(1),
    };
    ok(
        "role only",
        s.update_user(id, Some(Role::Admin), None).await,
    );
    assert!(
        ok("still", s.session("s1", check).await).is_some(),
        "a role change keeps the session"
    );
    assert_eq!(some("user", ok("user", s.user(id).await)).role, Role::Admin);
    ok("password", s.update_user(id, None, Some("new")).await);
    assert!(ok("session", s.session("s1", check).await).is_none());
    assert!(ok("token", s.user_by_token("tok-1").await).is_none());
    assert!(
        ok("configured", s.user_by_token("tok-conf").await).is_some(),
        "the configured token stays"
    );
    assert!(ok("feed", s.user_by_ics_secret("ics-1").await).is_none());
    let creds = some("user", ok("credentials", s.user_credentials("maria").await));
    assert_eq!(creds.password_hash.as_deref(), Some("new"));
    match s.update_user(id + 1000, None, Some("x")).await {
        Err(StorageError::NotFound { .. }) => {}
        other => panic!("an unknown user is NotFound: {other:?}"),
    }
}

/// [`Accounts::create_session`], [`Accounts::session`], [`Accounts::touch_session`],
/// [`Accounts::delete_session`], [`Accounts::set_user_disabled`].
pub async fn sessions_expire_go_idle_end_and_die_with_a_disabled_user(s: &dyn Storage) {
    let id = ok(
        "user",
        s.create_user("maria", "Мария", Role::Manager, None).await,
    );
    let t = now();
    let new = |hash: &str, created_at: DateTime<Utc>, hours: i64| NewSession {
        id_hash: hash.to_owned(),
        user_id: id,
        csrf_token: format!("csrf-{hash}"),
        created_at,
        expires_at: created_at + Duration::hours(hours),
    };
    ok("live", s.create_session(&new("live", t, 8)).await);
    let check = |at: DateTime<Utc>| SessionCheck {
        now: at,
        idle_since: at - Duration::minutes(30),
    };
    let live = some(
        "live",
        ok(
            "session",
            s.session("live", check(t + Duration::minutes(1))).await,
        ),
    );
    assert_eq!(
        (
            live.user_id,
            live.login.as_str(),
            live.display_name.as_str(),
            live.role
        ),
        (id, "maria", "Мария", Role::Manager)
    );
    assert_eq!(
        (live.csrf_token.as_str(), live.last_seen_at),
        ("csrf-live", t)
    );
    assert!(
        ok(
            "expired",
            s.session("live", check(t + Duration::hours(9))).await
        )
        .is_none()
    );
    assert!(
        ok(
            "idle",
            s.session("live", check(t + Duration::minutes(31))).await
        )
        .is_none()
    );
    ok(
        "touch",
        s.touch_session("live", t + Duration::minutes(20)).await,
    );
    let touched = some(
        "touched",
        ok(
            "session",
            s.session("live", check(t + Duration::minutes(31))).await,
        ),
    );
    assert_eq!(touched.last_seen_at, t + Duration::minutes(20));
    // A new session clears out the expired ones.
    ok(
        "old",
        s.create_session(&new("old", t - Duration::hours(10), 1))
            .await,
    );
    ok("next", s.create_session(&new("next", t, 8)).await);
    let forever = SessionCheck {
        now: t - Duration::hours(10),
        idle_since: t - Duration::days(1),
    };
    assert!(ok("swept", s.session("old", forever).await).is_none());
    ok("delete", s.delete_session("next").await);
    assert!(ok("deleted", s.session("next", check(t)).await).is_none());
    assert!(ok("disable", s.set_user_disabled(id, true).await));
    assert!(ok("disabled", s.session("live", check(t)).await).is_none());
    assert!(some("user", ok("user", s.user(id).await)).disabled);
    assert!(some("user", ok("credentials", s.user_credentials("maria").await)).disabled);
    assert!(ok("enable", s.set_user_disabled(id, false).await));
    assert!(!some("user", ok("user", s.user(id).await)).disabled);
    assert!(
        ok("ended", s.session("live", check(t)).await).is_none(),
        "disabling ended the session for good"
    );
    assert!(!ok("unknown", s.set_user_disabled(id + 1000, true).await));
}

/// [`Accounts::reserve_login_attempt`] and [`Accounts::clear_login_attempts`].
pub async fn sign_in_attempts_are_limited_per_login_and_address(s: &dyn Storage) {
    let limits = LoginLimits {
        free_per_login: 2,
        free_per_address: 3,
        first_wait: Duration::seconds(15),
        max_wait: Duration::minutes(2),
    };
    let t = now();
    let attempt = |login: &str, address: &str, at: DateTime<Utc>| LoginAttempt {
        login_key: login.to_owned(),
        address: address.to_owned(),
        at,
        window_start: at - Duration::hours(1),
    };
    let reserve =
        |a: LoginAttempt| async move { ok("reserve", s.reserve_login_attempt(&a, &limits).await) };
    let granted = |r: LoginReservation| match r {
        LoginReservation::Granted { address_attempt } => address_attempt,
        LoginReservation::Refused { retry_after } => panic!("refused for {retry_after}"),
    };
    granted(reserve(attempt("maria", "10.0.0.1", t)).await);
    granted(reserve(attempt("maria", "10.0.0.2", t)).await);
    match reserve(attempt("maria", "10.0.0.3", t)).await {
        LoginReservation::Refused { retry_after } => assert_eq!(retry_after, Duration::seconds(15)),
        granted => panic!("the third failure of a login waits: {granted:?}"),
    }
    // Another login from the first address: the address has one free failure left.
    granted(reserve(attempt("ivan", "10.0.0.1", t)).await);
    granted(reserve(attempt("petr", "10.0.0.1", t)).await);
    assert!(
        matches!(
            reserve(attempt("olga", "10.0.0.1", t)).await,
            LoginReservation::Refused { .. }
        ),
        "per address"
    );
    // After the wait, one more try; a success forgets the login's failures.
    let later = t + Duration::seconds(16);
    let address_attempt = granted(reserve(attempt("maria", "10.0.0.4", later)).await);
    ok(
        "clear",
        s.clear_login_attempts("maria", address_attempt).await,
    );
    granted(reserve(attempt("maria", "10.0.0.4", later)).await);
    granted(reserve(attempt("maria", "10.0.0.4", later)).await);
    // Attempts older than the window are forgotten.
    let next_day = t + Duration::days(1);
    granted(reserve(attempt("olga", "10.0.0.1", next_day)).await);
}

/// [`Accounts::add_api_token`], [`Accounts::user_by_token`], [`Accounts::api_tokens`],
/// [`Accounts::revoke_api_token`], [`Accounts::provision_configured_token`].
pub async fn api_tokens_are_added_revoked_and_provisioned(s: &dyn Storage) {
    let admin = ok("admin", s.upsert_user("admin", Role::Admin, None).await);
    let ivan = ok(
        "ivan",
        s.create_user("ivan", "Иван", Role::Manager, None).await,
    );
    ok("add", s.add_api_token(admin, "script", "tok-a").await);
    ok("add", s.add_api_token(ivan, "phone", "tok-i").await);
    assert!(
        s.add_api_token(ivan, "twice", "tok-a").await.is_err(),
        "a token hash is unique"
    );
    let user = some("owner", ok("by token", s.user_by_token("tok-a").await));
    assert_eq!(
        (user.id, user.login.as_str(), user.role),
        (admin, "admin", Role::Admin)
    );
    assert!(ok("unknown", s.user_by_token("nope").await).is_none());
    let tokens = ok("list", s.api_tokens().await);
    assert_eq!(
        tokens
            .iter()
            .map(|t| (t.owner.as_str(), t.name.as_str()))
            .collect::<Vec<_>>(),
        vec![("ivan", "phone"), ("admin", "script")],
        "newest first"
    );
    assert!(tokens.iter().all(|t| t.revoked_at.is_none()));
    let phone = tokens[0].id;
    assert!(ok("revoke", s.revoke_api_token(phone).await));
    assert!(!ok("again", s.revoke_api_token(phone).await));
    assert!(ok("revoked", s.user_by_token("tok-i").await).is_none());
    assert!(ok("list", s.api_tokens().await)[0].revoked_at.is_some());
    ok("disable", s.set_user_disabled(admin, true).await);
    assert!(ok("disabled owner", s.user_by_token("tok-a").await).is_none());
    ok("enable", s.set_user_disabled(admin, false).await);

    ok(
        "provision",
        s.provision_configured_token(Some((admin, "conf-1"))).await,
    );
    assert_eq!(
        some("configured", ok("conf-1", s.user_by_token("conf-1").await)).id,
        admin
    );
    ok(
        "change",
        s.provision_configured_token(Some((admin, "conf-2"))).await,
    );
    assert!(
        ok("old", s.user_by_token("conf-1").await).is_none(),
        "a changed token stops working"
    );
    assert!(ok("new", s.user_by_token("conf-2").await).is_some());
    ok(
        "back",
        s.provision_configured_token(Some((admin, "conf-1"))).await,
    );
    assert!(
        ok("restored", s.user_by_token("conf-1").await).is_some(),
        "a revoked configured token comes back"
    );
    assert!(ok("replaced", s.user_by_token("conf-2").await).is_none());
    ok("remove", s.provision_configured_token(None).await);
    assert!(ok("removed", s.user_by_token("conf-1").await).is_none());
    assert!(
        ok("script", s.user_by_token("tok-a").await).is_some(),
        "other tokens stay"
    );
}

/// [`Accounts::set_ics_secret`] and [`Accounts::user_by_ics_secret`].
pub async fn a_calendar_feed_key_names_its_user_until_replaced(s: &dyn Storage) {
    let id = ok(
        "user",
        s.create_user("maria", "Мария", Role::Manager, None).await,
    );
    ok("set", s.set_ics_secret(id, "ics-1").await);
    let user = some("user", ok("by key", s.user_by_ics_secret("ics-1").await));
    assert_eq!(
        (user.id, user.login.as_str(), user.role),
        (id, "maria", Role::Manager)
    );
    assert!(some("view", ok("user", s.user(id).await)).has_ics_secret);
    ok("replace", s.set_ics_secret(id, "ics-2").await);
    assert!(ok("old", s.user_by_ics_secret("ics-1").await).is_none());
    assert!(ok("new", s.user_by_ics_secret("ics-2").await).is_some());
    ok("disable", s.set_user_disabled(id, true).await);
    assert!(ok("disabled", s.user_by_ics_secret("ics-2").await).is_none());
}

// ---- calendars and sources -----------------------------------------------------------------------------

/// [`Calendars::create_calendar`], [`Calendars::upsert_calendar`], [`Calendars::calendars`].
pub async fn calendars_are_created_once_and_upserted_by_name(s: &dyn Storage) {
    let common = ok("upsert", s.upsert_calendar("Заказы", None).await);
    assert_eq!(
        ok("again", s.upsert_calendar("Заказы", None).await),
        common,
        "by name"
    );
    let personal = ok("owned", s.upsert_calendar("Мой", Some("maria")).await);
    let maria = some("maria", ok("owner made", s.user_credentials("maria").await));
    assert_eq!(
        maria.role,
        Role::Manager,
        "a missing owner is made a manager"
    );
    let made = ok(
        "create",
        s.create_calendar("Ивана", Some(maria.id), "#16a34a").await,
    );
    match s.create_calendar("Заказы", None, "#000000").await {
        Err(StorageError::Conflict(_)) => {}
        other => panic!("a taken name is a Conflict: {other:?}"),
    }
    let all = ok("calendars", s.calendars().await);
    let shown: Vec<(i64, &str, Option<&str>)> = all
        .iter()
        .map(|c| (c.id, c.name.as_str(), c.owner.as_deref()))
        .collect();
    assert_eq!(
        shown,
        vec![
            (common, "Заказы", None),
            (personal, "Мой", Some("maria")),
            (made, "Ивана", Some("maria"))
        ]
    );
    assert_eq!(all[2].color, "#16a34a");
    assert!(!all[0].color.is_empty(), "a calendar has a colour");
    ok("unowned", s.upsert_calendar("Мой", None).await);
    assert_eq!(
        ok("calendars", s.calendars().await)[1].owner,
        None,
        "the upsert sets the owner"
    );
}

/// [`Calendars::create_http_source`], [`Calendars::upsert_http_source`], [`Calendars::http_source`],
/// [`Calendars::http_source_by_token`], [`Calendars::http_sources`], [`Calendars::revoke_http_source`].
pub async fn http_sources_are_found_by_token_until_revoked(s: &dyn Storage) {
    let calendar = ok("calendar", s.upsert_calendar("Заказы", None).await);
    let other = ok("calendar", s.upsert_calendar("Другой", None).await);
    let made = ok(
        "create",
        s.create_http_source("landing", calendar, "hash-l").await,
    );
    match s.create_http_source("landing", calendar, "hash-x").await {
        Err(StorageError::Conflict(_)) => {}
        other => panic!("a taken name is a Conflict: {other:?}"),
    }
    let record = HttpSourceRecord {
        id: 0,
        name: "site".into(),
        calendar_id: calendar,
        calendar_name: String::new(),
        cors_origins: vec!["https://shop.example".into()],
        auto_tech_cards: true,
    };
    let site = ok(
        "upsert",
        s.upsert_http_source(&record, Some("hash-s")).await,
    );
    let moved = HttpSourceRecord {
        calendar_id: other,
        cors_origins: Vec::new(),
        auto_tech_cards: false,
        ..record.clone()
    };
    assert_eq!(
        ok("again", s.upsert_http_source(&moved, None).await),
        site,
        "by name"
    );
    let found = some(
        "by token",
        ok("by token", s.http_source_by_token("hash-s").await),
    );
    assert_eq!(
        (found.id, found.calendar_id, found.calendar_name.as_str()),
        (site, other, "Другой"),
        "the token is kept"
    );
    assert!(found.cors_origins.is_empty() && !found.auto_tech_cards);
    ok("back", s.upsert_http_source(&record, Some("hash-s2")).await);
    let found = some("by id", ok("by id", s.http_source(site).await));
    assert_eq!(
        (
            found.name.as_str(),
            found.calendar_id,
            found.auto_tech_cards
        ),
        ("site", calendar, true)
    );
    assert_eq!(found.cors_origins, vec!["https://shop.example".to_owned()]);
    assert!(
        ok("old token", s.http_source_by_token("hash-s").await).is_none(),
        "a new token replaces the old"
    );
    assert!(ok("unknown", s.http_source(site + 1000).await).is_none());
    let listed = ok("list", s.http_sources().await);
    assert_eq!(
        listed
            .iter()
            .map(|v| (v.name.as_str(), v.active))
            .collect::<Vec<_>>(),
        vec![("landing", true), ("site", true)],
        "by name"
    );
    assert_eq!(
        listed[1].cors_origins,
        vec!["https://shop.example".to_owned()]
    );
    assert_eq!(listed[0].calendar_name, "Заказы");
    assert!(ok("revoke", s.revoke_http_source(made).await));
    assert!(ok("revoked", s.http_source_by_token("hash-l").await).is_none());
    assert!(!ok("list", s.http_sources().await)[0].active);
    assert!(some("still there", ok("by id", s.http_source(made).await)).name == "landing");
    assert!(!ok("unknown", s.revoke_http_source(made + 1000).await));
}

// ---- collectors -------------------------------------------------------------------------------------------

/// [`Collectors::upsert_collector`], [`Collectors::collector`], [`Collectors::collectors`].
pub async fn collectors_round_trip_and_are_upserted_by_name(s: &dyn Storage) {
    let calendar = ok("calendar", s.upsert_calendar("Заказы", None).await);
    let record = collector_record("site", calendar);
    let id = ok("upsert", s.upsert_collector(&record).await);
    let stored = some("collector", ok("collector", s.collector(id).await));
    let expected = CollectorRecord {
        id,
        ..record.clone()
    };
    assert_eq!(
        format!("{stored:?}"),
        format!("{expected:?}"),
        "every field round-trips"
    );
    let changed = CollectorRecord {
        protocol: Protocol::Pop3,
        tls: crate::mail::tls::TlsMode::StartTls,
        port: 110,
        ca_file: None,
        password_env: None,
        password_file: Some("/run/secrets/pop3".into()),
        subject_filter: SubjectFilter::Server,
        after_import: AfterImport::Delete,
        move_to: None,
        failed_folder: None,
        delete_after_days: None,
        auto_tech_cards: false,
        insecure_skip_verify: true,
        ..record.clone()
    };
    assert_eq!(
        ok("again", s.upsert_collector(&changed).await),
        id,
        "by name"
    );
    let stored = some("collector", ok("collector", s.collector(id).await));
    assert_eq!(
        format!("{stored:?}"),
        format!(
            "{:?}",
            CollectorRecord {
                id,
                ..changed.clone()
            }
        )
    );
    let other = ok(
        "other",
        s.upsert_collector(&collector_record("another", calendar))
            .await,
    );
    ok(
        "delete",
        s.upsert_collector(&CollectorRecord {
            deleted: true,
            ..collector_record("another", calendar)
        })
        .await,
    );
    let names = |list: Vec<CollectorRecord>| list.into_iter().map(|c| c.name).collect::<Vec<_>>();
    assert_eq!(names(ok("live", s.collectors(false).await)), vec!["site"]);
    assert_eq!(
        names(ok("all", s.collectors(true).await)),
        vec!["another", "site"],
        "by name"
    );
    assert!(some("deleted", ok("collector", s.collector(other).await)).deleted);
    assert!(ok("unknown", s.collector(id + 1000).await).is_none());
}

/// [`Collectors::scan_state`] and [`Collectors::save_scan_state`].
pub async fn a_scan_state_round_trips_per_folder(s: &dyn Storage) {
    let calendar = ok("calendar", s.upsert_calendar("Заказы", None).await);
    let id = ok(
        "collector",
        s.upsert_collector(&collector_record("site", calendar))
            .await,
    );
    assert_eq!(ok("none", s.scan_state(id, "INBOX").await), None);
    let state = ScanState {
        uid_validity: u32::MAX,
        last_uid: 41,
    };
    ok("save", s.save_scan_state(id, "INBOX", state).await);
    assert_eq!(
        ok("read", s.scan_state(id, "INBOX").await),
        Some(state),
        "the largest UIDVALIDITY fits"
    );
    let moved = ScanState {
        uid_validity: 7,
        last_uid: 3,
    };
    ok("overwrite", s.save_scan_state(id, "INBOX", moved).await);
    assert_eq!(ok("read", s.scan_state(id, "INBOX").await), Some(moved));
    assert_eq!(ok("other folder", s.scan_state(id, "Orders").await), None);
    ok("other", s.save_scan_state(id, "Orders", state).await);
    assert_eq!(ok("both", s.scan_state(id, "INBOX").await), Some(moved));
}

/// [`Collectors::start_run`], [`Collectors::finish_run`], [`Collectors::last_runs`].
pub async fn runs_are_recorded_and_the_last_one_shown(s: &dyn Storage) {
    let calendar = ok("calendar", s.upsert_calendar("Заказы", None).await);
    let site = ok(
        "site",
        s.upsert_collector(&collector_record("site", calendar))
            .await,
    );
    let other = ok(
        "other",
        s.upsert_collector(&collector_record("other", calendar))
            .await,
    );
    assert!(ok("none", s.last_runs().await).is_empty());
    let first = ok("start", s.start_run(site).await);
    let counts = RunCounts {
        imported: 3,
        duplicate: 2,
        skipped: 1,
        rejected: 4,
    };
    ok("finish", s.finish_run(first, &counts, None).await);
    let running = ok("start", s.start_run(other).await);
    let runs = ok("last", s.last_runs().await);
    let done = some("site's run", runs.get(&site));
    assert_eq!((done.counts.clone(), done.error.as_deref()), (counts, None));
    assert!(done.finished_at.is_some_and(|f| f >= done.started_at));
    let open = some("other's run", runs.get(&other));
    assert!(open.finished_at.is_none(), "a run still going has no end");
    let second = ok("start", s.start_run(site).await);
    ok(
        "fail",
        s.finish_run(second, &RunCounts::default(), Some("connection refused"))
            .await,
    );
    ok(
        "finish",
        s.finish_run(running, &RunCounts::default(), None).await,
    );
    let runs = ok("last", s.last_runs().await);
    let last = some("site's run", runs.get(&site));
    assert_eq!(
        (last.counts.clone(), last.error.as_deref()),
        (RunCounts::default(), Some("connection refused")),
        "the latest run"
    );
    assert!(some("other's run", runs.get(&other)).finished_at.is_some());
}

/// [`Collectors::try_lock_job`].
pub async fn a_job_lock_has_one_holder_until_dropped(s: &dyn Storage) {
    let held = some("a free lock", ok("lock", s.try_lock_job("collect").await));
    assert!(
        ok("held", s.try_lock_job("collect").await).is_none(),
        "one holder at a time"
    );
    let other = ok("another job", s.try_lock_job("retention").await);
    assert!(other.is_some(), "jobs lock apart");
    drop(held);
    assert!(
        ok("released", s.try_lock_job("collect").await).is_some(),
        "dropping the guard releases it"
    );
}

// ---- personal data ---------------------------------------------------------------------------------------

/// [`PersonalData::find_personal_data`], [`PersonalData::erase_personal_data`],
/// [`PersonalData::personal_data_erasures`].
pub async fn personal_data_is_found_erased_and_audited(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    let person = "Прилепский Алексей";
    let lead = file_lead(
        s,
        source,
        order(
            1,
            Some("7709745454"),
            person,
            "+7 925 642 42-90",
            "adwcom@gmail.com",
        ),
        calendar,
        now(),
    )
    .await;
    let kept = file_lead(
        s,
        source,
        order(2, None, "Другой", "+7 925 000 00-99", "other@shop.example"),
        calendar,
        now(),
    )
    .await;
    let message = some(
        "its record",
        ok("message of lead", s.message_of_lead(lead).await),
    );
    let party = some(
        "counterparty",
        some("lead", ok("lead", s.lead(lead).await)).counterparty,
    );
    let query = match PersonDataQuery::phone("8 (925) 642-42-90") {
        Ok(query) => query,
        Err(e) => panic!("a phone query: {e}"),
    };
    let found = ok("find", s.find_personal_data(&query, &[]).await);
    assert_eq!(
        found.leads.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![lead]
    );
    assert_eq!(found.leads[0].contact_person.as_deref(), Some(person));
    assert_eq!(found.message_ids, vec![message]);
    assert_eq!(
        found.renamed_counterparty_ids,
        vec![party.id],
        "an organisation named after the person is renamed"
    );
    assert!(found.counterparties.is_empty(), "an organisation is kept");
    assert_eq!(found.contacts, 2, "the phone and e-mail the lead brought");

    let actor = ErasureActor {
        user_id: None,
        login: "command line".into(),
        channel: "cli",
    };
    let record = ok("erase", s.erase_personal_data(&query, &[], &actor).await);
    assert_eq!(
        (record.lead_ids.clone(), record.message_ids.clone()),
        (vec![lead], vec![message])
    );
    assert_eq!((record.renamed_counterparties, record.contacts), (1, 2));
    assert_eq!(
        (
            record.actor.as_str(),
            record.channel.as_str(),
            record.query_kind.as_str()
        ),
        ("command line", "cli", "phone")
    );
    let erased = some("the lead is kept", ok("lead", s.lead(lead).await));
    assert_eq!(
        (
            erased.contact.phone,
            erased.contact.person,
            erased.contact.email,
            erased.inn
        ),
        (None, None, None, None)
    );
    assert!(erased.counterparty.is_none() && erased.subject.is_none());
    assert_eq!(erased.lines.len(), 2, "the goods stay for the statistics");
    assert!(
        ok("raw", s.message_raw(message).await).is_none(),
        "the raw message is deleted"
    );
    let renamed = some(
        "counterparty",
        ok("counterparty", s.counterparty(party.id, None).await),
    );
    assert_eq!(renamed.name, "ИНН 7709745454");
    assert!(renamed.phones.is_empty() && renamed.emails.is_empty());
    assert!(
        ok(
            "search",
            s.search_counterparties("прилеп", None, page(10)).await
        )
        .items
        .is_empty(),
        "the name leaves the search"
    );
    let other = some("other lead", ok("lead", s.lead(kept).await));
    assert_eq!(
        other.contact.person.as_deref(),
        Some("Другой"),
        "nobody else is touched"
    );
    assert!(ok("find again", s.find_personal_data(&query, &[]).await).is_empty());
    let audit = ok("audit", s.personal_data_erasures(10).await);
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].id, audit[0].lead_ids.clone()),
        (record.id, vec![lead])
    );
    assert!(
        !format!("{audit:?}").contains("9256424290"),
        "the audit holds no erased value"
    );
}
