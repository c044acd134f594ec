//! Header pieces several parsers share: the syslog tag (`app[pid]:`), the host that may precede
//! it, `<PRI>`, and the trailing whitespace that is not part of a message.

use serde_json::Value;

use crate::record::{Record, Severity};

/// A parsed syslog tag and the message after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag<'a> {
    /// Program name.
    pub app: &'a str,
    /// Text in parentheses after the name when it is not a pid (`pam_unix`).
    pub component: Option<&'a str>,
    /// Process id in brackets (or parentheses).
    pub pid: Option<u32>,
    /// The message after the tag.
    pub message: &'a str,
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'/' | b'@' | b'+' | b'$' | b'=' | b'#' | b'~')
}

/// Splits `app[pid]: message` and its variants at the start of `s`. With `spaced_names`, a name may
/// hold up to two spaces when a `[pid]` or `:` follows (`syslogd 1.4.1:`, `-- root[2421]:`).
pub fn split_tag(s: &str, spaced_names: bool) -> Option<Tag<'_>> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut spaces = 0;
    while i < b.len() && i < 96 {
        match b[i] {
            b'[' | b'(' | b':' => break,
            b' ' if spaced_names && spaces < 2 && i > 0 && b.get(i + 1).is_some_and(|c| *c != b' ') => spaces += 1,
            c if is_name_byte(c) => {}
            _ => return None,
        }
        i += 1;
    }
    if i == 0 || i >= b.len() || b[i - 1] == b' ' {
        return None;
    }
    let name = &s[..i];
    if spaces > 0 && b[i] == b'(' {
        return None;
    }
    let mut component = None;
    let mut pid = None;
    if b[i] == b'(' {
        let close = i + 1 + s[i + 1..].find(')')?;
        let inner = &s[i + 1..close];
        if inner.is_empty() || inner.len() > 64 || inner.bytes().any(|c| c == b' ' || c.is_ascii_control()) {
            return None;
        }
        match inner.parse::<u32>() {
            Ok(p) => pid = Some(p),
            Err(_) => component = Some(inner),
        }
        i = close + 1;
    }
    let mut bracket_pid = false;
    if b.get(i) == Some(&b'[') {
        let close = i + 1 + s[i + 1..].find(']')?;
        pid = Some(s[i + 1..close].parse::<u32>().ok()?);
        bracket_pid = true;
        i = close + 1;
    }
    let message = match b.get(i) {
        Some(b':') if matches!(b.get(i + 1), None | Some(b' ') | Some(b'\t')) => s.get(i + 2..).unwrap_or(""),
        // proftpd: `proftpd[15719] host (...)`, no colon after the pid.
        Some(b' ') if bracket_pid && spaces == 0 => &s[i + 1..],
        None if bracket_pid => "",
        _ => return None,
    };
    let app = if spaces > 0 && !name.starts_with("--") { name.split(' ').next().unwrap_or(name) } else { name };
    Some(Tag { app, component, pid, message })
}

/// Whether a word can be a host name (or address) in a syslog header.
pub fn looks_like_host(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_alphanumeric)
        && s.len() <= 255
        && s.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b':' | b'/' | b'%' | b'@'))
}

/// Host (optional), tag (optional) and message of the part of a syslog line after its stamp.
pub fn host_tag_message(rest: &str, require_tag: bool) -> Option<(Option<&str>, Option<Tag<'_>>, &str)> {
    // A bracketed tag with no host: `[sshd]: msg`, `[sshd] msg`.
    if let Some(inner) = rest.strip_prefix('[') {
        if let Some((name, after)) = inner.split_once(']') {
            if !name.is_empty() && name.len() <= 64 && name.bytes().all(is_name_byte) && name.as_bytes()[0].is_ascii_alphabetic() {
                let message = after.strip_prefix(':').unwrap_or(after);
                let tag = Tag { app: name, component: None, pid: None, message: message.strip_prefix(' ').unwrap_or(message) };
                return Some((None, Some(tag), ""));
            }
        }
    }
    // A tag may follow the stamp directly: `Nov 23 21:50:19 sshd[9148]: ...`.
    if let Some(tag) = split_tag(rest, false) {
        return Some((None, Some(tag), ""));
    }
    let (host, after) = match rest.split_once(' ') {
        Some((h, a)) => (h, a.trim_start_matches(' ')),
        None => (rest, ""),
    };
    if !looks_like_host(host) {
        return None;
    }
    match split_tag(after, true) {
        Some(tag) => Some((Some(host), Some(tag), "")),
        None if require_tag => None,
        None => Some((Some(host), None, after)),
    }
}

/// Trailing whitespace (many daemons end lines with a space) is not part of the message.
pub fn trim_end(s: &str) -> &str {
    s.trim_end_matches([' ', '\t'])
}

/// `<PRI>` at the start: (priority, bytes consumed).
pub fn scan_pri(b: &[u8]) -> Option<(u8, usize)> {
    if b.first() != Some(&b'<') {
        return None;
    }
    let close = b.iter().take(5).position(|&c| c == b'>')?;
    let digits = &b[1..close];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let pri: u16 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    (pri <= 191).then_some((pri as u8, close + 1))
}

/// Records `<PRI>` as ECS syslog fields and the severity.
pub fn apply_pri(rec: &mut Record, pri: u8) {
    rec.severity = Severity::from_code(pri & 7);
    rec.fields.push(("log.syslog.priority".into(), Value::from(pri)));
    rec.fields.push(("log.syslog.facility.code".into(), Value::from(pri >> 3)));
    rec.fields.push(("log.syslog.severity.code".into(), Value::from(pri & 7)));
}
