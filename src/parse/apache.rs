//! Web server logs: Apache/nginx common and combined access logs, Apache error logs (2.2 and 2.4
//! layouts) and nginx error logs.

use regex::Regex;
use serde_json::Value;

use super::auto::Builtins;
use super::header::trim_end;
use super::time::parse_any;
use crate::record::{Record, RecordKind};

// The headers' regexes are compiled on first use into a parser's [`Builtins`], not into statics:
// the analogy layer parses the rules' examples of every format at start-up, and as statics their
// automata (about 1.4 MB for these three) stayed for the whole run whatever the input's format.

/// The access log line's regex (for [`Builtins`]).
pub(super) fn access_regex() -> Regex {
    Regex::new(
        r#"^(\S+) (\S+) (\S+) \[([^\]]{10,40})\] "((?:[^"\\]|\\.)*)" (\d{3}|-) (\d+|-)(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?"#,
    )
    .expect("static regex")
}

/// The Apache error log line's regex (for [`Builtins`]).
pub(super) fn apache_error_regex() -> Regex {
    Regex::new(r"^\[([A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]?\d \d\d:\d\d:\d\d(?:\.\d+)? \d{4})\] ?(.*)$").expect("static regex")
}

/// The nginx error log line's regex (for [`Builtins`]).
pub(super) fn nginx_error_regex() -> Regex {
    Regex::new(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[([a-z]+)\] (\d+)#(\d+): (.*)$").expect("static regex")
}

/// `1.2.3.4:5678`, `[::1]:80` or a bare address: (address, port).
fn split_address(s: &str) -> (&str, Option<u16>) {
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((addr, port)) = rest.split_once("]:") {
            return (addr, port.parse().ok());
        }
        return (rest.trim_end_matches(']'), None);
    }
    match s.rsplit_once(':') {
        Some((addr, port)) if !addr.contains(':') => match port.parse() {
            Ok(p) => (addr, Some(p)),
            Err(_) => (s, None),
        },
        _ => (s, None),
    }
}

/// Records a client address as `source.address`, plus `source.ip` when it is an IP.
fn push_source(rec: &mut Record, addr: &str) {
    let (addr, port) = split_address(addr);
    rec.push_field("source.address", addr);
    if addr.parse::<std::net::IpAddr>().is_ok() {
        rec.push_field("source.ip", addr);
    }
    if let Some(p) = port {
        rec.fields.push(("source.port".into(), Value::from(p)));
    }
}

/// Parses a common or combined access log line. `None`: not an access log line.
pub fn parse_access(headers: &Builtins, line: &str) -> Option<Record> {
    let c = headers.access().captures(line)?;
    let timestamp = parse_any(c.get(4)?.as_str(), None)?;
    let request = c.get(5)?.as_str();
    let start = c.get(5)?.start() - 1;
    let mut rec = Record::new(RecordKind::AccessLog, trim_end(&line[start..]));
    rec.timestamp = Some(timestamp);
    push_source(&mut rec, c.get(1)?.as_str());
    if let Some(user) = c.get(3).map(|m| m.as_str()).filter(|u| *u != "-") {
        rec.push_field("user.name", user);
    }
    let mut parts = request.splitn(3, ' ');
    if let (Some(method), Some(url)) = (parts.next(), parts.next()) {
        rec.push_field("http.request.method", method);
        rec.push_field("url.original", url);
        if let Some(version) = parts.next().and_then(|p| p.strip_prefix("HTTP/")) {
            rec.push_field("http.version", version);
        }
    }
    if let Ok(status) = c.get(6)?.as_str().parse::<u16>() {
        rec.fields.push(("http.response.status_code".into(), Value::from(status)));
    }
    if let Ok(bytes) = c.get(7)?.as_str().parse::<u64>() {
        rec.fields.push(("http.response.body.bytes".into(), Value::from(bytes)));
    }
    if let Some(r) = c.get(8).map(|m| m.as_str()).filter(|r| *r != "-") {
        rec.push_field("http.request.referrer", r);
    }
    if let Some(ua) = c.get(9).map(|m| m.as_str()).filter(|r| *r != "-") {
        rec.push_field("user_agent.original", ua);
    }
    Some(rec)
}

/// Parses an Apache error log line: `[Wed Oct 11 14:32:52 2000] [error] [client 127.0.0.1] msg`
/// or 2.4's `[...] [module:level] [pid N:tid M] [client ip:port] AH01234: msg`. `None`: not one.
pub fn parse_apache_error(headers: &Builtins, line: &str) -> Option<Record> {
    let c = headers.apache_error().captures(line)?;
    let timestamp = parse_any(c.get(1)?.as_str(), None)?;
    let mut rest = c.get(2)?.as_str();
    let mut rec = Record::new(RecordKind::ApacheError, String::new());
    rec.timestamp = Some(timestamp);
    let mut first = true;
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(close) = inner.find(']') else { break };
        let group = &inner[..close];
        if let Some(pid) = group.strip_prefix("pid ") {
            let (pid, tid) = pid.split_once(":tid ").unwrap_or((pid, ""));
            rec.pid = pid.parse().ok();
            if !tid.is_empty() {
                rec.push_field("process.thread.id", tid);
            }
        } else if let Some(addr) = group.strip_prefix("client ").or_else(|| group.strip_prefix("remote ")) {
            push_source(&mut rec, addr);
        } else if first && !group.contains(' ') {
            // `[error]`, `[auth_basic:error]`, `[:error]`
            let (module, level) = group.rsplit_once(':').unwrap_or(("", group));
            rec.severity = level.parse().ok();
            if !module.is_empty() {
                rec.component = Some(module.to_owned());
            }
        } else {
            break;
        }
        first = false;
        rest = inner[close + 1..].trim_start_matches(' ');
    }
    rec.message = trim_end(rest).to_owned();
    Some(rec)
}

/// Parses an nginx error log line: `2012/04/09 11:53:29 [error] 2865#0: *66647 msg, client: ip`.
/// `None`: not one.
pub fn parse_nginx_error(headers: &Builtins, line: &str) -> Option<Record> {
    let c = headers.nginx_error().captures(line)?;
    let mut rec = Record::new(RecordKind::NginxError, trim_end(c.get(5)?.as_str()));
    rec.timestamp = Some(parse_any(c.get(1)?.as_str(), None)?);
    rec.severity = c.get(2)?.as_str().parse().ok();
    rec.pid = c.get(3)?.as_str().parse().ok();
    rec.app = Some("nginx".into());
    rec.push_field("process.thread.id", c.get(4)?.as_str());
    if let Some(client) = rec.message.split(", client: ").nth(1).and_then(|s| s.split(',').next()) {
        let client = client.to_owned();
        push_source(&mut rec, &client);
    }
    Some(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::auto::builtins;
    use crate::record::Severity;

    #[test]
    fn access_table() {
        let r = parse_access(&builtins(), r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#).unwrap();
        assert_eq!(r.timestamp.unwrap().to_string(), "2000-10-10T13:55:36-07:00");
        assert_eq!(r.field("source.ip"), Some(&Value::from("127.0.0.1")));
        assert_eq!(r.field("user.name"), Some(&Value::from("frank")));
        assert_eq!(r.field("http.request.method"), Some(&Value::from("GET")));
        assert_eq!(r.field("url.original"), Some(&Value::from("/apache_pb.gif")));
        assert_eq!(r.field("http.response.status_code"), Some(&Value::from(200)));
        assert_eq!(r.field("user_agent.original"), Some(&Value::from("Mozilla/4.08 [en] (Win98; I ;Nav)")));
        assert!(r.message.starts_with("\"GET /apache_pb.gif"));
        // common format, a hostname client, no body
        let r = parse_access(&builtins(), r#"host.example.com - - [01/Jan/2024:00:00:00 +0000] "\x16\x03" 400 -"#).unwrap();
        assert_eq!((r.field("source.address"), r.field("source.ip")), (Some(&Value::from("host.example.com")), None));
        for line in [
            "",
            "127.0.0.1 - - [bad date] \"GET / HTTP/1.0\" 200 1",
            "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] GET / 200 1",
            "[Sun Dec 04 04:47:44 2005] [notice] x",
        ] {
            assert!(parse_access(&builtins(), line).is_none(), "{line:?}");
        }
    }

    #[test]
    fn apache_error_table() {
        let r =
            parse_apache_error(&builtins(), "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties")
                .unwrap();
        assert_eq!((r.severity, r.message.as_str()), (Some(Severity::Notice), "workerEnv.init() ok /etc/httpd/conf/workers2.properties"));
        assert_eq!(r.timestamp.unwrap().to_string(), "2005-12-04T04:47:44");
        let r = parse_apache_error(&builtins(), "[Sat Jul 20 21:37:32.266605 2013] [auth_basic:error] [pid 17512:tid 140123079128832] [client 127.0.0.1:51386] AH01618: user  not found: /basic/file/cant_get_me.html").unwrap();
        assert_eq!((r.severity, r.component.as_deref(), r.pid), (Some(Severity::Error), Some("auth_basic"), Some(17512)));
        assert_eq!((r.field("source.ip"), r.field("source.port")), (Some(&Value::from("127.0.0.1")), Some(&Value::from(51386))));
        assert_eq!(r.message, "AH01618: user  not found: /basic/file/cant_get_me.html");
        // Only leading groups are header: a [client ...] inside the message stays in it.
        let r = parse_apache_error(
            &builtins(),
            "[Sat Jun 01 02:17:42 2013] [error] [client 192.168.33.1] File does not exist: /srv/[client 192.168.0.1] user root not found",
        )
        .unwrap();
        assert_eq!(r.field("source.ip"), Some(&Value::from("192.168.33.1")));
        assert_eq!(r.message, "File does not exist: /srv/[client 192.168.0.1] user root not found");
        for line in ["", "[Sun Dec 04 04:47:44] [notice] x", "[notice] x"] {
            assert!(parse_apache_error(&builtins(), line).is_none(), "{line:?}");
        }
    }

    #[test]
    fn nginx_error_table() {
        let r = parse_nginx_error(&builtins(), r#"2012/04/09 11:53:29 [error] 2865#0: *66647 user "xyz" was not found in "/var/www/.htpasswd", client: 192.0.43.10, server: www.myhost.com, request: "GET / HTTP/1.1""#).unwrap();
        assert_eq!((r.severity, r.pid, r.app.as_deref()), (Some(Severity::Error), Some(2865), Some("nginx")));
        assert_eq!(r.field("source.ip"), Some(&Value::from("192.0.43.10")));
        assert_eq!(r.timestamp.unwrap().to_string(), "2012-04-09T11:53:29");
        for line in ["", "2012/04/09 11:53:29 [error] x", "2012-04-09 11:53:29 [error] 1#0: x"] {
            assert!(parse_nginx_error(&builtins(), line).is_none(), "{line:?}");
        }
    }
}
