//! Timestamp scanning for log headers, and year inference for year-less stamps.
//!
//! The hot formats (RFC 3164 `Mmm dd hh:mm:ss`, ISO 8601 / RFC 3339) are scanned by hand at fixed
//! positions, which is what lets the syslog parser run at millions of lines per second; calendar
//! arithmetic and the rarer layouts go through chrono.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};

use crate::record::Timestamp;

mod leading;
pub use leading::{scan_klog, scan_leading};

/// Where the year of a year-less stamp (RFC 3164 `Dec 10 06:55:46`) comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YearAnchor {
    /// `--year Y`: the first year-less stamp of the input is in year Y.
    Given(i32),
    /// The input's last write (file modification time or, for stdin, now): the *last* stamps are
    /// assumed to be in that year, so a first stamp in a month after it belongs to the year before.
    LastWritten {
        /// Year of the last write.
        year: i32,
        /// Month (1–12) of the last write.
        month: u32,
    },
}

/// Assigns years to year-less stamps of one input, rolling over at new year.
///
/// Going forward, a month more than six months earlier than the previous stamp's month means the
/// year turned (Dec → Jan). A November or December stamp right after the turn (the current month
/// January or February) is a straggler from the year before (buffered writes around new year),
/// which does not move the current year. Any other later month is the same year, after a gap:
/// years never run backwards otherwise (`Mar 8` then `Dec 31` is one year, not two).
#[derive(Debug, Clone)]
pub struct YearInference {
    anchor: YearAnchor,
    current: Option<(i32, u32)>,
}

impl YearInference {
    /// Starts inference for one input.
    pub fn new(anchor: YearAnchor) -> Self {
        YearInference { anchor, current: None }
    }

    /// The year for the next year-less stamp, which is in `month` (1–12).
    pub fn year_for(&mut self, month: u32) -> i32 {
        match self.current {
            None => {
                let year = match self.anchor {
                    YearAnchor::Given(y) => y,
                    YearAnchor::LastWritten { year, month: m } => {
                        if month > m {
                            year - 1
                        } else {
                            year
                        }
                    }
                };
                self.current = Some((year, month));
                year
            }
            Some((year, last)) => {
                if month + 6 < last {
                    self.current = Some((year + 1, month));
                    year + 1
                } else if month > last + 6 && last <= 2 && month >= 11 {
                    year - 1
                } else {
                    self.current = Some((year, month));
                    year
                }
            }
        }
    }
}

const MONTHS: [&[u8; 3]; 12] = [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];

/// Month number (1–12) of a three-letter English month name, any case.
pub fn month_of(b: &[u8]) -> Option<u32> {
    if b.len() < 3 {
        return None;
    }
    let key = [b[0].to_ascii_uppercase(), b[1].to_ascii_lowercase(), b[2].to_ascii_lowercase()];
    MONTHS.iter().position(|m| **m == key).map(|i| i as u32 + 1)
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

/// `.123` / `,123456` fraction at `at`: (nanoseconds, bytes consumed). No fraction gives (0, 0).
fn fraction(b: &[u8], at: usize) -> (u32, usize) {
    if !matches!(b.get(at), Some(b'.') | Some(b',')) {
        return (0, 0);
    }
    let mut i = at + 1;
    let mut nanos = 0u32;
    let mut n = 0;
    while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
        if n < 9 {
            nanos = nanos * 10 + (c - b'0') as u32;
            n += 1;
        }
        i += 1;
    }
    if i == at + 1 {
        return (0, 0);
    }
    for _ in n..9 {
        nanos *= 10;
    }
    (nanos, i - at)
}

/// `hh:mm:ss[.frac]` at `at`: (time, bytes consumed).
fn clock(b: &[u8], at: usize) -> Option<(NaiveTime, usize)> {
    let h = digits(b, at, 2)?;
    if b.get(at + 2) != Some(&b':') || b.get(at + 5) != Some(&b':') {
        return None;
    }
    let m = digits(b, at + 3, 2)?;
    let s = digits(b, at + 6, 2)?;
    let (nanos, flen) = fraction(b, at + 8);
    let t = if s == 60 {
        NaiveTime::from_hms_nano_opt(h, m, 59, nanos + 1_000_000_000)?
    } else {
        NaiveTime::from_hms_nano_opt(h, m, s, nanos)?
    };
    Some((t, 8 + flen))
}

/// The pieces of an RFC 3164 stamp before a year is chosen.
struct BsdParts {
    month: u32,
    day: u32,
    year: Option<i32>,
    time: NaiveTime,
    len: usize,
}

impl BsdParts {
    fn scan(b: &[u8]) -> Option<Self> {
        let month = month_of(b)?;
        if b.get(3) != Some(&b' ') {
            return None;
        }
        let mut i = 4;
        if b.get(i) == Some(&b' ') {
            i += 1;
        }
        let (day, dlen) = match digits(b, i, 2) {
            Some(d) => (d, 2),
            None => (digits(b, i, 1)?, 1),
        };
        i += dlen;
        if b.get(i) != Some(&b' ') {
            return None;
        }
        i += 1;
        let mut year = None;
        if let (Some(y), Some(b' ')) = (digits(b, i, 4), b.get(i + 4)) {
            year = Some(y as i32);
            i += 5;
        }
        let (time, clen) = clock(b, i)?;
        i += clen;
        if year.is_none() {
            if let (Some(b' '), Some(y)) = (b.get(i), digits(b, i + 1, 4)) {
                if matches!(b.get(i + 5), None | Some(b' ')) {
                    year = Some(y as i32);
                    i += 5;
                }
            }
        }
        Some(BsdParts { month, day, year, time, len: i })
    }

    fn with_year(&self, year: i32) -> Option<(Timestamp, usize)> {
        // Feb 29 of an inferred non-leap year is invalid: refuse rather than guess.
        let date = NaiveDate::from_ymd_opt(year, self.month, self.day)?;
        Some((Timestamp::naive(date.and_time(self.time)), self.len))
    }
}

/// Scans an RFC 3164 stamp at the start of `b`: `Mmm dd hh:mm:ss`, the day space- or zero-padded
/// or bare (`Jan 4`), an optional fraction, and an optional year before or after the clock
/// (`Mmm dd yyyy hh:mm:ss`, `Mmm dd hh:mm:ss yyyy`). Returns the stamp and the bytes consumed.
pub fn scan_bsd(b: &[u8], years: &mut YearInference) -> Option<(Timestamp, usize)> {
    let parts = BsdParts::scan(b)?;
    let year = match parts.year {
        Some(y) => y,
        None => years.year_for(parts.month),
    };
    parts.with_year(year)
}

/// Scans an ISO 8601 / RFC 3339 stamp at the start of `b`: `YYYY-MM-DD`, then `T` or one space,
/// `hh:mm:ss`, an optional `.`/`,` fraction, and an optional `Z` or `±hh:mm` / `±hhmm` offset.
/// Returns the stamp and the bytes consumed.
pub fn scan_iso(b: &[u8]) -> Option<(Timestamp, usize)> {
    let y = digits(b, 0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b' ' | b'\t')) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(y as i32, digits(b, 5, 2)?, digits(b, 8, 2)?)?;
    let (mut time, clen) = clock(b, 11)?;
    let mut i = 11 + clen;
    // Milliseconds after a colon (`13:50:50:123`, WindowsUpdate.log), a word of their own.
    if clen == 8 && b.get(i) == Some(&b':') {
        if let Some(ms) = digits(b, i + 1, 3).filter(|_| !b.get(i + 4).is_some_and(u8::is_ascii_digit)) {
            time += chrono::Duration::milliseconds(i64::from(ms));
            i += 4;
        }
    }
    let local = NaiveDateTime::new(date, time);
    let offset = match b.get(i) {
        Some(b'Z') => {
            i += 1;
            Some(0)
        }
        Some(b'+' | b'-') => offset_at(b, i).map(|(secs, len)| {
            i += len;
            secs
        }),
        _ => None,
    };
    Some((Timestamp { local, offset_secs: offset }, i))
}

/// A numeric UTC offset at `i`: `±hh:mm`, `±hhmm` or `±hh` (PostgreSQL's `+01`, before a space
/// or the end). Returns the offset in seconds and the bytes consumed.
fn offset_at(b: &[u8], i: usize) -> Option<(i32, usize)> {
    let sign = *b.get(i).filter(|c| matches!(c, b'+' | b'-'))?;
    let hh = digits(b, i + 1, 2)?;
    let (mm, len) = match b.get(i + 3) {
        Some(b':') => (digits(b, i + 4, 2)?, 6),
        None | Some(b' ') => (0, 3),
        _ => (digits(b, i + 3, 2)?, 5),
    };
    if hh >= 24 || mm >= 60 {
        return None;
    }
    let secs = (hh * 3600 + mm * 60) as i32;
    Some((if sign == b'-' { -secs } else { secs }, len))
}

/// Decodes a daemontools TAI64N label `@4000000063f1e2d03a2b7c00` (25 bytes) into UTC.
/// TAI is taken as UTC + 10 s, the offset daemontools' own `tai64nlocal` assumes.
pub fn tai64n(label: &[u8]) -> Option<Timestamp> {
    if label.len() != 25 || label[0] != b'@' {
        return None;
    }
    let hex = std::str::from_utf8(&label[1..]).ok()?;
    let secs = u64::from_str_radix(hex.get(..16)?, 16).ok()?;
    let nanos = u32::from_str_radix(hex.get(16..)?, 16).ok()?;
    let unix = secs.checked_sub(1 << 62)?.checked_sub(10)?;
    Timestamp::from_unix(i64::try_from(unix).ok()?, nanos.min(999_999_999))
}

/// Parses a whole string as a timestamp in any layout seen in log headers. Used for `pattern:`
/// captures and the rarer formats, not on the syslog hot path. Runs of spaces count as one.
///
/// Layouts: ISO 8601/RFC 3339 (`T` or space, `,` or `.` fractions); RFC 3164 with optional year;
/// ctime (`Sun Dec 04 04:47:44 2005`, optional fraction); HDFS `081109 203615`; BGL
/// `2005-06-03-15.42.50.675872`; `2012/04/09 11:53:29`; CLF `10/Oct/2000:13:55:36 -0700`;
/// `2015 Jan 26 10:32:34`; `2005.06.03`; Unix epoch seconds (9–10 digits, optional fraction) or
/// milliseconds (13 digits). A date without a clock is not a timestamp. Without `years`, layouts
/// that lack a year are refused.
pub fn parse_any(s: &str, mut years: Option<&mut YearInference>) -> Option<Timestamp> {
    let s = s.trim();
    let squeezed;
    let s = if s.contains("  ") {
        squeezed = s.split_whitespace().collect::<Vec<_>>().join(" ");
        squeezed.as_str()
    } else {
        s
    };
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    if let Some((t, n)) = scan_iso(b) {
        if n == b.len() {
            return Some(t);
        }
    }
    // BSD and ctime (`Www Mmm dd hh:mm:ss[.frac] yyyy`) layouts.
    let bsd_at = if b.len() > 4 && b[3] == b' ' && month_of(b).is_none() { 4 } else { 0 };
    if let Some(parts) = BsdParts::scan(&b[bsd_at..]).filter(|p| p.len + bsd_at == b.len()) {
        let year = match (parts.year, years.as_deref_mut()) {
            (Some(y), _) => y,
            (None, Some(years)) => years.year_for(parts.month),
            (None, None) => return None,
        };
        return parts.with_year(year).map(|(t, _)| t);
    }
    if b.iter().all(u8::is_ascii_digit)
        || (b.iter().filter(|&&c| c == b'.').count() == 1 && b.iter().all(|c| c.is_ascii_digit() || *c == b'.'))
    {
        return epoch(s);
    }
    // Year-less `mm-dd hh:mm:ss[.f]` (Android) and `mm.dd hh:mm:ss` (Proxifier).
    if b.len() >= 14 && matches!(b[2], b'-' | b'.') && b[5] == b' ' {
        if let (Some(month), Some(day), Some((time, n))) = (digits(b, 0, 2), digits(b, 3, 2), clock(b, 6)) {
            if n + 6 == b.len() && (1..=12).contains(&month) {
                let year = years?.year_for(month);
                return NaiveDate::from_ymd_opt(year, month, day).map(|d| Timestamp::naive(d.and_time(time)));
            }
        }
    }
    if let Some(t) = yymmdd_hhmmss(b) {
        return Some(Timestamp::naive(t));
    }
    const LAYOUTS: [&str; 7] = [
        "%y%m%d %H%M%S",
        "%y/%m/%d %H:%M:%S",
        "%Y%m%d-%H:%M:%S:%3f",
        "%Y-%m-%d-%H.%M.%S%.f",
        "%Y/%m/%d %H:%M:%S%.f",
        "%Y %b %d %H:%M:%S%.f",
        "%d/%b/%Y:%H:%M:%S%.f",
    ];
    for layout in LAYOUTS {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, layout) {
            return Some(Timestamp::naive(t));
        }
    }
    for layout in ["%d/%b/%Y:%H:%M:%S%.f %z", "%Y/%m/%d %H:%M:%S%.f %z"] {
        if let Ok(t) = DateTime::parse_from_str(s, layout) {
            return Some(Timestamp::with_offset(t.naive_local(), *t.offset()));
        }
    }
    None
}

/// `yymmdd hhmmss` (HDFS) as chrono reads it with `%y%m%d %H%M%S` (the first of the layouts
/// `parse_any` tries), without chrono's format machinery: it is read once per line. `None` sends
/// anything else, a leap second too, on to chrono.
fn yymmdd_hhmmss(b: &[u8]) -> Option<NaiveDateTime> {
    if b.len() != 13 || b[6] != b' ' {
        return None;
    }
    let yy = digits(b, 0, 2)? as i32;
    // chrono's years for `%y`: 70–99 are 1970–1999, 00–69 are 2000–2069.
    let year = if yy >= 70 { 1900 + yy } else { 2000 + yy };
    let date = NaiveDate::from_ymd_opt(year, digits(b, 2, 2)?, digits(b, 4, 2)?)?;
    date.and_hms_opt(digits(b, 7, 2)?, digits(b, 9, 2)?, digits(b, 11, 2)?)
}

/// Unix epoch seconds (9–10 digits, optional fraction) or milliseconds (13 digits).
fn epoch(s: &str) -> Option<Timestamp> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    match int.len() {
        9 | 10 => {
            let secs: i64 = int.parse().ok()?;
            let (nanos, _) = if frac.is_empty() { (0, 0) } else { fraction(format!(".{frac}").as_bytes(), 0) };
            Timestamp::from_unix(secs, nanos)
        }
        13 if frac.is_empty() => {
            let ms: i64 = int.parse().ok()?;
            Timestamp::from_unix(ms.div_euclid(1000), (ms.rem_euclid(1000) * 1_000_000) as u32)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn years(y: i32) -> YearInference {
        YearInference::new(YearAnchor::Given(y))
    }

    fn show(t: Option<Timestamp>) -> String {
        t.map(|t| t.to_string()).unwrap_or_else(|| "none".into())
    }

    #[test]
    fn hdfs_stamps_read_as_chrono_reads_them() {
        let chrono = |s: &str| NaiveDateTime::parse_from_str(s, "%y%m%d %H%M%S").ok();
        for yy in 0..100 {
            for rest in ["1109 203615", "0229 000000", "1231 235959", "1301 000000", "0431 120000", "1109 246000", "1109 235960"] {
                let s = format!("{yy:02}{rest}");
                let fast = yymmdd_hhmmss(s.as_bytes());
                assert!(fast.is_none() || fast == chrono(&s), "{s}: {fast:?} {:?}", chrono(&s));
                assert_eq!(parse_any(&s, None).map(|t| t.local), chrono(&s), "{s}");
            }
        }
        assert_eq!(yymmdd_hhmmss(b"081109 2036151"), None);
        assert_eq!(yymmdd_hhmmss(b"08110x 203615"), None);
    }

    #[test]
    fn bsd_stamps() {
        let cases = [
            ("Dec 10 06:55:46 LabSZ", "2005-12-10T06:55:46", 15),
            ("Jun  9 06:55:46 x", "2005-06-09T06:55:46", 15),
            ("Jan 4 21:51:05 hostname", "2005-01-04T21:51:05", 14),
            ("Feb 16 23:33:20.123 h", "2005-02-16T23:33:20.123", 19),
            ("Mar  7 2019 18:53:20 bar", "2019-03-07T18:53:20", 20),
            ("Mar  7 18:53:20 2019 bar", "2019-03-07T18:53:20", 20),
        ];
        for (input, want, len) in cases {
            let (t, n) = scan_bsd(input.as_bytes(), &mut years(2005)).unwrap_or_else(|| panic!("{input}"));
            assert_eq!((t.to_string().as_str(), n), (want, len), "{input}");
        }
        for bad in ["", "Dec", "Dec 10", "Dex 10 06:55:46", "Dec 10 6:55:46", "Dec 32 06:55:46", "Dec 10 25:00:00", "Feb 30 00:00:00"] {
            assert!(scan_bsd(bad.as_bytes(), &mut years(2005)).is_none(), "{bad}");
        }
    }

    #[test]
    fn year_rolls_over_at_new_year_and_tolerates_disorder() {
        let mut y = years(2025);
        assert_eq!([y.year_for(12), y.year_for(12), y.year_for(1), y.year_for(12), y.year_for(2)], [2025, 2025, 2026, 2025, 2026]);
        // Anchored on the last write in March 2026: a log starting in November began in 2025.
        let mut y = YearInference::new(YearAnchor::LastWritten { year: 2026, month: 3 });
        assert_eq!([y.year_for(11), y.year_for(1), y.year_for(3)], [2025, 2026, 2026]);
        let mut y = YearInference::new(YearAnchor::LastWritten { year: 2026, month: 3 });
        assert_eq!(y.year_for(2), 2026);
        // A gap of months is not disorder: the years stay in order.
        let mut y = YearInference::new(YearAnchor::LastWritten { year: 2026, month: 11 });
        assert_eq!([y.year_for(3), y.year_for(12), y.year_for(1)], [2026, 2026, 2027]);
        let mut y = years(2025);
        assert_eq!([y.year_for(2), y.year_for(12), y.year_for(2)], [2025, 2024, 2025]);
    }

    #[test]
    fn iso_stamps() {
        let cases = [
            ("2015-04-16T18:02:50.321974+00:00 host", "2015-04-16T18:02:50.321974Z", 32),
            ("2025-03-04T01:06:36.645577 ip", "2025-03-04T01:06:36.645577", 26),
            ("2015-10-18 18:01:47,978 INFO", "2015-10-18T18:01:47.978", 23),
            ("2024-01-07T00:00:07.463Z,1", "2024-01-07T00:00:07.463Z", 24),
            ("2003-10-11T22:14:15.003-0700 x", "2003-10-11T22:14:15.003-07:00", 28),
            ("2013-01-04 17:03:46 login", "2013-01-04T17:03:46", 19),
            ("2024-03-01 10:00:00.123+01 [12]", "2024-03-01T10:00:00.123+01:00", 26),
            ("2015-11-04\t13:50:50:123\t1152\t1b8c\tAgent\t*", "2015-11-04T13:50:50.123", 23),
        ];
        for (input, want, len) in cases {
            let (t, n) = scan_iso(input.as_bytes()).unwrap_or_else(|| panic!("{input}"));
            assert_eq!((t.to_string().as_str(), n), (want, len), "{input}");
        }
        for bad in ["", "2015-04-16", "2015-13-16T18:02:50", "2015-04-16X18:02:50", "20150416T180250"] {
            assert!(scan_iso(bad.as_bytes()).is_none(), "{bad}");
        }
    }

    #[test]
    fn any_layout() {
        let cases = [
            ("081109 203615", "2008-11-09T20:36:15"),
            ("2005-06-03-15.42.50.675872", "2005-06-03T15:42:50.675872"),
            ("1117838570", "2005-06-03T22:42:50Z"),
            ("1373330717.000", "2013-07-09T00:45:17Z"),
            ("Sun Dec 04 04:47:44 2005", "2005-12-04T04:47:44"),
            ("Sat Jul 20 21:37:32.266605 2013", "2013-07-20T21:37:32.266605"),
            ("2012/04/09 11:53:29", "2012-04-09T11:53:29"),
            ("10/Oct/2000:13:55:36 -0700", "2000-10-10T13:55:36-07:00"),
            ("2015 Jan 26 10:32:34", "2015-01-26T10:32:34"),
            ("Jun  14   15:16:01", "2005-06-14T15:16:01"),
            ("2017-05-16 00:00:00.008", "2017-05-16T00:00:00.008"),
            ("03-17 16:13:38.811", "2005-03-17T16:13:38.811"),
            ("10.30 16:49:06", "2005-10-30T16:49:06"),
            ("17/06/09 20:10:40", "2017-06-09T20:10:40"),
            ("20171223-22:15:29:606", "2017-12-23T22:15:29.606"),
        ];
        for (input, want) in cases {
            assert_eq!(show(parse_any(input, Some(&mut years(2005)))), want, "{input}");
        }
        for bad in ["", "combo", "12", "99:99:99", "Dec 10", "2005.06.03", "2005-06-03"] {
            assert_eq!(show(parse_any(bad, Some(&mut years(2005)))), "none", "{bad}");
        }
        // Without an inference, year-less layouts are refused and the rest still parse.
        assert_eq!(show(parse_any("Jun 14 15:16:01", None)), "none");
        assert_eq!(show(parse_any("Sun Dec 04 04:47:44 2005", None)), "2005-12-04T04:47:44");
        assert_eq!(show(parse_any("Mar  7 2019 18:53:20", None)), "2019-03-07T18:53:20");
    }

    #[test]
    fn tai64n_labels() {
        assert_eq!(show(tai64n(b"@400000003e38291035d359ac")), "2003-01-29T19:18:30.903043500Z");
        assert!(tai64n(b"@400000003e38291035d359a").is_none());
        assert!(tai64n(b"@40000000zz38291035d359ac").is_none());
        assert!(tai64n(b"@000000003e38291035d359ac").is_none());
    }
}
