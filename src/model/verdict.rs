//! The score contract in types: the model's components, the kinds of reasons, and the verdict on
//! one session (its score, each component's part, and the reasons in data and in words).
//!
//! Component arrays are indexed by [`Component`], so adding a component is one new variant that
//! the compiler walks through every match and table.

use std::fmt;
use std::ops::{Index, IndexMut};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::components::Finding;
use crate::session::States;

/// The components of the model, each giving a raw score per session (higher is stranger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// Windows of n states never or rarely seen (stide / t-stide).
    Ngram,
    /// The least likely next state (interpolated n-gram model).
    Transition,
    /// States never seen, and known states never seen in one session.
    Cooccurrence,
    /// Parameter values never seen for their field.
    Values,
    /// The count vector's residual outside the normal subspace (PCA).
    Pca,
    /// The count vector's distance to the nearest training session.
    Knn,
    /// Error states that no or few training sessions held (not calibrated: evidence by rule).
    Errors,
}

impl Component {
    /// How many components there are.
    pub const COUNT: usize = Component::LAST as usize + 1;
    /// The last variant: adding a component means moving this, and the compiler then asks for
    /// it in [`Component::ALL`] (its length), in every match, and in [`Component::GROUPS`]' check.
    const LAST: Component = Component::Errors;
    /// Every component, in the order of component arrays and outputs.
    pub const ALL: [Component; Component::COUNT] = [
        Component::Ngram,
        Component::Transition,
        Component::Cooccurrence,
        Component::Values,
        Component::Pca,
        Component::Knn,
        Component::Errors,
    ];
    /// Components that measure the same thing, combined as one group (their smallest p,
    /// Bonferroni-corrected): sequence order, co-occurrence, parameter values, event counts,
    /// errors.
    pub const GROUPS: [&'static [Component]; 5] = [
        &[Component::Ngram, Component::Transition],
        &[Component::Cooccurrence],
        &[Component::Values],
        &[Component::Pca, Component::Knn],
        &[Component::Errors],
    ];

    /// The name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Ngram => "ngram",
            Component::Transition => "transition",
            Component::Cooccurrence => "cooccurrence",
            Component::Values => "values",
            Component::Pca => "pca",
            Component::Knn => "knn",
            Component::Errors => "errors",
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One value per [`Component`], indexed by it. Saved and written as a sequence in the order of
/// [`Component::ALL`]; reading one of another length is an error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerComponent<T>(pub [T; Component::COUNT]);

impl<T> PerComponent<T> {
    /// Each component's value from `f`.
    pub fn from_fn(mut f: impl FnMut(Component) -> T) -> Self {
        PerComponent(Component::ALL.map(&mut f))
    }

    /// The values with their component.
    pub fn iter(&self) -> impl Iterator<Item = (Component, &T)> {
        Component::ALL.into_iter().zip(self.0.iter())
    }

    /// Each value mapped.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> PerComponent<U> {
        PerComponent(self.0.map(f))
    }
}

impl<T: Default> Default for PerComponent<T> {
    fn default() -> Self {
        PerComponent(std::array::from_fn(|_| T::default()))
    }
}

impl<T> Index<Component> for PerComponent<T> {
    type Output = T;
    fn index(&self, c: Component) -> &T {
        &self.0[c as usize]
    }
}

impl<T> IndexMut<Component> for PerComponent<T> {
    fn index_mut(&mut self, c: Component) -> &mut T {
        &mut self.0[c as usize]
    }
}

impl<T: Serialize> Serialize for PerComponent<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // A sequence with its length (as a Vec), not a tuple: the saved form says how many.
        s.collect_seq(self.0.iter())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for PerComponent<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v: Vec<T> = Vec::deserialize(d)?;
        let n = v.len();
        let array: [T; Component::COUNT] =
            v.try_into().map_err(|_| serde::de::Error::custom(format!("{n} component values, not {}", Component::COUNT)))?;
        Ok(PerComponent(array))
    }
}

/// What a reason is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonKind {
    /// A window of states never seen in training.
    UnseenWindow,
    /// A window seen only rarely in training.
    RareWindow,
    /// A next state the n-gram model found unlikely.
    UnlikelyTransition,
    /// A state never seen in training.
    UnseenState,
    /// Two known states never seen in one session.
    UnseenPair,
    /// A parameter value never seen for its field.
    NewValue,
    /// Event counts far from the training sessions'.
    CountDeviation,
    /// An error state that no or few training sessions held.
    ErrorState,
    /// Review marked a session with these states normal.
    Allowed,
    /// An entity's count of an event in a time bucket, improbable under the clean period's.
    RateBurst,
    /// Too many users tried by one source, or sources one user came from, in a time bucket.
    Breadth,
    /// Login failures from one source followed by its successful login.
    FailuresThenSuccess,
    /// A value its context (a user's login methods, who uses sudo) never had.
    NewInContext,
    /// An event the whole log always had stopped while the log went on.
    Silence,
}

impl ReasonKind {
    /// The name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonKind::UnseenWindow => "unseen_window",
            ReasonKind::RareWindow => "rare_window",
            ReasonKind::UnlikelyTransition => "unlikely_transition",
            ReasonKind::UnseenState => "unseen_state",
            ReasonKind::UnseenPair => "unseen_pair",
            ReasonKind::NewValue => "new_value",
            ReasonKind::CountDeviation => "count_deviation",
            ReasonKind::ErrorState => "error_state",
            ReasonKind::Allowed => "allowed",
            ReasonKind::RateBurst => "rate_burst",
            ReasonKind::Breadth => "breadth",
            ReasonKind::FailuresThenSuccess => "failures_then_success",
            ReasonKind::NewInContext => "new_in_context",
            ReasonKind::Silence => "silence",
        }
    }
}

/// Who gave a reason: a component of the model, or review (an allowance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A review decision kept in the model.
    Review,
    /// The entity baselines (sources, users: rates, breadth, values in context).
    Entity,
    /// A component of the model (written as its name).
    #[serde(untagged)]
    Component(Component),
}

impl Source {
    /// The component, when a component gave it.
    pub fn component(self) -> Option<Component> {
        match self {
            Source::Component(c) => Some(c),
            Source::Review | Source::Entity => None,
        }
    }
}

/// One component's part in a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ComponentScore {
    /// The component.
    pub name: Component,
    /// Its raw score.
    pub raw: f64,
    /// How often a clean held-out session scored at least as high.
    pub p: f64,
}

/// A reason, in data and in plain words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// What it is about.
    pub kind: ReasonKind,
    /// The component that found it.
    pub component: Source,
    /// That component's p-value.
    pub p: f64,
    /// Plain words.
    pub text: String,
    /// The states involved (`^`/`$` are the start/end padding).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<String>,
    /// Index into the session's `events` (0-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
    /// The field and value, for a new value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// See `field`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Events counted, for an entity's finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Users tried or sources come from, for an entity's finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breadth: Option<u64>,
    /// For a burst: the clean period's busiest count per bucket, and the least count that is a
    /// finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band: Option<(u64, u64)>,
    /// For a burst: the entity's count of the event per bucket (bucket start in seconds since the
    /// epoch, count), from the first bucket it was a finding in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<(i64, u64)>,
}

impl Reason {
    /// A reason with no states, position or value.
    pub fn new(kind: ReasonKind, component: Source, p: f64, text: String) -> Self {
        Reason {
            kind,
            component,
            p,
            text,
            states: Vec::new(),
            position: None,
            field: None,
            value: None,
            count: None,
            breadth: None,
            band: None,
            series: Vec::new(),
        }
    }

    /// The `field=value` of a new value.
    pub fn new_value(&self) -> Option<(&str, &str)> {
        match (self.kind, &self.field, &self.value) {
            (ReasonKind::NewValue, Some(f), Some(v)) => Some((f, v)),
            _ => None,
        }
    }
}

/// The verdict on one session.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Combined score (−Σ ln p over the component groups).
    pub score: f64,
    /// Whether it is above the threshold.
    pub anomalous: bool,
    /// Each component's raw score and p-value.
    pub components: PerComponent<ComponentScore>,
    /// Why, most significant first.
    pub reasons: Vec<Reason>,
}

/// Which events the reasons point at: a window's states (without the padding), or one state
/// (unseen, or an error).
pub fn marked_events(events: usize, reasons: &[Reason]) -> Vec<bool> {
    let mut marked = vec![false; events];
    for r in reasons {
        if let Some(p) = r.position {
            let padding = r.states.iter().filter(|x| *x == "^" || *x == "$").count();
            let n = match r.kind {
                ReasonKind::UnseenState | ReasonKind::ErrorState => 1,
                _ => r.states.len().saturating_sub(padding).max(1),
            };
            for m in marked.iter_mut().skip(p).take(n) {
                *m = true;
            }
        }
    }
    marked
}

/// At most this many reasons of one kind are listed per session.
const REASONS_PER_KIND: usize = 5;

fn names(ids: &[u32], states: &States) -> Vec<String> {
    ids.iter().map(|&i| states.name(i).to_owned()).collect()
}

/// The reasons behind a verdict, most significant first, from the components' findings.
pub(super) fn explain(findings: &[Finding], comps: &PerComponent<ComponentScore>, states: &States, events: usize) -> Vec<Reason> {
    let mut out: Vec<Reason> = Vec::new();
    let mut per_kind = std::collections::HashMap::new();
    let mut push = |r: Reason, out: &mut Vec<Reason>| {
        let n = per_kind.entry(r.kind).or_insert(0usize);
        *n += 1;
        if *n <= REASONS_PER_KIND {
            out.push(r);
        }
    };
    let base = |kind, c: Component, text: String| Reason::new(kind, Source::Component(c), comps[c].p, text);
    // An error state's reason says it was never or rarely seen: no second reason for the same
    // unseen state.
    let errors: Vec<u32> =
        findings.iter().filter_map(|f| if let Finding::ErrorState { state, .. } = f { Some(*state) } else { None }).collect();
    for f in findings {
        if matches!(f, Finding::UnseenState { state, .. } if errors.contains(state)) {
            continue;
        }
        let r = match f {
            Finding::UnseenWindow { window, at } => Reason {
                states: names(window, states),
                position: Some(*at),
                ..base(
                    ReasonKind::UnseenWindow,
                    Component::Ngram,
                    format!("window never seen in training: {} (at event {})", names(window, states).join(" → "), at + 1),
                )
            },
            Finding::RareWindow { window, at, count, of } => Reason {
                states: names(window, states),
                position: Some(*at),
                ..base(
                    ReasonKind::RareWindow,
                    Component::Ngram,
                    format!(
                        "rare window: {} (at event {}; in {count} of {of} training sessions)",
                        names(window, states).join(" → "),
                        at + 1
                    ),
                )
            },
            Finding::ErrorState { state, at, sessions, of } => Reason {
                states: vec![states.name(*state).to_owned()],
                position: Some(*at),
                ..base(
                    ReasonKind::ErrorState,
                    Component::Errors,
                    if *sessions == 0 {
                        format!("error never seen in training: {} (at event {})", states.name(*state), at + 1)
                    } else {
                        format!("error seen in only {sessions} of {of} training sessions: {} (at event {})", states.name(*state), at + 1)
                    },
                )
            },
            Finding::Transition { window, at, probability } => {
                if comps[Component::Transition].p > 0.01 {
                    continue;
                }
                let (ctx, next) = window.split_at(window.len() - 1);
                Reason {
                    states: names(window, states),
                    position: Some(*at),
                    ..base(
                        ReasonKind::UnlikelyTransition,
                        Component::Transition,
                        format!(
                            "unlikely next state: {} after {} (probability {probability:.2e})",
                            names(next, states).join(""),
                            names(ctx, states).join(" → ")
                        ),
                    )
                }
            }
            Finding::UnseenState { state, at } => Reason {
                states: vec![states.name(*state).to_owned()],
                position: Some(*at),
                ..base(
                    ReasonKind::UnseenState,
                    Component::Cooccurrence,
                    format!("state never seen in training: {} (at event {})", states.name(*state), at + 1),
                )
            },
            Finding::UnseenPair { states: (a, b) } => Reason {
                states: vec![states.name(*a).to_owned(), states.name(*b).to_owned()],
                ..base(
                    ReasonKind::UnseenPair,
                    Component::Cooccurrence,
                    format!("{} and {} never occur in one session in training", states.name(*a), states.name(*b)),
                )
            },
            Finding::NewValue { field, value, known } => Reason {
                field: Some(field.clone()),
                value: Some(value.clone()),
                ..base(ReasonKind::NewValue, Component::Values, format!("new value {field}={value} ({known} values known for {field})"))
            },
        };
        push(r, &mut out);
    }
    for c in [Component::Pca, Component::Knn] {
        if comps[c].p <= 0.01 {
            let what = match c {
                Component::Pca => "event counts outside the normal subspace (PCA residual",
                _ => "event counts far from every training session (kNN distance",
            };
            let r = base(ReasonKind::CountDeviation, c, format!("{what} {:.3}, p={:.1e}; {} events)", comps[c].raw, comps[c].p, events));
            push(r, &mut out);
        }
    }
    out.sort_by(|a, b| a.p.total_cmp(&b.p));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_outputs_are_the_contract() {
        let json = |v: &dyn erased::Json| v.json();
        assert_eq!(json(&Component::Cooccurrence), "\"cooccurrence\"");
        assert_eq!(json(&ReasonKind::UnlikelyTransition), "\"unlikely_transition\"");
        assert_eq!(json(&Source::Review), "\"review\"");
        assert_eq!(json(&Source::Component(Component::Knn)), "\"knn\"");
        for c in Component::ALL {
            assert_eq!(json(&c), format!("\"{}\"", c.as_str()));
            assert_eq!(serde_json::from_str::<Source>(&json(&c)).unwrap(), Source::Component(c));
        }
        assert_eq!(serde_json::from_str::<Source>("\"review\"").unwrap(), Source::Review);
        assert!(serde_json::from_str::<Source>("\"nope\"").is_err());
    }

    #[test]
    fn every_component_is_listed_once_in_order_and_in_one_group() {
        for (i, c) in Component::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i, "{c}");
            let groups = Component::GROUPS.iter().filter(|g| g.contains(c)).count();
            assert_eq!(groups, 1, "{c} is in {groups} groups");
        }
    }

    #[test]
    fn component_arrays_are_indexed_by_component_and_checked_on_reading() {
        let mut per = PerComponent::from_fn(|c| c as usize * 10);
        per[Component::Values] += 1;
        assert_eq!(per[Component::Values], 31);
        let text = serde_json::to_string(&per).unwrap();
        assert_eq!(text, "[0,10,20,31,40,50,60]");
        assert_eq!(serde_json::from_str::<PerComponent<usize>>(&text).unwrap(), per);
        let err = serde_json::from_str::<PerComponent<usize>>("[1,2]").unwrap_err();
        assert!(err.to_string().contains("2 component values, not 7"), "{err}");
    }

    mod erased {
        pub trait Json {
            fn json(&self) -> String;
        }
        impl<T: serde::Serialize> Json for T {
            fn json(&self) -> String {
                serde_json::to_string(self).unwrap()
            }
        }
    }
}
