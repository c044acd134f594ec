//! Headers with no product-specific structure: a line that starts with a timestamp and nothing
//! else known (Exim's main log, many application logs), and a level word followed by a logger
//! name (OpenStack nova without its file header).

use regex::Regex;

use super::auto::Builtins;
use super::header::trim_end;
use super::time::{parse_any, scan_iso, scan_klog, scan_leading, YearInference};
use crate::record::{Record, RecordKind};

/// The levelled line's regex (for [`Builtins`], which compiles it on first use; as a static its
/// Unicode `\w` automata, about 0.8 MB, stayed for the whole run once the analogy layer had parsed
/// the rules' examples).
pub(super) fn levelled_regex() -> Regex {
    Regex::new(r"^(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|CRITICAL|FATAL|AUDIT) ([A-Za-z_][\w.$:-]*) (.*)$").expect("static regex")
}

/// A line that starts with an ISO 8601, `yyyy/mm/dd hh:mm:ss` or ctime
/// (`Fri Jan 19 12:20:33 2007`) stamp, then the message; a leading `[pid]` or `[pid N]` after the
/// stamp is taken as the pid (Exim, vsftpd). `None`: no such stamp.
pub fn parse_timestamped(line: &str) -> Option<Record> {
    timestamped(line, false)
}

/// A line of its own that starts with a stamp: [`parse_timestamped`]'s layouts and those of
/// [`scan_leading`] (a zone after the stamp, Unix seconds, MySQL, Tomcat, Windows, RFC 2822 …),
/// or a glog/klog header (`I0301 10:00:00.123456 12345 server.go:123] msg`: level, stamp, thread
/// id as the pid).
pub fn parse_stamped_line(line: &str, years: &mut YearInference) -> Option<Record> {
    timestamped(line, true).or_else(|| parse_klog(line, years)).or_else(|| parse_logfmt_stamp(line))
}

/// The keys logfmt lines give their stamp under (Grafana's `t=`, Go kit's and Prometheus' `ts=`,
/// logrus' `time=`).
const LOGFMT_TIME_KEYS: [&str; 4] = ["t=", "ts=", "time=", "timestamp="];

/// A logfmt line (`t=2024-03-01T10:00:00+0100 lvl=eror msg="..."`, `level=info ts=...`) whose
/// stamp is among its first four pairs: the stamp, and the line without that pair as the message.
fn parse_logfmt_stamp(line: &str) -> Option<Record> {
    let mut at = 0;
    for word in line.split(' ').take(4) {
        let value = LOGFMT_TIME_KEYS.iter().find_map(|k| word.strip_prefix(k));
        if let Some(value) = value {
            let quoted = value.strip_prefix('"');
            let (ts, n) = scan_iso(quoted.unwrap_or(value).as_bytes())?;
            let end = at + word.len() - value.len() + n + 2 * usize::from(quoted.is_some());
            if end != at + word.len() || (quoted.is_some() && !word.ends_with('"')) {
                return None;
            }
            let mut rec = Record::new(RecordKind::Timestamped, String::new());
            rec.timestamp = Some(ts);
            rec.message = trim_end(&format!("{}{}", &line[..at], line[end..].trim_start())).to_owned();
            return Some(rec);
        }
        at += word.len() + 1;
    }
    None
}

fn parse_klog(line: &str, years: &mut YearInference) -> Option<Record> {
    let (level, ts, n) = scan_klog(line.as_bytes(), years)?;
    let rest = line[n..].trim_start();
    let (thread, rest) = rest.split_once(' ')?;
    let (_, message) = rest.split_once("] ")?;
    let mut rec = Record::new(RecordKind::Timestamped, trim_end(message));
    rec.timestamp = Some(ts);
    rec.severity = Some(level);
    rec.pid = thread.parse().ok();
    Some(rec)
}

fn timestamped(line: &str, wide: bool) -> Option<Record> {
    if let Some(rec) = parse_mbox_from(line) {
        return Some(rec);
    }
    let b = line.as_bytes();
    let found = if wide { scan_leading(b) } else { scan_iso(b) };
    let (ts, n) = match found {
        Some(found) => found,
        None => {
            let len = if b.first().is_some_and(u8::is_ascii_alphabetic) { 24 } else { 19 };
            (parse_any(line.get(..len)?, None)?, len)
        }
    };
    // The stamp ends in a space or a tab, or in `: `, `|` or a bracket before the message
    // (lighttpd's `2024-03-01 10:00:00: (mod_auth.c.875) …`, `…|ERROR|…`, `[stamp][module]`).
    let after = &line[n..];
    let rest = match after.as_bytes().first() {
        Some(b' ' | b'\t' | b'|') => &after[1..],
        Some(b':') => after.strip_prefix(": ")?,
        Some(b'[') if line.starts_with('[') => after,
        _ => return None,
    };
    let mut rec = Record::new(RecordKind::Timestamped, String::new());
    rec.timestamp = Some(ts);
    let mut message = rest;
    if let Some(inner) = rest.strip_prefix('[') {
        if let Some((pid, after)) = inner.split_once("] ") {
            if let Ok(p) = pid.strip_prefix("pid ").unwrap_or(pid).parse() {
                rec.pid = Some(p);
                message = after;
            }
        }
    }
    rec.message = trim_end(message).to_owned();
    Some(rec)
}

/// An mbox `From ` line as procmail's log starts each entry with: `From sender  Fri Dec 12
/// 11:11:54 2008`. The whole line is the message (the sender is part of what a rule reads).
fn parse_mbox_from(line: &str) -> Option<Record> {
    let rest = line.strip_prefix("From ")?;
    let (sender, stamp) = rest.split_once(' ')?;
    let stamp = stamp.trim();
    if sender.is_empty() || stamp.len() < 24 {
        return None;
    }
    let ts = parse_any(stamp, None)?;
    let mut rec = Record::new(RecordKind::Timestamped, trim_end(line));
    rec.timestamp = Some(ts);
    rec.app = Some("procmail".into());
    Some(rec)
}

/// `INFO nova.compute.claims [req-...] msg`: a level word, a logger name, the message.
/// `None`: not this form.
pub fn parse_levelled(headers: &Builtins, line: &str) -> Option<Record> {
    let c = headers.levelled().captures(line)?;
    let mut rec = Record::new(RecordKind::Pattern, trim_end(c.get(3)?.as_str()));
    rec.severity = c.get(1)?.as_str().parse().ok();
    rec.app = Some(c.get(2)?.as_str().to_owned());
    Some(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::auto::builtins;
    use crate::record::Severity;

    #[test]
    fn timestamped_table() {
        let r = parse_timestamped("2013-06-02 09:05:48 [18505] SMTP protocol synchronization error").unwrap();
        assert_eq!((r.pid, r.message.as_str()), (Some(18505), "SMTP protocol synchronization error"));
        assert_eq!(r.timestamp.unwrap().to_string(), "2013-06-02T09:05:48");
        let r = parse_timestamped("1999-03-02 09:44:33 10HmaX-000000005vi-0000 => one@remote <list@test.ex> R=all").unwrap();
        assert_eq!((r.pid, r.message.as_str()), (None, "10HmaX-000000005vi-0000 => one@remote <list@test.ex> R=all"));
        let r = parse_timestamped("Fri Jan 19 12:20:33 2007 [pid 27202] [anonymous] FAIL LOGIN: Client \"64.106.46.98\"").unwrap();
        assert_eq!((r.pid, r.message.as_str()), (Some(27202), "[anonymous] FAIL LOGIN: Client \"64.106.46.98\""));
        assert_eq!(r.timestamp.unwrap().to_string(), "2007-01-19T12:20:33");
        let r = parse_timestamped("From glenn@eresources.com.au  Fri Dec 12 11:11:54 2008").unwrap();
        assert_eq!((r.app.as_deref(), r.timestamp.unwrap().to_string().as_str()), (Some("procmail"), "2008-12-12T11:11:54"));
        let r = parse_timestamped("2012/04/09 11:53:29 something").unwrap();
        assert_eq!(r.message, "something");
        for line in ["", "2013-06-02", "2013-06-02 09:05:48", "2013-06-02 09:05:48x y", "hello 2013-06-02 09:05:48 x"] {
            assert!(parse_timestamped(line).is_none(), "{line:?}");
        }
    }

    #[test]
    fn stamped_lines_keep_their_zone_and_klog_its_level() {
        let mut years = YearInference::new(crate::parse::YearAnchor::Given(2024));
        let r = parse_stamped_line("2024-03-01 10:00:00 +0100 1rg0ab-000123-AB <= bob@example.com", &mut years).unwrap();
        assert_eq!(
            (r.timestamp.unwrap().to_string().as_str(), r.message.as_str()),
            ("2024-03-01T10:00:00+01:00", "1rg0ab-000123-AB <= bob@example.com")
        );
        let r = parse_stamped_line("2024-03-01 10:00:00.123 UTC [12] LOG:  connection authorized: user=bob", &mut years).unwrap();
        assert_eq!((r.pid, r.message.as_str()), (Some(12), "LOG:  connection authorized: user=bob"));
        let r = parse_stamped_line("I0301 10:00:00.123456   12345 server.go:123] Accepted connection from 10.0.0.1", &mut years).unwrap();
        assert_eq!(
            (r.severity, r.pid, r.message.as_str(), r.timestamp.unwrap().to_string().as_str()),
            (Some(Severity::Info), Some(12345), "Accepted connection from 10.0.0.1", "2024-03-01T10:00:00.123456")
        );
        // Inside a syslog message, only the usual layouts are a stamp: a number stays in it.
        assert!(parse_timestamped("1709287200 rows copied").is_none());
        assert!(parse_stamped_line("1709287200 rows copied", &mut years).is_some());
        assert!(parse_stamped_line("Info: nothing here", &mut years).is_none());
        // The stamp ends the way applications end it: `: `, `|`, or a bracket before a bracket.
        let stamp_and_message = |line: &str| {
            let r = parse_stamped_line(line, &mut YearInference::new(crate::parse::YearAnchor::Given(2024))).unwrap();
            (r.timestamp.unwrap().to_string(), r.message)
        };
        for (line, stamp, message) in [
            (
                "2024-03-01 10:00:00: (mod_auth.c.875) password doesn't match",
                "2024-03-01T10:00:00",
                "(mod_auth.c.875) password doesn't match",
            ),
            ("2024-03-01 10:00:00|ERROR|Authentication failed", "2024-03-01T10:00:00", "ERROR|Authentication failed"),
            ("[2024-03-01 10:00:00.123][api::identity][ERROR] x", "2024-03-01T10:00:00.123", "[api::identity][ERROR] x"),
            (
                "t=2024-03-01T10:00:00+0100 lvl=eror msg=\"Invalid password\"",
                "2024-03-01T10:00:00+01:00",
                "lvl=eror msg=\"Invalid password\"",
            ),
            ("level=warn ts=\"2024-03-01T10:00:00.5Z\" caller=x.go:1 msg=y", "2024-03-01T10:00:00.500Z", "level=warn caller=x.go:1 msg=y"),
        ] {
            assert_eq!(stamp_and_message(line), (stamp.to_owned(), message.to_owned()), "{line}");
        }
        for line in
            ["2024-03-01 10:00:00:x", "t=yesterday msg=x", "level=warn ts=2024-03-01T10:00:00Zjunk msg=y", "ts=\"2024-03-01T10:00:00Zx"]
        {
            assert!(parse_stamped_line(line, &mut years).is_none(), "{line}");
        }
    }

    #[test]
    fn levelled_table() {
        let r = parse_levelled(&builtins(), "INFO nova.compute.claims [req-a4] [instance: 1176] Claim successful on node parisaserver")
            .unwrap();
        assert_eq!(
            (r.severity, r.app.as_deref(), r.message.as_str()),
            (Some(Severity::Info), Some("nova.compute.claims"), "[req-a4] [instance: 1176] Claim successful on node parisaserver")
        );
        for line in ["", "INFO", "info nova x", "INFO  x", "Hello world again"] {
            assert!(parse_levelled(&builtins(), line).is_none(), "{line:?}");
        }
    }
}
