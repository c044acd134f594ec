//! The normalize stage: a [`Record`] → an [`Event`] in the standard nomenclature → one ECS JSON
//! object.
//!
//! Three layers decide, in order: the rule packs ([`rules`]: product messages → standard event
//! names and fields), the generic layer ([`generic`]: failure/success wording, users, addresses),
//! and the template miner ([`miner`]), which gives every message a template id, so a message no
//! rule knows still becomes a stable state `<process>:<template name>`.
//!
//! [`crate::output::ecs`] writes each event as one ECS JSON object. It holds the header fields (`@timestamp`, `host.hostname`, `process.name`,
//! `process.pid`, `log.level`, `log.logger`, `message`, `event.original`), the event
//! (`event.action`, `event.category`, `event.type`, `event.outcome`), the standard fields
//! (`user.name`, `source.ip`, `email.to.address`, `logsieve.original_recipient`, ...), structured
//! fields with an ECS name, and logsieve's own fields under `logsieve.*`: `line`, `file`, `format`,
//! `rule` (rule id or `generic`), `template_id`, `template`, `state`, `session_key`, `lifecycle`,
//! sequences' `session` and `events`, and `fields` (everything without an ECS name). Keys are
//! written nested and in a fixed order, so the same input gives byte-identical output.

pub mod analogy;
mod context;
pub mod generic;
pub mod miner;
pub mod rules;
pub mod severity;
pub mod vocabulary;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::parse::multiline::Joiner;
use crate::parse::{Format, LineParser, YearAnchor};
use crate::record::{Record, RecordKind};
use miner::Miner;
use rules::{CandidateCache, Example, Memo, Role, Rule, RuleSet};
use vocabulary::{Action, Outcome};

pub use context::{path_shape, INHERITED, WEB_IDLE_SECS};

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

/// What named an event: a rule of a pack, or the generic layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecidedBy {
    /// The rule with this id.
    Rule(String),
    /// The generic layer (failure/success wording).
    Generic,
}

impl DecidedBy {
    /// What outputs write to `logsieve.rule`: the rule id, or `generic`.
    pub fn as_str(&self) -> &str {
        match self {
            DecidedBy::Rule(id) => id,
            DecidedBy::Generic => GENERIC,
        }
    }

    /// The decider `logsieve.rule` names (as [`DecidedBy::as_str`] wrote it).
    pub fn from_name(name: &str) -> Self {
        match name {
            GENERIC => DecidedBy::Generic,
            id => DecidedBy::Rule(id.to_owned()),
        }
    }
}

/// `logsieve.rule` of events the generic layer named; no rule may take this id.
pub const GENERIC: &str = "generic";

/// Which layer of the nomenclature named an event's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// A rule pack's standard event name.
    Standard,
    /// The generic layer's standard name (failure/success wording).
    Generic,
    /// A rule gave an entity key (and lifecycle role) but no standard name: the state is the
    /// message template (HDFS blocks, OpenStack instances).
    Entity,
    /// No rule: the message template.
    Template,
}

/// How many records each layer of the nomenclature named (the report's coverage chart).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Coverage {
    /// Records a rule pack mapped to a standard event name.
    pub standard: u64,
    /// Records the generic layer gave a standard name (failure/success wording).
    pub generic: u64,
    /// Records a rule pack gave an entity key (and lifecycle role) but no standard name: their
    /// state is the message template (HDFS blocks, OpenStack instances).
    pub entity: u64,
    /// Records no rule matched, named by their message template (`<process>:<template name>`).
    pub template: u64,
    /// Pre-parsed sequence lines (`--format sequences`): states given by the input.
    pub sequence: u64,
    /// Lines skipped by the reader and parsers (counted with their reasons in the input table).
    pub skipped: u64,
    /// Records left out of sessions because `--session-key` matched nothing on them.
    pub unkeyed: u64,
}

impl Coverage {
    /// Counts one event named by `layer`.
    pub fn count(&mut self, layer: Layer) {
        match layer {
            Layer::Standard => self.standard += 1,
            Layer::Generic => self.generic += 1,
            Layer::Entity => self.entity += 1,
            Layer::Template => self.template += 1,
        }
    }
}

/// A record in the standard nomenclature.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Event {
    /// The standard event, if a rule or the generic layer named one.
    pub action: Option<&'static Action>,
    /// The outcome, when a rule or the generic layer knows it.
    pub outcome: Option<Outcome>,
    /// What decided: a rule, or the generic layer.
    pub rule: Option<DecidedBy>,
    /// Standard fields (short names, see [`vocabulary::FIELDS`]) and rule-specific ones.
    pub fields: Vec<(String, String)>,
    /// The entity key: the one its rule names (`sshd@host:pid`, a queue id, a block id), else its
    /// process's (see [`Normalizer::name`]).
    pub session_key: Option<String>,
    /// Where the event stands in its entity's lifecycle.
    pub role: Option<Role>,
    /// Template id and text from the miner (none for sequences), the text shared with it.
    pub template: Option<(u32, Arc<str>)>,
    /// The state name: the standard event name, else `<process>:<template name>`, else the state a
    /// sequences file gives.
    pub state: String,
}

impl Event {
    /// The id of the rule that decided (`generic` for the generic layer).
    pub fn rule_id(&self) -> Option<&str> {
        self.rule.as_ref().map(DecidedBy::as_str)
    }

    /// Which layer named the event's state.
    pub fn layer(&self) -> Layer {
        match (&self.rule, self.action) {
            (Some(DecidedBy::Generic), Some(_)) => Layer::Generic,
            (_, Some(_)) => Layer::Standard,
            (Some(_), None) => Layer::Entity,
            (None, None) => Layer::Template,
        }
    }

    /// The first of [`Event::values`] that names something (not empty, not `-`), without
    /// collecting the others.
    pub fn first_value(&self, short: &str, rec: &Record) -> Option<String> {
        let usable = |v: &str| !v.is_empty() && v != "-";
        if self.fields.iter().any(|(k, _)| k == short) {
            return self.fields.iter().find(|(k, v)| k == short && usable(v)).map(|(_, v)| v.clone());
        }
        match rec.field(vocabulary::ecs_field(short)?)? {
            Value::Array(items) => items.iter().map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())).find(|v| usable(v)),
            Value::String(s) => usable(s).then(|| s.clone()),
            v => Some(v.to_string()).filter(|s| usable(s)),
        }
    }

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

/// Turns records into events. One per input stream (the miner learns as it goes, and so does the
/// map from processes to their entities).
#[derive(Debug)]
pub struct Normalizer {
    rules: Arc<RuleSet>,
    cache: CandidateCache,
    /// Rule decisions by message shape (`None`: every line runs the rules, for comparison).
    memo: Option<Memo>,
    miner: Miner,
    /// Stored events whose template contradicted the miner's ([`Miner::restore`]), and the first.
    apart: (u64, Option<String>),
    /// Process (`app@host:pid`) → the entity its last keyed event belonged to.
    entity_of: crate::fasthash::HashMap<String, String>,
    /// Entity → the source address an earlier event of it named, for its events that name none.
    source_of: crate::fasthash::HashMap<String, String>,
    /// Web client (address and user agent) → its last request's time and its visit number.
    visits: crate::fasthash::HashMap<String, (i64, u32)>,
}

impl Normalizer {
    /// A normalizer with the given rules and a fresh miner.
    pub fn new(rules: Arc<RuleSet>) -> Self {
        Normalizer::with_miner(rules, Miner::default())
    }

    /// A normalizer that goes on from a saved miner (a model's), so template ids stay stable.
    pub fn with_miner(rules: Arc<RuleSet>, miner: Miner) -> Self {
        Normalizer {
            rules,
            cache: CandidateCache::default(),
            memo: Some(Memo::default()),
            miner,
            apart: (0, None),
            entity_of: crate::fasthash::HashMap::default(),
            source_of: crate::fasthash::HashMap::default(),
            visits: crate::fasthash::HashMap::default(),
        }
    }

    /// This normalizer without the memo of rule decisions by message shape: every line runs the
    /// rules (what the memo is checked against).
    pub fn without_memo(mut self) -> Self {
        self.memo = None;
        self
    }

    /// Lines whose rule decision came from a message shape met before, and lines decided anew
    /// (see [`rules::Memo`]).
    pub fn memo_counts(&self) -> (u64, u64) {
        self.memo.as_ref().map_or((0, 0), Memo::counts)
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
    ///
    /// It also gives the event its entity when no rule did: from a process with a pid, the
    /// entity its process's keyed events last had, or else the process (`app@host:pid`), so a
    /// message no rule knows stays in its process's session (an sshd line in its connection's).
    ///
    /// An event that names no source address takes the one an earlier event of its entity named
    /// (`fatal: Read from socket failed` of an sshd connection opened from 192.0.2.1), marked in
    /// [`INHERITED`].
    pub fn name(&mut self, event: &mut Event, rec: &Record) {
        if let Err(why) = name_state(event, rec, &mut self.miner) {
            self.apart.0 += 1;
            self.apart.1.get_or_insert(why);
        }
        if rec.kind == RecordKind::Sequence {
            return;
        }
        self.key_by_process(event, rec);
        self.web_client(event, rec);
        self.inherit_source(event, rec);
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
        let found = match &mut self.memo {
            Some(memo) => self.rules.find_with(&candidates, rec, memo),
            None => self.rules.find(&candidates, rec),
        };
        if let Some((rule, mut fields)) = found {
            resolve_references(&mut fields, rec);
            // A rule that names no source: the generic layer looks for the address in the message
            // (`[client 1.2.3.4]`, `client: 1.2.3.4`), unless the header parser already found it.
            let has_source = fields.iter().any(|(k, _)| k.starts_with("source_")) || rec.field("source.ip").is_some();
            if !has_source {
                let ip = match &mut self.memo {
                    Some(memo) => memo.source_ip(&rec.message),
                    None => generic::source_ip(&rec.message),
                };
                if let Some(ip) = ip {
                    fields.push(("source_ip".into(), ip.to_owned()));
                }
            }
            event.session_key = rule.entity.as_deref().and_then(|e| session_key(e, rec, &fields));
            event.outcome = rule.outcome.or(rule.action.map(|a| a.outcome));
            event.action = rule.action;
            event.rule = Some(DecidedBy::Rule(rule.id.clone()));
            event.fields = fields;
            event.role = Some(rule.role);
        } else {
            // No rule: the nearest example's event (a product no pack knows phrases the same
            // events with the same words), with the generic layer's outcome wording and fields.
            let g = generic::classify(&rec.message);
            let worded = generic::event(&rec.message);
            let near = if worded.is_none() { self.rules.analogy().nearest(&rec.message) } else { None };
            let failure = g.as_ref().is_some_and(|g| g.outcome == Outcome::Failure);
            let action = match (worded, near) {
                // `Login user=bob rejected`: a login the words name, and failure wording.
                (Some(a), _) if failure && a.name == "authentication.login.success" => vocabulary::action("authentication.login.failure"),
                (Some(a), _) => Some(a),
                (None, Some(n)) if failure && n.outcome.unwrap_or(n.action.outcome) == Outcome::Success => analogy::failure_of(n.action),
                (None, Some(n)) => Some(n.action),
                (None, None) => g.as_ref().and_then(|g| g.action),
            };
            if action.is_some() || g.is_some() {
                event.action = action;
                event.outcome = match (near, g.as_ref()) {
                    (Some(n), _) if action == Some(n.action) => Some(n.outcome.unwrap_or(n.action.outcome)),
                    (_, Some(g)) => Some(g.outcome),
                    _ => action.map(|a| a.outcome),
                };
                event.rule = Some(DecidedBy::Generic);
                // The generic match already extracted the fields; otherwise extract them now.
                let found = g.map_or_else(|| generic::fields(&rec.message), |g| g.fields);
                event.fields = generic::with_privilege_users(action, &rec.message, found);
            }
        }
        if let Some(a) = event.action {
            event.state = a.name.to_owned();
        }
        event
    }
}

/// Teaches the miner a classified record's message and sets the event's template, and its state
/// when no standard name gave one: `<process>:<template name>`
/// (`dfs.FSDataset:unexpected-error-trying-to-delete-block`, [`TemplateRef::name`]). A stored
/// event (`--format events`) keeps the template it was given, and the miner takes it in with the
/// name its state gives ([`Miner::restore`]); the error says how it contradicts the miner.
///
/// [`TemplateRef::name`]: miner::TemplateRef::name
pub fn name_state(event: &mut Event, rec: &Record, miner: &mut Miner) -> Result<(), String> {
    if rec.kind == RecordKind::Sequence {
        return Ok(());
    }
    if let Some((id, template)) = &event.template {
        let app = rec.app.as_deref().unwrap_or("-");
        let name = event.state.strip_prefix(app).and_then(|s| s.strip_prefix(':')).filter(|_| event.action.is_none());
        return miner.restore(*id, template, &rec.message, name);
    }
    let t = miner.add(&rec.message);
    if event.state.is_empty() {
        let app = rec.app.as_deref().unwrap_or("-");
        let mut state = String::with_capacity(app.len() + 1 + t.name.len());
        state.push_str(app);
        state.push(':');
        state.push_str(t.name);
        event.state = state;
    }
    event.template = Some((t.id, Arc::clone(t.shared)));
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
    let by_rule = |ev: &Event| ev.rule_id() == Some(rule.id.as_str());
    let Some((ev, rec)) = events.iter().find(|(e, _)| e.action.is_some() || by_rule(e)).or(events.first()) else {
        return Some("no event".to_owned());
    };
    let rule_name = ev.rule_id().unwrap_or("no rule");
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

#[cfg(test)]
mod tests;
