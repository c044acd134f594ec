//! A finding about an entity, as a score row, and the words its reasons are made of.

use super::Context;
use crate::model::{Component, ComponentScore, PerComponent, Reason, ReasonKind, Source, Verdict};
use crate::record::Timestamp;
use crate::session::{Closed, LineRef, Session};

/// What kind of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An entity's count of an event in a bucket.
    Burst,
    /// How many users a source tried, or sources a user came from, in a bucket.
    Breadth,
    /// Failures from one source, then its successful login.
    FailuresThenSuccess,
    /// A value its context never had.
    NewInContext,
    /// An event the whole log always had stopped while the log went on.
    Silence,
}

/// One finding about an entity.
#[derive(Debug, Clone)]
pub struct Finding {
    /// Unique key (the row's `session`).
    pub key: String,
    /// What kind.
    pub kind: Kind,
    /// Its chance under the baseline.
    pub p: f64,
    /// The level it was compared with.
    pub level: f64,
    /// Plain words.
    pub text: String,
    /// The standard event.
    pub act: String,
    /// The entity field and value (for a value in context: the spec and `spec/context`).
    pub field: String,
    /// See `field`.
    pub value: String,
    /// Events counted, and the breadth.
    pub count: u64,
    /// Users tried or sources come from.
    pub breadth: u64,
    /// Its lines and their states.
    pub lines: Vec<(LineRef, u32)>,
    /// Lines beyond the cap.
    pub dropped: u64,
    /// For a burst: the learned busiest count and the least count that is a finding.
    pub band: Option<(u64, u64)>,
    /// For a burst: counts per bucket since the first bucket it was a finding in.
    pub series: Vec<(i64, u64)>,
    /// Log time of its first and last line.
    pub start: Option<Timestamp>,
    /// See `start`.
    pub end: Option<Timestamp>,
}

impl Finding {
    /// A finding with no count, lines or times yet (the caller sets those it has).
    #[allow(clippy::too_many_arguments)]
    pub fn new(key: String, kind: Kind, p: f64, level: f64, text: String, act: String, field: String, value: String) -> Self {
        Finding {
            key,
            kind,
            p,
            level,
            text,
            act,
            field,
            value,
            count: 0,
            breadth: 0,
            lines: Vec::new(),
            dropped: 0,
            band: None,
            series: Vec::new(),
            start: None,
            end: None,
        }
    }

    /// The finding as a score row's session and verdict: scored so that it is above `threshold`
    /// by as much as its chance is below its level.
    pub fn into_row(self, threshold: f64) -> (Session, Verdict) {
        let mut s = Session::new(self.key);
        s.states = self.lines.iter().map(|(_, st)| *st).collect();
        s.lines = self.lines.iter().map(|(l, _)| *l).collect();
        s.start = self.start;
        s.end = self.end;
        s.dropped = self.dropped;
        s.closed = Closed::Entity;
        let kind = match self.kind {
            Kind::Burst => ReasonKind::RateBurst,
            Kind::Breadth => ReasonKind::Breadth,
            Kind::FailuresThenSuccess => ReasonKind::FailuresThenSuccess,
            Kind::NewInContext => ReasonKind::NewInContext,
            Kind::Silence => ReasonKind::Silence,
        };
        let p = self.p.max(1e-300);
        let reason = Reason {
            states: vec![self.act],
            field: Some(self.field),
            value: Some(self.value),
            count: Some(self.count),
            breadth: (self.breadth > 0).then_some(self.breadth),
            band: self.band,
            series: self.series,
            ..Reason::new(kind, Source::Entity, p, self.text)
        };
        let score = threshold + (self.level / p).ln();
        let components = PerComponent::from_fn(|c: Component| ComponentScore { name: c, raw: 0.0, p: 1.0 });
        (s, Verdict { score, anomalous: true, components, reasons: vec![reason] })
    }
}

pub(super) fn clock(t: Option<Timestamp>) -> String {
    t.map(|t| t.local.format("%H:%M:%S").to_string()).unwrap_or_else(|| "-".into())
}

pub(super) fn minutes(secs: u64) -> String {
    if secs % 60 == 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

pub(super) fn span(start: Option<Timestamp>, end: Option<Timestamp>) -> String {
    match (start, end) {
        (Some(a), Some(b)) => {
            let secs = (crate::session::millis(&b) - crate::session::millis(&a)) as f64 / 1000.0;
            if secs < 120.0 {
                format!("{secs:.0} s")
            } else {
                format!("{:.1} min", secs / 60.0)
            }
        }
        _ => "-".into(),
    }
}

pub(super) fn bucket_time(bucket: i64, secs: u64) -> String {
    Timestamp::from_unix(bucket * secs as i64, 0).map(|t| t.local.format("%Y-%m-%dT%H:%M").to_string()).unwrap_or_default()
}

pub(super) fn preposition(kind: &str) -> String {
    match kind {
        "source_ip" => "from source".into(),
        "user" => "for user".into(),
        k => format!("with {k}"),
    }
}

/// A value new to its context, in words.
pub(super) fn context_text(spec: &str, context: &str, value: &str, c: &Context) -> String {
    let mut known: Vec<(&String, &u64)> = c.values.iter().collect();
    known.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let list = known.iter().take(4).map(|(v, n)| format!("{v} ({n})")).collect::<Vec<_>>().join(", ");
    let more = if known.len() > 4 { format!(" and {} more", known.len() - 4) } else { String::new() };
    let seen = format!("clean period: {} such events, with {list}{more}", c.events);
    match spec {
        "login-method" => format!("first login by {context} with method {value}; {seen}"),
        "login-network" => format!("first login by {context} from network {value}; {seen}"),
        "login-user" => format!("first login by user {value}; {seen}"),
        "privilege-user" => format!("first privilege use (sudo, su) by {value}; {seen}"),
        "privilege-target" => format!("{context} became {value} for the first time; {seen}"),
        _ => format!("{spec}: {context} has the new value {value}; {seen}"),
    }
}
