//! A site order forwarded as an attachment, the way a manager's mail client forwards it ("Forward As
//! Attachment"): a new message from the manager whose second part is the original, byte for byte, as
//! `message/rfc822`.
//!
//! Pure: the mail extraction tests use it without the rest of the test support.

/// How the attached original is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carried {
    /// As it is (`8bit`), as Thunderbird and Outlook attach it.
    AsIs,
    /// In base64, as some webmail clients attach it (RFC 2046 forbids it, mail clients accept it).
    Base64,
}

/// `original` forwarded as an attachment. The subject is the original's, as written (encoded words stay
/// encoded), after `Fwd: `; `tag` makes the forward's Message-ID and boundary unique.
pub fn forward_as_attachment(original: &[u8], tag: &str, carried: Carried) -> Vec<u8> {
    let subject = header_as_written(original, "subject").unwrap_or_default();
    let boundary = format!("------------fwd{tag}");
    let mut raw = format!(
        "From: =?UTF-8?B?0JzQtdC90LXQtNC20LXRgA==?= <manager@print.example>\r\n\
         To: orders@print.example\r\n\
         Subject: Fwd: {subject}\r\n\
         Date: Mon, 03 Jun 2019 12:00:00 +0300\r\n\
         Message-ID: <fwd-{tag}@print.example>\r\n\
         User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:60.0) Gecko/20100101 Thunderbird/60.7.0\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed;\r\n boundary=\"{boundary}\"\r\n\
         \r\n\
         This is a multi-part message in MIME format.\r\n\
         --{boundary}\r\n\
         Content-Type: text/plain; charset=UTF-8; format=flowed\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         Пересылаю заказ с сайта.\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Type: message/rfc822; name=\"order.eml\"\r\n\
         Content-Disposition: attachment; filename=\"order.eml\"\r\n"
    )
    .into_bytes();
    match carried {
        Carried::AsIs => {
            raw.extend_from_slice(b"Content-Transfer-Encoding: 8bit\r\n\r\n");
            raw.extend_from_slice(original);
            if !original.ends_with(b"\n") {
                raw.extend_from_slice(b"\r\n");
            }
        }
        Carried::Base64 => {
            raw.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\n");
            raw.extend_from_slice(base64_lines(original).as_bytes());
        }
    }
    raw.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    raw
}

/// The value of the first `name` header field of the message's header block, unfolded, as written.
fn header_as_written(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .split("\n\n")
        .next()
        .unwrap_or_default();
    let mut value: Option<String> = None;
    for line in head.lines() {
        let line = line.trim_end_matches('\r');
        match value.as_mut() {
            Some(v) if line.starts_with([' ', '\t']) => {
                v.push(' ');
                v.push_str(line.trim_start());
            }
            Some(_) => break,
            None => {
                if let Some((field, rest)) = line.split_once(':')
                    && field.eq_ignore_ascii_case(name)
                {
                    value = Some(rest.trim().to_owned());
                }
            }
        }
    }
    value
}

/// Base64 in 76-character lines, as MIME writes it.
fn base64_lines(bytes: &[u8]) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 38);
    for chunk in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push_str("\r\n");
    }
    out
}
