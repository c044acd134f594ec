//! One ECS JSON object per normalized record (`normalize`'s output and `events.jsonl`).
//!
//! The object holds the header fields (`@timestamp`, `host.hostname`, `process.name`,
//! `process.pid`, `log.level`, `log.logger`, `message`, `event.original`), the event
//! (`event.action`, `event.category`, `event.type`, `event.outcome`), the standard fields
//! (`user.name`, `source.ip`, `email.to.address`, `logsieve.original_recipient`, ...), structured
//! fields with an ECS name, and logsieve's own fields under `logsieve.*`. Keys are written nested
//! and in a fixed order, so the same input gives byte-identical output.

mod nested;

use crate::normalize::{vocabulary, Event, Origin};
use crate::record::Record;
use nested::{Layouts, Leaf};

/// Structured-field prefixes that are ECS field sets: such fields are written under their own
/// name; every other field goes to `logsieve.fields`.
const ECS_PREFIXES: [&str; 13] = [
    "source.",
    "destination.",
    "client.",
    "server.",
    "user.",
    "http.",
    "url.",
    "user_agent.",
    "email.",
    "log.syslog.",
    "auditd.",
    "process.thread.",
    "host.ip",
];

/// Appends the ECS JSON object for `rec` and its event (no newline) to `out`. A stream of
/// records is written faster by one [`EcsWriter`].
pub fn write_ecs(out: &mut Vec<u8>, rec: &Record, event: Option<&Event>, origin: &Origin<'_>) {
    EcsWriter::default().write(out, rec, event, origin);
}

/// Writes records as ECS JSON objects, remembering each key list's layout: its sorted keys,
/// punctuation and key names.
#[derive(Debug, Default)]
pub struct EcsWriter {
    layouts: Layouts,
}

impl EcsWriter {
    /// Appends the ECS JSON object for `rec` and its event (no newline) to `out`, as [`write_ecs`].
    pub fn write(&mut self, out: &mut Vec<u8>, rec: &Record, event: Option<&Event>, origin: &Origin<'_>) {
        let entries = entries(rec, event, origin);
        self.layouts.write(out, &entries);
    }
}

/// The object's dotted keys and their values.
fn entries<'a>(rec: &'a Record, event: Option<&'a Event>, origin: &Origin<'a>) -> Vec<(&'a str, Leaf<'a>)> {
    let mut entries: Vec<(&str, Leaf<'_>)> = Vec::with_capacity(24 + rec.fields.len());
    if let Some(t) = rec.timestamp {
        entries.push(("@timestamp", Leaf::Time(t)));
    }
    entries.push(("event.original", Leaf::Str(origin.original)));
    entries.push(("message", Leaf::Str(&rec.message)));
    if let Some(h) = &rec.host {
        entries.push(("host.hostname", Leaf::Str(h)));
    }
    if let Some(a) = &rec.app {
        entries.push(("process.name", Leaf::Str(a)));
    }
    if let Some(p) = rec.pid {
        entries.push(("process.pid", Leaf::U64(p.into())));
    }
    if let Some(s) = rec.severity {
        entries.push(("log.level", Leaf::Str(s.as_str())));
    }
    if let Some(c) = &rec.component {
        entries.push(("log.logger", Leaf::Str(c)));
    }
    entries.push(("logsieve.file", Leaf::Str(origin.file)));
    entries.push(("logsieve.line", Leaf::U64(origin.line)));
    entries.push(("logsieve.format", Leaf::Str(rec.kind.as_str())));
    if let Some(seq) = &rec.sequence {
        entries.push(("logsieve.session", Leaf::Str(&seq.id)));
        entries.push(("logsieve.events", Leaf::Strs(&seq.events)));
    }
    let mut extra: Vec<(&str, Leaf<'_>)> = Vec::new();
    if let Some(ev) = event {
        if let Some(a) = ev.action {
            entries.push(("event.action", Leaf::Str(a.name)));
            entries.push(("event.category", Leaf::Static(a.category)));
            entries.push(("event.type", Leaf::Static(a.kind)));
        }
        if let Some(o) = ev.outcome {
            entries.push(("event.outcome", Leaf::Str(o.as_str())));
        }
        if let Some(r) = &ev.rule {
            entries.push(("logsieve.rule", Leaf::Str(r.as_str())));
        }
        if let Some((id, text)) = &ev.template {
            entries.push(("logsieve.template_id", Leaf::U64((*id).into())));
            entries.push(("logsieve.template", Leaf::Str(text)));
        }
        entries.push(("logsieve.state", Leaf::Str(&ev.state)));
        if let Some(k) = &ev.session_key {
            entries.push(("logsieve.session_key", Leaf::Str(k)));
        }
        if let Some(r) = ev.role {
            entries.push(("logsieve.lifecycle", Leaf::Str(r.as_str())));
        }
        for (k, v) in &ev.fields {
            // A port is a number when it reads as one.
            let leaf = match k.as_str() {
                "source_port" => v.parse::<u64>().map_or(Leaf::Str(v), Leaf::U64),
                _ => Leaf::Str(v),
            };
            let key = vocabulary::ecs_field(k).unwrap_or(k);
            if key.contains('.') {
                entries.push((key, leaf));
            } else {
                extra.push((key, leaf));
            }
        }
    }
    let with_event = entries.len();
    for (k, v) in &rec.fields {
        let ecs = ECS_PREFIXES.iter().any(|p| k.starts_with(p) || k == p.trim_end_matches('.'));
        let taken = entries[..with_event].iter().any(|(e, _)| e == k);
        if ecs && !taken {
            entries.push((k.as_str(), Leaf::Json(v)));
        } else if !taken {
            extra.push((k.as_str(), Leaf::Json(v)));
        }
    }
    if !extra.is_empty() {
        entries.push(("logsieve.fields", Leaf::Map(extra)));
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{Format, LineParser, YearAnchor};

    fn ecs(line: &str) -> String {
        let mut p = LineParser::new(&Format::Auto, YearAnchor::Given(2005));
        let rec = p.parse(line, 7).unwrap();
        let mut out = Vec::new();
        write_ecs(&mut out, &rec, None, &Origin { file: "a.log", line: 7, original: line });
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn syslog_line_as_ecs() {
        assert_eq!(
            ecs("Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186"),
            r#"{"@timestamp":"2005-12-10T06:55:46","event":{"original":"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186"},"host":{"hostname":"LabSZ"},"logsieve":{"file":"a.log","format":"rfc3164","line":7},"message":"Invalid user webmaster from 173.234.31.186","process":{"name":"sshd","pid":24200}}"#
        );
    }

    #[test]
    fn fields_nest_and_unknown_ones_stay_whole() {
        let out = ecs(r#"<165>1 2003-10-11T22:14:15.003Z h app - ID47 [ex@1 a.b="<x>"] m"#);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["log"]["syslog"]["msgid"], "ID47");
        assert_eq!(v["log"]["syslog"]["priority"], 165);
        assert_eq!(v["log"]["level"], "notice");
        assert_eq!(v["logsieve"]["fields"]["sd.ex@1.a.b"], "<x>");
        let out = ecs(r#"1.2.3.4 - bob [10/Oct/2000:13:55:36 -0700] "GET /a\"b HTTP/1.1" 404 7"#);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            (v["source"]["ip"].as_str(), v["user"]["name"].as_str(), v["http"]["response"]["status_code"].as_u64()),
            (Some("1.2.3.4"), Some("bob"), Some(404))
        );
        assert_eq!(v["url"]["original"], "/a\\\"b");
    }

    #[test]
    fn sequences_carry_session_and_states() {
        let v: serde_json::Value = serde_json::from_str(&ecs("blk_1,5 22 11")).unwrap();
        assert_eq!(v["logsieve"]["session"], "blk_1");
        assert_eq!(v["logsieve"]["events"], serde_json::json!(["5", "22", "11"]));
    }

    #[test]
    fn hostile_content_stays_one_json_line() {
        let line = "Dec 10 06:55:46 h app[1]: \"}\u{1b}[31m</script>\u{0}\\";
        let out = ecs(line);
        assert!(!out.contains('\n') && !out.contains('\u{1b}') && !out.contains('\u{0}'));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["event"]["original"], line);
    }
}
