//! The normalize stage: a [`Record`] → an [`Event`] in the standard nomenclature → one ECS JSON
//! object.
//!
//! Three layers decide, in order: the rule packs ([`rules`]: product messages → standard event
//! names and fields), the generic layer ([`generic`]: failure/success wording, users, addresses),
//! and the template miner ([`miner`]), which gives every message a template id, so a message no
//! rule knows still becomes a stable state `<process>.<template id>`.
//!
//! The ECS object holds the header fields (`@timestamp`, `host.hostname`, `process.name`,
//! `process.pid`, `log.level`, `log.logger`, `message`, `event.original`), the event
//! (`event.action`, `event.category`, `event.type`, `event.outcome`), the standard fields
//! (`user.name`, `source.ip`, `email.to.address`, `logsieve.original_recipient`, ...), structured
//! fields with an ECS name, and logsieve's own fields under `logsieve.*`: `line`, `file`, `format`,
//! `rule` (rule id or `generic`), `template_id`, `template`, `state`, `session_key`, `lifecycle`,
//! sequences' `session` and `events`, and `fields` (everything without an ECS name). Keys are
//! written nested and in a fixed order, so the same input gives byte-identical output.

pub mod generic;
mod json;
pub mod miner;
pub mod rules;
pub mod vocabulary;

use std::sync::Arc;

use serde_json::Value;

use crate::parse::multiline::Joiner;
use crate::parse::{Format, LineParser, YearAnchor};
use crate::record::{Record, RecordKind};
use json::{write_nested, Leaf};
use miner::Miner;
use rules::{CandidateCache, Example, Role, Rule, RuleSet};
use vocabulary::Action;

/// Where a record came from.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The input as named (`-` for stdin).
    pub file: &'a str,
    /// 1-based line number (the first line of a multi-line record).
    pub line: u64,
    /// The line(s) as read, without line endings.
    pub original: &'a str,
}

/// A record in the standard nomenclature.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Event {
    /// The standard event, if a rule or the generic layer named one.
    pub action: Option<&'static Action>,
    /// `success`, `failure` or `unknown`.
    pub outcome: Option<&'static str>,
    /// The rule id that decided, or `generic`.
    pub rule: Option<String>,
    /// Standard fields (short names, see [`vocabulary::FIELDS`]) and rule-specific ones.
    pub fields: Vec<(String, String)>,
    /// The session key the rule names (`sshd@host:pid`, a queue id, a block id).
    pub session_key: Option<String>,
    /// Where the event stands in its entity's lifecycle.
    pub role: Option<Role>,
    /// Template id and text from the miner (none for sequences).
    pub template: Option<(u32, String)>,
    /// The state name: the standard event name, else `<process>.<template id>`, else the state a
    /// sequences file gives.
    pub state: String,
}

impl Event {
    /// The values of a standard field (short name) as written: the event's own, else the record's
    /// structured field of the same ECS name (every element of an array).
    pub fn values(&self, short: &str, rec: &Record) -> Vec<String> {
        let own: Vec<String> = self.fields.iter().filter(|(k, _)| k == short).map(|(_, v)| v.clone()).collect();
        if !own.is_empty() {
            return own;
        }
        let Some(ecs) = vocabulary::ecs_field(short) else { return Vec::new() };
        match rec.field(ecs) {
            Some(Value::Array(items)) => items.iter().map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())).collect(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(v) => vec![v.to_string()],
            None => Vec::new(),
        }
    }
}

/// Turns records into events. One per input stream (the miner learns as it goes).
#[derive(Debug)]
pub struct Normalizer {
    rules: Arc<RuleSet>,
    cache: CandidateCache,
    miner: Miner,
    /// Stored events whose template contradicted the miner's ([`Miner::restore`]), and the first.
    apart: (u64, Option<String>),
}

impl Normalizer {
    /// A normalizer with the given rules and a fresh miner.
    pub fn new(rules: Arc<RuleSet>) -> Self {
        Normalizer { rules, cache: CandidateCache::default(), miner: Miner::default(), apart: (0, None) }
    }

    /// A normalizer that goes on from a saved miner (a model's), so template ids stay stable.
    pub fn with_miner(rules: Arc<RuleSet>, miner: Miner) -> Self {
        Normalizer { rules, cache: CandidateCache::default(), miner, apart: (0, None) }
    }

    /// The template miner (for listing templates).
    pub fn miner(&self) -> &Miner {
        &self.miner
    }

    /// The checksum of the rule packs in use.
    pub fn rules_digest(&self) -> String {
        format!("{:08x}", self.rules.digest())
    }

    /// Normalizes one record, teaching the miner its message.
    pub fn normalize(&mut self, rec: &Record) -> Event {
        let mut event = self.classify(rec);
        self.name(&mut event, rec);
        event
    }

    /// The second half of [`Normalizer::normalize`], for an event [`Normalizer::classify`] gave
    /// (maybe another normalizer's, on another thread): teaches this one's miner the message and
    /// sets the template and a template state.
    pub fn name(&mut self, event: &mut Event, rec: &Record) {
        if let Err(why) = name_state(event, rec, &mut self.miner) {
            self.apart.0 += 1;
            self.apart.1.get_or_insert(why);
        }
    }

    /// How many stored events carried a template id that contradicts one met before, and the
    /// first contradiction: the inputs were normalized apart, so their template states do not
    /// name the same things.
    pub fn mined_apart(&self) -> Option<(u64, &str)> {
        self.apart.1.as_deref().map(|w| (self.apart.0, w))
    }

    /// The rule packs in use.
    pub fn rules(&self) -> Arc<RuleSet> {
        Arc::clone(&self.rules)
    }

    /// The rule and generic layers alone: everything but the template and a template state. They
    /// keep no state between records, so classification can run on another thread than mining
    /// (see [`name_state`]).
    pub fn classify(&mut self, rec: &Record) -> Event {
        let mut event = Event::default();
        if rec.kind == RecordKind::Sequence {
            event.state = rec.sequence.as_ref().map(|s| s.events.join(" ")).unwrap_or_default();
            return event;
        }
        let candidates = self.cache.get(&self.rules, rec.app.as_deref());
        if let Some((rule, mut fields)) = self.rules.find(&candidates, rec) {
            resolve_references(&mut fields, rec);
            // A rule that names no source: the generic layer looks for the address in the message
            // (`[client 1.2.3.4]`, `client: 1.2.3.4`), unless the header parser already found it.
            let has_source = fields.iter().any(|(k, _)| k.starts_with("source_")) || rec.field("source.ip").is_some();
            if !has_source {
                if let Some(ip) = generic::source_ip(&rec.message) {
                    fields.push(("source_ip".into(), ip.to_owned()));
                }
            }
            event.session_key = rule.entity.as_deref().and_then(|e| session_key(e, rec, &fields));
            event.outcome = rule.outcome.or(rule.action.map(|a| a.outcome));
            event.action = rule.action;
            event.rule = Some(rule.id.clone());
            event.fields = fields;
            event.role = Some(rule.role);
        } else if let Some(g) = generic::classify(&rec.message) {
            event.action = g.action;
            event.outcome = Some(g.outcome);
            event.rule = Some("generic".into());
            event.fields = g.fields;
        }
        if let Some(a) = event.action {
            event.state = a.name.to_owned();
        }
        event
    }
}

/// Teaches the miner a classified record's message and sets the event's template, and its state
/// when no standard name gave one: `<process>.<template id>`. A stored event (`--format events`)
/// keeps the template it was given, and the miner takes it in ([`Miner::restore`]); the error
/// says how it contradicts the miner.
pub fn name_state(event: &mut Event, rec: &Record, miner: &mut Miner) -> Result<(), String> {
    if rec.kind == RecordKind::Sequence {
        return Ok(());
    }
    if let Some((id, template)) = &event.template {
        return miner.restore(*id, template, &rec.message);
    }
    let t = miner.add(&rec.message);
    if event.state.is_empty() {
        event.state = format!("{}.{}", rec.app.as_deref().unwrap_or("-"), t.id);
    }
    event.template = Some((t.id, t.template.to_owned()));
    Ok(())
}

/// Normalizes a raw record given as text, lines separated by `\n`, as `normalize --format auto`
/// would: each line parsed, multi-line records joined. Returns each event with its record.
pub fn normalize_text(raw: &str, normalizer: &mut Normalizer) -> Vec<(Event, Record)> {
    let mut parser = LineParser::new(&Format::Auto, YearAnchor::Given(2024));
    let mut joiner = Joiner::new(true);
    let mut out = Vec::new();
    for (i, line) in raw.split('\n').enumerate() {
        if let Ok(rec) = parser.parse(line, i as u64 + 1) {
            if let (Some(p), _) = joiner.push(rec, line, i as u64 + 1) {
                out.push((normalizer.normalize(&p.record), p.record));
            }
        }
    }
    if let Some(p) = joiner.finish() {
        out.push((normalizer.normalize(&p.record), p.record));
    }
    out
}

/// What is wrong with one of a rule's example lines, if anything: it must give the rule's event
/// (or, for an entity-only rule, be matched by the rule) and every field the example names.
pub fn example_problem(rule: &Rule, example: &Example, rules: &Arc<RuleSet>) -> Option<String> {
    let events = normalize_text(&example.line, &mut Normalizer::new(Arc::clone(rules)));
    let want = example.action.as_deref().or(rule.action.map(|a| a.name));
    let by_rule = |ev: &Event| ev.rule.as_deref() == Some(rule.id.as_str());
    let Some((ev, rec)) = events.iter().find(|(e, _)| e.action.is_some() || by_rule(e)).or(events.first()) else {
        return Some("no event".to_owned());
    };
    let rule_name = ev.rule.as_deref().unwrap_or("no rule");
    match want {
        None if !by_rule(ev) => return Some(format!("matched by {rule_name}, not this rule")),
        Some(want) if ev.action.map(|a| a.name) != Some(want) => {
            return Some(format!("gave {} by {rule_name}, not {want}", ev.action.map(|a| a.name).unwrap_or("no action")));
        }
        _ => {}
    }
    let missing: Vec<String> = example
        .fields
        .iter()
        .filter(|(k, v)| !ev.values(k, rec).contains(v))
        .map(|(k, v)| format!("{k}={v:?} (got {:?})", ev.values(k, rec)))
        .collect();
    (!missing.is_empty()).then(|| format!("fields {}", missing.join(", ")))
}

/// `{field}` values in a rule's `set` name a structured field of the record.
fn resolve_references(fields: &mut Vec<(String, String)>, rec: &Record) {
    fields.retain_mut(|(_, v)| {
        let Some(key) = v.strip_prefix('{').and_then(|k| k.strip_suffix('}')) else { return true };
        let found = match rec.field(key) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Array(a)) => a.first().and_then(Value::as_str).map(str::to_owned),
            _ => None,
        };
        match found {
            Some(s) => {
                *v = s;
                true
            }
            None => false,
        }
    });
}

/// The session key a rule's `entity` names: `pid` is the process on its host, any other name a
/// field the rule extracted.
fn session_key(entity: &str, rec: &Record, fields: &[(String, String)]) -> Option<String> {
    if entity == "pid" {
        let pid = rec.pid?;
        return Some(format!("{}@{}:{pid}", rec.app.as_deref().unwrap_or("-"), rec.host.as_deref().unwrap_or("-")));
    }
    fields.iter().find(|(k, _)| k == entity).map(|(_, v)| v.clone())
}

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

/// Appends the ECS JSON object for `rec` and its event (no newline) to `out`.
pub fn write_ecs(out: &mut Vec<u8>, rec: &Record, event: Option<&Event>, origin: &Origin<'_>) {
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
    let mut extra: Vec<(&str, &Value)> = Vec::new();
    let mut owned: Vec<(String, Value)> = Vec::new();
    if let Some(ev) = event {
        if let Some(a) = ev.action {
            entries.push(("event.action", Leaf::Str(a.name)));
            entries.push(("event.category", Leaf::Static(a.category)));
            entries.push(("event.type", Leaf::Static(a.kind)));
        }
        if let Some(o) = ev.outcome {
            entries.push(("event.outcome", Leaf::Str(o)));
        }
        if let Some(r) = &ev.rule {
            entries.push(("logsieve.rule", Leaf::Str(r)));
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
            let value = if k == "source_port" {
                v.parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::from(v.as_str()))
            } else {
                Value::from(v.as_str())
            };
            owned.push((vocabulary::ecs_field(k).map(str::to_owned).unwrap_or_else(|| k.clone()), value));
        }
    }
    for (k, v) in &owned {
        if k.contains('.') {
            entries.push((k.as_str(), Leaf::Json(v)));
        } else {
            extra.push((k.as_str(), v));
        }
    }
    let with_event = entries.len();
    for (k, v) in &rec.fields {
        let ecs = ECS_PREFIXES.iter().any(|p| k.starts_with(p) || k == p.trim_end_matches('.'));
        let taken = entries[..with_event].iter().any(|(e, _)| e == k);
        if ecs && !taken {
            entries.push((k.as_str(), Leaf::Json(v)));
        } else if !taken {
            extra.push((k.as_str(), v));
        }
    }
    if !extra.is_empty() {
        entries.push(("logsieve.fields", Leaf::Map(extra)));
    }
    write_nested(out, entries);
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
