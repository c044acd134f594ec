//! JSON lines: ECS documents, `journalctl -o json` records, and other JSON objects.
//!
//! Nested objects are flattened to dotted keys. The header fields are taken from their ECS names
//! (`@timestamp`, `host.hostname`/`host.name`, `process.name`, `process.pid`, `message`,
//! `log.level`), their journald names (`__REALTIME_TIMESTAMP`, `_HOSTNAME`, `SYSLOG_IDENTIFIER`,
//! `_COMM`, `_PID`, `MESSAGE`, `PRIORITY`) or common plain names (`time`, `msg`, `level`); every
//! other key is kept as a field.

use serde_json::{Map, Value};

use super::time::{parse_any, YearInference};
use crate::record::{Record, RecordKind, Severity, Timestamp};

fn flatten(prefix: &str, map: Map<String, Value>, out: &mut Vec<(String, Value)>) {
    for (k, v) in map {
        let key = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
        match v {
            Value::Object(inner) if !inner.is_empty() => flatten(&key, inner, out),
            v => out.push((key, v)),
        }
    }
}

fn take(fields: &mut Vec<(String, Value)>, keys: &[&str]) -> Option<Value> {
    for key in keys {
        if let Some(i) = fields.iter().position(|(k, v)| k == key && !v.is_null()) {
            return Some(fields.remove(i).1);
        }
    }
    None
}

fn text(v: Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        // journald writes a MESSAGE that is not valid UTF-8 as an array of bytes.
        Value::Array(items) => {
            let bytes: Option<Vec<u8>> = items.iter().map(|i| i.as_u64().and_then(|n| u8::try_from(n).ok())).collect();
            bytes.map(|b| String::from_utf8_lossy(&b).into_owned())
        }
        _ => None,
    }
}

fn pid(v: Value) -> Option<u32> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn timestamp(v: Value, years: &mut YearInference) -> Option<Timestamp> {
    match v {
        Value::String(s) => parse_any(&s, Some(years)),
        Value::Number(n) => {
            // Whole seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude
            // (zap, logrus and journald write each), in integers: no rounding.
            if let Some(i) = n.as_i64() {
                let per_sec: i64 = match i.unsigned_abs() {
                    0..100_000_000_000 => 1,
                    100_000_000_000..100_000_000_000_000 => 1_000,
                    100_000_000_000_000..100_000_000_000_000_000 => 1_000_000,
                    _ => 1_000_000_000,
                };
                let nanos = i.rem_euclid(per_sec) * (1_000_000_000 / per_sec);
                return Timestamp::from_unix(i.div_euclid(per_sec), u32::try_from(nanos).ok()?);
            }
            // Seconds with a fraction as written (`1709287200.123`), else by magnitude.
            if let Some(t) = parse_any(&n.to_string(), None) {
                return Some(t);
            }
            let secs = n.as_f64()?;
            let secs = if secs > 1e11 { secs / 1000.0 } else { secs };
            Timestamp::from_unix(secs.floor() as i64, ((secs.fract()) * 1e9) as u32)
        }
        _ => None,
    }
}

/// Keys under which JSON logs name the client's address (Nextcloud's `remoteAddr`, Grafana's
/// `remote_addr`, MongoDB's `attr.remote`, …), most explicit first.
const SOURCE_KEYS: [&str; 10] =
    ["source.ip", "remote_addr", "remoteAddr", "remote_ip", "remoteIP", "client_ip", "clientIp", "src_ip", "attr.remote", "remote"];

/// Adds `source.ip` from the first of [`SOURCE_KEYS`] whose value is an address (its port, as in
/// `192.0.2.1:51234` or `[2001:db8::1]:443`, left out), unless the document has one.
fn source_address(fields: &mut Vec<(String, Value)>) {
    if fields.iter().any(|(k, _)| k == "source.ip") {
        return;
    }
    let ip = SOURCE_KEYS.iter().find_map(|key| {
        let v = fields.iter().find(|(k, _)| k == key)?.1.as_str()?;
        let host = match v.strip_prefix('[') {
            Some(rest) => rest.split(']').next()?,
            None if v.matches(':').count() == 1 => v.split(':').next()?,
            None => v,
        };
        host.parse::<std::net::IpAddr>().is_ok().then(|| host.to_owned())
    });
    if let Some(ip) = ip {
        fields.push(("source.ip".to_owned(), Value::String(ip)));
    }
}

/// Parses a JSON-object line. `None`: not a JSON object.
pub fn parse_json(line: &str, years: &mut YearInference) -> Option<Record> {
    let trimmed = line.trim();
    if !trimmed.starts_with('{') {
        return None;
    }
    let map: Map<String, Value> = serde_json::from_str(trimmed).ok()?;
    let mut fields = Vec::with_capacity(map.len());
    flatten("", map, &mut fields);
    let journald = fields.iter().any(|(k, _)| k == "__REALTIME_TIMESTAMP" || k == "__CURSOR" || k == "_SOURCE_REALTIME_TIMESTAMP");
    let ecs = !journald && fields.iter().any(|(k, _)| k == "@timestamp" || k.starts_with("ecs.") || k.starts_with("event."));
    let mut rec = Record::new(
        if journald {
            RecordKind::Journald
        } else if ecs {
            RecordKind::Ecs
        } else {
            RecordKind::Json
        },
        String::new(),
    );
    if journald {
        let micros =
            take(&mut fields, &["_SOURCE_REALTIME_TIMESTAMP", "__REALTIME_TIMESTAMP"]).and_then(text).and_then(|s| s.parse::<i64>().ok());
        rec.timestamp = micros.and_then(|us| Timestamp::from_unix(us.div_euclid(1_000_000), (us.rem_euclid(1_000_000) * 1000) as u32));
        rec.host = take(&mut fields, &["_HOSTNAME"]).and_then(text);
        rec.app = take(&mut fields, &["SYSLOG_IDENTIFIER", "_COMM"]).and_then(text);
        rec.pid = take(&mut fields, &["_PID", "SYSLOG_PID"]).and_then(pid);
        rec.severity = take(&mut fields, &["PRIORITY"]).and_then(text).and_then(|p| p.parse().ok()).and_then(Severity::from_code);
        rec.message = take(&mut fields, &["MESSAGE"]).and_then(text).unwrap_or_default();
    } else {
        // (`t.$date`: MongoDB's extended JSON; `t`, Grafana's key, only as a text stamp: a
        // number under a name that short is no stamp.)
        rec.timestamp = take(&mut fields, &["@timestamp", "timestamp", "time", "ts", "date", "t.$date"]).and_then(|v| timestamp(v, years));
        if rec.timestamp.is_none() {
            if let Some(i) = fields.iter().position(|(k, v)| k == "t" && v.as_str().is_some_and(|t| parse_any(t, None).is_some())) {
                rec.timestamp = timestamp(fields.remove(i).1, years);
            }
        }
        source_address(&mut fields);
        rec.host = take(&mut fields, &["host.hostname", "host.name", "hostname", "host"]).and_then(text);
        rec.app = take(&mut fields, &["process.name", "service.name", "app", "program", "logger"]).and_then(text);
        rec.pid = take(&mut fields, &["process.pid", "pid"]).and_then(pid);
        let level = take(&mut fields, &["log.level", "level", "severity", "loglevel"]).and_then(text);
        rec.severity = level.as_deref().and_then(|l| l.parse().ok());
        rec.message = match take(&mut fields, &["message", "msg", "log", "event.original"]).and_then(text) {
            Some(m) => m,
            None => trimmed.to_owned(),
        };
    }
    // The input line itself is written as event.original; a copy inside the document is redundant.
    fields.retain(|(k, _)| k != "event.original");
    rec.fields = fields;
    Some(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::time::YearAnchor;

    fn p(line: &str) -> Option<Record> {
        parse_json(line, &mut YearInference::new(YearAnchor::Given(2024)))
    }

    #[test]
    fn ecs_document() {
        let r = p(r#"{"@timestamp":"2024-05-01T10:00:00.123Z","host":{"hostname":"web1"},"process":{"name":"sshd","pid":42},"log":{"level":"WARN"},"message":"Failed password for root","source":{"ip":"1.2.3.4"},"ecs":{"version":"8.11"}}"#).unwrap();
        assert_eq!(r.kind, RecordKind::Ecs);
        assert_eq!(r.timestamp.unwrap().to_string(), "2024-05-01T10:00:00.123Z");
        assert_eq!(
            (r.host.as_deref(), r.app.as_deref(), r.pid, r.severity, r.message.as_str()),
            (Some("web1"), Some("sshd"), Some(42), Some(Severity::Warning), "Failed password for root")
        );
        assert_eq!(r.field("source.ip"), Some(&Value::from("1.2.3.4")));
        assert_eq!(r.field("ecs.version"), Some(&Value::from("8.11")));
    }

    #[test]
    fn journald_record() {
        let r = p(r#"{"__CURSOR":"s=1","__REALTIME_TIMESTAMP":"1700000000123456","_HOSTNAME":"srv","SYSLOG_IDENTIFIER":"sshd","_PID":"1643","PRIORITY":"6","MESSAGE":"Accepted publickey for git","_SYSTEMD_UNIT":"ssh.service"}"#).unwrap();
        assert_eq!(r.kind, RecordKind::Journald);
        assert_eq!(r.timestamp.unwrap().to_string(), "2023-11-14T22:13:20.123456Z");
        assert_eq!(
            (r.host.as_deref(), r.app.as_deref(), r.pid, r.severity, r.message.as_str()),
            (Some("srv"), Some("sshd"), Some(1643), Some(Severity::Info), "Accepted publickey for git")
        );
        assert_eq!(r.field("_SYSTEMD_UNIT"), Some(&Value::from("ssh.service")));
        let r = p(r#"{"__REALTIME_TIMESTAMP":"1","MESSAGE":[104,105,255]}"#).unwrap();
        assert_eq!(r.message, "hi\u{fffd}");
    }

    #[test]
    fn other_json_and_rejects() {
        let r = p(r#"{"time": 1700000000, "msg": "hello", "level": "error"}"#).unwrap();
        assert_eq!((r.kind, r.message.as_str(), r.severity), (RecordKind::Json, "hello", Some(Severity::Error)));
        assert_eq!(r.timestamp.unwrap().to_string(), "2023-11-14T22:13:20Z");
        // Epoch numbers in any unit, exactly.
        for (n, want) in [
            ("1709287200123", "2024-03-01T10:00:00.123Z"),
            ("1709287200123456", "2024-03-01T10:00:00.123456Z"),
            ("1709287200123456789", "2024-03-01T10:00:00.123456789Z"),
            ("1709287200.123", "2024-03-01T10:00:00.123Z"),
        ] {
            let r = p(&format!(r#"{{"ts": {n}, "msg": "x"}}"#)).unwrap();
            assert_eq!(r.timestamp.unwrap().to_string(), want, "{n}");
        }
        // MongoDB's extended JSON stamp, and the client's address under the keys applications use.
        let r = p(r#"{"t":{"$date":"2024-03-01T10:00:00.000+01:00"},"msg":"Authentication failed","attr":{"remote":"192.0.2.7:51234"}}"#)
            .unwrap();
        assert_eq!(
            (r.timestamp.unwrap().to_string().as_str(), r.field("source.ip")),
            ("2024-03-01T10:00:00+01:00", Some(&Value::from("192.0.2.7")))
        );
        let r = p(r#"{"message":"Login failed","remoteAddr":"2001:db8::7"}"#).unwrap();
        assert_eq!(r.field("source.ip"), Some(&Value::from("2001:db8::7")));
        let r = p(r#"{"message":"x","remote_addr":"[2001:db8::8]:443"}"#).unwrap();
        assert_eq!(r.field("source.ip"), Some(&Value::from("2001:db8::8")));
        assert_eq!(p(r#"{"message":"x","remote":"printer-3"}"#).unwrap().field("source.ip"), None);
        let r = p(r#"{"t":"2024-03-01T10:00:00+01:00","msg":"x"}"#).unwrap();
        assert_eq!(r.timestamp.unwrap().to_string(), "2024-03-01T10:00:00+01:00");
        let r = p(r#"{"t":12,"msg":"x"}"#).unwrap();
        assert_eq!((r.timestamp, r.field("t")), (None, Some(&Value::from(12))));
        let r = p(r#"{"a": {"b": 1}}"#).unwrap();
        assert_eq!((r.message.as_str(), r.field("a.b")), (r#"{"a": {"b": 1}}"#, Some(&Value::from(1))));
        for line in ["", "{", "[1,2]", "{\"a\":1} trailing", "not json", "{\"a\":}"] {
            assert!(p(line).is_none(), "{line:?}");
        }
    }
}
