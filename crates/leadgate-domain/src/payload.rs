//! The site payload, format v0.1: the JSON object with Russian keys that websites send by mail or HTTP.
//!
//! This is the one place where that JSON becomes a domain value. The specification splits every problem in
//! two: a few errors reject the message ([`PayloadError`]), everything else is read leniently and leaves a
//! [`Warning`] on the lead, with the original value quoted. Sites built for the original 1C integration send
//! numbers as text with decimal commas, yes/no as `"да"`, and even misspell keys (`Разрешеине`), and they
//! must keep working unchanged.
//!
//! Reading never panics and never recurses beyond the fixed shape of the format; serde_json's own nesting
//! limit bounds the parse itself.

use std::fmt::{Display, Write as _};

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::email;
use super::inn::Inn;
use super::lead::LeadKind;
use super::lenient;
use super::phone;
use super::techcard::{self, Figures};
use super::warning::{Warning, WarningCode};

/// The most order lines a payload may have; more rejects it with [`PayloadError::TooManyLines`].
pub const MAX_LINES: usize = 1000;

/// The most JSON values (objects, arrays, strings, numbers, literals) a payload's text may hold. A value takes
/// tens of bytes once parsed, two of text (`0,`), so a payload of `limits.max_body_bytes` that is one long
/// array would grow forty-fold into a tree; this bounds the tree. A thousand-line order holds some 30,000.
pub const MAX_JSON_VALUES: usize = 100_000;

/// The deepest the JSON of a payload may nest, the outer object counted (serde_json's own limit, which takes
/// 127 levels: checked here before any value is built, so that this check, not the parser, decides).
const MAX_JSON_DEPTH: usize = 127;

/// The most warnings kept for one payload; past it, the last one kept says that more were left out.
pub const MAX_WARNINGS: usize = 200;

/// What the last warning kept says when more were left out.
const LEFT_OUT: &str = "; further warnings were left out";

/// The longest quotation of an original value in a warning message, in characters.
const MAX_QUOTE: usize = 100;

/// The keys of the top-level object.
mod key {
    pub const SUBJECT: &str = "Тема";
    pub const DATE: &str = "Дата";
    pub const DESCRIPTION: &str = "Описание";
    pub const INN: &str = "ИНН";
    pub const PHONE: &str = "Телефон";
    pub const EMAIL: &str = "АдресЭлектроннойПочты";
    pub const PERSON: &str = "КонтактноеЛицо";
    pub const LAYOUT_FILES: &str = "ФайлыМакета";
    pub const GOODS: &str = "Товары";
    pub const UTM_SOURCE: &str = "utm_source";
    pub const UTM_MEDIUM: &str = "utm_medium";
    pub const UTM_CAMPAIGN: &str = "utm_campaign";
    pub const PAGE_URL: &str = "page_url";
    pub const REFERRER: &str = "referrer";
    /// Where the visitor came from: accepted, but on their own not a lead.
    pub const CAMPAIGN: &[&str] = &[UTM_SOURCE, UTM_MEDIUM, UTM_CAMPAIGN, PAGE_URL, REFERRER];
    pub const ALL: &[&str] = &[
        SUBJECT,
        DATE,
        DESCRIPTION,
        INN,
        PHONE,
        EMAIL,
        PERSON,
        LAYOUT_FILES,
        GOODS,
        UTM_SOURCE,
        UTM_MEDIUM,
        UTM_CAMPAIGN,
        PAGE_URL,
        REFERRER,
    ];

    /// The key of a layout file object.
    pub const FILE: &str = "Файл";

    pub const NOMENCLATURE: &str = "Номенклатура";
    pub const MACHINE_CODE: &str = "СтанокКод";
    pub const RESOLUTION: &str = "Разрешение";
    /// The seed's misspelling of `Разрешение`, which existing sites send.
    pub const RESOLUTION_MISSPELT: &str = "Разрешеине";
    pub const MATERIAL: &str = "Материал";
    pub const MATERIAL_CODE: &str = "МатериалКод";
    pub const WIDTH: &str = "Ширина";
    pub const HEIGHT: &str = "Высота";
    pub const QUANTITY: &str = "Количество";
    pub const PRICE: &str = "Цена";
    pub const AMOUNT: &str = "Сумма";
    pub const SERVICE: &str = "Услуга";
    pub const EXTRA_WORKS: &str = "ДополнительныеРаботы";
    pub const LINE: &[&str] = &[
        NOMENCLATURE,
        MACHINE_CODE,
        RESOLUTION,
        RESOLUTION_MISSPELT,
        MATERIAL,
        MATERIAL_CODE,
        WIDTH,
        HEIGHT,
        QUANTITY,
        PRICE,
        AMOUNT,
        SERVICE,
        EXTRA_WORKS,
    ];

    pub const WORK_KIND: &str = "ВидРаботы";
    pub const WORK_DESCRIPTION: &str = "Описание";
    pub const EXTRA_WORK: &[&str] = &[WORK_KIND, QUANTITY, WORK_DESCRIPTION];
}

/// A site payload, read leniently. Every field is optional, as in the format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    /// `Тема`: the subject line.
    pub subject: Option<String>,
    /// `Дата`: when the site made the lead, as an instant.
    pub occurred_at: Option<DateTime<Utc>>,
    /// `Описание`: free text.
    pub description: Option<String>,
    /// `ИНН`: the customer's INN, valid or as sent.
    pub inn: Option<InnField>,
    /// `КонтактноеЛицо`, `Телефон`, `АдресЭлектроннойПочты`.
    pub contact: Contact,
    /// `ФайлыМакета`: layout file URLs, in order. Non-http(s) ones are kept and warned about.
    pub layout_files: Vec<String>,
    /// `Товары`: the order lines, in order.
    pub lines: Vec<OrderLine>,
    /// `utm_source`, `utm_medium`, `utm_campaign`, `page_url`, `referrer`: where the visitor came from.
    #[serde(default)]
    pub campaign: Campaign,
    /// What was odd about the payload; never a reason to reject it.
    pub warnings: Vec<Warning>,
}

/// The INN as sent: valid, or the raw text that failed the check (with an `invalid_inn` warning).
///
/// Serialised as the plain string either way; reading a string back re-runs the check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum InnField {
    /// A valid INN, which finds or creates the counterparty.
    Valid(Inn),
    /// The text that is not a valid INN, trimmed.
    Invalid(String),
}

impl InnField {
    /// Reads an INN, keeping the text when it is not valid.
    pub fn parse(raw: &str) -> InnField {
        match Inn::parse(raw) {
            Ok(inn) => InnField::Valid(inn),
            Err(_) => InnField::Invalid(raw.to_owned()),
        }
    }

    /// The text: the digits of a valid INN, or the raw text of an invalid one.
    pub fn raw(&self) -> &str {
        match self {
            InnField::Valid(inn) => inn.as_str(),
            InnField::Invalid(raw) => raw,
        }
    }

    /// The INN when it is valid.
    pub fn valid(&self) -> Option<&Inn> {
        match self {
            InnField::Valid(inn) => Some(inn),
            InnField::Invalid(_) => None,
        }
    }
}

impl From<InnField> for String {
    fn from(field: InnField) -> String {
        match field {
            InnField::Valid(inn) => inn.into(),
            InnField::Invalid(raw) => raw,
        }
    }
}

impl From<String> for InnField {
    fn from(raw: String) -> InnField {
        match Inn::parse(&raw) {
            Ok(inn) => InnField::Valid(inn),
            Err(_) => InnField::Invalid(raw),
        }
    }
}

/// Who to call back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// `КонтактноеЛицо`.
    pub person: Option<String>,
    /// `Телефон`, as sent.
    pub phone: Option<String>,
    /// The phone in E.164 (`+79256424290`) when it parses as a valid number.
    pub phone_e164: Option<String>,
    /// `АдресЭлектроннойПочты`, as sent (warned about when implausible).
    pub email: Option<String>,
}

/// Where the visitor came from, as the site knows it: the campaign's UTM tags, the page the form was on and
/// the page before it. Optional, and never a reason for a warning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    /// `utm_source`.
    pub utm_source: Option<String>,
    /// `utm_medium`.
    pub utm_medium: Option<String>,
    /// `utm_campaign`.
    pub utm_campaign: Option<String>,
    /// `page_url`: the page the lead was sent from.
    pub page_url: Option<String>,
    /// `referrer`: the page the visitor came from.
    pub referrer: Option<String>,
}

impl Campaign {
    /// True when the site sent none of the fields.
    pub fn is_empty(&self) -> bool {
        self == &Campaign::default()
    }
}

impl Contact {
    /// True when there is no way to reach the customer: no person, no phone and no e-mail.
    pub fn is_empty(&self) -> bool {
        self.person.is_none() && self.phone.is_none() && self.email.is_none()
    }

    /// What a lead adds to its customer's contacts: its phone in E.164 when it is a valid number, and its
    /// e-mail in lower case when it is a plausible address. What could not be read stays on the lead only, so
    /// a customer's contacts hold each phone and address once, each one that can be dialled or written to.
    pub fn customer_contacts(&self) -> impl Iterator<Item = (&'static str, String)> + '_ {
        let phone = self.phone_e164.clone().map(|p| ("phone", p));
        let email = self
            .email
            .as_deref()
            .filter(|e| crate::email::is_plausible(e))
            .map(|e| ("email", e.to_lowercase()));
        phone.into_iter().chain(email)
    }
}

/// One line of `Товары`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    /// 1-based position in `Товары`.
    pub position: u32,
    /// `Номенклатура`: the item.
    pub nomenclature: Option<String>,
    /// `СтанокКод`: the machine (printer) code; a JSON number becomes its text.
    pub machine_code: Option<String>,
    /// `Разрешение` (or the seed's `Разрешеине`): print resolution.
    pub resolution: Option<String>,
    /// `Материал`.
    pub material: Option<String>,
    /// `МатериалКод`.
    pub material_code: Option<String>,
    /// `Ширина`, metres.
    pub width: Option<Decimal>,
    /// `Высота`, metres.
    pub height: Option<Decimal>,
    /// `Количество`.
    pub quantity: Option<Decimal>,
    /// `Цена`, per piece.
    pub price: Option<Decimal>,
    /// `Сумма`, for the line.
    pub amount: Option<Decimal>,
    /// `Услуга`: a service line (delivery, design), which gets no tech card. Absent means false.
    pub is_service: bool,
    /// `ДополнительныеРаботы`: extra (post-press) works.
    pub extra_works: Vec<ExtraWork>,
}

impl OrderLine {
    /// True when the line is produced and so gets a tech card: every line that is not a service.
    pub fn needs_tech_card(&self) -> bool {
        !self.is_service
    }

    /// Area per piece, total area and perimeter of this line.
    pub fn figures(&self) -> Figures {
        techcard::figures(self.width, self.height, self.quantity)
    }
}

/// One extra (post-press) work of a line: grommets, hemming, pockets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtraWork {
    /// `ВидРаботы`: which work.
    pub kind: Option<String>,
    /// `Количество`.
    pub quantity: Option<Decimal>,
    /// `Описание`: details, such as the grommet spacing.
    pub description: Option<String>,
}

/// Why a payload is rejected. Everything else is a warning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The text is not JSON.
    #[error("not JSON: {message} at line {line} column {column}")]
    NotJson {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// serde_json's description, without the position.
        message: String,
    },
    /// The JSON is not an object.
    #[error("the payload must be a JSON object")]
    NotAnObject,
    /// `Товары` is present and not null, but not a list.
    #[error("Товары must be a list of lines")]
    GoodsNotAList,
    /// A line of `Товары` is not an object.
    #[error("line {position} of Товары is not an object")]
    LineNotAnObject {
        /// 1-based position of the line.
        position: usize,
    },
    /// Not one field of the format is filled in (`{}` included; null, blank text and empty lists are not
    /// filled in).
    #[error(
        "the payload fills in no field of the format (Тема, Дата, Описание, ИНН, Телефон, АдресЭлектроннойПочты, КонтактноеЛицо, ФайлыМакета, Товары)"
    )]
    NoKnownField,
    /// More than [`MAX_LINES`] lines.
    #[error("Товары has more than {limit} lines")]
    TooManyLines {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The JSON nests deeper than the parser allows.
    #[error("the JSON nests too deeply")]
    TooDeep,
    /// The JSON holds more than [`MAX_JSON_VALUES`] values.
    #[error("the JSON holds more than {limit} values")]
    TooManyValues {
        /// The limit that was exceeded.
        limit: usize,
    },
}

impl PayloadError {
    /// A stable `snake_case` code for APIs and the message ledger.
    pub fn code(&self) -> &'static str {
        match self {
            PayloadError::NotJson { .. } => "not_json",
            PayloadError::NotAnObject => "not_an_object",
            PayloadError::GoodsNotAList => "goods_not_a_list",
            PayloadError::LineNotAnObject { .. } => "line_not_an_object",
            PayloadError::NoKnownField => "no_known_field",
            PayloadError::TooManyLines { .. } => "too_many_lines",
            PayloadError::TooDeep => "too_deep",
            PayloadError::TooManyValues { .. } => "too_many_values",
        }
    }
}

impl Payload {
    /// Reads a v0.1 payload from its text, leniently. Times without an offset are wall-clock times in `tz`,
    /// the shop's time zone. A leading byte-order mark is ignored.
    ///
    /// # Errors
    ///
    /// [`PayloadError`] when the message must be rejected: the text is not JSON or nests too deeply, the top
    /// level is not an object, `Товары` is not a list or one of its lines is not an object, there are more
    /// than [`MAX_LINES`] lines, or not one field of the format is filled in. Every other problem is a
    /// [`Warning`] in [`Payload::warnings`]; a payload filled in only partly, with neither contact details nor
    /// goods (only Тема and Описание, say, or only ФайлыМакета), is a contact lead with the
    /// `no_contact_details` warning.
    pub fn from_json(text: &str, tz: chrono_tz::Tz) -> Result<Payload, PayloadError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        check_json_size(text)?;
        let value: Value = serde_json::from_str(text).map_err(json_error)?;
        Payload::from_value(&value, tz)
    }

    /// Reads a v0.1 payload that is already parsed JSON; see [`Payload::from_json`].
    ///
    /// # Errors
    ///
    /// As [`Payload::from_json`], except the JSON errors.
    pub fn from_value(value: &Value, tz: chrono_tz::Tz) -> Result<Payload, PayloadError> {
        let object = value.as_object().ok_or(PayloadError::NotAnObject)?;
        let mut r = Reader::default();
        let fields = r.fields(object, key::ALL, "");

        // The errors that concern the shape of the goods come first, before any reading.
        let goods: &[Value] = match fields.get(key::GOODS) {
            None => &[],
            Some(Value::Array(items)) => items,
            Some(_) => return Err(PayloadError::GoodsNotAList),
        };
        if goods.len() > MAX_LINES {
            return Err(PayloadError::TooManyLines { limit: MAX_LINES });
        }
        let mut line_objects = Vec::with_capacity(goods.len());
        for (index, item) in goods.iter().enumerate() {
            match item {
                Value::Object(line) => line_objects.push(line),
                _ => {
                    return Err(PayloadError::LineNotAnObject {
                        position: index + 1,
                    });
                }
            }
        }

        let subject = r.string(&fields, key::SUBJECT, key::SUBJECT);
        let occurred_at = r.date(&fields, key::DATE, tz);
        let description = r.string(&fields, key::DESCRIPTION, key::DESCRIPTION);
        let inn = r.inn(&fields);
        let contact = r.contact(&fields);
        let layout_files = r.layout_files(fields.get(key::LAYOUT_FILES));
        let campaign = Campaign {
            utm_source: r.string(&fields, key::UTM_SOURCE, key::UTM_SOURCE),
            utm_medium: r.string(&fields, key::UTM_MEDIUM, key::UTM_MEDIUM),
            utm_campaign: r.string(&fields, key::UTM_CAMPAIGN, key::UTM_CAMPAIGN),
            page_url: r.string(&fields, key::PAGE_URL, key::PAGE_URL),
            referrer: r.string(&fields, key::REFERRER, key::REFERRER),
        };
        let lines = line_objects
            .iter()
            .enumerate()
            .map(|(index, line)| r.line(index + 1, line))
            .collect::<Vec<_>>();

        if !fields
            .found
            .iter()
            .any(|(name, value)| !key::CAMPAIGN.contains(name) && is_filled_in(value))
        {
            return Err(PayloadError::NoKnownField);
        }
        if contact.is_empty() && inn.is_none() && lines.is_empty() {
            // First, and beyond the cap: it is what the manager must see before anything else.
            r.warnings.insert(
                0,
                Warning::new(
                    WarningCode::NoContactDetails,
                    "",
                    "the payload has neither contact details (Телефон, АдресЭлектроннойПочты, КонтактноеЛицо, \
                     ИНН) nor goods (Товары); it was imported as a contact lead",
                ),
            );
        }
        Ok(Payload {
            subject,
            occurred_at,
            description,
            inn,
            contact,
            layout_files,
            lines,
            campaign,
            warnings: r.warnings,
        })
    }

    /// An order when there is at least one line, otherwise a contact lead.
    pub fn kind(&self) -> LeadKind {
        if self.lines.is_empty() {
            LeadKind::Contact
        } else {
            LeadKind::Order
        }
    }
}

/// One order line a manager typed or an API client sent, with the same keys as a line of `Товары` and read
/// exactly as the intake reads one (decimal commas, `"да"`, the `Сумма` check), at `position`. The warnings
/// name the field as the intake's do (`Товары[3].Ширина`).
pub fn read_line(position: u32, object: &Map<String, Value>) -> (OrderLine, Vec<Warning>) {
    let mut r = Reader::default();
    let line = r.line(usize::try_from(position).unwrap_or(usize::MAX), object);
    (line, r.warnings)
}

/// The contact details a manager corrected, read as the intake reads them: trimmed (blank is absent), the
/// phone normalised to E.164 when it is a valid number, the e-mail checked; with the same warnings.
pub fn read_contact(
    person: Option<&str>,
    phone: Option<&str>,
    email: Option<&str>,
) -> (Contact, Vec<Warning>) {
    let mut object = Map::new();
    for (name, value) in [
        (key::PERSON, person),
        (key::PHONE, phone),
        (key::EMAIL, email),
    ] {
        if let Some(value) = value {
            object.insert(name.to_owned(), Value::String(value.to_owned()));
        }
    }
    let mut r = Reader::default();
    let fields = r.fields(&object, key::ALL, "");
    let contact = r.contact(&fields);
    (contact, r.warnings)
}

/// An INN a manager corrected, read as the intake reads it: blank is absent, an invalid one is kept as typed
/// with the `invalid_inn` warning.
pub fn read_inn(inn: Option<&str>) -> (Option<InnField>, Vec<Warning>) {
    let mut object = Map::new();
    if let Some(inn) = inn {
        object.insert(key::INN.to_owned(), Value::String(inn.to_owned()));
    }
    let mut r = Reader::default();
    let fields = r.fields(&object, key::ALL, "");
    let inn = r.inn(&fields);
    (inn, r.warnings)
}

/// A text field a manager corrected: trimmed, blank is absent, as the intake reads text.
pub fn read_text(text: Option<&str>) -> Option<String> {
    non_empty(text?)
}

/// The path the warnings of line `position` start with (`Товары[3]`).
pub fn line_field(position: u32) -> String {
    Item(key::GOODS, usize::try_from(position).unwrap_or(usize::MAX)).to_string()
}

/// Whether a value counts as filled in: not null, not blank text, not an empty object, not a list of none
/// but those. An object in a list counts, even empty: it is a line or a file the site sent. The format's
/// JSON Schema says the same (`$defs/blank` and `$defs/unfilled`).
fn is_filled_in(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        Value::Array(items) => items.iter().any(|i| i.is_object() || is_filled_in(i)),
        Value::Object(map) => !map.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// Turns serde_json's error into ours, telling the nesting limit apart.
/// Checks, without building anything, that parsing `text` builds a bounded tree: at most
/// [`MAX_JSON_VALUES`] values, nesting at most 127 deep (the outer object counted). Text that is not JSON
/// passes (the parser reports it).
///
/// # Errors
///
/// [`PayloadError::TooManyValues`] or [`PayloadError::TooDeep`].
pub fn check_json_size(text: &str) -> Result<(), PayloadError> {
    // Outside strings, every value but the first is introduced by `,` or by the `[` or `{` around it, so
    // counting those three bounds the values (and each object's keys) from above.
    let (mut values, mut depth, mut in_string, mut escaped) = (1usize, 0usize, false, false);
    for &byte in text.as_bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                values += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(PayloadError::TooDeep);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' => values += 1,
            _ => continue,
        }
        if values > MAX_JSON_VALUES {
            return Err(PayloadError::TooManyValues {
                limit: MAX_JSON_VALUES,
            });
        }
    }
    Ok(())
}

fn json_error(e: serde_json::Error) -> PayloadError {
    let (line, column) = (e.line(), e.column());
    let full = e.to_string();
    let suffix = format!(" at line {line} column {column}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    if message.starts_with("recursion limit exceeded") {
        PayloadError::TooDeep
    } else {
        PayloadError::NotJson {
            line,
            column,
            message,
        }
    }
}

/// The known keys of one object, matched after trimming, with null values left out.
struct Fields<'a> {
    found: Vec<(&'static str, &'a Value)>,
}

impl<'a> Fields<'a> {
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.found
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .filter(|v| !v.is_null())
    }
}

/// Reads values and collects the warnings.
#[derive(Default)]
struct Reader {
    warnings: Vec<Warning>,
}

impl Reader {
    fn warn(&mut self, code: WarningCode, field: impl Display, message: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings
                .push(Warning::new(code, field.to_string(), message));
        } else if let Some(last) = self.warnings.last_mut()
            && !last.message.ends_with(LEFT_OUT)
        {
            last.message.push_str(LEFT_OUT);
        }
    }

    /// Picks the known keys of `object` (a later duplicate wins, as in JSON) and warns about the others.
    fn fields<'a>(
        &mut self,
        object: &'a Map<String, Value>,
        known: &[&'static str],
        prefix: impl Display,
    ) -> Fields<'a> {
        let mut found: Vec<(&'static str, &'a Value)> = Vec::new();
        for (name, value) in object {
            match known.iter().find(|k| **k == name.trim()) {
                Some(k) => {
                    found.retain(|(seen, _)| seen != k);
                    found.push((k, value));
                }
                None => self.warn(
                    WarningCode::UnknownKey,
                    Join(&prefix, name),
                    format!(
                        "unknown key {} (value {}) was ignored",
                        quote_str(name),
                        quote(value)
                    ),
                ),
            }
        }
        Fields { found }
    }

    fn unexpected(&mut self, path: impl Display, expected: &str, value: &Value) {
        self.warn(
            WarningCode::UnexpectedType,
            path,
            format!(
                "expected {expected}, got {} {}",
                type_name(value),
                quote(value)
            ),
        );
    }

    /// A text value: a string (trimmed; empty is absent) or a number (its text).
    fn text(&mut self, path: impl Display, value: Option<&Value>) -> Option<String> {
        match value? {
            Value::String(s) => non_empty(s),
            Value::Number(n) => Some(n.to_string()),
            other => {
                self.unexpected(path, "text", other);
                None
            }
        }
    }

    fn string(&mut self, fields: &Fields<'_>, name: &str, path: impl Display) -> Option<String> {
        self.text(path, fields.get(name))
    }

    fn decimal(&mut self, path: impl Display, value: Option<&Value>) -> Option<Decimal> {
        match value? {
            Value::Number(n) => {
                let d = lenient::decimal_from_json(n);
                if d.is_none() {
                    self.warn(
                        WarningCode::UnreadableNumber,
                        path,
                        format!("the number {n} is out of range"),
                    );
                }
                d
            }
            Value::String(s) => {
                let s = non_empty(s)?;
                let d = lenient::decimal_from_text(&s);
                if d.is_none() {
                    self.warn(
                        WarningCode::UnreadableNumber,
                        path,
                        format!("cannot read {} as a number", quote_str(&s)),
                    );
                }
                d
            }
            other => {
                self.unexpected(path, "a number", other);
                None
            }
        }
    }

    fn boolean(&mut self, path: impl Display, value: Option<&Value>) -> Option<bool> {
        let value = value?;
        let read = match value {
            Value::Bool(b) => return Some(*b),
            Value::String(s) => {
                let s = non_empty(s)?;
                lenient::bool_from_text(&s)
            }
            Value::Number(n) => match n.as_u64() {
                Some(1) => Some(true),
                Some(0) => Some(false),
                _ => None,
            },
            other => {
                self.unexpected(path, "true or false", other);
                return None;
            }
        };
        if read.is_none() {
            self.warn(
                WarningCode::UnreadableBoolean,
                path,
                format!("cannot read {} as yes or no", quote(value)),
            );
        }
        read
    }

    fn date(
        &mut self,
        fields: &Fields<'_>,
        name: &str,
        tz: chrono_tz::Tz,
    ) -> Option<DateTime<Utc>> {
        match fields.get(name)? {
            Value::String(s) => {
                let s = non_empty(s)?;
                let read = lenient::datetime_from_text(&s, tz);
                if read.is_none() {
                    self.warn(
                        WarningCode::UnreadableDate,
                        name,
                        format!(
                            "cannot read {} as a date (dd.mm.yyyy hh:mm:ss or ISO 8601, years {}-{})",
                            quote_str(&s),
                            lenient::MIN_YEAR,
                            lenient::MAX_YEAR
                        ),
                    );
                }
                read
            }
            other => {
                self.unexpected(name, "a date as text", other);
                None
            }
        }
    }

    fn inn(&mut self, fields: &Fields<'_>) -> Option<InnField> {
        let raw = self.string(fields, key::INN, key::INN)?;
        match Inn::parse(&raw) {
            Ok(inn) => Some(InnField::Valid(inn)),
            Err(e) => {
                self.warn(
                    WarningCode::InvalidInn,
                    key::INN,
                    format!("INN {} is not valid: {e}", quote_str(&raw)),
                );
                Some(InnField::Invalid(raw))
            }
        }
    }

    fn contact(&mut self, fields: &Fields<'_>) -> Contact {
        let person = self.string(fields, key::PERSON, key::PERSON);
        let phone = self.string(fields, key::PHONE, key::PHONE);
        let phone_e164 = phone.as_deref().and_then(phone::to_e164);
        if let (Some(raw), None) = (&phone, &phone_e164) {
            self.warn(
                WarningCode::InvalidPhone,
                key::PHONE,
                format!("phone {} is not a valid phone number", quote_str(raw)),
            );
        }
        let email = self.string(fields, key::EMAIL, key::EMAIL);
        if let Some(raw) = email.as_deref().filter(|e| !email::is_plausible(e)) {
            self.warn(
                WarningCode::InvalidEmail,
                key::EMAIL,
                format!("e-mail {} does not look like an address", quote_str(raw)),
            );
        }
        Contact {
            person,
            phone,
            phone_e164,
            email,
        }
    }

    /// `ФайлыМакета`: a list of `{"Файл": url}` objects or of plain strings; a lone string is one file.
    fn layout_files(&mut self, value: Option<&Value>) -> Vec<String> {
        let items: &[Value] = match value {
            None => &[],
            Some(Value::Array(items)) => items,
            Some(single @ Value::String(_)) => std::slice::from_ref(single),
            Some(other) => {
                self.unexpected(key::LAYOUT_FILES, "a list of files", other);
                &[]
            }
        };
        let mut files = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let path = Item(key::LAYOUT_FILES, index + 1);
            let url = match item {
                Value::Null => None,
                Value::String(s) => self.url(non_empty(s), path),
                Value::Object(object) => {
                    let fields = self.fields(object, &[key::FILE], path);
                    let path = Join(path, key::FILE);
                    match fields.get(key::FILE) {
                        Some(Value::String(s)) => self.url(non_empty(s), path),
                        Some(other) => {
                            self.unexpected(path, "a URL", other);
                            None
                        }
                        None => None,
                    }
                }
                other => {
                    self.unexpected(path, "a URL or {\"Файл\": URL}", other);
                    None
                }
            };
            files.extend(url);
        }
        files
    }

    /// A layout file's URL, warned about unless it is http(s).
    fn url(&mut self, url: Option<String>, path: impl Display) -> Option<String> {
        let url = url?;
        if !is_http_url(&url) {
            self.warn(
                WarningCode::NonHttpUrl,
                path,
                format!("{} is not an http(s) URL", quote_str(&url)),
            );
        }
        Some(url)
    }

    fn line(&mut self, position: usize, object: &Map<String, Value>) -> OrderLine {
        let prefix = Item(key::GOODS, position);
        let fields = self.fields(object, key::LINE, prefix);
        let path = |name| Join(prefix, name);

        let nomenclature = self.string(&fields, key::NOMENCLATURE, path(key::NOMENCLATURE));
        let machine_code = self.string(&fields, key::MACHINE_CODE, path(key::MACHINE_CODE));
        let resolution = self
            .string(&fields, key::RESOLUTION, path(key::RESOLUTION))
            .or_else(|| {
                self.string(
                    &fields,
                    key::RESOLUTION_MISSPELT,
                    path(key::RESOLUTION_MISSPELT),
                )
            });
        let material = self.string(&fields, key::MATERIAL, path(key::MATERIAL));
        let material_code = self.string(&fields, key::MATERIAL_CODE, path(key::MATERIAL_CODE));
        let width = self.decimal(path(key::WIDTH), fields.get(key::WIDTH));
        let height = self.decimal(path(key::HEIGHT), fields.get(key::HEIGHT));
        let quantity = self.decimal(path(key::QUANTITY), fields.get(key::QUANTITY));
        let price = self.decimal(path(key::PRICE), fields.get(key::PRICE));
        let amount = self.decimal(path(key::AMOUNT), fields.get(key::AMOUNT));
        let is_service = self
            .boolean(path(key::SERVICE), fields.get(key::SERVICE))
            .unwrap_or(false);
        let extra_works = self.extra_works(path(key::EXTRA_WORKS), fields.get(key::EXTRA_WORKS));

        if let (Some(p), Some(q), Some(a)) = (price, quantity, amount) {
            self.check_amount(path(key::AMOUNT), p, q, a);
        }

        OrderLine {
            position: u32::try_from(position).unwrap_or(u32::MAX),
            nomenclature,
            machine_code,
            resolution,
            material,
            material_code,
            width,
            height,
            quantity,
            price,
            amount,
            is_service,
            extra_works,
        }
    }

    /// Warns when `Сумма` differs from `Цена × Количество` by more than rounding to kopecks explains.
    fn check_amount(
        &mut self,
        path: impl Display,
        price: Decimal,
        quantity: Decimal,
        amount: Decimal,
    ) {
        let to_kopecks =
            |d: Decimal| d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        let matches = price
            .checked_mul(quantity)
            .is_some_and(|product| to_kopecks(product) == to_kopecks(amount));
        if !matches {
            let product = price.checked_mul(quantity).map_or_else(
                || "too large to compute".to_owned(),
                |p| p.normalize().to_string(),
            );
            self.warn(
                WarningCode::AmountMismatch,
                path,
                format!(
                    "Сумма {} is not Цена × Количество = {} × {} = {product}",
                    amount.normalize(),
                    price.normalize(),
                    quantity.normalize()
                ),
            );
        }
    }

    fn extra_works(&mut self, path: impl Display + Copy, value: Option<&Value>) -> Vec<ExtraWork> {
        let items = match value {
            None => return Vec::new(),
            Some(Value::Array(items)) => items,
            Some(other) => {
                self.unexpected(path, "a list of extra works", other);
                return Vec::new();
            }
        };
        let mut works = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let prefix = Item(path, index + 1);
            let Value::Object(object) = item else {
                if !item.is_null() {
                    self.unexpected(prefix, "an extra work object", item);
                }
                continue;
            };
            let fields = self.fields(object, key::EXTRA_WORK, prefix);
            works.push(ExtraWork {
                kind: self.string(&fields, key::WORK_KIND, Join(prefix, key::WORK_KIND)),
                quantity: self.decimal(Join(prefix, key::QUANTITY), fields.get(key::QUANTITY)),
                description: self.string(
                    &fields,
                    key::WORK_DESCRIPTION,
                    Join(prefix, key::WORK_DESCRIPTION),
                ),
            });
        }
        works
    }
}

/// Where a value sits in the payload: `prefix.name`, or `name` under an empty prefix (the top level).
/// Spelled out only when a warning names it, so reading a clean payload formats no paths.
#[derive(Clone, Copy)]
struct Join<'n, P>(P, &'n str);

impl<P: Display> Display for Join<'_, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let prefix = self.0.to_string();
        if prefix.is_empty() {
            f.write_str(self.1)
        } else {
            write!(f, "{prefix}.{}", self.1)
        }
    }
}

/// `prefix[index]`, the same way.
#[derive(Clone, Copy)]
struct Item<P>(P, usize);

impl<P: Display> Display for Item<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]", self.0, self.1)
    }
}

/// The trimmed text, or `None` when nothing is left, as [`storable_text`] keeps it.
fn non_empty(s: &str) -> Option<String> {
    let t = storable_text(s.trim());
    let t = t.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// Text as leadgate keeps it, from a website or a person:
/// - a NUL character, which means nothing in a lead and which PostgreSQL cannot keep in text, becomes U+FFFD,
///   so every backend stores the same text;
/// - the bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) are left out: in a
///   name they reverse the text shown after it (an INN, a phone) on every page, and no order needs them.
pub fn storable_text(s: &str) -> std::borrow::Cow<'_, str> {
    let bidi = |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    if !s.chars().any(|c| c == '\0' || bidi(c)) {
        return std::borrow::Cow::Borrowed(s);
    }
    s.chars()
        .filter(|c| !bidi(*c))
        .map(|c| if c == '\0' { '\u{FFFD}' } else { c })
        .collect()
}

/// True for what the layout-file download takes: an http(s) URL with a host, as the URL standard parses it
/// (so a space in a file's name is fine: the download encodes it).
fn is_http_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty())
    })
}

/// A JSON type's name for messages.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A string quoted for a message, shortened to [`MAX_QUOTE`] characters.
fn quote_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_QUOTE * 4) + 2);
    out.push('"');
    for (i, c) in s.chars().enumerate() {
        if i == MAX_QUOTE {
            out.push('…');
            break;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Any JSON value quoted for a message: strings as [`quote_str`], others as compact JSON, shortened.
fn quote(value: &Value) -> String {
    match value {
        Value::String(s) => quote_str(s),
        other => {
            let json = other.to_string();
            if json.chars().count() > MAX_QUOTE {
                let mut short: String = json.chars().take(MAX_QUOTE).collect();
                short.push('…');
                short
            } else {
                json
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;
    use std::str::FromStr;

    const SEED: &str = include_str!("../../../tests/fixtures/seed_sample.json");
    const MOSCOW: chrono_tz::Tz = chrono_tz::Europe::Moscow;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn read(value: Value) -> Payload {
        Payload::from_json(&value.to_string(), MOSCOW).unwrap()
    }

    fn reject(value: Value) -> PayloadError {
        Payload::from_json(&value.to_string(), MOSCOW).unwrap_err()
    }

    /// The codes and fields of the warnings, for compact assertions.
    fn warned(p: &Payload) -> Vec<(WarningCode, &str)> {
        p.warnings
            .iter()
            .map(|w| (w.code, w.field.as_str()))
            .collect()
    }

    /// A payload with a phone so it is never rejected for lack of contact, plus `extra`.
    fn with_phone(extra: Value) -> Value {
        let mut base = json!({"Телефон": "+7 925 642 42-90"});
        if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
            base.extend(extra);
        }
        base
    }

    /// A one-line order whose line is `line`.
    fn one_line(line: Value) -> Payload {
        read(json!({ "Товары": [line] }))
    }

    #[test]
    fn the_seed_sample_is_an_order_with_two_lines() {
        let p = Payload::from_json(SEED, MOSCOW).unwrap();
        assert_eq!(p.warnings, vec![]);
        assert_eq!(p.kind(), LeadKind::Order);
        assert_eq!(
            p.subject.as_deref(),
            Some("Заказ №123 от 01.06.2019 бла бла бла")
        );
        assert_eq!(
            p.occurred_at,
            Some(Utc.with_ymd_and_hms(2019, 5, 29, 12, 15, 0).unwrap())
        );
        assert_eq!(
            p.description.as_deref(),
            Some("Произвольный тест описание заказа строкой")
        );
        let inn = p.inn.as_ref().unwrap().valid().unwrap();
        assert_eq!(inn.as_str(), "7709745454");
        assert_eq!(inn.kind(), crate::inn::InnKind::Organisation);
        assert_eq!(
            p.contact,
            Contact {
                person: Some("Прилепский Алексей Анатольевич".into()),
                phone: Some("+7 925 642 42-90".into()),
                phone_e164: Some("+79256424290".into()),
                email: Some("adwcom@gmail.com".into()),
            }
        );
        assert_eq!(
            p.layout_files,
            vec!["https://demo.solvent.ru/cabinet/print/2019/DAC_noyXsAEV-Cx.jpg"; 2]
        );
        assert_eq!(p.lines.len(), 2);

        let first = &p.lines[0];
        assert_eq!(first.position, 1);
        assert!(first.needs_tech_card());
        assert_eq!(first.nomenclature.as_deref(), Some("Ролап 123 22 22"));
        assert_eq!(first.machine_code.as_deref(), Some("1"));
        assert_eq!(first.resolution.as_deref(), Some("360 dpi"));
        assert_eq!(
            first.material.as_deref(),
            Some("Баннеры - Эконом (340 гр./м2) - 360 dpi")
        );
        assert_eq!(first.material_code.as_deref(), Some("00-00000021"));
        assert_eq!(
            (
                first.width,
                first.height,
                first.quantity,
                first.price,
                first.amount
            ),
            (
                Some(d("2")),
                Some(d("2")),
                Some(d("2")),
                Some(d("500")),
                Some(d("1000"))
            )
        );
        assert_eq!(first.extra_works.len(), 3);
        assert_eq!(
            first.extra_works[0],
            ExtraWork {
                kind: Some("Люверсы".into()),
                quantity: Some(d("2")),
                description: Some("шаг 30см".into()),
            }
        );
        assert_eq!(first.extra_works[2].kind.as_deref(), Some("Карманы"));
        let f = first.figures();
        assert_eq!(f.area_per_piece, Some(d("4")));
        assert_eq!(f.total_area, Some(d("8")));
        assert_eq!(f.perimeter, Some(d("8")));

        let second = &p.lines[1];
        assert_eq!(second.position, 2);
        assert_eq!(second.nomenclature.as_deref(), Some("Доставка"));
        assert!(second.is_service);
        assert!(!second.needs_tech_card());
        assert!(second.extra_works.is_empty());
    }

    #[test]
    fn the_seed_sample_serialises_with_english_snake_case_names_and_decimal_strings() {
        let p = Payload::from_json(SEED, MOSCOW).unwrap();
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["inn"], "7709745454");
        assert_eq!(json["occurred_at"], "2019-05-29T12:15:00Z");
        assert_eq!(json["contact"]["phone_e164"], "+79256424290");
        assert_eq!(json["lines"][0]["machine_code"], "1");
        assert_eq!(json["lines"][0]["width"], "2");
        assert_eq!(json["lines"][0]["extra_works"][0]["kind"], "Люверсы");
        assert_eq!(json["lines"][1]["is_service"], true);
        assert_eq!(serde_json::from_value::<Payload>(json).unwrap(), p);
    }

    #[test]
    fn a_payload_without_goods_is_a_contact_lead() {
        let p = read(json!({"Телефон": "8 (916) 123-45-67", "Товары": []}));
        assert_eq!(p.kind(), LeadKind::Contact);
        assert_eq!(p.contact.phone_e164.as_deref(), Some("+79161234567"));
        assert_eq!(p.warnings, vec![]);
        let p = read(json!({"КонтактноеЛицо": "Иван", "Товары": null}));
        assert_eq!(p.kind(), LeadKind::Contact);
    }

    // --- errors ---

    #[test]
    fn text_that_is_not_json_is_rejected_with_line_and_column() {
        let err = Payload::from_json("{\n  \"Тема\": \"x\",\n  oops\n}", MOSCOW).unwrap_err();
        let PayloadError::NotJson {
            line,
            column,
            message,
        } = &err
        else {
            panic!("expected NotJson, got {err:?}");
        };
        assert_eq!((*line, *column), (3, 3));
        assert_eq!(message, "key must be a string");
        assert_eq!(err.code(), "not_json");
        assert!(err.to_string().contains("line 3 column 3"));
        assert!(matches!(
            Payload::from_json("", MOSCOW),
            Err(PayloadError::NotJson { .. })
        ));
        assert!(matches!(
            Payload::from_json("{} {}", MOSCOW),
            Err(PayloadError::NotJson { .. })
        ));
    }

    #[test]
    fn json_nested_too_deeply_is_rejected() {
        let deep = format!("{{\"Тема\": {}{}}}", "[".repeat(500), "]".repeat(500));
        let err = Payload::from_json(&deep, MOSCOW).unwrap_err();
        assert_eq!(err, PayloadError::TooDeep);
        assert_eq!(err.code(), "too_deep");
        // The documented bound exactly: the outer object and 126 arrays are read, one more array is not.
        let nested = |arrays: usize| {
            format!(
                "{{\"Телефон\": \"+79161234567\", \"x\": {}{}}}",
                "[".repeat(arrays),
                "]".repeat(arrays)
            )
        };
        assert!(Payload::from_json(&nested(MAX_JSON_DEPTH - 1), MOSCOW).is_ok());
        assert_eq!(
            Payload::from_json(&nested(MAX_JSON_DEPTH), MOSCOW).unwrap_err(),
            PayloadError::TooDeep
        );
    }

    #[test]
    fn json_with_more_values_than_the_limit_is_rejected_before_parsing() {
        let long = format!(
            "{{\"Телефон\": \"+7 925 642 42-90\", \"Тема\": [{}0]}}",
            "0,".repeat(MAX_JSON_VALUES)
        );
        let err = Payload::from_json(&long, MOSCOW).unwrap_err();
        assert_eq!(
            err,
            PayloadError::TooManyValues {
                limit: MAX_JSON_VALUES
            }
        );
        assert_eq!(err.code(), "too_many_values");
        // Commas and brackets inside strings are text, not values.
        let text = format!(
            "{{\"Телефон\": \"+7 925 642 42-90\", \"Описание\": \"{}\\\"[\"}}",
            ",[{".repeat(MAX_JSON_VALUES)
        );
        assert!(Payload::from_json(&text, MOSCOW).is_ok());
    }

    #[test]
    fn a_top_level_that_is_not_an_object_is_rejected() {
        for text in ["[]", "null", "42", "\"Тема\"", "true"] {
            let err = Payload::from_json(text, MOSCOW).unwrap_err();
            assert_eq!(err, PayloadError::NotAnObject, "{text}");
            assert_eq!(err.code(), "not_an_object");
        }
    }

    #[test]
    fn goods_that_are_not_a_list_are_rejected() {
        for goods in [json!({}), json!("Баннер"), json!(1), json!(true)] {
            let err = reject(with_phone(json!({ "Товары": goods })));
            assert_eq!(err, PayloadError::GoodsNotAList);
            assert_eq!(err.code(), "goods_not_a_list");
        }
    }

    #[test]
    fn a_line_that_is_not_an_object_is_rejected_with_its_position() {
        let err = reject(with_phone(json!({ "Товары": [{}, "Баннер"] })));
        assert_eq!(err, PayloadError::LineNotAnObject { position: 2 });
        assert_eq!(err.code(), "line_not_an_object");
        let err = reject(with_phone(json!({ "Товары": [null] })));
        assert_eq!(err, PayloadError::LineNotAnObject { position: 1 });
    }

    #[test]
    fn a_payload_that_fills_in_no_field_of_the_format_is_rejected() {
        for value in [
            json!({}),
            json!({"Телефон": "", "АдресЭлектроннойПочты": "  ", "ИНН": "", "Товары": []}),
            json!({"Телефон": null, "КонтактноеЛицо": null}),
            json!({"Имя": "Иван", "Комментарий": "перезвоните"}),
            json!({"ФайлыМакета": [""]}),
            json!({"ФайлыМакета": [null, "  "], "Тема": [[" "]]}),
        ] {
            let err = reject(value);
            assert_eq!(err, PayloadError::NoKnownField);
            assert_eq!(err.code(), "no_known_field");
        }
    }

    #[test]
    fn a_partly_filled_in_payload_is_a_contact_lead_warned_of_no_contact_details() {
        for value in [
            json!({"Тема": "Заказ", "Описание": "перезвоните", "Дата": "29.05.2019"}),
            json!({"ФайлыМакета": [{"Файл": "https://shop.example/a.pdf"}]}),
            json!({"Описание": "макет во вложении", "Неизвестно": 1}),
        ] {
            let p = Payload::from_value(&value, chrono_tz::Europe::Moscow).unwrap();
            assert_eq!(p.kind(), LeadKind::Contact, "{value}");
            assert_eq!(p.warnings[0].code, WarningCode::NoContactDetails, "{value}");
        }
        let with_phone = Payload::from_value(
            &json!({"Телефон": "+7 925 642 42-90"}),
            chrono_tz::Europe::Moscow,
        )
        .unwrap();
        assert!(with_phone.warnings.is_empty());
    }

    #[test]
    fn any_one_contact_detail_is_enough() {
        for value in [
            json!({"Телефон": "не телефон"}),
            json!({"АдресЭлектроннойПочты": "a@b.ru"}),
            json!({"КонтактноеЛицо": "Иван"}),
            json!({"ИНН": "123"}),
            json!({"Товары": [{}]}),
        ] {
            assert!(
                Payload::from_json(&value.to_string(), MOSCOW).is_ok(),
                "{value}"
            );
        }
    }

    #[test]
    fn too_many_lines_are_rejected() {
        let lines = vec![json!({"Номенклатура": "Баннер"}); MAX_LINES + 1];
        let err = reject(json!({ "Товары": lines }));
        assert_eq!(err, PayloadError::TooManyLines { limit: MAX_LINES });
        assert_eq!(err.code(), "too_many_lines");
        let lines = vec![json!({"Номенклатура": "Баннер"}); MAX_LINES];
        assert_eq!(read(json!({ "Товары": lines })).lines.len(), MAX_LINES);
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        let p = Payload::from_json("\u{feff}{\"КонтактноеЛицо\": \"Иван\"}", MOSCOW).unwrap();
        assert_eq!(p.contact.person.as_deref(), Some("Иван"));
    }

    // --- warnings ---

    #[test]
    fn an_inn_with_a_bad_check_digit_is_kept_with_a_warning() {
        let p = read(json!({"ИНН": "7709745455"}));
        assert_eq!(p.inn, Some(InnField::Invalid("7709745455".into())));
        assert_eq!(p.inn.as_ref().unwrap().raw(), "7709745455");
        assert_eq!(p.inn.as_ref().unwrap().valid(), None);
        assert_eq!(warned(&p), vec![(WarningCode::InvalidInn, "ИНН")]);
        assert!(p.warnings[0].message.contains("\"7709745455\""));
    }

    #[test]
    fn an_inn_sent_as_a_number_or_with_spaces_is_read() {
        let p = read(json!({"ИНН": 7_709_745_454_u64}));
        assert_eq!(
            p.inn.as_ref().unwrap().valid().unwrap().as_str(),
            "7709745454"
        );
        let p = read(json!({"ИНН": " 5001 0073 2259 "}));
        assert_eq!(p.inn.as_ref().unwrap().raw(), "500100732259");
        assert_eq!(p.warnings, vec![]);
    }

    #[test]
    fn a_phone_that_does_not_parse_is_kept_raw_with_a_warning() {
        let p = read(json!({"Телефон": "звонить после 18"}));
        assert_eq!(p.contact.phone.as_deref(), Some("звонить после 18"));
        assert_eq!(p.contact.phone_e164, None);
        assert_eq!(warned(&p), vec![(WarningCode::InvalidPhone, "Телефон")]);
        assert!(p.warnings[0].message.contains("\"звонить после 18\""));
    }

    #[test]
    fn a_phone_sent_as_a_number_is_read() {
        let p = read(json!({"Телефон": 79_256_424_290_u64}));
        assert_eq!(p.contact.phone.as_deref(), Some("79256424290"));
        assert_eq!(p.contact.phone_e164.as_deref(), Some("+79256424290"));
    }

    #[test]
    fn an_implausible_email_is_kept_with_a_warning() {
        let p = read(json!({"АдресЭлектроннойПочты": "ivan@mail,ru"}));
        assert_eq!(p.contact.email.as_deref(), Some("ivan@mail,ru"));
        assert_eq!(
            warned(&p),
            vec![(WarningCode::InvalidEmail, "АдресЭлектроннойПочты")]
        );
    }

    #[test]
    fn numbers_with_decimal_comma_and_spaces_are_read() {
        let p = one_line(json!({
            "Ширина": "1,5", "Высота": "0,7", "Количество": "3",
            "Цена": "1 000,50", "Сумма": "3\u{a0}001,50"
        }));
        let line = &p.lines[0];
        assert_eq!(line.width, Some(d("1.5")));
        assert_eq!(line.height, Some(d("0.7")));
        assert_eq!(line.price, Some(d("1000.50")));
        assert_eq!(line.amount, Some(d("3001.50")));
        assert_eq!(p.warnings, vec![]);
        assert_eq!(line.figures().area_per_piece, Some(d("1.05")));
    }

    #[test]
    fn json_floats_become_exact_decimals() {
        let p = Payload::from_json(
            r#"{"Товары": [{"Ширина": 0.1, "Высота": 0.2, "Цена": 19.99, "Количество": 3, "Сумма": 59.97}]}"#,
            MOSCOW,
        )
        .unwrap();
        let line = &p.lines[0];
        assert_eq!(line.width.unwrap().to_string(), "0.1");
        assert_eq!(line.price.unwrap().to_string(), "19.99");
        assert_eq!(line.figures().perimeter.unwrap().to_string(), "0.6");
        assert_eq!(p.warnings, vec![]);
    }

    #[test]
    fn an_unreadable_number_is_absent_with_a_warning() {
        let p = one_line(json!({"Ширина": "два метра", "Высота": 1e300, "Количество": ""}));
        let line = &p.lines[0];
        assert_eq!((line.width, line.height, line.quantity), (None, None, None));
        assert_eq!(
            warned(&p),
            vec![
                (WarningCode::UnreadableNumber, "Товары[1].Ширина"),
                (WarningCode::UnreadableNumber, "Товары[1].Высота"),
            ]
        );
        assert!(p.warnings[0].message.contains("\"два метра\""));
    }

    #[test]
    fn yes_and_no_are_read_in_russian_and_as_digits() {
        let cases = [
            (json!("да"), true),
            (json!("Нет"), false),
            (json!("ДА"), true),
            (json!("1"), true),
            (json!("0"), false),
            (json!(1), true),
            (json!(0), false),
            (json!("true"), true),
            (json!("no"), false),
            (json!(true), true),
            (json!(null), false),
        ];
        for (value, expected) in cases {
            let p = one_line(json!({ "Услуга": value }));
            assert_eq!(p.lines[0].is_service, expected, "{value}");
            assert_eq!(p.warnings, vec![], "{value}");
        }
    }

    #[test]
    fn an_unreadable_boolean_is_false_with_a_warning() {
        let p = one_line(json!({"Услуга": "наверное"}));
        assert!(!p.lines[0].is_service);
        assert_eq!(
            warned(&p),
            vec![(WarningCode::UnreadableBoolean, "Товары[1].Услуга")]
        );
        assert!(p.warnings[0].message.contains("\"наверное\""));
        let p = one_line(json!({"Услуга": 2}));
        assert_eq!(
            warned(&p),
            vec![(WarningCode::UnreadableBoolean, "Товары[1].Услуга")]
        );
    }

    #[test]
    fn dates_in_the_seed_format_and_iso_8601_are_read() {
        let expected = Some(Utc.with_ymd_and_hms(2019, 5, 29, 12, 15, 0).unwrap());
        for date in [
            "29.05.2019 15:15:00",
            "29.05.2019 15:15",
            "2019-05-29T15:15:00",
            "2019-05-29T15:15:00+03:00",
            "2019-05-29T12:15:00Z",
            "2019-05-29T14:15:00+02:00",
        ] {
            let p = read(with_phone(json!({ "Дата": date })));
            assert_eq!(p.occurred_at, expected, "{date}");
            assert_eq!(p.warnings, vec![], "{date}");
        }
        let p = read(with_phone(json!({"Дата": "29.05.2019"})));
        assert_eq!(
            p.occurred_at,
            Some(Utc.with_ymd_and_hms(2019, 5, 28, 21, 0, 0).unwrap())
        );
    }

    #[test]
    fn a_date_without_offset_is_in_the_shop_time_zone() {
        let text = with_phone(json!({"Дата": "29.05.2019 15:15:00"})).to_string();
        let novosibirsk = Payload::from_json(&text, chrono_tz::Asia::Novosibirsk).unwrap();
        assert_eq!(
            novosibirsk.occurred_at,
            Some(Utc.with_ymd_and_hms(2019, 5, 29, 8, 15, 0).unwrap())
        );
        let utc = Payload::from_json(&text, chrono_tz::UTC).unwrap();
        assert_eq!(
            utc.occurred_at,
            Some(Utc.with_ymd_and_hms(2019, 5, 29, 15, 15, 0).unwrap())
        );
        // An explicit offset wins over the shop's zone.
        let text = with_phone(json!({"Дата": "2019-05-29T15:15:00+03:00"})).to_string();
        let p = Payload::from_json(&text, chrono_tz::Asia::Novosibirsk).unwrap();
        assert_eq!(
            p.occurred_at,
            Some(Utc.with_ymd_and_hms(2019, 5, 29, 12, 15, 0).unwrap())
        );
    }

    #[test]
    fn an_unreadable_date_is_absent_with_a_warning() {
        let p = read(with_phone(json!({"Дата": "вчера вечером"})));
        assert_eq!(p.occurred_at, None);
        assert_eq!(warned(&p), vec![(WarningCode::UnreadableDate, "Дата")]);
        assert!(p.warnings[0].message.contains("\"вчера вечером\""));
        let p = read(with_phone(json!({"Дата": 1_559_132_100})));
        assert_eq!(p.occurred_at, None);
        assert_eq!(warned(&p), vec![(WarningCode::UnexpectedType, "Дата")]);
    }

    #[test]
    fn layout_files_may_be_objects_or_strings_and_non_http_ones_are_warned() {
        let p = read(with_phone(json!({"ФайлыМакета": [
            {"Файл": "https://shop.example/a.pdf"},
            "http://shop.example/b.tif",
            {"Файл": "ftp://shop.example/c.cdr"},
            "C:\\Макеты\\d.jpg",
            {"Файл": ""},
            null,
            "https://shop.example/Макет заказа 12.pdf",
            "http://shop example/e.pdf",
        ]})));
        assert_eq!(
            p.layout_files,
            vec![
                "https://shop.example/a.pdf",
                "http://shop.example/b.tif",
                "ftp://shop.example/c.cdr",
                "C:\\Макеты\\d.jpg",
                "https://shop.example/Макет заказа 12.pdf",
                "http://shop example/e.pdf",
            ]
        );
        // A space in the path is what a site's file names hold (the download encodes it); one in the host is
        // no address at all.
        assert_eq!(
            warned(&p),
            vec![
                (WarningCode::NonHttpUrl, "ФайлыМакета[3].Файл"),
                (WarningCode::NonHttpUrl, "ФайлыМакета[4]"),
                (WarningCode::NonHttpUrl, "ФайлыМакета[8]"),
            ]
        );
        assert!(
            p.warnings[0]
                .message
                .contains("\"ftp://shop.example/c.cdr\"")
        );
    }

    #[test]
    fn a_lone_layout_file_string_is_one_file() {
        let p = read(with_phone(
            json!({"ФайлыМакета": "https://shop.example/a.pdf"}),
        ));
        assert_eq!(p.layout_files, vec!["https://shop.example/a.pdf"]);
    }

    #[test]
    fn an_amount_that_is_not_price_times_quantity_is_warned() {
        let p = one_line(json!({"Цена": 500, "Количество": 3, "Сумма": 1000}));
        assert_eq!(p.lines[0].amount, Some(d("1000")));
        assert_eq!(
            warned(&p),
            vec![(WarningCode::AmountMismatch, "Товары[1].Сумма")]
        );
        assert!(
            p.warnings[0].message.contains("500 × 3 = 1500"),
            "{}",
            p.warnings[0].message
        );
        // Rounding to kopecks is not a mismatch.
        let p = one_line(json!({"Цена": "33,333", "Количество": 3, "Сумма": "99,999"}));
        assert_eq!(p.warnings, vec![]);
        let p = one_line(json!({"Цена": "33,333", "Количество": 3, "Сумма": 100}));
        assert_eq!(p.warnings, vec![]);
        // Any of the three missing: nothing to compare.
        let p = one_line(json!({"Цена": 500, "Сумма": 1000}));
        assert_eq!(p.warnings, vec![]);
    }

    #[test]
    fn campaign_fields_are_kept_without_a_warning_but_are_no_lead_alone() {
        let p = read(json!({
            "Телефон": "+7 925 642 42-90",
            "utm_source": " yandex ",
            "utm_medium": "cpc",
            "utm_campaign": 2026,
            "page_url": "https://shop.example/banners?utm_source=yandex",
            "referrer": ""
        }));
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        assert_eq!(
            p.campaign,
            Campaign {
                utm_source: Some("yandex".into()),
                utm_medium: Some("cpc".into()),
                utm_campaign: Some("2026".into()),
                page_url: Some("https://shop.example/banners?utm_source=yandex".into()),
                referrer: None,
            }
        );
        assert!(
            read(json!({"Телефон": "+7 925 642 42-90"}))
                .campaign
                .is_empty()
        );
        assert!(matches!(
            Payload::from_value(&json!({"utm_source": "yandex"}), chrono_tz::UTC),
            Err(PayloadError::NoKnownField)
        ));
    }

    #[test]
    fn unknown_keys_are_warned_never_rejected() {
        let p = read(json!({
            "Телефон": "+7 925 642 42-90",
            "Скидка": 10,
            "Товары": [{
                "Номенклатура": "Баннер",
                "Цвет": "красный",
                "ДополнительныеРаботы": [{"ВидРаботы": "Люверсы", "Шаг": "30"}]
            }],
            "ФайлыМакета": [{"Файл": "https://a.example/x.pdf", "Размер": 100}]
        }));
        assert_eq!(
            warned(&p),
            vec![
                (WarningCode::UnknownKey, "Скидка"),
                (WarningCode::UnknownKey, "ФайлыМакета[1].Размер"),
                (WarningCode::UnknownKey, "Товары[1].Цвет"),
                (
                    WarningCode::UnknownKey,
                    "Товары[1].ДополнительныеРаботы[1].Шаг"
                ),
            ]
        );
        assert!(p.warnings[0].message.contains("\"Скидка\""));
        assert!(p.warnings[0].message.contains("10"));
        assert_eq!(p.lines[0].extra_works[0].kind.as_deref(), Some("Люверсы"));
    }

    #[test]
    fn keys_with_surrounding_whitespace_are_matched() {
        let p = read(json!({" Телефон ": "+7 925 642 42-90", "Товары\t": [{" Ширина": "2"}]}));
        assert_eq!(p.contact.phone_e164.as_deref(), Some("+79256424290"));
        assert_eq!(p.lines[0].width, Some(d("2")));
        assert_eq!(p.warnings, vec![]);
    }

    #[test]
    fn keys_are_matched_exactly_otherwise() {
        let p = read(json!({"телефон": "+7 925 642 42-90", "КонтактноеЛицо": "Иван"}));
        assert_eq!(p.contact.phone, None);
        assert_eq!(warned(&p), vec![(WarningCode::UnknownKey, "телефон")]);
    }

    #[test]
    fn a_value_of_the_wrong_type_is_absent_with_a_warning() {
        let p = read(json!({
            "Тема": {"текст": "Заказ"},
            "КонтактноеЛицо": ["Иван"],
            "Телефон": true,
            "ИНН": "7709745454",
            "ФайлыМакета": 5,
            "Товары": [{
                "Номенклатура": ["Баннер"],
                "Ширина": {"м": 2},
                "Услуга": [true],
                "ДополнительныеРаботы": "Люверсы"
            }]
        }));
        assert_eq!(p.subject, None);
        assert_eq!(p.contact.person, None);
        assert_eq!(p.contact.phone, None);
        assert_eq!(p.lines[0].nomenclature, None);
        assert_eq!(p.lines[0].width, None);
        assert!(p.lines[0].extra_works.is_empty());
        assert_eq!(
            warned(&p),
            vec![
                (WarningCode::UnexpectedType, "Тема"),
                (WarningCode::UnexpectedType, "КонтактноеЛицо"),
                (WarningCode::UnexpectedType, "Телефон"),
                (WarningCode::UnexpectedType, "ФайлыМакета"),
                (WarningCode::UnexpectedType, "Товары[1].Номенклатура"),
                (WarningCode::UnexpectedType, "Товары[1].Ширина"),
                (WarningCode::UnexpectedType, "Товары[1].Услуга"),
                (
                    WarningCode::UnexpectedType,
                    "Товары[1].ДополнительныеРаботы"
                ),
            ]
        );
        assert!(p.warnings[0].message.contains("{\"текст\":\"Заказ\"}"));
    }

    #[test]
    fn numbers_where_text_is_expected_become_their_text() {
        let p = one_line(json!({"СтанокКод": 1, "МатериалКод": 21, "Номенклатура": 2.5}));
        assert_eq!(p.lines[0].machine_code.as_deref(), Some("1"));
        assert_eq!(p.lines[0].material_code.as_deref(), Some("21"));
        assert_eq!(p.lines[0].nomenclature.as_deref(), Some("2.5"));
    }

    #[test]
    fn empty_strings_are_absent_and_text_is_trimmed() {
        let p = read(json!({
            "Тема": "",
            "Описание": "  ",
            "КонтактноеЛицо": "  Иван  ",
            "Товары": [{"Номенклатура": "Доставка ", "Ширина": "", "Услуга": ""}]
        }));
        assert_eq!(p.subject, None);
        assert_eq!(p.description, None);
        assert_eq!(p.contact.person.as_deref(), Some("Иван"));
        assert_eq!(p.lines[0].nomenclature.as_deref(), Some("Доставка"));
        assert_eq!(p.lines[0].width, None);
        assert_eq!(p.warnings, vec![]);
    }

    #[test]
    fn both_spellings_of_resolution_are_read_and_the_correct_one_wins() {
        assert_eq!(
            one_line(json!({"Разрешение": "720 dpi"})).lines[0]
                .resolution
                .as_deref(),
            Some("720 dpi")
        );
        assert_eq!(
            one_line(json!({"Разрешеине": "360 dpi"})).lines[0]
                .resolution
                .as_deref(),
            Some("360 dpi")
        );
        assert_eq!(
            one_line(json!({"Разрешеине": "360 dpi", "Разрешение": "720 dpi"})).lines[0]
                .resolution
                .as_deref(),
            Some("720 dpi")
        );
    }

    #[test]
    fn extra_works_that_are_not_objects_are_skipped_with_a_warning() {
        let p = one_line(json!({"ДополнительныеРаботы": [
            "Люверсы", null, {"ВидРаботы": "Проклейка", "Количество": "2,5"}
        ]}));
        assert_eq!(
            p.lines[0].extra_works,
            vec![ExtraWork {
                kind: Some("Проклейка".into()),
                quantity: Some(d("2.5")),
                description: None
            }]
        );
        assert_eq!(
            warned(&p),
            vec![(
                WarningCode::UnexpectedType,
                "Товары[1].ДополнительныеРаботы[1]"
            )]
        );
    }

    #[test]
    fn warnings_are_capped() {
        let mut object = Map::new();
        object.insert("КонтактноеЛицо".into(), json!("Иван"));
        for i in 0..(MAX_WARNINGS * 2) {
            object.insert(format!("Поле{i}"), json!(i));
        }
        let p = read(Value::Object(object));
        assert_eq!(p.warnings.len(), MAX_WARNINGS);
        assert!(p.warnings[MAX_WARNINGS - 1].message.contains("left out"));
        assert!(!p.warnings[MAX_WARNINGS - 2].message.contains("left out"));
        // Exactly as many as are kept: none is said to be left out.
        let mut object = Map::new();
        object.insert("КонтактноеЛицо".into(), json!("Иван"));
        for i in 0..MAX_WARNINGS {
            object.insert(format!("Поле{i}"), json!(i));
        }
        let p = read(Value::Object(object));
        assert_eq!(p.warnings.len(), MAX_WARNINGS);
        assert!(!p.warnings.iter().any(|w| w.message.contains("left out")));
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let long = "я".repeat(10_000);
        let p = read(json!({"КонтактноеЛицо": "Иван", "Шум": long}));
        assert!(p.warnings[0].message.chars().count() < 200);
        assert!(p.warnings[0].message.contains('…'));
    }

    #[test]
    fn inn_field_serialises_as_its_text_and_rereads() {
        let valid = InnField::parse("7709745454");
        assert!(valid.valid().is_some());
        assert_eq!(serde_json::to_string(&valid).unwrap(), "\"7709745454\"");
        let invalid = InnField::parse("123");
        assert_eq!(serde_json::to_string(&invalid).unwrap(), "\"123\"");
        assert_eq!(
            serde_json::from_str::<InnField>("\"123\"").unwrap(),
            invalid
        );
        assert_eq!(
            serde_json::from_str::<InnField>("\"7709745454\"").unwrap(),
            valid
        );
    }
}
