//! The storage contract: what every backend must do, checked through the storage traits alone.
//!
//! Each case is an async function that takes a fresh, empty backend as `&dyn Storage`, builds what it needs
//! through the traits (no SQL), and asserts behaviour a user relies on: the ledger's keys are recorded
//! exactly once, an idempotency key answers with its first lead, a counterparty is found or created by INN,
//! what a calendar hides stays hidden, sessions expire, a scan state round-trips, a job lock has one holder,
//! a record the configuration file drops is retired, a layout file is claimed once per lease, a sealed
//! password is kept as bytes.
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
use leadgate_domain::account::Role;
use leadgate_domain::collector::{AfterImport, Protocol, SubjectFilter};
use leadgate_domain::lead::{Channel, LeadKind, LeadStatus};
use leadgate_domain::ledger::Outcome;
use leadgate_domain::payload::Payload;
use leadgate_domain::personal_data::PersonDataQuery;

mod accounts;
mod assignment;
mod calendars;
mod collector_passwords;
mod collectors;
mod counterparty_edits;
mod file_managed;
mod history;
mod instances;
mod layout_files;
mod leads;
mod ledger;
mod live;
mod pages;
mod personal_data;
mod reports;
mod settings;
mod webhooks;

pub use accounts::*;
pub use assignment::*;
pub use calendars::*;
pub use collector_passwords::*;
pub use collectors::*;
pub use counterparty_edits::*;
pub use file_managed::*;
pub use history::*;
pub use instances::*;
pub use layout_files::*;
pub use leads::*;
pub use ledger::*;
pub use live::*;
pub use pages::*;
pub use personal_data::*;
pub use reports::*;
pub use settings::*;
pub use webhooks::*;

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
            a_phone_is_found_however_it_is_written,
            a_lead_changes_status_and_assignee,
            tech_cards_are_formed_once_per_goods_line,
            the_inbox_shows_new_leads_first_and_pages_by_cursor,
            the_inbox_counts_new_leads_up_to_its_cap,
            an_inbox_search_finds_matches_behind_many_newer_leads,
            an_inbox_search_reads_both_runs_behind_many_newer_leads,
            a_lead_marked_a_duplicate_is_not_counted_among_the_new,
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
            a_lead_summary_is_read_by_id_as_the_lists_show_it,
            lead_summaries_are_read_together_as_each_alone,
            personal_data_is_found_erased_and_audited,
            an_erased_leads_comments_and_follow_up_notes_are_blanked,
            an_erased_leads_webhook_answers_are_blanked,
            records_the_file_declares_are_its_own_and_retired_when_it_drops_them,
            a_sources_cors_origins_are_replaced_as_a_whole,
            a_manager_renames_a_counterparty_and_adds_and_removes_its_contacts,
            a_lead_without_an_inn_is_linked_to_a_customer_found_by_its_contacts,
            settings_are_saved_replaced_and_removed_by_key,
            a_new_leads_web_layout_files_are_queued_and_claimed_once_per_lease,
            layout_files_are_stored_retried_or_given_up_and_served_to_their_own_lead,
            an_erased_lead_loses_its_layout_files,
            a_collectors_sealed_password_is_kept_replaced_and_cleared,
            webhook_deliveries_are_queued_with_their_leads_claimed_retried_and_redelivered,
            a_leads_history_records_who_changed_what_in_order,
            leads_of_one_batch_get_the_tech_cards_their_sources_form,
            a_reprocessed_lead_has_its_reprocessing_in_its_history,
            new_leads_are_assigned_by_their_calendars_rule,
            a_lead_moves_between_calendars_and_the_inbox_filters_by_assignee,
            report_figures_stay_true_as_leads_are_filed_worked_moved_edited_and_erased,
            the_health_report_counts_every_record_a_batch_writes,
            a_pages_duplicate_hints_are_each_leads_own_hint,
            a_calendar_day_counts_its_leads_up_to_the_cap,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let held = ($make)().await;
                let storage: &dyn $crate::Storage = &*held;
                $crate::contract::$case(storage).await;
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
    Submission::lead(ledger, payload, calendar_id)
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

/// A calendar "mail" and a mail collector "site" filing into it: the calendar, and the collector as a source.
async fn mail_calendar_and_collector(s: &dyn Storage) -> (i64, SourceRef) {
    let calendar = ok("calendar", s.upsert_calendar("mail", None).await);
    let collector = ok(
        "collector",
        s.upsert_collector(&collector_record("site", calendar))
            .await,
    );
    (calendar, SourceRef::Collector { id: collector })
}

/// A webhook to `https://crm.example/hook` on `calendar`, with a made-up sealed secret; returns its id.
async fn hook(s: &dyn Storage, calendar: i64) -> i64 {
    ok(
        "webhook",
        s.create_webhook(&NewWebhook {
            calendar_id: calendar,
            url: "https://crm.example/hook".into(),
            secret: Sealed {
                nonce: vec![1; 12],
                ciphertext: vec![2; 40],
            },
        })
        .await,
    )
}

fn collector_record(name: &str, calendar_id: i64) -> CollectorRecord {
    CollectorRecord {
        id: 0,
        name: name.to_owned(),
        protocol: Protocol::Imap,
        host: "mail.shop.example".to_owned(),
        port: 993,
        tls: leadgate_domain::collector::TlsMode::Implicit,
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
        push: false,
    }
}

async fn lead_ids(s: &dyn Storage, filter: &LeadFilter, calendars: Option<&[i64]>) -> Vec<i64> {
    let found = ok("leads", s.leads(filter, calendars, page(500)).await);
    found.items.iter().map(|l| l.id).collect()
}

fn dec(v: i64) -> Option<Decimal> {
    Some(Decimal::from(v))
}
