//! Deciding from a subject line whether a message is a site request, and which external number it carries.
//!
//! Sites built for the original 1C integration mark their mail with a keyword in the subject (`ORDER: 123`),
//! and people forward such mail (`Fwd: order: 5`) or sites put it inside Russian text (`Новый заказ ORDER 7`).
//! The rule must accept all of those and still reject the keyword inside a longer word (`BORDERLINE`), so it
//! matches whole words, case-insensitively, with Unicode-aware word boundaries: a Cyrillic letter glued to the
//! keyword makes it part of a longer word just as a Latin one does.
//!
//! The subject given here is already decoded (RFC 2047); the mail channel decodes it before asking.

/// The keyword was found in a subject; what followed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordMatch {
    /// The site's own number for the request: the token after the keyword (`123` in `ORDER: 123`), with
    /// whatever is not a letter or digit skipped before it and trimmed after it. `None` when nothing follows
    /// the keyword.
    pub external_number: Option<String>,
}

/// Looks for `keyword` as a whole word in `subject`, ignoring case.
///
/// A word character is alphanumeric (in any script) or `_`; the keyword matches only where neither the
/// character before nor the one after is a word character. The first such occurrence counts. Case is compared
/// character by character through Unicode lowercase, so `order`, `ORDER` and `Order` are the same keyword.
///
/// The external number is the token after the keyword, skipping whatever is not a letter or digit
/// (whitespace, `:`, `№`, `#`, dashes, brackets: `ORDER-123`, `[ORDER] 123` and `ORDER (123)` are order 123);
/// it ends at whitespace, `,` or `;`, and the punctuation that closes it (`.`, `)`) is not part of it; inside
/// it, dashes and slashes stay (`7-А`, `12/3`). An empty keyword never matches.
///
/// ```
/// use leadgate_domain::subject::keyword_match;
///
/// let found = keyword_match("Fwd: order: 5", "ORDER").map(|m| m.external_number);
/// assert_eq!(found, Some(Some("5".to_owned())));
/// assert_eq!(keyword_match("BORDERLINE 5", "ORDER"), None);
/// ```
pub fn keyword_match(subject: &str, keyword: &str) -> Option<KeywordMatch> {
    if keyword.is_empty() {
        return None;
    }
    let mut previous: Option<char> = None;
    for (start, ch) in subject.char_indices() {
        let at_word_start = previous.is_none_or(|p| !is_word_char(p));
        previous = Some(ch);
        if !at_word_start {
            continue;
        }
        let Some(end) = match_at(subject, start, keyword) else {
            continue;
        };
        let rest = &subject[end..];
        if rest.chars().next().is_some_and(is_word_char) {
            continue;
        }
        return Some(KeywordMatch {
            external_number: number_after(rest),
        });
    }
    None
}

/// Whether `ch` belongs to a word: alphanumeric in any script, or `_`.
fn is_word_char(ch: char) -> bool {
    ch.is_alphanumeric() || ch == '_'
}

/// If `keyword` matches `subject` at byte offset `start` (ignoring case), the byte offset just past it.
fn match_at(subject: &str, start: usize, keyword: &str) -> Option<usize> {
    let mut haystack = subject.get(start..)?.char_indices();
    let mut end = start;
    for expected in keyword.chars() {
        let (offset, actual) = haystack.next()?;
        if !same_ignoring_case(actual, expected) {
            return None;
        }
        end = start + offset + actual.len_utf8();
    }
    Some(end)
}

fn same_ignoring_case(a: char, b: char) -> bool {
    a == b || a.to_lowercase().eq(b.to_lowercase())
}

/// The token after the keyword: whatever is not a letter or digit skipped (but `,` or `;` right after the
/// keyword: no number), then everything up to whitespace, `,` or `;`, without the punctuation that closes it.
fn number_after(rest: &str) -> Option<String> {
    let token = rest.trim_start_matches(|c: char| !c.is_alphanumeric() && !matches!(c, ',' | ';'));
    let end = token
        .find(|c: char| c.is_whitespace() || matches!(c, ',' | ';'))
        .unwrap_or(token.len());
    let token = token[..end].trim_end_matches(|c: char| !c.is_alphanumeric());
    (!token.is_empty()).then(|| token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn number(subject: &str) -> Option<Option<String>> {
        keyword_match(subject, "ORDER").map(|m| m.external_number)
    }

    fn some(n: &str) -> Option<Option<String>> {
        Some(Some(n.to_owned()))
    }

    #[test]
    fn the_seed_subject_yields_its_number() {
        assert_eq!(number("ORDER: 123"), some("123"));
    }

    #[test]
    fn a_forwarded_lowercase_subject_still_counts() {
        assert_eq!(number("Fwd: order: 5"), some("5"));
    }

    #[test]
    fn the_keyword_inside_cyrillic_text_counts() {
        assert_eq!(number("Новый заказ ORDER 7"), some("7"));
        assert_eq!(number("Заявка ORDER: 42"), some("42"));
    }

    #[test]
    fn the_keyword_inside_a_longer_word_does_not_count() {
        assert_eq!(number("BORDERLINE 5"), None);
        assert_eq!(number("ORDERS 5"), None);
        assert_eq!(number("ORDER_5"), None);
        assert_eq!(number("ORDER5"), None);
        // Cyrillic letters are word characters too.
        assert_eq!(number("заказORDER 5"), None);
        assert_eq!(number("ORDERы 5"), None);
    }

    #[test]
    fn a_subject_without_the_keyword_does_not_count() {
        assert_eq!(number("Вопрос по заказу"), None);
        assert_eq!(number(""), None);
        assert_eq!(number("ORDE"), None);
    }

    #[test]
    fn hash_and_numero_signs_are_skipped() {
        assert_eq!(number("ORDER #88"), some("88"));
        assert_eq!(number("ORDER №5"), some("5"));
        assert_eq!(number("ORDER: № 5"), some("5"));
        assert_eq!(number("ORDER:#:№\t 9"), some("9"));
        assert_eq!(number("ORDER-110"), some("110"));
        assert_eq!(number("[ORDER] 109"), some("109"));
        assert_eq!(number("ORDER.120"), some("120"));
        assert_eq!(number("ORDER: 1042."), some("1042"));
        assert_eq!(number("ORDER (1042)"), some("1042"));
        assert_eq!(number("ORDER/1042"), some("1042"));
        assert_eq!(number("ORDER: 12/3-Б, спасибо"), some("12/3-Б"));
        assert_eq!(number("ORDER: ..."), Some(None));
        assert_eq!(number("ORDER – 7-А"), some("7-А"));
    }

    #[test]
    fn the_number_ends_at_whitespace_comma_or_semicolon() {
        assert_eq!(number("RE: ORDER: 77 заявка"), some("77"));
        assert_eq!(number("ORDER: 12,срочно"), some("12"));
        assert_eq!(number("ORDER: A-12/3;x"), some("A-12/3"));
    }

    #[test]
    fn nothing_after_the_keyword_gives_no_number() {
        assert_eq!(number("ORDER"), Some(None));
        assert_eq!(number("ORDER:  "), Some(None));
        assert_eq!(number("Заявка ORDER: ,x"), Some(None));
    }

    #[test]
    fn punctuation_around_the_keyword_is_a_boundary() {
        assert_eq!(number("[ORDER] 5"), some("5"));
        assert_eq!(number("(order:15)"), some("15"));
    }

    #[test]
    fn the_first_whole_word_occurrence_counts() {
        assert_eq!(number("BORDER ORDER 3 ORDER 4"), some("3"));
    }

    #[test]
    fn a_cyrillic_keyword_matches_case_insensitively() {
        let found = keyword_match("Новая ЗАЯВКА №15", "заявка").map(|m| m.external_number);
        assert_eq!(found, some("15"));
    }

    #[test]
    fn an_empty_keyword_never_matches() {
        assert_eq!(keyword_match("ORDER: 1", ""), None);
    }

    proptest! {
        #[test]
        fn never_panics(subject in any::<String>(), keyword in any::<String>()) {
            let _ = keyword_match(&subject, &keyword);
        }

        #[test]
        fn never_panics_near_the_keyword(prefix in "\\PC{0,8}", suffix in "\\PC{0,12}") {
            let subject = format!("{prefix}ORDER{suffix}");
            let _ = keyword_match(&subject, "order");
        }

        #[test]
        fn a_number_after_the_keyword_is_found(
            n in "[0-9A-Za-zА-Яа-я]([0-9A-Za-zА-Яа-я/-]{0,8}[0-9A-Za-zА-Яа-я])?",
            sep in "[ :#№–—.()\\[\\]/-]{0,4}",
        ) {
            let subject = format!("Заявка ORDER{sep} {n}, спасибо");
            prop_assert_eq!(number(&subject), Some(Some(n)));
        }
    }
}
