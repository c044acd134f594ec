//! Stamps that start a line in the layouts daemons and applications write besides RFC 3164 and
//! ISO 8601 (which the header parsers scan first): each layout from its product's documentation.
//!
//! | layout | written by |
//! |---|---|
//! | ISO 8601 then ` +0100` or a zone name (`UTC`, `CET`) | Exim (`log_timezone`), PostgreSQL (`%t`, `%m`) |
//! | `[` any of these `]` | Monolog/Laravel, PHP, many application logs |
//! | `1286536309.586` (Unix seconds, optional fraction) | Squid's native access log, HAProxy's epoch logs |
//! | `I0301 10:00:00.123456` | glog/klog (Kubernetes components, etcd's older logs) |
//! | `240301 10:00:00`, `240301  9:00:00` | MySQL and MariaDB error logs before 5.7 |
//! | `01-Mar-2024 10:00:00.123` | Tomcat's `OneLineFormatter`, BIND |
//! | `Fri, 01 Mar 2024 10:00:00 +0100` | RFC 2822 stamps (mail tools, Go's `RFC1123Z`) |
//! | `01/Mar/2024:10:00:00 +0100` | the common log format's date, in other logs than access logs |
//! | `3/1/2024 10:00:00 AM` | Windows event log exports and Windows services (US order, the default locale; a first number over 12 is a day) |
//! | `Mar 01, 2024 10:00:00 AM` | java.util.logging's `SimpleFormatter` (Tomcat's catalina.out) |
//! | `2024 Mar  1 10:00:00` | syslog-ng and rsyslog templates with the year first |
//! | `2015-11-04<TAB>13:50:50:123` (ISO 8601 read by [`scan_iso`]) | WindowsUpdate.log and other Windows component logs |
//! | `[01/Mar/2024 10:00:00]` | Kerio Connect, and the common log format's date with a space |
//! | `2024.03.01 10:00:00` | stunnel |
//! | `[20240301-10:00:00]` | xrdp |
//! | any of these then a zone word (`[01-Mar-2024 10:00:00 +0100]`) | Roundcube, PHP applications |

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::{clock, digits, epoch, month_of, offset_at, scan_iso, YearInference};
use crate::record::{Severity, Timestamp};

/// A zone name after a stamp and its offset. Names that stand for two zones (`CST`: China or
/// US Central; `IST`: India, Israel or Ireland; `BST`) are left alone, not guessed.
fn zone_offset(name: &[u8]) -> Option<i32> {
    const ZONES: &[(&str, i32)] = &[
        ("UTC", 0),
        ("GMT", 0),
        ("UT", 0),
        ("Z", 0),
        ("WET", 0),
        ("WEST", 60),
        ("CET", 60),
        ("CEST", 120),
        ("EET", 120),
        ("EEST", 180),
        ("MSK", 180),
        ("HKT", 480),
        ("SGT", 480),
        ("AWST", 480),
        ("JST", 540),
        ("KST", 540),
        ("ACST", 570),
        ("AEST", 600),
        ("AEDT", 660),
        ("NZST", 720),
        ("NZDT", 780),
        ("HST", -600),
        ("AKST", -540),
        ("PST", -480),
        ("PDT", -420),
        ("MST", -420),
        ("MDT", -360),
        ("CDT", -300),
        ("EST", -300),
        ("EDT", -240),
    ];
    ZONES.iter().find(|(n, _)| n.as_bytes() == name).map(|(_, m)| m * 60)
}

/// The end of the word starting at `at`: a space, a closing bracket or the end of `b`.
fn word_end(b: &[u8], at: usize) -> usize {
    b[at.min(b.len())..].iter().position(|&c| c == b' ' || c == b']').map_or(b.len(), |p| at + p)
}

/// An offset written as its own word after a stamp: ` +0100`, ` -05:00`, ` +01`, ` UTC`.
/// Returns the offset and the bytes consumed, the space included.
fn zone_after(b: &[u8], at: usize) -> Option<(i32, usize)> {
    if b.get(at) != Some(&b' ') {
        return None;
    }
    let start = at + 1;
    let end = word_end(b, start);
    let w = &b[start..end];
    let secs = match w {
        // The whole word, and no more than the largest offset in use (+14:00).
        [b'+' | b'-', ..] => match offset_at(w, 0)? {
            (secs, len) if len == w.len() && secs.abs() <= 14 * 3600 + 59 * 60 => secs,
            _ => return None,
        },
        _ => zone_offset(w)?,
    };
    Some((secs, end - at))
}

/// A glog/klog header's level letter and stamp (`I0301 10:00:00.123456`), the year inferred.
pub fn scan_klog(b: &[u8], years: &mut YearInference) -> Option<(Severity, Timestamp, usize)> {
    let level = match b.first()? {
        b'I' => Severity::Info,
        b'W' => Severity::Warning,
        b'E' => Severity::Error,
        b'F' => Severity::Critical,
        _ => return None,
    };
    let (month, day) = (digits(b, 1, 2)?, digits(b, 3, 2)?);
    if b.get(5) != Some(&b' ') || !(1..=12).contains(&month) {
        return None;
    }
    let (time, n) = clock(b, 6)?;
    let date = NaiveDate::from_ymd_opt(years.year_for(month), month, day)?;
    Some((level, Timestamp::naive(date.and_time(time)), 6 + n))
}

/// A stamp at the start of `b` in one of the layouts above (and ISO 8601). Returns the stamp
/// and the bytes consumed.
pub fn scan_leading(b: &[u8]) -> Option<(Timestamp, usize)> {
    // One bracket around the stamp, not nested ones (`[[[...` is no stamp, at any depth).
    if b.first() == Some(&b'[') {
        let (t, n) = scan_zoned(&b[1..])?;
        return (b.get(n + 1) == Some(&b']')).then_some((t, n + 2));
    }
    scan_zoned(b)
}

/// A stamp without brackets, and the zone written after it.
fn scan_zoned(b: &[u8]) -> Option<(Timestamp, usize)> {
    let (t, n) = scan_stamp(b)?;
    // A zone written as its own word after the stamp (` +0100`, ` UTC`).
    Some(match (t.offset_secs, zone_after(b, n)) {
        (None, Some((secs, m))) => (Timestamp { local: t.local, offset_secs: Some(secs) }, n + m),
        _ => (t, n),
    })
}

/// The stamp itself, without a zone after it.
fn scan_stamp(b: &[u8]) -> Option<(Timestamp, usize)> {
    let first = *b.first()?;
    if let Some(found) = scan_iso(b) {
        return Some(found);
    }
    let text = std::str::from_utf8(&b[..b.len().min(40)]).unwrap_or_else(|e| std::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or(""));
    if first.is_ascii_digit() {
        // Unix seconds: ten digits (2001 to 2286), an optional fraction, then a space.
        let end = word_end(b, 0);
        let word = &text[..end.min(text.len())];
        let int = word.split('.').next().unwrap_or("");
        if int.len() == 10 && word.bytes().all(|c| c.is_ascii_digit() || c == b'.') && word.bytes().filter(|&c| c == b'.').count() <= 1 {
            return epoch(word).map(|t| (t, end));
        }
        // MySQL before 5.7: `yymmdd hh:mm:ss`, the hour space-padded.
        if end == 6 && b.get(6) == Some(&b' ') {
            let at = if b.get(7) == Some(&b' ') { 8 } else { 7 };
            let date = NaiveDate::from_ymd_opt(2000 + digits(b, 0, 2)? as i32, digits(b, 2, 2)?, digits(b, 4, 2)?)?;
            let (time, n) = one_digit_hour_clock(b, at)?;
            return Some((Timestamp::naive(date.and_time(time)), at + n));
        }
    }
    parse_layouts(text)
}

/// `h:mm:ss` or `hh:mm:ss` at `at`.
fn one_digit_hour_clock(b: &[u8], at: usize) -> Option<(NaiveTime, usize)> {
    if b.get(at + 1) == Some(&b':') {
        let mut padded = vec![b'0'];
        padded.extend_from_slice(&b[at..b.len().min(at + 20)]);
        let (t, n) = clock(&padded, 0)?;
        Some((t, n - 1))
    } else {
        clock(b, at)
    }
}

/// The layouts chrono reads (month names, AM/PM, RFC 2822), tried where the first bytes fit.
fn parse_layouts(text: &str) -> Option<(Timestamp, usize)> {
    let b = text.as_bytes();
    let with_zone: &[&str] = match b.first()? {
        c if c.is_ascii_digit() && b.get(2) == Some(&b'/') && month_of(b.get(3..)?).is_some() => &["%d/%b/%Y:%H:%M:%S %z"],
        c if c.is_ascii_alphabetic() && b.get(3) == Some(&b',') => &["%a, %d %b %Y %H:%M:%S %z"],
        c if c.is_ascii_digit() && b.get(2) == Some(&b' ') && month_of(b.get(3..)?).is_some() => &["%d %b %Y %H:%M:%S %z"],
        _ => &[],
    };
    for layout in with_zone {
        if let Ok((t, rest)) = chrono::DateTime::parse_and_remainder(text, layout) {
            return Some((Timestamp::with_offset(t.naive_local(), *t.offset()), text.len() - rest.len()));
        }
    }
    let naive: &[&str] = match b[0] {
        c if c.is_ascii_digit() && b.get(2) == Some(&b'-') && month_of(b.get(3..)?).is_some() => &["%d-%b-%Y %H:%M:%S%.f"],
        c if c.is_ascii_digit() && b.get(2) == Some(&b'/') && month_of(b.get(3..)?).is_some() => {
            &["%d/%b/%Y:%H:%M:%S%.f", "%d/%b/%Y %H:%M:%S%.f"]
        }
        c if c.is_ascii_digit() && b.get(4) == Some(&b'.') && b.get(7) == Some(&b'.') => &["%Y.%m.%d %H:%M:%S%.f"],
        c if c.is_ascii_digit() && b.get(8) == Some(&b'-') && b[..8].iter().all(u8::is_ascii_digit) => &["%Y%m%d-%H:%M:%S%.f"],
        c if c.is_ascii_digit() && b.get(4) == Some(&b' ') && month_of(b.get(5..)?).is_some() => &["%Y %b %e %H:%M:%S%.f"],
        c if c.is_ascii_digit() && b[..b.len().min(6)].contains(&b'/') => {
            &["%m/%d/%Y %I:%M:%S %p", "%d/%m/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S"]
        }
        c if c.is_ascii_alphabetic() && month_of(b).is_some() && b.get(3) == Some(&b' ') => &["%b %d, %Y %I:%M:%S %p"],
        _ => &[],
    };
    for layout in naive {
        if let Ok((t, rest)) = NaiveDateTime::parse_and_remainder(text, layout) {
            // A stamp is a word of its own (or ends a bracket: `[01/Mar/2024 10:00:00]`).
            if rest.is_empty() || rest.starts_with([' ', ']']) {
                return Some((Timestamp::naive(t), text.len() - rest.len()));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::time::YearAnchor;

    #[test]
    fn leading_stamps_of_many_products() {
        let cases = [
            ("2024-03-01 10:00:00 +0100 1rg0ab-000123-AB <= bob", "2024-03-01T10:00:00+01:00", 25),
            ("2024-03-01 10:00:00.123 UTC [12] LOG:  x", "2024-03-01T10:00:00.123Z", 27),
            ("2024-03-01 10:00:00.123 CET [12] FATAL:  x", "2024-03-01T10:00:00.123+01:00", 27),
            ("2024-03-01 10:00:00.123 CST [12] LOG:  x", "2024-03-01T10:00:00.123", 23),
            ("2024-03-01 10:00:00.123+01 [12] LOG: x", "2024-03-01T10:00:00.123+01:00", 26),
            ("[2024-03-01 10:00:00] local.ERROR: x", "2024-03-01T10:00:00", 21),
            ("1286536309.586    921 10.0.0.1 TCP_MISS/200", "2010-10-08T11:11:49.586Z", 14),
            ("1709287200 host sshd[12]: x", "2024-03-01T10:00:00Z", 10),
            ("240301 10:00:00 [Warning] Access denied", "2024-03-01T10:00:00", 15),
            ("240301  9:00:00 [Note] x", "2024-03-01T09:00:00", 15),
            ("01-Mar-2024 10:00:00.123 INFO [main] org.apache.catalina", "2024-03-01T10:00:00.123", 24),
            ("Fri, 01 Mar 2024 10:00:00 +0100 host x", "2024-03-01T10:00:00+01:00", 31),
            ("[01/Mar/2024:10:00:00 +0100] x", "2024-03-01T10:00:00+01:00", 28),
            ("3/1/2024 10:00:00 AM Microsoft-Windows-Security-Auditing 4625", "2024-03-01T10:00:00", 20),
            ("13/1/2024 10:00:00 PM x", "2024-01-13T22:00:00", 21),
            ("3/1/2024 22:00:00 x", "2024-03-01T22:00:00", 17),
            ("Mar 01, 2024 10:00:00 PM org.apache.catalina.startup.Catalina start", "2024-03-01T22:00:00", 24),
            ("2024 Mar  1 10:00:00 host sshd[12]: x", "2024-03-01T10:00:00", 20),
            ("[01-Mar-2024 10:00:00 +0100]: <ab12> IMAP Error", "2024-03-01T10:00:00+01:00", 28),
            ("[01/Mar/2024 10:00:00] IP address 192.0.2.1 found in DNS blacklist", "2024-03-01T10:00:00", 22),
            ("2024.03.01 10:00:00 LOG3[12:34]: x", "2024-03-01T10:00:00", 19),
            ("[20240301-10:00:00] [INFO ] x", "2024-03-01T10:00:00", 19),
        ];
        for (input, want, len) in cases {
            let (t, n) = scan_leading(input.as_bytes()).unwrap_or_else(|| panic!("{input}"));
            assert_eq!((t.to_string().as_str(), n), (want, len), "{input}");
        }
        let deep = "[".repeat(100_000) + "2024-03-01 10:00:00]";
        assert!(scan_leading(deep.as_bytes()).is_none(), "nested brackets");
        for bad in
            ["", "12345 requests", "123456789012 x", "240399 10:00:00 x", "1/1 x", "3/1/2024x", "Mar 01 2024", "[2024-03-01 10:00:00 x"]
        {
            assert!(scan_leading(bad.as_bytes()).is_none(), "{bad}");
        }
    }

    #[test]
    fn klog_headers() {
        let mut years = YearInference::new(YearAnchor::Given(2024));
        let (level, t, n) = scan_klog(b"I0301 10:00:00.123456   12345 server.go:123] x", &mut years).unwrap();
        assert_eq!((level, t.to_string().as_str(), n), (Severity::Info, "2024-03-01T10:00:00.123456", 21));
        assert!(scan_klog(b"E1301 10:00:00.1 x", &mut years).is_none());
        assert!(scan_klog(b"Info 10:00:00", &mut years).is_none());
    }
}
