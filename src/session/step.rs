//! From a normalized event to what its sessions take: the state (marked when it is an error), the
//! entity keys and the parameter values the model learns. Shared by `train`, `score` and `watch`.
//!
//! An event's keys are `--session-key`'s first capture group when given, else its entity (the
//! rule's, or its process's: see [`Normalizer::name`]). Only events without any entity go to
//! windows.

use std::collections::BTreeMap;
use std::sync::Arc;

use regex::Regex;

use super::{LineRef, Session, States, Step};
use crate::activity::{network, Act};
use crate::fasthash::HashMap;
use crate::normalize::rules::Role;
use crate::normalize::{severity, Coverage, Event, Normalizer, Origin};
use crate::record::Record;

/// What one record became.
#[derive(Debug)]
pub enum Stepped {
    /// A pre-parsed sequence: a whole session.
    Sequence(Session),
    /// An event for the sessions named in [`Stepper::keys`] (none: the window stream).
    Step(Step),
    /// `--session-key` was given and matched nothing on the line.
    Unkeyed,
}

/// Turns records into session steps; see the module docs.
pub struct Stepper<'a> {
    key: Option<&'a Regex>,
    params: &'a [String],
    /// The keys of the last [`Stepped::Step`].
    pub keys: Vec<String>,
    /// Records stepped.
    pub events: u64,
    /// Which layer named each record.
    pub coverage: Coverage,
    /// Message templates of states named by id (sequences), which tell their error states.
    templates: Option<&'a BTreeMap<String, String>>,
    /// The entity fields followed across sessions.
    entities: &'a [String],
    /// The activity of the last [`Stepped::Step`], if it is one the entity baselines follow.
    pub act: Option<Act>,
    /// Whether a template's text reads as an error, by text: the error wording's regex ran on
    /// every event's template (8% of `score`'s sink on HDFS), while a log has few templates.
    error_texts: HashMap<Arc<str>, bool>,
}

/// Template texts whose error reading [`Stepper`] keeps; then it starts again empty.
const ERROR_TEXTS: usize = 65_536;

impl<'a> Stepper<'a> {
    /// A stepper; `key` overrides the rules' entity keys, `params` are the fields learned.
    pub fn new(key: Option<&'a Regex>, params: &'a [String]) -> Self {
        Stepper {
            key,
            params,
            keys: Vec::new(),
            events: 0,
            coverage: Coverage::default(),
            templates: None,
            entities: &[],
            act: None,
            error_texts: HashMap::default(),
        }
    }

    /// With the entity fields followed across sessions (sources, users, `--entity`).
    pub fn with_entities(mut self, entities: &'a [String]) -> Self {
        self.entities = entities;
        self
    }

    /// With the templates of states a sequences input names by id (`--templates`).
    pub fn with_templates(mut self, templates: &'a BTreeMap<String, String>) -> Self {
        self.templates = (!templates.is_empty()).then_some(templates);
        self
    }

    /// Normalizes a record with `normalizer` (whose miner names template states) and steps it.
    pub fn step(&mut self, normalizer: &mut Normalizer, rec: &Record, origin: &Origin<'_>, line: LineRef, states: &mut States) -> Stepped {
        let event = normalizer.normalize(rec);
        self.step_event(rec, event, origin, line, states)
    }

    /// [`Stepper::step`] for a record already normalized ([`Normalizer::normalize`]).
    pub fn step_event(&mut self, rec: &Record, event: Event, origin: &Origin<'_>, line: LineRef, states: &mut States) -> Stepped {
        self.events += 1;
        self.act = None;
        if let Some(seq) = &rec.sequence {
            self.coverage.sequence += 1;
            let ids = seq
                .events
                .iter()
                .map(|e| {
                    let id = states.intern(e);
                    if self.templates.and_then(|t| t.get(e)).is_some_and(|t| severity::is_error_text(t)) {
                        states.mark_error(id);
                    }
                    id
                })
                .collect();
            return Stepped::Sequence(Session::sequence(seq.id.clone(), ids, line));
        }
        self.coverage.count(event.layer());
        let known = &mut self.error_texts;
        let error = severity::is_error_by(rec, &event, |t| match known.get(&**t) {
            Some(&e) => e,
            None => {
                if known.len() >= ERROR_TEXTS {
                    known.clear();
                }
                *known.entry(Arc::clone(t)).or_insert_with(|| severity::is_error_text(t))
            }
        });
        self.keys.clear();
        match self.key {
            Some(rx) => {
                for c in rx.captures_iter(origin.original) {
                    // The first capture group, or the whole match when there is none.
                    if let Some(m) = c.get(1).or_else(|| c.get(0)) {
                        if !self.keys.iter().any(|k| k == m.as_str()) {
                            self.keys.push(m.as_str().to_owned());
                        }
                    }
                }
                if self.keys.is_empty() {
                    self.coverage.unkeyed += 1;
                    return Stepped::Unkeyed;
                }
            }
            None => self.keys.extend(event.session_key.iter().cloned()),
        }
        let mut values = Vec::new();
        for p in self.params {
            values.extend(event.values(p, rec).into_iter().filter_map(|v| learned_value(p, v)));
        }
        let state = states.intern(&event.state);
        if error {
            states.mark_error(state);
        }
        if !self.entities.is_empty() {
            self.act = Act::of(rec, &event, self.entities, state, line);
        }
        Stepped::Step(Step {
            state,
            time: rec.timestamp,
            line,
            params: values,
            ends: event.role == Some(Role::End),
            starts: event.role == Some(Role::Start),
        })
    }
}

/// The (field, value) the model learns for a value of a parameter field: the value itself, but a
/// source address as its network (`source_net`, IPv4 /24, IPv6 /64), which generalises better
/// than the address; an address that does not parse is left out.
pub fn learned_value(field: &str, value: String) -> Option<(String, String)> {
    match field {
        "source_ip" => network(&value).map(|n| ("source_net".to_owned(), n)),
        _ => Some((field.to_owned(), value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_learned_as_their_network() {
        let v = |f: &str, x: &str| learned_value(f, x.to_owned());
        assert_eq!(v("source_ip", "10.1.2.3"), Some(("source_net".into(), "10.1.2.0/24".into())));
        assert_eq!(v("source_ip", "2001:db8:1:2:3::9"), Some(("source_net".into(), "2001:db8:1:2::/64".into())));
        assert_eq!(v("source_ip", "example.org"), None);
        assert_eq!(v("user", "root"), Some(("user".into(), "root".into())));
    }
}
