//! How the UI writes values for Russian-speaking print shops: dates in the shop's time zone as
//! `дд.мм.гггг чч:мм`, decimals with a comma, money with two decimals and grouped thousands, and the Russian
//! names of statuses, kinds, channels and warnings.
//!
//! Pages get these as ready strings, so templates only place text and never compute.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::Serialize;

use leadgate_domain::account::Role;
use leadgate_domain::lead::{AssignmentRule, Channel, LeadEventKind, LeadKind, LeadStatus};
use leadgate_domain::ledger::Outcome;
use leadgate_domain::warning::WarningCode;
use leadgate_storage::LeadSummary;

/// `29.05.2019 15:15` in the shop's zone.
pub fn datetime(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%d.%m.%Y %H:%M").to_string()
}

/// `15:15` in the shop's zone.
pub fn time(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%H:%M").to_string()
}

/// `2019-05-29`, for `<input type=date>` and URLs.
pub fn iso_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The years a date in a filter or a calendar address may have: four digits, as `<input type=date>` sends
/// them. Beyond them date arithmetic would leave chrono's range.
pub const DATE_YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// A `YYYY-MM-DD` date of a query, within [`DATE_YEARS`]; `None` for anything else.
pub fn parse_iso_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|d| DATE_YEARS.contains(&d.year()))
}

/// Today in the shop's zone.
pub fn today(tz: Tz) -> NaiveDate {
    Utc::now().with_timezone(&tz).date_naive()
}

/// The Russian name of a month in the nominative (`Май`).
pub fn month_name(month: u32) -> &'static str {
    const NAMES: [&str; 12] = [
        "Январь",
        "Февраль",
        "Март",
        "Апрель",
        "Май",
        "Июнь",
        "Июль",
        "Август",
        "Сентябрь",
        "Октябрь",
        "Ноябрь",
        "Декабрь",
    ];
    NAMES
        .get(month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("")
}

/// Short weekday names, Monday first.
pub const WEEKDAYS: [&str; 7] = ["Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"];

/// `29 мая` style day heading.
pub fn day_heading(d: NaiveDate) -> String {
    const GENITIVE: [&str; 12] = [
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ];
    format!(
        "{} {}",
        d.day(),
        GENITIVE.get(d.month0() as usize).copied().unwrap_or("")
    )
}

/// A decimal as people write it here: no trailing zeros, comma separator (`4`, `0,75`).
pub fn number(d: Decimal) -> String {
    d.normalize().to_string().replace('.', ",")
}

/// Money: two decimals, thousands grouped with a no-break space (`1 000,00`).
pub fn money(d: Decimal) -> String {
    let text = d.round_dp(2).abs().to_string();
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('\u{a0}');
        }
        grouped.push(c);
    }
    let sign = if d.is_sign_negative() && !d.is_zero() {
        "−"
    } else {
        ""
    };
    format!("{sign}{grouped},{frac:0<2}")
}

/// An optional decimal, or an em dash.
pub fn opt_number(d: Option<Decimal>) -> String {
    d.map_or_else(|| "—".to_owned(), number)
}

/// An optional amount of money, or an em dash.
pub fn opt_money(d: Option<Decimal>) -> String {
    d.map_or_else(|| "—".to_owned(), money)
}

/// Russian name of a status.
pub fn status(s: LeadStatus) -> &'static str {
    match s {
        LeadStatus::New => "Новая",
        LeadStatus::InProgress => "В работе",
        LeadStatus::Done => "Выполнена",
        LeadStatus::Rejected => "Отклонена",
    }
}

/// Russian name of a kind.
pub fn kind(k: LeadKind) -> &'static str {
    match k {
        LeadKind::Contact => "Контакт",
        LeadKind::Order => "Заказ",
    }
}

/// Russian name of a channel.
pub fn channel(c: Channel) -> &'static str {
    match c {
        Channel::Mail => "Почта",
        Channel::Http => "Сайт (HTTP)",
        Channel::File => "Файл",
    }
}

/// Russian name of a timeline entry's kind.
pub fn event_kind(k: LeadEventKind) -> &'static str {
    match k {
        LeadEventKind::Received => "Получена",
        LeadEventKind::StatusChanged => "Статус изменён",
        LeadEventKind::Assigned => "Назначен ответственный",
        LeadEventKind::Moved => "Перенесена в другой календарь",
        LeadEventKind::Edited => "Исправлена",
        LeadEventKind::LinesChanged => "Изменены товары",
        LeadEventKind::TechCardsFormed => "Сформированы техкарты",
        LeadEventKind::TechCardStatusChanged => "Изменён статус техкарты",
        LeadEventKind::CommentAdded => "Комментарий",
        LeadEventKind::FollowUpPlanned => "Запланирован контакт",
        LeadEventKind::FollowUpDone => "Контакт выполнен",
        LeadEventKind::Reprocessed => "Обработана повторно",
        LeadEventKind::DuplicateMarked => "Отмечена как дубликат",
        LeadEventKind::DuplicateDismissed => "Подсказка о дубликате отклонена",
        LeadEventKind::WebhookDelivery => "Вебхук",
    }
}

/// Russian name of a field a timeline entry names (a changed value or a detail); the field itself when it
/// has none.
pub fn event_field(field: &str) -> String {
    match field {
        "status" => "Статус",
        "assignee" => "Ответственный",
        "calendar" => "Календарь",
        "subject" => "Тема",
        "description" => "Описание",
        "contact_person" => "Контактное лицо",
        "phone" => "Телефон",
        "email" => "E-mail",
        "inn" => "ИНН",
        "cards" => "Техкарты",
        "rule" => "По правилу",
        "message_id" => "Сообщение",
        "channel" => "Канал",
        "source" => "Источник",
        "external_number" => "Внешний номер",
        "event" => "Событие",
        "webhook" => "Вебхук",
        "state" => "Состояние",
        "attempts" => "Попыток",
        "http_status" => "Ответ HTTP",
        "stale_tech_cards" => "Устаревшие техкарты",
        other => {
            // An order line's change is stored under "line N".
            return match other.strip_prefix("line ") {
                Some(position) if position.bytes().all(|b| b.is_ascii_digit()) => {
                    format!("Строка {position}")
                }
                _ => other.to_owned(),
            };
        }
    }
    .to_owned()
}

/// A value a timeline entry shows: statuses, rules and channels by their Russian names, anything else as it is.
pub fn event_value(field: &str, value: &str) -> String {
    let named = match field {
        "status" => value.parse::<LeadStatus>().ok().map(status),
        "channel" => value.parse::<Channel>().ok().map(channel),
        "rule" => value.parse::<AssignmentRule>().ok().map(assignment_rule),
        _ => None,
    };
    named.map_or_else(|| value.to_owned(), str::to_owned)
}

/// Russian name of an assignment rule.
pub fn assignment_rule(r: AssignmentRule) -> &'static str {
    match r {
        AssignmentRule::None => "не назначать",
        AssignmentRule::Owner => "владельцу календаря",
        AssignmentRule::RoundRobin => "по очереди",
    }
}

/// Russian name of a role.
pub fn role(r: Role) -> &'static str {
    match r {
        Role::Admin => "Администратор",
        Role::Manager => "Менеджер",
    }
}

/// Russian name of a ledger outcome.
pub fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Imported => "Загружено",
        Outcome::Duplicate => "Повтор",
        Outcome::Skipped => "Пропущено",
        Outcome::Rejected => "Отклонено",
        Outcome::Discarded => "Удалено из карантина",
    }
}

/// Russian explanation of a warning code.
pub fn warning(code: WarningCode) -> &'static str {
    match code {
        WarningCode::InvalidInn => "Неверный ИНН",
        WarningCode::InvalidPhone => "Телефон не распознан",
        WarningCode::InvalidEmail => "Неверный e-mail",
        WarningCode::UnreadableNumber => "Число не распознано",
        WarningCode::UnreadableBoolean => "Да/нет не распознано",
        WarningCode::UnreadableDate => "Дата не распознана",
        WarningCode::NonHttpUrl => "Ссылка не http(s)",
        WarningCode::AmountMismatch => "Сумма ≠ Цена × Количество",
        WarningCode::UnknownKey => "Неизвестное поле",
        WarningCode::UnexpectedType => "Неожиданный тип значения",
        WarningCode::CharsetReplacement => "Ошибки кодировки",
        WarningCode::NoContactDetails => "Нет контактных данных",
    }
}

/// A lead as one row of a list or one event of a calendar, with every value already written out. Live pages
/// get it as JSON and build the row or the entry from it as the templates do (`lead_row.html`,
/// `calendar_event.html`); an absent optional field is `None` or `false`.
#[derive(Debug, Clone, Serialize)]
pub struct LeadRow {
    /// Id.
    pub id: i64,
    /// Calendar id (for its colour class).
    pub calendar_id: i64,
    /// Calendar name.
    pub calendar: String,
    /// `new`, `in_progress`… for CSS classes.
    pub status_key: &'static str,
    /// Russian status.
    pub status: &'static str,
    /// Whether the lead is new (highlighted); on the wire, `status_key` says it.
    #[serde(skip)]
    pub is_new: bool,
    /// Russian kind.
    pub kind: &'static str,
    /// Date and time it starts.
    pub when: String,
    /// Time only.
    pub time: String,
    /// Subject, else a placeholder.
    pub title: String,
    /// Contact person or counterparty.
    pub who: String,
    /// Phone as sent.
    pub phone: String,
    /// `tel:` link that dials it, when it has enough digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_href: Option<String>,
    /// External number.
    pub number: String,
    /// Assignee login.
    pub assignee: String,
    /// The earlier lead this one may be a second submission of (marked in the inbox).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub possible_duplicate_of: Option<i64>,
    /// It has an open follow-up that is overdue (set by the inbox).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub overdue: bool,
}

/// The most characters the lists (the inbox, the calendar, the live rows, the calendar feed) show of one of a
/// lead's texts; the lead's page shows it whole. A site may send a subject of a megabyte, and a list of fifty
/// such leads would be fifty megabytes.
pub const LIST_CHARS: usize = 200;

/// `text` cut to at most `max` characters, the last of them `…` when anything was cut.
pub fn shortened(text: &str, max: usize) -> String {
    if text.chars().nth(max).is_none() {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A lead's title in the lists: its subject, else its kind and id, shortened to [`LIST_CHARS`].
pub fn lead_title(l: &LeadSummary) -> String {
    match l.subject.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(subject) => shortened(subject, LIST_CHARS),
        None => format!("{} №{}", kind(l.kind), l.id),
    }
}

impl LeadRow {
    /// Writes out a summary, its texts shortened to [`LIST_CHARS`].
    pub fn new(l: &LeadSummary, tz: Tz) -> Self {
        let list = |text: Option<&str>| shortened(text.unwrap_or_default(), LIST_CHARS);
        let who = list(
            l.contact
                .person
                .as_deref()
                .or(l.counterparty_name.as_deref())
                .or(l.contact.email.as_deref()),
        );
        Self {
            id: l.id,
            calendar_id: l.calendar_id,
            calendar: l.calendar_name.clone(),
            status_key: l.status.as_str(),
            status: status(l.status),
            is_new: l.status == LeadStatus::New,
            kind: kind(l.kind),
            when: datetime(l.starts_at, tz),
            time: time(l.starts_at, tz),
            title: lead_title(l),
            who,
            phone: list(l.contact.phone.as_deref()),
            phone_href: super::lead::tel_href(
                l.contact.phone_e164.as_deref(),
                l.contact.phone.as_deref(),
            ),
            number: list(l.external_number.as_deref()),
            assignee: l.assignee.clone().unwrap_or_default(),
            possible_duplicate_of: None,
            overdue: false,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn a_timeline_names_fields_in_russian_and_an_order_line_by_its_number() {
        assert_eq!(event_field("subject"), "Тема");
        assert_eq!(event_field("line 12"), "Строка 12");
        assert_eq!(event_field("stale_tech_cards"), "Устаревшие техкарты");
        // A name it does not know is shown as it is.
        assert_eq!(event_field("line x"), "line x");
    }

    #[test]
    fn a_text_is_shortened_to_its_characters_with_an_ellipsis() {
        assert_eq!(shortened("", 3), "");
        assert_eq!(shortened("абв", 3), "абв");
        assert_eq!(shortened("абвг", 3), "аб…");
        assert_eq!(shortened("😀😀😀😀", 2), "😀…");
        assert_eq!(
            shortened(&"ж".repeat(100_000), LIST_CHARS).chars().count(),
            LIST_CHARS
        );
    }

    #[test]
    fn decimals_are_written_with_a_comma_and_without_trailing_zeros() {
        assert_eq!(number(Decimal::from_str("4.000").unwrap()), "4");
        assert_eq!(number(Decimal::from_str("0.750").unwrap()), "0,75");
    }

    #[test]
    fn money_has_two_decimals_and_grouped_thousands() {
        assert_eq!(money(Decimal::from_str("1000").unwrap()), "1\u{a0}000,00");
        assert_eq!(money(Decimal::from_str("500.5").unwrap()), "500,50");
        assert_eq!(
            money(Decimal::from_str("1234567.891").unwrap()),
            "1\u{a0}234\u{a0}567,89"
        );
        assert_eq!(money(Decimal::from_str("-12").unwrap()), "−12,00");
    }

    #[test]
    fn times_are_shown_in_the_shops_zone() {
        let t = DateTime::parse_from_rfc3339("2019-05-29T12:15:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(datetime(t, chrono_tz::Europe::Moscow), "29.05.2019 15:15");
        let d = NaiveDate::from_ymd_opt(2019, 5, 29).unwrap();
        assert_eq!(
            leadgate_domain::days::local_midnight(d, chrono_tz::Europe::Moscow).to_rfc3339(),
            "2019-05-28T21:00:00+00:00"
        );
        assert_eq!(day_heading(d), "29 мая");
    }

    #[test]
    fn query_dates_have_four_digit_years() {
        assert_eq!(
            parse_iso_date("2019-05-29"),
            NaiveDate::from_ymd_opt(2019, 5, 29)
        );
        assert!(parse_iso_date("9999-12-31").is_some());
        for bad in [
            "+262142-12-31",
            "-262143-01-01",
            "0000-01-01",
            "+10000-01-01",
            "2019-02-30",
        ] {
            assert_eq!(parse_iso_date(bad), None, "{bad}");
        }
    }
}
