//! The generic layer, for messages no rule knows: failure/success wording, users, IP addresses
//! and host names, so an unknown daemon's "authentication failed for bob from 1.2.3.4" still gets
//! `event.outcome: failure`, `user.name` and `source.ip`. Its events carry `logsieve.rule: generic`.

use std::sync::LazyLock;

use regex::Regex;

use super::rules::{is_ip, Extracted};
use super::vocabulary::{self, Action, Outcome};

static FAILURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:fail(?:ed|ure|s|ing)?|invalid|denied|refused|reject(?:ed)?|not allowed|unauthori[sz]ed|bad (?:password|login|user)|incorrect|illegal|forbidden|unknown user|no such user|mismatch|wrong password|(?:security |policy )?violation|(?:does not|doesn't|did not|didn't) match|non-?existent (?:user|login|account)|(?:can't|cannot|could not|couldn't|unable to) find user|rate[- ]limit(?:ed|ing)? (?:exceeded|reached)|rate[- ]limited|limiting requests|too many requests)\b|(?-i:_DENIED)\b").expect("static regex")
});
static SUCCESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:accepted|success(?:ful(?:ly)?)?|succeeded|granted|logged in|authenticated)\b").expect("static regex")
});
static AUTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:auth\w*|log ?in|logged in|logon|password|passwd|credentials?|sasl|publickey|keyboard-interactive)\b")
        .expect("static regex")
});

/// The vocabulary of standard events, most specific first: what the words of a message say
/// happened, in any product. A message no rule knows and no example resembles is named by the
/// first entry it matches (and only when it has outcome wording, for the logins at the end).
static EVENTS: LazyLock<(regex::RegexSet, Vec<&'static str>)> = LazyLock::new(|| {
    let entries = [
        // Authentication with a user that does not exist, said outright.
        // (Linux-PAM's text for PAM_USER_UNKNOWN too.)
        (
            r"(?i)\b(?:invalid|illegal|nonexistent|non-existent|no such) user\b|\b(?:nonexistent|non-existent|no such) (?:login|account)\b|\buser not known to the underlying authentication module\b|\b(?:can't|cannot|could not|couldn't|unable to) find user\b",
            "authentication.user.invalid",
        ),
        // Privilege: sudo's and su's words, whoever writes them.
        (
            r"(?i)\bnot in sudoers\b|\bbad su\b|\bincorrect password attempts?\b|\bfailed:? .*\bchanging from\b",
            "iam.privilege.escalate.failure",
        ),
        (r"\bCOMMAND=|(?i:\bchanging from \S+ to \S+)", "iam.privilege.escalate"),
        // Mail: the queue's verdict first, then SMTP rejections and the queue's other words.
        (r"(?i)\bstatus=bounced\b|\bbounced\b|\bundeliverable\b", "email.bounce"),
        (r"(?i)\bstatus=deferred\b|\bdeferred\b|\btemporar(?:y|ily) (?:failure|rejected)\b", "email.defer"),
        (r"(?i)\borig_to=|\bforwarded\b", "email.forward"),
        (r"(?i)\bstatus=sent\b|\bstat=sent\b", "email.deliver"),
        (
            r"(?i)\b(?:reject(?:ed|ing)?|milter-reject|blocked|denied)\b.*\b(?:rcpt|mail from|sender|recipient|relay|end-of-message|commands)\b|\bruleset=check_(?:rcpt|mail|relay)\b|\b5\.7\.1\b",
            "email.reject",
        ),
        (r"(?i)\bdelivered\b|\bsaved to\b|\bdelivery \d+: success\b", "email.deliver"),
        // A message's size and sender together (`from=<a@b>, size=…`, `bytes 2737 from <a@b>`).
        (r"(?i)\bfrom=<[^>]*>,? size=|\b(?:size[= ]|bytes )\d+,? from[= ]<[^>]*>|\bmessage accepted\b|\bqueued as\b", "email.receive"),
        // A failed authentication, in so many words; a limit of attempts reached is one too
        // (OpenSSH's `maximum authentication attempts exceeded`, ProFTPD's `Maximum login
        // attempts (3) exceeded`, `Too many authentication failures`).
        (
            r"(?i)\b(?:(?:maximum|max|too many) (?:number of )?(?:authentication|login|logon|password) (?:attempts|failures|tries|retries)|auth(?:entication)? (?:failed|failure|error)|(?:login|logon|log on) (?:failed|failure|incorrect)|failed (?:to log ?on|login|logon|password|none|publickey|keyboard-interactive)|login failures?|(?:invalid|bad|wrong) password|password mismatch)\b",
            "authentication.login.failure",
        ),
        // A user that does not exist, said in passing.
        (r"(?i)\bunknown user\b|\buser (?:not found|unknown|does not exist|doesn't exist|not known)\b", "authentication.user.invalid"),
        // Sessions and connections.
        (r"(?i)\bsession opened\b", "session.start"),
        (r"(?i)\b(?:logout|logged out|log out|logoff|logged off|session closed)\b", "session.end"),
        (
            r"(?i)\b(?:connection (?:closed|reset|lost|timed out)|disconnect(?:ed)?|lost connection|closed connection)\b|\bconnection from\b.*\blost\s*$",
            "network.connection.end",
        ),
        (
            r"(?i)\b(?:connection from|connect from|new connection|accepted connection|connection established|incoming connection|connection opened)\b",
            "network.connection.start",
        ),
        // A login that went through.
        // (`Login: user=<bob>`, `LOGIN, user=bob`, `Login user=bob`: a login that names its user and
        // no outcome went through; failures were named above.)
        (r"(?i)\b(?:login|logon) from\b|\blogged in\b|\b(?:login|logon)[,:]?\s+user\s*[=:]", "authentication.login.success"),
    ];
    // One pass over the message for all of them; the first (most specific) that matches wins.
    let set = regex::RegexSet::new(entries.iter().map(|(r, _)| *r)).expect("static regexes");
    (set, entries.iter().map(|(_, a)| *a).collect())
});

/// The standard event the words of a message name, if any (most specific first). Most logins are
/// named by [`classify`] from their outcome wording; a login named here as a success
/// (`Login: user=<bob>`) is a failure when the message also has failure wording (see
/// `Normalizer::classify`).
pub fn event(message: &str) -> Option<&'static Action> {
    let (set, actions) = &*EVENTS;
    set.matches(message).iter().next().and_then(|i| vocabulary::action(actions[i]))
}
/// Indexes into [`USER`] that [`fields`] treats apart: `Account Name:` (said of the subject
/// first, of the account acted on last), `user=` (whose value `user` is a name) and `for ...
/// from` (any word between them is a name).
const ACCOUNT_NAME: usize = 0;
const USER_KEY: usize = 1;
const FOR_FROM: usize = 4;

/// Where a user name stands, most explicit first.
static USER: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // `Account Name: bob` (Windows' event text and others of its kind): see [`fields`].
        r#"(?i)\baccount name:\s*(?P<u>[\w.@$\\-]+)"#,
        r#"(?i)\buser(?:name)?\s*[=:]\s*['"<\[`]?(?P<u>[\w.@$\\-]+)"#,
        r#"(?i)\bfor (?:invalid |illegal )?user\s+['"<\[`]?(?P<u>[\w.@$\\-]+)"#,
        r#"(?i)\buser\s+['"<\[`]?(?P<u>[\w.@$\\-]+)"#,
        r#"(?i)\bfor\s+['"<\[`]?(?P<u>[\w.@$\\-]+)['">\]`]? from\b"#,
        r#"(?i)\blog ?in\s+['"<\[`]?(?P<u>[\w.@$\\-]+)['">\]`]? from\b"#,
        r#"(?i)\bfor\s+'(?P<u>[\w.@$\\-]+)'"#,
        // `(user@address)`: Pure-FTPd's session prefix and others of its kind.
        r#"\((?P<u>[\w.$\\-]+)@(?:::ffff:)?[0-9A-Fa-f]{1,4}[.:][0-9A-Fa-f.:]*\)"#,
        // `mechanism(user,address…)`: Dovecot's auth lines and others of its kind.
        r#"\w\((?P<u>[\w.@$\\-]+),(?:::ffff:)?[0-9A-Fa-f]{1,4}[.:][0-9A-Fa-f.:]*[,)]"#,
        r#"\bFOR\s+(?P<u>[\w.@$\\-]+)"#,
        // A mail-style login right after the failure (`password fail bob@example.com:1.2.3.4`).
        r#"(?i)\bfail(?:ed|ure)?:?\s+(?P<u>[\w.$\\-]+@[\w-]+(?:\.[\w-]+)+)"#,
        // `[bob] FAIL LOGIN`, `[bob] OK LOGIN`: the user in brackets before the login's outcome.
        r#"^\s*\[(?P<u>[\w.@$\\-]+)\]\s+(?i:fail(?:ed)?|ok|success(?:ful)?)\s+(?i:log ?in|log ?on)\b"#,
        // `LOGIN FROM host, bob`, `LOGIN FROM host, (anonymous)`.
        r#"(?i)\blog ?in from \S+?,\s+\(?(?P<u>[\w.@$\\-]+)\)?\s*$"#,
    ]
    .iter()
    .map(|r| Regex::new(r).expect("static regex"))
    .collect()
});
static IP: LazyLock<Regex> = LazyLock::new(|| {
    // An IPv6 address ending in an IPv4 one (`::ffff:192.0.2.1`) first, whole.
    Regex::new(r"(?:[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){1,6}:(?:\d{1,3}\.){3}\d{1,3}|(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})").expect("static regex")
});
/// The pattern of address-like spans.
#[cfg(test)]
pub(crate) fn address_pattern() -> &'static str {
    IP.as_str()
}

static FROM_HOST: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(?:from|rhost=|host=|client)\s*(?P<h>[A-Za-z][\w-]*(?:\.[\w-]+)+)").expect("static regex"));

/// A mail address after the word that says whose it is (`to=<a@b>`, `from <a@b>`, `rcpt: a@b`).
static MAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?P<k>orig_to|to|from|rcpt|recipient|sender|mail from|rcpt to|arg1)\s*[=:]?\s*<?(?P<a>[^\s<>,;:@]+@[^\s<>,;:]+)>?")
        .expect("static regex")
});

/// Words that name no user after "user"/"for".
const NOT_USERS: &[&str] = &[
    "from", "the", "a", "an", "is", "was", "unknown", "not", "to", "with", "on", "in", "at", "by", "of", "and", "or", "name", "user", "no",
];

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
    Some(GenericMatch { outcome, action, fields: fields(message) })
}

/// Who used a privilege and as whom: `alice : TTY=pts/0 ; ... ; USER=root ; COMMAND=...` (sudo's
/// form, which others copy), `changing from alice to root`, `BAD SU alice to root`.
static PRIVILEGE: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"^\s*(?P<u>[\w.@$-]+) : .*\bUSER=(?P<t>[\w.@$-]+)",
        r"(?i)\bchanging from (?P<u>[\w.@$-]+) to (?P<t>[\w.@$-]+)",
        r"(?i)\bsu:? (?P<u>[\w.@$-]+) to (?P<t>[\w.@$-]+)",
    ]
    .iter()
    .map(|r| Regex::new(r).expect("static regex"))
    .collect()
});

/// The fields of a message named `action` (those [`fields`] found), with the user and target
/// user of a privilege event.
pub fn with_privilege_users(action: Option<&Action>, message: &str, mut out: Extracted) -> Extracted {
    if action.is_some_and(|a| a.name.starts_with("iam.privilege")) {
        if let Some(c) = PRIVILEGE.iter().find_map(|re| re.captures(message)) {
            out.retain(|(k, _)| k != "user" && k != "target_user");
            out.push(("user".into(), c["u"].to_owned()));
            out.push(("target_user".into(), c["t"].to_owned()));
        }
    }
    out
}

/// The users, source addresses, host names and mail addresses of a message.
pub fn fields(message: &str) -> Extracted {
    let mut fields: Extracted = Vec::new();
    // A common word is a name where the pattern frames it: `for user from` (any word between
    // `for` and `from`) and `user=user` (the value of a user key named `user`).
    let user = USER
        .iter()
        .enumerate()
        .flat_map(|(i, re)| {
            let mut found: Vec<(usize, &str)> = re.captures_iter(message).filter_map(|c| c.name("u")).map(|m| (i, m.as_str())).collect();
            // `Account Name:` is said of the subject first and of the account acted on last.
            if i == ACCOUNT_NAME {
                found.reverse();
            }
            found
        })
        .find(|(i, u)| {
            let lower = u.to_ascii_lowercase();
            (*i == FOR_FROM || (*i == USER_KEY && lower == "user") || !NOT_USERS.contains(&lower.as_str()))
                && !is_ip(u)
                && !u.bytes().all(|b| b.is_ascii_digit())
                && u.chars().any(char::is_alphanumeric)
                && !NOT_USERS[..4].contains(&lower.as_str())
        })
        .map(|(_, u)| u);
    if let Some(u) = user {
        fields.push(("user".into(), u.trim_end_matches(['.', ',', ':']).to_owned()));
    }
    if let Some(ip) = source_ip(message) {
        fields.push(("source_ip".into(), ip.to_owned()));
    } else if let Some(h) = FROM_HOST.captures(message).and_then(|c| c.name("h")) {
        fields.push(("source_domain".into(), h.as_str().to_owned()));
    }
    for c in MAIL.captures_iter(message) {
        let field = match c["k"].to_ascii_lowercase().as_str() {
            "orig_to" => "original_recipient",
            "from" | "sender" | "mail from" => "sender",
            // sendmail's `ruleset=check_rcpt, arg1=<to>`
            "arg1" if message.contains("check_mail") => "sender",
            _ => "recipient",
        };
        if !fields.iter().any(|(k, _)| k == field) {
            fields.push((field.into(), c["a"].to_owned()));
        }
    }
    fields
}

/// The source address: the first IP after `from`, `rhost=`, `client`, `ip=`, ... (in the 12 bytes
/// before it, or in the key of its `key=value` word: `RemoteAddress="IPV4/UDP/192.0.2.1/5060"`),
/// else the first that is not a local, destination or server address nor the host part of a
/// URI or mail address (`sip:100@192.0.2.1`), else the first. A match inside a word is none
/// (the `::a` of `vaultwarden::api`).
pub fn source_ip(message: &str) -> Option<&str> {
    pick_source(message, address_candidates(message))
}

/// What the words before an address-like span say of it (see [`source_ip`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressRole {
    /// After a source key (`from`, `rhost=`, ...): the source, if it is an address.
    Source,
    /// Neither source nor excluded: the source if no span is [`AddressRole::Source`].
    Plain,
    /// A local, destination or server address, or a mail or URI host: the source only if
    /// nothing else is.
    Other,
}

/// A span of a message that looks like an address (not inside a word), and its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressCandidate {
    start: u32,
    end: u32,
    role: AddressRole,
}

/// The spans of `message` that look like addresses, in order, with their roles. Neither depends
/// on which digits the message holds: the address pattern and the key words treat the ten
/// digits alike, so a message and its shape (digits written as `0`) give the same list, and the
/// list can be remembered by shape ([`crate::normalize::rules::Memo`]). Whether a span is an
/// address (`300.1.2.3` is not) is left to [`pick_source`], on the line itself.
pub fn address_candidates(message: &str) -> Vec<AddressCandidate> {
    const SOURCE: [&str; 10] = ["from", "rhost=", "client", "ip=", "host=", "rip=", "relay=", "src=", "address", "remote"];
    const NOT_SOURCE: [&str; 9] = ["localaddr", "local_addr", "localip", "local_ip", "lip=", "dst", "dest", "server", "to "];
    // The longest key (and the start of its value) read before an address.
    const KEY_LEN: usize = 32;
    let b = message.as_bytes();
    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = Vec::new();
    for m in IP.find_iter(message) {
        let ip = m.as_str().trim_end_matches(':');
        if m.start().checked_sub(1).is_some_and(|i| is_word(b[i])) || b.get(m.end()).is_some_and(|&c| is_word(c)) {
            continue;
        }
        // What precedes the address, as far as a key is read (a prefix of the message, not the
        // whole: this runs for every address of every line).
        let start = (0..=m.start().saturating_sub(KEY_LEN)).rev().find(|&i| message.is_char_boundary(i)).unwrap_or(0);
        // Lower case on the stack: at most KEY_LEN + 3 bytes, whole characters.
        let mut low = [0u8; KEY_LEN + 4];
        let raw = &message.as_bytes()[start..m.start()];
        low[..raw.len()].copy_from_slice(raw);
        low[..raw.len()].make_ascii_lowercase();
        let Ok(before) = std::str::from_utf8(&low[..raw.len()]) else { continue };
        // The 12 bytes before the address, narrowed to a character boundary, and its word's key.
        let from = (before.len().saturating_sub(12)..=before.len()).find(|&i| before.is_char_boundary(i)).unwrap_or(before.len());
        let word = before.rfind([' ', ',', ';', '(']).map(|i| i + 1).or((start == 0).then_some(0));
        let key = match word {
            Some(w) if before.len() - w <= KEY_LEN => &before[w..],
            _ => "",
        };
        let tail = &before[from..];
        let not_source = NOT_SOURCE.iter().any(|k| has_word(tail, k) || has_word(key, k));
        let role = if !not_source && SOURCE.iter().any(|k| find(tail, k).next().is_some() || find(key, k).next().is_some()) {
            AddressRole::Source
        } else if !not_source && !before.ends_with('@') {
            AddressRole::Plain
        } else {
            AddressRole::Other
        };
        out.push(AddressCandidate { start: m.start() as u32, end: (m.start() + ip.len()) as u32, role });
    }
    out
}

/// The source address among `candidates` of `message` (see [`source_ip`]).
pub fn pick_source(message: &str, candidates: impl IntoIterator<Item = AddressCandidate>) -> Option<&str> {
    let (mut first, mut other) = (None, None);
    for c in candidates {
        let Some(ip) = message.get(c.start as usize..c.end as usize).filter(|ip| is_ip(ip)) else { continue };
        match c.role {
            AddressRole::Source => return Some(ip),
            AddressRole::Plain => {
                first.get_or_insert(ip);
            }
            AddressRole::Other => {}
        }
        other.get_or_insert(ip);
    }
    first.or(other)
}

/// Whether `word` occurs in `hay` where a word starts (`to ` in `sent to `, not in `proto `;
/// `server` in `server=`, not in `mailserver`).
fn has_word(hay: &str, word: &str) -> bool {
    find(hay, word).any(|i| !hay[..i].chars().next_back().is_some_and(char::is_alphanumeric))
}

/// Where `needle` occurs in `hay`, left to right, not overlapping (as `str::match_indices`): a
/// plain scan, for the few bytes before an address, where setting up `str`'s searcher cost more
/// than the search.
fn find<'a>(hay: &'a str, needle: &'a str) -> impl Iterator<Item = usize> + 'a {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let mut at = 0;
    std::iter::from_fn(move || {
        if n.is_empty() {
            return None;
        }
        let found = (at..(h.len() + 1).saturating_sub(n.len())).find(|&i| h[i..].starts_with(n))?;
        at = found + n.len();
        Some(found)
    })
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
        // `mechanism(user,address)`, and words that name no user.
        let m = classify("auth(default): pam(bob@example.com,1.2.3.4): pam_authenticate() failed").unwrap();
        assert_eq!((field(&m, "user"), field(&m, "source_ip")), (Some("bob@example.com"), Some("1.2.3.4")));
        let m = classify("USER alice: no such user found from 1.2.3.4").unwrap();
        assert_eq!(field(&m, "user"), Some("alice"));
        assert_eq!(field(&classify("FAILED LOGIN 2 FROM (null) FOR carol, bad").unwrap(), "user"), Some("carol"));
        assert_eq!(field(&classify("(dave@10.0.0.2) [WARNING] Authentication failed").unwrap(), "user"), Some("dave"));
        let f = fields("s1P819mk027713: ruleset=check_rcpt, arg1=<eve@example.org>, relay=x [10.0.0.3], reject=550 5.7.1");
        assert!(f.contains(&("recipient".to_owned(), "eve@example.org".to_owned())), "{f:?}");
        // The account acted on is named after the subject; `-` names nobody.
        let windows = "An account failed to log on.\n Subject:\n  Account Name:  HOST1$\n Account For Which Logon Failed:\n  Account Name:  frank\n  Account Domain:  CORP";
        assert_eq!(field(&classify(windows).unwrap(), "user"), Some("frank"));
        assert_eq!(fields("An account was logged on. Subject: Account Name: - New Logon: Account Name: -")[..], []);
        assert_eq!(field(&classify("imap: password fail gina@example.net:10.0.0.9").unwrap(), "user"), Some("gina@example.net"));
        assert_eq!(field(&classify("[henry] FAIL LOGIN: Client \"10.0.0.4\"").unwrap(), "user"), Some("henry"));
        assert_eq!(fields("FTP LOGIN FROM dsl.example.net, ivan")[0], ("user".to_owned(), "ivan".to_owned()));
        assert_eq!(fields("ANONYMOUS FTP LOGIN FROM 10.0.0.5,  (anonymous)")[0], ("user".to_owned(), "anonymous".to_owned()));
        // `user=user` is a user named `user`; `user=no` is not a user.
        assert_eq!(fields("excessive login failures user=user auth=user host=x")[0], ("user".to_owned(), "user".to_owned()));
        assert!(!fields("login failed, user=no").iter().any(|(k, _)| k == "user"));
        assert_eq!(fields("Failed password for user from 10.0.0.1 port 22")[0], ("user".to_owned(), "user".to_owned()));
        // The indexes `fields` treats apart name the patterns they mean.
        assert!(USER[ACCOUNT_NAME].as_str().contains("account name"));
        assert!(USER[USER_KEY].as_str().contains(r"\buser(?:name)?\s*[=:]"));
        assert!(USER[FOR_FROM].as_str().starts_with(r"(?i)\bfor\s+") && USER[FOR_FROM].as_str().ends_with(r" from\b"));
        // The client, not the server named in a URI, a local address or a word's `::`.
        assert_eq!(source_ip("Registration from '<sip:100@192.0.2.1>' failed for '198.51.100.5:5060'"), Some("198.51.100.5"));
        assert_eq!(source_ip("(?@198.51.100.6) [WARNING] Authentication failed"), Some("198.51.100.6"));
        assert_eq!(source_ip(r#"LocalAddress="IPV4/UDP/192.0.2.1/5060",RemoteAddress="IPV4/UDP/198.51.100.7/5060""#), Some("198.51.100.7"));
        assert_eq!(source_ip("Auth: 198.51.100.8:1234->192.0.2.1:993 server=\"192.0.2.2:993\""), Some("198.51.100.8"));
        assert_eq!(
            source_ip("[vaultwarden::api::identity][ERROR] Username or password is incorrect. IP: 198.51.100.9."),
            Some("198.51.100.9")
        );
        assert_eq!(source_ip("module::a::b"), None);
        // Words that say where an address is not from count as words only.
        assert_eq!(source_ip("connect from mailserver.example[198.51.100.13]"), Some("198.51.100.13"));
        assert!(has_word("sent to ", "to ") && !has_word("proto ", "to ") && !has_word("mailserver", "server"));
        // The scan finds what `match_indices` finds, overlapping needles and all.
        for (hay, needle) in [("aaaa", "aa"), ("abab ab", "ab"), ("", "a"), ("a", ""), ("é to é", "to "), ("xdstdst", "dst"), ("to", "to ")]
        {
            let want: Vec<usize> = hay.match_indices(needle).map(|(i, _)| i).filter(|_| !needle.is_empty()).collect();
            assert_eq!(find(hay, needle).collect::<Vec<_>>(), want, "{hay:?} {needle:?}");
        }
        // Ordinary lines that only look like failure wording.
        for ordinary in ["rate limit set to 100/s", "skipping non-existent file /etc/x.conf", "stats: conn_refused=0 requests_rejected: 0"]
        {
            assert_eq!(classify(ordinary).map(|m| m.outcome), None, "{ordinary}");
        }
        // Failure wording of other products.
        for failure in [
            "1709287208.123 123 198.51.100.10 TCP_DENIED/403 3955 GET http://example.com/",
            "password doesn't match for /gitweb/ username: foo, IP: 198.51.100.11",
            "limiting requests, excess: 0.500 by zone \"one\", client: 198.51.100.12",
        ] {
            assert_eq!(classify(failure).map(|m| m.outcome), Some(Outcome::Failure), "{failure}");
        }
    }

    #[test]
    fn the_vocabulary_names_events_of_any_product() {
        let name = |m: &str| event(m).map(|a| a.name);
        for (message, want) in [
            ("error: maximum authentication attempts exceeded for root from 10.0.0.1 port 22 ssh2", "authentication.login.failure"),
            ("host (10.0.0.1[10.0.0.1]) - Maximum login attempts (3) exceeded", "authentication.login.failure"),
            ("Disconnecting: Too many authentication failures [preauth]", "authentication.login.failure"),
            ("FAILED LOGIN 1 FROM tty1 FOR bob, User not known to the underlying authentication module", "authentication.user.invalid"),
            ("SMTP connection from (hydra) [10.0.0.1]:53682 lost", "network.connection.end"),
            ("LOGIN, user=judy, ip=[::ffff:10.0.0.6]", "authentication.login.success"),
            ("Login: user=<judy>, method=PLAIN, rip=10.0.0.6", "authentication.login.success"),
            ("LOGIN FAILED, user=judy, ip=[::ffff:10.0.0.6]", "authentication.login.failure"),
            ("info msg 42: bytes 1200 from <kim@example.org> qp 7 uid 100", "email.receive"),
            ("Non-existent login as foo from 10.0.0.7", "authentication.user.invalid"),
            ("message 42: size=1200, from=<kim@example.org>", "email.receive"),
            ("Can't find user [1000@10.0.0.1] from 10.0.0.8", "authentication.user.invalid"),
        ] {
            assert_eq!(name(message), Some(want), "{message}");
        }
    }
}
