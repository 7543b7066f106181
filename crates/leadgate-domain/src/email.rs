//! A plausibility check for e-mail addresses typed into website forms.
//!
//! The only real test of an address is sending to it, and a lead is never rejected for a bad address: the
//! check exists to put a warning next to `ivan@mail,ru` so the manager phones instead. So it is a small,
//! predictable rule set (RFC 5321 lengths, one `@`, a dotted domain) rather than a full RFC 5322 grammar.

/// The longest address SMTP can carry (RFC 5321 forward-path limit).
const MAX_ADDRESS: usize = 254;
/// The longest local part (RFC 5321).
const MAX_LOCAL: usize = 64;
/// The longest domain label (RFC 1035).
const MAX_LABEL: usize = 63;

/// True when `s` looks like a deliverable `local@domain.tld` address.
///
/// The rules: no whitespace or control characters; exactly one `@`; a local part of 1 to 64 bytes that
/// neither starts nor ends with a dot nor holds two dots in a row; a domain of at least two labels, each 1 to
/// 63 bytes of letters, digits and inner hyphens; a top-level label of at least two characters that is not
/// all digits; 254 bytes at most in all. Non-ASCII letters are allowed (internationalised addresses).
pub fn is_plausible(s: &str) -> bool {
    if s.is_empty() || s.len() > MAX_ADDRESS {
        return false;
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let mut parts = s.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    local_is_plausible(local) && domain_is_plausible(domain)
}

fn local_is_plausible(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= MAX_LOCAL
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !local.chars().any(|c| {
            matches!(
                c,
                '(' | ')' | '<' | '>' | ',' | ';' | ':' | '\\' | '"' | '[' | ']'
            )
        })
}

fn domain_is_plausible(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let labels_ok = labels.iter().all(|label| {
        !label.is_empty()
            && label.len() <= MAX_LABEL
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
    });
    let tld_ok = labels
        .last()
        .is_some_and(|tld| tld.chars().count() >= 2 && !tld.chars().all(|c| c.is_ascii_digit()));
    labels_ok && tld_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ordinary_addresses_are_plausible() {
        for s in [
            "adwcom@gmail.com",
            "ivan.petrov+shop@mail.ru",
            "a@b.co",
            "info@типография.рф",
            "o'brien@sub.example.co.uk",
        ] {
            assert!(is_plausible(s), "{s:?}");
        }
    }

    #[test]
    fn typing_mistakes_are_not_plausible() {
        for s in [
            "",
            "adwcom",
            "adwcom@",
            "@gmail.com",
            "adwcom@gmail",
            "adwcom@gmail,com",
            "adw com@gmail.com",
            "adwcom@@gmail.com",
            "a@b@gmail.com",
            ".adwcom@gmail.com",
            "adw..com@gmail.com",
            "adwcom@gmail..com",
            "adwcom@-gmail.com",
            "adwcom@gmail.c",
            "adwcom@10.0.0.1",
            "adwcom@gmail.com\n",
        ] {
            assert!(!is_plausible(s), "{s:?}");
        }
        assert!(!is_plausible(&format!("{}@mail.ru", "a".repeat(65))));
        assert!(!is_plausible(&format!("a@{}.ru", "b".repeat(64))));
    }

    proptest! {
        #[test]
        fn any_text_never_panics(s in ".*") {
            let _ = is_plausible(&s);
        }

        #[test]
        fn simple_generated_addresses_are_plausible(
            local in "[a-z0-9_]{1,20}",
            domain in "[a-z0-9]{1,20}",
            tld in "[a-z]{2,6}",
        ) {
            let address = format!("{local}@{domain}.{tld}");
            prop_assert!(is_plausible(&address));
        }
    }
}
