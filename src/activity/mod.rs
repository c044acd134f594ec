//! Entities beyond the session: what a source address, a user (and any field given with
//! `--entity`) does across processes, daemons and files, over log time. A brute force is many
//! short sessions that each look normal; it stands out only when they are counted per address.
//!
//! Three baselines are learned from the clean period, each from one mergeable [`Tally`]:
//! - **rates**: each standard event's count per entity per time bucket (5 minutes of log time),
//!   as the busiest entity of each kind had it ([`Rate::busiest`]);
//! - **breadth**: how many users one source tried, and from how many sources one user came, per
//!   bucket ([`Rate::breadth`]);
//! - **values in context**: which values each context held (the login methods of each user, the
//!   networks each user logs in from, who uses sudo and to become whom), with how often a new
//!   value came ([`Context`]).
//!
//! While scoring, [`tracker::Tracker`] follows the same counts and reports a finding when a count
//! is improbable under the baseline, when failures from one source are followed by its success,
//! and when a context gets a value it never had while it rarely gets new ones.

mod finding;
mod poisson;
pub mod tracker;

pub use finding::{Finding, Kind};
pub use poisson::{poisson_tail, NOVELTY_LEVEL, RATE_LEVEL};

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::normalize::Event;
use crate::record::{Record, Timestamp};
use crate::session::{millis, LineRef};

/// The entity fields followed by default: the source address and the user.
pub const DEFAULT_ENTITIES: [&str; 2] = ["source_ip", "user"];

/// Length of a rate bucket in seconds of log time, by default.
pub const DEFAULT_BUCKET_SECS: u64 = 300;

/// The short scale of an entity's rate, in seconds: a burst that is over the clean period's
/// busiest minute is found within seconds, before its bucket has filled (`watch`). Training
/// counts per aligned minute and learns the busiest two consecutive minutes, which bounds any
/// sliding minute; scoring counts the sliding minute.
pub const SHORT_SECS: i64 = 60;

/// The entity field of the whole log's counts (every event, whoever it names).
pub const ALL: &str = "*";

/// The standard event of a successful login, which ends a run of failures.
pub const LOGIN_SUCCESS: &str = "authentication.login.success";

/// A context whose values are learned: for events of `acts`, the values of `value` seen with each
/// value of `context` (or overall, without one).
pub struct Spec {
    /// Name in the model and in reasons.
    pub id: &'static str,
    /// The standard events it looks at.
    pub acts: &'static [&'static str],
    /// The field that names the context (none: one context for all such events).
    pub context: Option<&'static str>,
    /// The field whose values are learned.
    pub value: &'static str,
}

/// The contexts logsieve learns values in: a first password login by a user who always used a key,
/// a login from a network the user never came from, a first login by a user, a first sudo by a
/// user, a user becoming someone new.
pub const SPECS: &[Spec] = &[
    Spec { id: "login-method", acts: &[LOGIN_SUCCESS], context: Some("user"), value: "method" },
    Spec { id: "login-network", acts: &[LOGIN_SUCCESS], context: Some("user"), value: "source_net" },
    Spec { id: "login-user", acts: &[LOGIN_SUCCESS], context: None, value: "user" },
    Spec { id: "privilege-user", acts: &["iam.privilege.escalate", "iam.privilege.escalate.failure"], context: None, value: "user" },
    Spec { id: "privilege-target", acts: &["iam.privilege.escalate"], context: Some("user"), value: "target_user" },
];

/// One event as the entity baselines see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Act {
    /// The standard event, or `http.request.<status class>` for an access-log line.
    pub name: String,
    /// Log time.
    pub time: Option<Timestamp>,
    /// The entities it belongs to: (entity field, value).
    pub entities: Vec<(String, String)>,
    /// Standard fields the contexts and breadth use: user, source_ip, source_net, method,
    /// target_user.
    pub fields: Vec<(&'static str, String)>,
    /// Its state id.
    pub state: u32,
    /// Where it came from.
    pub line: LineRef,
}

impl Act {
    /// The activity of a normalized event, if it is one the baselines follow: a standard event,
    /// or a request in an access log (by status class).
    pub fn of(rec: &Record, event: &Event, entity_fields: &[String], state: u32, line: LineRef) -> Option<Act> {
        let name = match event.action {
            Some(a) => a.name.to_owned(),
            None => {
                let status = rec.field("http.response.status_code")?;
                let code = status.as_u64().or_else(|| status.as_str().and_then(|s| s.parse().ok()))?;
                format!("http.request.{}xx", code / 100)
            }
        };
        let first = |f: &str| event.first_value(f, rec);
        let mut fields = Vec::new();
        for f in ["user", "source_ip", "method", "target_user"] {
            if let Some(v) = first(f) {
                if f == "source_ip" {
                    if let Some(net) = network(&v) {
                        fields.push(("source_net", net));
                    }
                }
                fields.push((f, v));
            }
        }
        let entities = entity_fields.iter().filter_map(|f| first(f).map(|v| (f.clone(), v))).collect();
        Some(Act { name, time: rec.timestamp, entities, fields, state, line })
    }

    /// A standard field's value.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(f, _)| *f == name).map(|(_, v)| v.as_str())
    }

    /// The time bucket of the event (none without a log time).
    pub fn bucket(&self, secs: u64) -> Option<i64> {
        self.time.as_ref().map(|t| millis(t).div_euclid(1000).div_euclid(secs.max(1) as i64))
    }

    /// The other side of an entity for breadth: the users a source tried, the sources a user
    /// came from.
    pub fn other(&self, kind: &str) -> Option<&str> {
        match kind {
            "source_ip" => self.field("user"),
            "user" => self.field("source_ip"),
            _ => None,
        }
    }
}

/// The network of an address (IPv4 /24, IPv6 /64).
pub fn network(ip: &str) -> Option<String> {
    match ip.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => {
            // Written by hand: `format!` cost 2.5% of `score`'s busiest thread on OpenSSH.
            let mut net = String::with_capacity(18);
            let mut digits = itoa::Buffer::new();
            for o in &v4.octets()[..3] {
                net.push_str(digits.format(*o));
                net.push('.');
            }
            net.push_str("0/24");
            Some(net)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            Some(format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]))
        }
    }
}

/// An entity's count of one standard event in one bucket, with the other side's values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Events.
    pub count: u64,
    /// Users a source tried, or sources a user came from.
    pub others: BTreeSet<String>,
}

/// What a training partition saw of the entities: the sufficient statistic of the baselines.
/// Tallies of shards add up to the tally of their union, so merged shards learn the baselines one
/// process learns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// (entity field, entity, standard event, bucket) → its cell.
    pub cells: BTreeMap<(String, String, String, i64), Cell>,
    /// (spec, context, value) → events.
    pub values: BTreeMap<(String, String, String), u64>,
    /// (entity field, entity, standard event, minute) → events: the short scale
    /// ([`SHORT_SECS`]; entity fields only, not the whole log).
    #[serde(default)]
    pub minutes: BTreeMap<MinuteKey, u64>,
}

/// (entity field, entity, standard event, minute) of the short scale.
pub type MinuteKey = (String, String, String, i64);

impl Tally {
    /// Counts one event; `bucket_secs` is the rate bucket.
    pub fn observe(&mut self, act: &Act, bucket_secs: u64) {
        if let Some(bucket) = act.bucket(bucket_secs) {
            self.cells.entry((ALL.to_owned(), ALL.to_owned(), act.name.clone(), bucket)).or_default().count += 1;
            for (kind, entity) in &act.entities {
                let cell = self.cells.entry((kind.clone(), entity.clone(), act.name.clone(), bucket)).or_default();
                cell.count += 1;
                if let Some(o) = act.other(kind) {
                    if !cell.others.contains(o) {
                        cell.others.insert(o.to_owned());
                    }
                }
            }
        }
        if let Some(minute) = act.bucket(SHORT_SECS as u64) {
            for (kind, entity) in &act.entities {
                *self.minutes.entry((kind.clone(), entity.clone(), act.name.clone(), minute)).or_default() += 1;
            }
        }
        for (spec, context, value) in contexts(act) {
            *self.values.entry((spec.to_owned(), context, value)).or_default() += 1;
        }
    }

    /// Adds another partition's tally.
    pub fn merge(&mut self, other: &Tally) {
        for (k, c) in &other.cells {
            let cell = self.cells.entry(k.clone()).or_default();
            cell.count += c.count;
            cell.others.extend(c.others.iter().cloned());
        }
        for (k, n) in &other.values {
            *self.values.entry(k.clone()).or_default() += n;
        }
        for (k, n) in &other.minutes {
            *self.minutes.entry(k.clone()).or_default() += n;
        }
    }

    /// The baselines. Per entity field and standard event, the busiest entity's busiest bucket,
    /// after setting aside the `contamination` share of the busiest entities (a clean period is
    /// never perfectly clean: one brute force in it must not make every later one normal).
    pub fn baseline(&self, bucket_secs: u64, contamination: f64) -> Baseline {
        // (kind, act) → per entity: (its busiest bucket, its widest bucket).
        let mut per: BTreeMap<(&str, &str), PerEntity<'_>> = BTreeMap::new();
        for ((kind, entity, act, _), cell) in &self.cells {
            let e = per.entry((kind, act)).or_default().entry(entity).or_default();
            e.0 = e.0.max(cell.count);
            e.1 = e.1.max(cell.others.len() as u64);
        }
        let robust_max = |mut v: Vec<u64>| {
            v.sort_unstable_by(|a, b| b.cmp(a));
            let skip = (contamination * v.len() as f64).floor() as usize;
            v.get(skip).copied().unwrap_or(0)
        };
        // The whole log: its count of each event per bucket over the span of the clean period
        // (buckets without the event count 0), the busiest after setting aside the
        // contamination share of buckets, and the quietest.
        let span: BTreeSet<i64> = self.cells.keys().filter(|(k, ..)| k == ALL).map(|(.., b)| *b).collect();
        let (first, last) = (span.first().copied().unwrap_or(0), span.last().copied().unwrap_or(-1));
        let mut whole: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for ((kind, _, act, _), cell) in &self.cells {
            if kind == ALL {
                whole.entry(act).or_default().push(cell.count);
            }
        }
        // The short scale: per entity, its busiest two consecutive minutes.
        let mut short: BTreeMap<(&str, &str), BTreeMap<&str, u64>> = BTreeMap::new();
        let mut prev: Option<(&MinuteKey, u64)> = None;
        for (key @ (kind, entity, act, minute), &n) in &self.minutes {
            let before = match prev {
                Some(((k, e, a, m), c)) if (k, e, a) == (kind, entity, act) && m + 1 == *minute => c,
                _ => 0,
            };
            let e = short.entry((kind, act)).or_default().entry(entity).or_default();
            *e = (*e).max(before + n);
            prev = Some((key, n));
        }
        let rates = per
            .into_iter()
            .map(|((kind, act), entities)| {
                let rate = if kind == ALL {
                    let counts = whole.remove(act).unwrap_or_default();
                    let full = counts.len() as i64 == last - first + 1;
                    Rate {
                        busiest: robust_max(counts.clone()),
                        breadth: 0,
                        entities: 1,
                        quietest: if full { counts.iter().copied().min().unwrap_or(0) } else { 0 },
                        short: None,
                    }
                } else {
                    Rate {
                        busiest: robust_max(entities.values().map(|e| e.0).collect()),
                        breadth: robust_max(entities.values().map(|e| e.1).collect()),
                        entities: entities.len() as u64,
                        quietest: 0,
                        short: short.get(&(kind, act)).map(|s| robust_max(s.values().copied().collect())),
                    }
                };
                ((kind.to_owned(), act.to_owned()), rate)
            })
            .collect();
        let mut contexts: BTreeMap<(String, String), Context> = BTreeMap::new();
        for ((spec, context, value), n) in &self.values {
            let c = contexts.entry((spec.clone(), context.clone())).or_default();
            c.events += n;
            c.once += u64::from(*n == 1);
            c.values.insert(value.clone(), *n);
        }
        Baseline { bucket_secs, rates, contexts }
    }
}

/// Per entity: its busiest bucket's count and its widest bucket's breadth.
type PerEntity<'a> = BTreeMap<&'a str, (u64, u64)>;

/// The (spec, context, value) triples of an event.
pub fn contexts(act: &Act) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    for spec in SPECS.iter().filter(|s| s.acts.contains(&act.name.as_str())) {
        let Some(value) = act.field(spec.value) else { continue };
        let context = match spec.context {
            Some(f) => match act.field(f) {
                Some(c) => c.to_owned(),
                None => continue,
            },
            None => String::new(),
        };
        out.push((spec.id, context, value.to_owned()));
    }
    out
}

/// The learned rate of one standard event for one entity field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    /// Events in the busiest bucket of the busiest entity (after setting aside the contaminated
    /// share).
    pub busiest: u64,
    /// The most users one source tried (or sources one user came from) in a bucket, likewise.
    pub breadth: u64,
    /// Entities that had the event.
    pub entities: u64,
    /// For the whole log: the fewest events in any bucket of the clean period (0 unless every
    /// bucket had the event).
    pub quietest: u64,
    /// For entity fields: the most events in two consecutive minutes of the busiest entity
    /// (after setting aside the contaminated share), which bounds its busiest sliding minute;
    /// none when the short scale was not learned.
    pub short: Option<u64>,
}

/// The values one context held in the clean period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// Events.
    pub events: u64,
    /// Values seen exactly once (Good–Turing: how often a new value came).
    pub once: u64,
    /// The values and their counts.
    pub values: BTreeMap<String, u64>,
}

impl Context {
    /// The estimated chance that the next event brings a value never seen (Good–Turing, with one
    /// added so that a context with few events is not taken to never change).
    pub fn new_value_chance(&self) -> f64 {
        (self.once + 1) as f64 / (self.events + 1) as f64
    }
}

/// The entity baselines of a model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The rate bucket in seconds.
    pub bucket_secs: u64,
    /// (entity field, standard event) → rate.
    pub rates: BTreeMap<(String, String), Rate>,
    /// (spec, context) → its values.
    pub contexts: BTreeMap<(String, String), Context>,
}

impl Baseline {
    /// Makes a reviewed finding normal: a rate up to `count`, or a value in its context.
    pub fn allow_rate(&mut self, kind: &str, act: &str, count: u64, breadth: u64) {
        let r = self.rates.entry((kind.to_owned(), act.to_owned())).or_default();
        r.busiest = r.busiest.max(count);
        r.breadth = r.breadth.max(breadth);
        if kind != ALL {
            r.short = Some(r.short.unwrap_or(0).max(count));
        }
    }

    /// Makes a reviewed silence normal: the event may stop.
    pub fn allow_silence(&mut self, act: &str) {
        if let Some(r) = self.rates.get_mut(&(ALL.to_owned(), act.to_owned())) {
            r.quietest = 0;
        }
    }

    /// Makes a value normal in its context.
    pub fn allow_value(&mut self, spec: &str, context: &str, value: &str) {
        let c = self.contexts.entry((spec.to_owned(), context.to_owned())).or_default();
        c.events += 1;
        *c.values.entry(value.to_owned()).or_default() += 1;
    }
}

/// The entity a finding's reason is about, as the report groups findings: `source 192.0.2.7`,
/// `user root`.
pub fn entity_of(r: &crate::model::Reason) -> Option<String> {
    if r.component != crate::model::Source::Entity {
        return None;
    }
    let (field, value) = (r.field.as_deref()?, r.value.as_deref()?);
    if field == ALL {
        return Some("the whole log".to_owned());
    }
    match field.split_once('/') {
        // A value in context: the user whose context it is, else the user the value names.
        Some((_, context)) if !context.is_empty() => Some(format!("user {context}")),
        Some(_) => Some(format!("user {value}")),
        None => Some(format!("{} {value}", kind_name(field))),
    }
}

/// Entity fields as written in reasons.
pub fn kind_name(kind: &str) -> &str {
    match kind {
        "source_ip" => "source",
        ALL => "log",
        _ => kind,
    }
}

#[cfg(test)]
mod tests;
