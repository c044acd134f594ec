//! Grouping anomalous sessions by cause: the reason without its position in the session, so
//! sessions flagged for the same window, state or value fall together.

use crate::model::{Component, Reason, ReasonKind, Source};

/// What the report calls a reason when it groups anomalous sessions by cause: the reason without
/// its position in the session; with the one state it is about, for an unseen state. `None` for
/// a review allowance, which flags nothing.
pub fn cause(r: &Reason) -> Option<(String, Option<String>)> {
    let chain = r.states.join(" → ");
    let state = match (r.kind, r.states.as_slice()) {
        (ReasonKind::UnseenState | ReasonKind::ErrorState, [one]) => Some(one.clone()),
        _ => None,
    };
    let words = match r.kind {
        ReasonKind::Allowed => return None,
        ReasonKind::UnseenWindow => format!("window never seen in training: {chain}"),
        ReasonKind::RareWindow => format!("rare window: {chain}"),
        ReasonKind::UnseenState => format!("state never seen in training: {chain}"),
        ReasonKind::ErrorState => format!("error never or rarely seen in training: {chain}"),
        ReasonKind::NewValue => format!("new value {}={}", r.field.as_deref().unwrap_or("?"), r.value.as_deref().unwrap_or("?")),
        ReasonKind::CountDeviation if r.component == Source::Component(Component::Pca) => {
            "event counts outside the normal subspace (PCA)".to_owned()
        }
        ReasonKind::CountDeviation => "event counts far from every training session (kNN)".to_owned(),
        // The other kinds (unlikely transitions, unseen pairs) carry no position in their text.
        ReasonKind::UnlikelyTransition | ReasonKind::UnseenPair => r.text.clone(),
        // Entity findings: by what was found about which entity, without the numbers.
        ReasonKind::RateBurst => {
            format!("burst of {chain} for {}={}", r.field.as_deref().unwrap_or("?"), r.value.as_deref().unwrap_or("?"))
        }
        ReasonKind::Breadth => {
            format!("{chain} across many users or sources: {}={}", r.field.as_deref().unwrap_or("?"), r.value.as_deref().unwrap_or("?"))
        }
        ReasonKind::FailuresThenSuccess => format!("login failures then a success from {}", r.value.as_deref().unwrap_or("?")),
        ReasonKind::Silence => format!("{chain} stopped while the log went on"),
        ReasonKind::NewInContext => {
            format!("new in its context: {} {}", r.field.as_deref().unwrap_or("?"), r.value.as_deref().unwrap_or("?"))
        }
    };
    Some((words, state))
}

/// Anomalous sessions that share one [`cause`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cause {
    /// How many anomalous sessions give it.
    pub sessions: u64,
    /// The highest-scoring of them.
    pub key: String,
    /// Its score.
    pub score: f64,
    /// The state it is about, for an unseen state.
    pub state: Option<String>,
}
