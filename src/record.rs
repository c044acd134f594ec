//! Core types that flow out of the parse stage: [`Record`], [`Timestamp`], [`Severity`].
//!
//! A `Record` is one input line with its header understood: when it was written, by which host,
//! program and process, at which severity, and the free-text message. Structured fields that a
//! format carries (RFC 5424 structured data, JSON keys, access-log columns, Exchange columns) stay
//! beside the message in [`Record::fields`], keyed by their ECS name where one exists.

use std::fmt;
use std::io::Write;
use std::str::FromStr;

use chrono::{Datelike, FixedOffset, NaiveDateTime, Timelike};
use serde_json::Value;

/// A point in log time: the wall-clock time the line states, and its UTC offset when the line
/// states one. Year-less and zone-less stamps (RFC 3164) have `offset == None`: they are local time
/// of an unknown zone and are written without a zone designator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Wall-clock date and time as written in the log.
    pub local: NaiveDateTime,
    /// Offset from UTC in seconds, when known.
    pub offset_secs: Option<i32>,
}

impl Timestamp {
    /// A zone-less timestamp.
    pub fn naive(local: NaiveDateTime) -> Self {
        Timestamp { local, offset_secs: None }
    }

    /// A timestamp with a known UTC offset.
    pub fn with_offset(local: NaiveDateTime, offset: FixedOffset) -> Self {
        Timestamp { local, offset_secs: Some(offset.local_minus_utc()) }
    }

    /// A UTC timestamp from seconds and nanoseconds since the Unix epoch.
    pub fn from_unix(secs: i64, nanos: u32) -> Option<Self> {
        let dt = chrono::DateTime::from_timestamp(secs, nanos)?;
        Some(Timestamp { local: dt.naive_utc(), offset_secs: Some(0) })
    }

    /// Writes ISO 8601 / RFC 3339: `2024-01-07T00:00:07.463Z`, `2005-12-10T06:55:46`,
    /// `2015-04-16T18:02:50.321974+02:00`. Fractions keep the precision the nanoseconds need
    /// (3, 6 or 9 digits); a zone-less stamp has no designator.
    pub fn write_iso(&self, out: &mut Vec<u8>) {
        let d = self.local.date();
        let t = self.local.time();
        let year = d.year();
        if (0..=9999).contains(&year) {
            push_num(out, year as u32, 4);
        } else {
            let _ = write!(out, "{year:+07}");
        }
        out.push(b'-');
        push_num(out, d.month(), 2);
        out.push(b'-');
        push_num(out, d.day(), 2);
        out.push(b'T');
        push_num(out, t.hour(), 2);
        out.push(b':');
        push_num(out, t.minute(), 2);
        out.push(b':');
        // A leap second is stored by chrono as nanos >= 1e9.
        let nanos = t.nanosecond();
        let (sec, nanos) = if nanos >= 1_000_000_000 { (60, nanos - 1_000_000_000) } else { (t.second(), nanos) };
        push_num(out, sec, 2);
        if nanos != 0 {
            out.push(b'.');
            if nanos % 1_000_000 == 0 {
                push_num(out, nanos / 1_000_000, 3);
            } else if nanos % 1_000 == 0 {
                push_num(out, nanos / 1_000, 6);
            } else {
                push_num(out, nanos, 9);
            }
        }
        match self.offset_secs {
            None => {}
            Some(0) => out.push(b'Z'),
            Some(off) => {
                out.push(if off < 0 { b'-' } else { b'+' });
                let off = off.unsigned_abs();
                push_num(out, off / 3600, 2);
                out.push(b':');
                push_num(out, (off / 60) % 60, 2);
            }
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = Vec::with_capacity(32);
        self.write_iso(&mut buf);
        f.write_str(&String::from_utf8_lossy(&buf))
    }
}

/// Writes `n` zero-padded to `width` digits (wider numbers are written whole).
fn push_num(out: &mut Vec<u8>, n: u32, width: usize) {
    let mut b = itoa::Buffer::new();
    let s = b.format(n);
    for _ in s.len()..width {
        out.push(b'0');
    }
    out.extend_from_slice(s.as_bytes());
}

/// Severity of a record, on the syslog scale (RFC 5424 §6.2.1), most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// System is unusable (0).
    Emergency,
    /// Action must be taken immediately (1).
    Alert,
    /// Critical conditions, FATAL (2).
    Critical,
    /// Error conditions (3).
    Error,
    /// Warning conditions (4).
    Warning,
    /// Normal but significant (5).
    Notice,
    /// Informational (6).
    Info,
    /// Debug-level, TRACE (7).
    Debug,
}

impl Severity {
    /// The severity for a syslog severity code 0–7.
    pub fn from_code(code: u8) -> Option<Self> {
        use Severity::*;
        Some(match code {
            0 => Emergency,
            1 => Alert,
            2 => Critical,
            3 => Error,
            4 => Warning,
            5 => Notice,
            6 => Info,
            7 => Debug,
            _ => return None,
        })
    }

    /// The syslog keyword, used as ECS `log.level`.
    pub fn as_str(self) -> &'static str {
        use Severity::*;
        match self {
            Emergency => "emergency",
            Alert => "alert",
            Critical => "critical",
            Error => "error",
            Warning => "warning",
            Notice => "notice",
            Info => "info",
            Debug => "debug",
        }
    }
}

/// The level word was not one this crate knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSeverity;

impl FromStr for Severity {
    type Err = UnknownSeverity;

    /// Accepts syslog keywords and the level words of common frameworks, in any case:
    /// `INFO`, `WARN`, `ERR`, `FATAL`, `SEVERE`, `TRACE`, `crit`, `emerg`, ...
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use Severity::*;
        let mut buf = [0u8; 12];
        if s.is_empty() || s.len() > buf.len() {
            return Err(UnknownSeverity);
        }
        for (b, c) in buf.iter_mut().zip(s.bytes()) {
            *b = c.to_ascii_lowercase();
        }
        Ok(match &buf[..s.len()] {
            b"emerg" | b"emergency" | b"panic" => Emergency,
            b"alert" => Alert,
            b"crit" | b"critical" | b"fatal" | b"failure" => Critical,
            b"err" | b"error" | b"severe" => Error,
            b"warn" | b"warning" => Warning,
            b"notice" => Notice,
            b"info" | b"information" | b"informational" | b"audit" => Info,
            b"debug" | b"trace" | b"fine" | b"finer" | b"finest" | b"verbose" => Debug,
            _ => return Err(UnknownSeverity),
        })
    }
}

/// Which parser understood a record's header. Reported in the summary and as `logsieve.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKind {
    /// RFC 3164 (BSD) syslog, including rsyslog's ISO stamps and journal short output.
    Rfc3164,
    /// RFC 5424 syslog.
    Rfc5424,
    /// A daemontools/multilog line: TAI64N label, then a syslog-style tag or a bare message.
    Tai64n,
    /// Linux audit log (`type=... msg=audit(...)`).
    Audit,
    /// An ECS JSON document.
    Ecs,
    /// A `journalctl -o json` record.
    Journald,
    /// A JSON object of another shape.
    Json,
    /// Apache/nginx common or combined access log.
    AccessLog,
    /// Apache error log.
    ApacheError,
    /// nginx error log.
    NginxError,
    /// MS Exchange message tracking CSV.
    Exchange,
    /// A `pattern:` header template, or a built-in loghub header.
    Pattern,
    /// A line that starts with a timestamp and has no other header (Exim main log, ...).
    Timestamped,
    /// A pre-parsed session: `id,e1 e2 e3`.
    Sequence,
    /// No header recognised: the whole line is the message.
    Plain,
}

impl RecordKind {
    /// Short stable name, used in summaries and `logsieve.format`.
    pub fn as_str(self) -> &'static str {
        use RecordKind::*;
        match self {
            Rfc3164 => "rfc3164",
            Rfc5424 => "rfc5424",
            Tai64n => "tai64n",
            Audit => "audit",
            Ecs => "ecs",
            Journald => "journald",
            Json => "json",
            AccessLog => "access-log",
            ApacheError => "apache-error",
            NginxError => "nginx-error",
            Exchange => "exchange",
            Pattern => "pattern",
            Timestamped => "timestamped",
            Sequence => "sequence",
            Plain => "plain",
        }
    }

    /// The kind named by [`RecordKind::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        use RecordKind::*;
        [
            Rfc3164,
            Rfc5424,
            Tai64n,
            Audit,
            Ecs,
            Journald,
            Json,
            AccessLog,
            ApacheError,
            NginxError,
            Exchange,
            Pattern,
            Timestamped,
            Sequence,
            Plain,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }
}

/// One input line with its header parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Which parser produced it.
    pub kind: RecordKind,
    /// When the line says it was written.
    pub timestamp: Option<Timestamp>,
    /// The host that wrote it.
    pub host: Option<String>,
    /// The program (syslog tag, loghub `<Component>`, JSON `process.name`).
    pub app: Option<String>,
    /// A sub-component named in the tag, e.g. `pam_unix` in `sshd(pam_unix)[1]:`.
    pub component: Option<String>,
    /// The process id.
    pub pid: Option<u32>,
    /// The severity, when stated.
    pub severity: Option<Severity>,
    /// The free-text message: what the template miner and the rules read.
    pub message: String,
    /// Structured fields, in input order. Keys are ECS names where one exists (`source.ip`,
    /// `http.request.method`), otherwise the format's own name.
    pub fields: Vec<(String, Value)>,
    /// For `sequences` input: the session id and its states.
    pub sequence: Option<Sequence>,
}

impl Record {
    /// An empty record of the given kind carrying `message`.
    pub fn new(kind: RecordKind, message: impl Into<String>) -> Self {
        Record {
            kind,
            timestamp: None,
            host: None,
            app: None,
            component: None,
            pid: None,
            severity: None,
            message: message.into(),
            fields: Vec::new(),
            sequence: None,
        }
    }

    /// The value of a structured field.
    pub fn field(&self, key: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Adds a string field.
    pub fn push_field(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.fields.push((key.into(), Value::String(value.into())));
    }
}

/// A pre-parsed session (`sequences` format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    /// The session id: the id column, or the line number when there is none.
    pub id: String,
    /// The states in order.
    pub events: Vec<String>,
}

/// A structured field's value as text: a string as it is, an array as its first item, any
/// other value as JSON.
pub fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => items.first().map(value_text).unwrap_or_default(),
        v => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn ts(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, nanos: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d).unwrap().and_hms_nano_opt(h, mi, s, nanos).unwrap()
    }

    #[test]
    fn iso_formatting_keeps_precision_and_zone() {
        let cases = [
            (Timestamp::naive(ts(2005, 12, 10, 6, 55, 46, 0)), "2005-12-10T06:55:46"),
            (Timestamp { local: ts(2024, 1, 7, 0, 0, 7, 463_000_000), offset_secs: Some(0) }, "2024-01-07T00:00:07.463Z"),
            (Timestamp { local: ts(2015, 4, 16, 18, 2, 50, 321_974_000), offset_secs: Some(7200) }, "2015-04-16T18:02:50.321974+02:00"),
            (Timestamp { local: ts(2015, 4, 16, 18, 2, 50, 1), offset_secs: Some(-16200) }, "2015-04-16T18:02:50.000000001-04:30"),
        ];
        for (t, want) in cases {
            assert_eq!(t.to_string(), want);
        }
    }

    #[test]
    fn severity_words() {
        assert_eq!("INFO".parse(), Ok(Severity::Info));
        assert_eq!("Warn".parse(), Ok(Severity::Warning));
        assert_eq!("FATAL".parse(), Ok(Severity::Critical));
        assert_eq!("err".parse(), Ok(Severity::Error));
        assert_eq!("combo".parse::<Severity>(), Err(UnknownSeverity));
        assert_eq!("".parse::<Severity>(), Err(UnknownSeverity));
        assert_eq!("informationalxx".parse::<Severity>(), Err(UnknownSeverity));
        assert_eq!(Severity::from_code(3), Some(Severity::Error));
        assert_eq!(Severity::from_code(8), None);
    }
}
