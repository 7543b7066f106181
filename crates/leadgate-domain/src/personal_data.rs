//! Finding a person's data for an erasure request (152-ФЗ): the person names one phone, e-mail or INN, and
//! leadgate must find every place that holds it, however the site wrote it.
//!
//! So the request is read into one canonical form at the edge, the same form the lead columns are compared
//! in: a phone in E.164 (`8 (925) 642-42-90` finds `+7 925 642 42-90`), an e-mail lower-cased, an INN as its
//! digits. [`PersonDataQuery::mentioned_in`] finds the same value in free text (the raw bytes of a rejected
//! message, which has no lead whose columns could be compared).

use super::phone;

/// What kind of value a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    /// A phone number.
    Phone,
    /// An e-mail address.
    Email,
    /// An INN.
    Inn,
}

impl QueryKind {
    /// `phone`, `email` or `inn`.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryKind::Phone => "phone",
            QueryKind::Email => "email",
            QueryKind::Inn => "inn",
        }
    }
}

/// One person's phone, e-mail or INN in canonical form. The fields are private: a query always holds a
/// normalised value.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonDataQuery {
    kind: QueryKind,
    value: String,
}

/// The value cannot name anything.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    /// Not a phone number leadgate would have stored.
    #[error("not a phone number")]
    NotAPhone,
    /// Not an e-mail address.
    #[error("not an e-mail address")]
    NotAnEmail,
    /// An INN has 10 or 12 digits.
    #[error("an INN has 10 or 12 digits")]
    NotAnInn,
    /// Exactly one of phone, e-mail and INN must be given.
    #[error("give exactly one of phone, email and inn")]
    NotOne,
}

/// The longest value accepted (an e-mail address is at most 254 bytes).
const MAX_VALUE: usize = 320;

impl PersonDataQuery {
    /// A phone as people write it, in its E.164 form (a number without a country code is Russian).
    ///
    /// # Errors
    /// [`QueryError::NotAPhone`].
    pub fn phone(raw: &str) -> Result<Self, QueryError> {
        let value = (raw.len() <= MAX_VALUE)
            .then(|| phone::to_e164(raw.trim()))
            .flatten()
            .ok_or(QueryError::NotAPhone)?;
        Ok(Self {
            kind: QueryKind::Phone,
            value,
        })
    }

    /// An e-mail address, compared case-insensitively.
    ///
    /// # Errors
    /// [`QueryError::NotAnEmail`] without an `@` between two non-empty parts, or with a space or a control
    /// character.
    pub fn email(raw: &str) -> Result<Self, QueryError> {
        let value = raw.trim().to_lowercase();
        let ok = value.len() <= MAX_VALUE
            && !value.chars().any(|c| c.is_whitespace() || c.is_control())
            && value
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
        if !ok {
            return Err(QueryError::NotAnEmail);
        }
        Ok(Self {
            kind: QueryKind::Email,
            value,
        })
    }

    /// An INN by its digits (spaces and hyphens ignored; the check digits are not required, since a lead
    /// keeps an INN as sent, valid or not).
    ///
    /// # Errors
    /// [`QueryError::NotAnInn`] unless 10 or 12 digits remain and nothing else.
    pub fn inn(raw: &str) -> Result<Self, QueryError> {
        let value = digits_of(raw);
        let only_digits = raw
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_whitespace() || c == '-');
        if !only_digits || !matches!(value.len(), 10 | 12) {
            return Err(QueryError::NotAnInn);
        }
        Ok(Self {
            kind: QueryKind::Inn,
            value,
        })
    }

    /// The query from optional `phone`, `email` and `inn` fields (a form or a query string), exactly one of
    /// which is given (blank counts as not given).
    ///
    /// # Errors
    /// [`QueryError::NotOne`], or the error of the one given.
    pub fn from_fields(
        phone: Option<&str>,
        email: Option<&str>,
        inn: Option<&str>,
    ) -> Result<Self, QueryError> {
        fn given(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        match (given(phone), given(email), given(inn)) {
            (Some(p), None, None) => Self::phone(p),
            (None, Some(e), None) => Self::email(e),
            (None, None, Some(i)) => Self::inn(i),
            _ => Err(QueryError::NotOne),
        }
    }

    /// The kind of value.
    pub fn kind(&self) -> QueryKind {
        self.kind
    }

    /// The canonical value: E.164, lower-case e-mail, or INN digits.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether a lead's or a contact's stored phone is this one.
    pub fn is_phone(&self, stored: &str) -> bool {
        self.kind == QueryKind::Phone
            && (stored == self.value || phone::to_e164(stored).is_some_and(|p| p == self.value))
    }

    /// Whether a stored e-mail is this one (case-insensitively, surrounding spaces ignored).
    pub fn is_email(&self, stored: &str) -> bool {
        self.kind == QueryKind::Email && stored.trim().to_lowercase() == self.value
    }

    /// Whether a stored INN (as sent) has these digits.
    pub fn is_inn(&self, stored: &str) -> bool {
        self.kind == QueryKind::Inn && digits_of(stored) == self.value
    }

    /// Whether the value occurs in free text: the e-mail as a whole address (not inside a longer one), the
    /// phone or INN as a run of digits however it is spaced or punctuated (`8 (925) 642-42-90`), not as part
    /// of a longer number.
    pub fn mentioned_in(&self, text: &str) -> bool {
        match self.kind {
            QueryKind::Email => email_in(&text.to_lowercase(), &self.value),
            QueryKind::Phone | QueryKind::Inn => number_runs(text)
                .iter()
                .any(|run| (0..run.len()).any(|start| self.starts_run(&run[start..]))),
        }
    }

    /// Whether the value is written by the first one or more digit groups of `groups`.
    fn starts_run(&self, groups: &[(bool, String)]) -> bool {
        let plus = groups.first().is_some_and(|(plus, _)| *plus);
        let mut digits = String::new();
        for (_, group) in groups {
            digits.push_str(group);
            if digits.len() > 16 {
                return false;
            }
            let found = match self.kind {
                QueryKind::Inn => digits == self.value,
                _ if digits.len() < 7 => false,
                _ if plus => self.is_phone(&format!("+{digits}")),
                _ => self.is_phone(&digits),
            };
            if found {
                return true;
            }
        }
        false
    }
}

/// Never shows the value (it is personal data), only its kind.
impl std::fmt::Debug for PersonDataQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PersonDataQuery({})", self.kind.as_str())
    }
}

fn digits_of(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Characters that may sit inside a written phone number or INN.
fn is_number_punctuation(c: char) -> bool {
    matches!(
        c,
        ' ' | '-' | '(' | ')' | '.' | '\u{a0}' | '\u{2011}' | '\u{2013}'
    )
}

/// The runs of digit groups in text: each run is a list of `(preceded by '+', digits)` groups joined only by
/// spaces and the usual punctuation.
fn number_runs(text: &str) -> Vec<Vec<(bool, String)>> {
    let mut runs = Vec::new();
    let mut run: Vec<(bool, String)> = Vec::new();
    let mut group = String::new();
    let mut plus = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            group.push(c);
        } else {
            if !group.is_empty() {
                run.push((plus, std::mem::take(&mut group)));
                plus = false;
            }
            if c == '+' {
                plus = true;
            } else if !is_number_punctuation(c) {
                if !run.is_empty() {
                    runs.push(std::mem::take(&mut run));
                }
                plus = false;
            }
        }
    }
    if !group.is_empty() {
        run.push((plus, group));
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

/// Whether `needle` (a lower-case address) occurs in `haystack` (lower-cased) as a whole address.
fn email_in(haystack: &str, needle: &str) -> bool {
    let inside = |c: char| c.is_alphanumeric() || "._%+-".contains(c);
    let mut from = 0;
    while let Some(at) = haystack.get(from..).and_then(|h| h.find(needle)) {
        let start = from + at;
        let end = start + needle.len();
        let before = haystack[..start].chars().next_back();
        let mut after = haystack[end..].chars();
        let next = after.next();
        let whole_before = !before.is_some_and(inside);
        // A dot after the address ends a sentence unless a domain label follows it.
        let whole_after = match next {
            None => true,
            Some('.') => !after.next().is_some_and(char::is_alphanumeric),
            Some(c) => !(c.is_alphanumeric() || c == '-' || c == '_'),
        };
        if whole_before && whole_after {
            return true;
        }
        from = start + needle.chars().next().map_or(1, char::len_utf8);
    }
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_phone_written_any_way_is_one_query() {
        let a = PersonDataQuery::phone("8 (925) 642-42-90").unwrap();
        let b = PersonDataQuery::phone("+7 925 642 42-90").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.value(), "+79256424290");
        assert!(a.is_phone("89256424290"));
        assert!(!a.is_phone("+79256424291"));
        assert_eq!(
            PersonDataQuery::phone("позвоните мне"),
            Err(QueryError::NotAPhone)
        );
    }

    #[test]
    fn an_email_matches_whatever_its_case() {
        let q = PersonDataQuery::email(" AdwCom@Gmail.COM ").unwrap();
        assert!(q.is_email("adwcom@gmail.com"));
        assert!(q.is_email("ADWCOM@GMAIL.COM "));
        assert!(!q.is_email("xadwcom@gmail.com"));
        assert_eq!(
            PersonDataQuery::email("adwcom"),
            Err(QueryError::NotAnEmail)
        );
        for control in ["adw\0com@gmail.com", "adwcom@gmail\u{1b}.com"] {
            assert_eq!(
                PersonDataQuery::email(control),
                Err(QueryError::NotAnEmail),
                "{control:?}"
            );
        }
    }

    #[test]
    fn an_inn_matches_by_its_digits() {
        let q = PersonDataQuery::inn("7709 745 454").unwrap();
        assert!(q.is_inn("7709745454"));
        assert!(q.is_inn(" 7709-745-454"));
        assert!(!q.is_inn("77097454541"));
        assert_eq!(PersonDataQuery::inn("77097"), Err(QueryError::NotAnInn));
        assert_eq!(
            PersonDataQuery::inn("ИНН 7709745454"),
            Err(QueryError::NotAnInn)
        );
    }

    #[test]
    fn exactly_one_field_makes_a_query() {
        assert!(PersonDataQuery::from_fields(Some("89256424290"), Some(""), None).is_ok());
        assert_eq!(
            PersonDataQuery::from_fields(Some("89256424290"), Some("a@b.ru"), None),
            Err(QueryError::NotOne)
        );
        assert_eq!(
            PersonDataQuery::from_fields(None, Some(" "), None),
            Err(QueryError::NotOne)
        );
    }

    #[test]
    fn a_phone_is_found_in_text_however_it_is_punctuated() {
        let q = PersonDataQuery::phone("+79256424290").unwrap();
        assert!(q.mentioned_in(r#"{"Телефон": "+7 925 642 42-90"}"#));
        assert!(q.mentioned_in("звоните 8 (925) 642-42-90 после обеда"));
        assert!(q.mentioned_in("тел. 89161234567, 89256424290"));
        assert!(q.mentioned_in("89161234567 9256424290"));
        assert!(!q.mentioned_in("заказ 1289256424290"));
        assert!(!q.mentioned_in("+7 925 642 42-91"));
    }

    #[test]
    fn an_inn_is_found_in_text_as_a_whole_number() {
        let q = PersonDataQuery::inn("7709745454").unwrap();
        assert!(q.mentioned_in(r#"{"ИНН": "7709745454"}"#));
        assert!(q.mentioned_in("ИНН 7709 745 454."));
        assert!(!q.mentioned_in("77097454540"));
    }

    #[test]
    fn an_email_is_found_in_text_only_as_a_whole_address() {
        let q = PersonDataQuery::email("adwcom@gmail.com").unwrap();
        assert!(q.mentioned_in("From: Алексей <ADWCOM@gmail.com>"));
        assert!(q.mentioned_in("пишите на adwcom@gmail.com."));
        assert!(!q.mentioned_in("xadwcom@gmail.com"));
        assert!(!q.mentioned_in("adwcom@gmail.com.ru"));
    }

    #[test]
    fn a_query_never_shows_its_value_in_logs() {
        let q = PersonDataQuery::email("adwcom@gmail.com").unwrap();
        assert_eq!(format!("{q:?}"), "PersonDataQuery(email)");
    }
}
