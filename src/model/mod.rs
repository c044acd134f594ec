//! The featurize, model and score stages: a baseline learned from clean sessions, and the verdict
//! on a new session with the reasons behind it. How training copes with a clean period that is
//! not perfectly clean is in `train.rs`.

pub mod calibrate;
pub mod components;
pub mod file;
mod memo;
mod params;
pub mod shard;
mod train;
mod verdict;

use serde::{Deserialize, Serialize};

use crate::normalize::miner::Miner;
use crate::session::States;
use calibrate::Calibration;
use components::{Finding, Neighbours, Ngrams, Pairs, Values, Vectors};
pub use memo::VerdictMemo;
pub use params::{compile_key, ParamsError, TrainOptions, TrainParams};
pub use train::{SetAside, SetAsideList};
pub use verdict::{marked_events, Component, ComponentScore, PerComponent, Reason, ReasonKind, Source, Verdict};

/// A review decision that made something normal (kept in the model, shown by `model info`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Allowance {
    /// What was allowed (`session KEY`, `window a b c`, `value field=v`).
    pub what: String,
    /// When (RFC 3339).
    pub when: String,
    /// Why.
    pub note: Option<String>,
}

/// Facts about how a model was made.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The logsieve version that trained it.
    pub logsieve: String,
    /// Checksum of the rule packs in use.
    pub rules: String,
    /// Input names as given.
    pub inputs: Vec<String>,
    /// Training sessions.
    pub sessions: u64,
    /// Training events.
    pub events: u64,
}

/// The learned baseline.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Model {
    /// How it was made.
    pub info: ModelInfo,
    /// The options it was trained with.
    pub options: TrainOptions,
    /// State names by id.
    pub states: Vec<String>,
    /// The names of the error states (sorted).
    pub errors: Vec<String>,
    /// Message templates of states the input names by id (`--format sequences` with
    /// `--templates`): state → template.
    pub templates: std::collections::BTreeMap<String, String>,
    /// The template miner, so template states keep their ids when scoring.
    pub miner: Option<Miner>,
    /// Windows and next-state model.
    pub ngrams: Ngrams,
    /// States seen together.
    pub pairs: Pairs,
    /// Parameter values.
    pub values: Values,
    /// Count vectors.
    pub vectors: Vectors,
    /// Combination and threshold.
    pub calibration: Calibration,
    /// Review decisions.
    pub allowances: Vec<Allowance>,
    /// State sequences of sessions allowed by review: a session with one of them is not flagged.
    pub allowed_sessions: Vec<Vec<String>>,
    /// Training sessions set aside as anomalous.
    pub set_aside: SetAsideList,
    /// The entity baselines: rates, breadth and values in context of sources and users.
    pub entities: crate::activity::Baseline,
}

/// The parts of a model that score, borrowed from a [`Model`] or a fold's fitted components.
struct Parts<'a> {
    ngrams: &'a Ngrams,
    pairs: &'a Pairs,
    values: &'a Values,
    vectors: &'a Vectors,
    neighbours: &'a Neighbours<'a>,
    /// Error states held by fewer than this share of the training sessions are evidence.
    error_share: f64,
    /// Which states are errors.
    states: &'a States,
}

impl<'a> Parts<'a> {
    fn of(f: &'a train::Fitted, neighbours: &'a Neighbours<'a>, options: &TrainOptions, states: &'a States) -> Self {
        Parts {
            ngrams: &f.ngrams,
            pairs: &f.pairs,
            values: &f.values,
            vectors: &f.vectors,
            neighbours,
            error_share: options.contamination,
            states,
        }
    }

    /// Raw component scores and findings of one session.
    fn raw_scores(&self, states: &[u32], params: &[(String, String)], findings: &mut Vec<Finding>) -> PerComponent<f64> {
        let x = self.vectors.vector(states);
        // In the order of the findings' reasons; rounded to 1e-9, so floating-point noise (a
        // residual of 1e-31 where the vector lies in the subspace) does not rank one clean
        // session above another.
        let mut raw = PerComponent::default();
        raw[Component::Ngram] = self.ngrams.score_windows(states, findings);
        raw[Component::Transition] = self.ngrams.score_transitions(states, findings);
        raw[Component::Cooccurrence] = self.pairs.score(states, findings);
        raw[Component::Values] = self.values.score(params, findings);
        raw[Component::Pca] = self.vectors.spe(&x);
        raw[Component::Knn] = self.neighbours.distance(&x);
        raw[Component::Errors] = self.pairs.score_errors(states, self.error_share, |s| self.states.is_error(s), findings);
        raw.map(|v| (v * 1e9).round() / 1e9)
    }
}

/// Why a model cannot be trained.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrainError {
    /// Too little data.
    #[error("training needs at least 2 sessions; the input gave {0} (check --session-key, or the window flags for logs without entities)")]
    TooFewSessions(usize),
}

impl Model {
    /// The id of a state name, adding it to the model's states if new.
    fn state_id(&mut self, name: &str) -> u32 {
        match self.states.iter().position(|s| s == name) {
            Some(i) => i as u32,
            None => {
                self.states.push(name.to_owned());
                (self.states.len() - 1) as u32
            }
        }
    }

    /// Makes a reviewed session normal: its exact state sequence is no longer flagged, and its
    /// windows, state pairs and parameter values become known (so sessions like it score lower).
    pub fn allow_session(&mut self, events: &[String], values: &[(String, String)]) {
        let ids: Vec<u32> = events.iter().map(|e| self.state_id(e)).collect();
        self.ngrams.allow_session(&ids);
        self.pairs.allow(&ids);
        for (f, v) in values {
            self.values.allow(f, v);
        }
        if !self.allowed_sessions.iter().any(|s| s == events) {
            self.allowed_sessions.push(events.to_vec());
        }
    }

    /// Makes a window of state names normal. It must hold n states (`^` and `$` are the
    /// padding).
    pub fn allow_window(&mut self, names: &[String]) -> Result<(), String> {
        if names.len() != self.ngrams.n {
            return Err(format!("a window holds {} states, not {}", self.ngrams.n, names.len()));
        }
        let ids: Vec<u32> = names
            .iter()
            .map(|s| match s.as_str() {
                "^" => crate::session::PAD_START,
                "$" => crate::session::PAD_END,
                _ => self.state_id(s),
            })
            .collect();
        self.ngrams.allow(&ids);
        Ok(())
    }

    /// Makes a parameter value normal.
    pub fn allow_value(&mut self, field: &str, value: &str) {
        self.values.allow(field, value);
    }

    /// What is inconsistent in a loaded model (a payload that decodes but cannot be used), if
    /// anything.
    pub fn problem(&self) -> Option<String> {
        self.ngrams.problem().or_else(|| self.vectors.problem()).or_else(|| self.miner.as_ref().and_then(Miner::problem))
    }

    /// Rebuilds the lookup tables that are not saved.
    pub fn rebuild(&mut self) {
        self.ngrams.rebuild();
        self.pairs.rebuild();
        self.vectors.rebuild();
    }
}

/// Scores sessions against a model.
pub struct Scorer<'m> {
    model: &'m Model,
    neighbours: Neighbours<'m>,
}

impl<'m> Scorer<'m> {
    /// A scorer for `model`; `matrix` is `model.vectors.neighbour_matrix()`, kept by the caller.
    pub fn new(model: &'m Model, matrix: &'m ndarray::Array2<f64>) -> Self {
        Scorer { model, neighbours: Neighbours::new(matrix).with_counts(&model.vectors.counts, model.options.neighbours()) }
    }

    /// The verdict on a session's states and parameter values; `names` names the state ids.
    pub fn score(&self, states: &[u32], params: &[(String, String)], names: &States) -> Verdict {
        let m = self.model;
        let mut findings = Vec::new();
        let parts = Parts {
            ngrams: &m.ngrams,
            pairs: &m.pairs,
            values: &m.values,
            vectors: &m.vectors,
            neighbours: &self.neighbours,
            error_share: m.options.contamination,
            states: names,
        };
        let raw = parts.raw_scores(states, params, &mut findings);
        let (score, p) = m.calibration.combine(&raw);
        let components = PerComponent::from_fn(|c| ComponentScore { name: c, raw: raw[c], p: p[c] });
        let mut anomalous = score > m.calibration.threshold || raw[Component::Errors] > 0.0;
        let mut reasons = verdict::explain(&findings, &components, names, states.len());
        if anomalous && !m.allowed_sessions.is_empty() {
            let seq: Vec<&str> = states.iter().map(|&i| names.name(i)).collect();
            if m.allowed_sessions.iter().any(|a| a.len() == seq.len() && a.iter().zip(&seq).all(|(x, y)| x == y)) {
                anomalous = false;
                let text = "a session with these states was marked normal by review (logsieve model info lists why)";
                reasons.insert(0, Reason::new(ReasonKind::Allowed, Source::Review, 1.0, text.into()));
            }
        }
        Verdict { score, anomalous, components, reasons }
    }
}
