//! RFC 5424 syslog: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD-ID param="v" ...] MSG`.
//!
//! Structured-data parameters become fields named `sd.<SD-ID>.<param>`; `-` is the nil value.

use super::header::{apply_pri, scan_pri, trim_end};
use super::time::scan_iso;
use crate::record::{Record, RecordKind};

fn nil(s: &str) -> Option<&str> {
    (s != "-").then_some(s)
}

/// Splits off the next space-delimited header token.
fn token(s: &str) -> Option<(&str, &str)> {
    let (t, rest) = s.split_once(' ').unwrap_or((s, ""));
    (!t.is_empty()).then_some((t, rest))
}

/// Parses structured data at the start of `s`: the parameters, and the rest of the line.
fn structured_data(s: &str) -> Option<(Vec<(String, String)>, &str)> {
    if let Some(rest) = s.strip_prefix('-') {
        return Some((Vec::new(), rest));
    }
    let b = s.as_bytes();
    let mut params = Vec::new();
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        i += 1;
        let id_end = i + s[i..].find([' ', ']'])?;
        let id = &s[i..id_end];
        if id.is_empty() {
            return None;
        }
        i = id_end;
        loop {
            match b.get(i)? {
                b']' => {
                    i += 1;
                    break;
                }
                b' ' => i += 1,
                _ => {
                    let eq = i + s[i..].find('=')?;
                    let name = &s[i..eq];
                    if name.is_empty() || name.contains([' ', ']', '"']) || b.get(eq + 1) != Some(&b'"') {
                        return None;
                    }
                    let mut value = String::new();
                    let mut j = eq + 2;
                    loop {
                        let c = s[j..].chars().next()?;
                        match c {
                            '\\' => {
                                let next = s[j + 1..].chars().next()?;
                                if !matches!(next, '"' | '\\' | ']') {
                                    value.push('\\');
                                }
                                value.push(next);
                                j += 1 + next.len_utf8();
                            }
                            '"' => {
                                j += 1;
                                break;
                            }
                            _ => {
                                value.push(c);
                                j += c.len_utf8();
                            }
                        }
                    }
                    params.push((format!("sd.{id}.{name}"), value));
                    i = j;
                }
            }
        }
    }
    (i > 0).then(|| (params, &s[i..]))
}

/// Parses an RFC 5424 line. `None`: not RFC 5424.
pub fn parse_rfc5424(line: &str) -> Option<Record> {
    let (pri, n) = scan_pri(line.as_bytes())?;
    let rest = &line[n..];
    let (version, rest) = token(rest)?;
    if version.is_empty() || version.len() > 2 || !version.bytes().all(|c| c.is_ascii_digit()) || version == "0" {
        return None;
    }
    let (stamp, rest) = token(rest)?;
    let timestamp = match nil(stamp) {
        None => None,
        Some(s) => match scan_iso(s.as_bytes()) {
            Some((t, len)) if len == s.len() && s.as_bytes().get(10) == Some(&b'T') => Some(t),
            _ => return None,
        },
    };
    let (host, rest) = token(rest)?;
    let (app, rest) = token(rest)?;
    let (procid, rest) = token(rest)?;
    let (msgid, rest) = token(rest)?;
    let (params, rest) = structured_data(rest)?;
    let message = match rest.strip_prefix(' ') {
        Some(m) => m.strip_prefix('\u{feff}').unwrap_or(m),
        None if rest.is_empty() => "",
        None => return None,
    };
    let mut rec = Record::new(RecordKind::Rfc5424, trim_end(message));
    rec.timestamp = timestamp;
    apply_pri(&mut rec, pri);
    rec.host = nil(host).map(str::to_owned);
    rec.app = nil(app).map(str::to_owned);
    if let Some(p) = nil(procid) {
        match p.parse() {
            Ok(pid) => rec.pid = Some(pid),
            Err(_) => rec.push_field("log.syslog.procid", p),
        }
    }
    if let Some(m) = nil(msgid) {
        rec.push_field("log.syslog.msgid", m);
    }
    for (k, v) in params {
        rec.push_field(k, v);
    }
    Some(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn rfc5424_table() {
        let r = parse_rfc5424(r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Appli\"cation" eventID="1011"][examplePriority@32473 class="high"] An application event"#).unwrap();
        assert_eq!(r.timestamp.unwrap().to_string(), "2003-10-11T22:14:15.003Z");
        assert_eq!(
            (r.host.as_deref(), r.app.as_deref(), r.pid, r.message.as_str()),
            (Some("mymachine.example.com"), Some("evntslog"), None, "An application event")
        );
        assert_eq!(r.field("sd.exampleSDID@32473.eventSource"), Some(&Value::from("Appli\"cation")));
        assert_eq!(r.field("sd.examplePriority@32473.class"), Some(&Value::from("high")));
        assert_eq!(r.field("log.syslog.msgid"), Some(&Value::from("ID47")));

        let r = parse_rfc5424(
            "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su 123 ID47 - \u{feff}'su root' failed for lonvick on /dev/pts/8",
        )
        .unwrap();
        assert_eq!((r.pid, r.message.as_str()), (Some(123), "'su root' failed for lonvick on /dev/pts/8"));

        let r = parse_rfc5424("<13>1 - - - - - -").unwrap();
        assert_eq!((r.timestamp, r.host, r.app, r.message.as_str()), (None, None, None, ""));

        let r = parse_rfc5424("<13>1 2024-01-01T00:00:00+01:00 h sshd-session 77 - - Accepted").unwrap();
        assert_eq!(
            (r.app.as_deref(), r.pid, r.timestamp.unwrap().to_string().as_str()),
            (Some("sshd-session"), Some(77), "2024-01-01T00:00:00+01:00")
        );
    }

    #[test]
    fn rfc5424_rejects() {
        for line in [
            "",
            "<13>",
            "<13>1",
            "<13>0 - - - - - -",
            "<13>1 yesterday h a 1 - - x",
            "<13>1 - h a 1 - [unterminated x",
            "<13>1 - h a 1 - [id p=unquoted] x",
            "<13>1 - h a 1 - [id p=\"v\"]x",
            "<34>Oct 11 22:14:15 mymachine su: x",
        ] {
            assert!(parse_rfc5424(line).is_none(), "{line:?}");
        }
    }
}
