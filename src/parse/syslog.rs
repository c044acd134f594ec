//! Syslog-family headers: RFC 3164 (BSD) with the variants real daemons write, the timestamp-less
//! "host tag: msg" form of journal short output, daemontools TAI64N labels, and Linux audit lines.
//! RFC 5424 lives in [`super::rfc5424`].
//!
//! RFC 3164 variants understood: optional `<PRI>`; `Mmm dd hh:mm:ss` with optional fraction and
//! year, or rsyslog's ISO 8601 stamp; optional host (a tag may follow the stamp directly); an
//! optional `<facility.severity>` token (sendmail); tags `sshd[1]:`, `sshd(pam_unix)[1]:`,
//! `auth-worker(80180):`, `sshd-session[1]:`, `postfix/smtpd[1]:`, `imapd:`, `syslogd 1.4.1:`,
//! `-- root[2421]:` and proftpd's colon-less `proftpd[15719] host (...)`.

use serde_json::Value;

use super::auto::Builtins;
use super::header::{apply_pri, host_tag_message, scan_pri, split_tag, trim_end, Tag};
use super::time::{scan_bsd, scan_iso, tai64n, YearInference};
use crate::record::{Record, RecordKind, Timestamp};

fn fill(rec: &mut Record, host: Option<&str>, tag: Option<Tag<'_>>, message: &str) {
    rec.host = host.map(str::to_owned);
    match tag {
        Some(t) => {
            rec.app = Some(t.app.to_owned());
            rec.component = t.component.map(str::to_owned);
            rec.pid = t.pid;
            rec.message = trim_end(t.message).to_owned();
        }
        None => rec.message = trim_end(message).to_owned(),
    }
    unwrap_message(rec);
}

/// Takes apart what syslog daemons wrap around a message: Solaris' `[ID 800047 auth.notice] msg`
/// (kept as `log.syslog.msgid`, severity from the level), and notes the count of rsyslog's
/// `message repeated 5 times: [ msg]` as the field `repeated`.
fn unwrap_message(rec: &mut Record) {
    if let Some(rest) = rec.message.strip_prefix("[ID ") {
        if let Some((id, msg)) = rest.split_once("] ") {
            if let Some((num, facility)) = id.split_once(' ') {
                if num.bytes().all(|c| c.is_ascii_digit()) && !facility.contains(' ') {
                    rec.severity = facility.rsplit('.').next().and_then(|l| l.parse().ok()).or(rec.severity);
                    rec.fields.push(("log.syslog.msgid".into(), Value::from(num)));
                    rec.message = msg.to_owned();
                }
            }
        }
    }
    // The message itself stays as written (its own template); rules match inside it.
    if let Some(rest) = rec.message.strip_prefix("message repeated ") {
        if let Some((times, _)) = rest.split_once(" times: [") {
            if let Ok(n) = times.parse::<u64>() {
                rec.fields.push(("repeated".into(), Value::from(n)));
            }
        }
    }
}

/// Parses an RFC 3164 line (and the variants listed in the module doc). `None`: not RFC 3164.
pub fn parse_rfc3164(line: &str, years: &mut YearInference) -> Option<Record> {
    let b = line.as_bytes();
    let (pri, mut i) = match scan_pri(b) {
        Some((p, n)) => (Some(p), n),
        None => (None, 0),
    };
    let (ts, n, iso) = match scan_bsd(&b[i..], years) {
        Some((t, n)) => (t, n, false),
        None => {
            // rsyslog and macOS write ISO stamps, with `T` or a space; a tag must then follow.
            let (t, n) = scan_iso(&b[i..])?;
            (t, n, true)
        }
    };
    i += n;
    if b.get(i) != Some(&b' ') {
        return None;
    }
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    let mut rest = &line[i..];
    let mut severity = None;
    // sendmail's `<mail.notice>` token before the host.
    if rest.starts_with('<') {
        if let Some(end) = rest.find("> ") {
            let token = &rest[1..end];
            if let Some((_, sev)) = token.split_once('.') {
                if token.len() < 32 && token.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'.') {
                    severity = sev.parse().ok();
                    rest = &rest[end + 2..];
                }
            }
        }
    }
    // rsyslog ISO lines are never tag-less; BSD stamps are strong enough alone.
    let (host, tag, message) = host_tag_message(rest, iso)?;
    let mut rec = Record::new(RecordKind::Rfc3164, String::new());
    rec.timestamp = Some(ts);
    if let Some(p) = pri {
        apply_pri(&mut rec, p);
    }
    if severity.is_some() {
        rec.severity = severity;
    }
    fill(&mut rec, host, tag, message);
    Some(rec)
}

/// The timestamp-less form journal short output and some daemons write: `host app[pid]: msg` or
/// `app[pid]: msg`. A tag is required. `None`: not this form.
///
/// Such a message often starts with the program's own header, which then gives the timestamp:
/// `host nginx[1]: 2023/12/09 21:35:20 [error] 1#1: msg`, `host exim[1]: 2021-07-17 23:20:49 msg`,
/// also after a repeated `host nginx:`.
pub fn parse_untimed(headers: &Builtins, line: &str) -> Option<Record> {
    let (host, tag, _) = host_tag_message(line, true)?;
    // `4104E3D: client=...` is a Postfix queue id, not a program: without a host or a pid, a
    // name with several digits and no separator is an id.
    if let (None, Some(t)) = (host, &tag) {
        let digits = t.app.bytes().filter(u8::is_ascii_digit).count();
        if t.pid.is_none() && digits >= 2 && !t.app.contains(['-', '/', '.', '_']) {
            return None;
        }
    }
    let mut rec = Record::new(RecordKind::Rfc3164, String::new());
    fill(&mut rec, host, tag, "");
    embedded_header(headers, &mut rec);
    Some(rec)
}

fn embedded_header(headers: &Builtins, rec: &mut Record) {
    let repeated = match host_tag_message(&rec.message, true) {
        Some((_, Some(tag), _)) if Some(tag.app) == rec.app.as_deref() => Some(tag.message.to_owned()),
        _ => None,
    };
    let message = repeated.as_deref().unwrap_or(&rec.message);
    if let Some(inner) = super::apache::parse_nginx_error(headers, message).or_else(|| super::generic::parse_timestamped(message)) {
        rec.timestamp = inner.timestamp;
        rec.severity = rec.severity.or(inner.severity);
        rec.pid = rec.pid.or(inner.pid);
        rec.message = inner.message;
    }
}

/// A daemontools/multilog line: `@<tai64n> rest`, where rest is a syslog-style tag and message or
/// a bare message (qmail). `None`: not this form.
pub fn parse_tai64n(line: &str) -> Option<Record> {
    let label = line.get(..25)?;
    let ts = tai64n(label.as_bytes())?;
    let rest = line.get(25..)?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let mut rec = Record::new(RecordKind::Tai64n, String::new());
    rec.timestamp = Some(ts);
    match split_tag(rest, false) {
        Some(tag) => fill(&mut rec, None, Some(tag), ""),
        None => rec.message = trim_end(rest).to_owned(),
    }
    Some(rec)
}

/// A Linux audit line: `type=USER_LOGIN msg=audit(1383116048.000:595): pid=... msg='...'`.
/// `None`: not this form.
pub fn parse_audit(line: &str) -> Option<Record> {
    let rest = line.strip_prefix("type=")?;
    let (kind, rest) = rest.split_once(' ')?;
    let rest = rest.strip_prefix("msg=audit(")?;
    let (stamp, message) = rest.split_once("): ")?;
    let (when, serial) = stamp.split_once(':')?;
    let (secs, frac) = when.split_once('.').unwrap_or((when, "0"));
    let nanos = format!("{frac:0<9}").get(..9)?.parse().ok()?;
    let mut rec = Record::new(RecordKind::Audit, trim_end(message));
    rec.timestamp = Timestamp::from_unix(secs.parse().ok()?, nanos);
    rec.app = Some("audit".into());
    rec.push_field("auditd.log.record_type", kind);
    rec.push_field("auditd.log.sequence", serial);
    Some(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::auto::builtins;
    use crate::parse::time::YearAnchor;
    use crate::record::Severity;

    fn p(line: &str) -> Option<Record> {
        parse_rfc3164(line, &mut YearInference::new(YearAnchor::Given(2005)))
    }

    /// (line, timestamp, host, app, component, pid, message)
    type Row = (&'static str, &'static str, Option<&'static str>, Option<&'static str>, Option<&'static str>, Option<u32>, &'static str);

    #[test]
    fn rfc3164_table() {
        let rows: &[Row] = &[
            (
                "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
                "2005-12-10T06:55:46",
                Some("LabSZ"),
                Some("sshd"),
                None,
                Some(24200),
                "Invalid user webmaster from 173.234.31.186",
            ),
            (
                "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 ",
                "2005-06-14T15:16:01",
                Some("combo"),
                Some("sshd"),
                Some("pam_unix"),
                Some(19939),
                "authentication failure; logname= uid=0",
            ),
            (
                "Jul  3 14:59:17 host sshd-session[1571]: Failed password for root",
                "2005-07-03T14:59:17",
                Some("host"),
                Some("sshd-session"),
                None,
                Some(1571),
                "Failed password for root",
            ),
            (
                "Jul 12 07:47:48 saturn postfix/smtpd[8738]: NOQUEUE: reject",
                "2005-07-12T07:47:48",
                Some("saturn"),
                Some("postfix/smtpd"),
                None,
                Some(8738),
                "NOQUEUE: reject",
            ),
            (
                "Apr 23 21:59:01 dns2 imapd: LOGIN FAILED, user=sales",
                "2005-04-23T21:59:01",
                Some("dns2"),
                Some("imapd"),
                None,
                None,
                "LOGIN FAILED, user=sales",
            ),
            (
                "2015-04-16T18:02:50.321974+00:00 host sshd[2716]: pam_unix(sshd:auth): x",
                "2015-04-16T18:02:50.321974Z",
                Some("host"),
                Some("sshd"),
                None,
                Some(2716),
                "pam_unix(sshd:auth): x",
            ),
            (
                "Nov 23 21:50:19 sshd[9148]: Disconnecting: Too many",
                "2005-11-23T21:50:19",
                None,
                Some("sshd"),
                None,
                Some(9148),
                "Disconnecting: Too many",
            ),
            (
                "Jun 12 11:48:12 auth-worker(80180): Info: conn",
                "2005-06-12T11:48:12",
                None,
                Some("auth-worker"),
                None,
                Some(80180),
                "Info: conn",
            ),
            (
                "Jun 19 04:09:11 combo syslogd 1.4.1: restart.",
                "2005-06-19T04:09:11",
                Some("combo"),
                Some("syslogd"),
                None,
                None,
                "restart.",
            ),
            (
                "Jul  7 08:06:15 combo  -- root[2421]: ROOT LOGIN ON tty2",
                "2005-07-07T08:06:15",
                Some("combo"),
                Some("-- root"),
                None,
                Some(2421),
                "ROOT LOGIN ON tty2",
            ),
            (
                "Jun 13 22:07:23 platypus proftpd[15719] platypus (::ffff:59.1[::ffff:59.1]): SECURITY",
                "2005-06-13T22:07:23",
                Some("platypus"),
                Some("proftpd"),
                None,
                Some(15719),
                "platypus (::ffff:59.1[::ffff:59.1]): SECURITY",
            ),
            (
                "Jun 17 14:37:39 <mail.notice> robin sm-mta[2794]: 55HIbcGI002794: User unknown",
                "2005-06-17T14:37:39",
                Some("robin"),
                Some("sm-mta"),
                None,
                Some(2794),
                "55HIbcGI002794: User unknown",
            ),
            (
                "<34>Oct 11 22:14:15 mymachine su: 'su root' failed",
                "2005-10-11T22:14:15",
                Some("mymachine"),
                Some("su"),
                None,
                None,
                "'su root' failed",
            ),
            (
                "Mar  1 12:00:00 host a free message without tag",
                "2005-03-01T12:00:00",
                Some("host"),
                None,
                None,
                None,
                "a free message without tag",
            ),
            ("Jan  1 00:00:00 h app[1]:", "2005-01-01T00:00:00", Some("h"), Some("app"), None, Some(1), ""),
            (
                "Aug 18 07:30:25 192.168.1.5 sshd[20247]: [ID 800047 auth.notice] Failed none for root",
                "2005-08-18T07:30:25",
                Some("192.168.1.5"),
                Some("sshd"),
                None,
                Some(20247),
                "Failed none for root",
            ),
            (
                "Dec 10 07:13:56 LabSZ sshd[24227]: message repeated 5 times: [ Failed password for root]",
                "2005-12-10T07:13:56",
                Some("LabSZ"),
                Some("sshd"),
                None,
                Some(24227),
                "message repeated 5 times: [ Failed password for root]",
            ),
            (
                "2020-03-24 08:38:47.230409-0700  localhost sshd[2531]: Disconnected from user",
                "2020-03-24T08:38:47.230409-07:00",
                Some("localhost"),
                Some("sshd"),
                None,
                Some(2531),
                "Disconnected from user",
            ),
            (
                "Mar  3 00:17:22 [sshd]: User root from 211.188.220.49",
                "2005-03-03T00:17:22",
                None,
                Some("sshd"),
                None,
                None,
                "User root from 211.188.220.49",
            ),
            (
                "Jun 25 23:53:34 [sshd] User root from 1.2.3.4",
                "2005-06-25T23:53:34",
                None,
                Some("sshd"),
                None,
                None,
                "User root from 1.2.3.4",
            ),
            (
                "Jul 11 11:33:13 combo gdm(pam_unix)[2803]: check pass; user unknown",
                "2005-07-11T11:33:13",
                Some("combo"),
                Some("gdm"),
                Some("pam_unix"),
                Some(2803),
                "check pass; user unknown",
            ),
        ];
        for &(line, ts, host, app, comp, pid, msg) in rows {
            let r = p(line).unwrap_or_else(|| panic!("not parsed: {line}"));
            assert_eq!(r.timestamp.map(|t| t.to_string()).as_deref(), Some(ts), "{line}");
            assert_eq!(
                (r.host.as_deref(), r.app.as_deref(), r.component.as_deref(), r.pid, r.message.as_str()),
                (host, app, comp, pid, msg),
                "{line}"
            );
        }
    }

    #[test]
    fn rfc3164_rejects() {
        for line in [
            "",
            " ",
            "Dec",
            "Dec 10 06:55:46",
            "081109 203615 148 INFO dfs.DataNode: x",
            "2015-10-18 18:01:47,978 INFO [main] x: y",
            "[Sun Dec 04 04:47:44 2005] [notice] x",
            "2015-04-16T18:02:50Z host free text",
        ] {
            assert!(p(line).is_none(), "{line:?}");
        }
    }

    #[test]
    fn pri_gives_severity_and_facility() {
        let r = p("<34>Oct 11 22:14:15 mymachine su: x").unwrap();
        assert_eq!(r.severity, Some(Severity::Critical));
        assert_eq!(r.field("log.syslog.facility.code"), Some(&Value::from(4)));
        assert!(scan_pri(b"<192>x").is_none());
        assert!(scan_pri(b"<>x").is_none());
        assert!(scan_pri(b"<1a>").is_none());
    }

    #[test]
    fn untimed_table() {
        let r = parse_untimed(&builtins(), "srv sshd[28732]: error: PAM: Authentication failure").unwrap();
        assert_eq!(
            (r.host.as_deref(), r.app.as_deref(), r.pid, r.message.as_str()),
            (Some("srv"), Some("sshd"), Some(28732), "error: PAM: Authentication failure")
        );
        let r = parse_untimed(&builtins(), "imapd[26888]: Login failed user=x").unwrap();
        assert_eq!((r.host, r.app.as_deref()), (None, Some("imapd")));
        let r = parse_untimed(&builtins(), "pam_unix(sudo:session): session closed for user root").unwrap();
        assert_eq!((r.app.as_deref(), r.component.as_deref()), (Some("pam_unix"), Some("sudo:session")));
        let r = parse_untimed(
            &builtins(),
            "host nginx[23141]: host nginx: 2025/09/07 21:20:40 [error] 23141#23141: *24470 PAM: user 'username'",
        )
        .unwrap();
        assert_eq!(
            (r.timestamp.unwrap().to_string().as_str(), r.message.as_str(), r.severity),
            ("2025-09-07T21:20:40", "*24470 PAM: user 'username'", Some(Severity::Error))
        );
        let r =
            parse_untimed(&builtins(), "mail.example.com exim[3751842]: 2021-07-17 23:20:49 plain_server authenticator failed").unwrap();
        assert_eq!(
            (r.timestamp.unwrap().to_string().as_str(), r.message.as_str()),
            ("2021-07-17T23:20:49", "plain_server authenticator failed")
        );
        for line in [
            "",
            "FAILED LOGIN (1) on '/dev/tty1' FOR 'czanik'",
            "just words here",
            "a b c d e: f",
            ": libvirt.libvirtError: internal error",
        ] {
            assert!(parse_untimed(&builtins(), line).is_none(), "{line}");
        }
    }

    #[test]
    fn tai64n_and_audit() {
        let r = parse_tai64n("@400000004c91b044077a9e94 dovecot-auth: pam_unix(dovecot:auth): authentication failure").unwrap();
        assert_eq!((r.app.as_deref(), r.message.as_str()), (Some("dovecot-auth"), "pam_unix(dovecot:auth): authentication failure"));
        assert!(r.timestamp.is_some());
        let r = parse_tai64n("@400000003e3829103573e42c info msg 706430: bytes 2737").unwrap();
        assert_eq!((r.app, r.message.as_str()), (None, "info msg 706430: bytes 2737"));
        assert!(parse_tai64n("@4000").is_none());
        let r = parse_audit("type=USER_LOGIN msg=audit(1383116048.000:595): pid=12354 uid=0 msg='op=login acct=\"dan\"'").unwrap();
        assert_eq!(r.timestamp.unwrap().to_string(), "2013-10-30T06:54:08Z");
        assert_eq!(r.message, "pid=12354 uid=0 msg='op=login acct=\"dan\"'");
        for line in ["", "type=X", "type=X msg=audit(abc:1): y", "type=X msg=audit(1.0:1) y"] {
            assert!(parse_audit(line).is_none(), "{line}");
        }
    }
}
