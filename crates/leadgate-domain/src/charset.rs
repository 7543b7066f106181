//! Turning payload bytes into text.
//!
//! Sites built for the original 1C integration send their JSON in Windows-1251, newer ones in UTF-8, and a few
//! declare one thing and send another. The order of evidence is fixed by the specification: the charset the
//! part or request declares, then a byte-order mark, then "is it valid UTF-8", then the collector's or
//! source's default (Windows-1251 unless configured otherwise). One step is added before the default: UTF-8
//! text with a few broken bytes (a PHP `substr` that cut a letter in half) is still UTF-8, read with those
//! bytes replaced, rather than Windows-1251 mojibake whose keys match nothing.

use encoding_rs::Encoding;

/// How the text of a payload was decoded, kept so a warning can say why Cyrillic looks wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The decoded text, without any byte-order mark.
    pub text: String,
    /// The encoding that was used.
    pub encoding: &'static Encoding,
    /// Which rule chose the encoding.
    pub chosen_by: ChosenBy,
    /// True when some bytes were not valid in that encoding and were replaced by U+FFFD.
    pub had_errors: bool,
}

/// The rule that decided the charset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChosenBy {
    /// The `charset=` of the MIME part or of the HTTP `Content-Type`.
    Declared,
    /// A UTF-8 or UTF-16 byte-order mark.
    ByteOrderMark,
    /// The bytes are valid UTF-8.
    ValidUtf8,
    /// The bytes are UTF-8 but for a few invalid ones: their valid multi-byte characters outnumber their
    /// invalid sequences more than twice.
    MostlyUtf8,
    /// The configured default.
    Default,
}

/// Looks up a charset label (`windows-1251`, `cp1251`, `koi8-r`, `utf-8`, ...), as WHATWG defines labels.
///
/// Returns `None` for labels no browser knows, so the caller can fall back to the next rule.
pub fn encoding_for_label(label: &str) -> Option<&'static Encoding> {
    let label = label.trim().trim_matches('"');
    Encoding::for_label(label.as_bytes()).or_else(|| match label.to_ascii_lowercase().as_str() {
        // Labels seen from mail clients that the WHATWG list spells differently.
        "cp-1251" | "win-1251" | "win1251" => Some(encoding_rs::WINDOWS_1251),
        "utf8" => Some(encoding_rs::UTF_8),
        _ => None,
    })
}

/// Decodes `bytes` following the specification's order: declared charset, byte-order mark, valid UTF-8, default.
///
/// An unknown declared label is ignored (the next rule applies). Never fails: undecodable bytes become U+FFFD
/// and `had_errors` is set.
pub fn decode(bytes: &[u8], declared: Option<&str>, default: &'static Encoding) -> Decoded {
    if let Some(encoding) = declared.and_then(encoding_for_label) {
        // A BOM that contradicts the declaration wins: it cannot appear by accident.
        if let Some((bom_encoding, _)) = Encoding::for_bom(bytes)
            && bom_encoding != encoding
        {
            return with(bytes, bom_encoding, ChosenBy::ByteOrderMark);
        }
        return with(bytes, encoding, ChosenBy::Declared);
    }
    if let Some((encoding, _)) = Encoding::for_bom(bytes) {
        return with(bytes, encoding, ChosenBy::ByteOrderMark);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Decoded {
            text: text.to_owned(),
            encoding: encoding_rs::UTF_8,
            chosen_by: ChosenBy::ValidUtf8,
            had_errors: false,
        };
    }
    if mostly_utf8(bytes) {
        return with(bytes, encoding_rs::UTF_8, ChosenBy::MostlyUtf8);
    }
    with(bytes, default, ChosenBy::Default)
}

/// Whether bytes that are not valid UTF-8 are UTF-8 text with a few broken bytes: its valid multi-byte
/// characters (Cyrillic in UTF-8) outnumber its invalid sequences more than twice. Cyrillic in Windows-1251 is
/// the opposite: nearly every letter is an invalid UTF-8 sequence, and the rare valid pair (`О»` is a valid
/// two-byte sequence) is far outnumbered.
fn mostly_utf8(mut bytes: &[u8]) -> bool {
    let multibyte = |text: &str| text.chars().filter(|c| !c.is_ascii()).count();
    let (mut valid, mut invalid) = (0usize, 0usize);
    loop {
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                valid += multibyte(text);
                break;
            }
            Err(e) => {
                let (good, rest) = bytes.split_at(e.valid_up_to());
                valid += multibyte(std::str::from_utf8(good).unwrap_or_default());
                invalid += 1;
                bytes = &rest[e.error_len().unwrap_or(rest.len())..];
            }
        }
    }
    valid > 2 * invalid
}

fn with(bytes: &[u8], encoding: &'static Encoding, chosen_by: ChosenBy) -> Decoded {
    // `decode` sniffs and strips a BOM; `chosen_by` already records which rule applied.
    let (text, actual, had_errors) = encoding.decode(bytes);
    Decoded {
        text: text.into_owned(),
        encoding: actual,
        chosen_by,
        had_errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{KOI8_R, UTF_16LE, WINDOWS_1251};

    const SAMPLE: &str = "Заказ №123: Люверсы";

    #[test]
    fn windows_1251_bytes_without_a_declaration_fall_back_to_the_default() {
        let (bytes, _, _) = WINDOWS_1251.encode(SAMPLE);
        let decoded = decode(&bytes, None, WINDOWS_1251);
        assert_eq!(decoded.text, SAMPLE);
        assert_eq!(decoded.chosen_by, ChosenBy::Default);
        assert!(!decoded.had_errors);
    }

    #[test]
    fn utf8_with_a_few_broken_bytes_is_still_utf8_with_them_replaced() {
        // A letter cut in half at the end, as PHP's substr leaves it, and a stray byte in the middle.
        let mut bytes = "{\"Тема\": \"Зак".as_bytes().to_vec();
        bytes.push(0xFF);
        bytes.extend_from_slice("а".as_bytes());
        bytes.push(0xD0);
        bytes.extend_from_slice(b"\"}");
        let decoded = decode(&bytes, None, WINDOWS_1251);
        assert_eq!(decoded.chosen_by, ChosenBy::MostlyUtf8);
        assert_eq!(decoded.text, "{\"Тема\": \"Зак\u{FFFD}а\u{FFFD}\"}");
        assert!(decoded.had_errors);
    }

    #[test]
    fn windows_1251_with_chance_utf8_pairs_stays_windows_1251() {
        // «О»» in Windows-1251 is CE BB: a valid two-byte UTF-8 sequence among many invalid ones.
        let sample = r#"{"Тема": "Заказ для «ООО»", "КонтактноеЛицо": "Ёлкин"}"#;
        let (bytes, _, _) = WINDOWS_1251.encode(sample);
        let decoded = decode(&bytes, None, WINDOWS_1251);
        assert_eq!(decoded.chosen_by, ChosenBy::Default);
        assert_eq!(decoded.text, sample);
    }

    #[test]
    fn valid_utf8_is_recognised_before_the_default() {
        let decoded = decode(SAMPLE.as_bytes(), None, WINDOWS_1251);
        assert_eq!(decoded.text, SAMPLE);
        assert_eq!(decoded.chosen_by, ChosenBy::ValidUtf8);
    }

    #[test]
    fn a_declared_koi8_r_charset_is_honoured() {
        // KOI8-R has no "№", so this sample leaves it out.
        let sample = "Заказ 123: Люверсы";
        let (bytes, _, _) = KOI8_R.encode(sample);
        let decoded = decode(&bytes, Some("KOI8-R"), WINDOWS_1251);
        assert_eq!(decoded.text, sample);
        assert_eq!(decoded.chosen_by, ChosenBy::Declared);
    }

    #[test]
    fn utf16_with_a_byte_order_mark_decodes() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in SAMPLE.encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let decoded = decode(&bytes, None, WINDOWS_1251);
        assert_eq!(decoded.text, SAMPLE);
        assert_eq!(decoded.encoding, UTF_16LE);
        assert_eq!(decoded.chosen_by, ChosenBy::ByteOrderMark);
    }

    #[test]
    fn a_utf8_byte_order_mark_is_stripped() {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice(SAMPLE.as_bytes());
        let decoded = decode(&bytes, None, WINDOWS_1251);
        assert_eq!(decoded.text, SAMPLE);
    }

    #[test]
    fn an_unknown_declared_label_falls_through_to_the_next_rule() {
        let (bytes, _, _) = WINDOWS_1251.encode(SAMPLE);
        let decoded = decode(&bytes, Some("x-unknown"), WINDOWS_1251);
        assert_eq!(decoded.text, SAMPLE);
        assert_eq!(decoded.chosen_by, ChosenBy::Default);
    }

    #[test]
    fn cp1251_alias_is_known() {
        assert_eq!(encoding_for_label("cp1251"), Some(WINDOWS_1251));
        assert_eq!(encoding_for_label("\"windows-1251\""), Some(WINDOWS_1251));
    }
}
