//! The generic layer, for messages no rule knows: failure/success wording, users, IP addresses
//! and host names, so an unknown daemon's "authentication failed for bob from 1.2.3.4" still gets
//! `event.outcome: failure`, `user.name` and `source.ip`. Its events carry `logsieve.rule: generic`.

use std::sync::LazyLock;

use regex::Regex;

use super::rules::{is_ip, Extracted};
use super::vocabulary::{self, Action, Outcome};

static FAILURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:fail(?:ed|ure|s|ing)?|invalid|denied|refused|reject(?:ed)?|not allowed|unauthori[sz]ed|bad (?:password|login|user)|incorrect|illegal|forbidden|unknown user|no such user|mismatch|wrong password)\b").expect("static regex")
});
static SUCCESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:accepted|success(?:ful(?:ly)?)?|succeeded|granted|logged in|authenticated)\b").expect("static regex")
});
static AUTH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(?:auth\w*|log ?in|logon|password|passwd|credentials?|sasl)\b").expect("static regex"));
/// Where a user name stands, most explicit first.
static USER: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r#"(?i)\buser(?:name)?\s*[=:]\s*['"<\[`]?(?P<u>[\w.@$\\-]+)"#,
        r#"(?i)\bfor (?:invalid |illegal )?user\s+['"<\[`]?(?P<u>[\w.@$\\-]+)"#,
        r#"(?i)\buser\s+['"<\[`]?(?P<u>[\w.@$\\-]+)"#,
        r#"(?i)\bfor\s+['"<\[`]?(?P<u>[\w.@$\\-]+)['">\]`]? from\b"#,
    ]
    .iter()
    .map(|r| Regex::new(r).expect("static regex"))
    .collect()
});
static IP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:(?:\d{1,3}\.){3}\d{1,3})?)").expect("static regex")
});
static FROM_HOST: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(?:from|rhost=|host=|client)\s*(?P<h>[A-Za-z][\w-]*(?:\.[\w-]+)+)").expect("static regex"));

/// Words that name no user after "user"/"for".
const NOT_USERS: &[&str] =
    &["from", "the", "a", "an", "is", "was", "unknown", "not", "to", "with", "on", "in", "at", "by", "of", "and", "or", "name", "user"];

/// What the generic layer made of a message.
#[derive(Debug, Clone, PartialEq)]
pub struct GenericMatch {
    /// Success or failure.
    pub outcome: Outcome,
    /// A standard event, when the wording is clearly about authentication.
    pub action: Option<&'static Action>,
    /// Users, source addresses and host names found.
    pub fields: Extracted,
}

/// Looks for outcome wording in a message; `None` when there is none.
pub fn classify(message: &str) -> Option<GenericMatch> {
    let failure = FAILURE.is_match(message);
    let success = !failure && SUCCESS.is_match(message);
    if !failure && !success {
        return None;
    }
    let outcome = if failure { Outcome::Failure } else { Outcome::Success };
    let auth = AUTH.is_match(message);
    let action = match (auth, failure) {
        (true, true) => vocabulary::action("authentication.login.failure"),
        (true, false) => vocabulary::action("authentication.login.success"),
        _ => None,
    };
    let mut fields: Extracted = Vec::new();
    let user = USER
        .iter()
        .flat_map(|re| re.captures_iter(message).filter_map(|c| c.name("u")).map(|m| m.as_str()).collect::<Vec<_>>())
        .find(|u| !NOT_USERS.contains(&u.to_ascii_lowercase().as_str()) && !is_ip(u));
    if let Some(u) = user {
        fields.push(("user".into(), u.trim_end_matches(['.', ',', ':']).to_owned()));
    }
    if let Some(ip) = source_ip(message) {
        fields.push(("source_ip".into(), ip.to_owned()));
    } else if let Some(h) = FROM_HOST.captures(message).and_then(|c| c.name("h")) {
        fields.push(("source_domain".into(), h.as_str().to_owned()));
    }
    Some(GenericMatch { outcome, action, fields })
}

/// The source address: the first IP after `from`, `rhost=`, `client`, `ip=`, ... or else the first.
pub fn source_ip(message: &str) -> Option<&str> {
    let mut first = None;
    for m in IP.find_iter(message) {
        let ip = m.as_str().trim_end_matches(':');
        if !is_ip(ip) {
            continue;
        }
        let before = message[..m.start()].to_ascii_lowercase();
        // The 12 bytes before the address, widened to a character boundary.
        let from = (before.len().saturating_sub(12)..=before.len()).find(|&i| before.is_char_boundary(i)).unwrap_or(before.len());
        let tail = &before[from..];
        if ["from", "rhost=", "client", "ip=", "host=", "rip=", "relay=", "src=", "address", "remote"].iter().any(|k| tail.contains(k)) {
            return Some(ip);
        }
        first.get_or_insert(ip);
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field<'a>(m: &'a GenericMatch, k: &str) -> Option<&'a str> {
        m.fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn unknown_daemon_failures() {
        let m = classify("authentication failed for bob from 1.2.3.4").unwrap();
        assert_eq!((m.outcome, m.action.map(|a| a.name)), (Outcome::Failure, Some("authentication.login.failure")));
        assert_eq!((field(&m, "user"), field(&m, "source_ip")), (Some("bob"), Some("1.2.3.4")));
        let m = classify("login rejected: user=alice src=10.0.0.8 (bad password)").unwrap();
        assert_eq!((field(&m, "user"), field(&m, "source_ip")), (Some("alice"), Some("10.0.0.8")));
        let m = classify("Connection refused by 192.0.2.1 via 10.0.0.1 from 2001:db8::1").unwrap();
        assert_eq!((m.outcome, m.action, field(&m, "source_ip")), (Outcome::Failure, None, Some("2001:db8::1")));
        let m = classify("User carol logged in from host.example.org").unwrap();
        assert_eq!((m.outcome, field(&m, "user"), field(&m, "source_domain")), (Outcome::Success, Some("carol"), Some("host.example.org")));
        assert!(classify("PacketResponder 1 for block blk_38865049064139660 terminating").is_none());
        // Regression (found by the property test): multi-byte text just before an address.
        let m = classify("login failed €é€€€1.2.3.4").unwrap();
        assert_eq!(field(&m, "source_ip"), Some("1.2.3.4"));
        assert!(classify("").is_none());
    }
}
