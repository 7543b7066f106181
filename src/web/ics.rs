//! An iCalendar (RFC 5545) writer for the calendar feed, so managers can subscribe from a phone or Outlook.
//!
//! Only what a read-only feed needs: one `VEVENT` per lead with a stable `UID`, times in UTC, text values
//! escaped (`\\`, `;`, `,`, newlines), lines folded at 75 octets without splitting a UTF-8 character, and
//! CRLF line ends throughout.

use chrono::{DateTime, Duration, Utc};

/// One event of the feed.
#[derive(Debug, Clone)]
pub struct Event {
    /// Globally unique, stable id.
    pub uid: String,
    /// When it starts.
    pub start: DateTime<Utc>,
    /// How long it is shown.
    pub duration: Duration,
    /// Last change (DTSTAMP).
    pub stamp: DateTime<Utc>,
    /// Title.
    pub summary: String,
    /// Body text.
    pub description: String,
    /// Link back to the lead page, when the feed knows its own address.
    pub url: Option<String>,
    /// `CANCELLED` for rejected leads, `CONFIRMED` otherwise.
    pub cancelled: bool,
}

/// Escapes a TEXT value (RFC 5545 §3.3.11). Control characters other than newline are dropped.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let normalised = s.replace("\r\n", "\n").replace('\r', "\n");
    for c in normalised.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded at 75 octets (continuations start with a space), ending in CRLF.
fn push_line(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// The whole `VCALENDAR` with its events.
pub fn calendar(name: &str, events: &[Event]) -> String {
    let mut out = String::new();
    for line in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//leadgate//leadgate calendar feed//RU",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ] {
        push_line(&mut out, line);
    }
    push_line(&mut out, &format!("X-WR-CALNAME:{}", escape_text(name)));
    for e in events {
        push_line(&mut out, "BEGIN:VEVENT");
        push_line(&mut out, &format!("UID:{}", escape_text(&e.uid)));
        push_line(&mut out, &format!("DTSTAMP:{}", stamp(e.stamp)));
        push_line(&mut out, &format!("DTSTART:{}", stamp(e.start)));
        push_line(&mut out, &format!("DTEND:{}", stamp(e.start + e.duration)));
        push_line(&mut out, &format!("SUMMARY:{}", escape_text(&e.summary)));
        if !e.description.is_empty() {
            push_line(
                &mut out,
                &format!("DESCRIPTION:{}", escape_text(&e.description)),
            );
        }
        if let Some(url) = &e.url {
            // A URI value, not TEXT: it is not escaped, so only plain URLs built by leadgate go here.
            push_line(&mut out, &format!("URL:{url}"));
        }
        push_line(
            &mut out,
            if e.cancelled {
                "STATUS:CANCELLED"
            } else {
                "STATUS:CONFIRMED"
            },
        );
        push_line(&mut out, "END:VEVENT");
    }
    push_line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn event(summary: &str) -> Event {
        Event {
            uid: "lead-1@leadgate".into(),
            start: DateTime::parse_from_rfc3339("2019-05-29T12:15:00Z")
                .unwrap()
                .with_timezone(&Utc),
            duration: Duration::minutes(30),
            stamp: DateTime::parse_from_rfc3339("2019-05-29T12:16:00Z")
                .unwrap()
                .with_timezone(&Utc),
            summary: summary.into(),
            description: "Телефон: +7 925\nИНН; 7709745454, ok\\".into(),
            url: None,
            cancelled: false,
        }
    }

    #[test]
    fn text_is_escaped_and_every_line_ends_in_crlf() {
        let ics = calendar("Заявки, сайт", &[event("Заказ №123; срочно")]);
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        assert!(!ics.replace("\r\n", "").contains('\n'));
        assert!(ics.contains("X-WR-CALNAME:Заявки\\, сайт\r\n"));
        assert!(ics.contains("SUMMARY:Заказ №123\\; срочно\r\n"));
        assert!(ics.contains("DESCRIPTION:Телефон: +7 925\\nИНН\\; 7709745454\\, ok\\\\\r\n"));
        assert!(ics.contains("UID:lead-1@leadgate\r\n"));
        assert!(ics.contains("DTSTART:20190529T121500Z\r\nDTEND:20190529T124500Z\r\n"));
    }

    #[test]
    fn long_lines_fold_at_75_octets_without_splitting_characters() {
        let ics = calendar("x", &[event(&"Ш".repeat(100))]);
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line}", line.len());
        }
        let unfolded = ics.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("SUMMARY:{}\r\n", "Ш".repeat(100))));
    }

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(escape_text("a\u{0}b\u{1b}c\r\nd"), "abc\\nd");
    }
}
