//! The featurize, model and score stages: a baseline learned from clean sessions, and the verdict
//! on a new session with the reasons behind it.
//!
//! Training cross-fits: the clean sessions are split into folds, each fold is scored by
//! components trained on the others, and those held-out scores calibrate the combination and the
//! threshold ([`calibrate`]); the saved components are then trained on every session. Labels are
//! never used.

pub mod calibrate;
pub mod components;
pub mod file;
pub mod shard;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::normalize::miner::Miner;
use crate::session::{SessionConfig, States};
use calibrate::{Calibration, COMPONENTS};
use components::{Featured, Finding, Neighbours, Ngrams, Pairs, Values, Vectors};

/// Training options (`--config FILE`, TOML, and flags); saved in the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainOptions {
    /// Window length of the n-gram database (3 or 4 are usual; 1 to 4).
    pub ngram: usize,
    /// Target false-positive rate of the threshold, on held-out clean sessions.
    pub max_fpr: f64,
    /// A window seen in less than this share of all training windows is rare (t-stide).
    pub rare_share: f64,
    /// Folds for cross-fitting the calibration.
    pub folds: usize,
    /// Parameter fields whose values are learned (`source_ip` is learned as its network,
    /// `source_net`).
    pub params: Vec<String>,
    /// Regex whose first capture group is the session key (instead of the rule packs' keys).
    pub session_key: Option<String>,
    /// How sessions and windows are cut.
    pub session: SessionConfig,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            ngram: 3,
            max_fpr: 0.001,
            rare_share: 1e-4,
            folds: 5,
            params: ["user", "target_user", "method", "logon_type", "source_ip"].map(String::from).to_vec(),
            session_key: None,
            session: SessionConfig::default(),
        }
    }
}

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
}

/// The components trained on one set of sessions.
struct Fitted {
    ngrams: Ngrams,
    pairs: Pairs,
    values: Values,
    vectors: Vectors,
}

impl Fitted {
    fn fit(sessions: &[&Featured], options: &TrainOptions, vocabulary: usize) -> Self {
        Fitted {
            ngrams: Ngrams::fit(options.ngram, options.rare_share, vocabulary, sessions.iter().copied()),
            pairs: Pairs::fit(sessions.iter().copied()),
            values: Values::fit(sessions.iter().copied()),
            vectors: Vectors::fit(sessions),
        }
    }
}

/// The parts of a model that score, borrowed from a [`Model`] or a fold's [`Fitted`].
struct Parts<'a> {
    ngrams: &'a Ngrams,
    pairs: &'a Pairs,
    values: &'a Values,
    vectors: &'a Vectors,
    neighbours: &'a Neighbours<'a>,
}

impl Parts<'_> {
    /// Raw component scores and findings of one session.
    fn raw_scores(&self, states: &[u32], params: &[(String, String)], findings: &mut Vec<Finding>) -> [f64; 6] {
        let x = self.vectors.vector(states);
        // Rounded to 1e-9, so floating-point noise (a residual of 1e-31 where the vector lies in
        // the subspace) does not rank one clean session above another.
        [
            self.ngrams.score_windows(states, findings),
            self.ngrams.score_transitions(states, findings),
            self.pairs.score(states, findings),
            self.values.score(params, findings),
            self.vectors.spe(&x),
            self.neighbours.distance(&x),
        ]
        .map(|v| (v * 1e9).round() / 1e9)
    }
}

/// At most this many held-out sessions per fold are scored for the calibration.
const HELD_OUT_PER_FOLD: usize = 20_000;

/// Why a model cannot be trained.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrainError {
    /// Too little data.
    #[error("training needs at least 2 sessions; the input gave {0} (check --session-key, or the window flags for logs without entities)")]
    TooFewSessions(usize),
}

impl Model {
    /// Learns a model from clean sessions. `states` names the state ids the sessions use.
    pub fn train(sessions: &[Featured], states: &States, options: TrainOptions) -> Result<Self, TrainError> {
        let n = sessions.len();
        if n < 2 {
            return Err(TrainError::TooFewSessions(n));
        }
        let vocabulary = states.len();
        let folds = options.folds.clamp(2, n);
        // The folds' fits and the final fit on every session are independent: they run in
        // parallel (rayon), and the held-out scores are joined in fold order, so the model is the
        // same byte for byte whatever the number of threads.
        let all: Vec<&Featured> = sessions.iter().collect();
        let mut results: Vec<(Vec<[f64; 6]>, Option<Fitted>)> = (0..=folds)
            .into_par_iter()
            .map(|f| {
                if f == folds {
                    return (Vec::new(), Some(Fitted::fit(&all, &options, vocabulary)));
                }
                let train: Vec<&Featured> = sessions.iter().enumerate().filter(|(i, _)| i % folds != f).map(|(_, s)| s).collect();
                let held: Vec<&Featured> = sessions.iter().enumerate().filter(|(i, _)| i % folds == f).map(|(_, s)| s).collect();
                let fitted = Fitted::fit(&train, &options, vocabulary);
                let matrix = fitted.vectors.neighbour_matrix();
                let neighbours = Neighbours::new(&matrix);
                let stride = held.len().div_ceil(HELD_OUT_PER_FOLD).max(1);
                let parts = Parts {
                    ngrams: &fitted.ngrams,
                    pairs: &fitted.pairs,
                    values: &fitted.values,
                    vectors: &fitted.vectors,
                    neighbours: &neighbours,
                };
                let mut findings = Vec::new();
                let raw = held
                    .iter()
                    .step_by(stride)
                    .map(|s| {
                        findings.clear();
                        parts.raw_scores(&s.states, &s.params, &mut findings)
                    })
                    .collect();
                (raw, None)
            })
            .collect();
        let fitted = results.pop().and_then(|r| r.1).ok_or(TrainError::TooFewSessions(n))?;
        let raw: Vec<[f64; 6]> = results.into_iter().flat_map(|r| r.0).collect();
        let calibration = Calibration::fit(&raw, options.max_fpr);
        Ok(Model {
            info: ModelInfo {
                logsieve: env!("CARGO_PKG_VERSION").to_owned(),
                sessions: n as u64,
                events: sessions.iter().map(|s| s.states.len() as u64).sum(),
                ..ModelInfo::default()
            },
            options,
            states: states.names().to_vec(),
            miner: None,
            ngrams: fitted.ngrams,
            pairs: fitted.pairs,
            values: fitted.values,
            vectors: fitted.vectors,
            calibration,
            allowances: Vec::new(),
            allowed_sessions: Vec::new(),
        })
    }

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
        if self.calibration.components.len() != calibrate::COMPONENTS.len() {
            return Some(format!("{} calibrated components, not {}", self.calibration.components.len(), calibrate::COMPONENTS.len()));
        }
        self.ngrams.problem().or_else(|| self.vectors.problem()).or_else(|| self.miner.as_ref().and_then(Miner::problem))
    }

    /// Rebuilds the lookup tables that are not saved.
    pub fn rebuild(&mut self) {
        self.ngrams.rebuild();
        self.pairs.rebuild();
        self.vectors.rebuild();
    }
}

/// One component's part in a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ComponentScore {
    /// The component.
    pub name: &'static str,
    /// Its raw score.
    pub raw: f64,
    /// How often a clean held-out session scored at least as high.
    pub p: f64,
}

/// A reason, in data and in plain words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// `unseen_window`, `rare_window`, `unlikely_transition`, `unseen_state`, `unseen_pair`,
    /// `new_value`, `count_deviation`.
    pub kind: &'static str,
    /// The component that found it.
    pub component: &'static str,
    /// That component's p-value.
    pub p: f64,
    /// Plain words.
    pub text: String,
    /// The states involved (`^`/`$` are the start/end padding).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<String>,
    /// Index into the session's `events` (0-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
    /// The field and value, for a new value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// See `field`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// The verdict on one session.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Combined score (−Σ ln p over the component groups).
    pub score: f64,
    /// Whether it is above the threshold.
    pub anomalous: bool,
    /// Each component's raw score and p-value.
    pub components: [ComponentScore; 6],
    /// Why, most significant first.
    pub reasons: Vec<Reason>,
}

/// At most this many reasons of one kind are listed per session.
const REASONS_PER_KIND: usize = 5;

/// Scores sessions against a model.
pub struct Scorer<'m> {
    model: &'m Model,
    neighbours: Neighbours<'m>,
}

impl<'m> Scorer<'m> {
    /// A scorer for `model`; `matrix` is `model.vectors.neighbour_matrix()`, kept by the caller.
    pub fn new(model: &'m Model, matrix: &'m ndarray::Array2<f64>) -> Self {
        Scorer { model, neighbours: Neighbours::new(matrix) }
    }

    /// The verdict on a session's states and parameter values; `names` names the state ids.
    pub fn score(&self, states: &[u32], params: &[(String, String)], names: &States) -> Verdict {
        let m = self.model;
        let mut findings = Vec::new();
        let parts = Parts { ngrams: &m.ngrams, pairs: &m.pairs, values: &m.values, vectors: &m.vectors, neighbours: &self.neighbours };
        let raw = parts.raw_scores(states, params, &mut findings);
        let (score, p) = m.calibration.combine(&raw);
        let components: [ComponentScore; 6] = std::array::from_fn(|c| ComponentScore { name: COMPONENTS[c], raw: raw[c], p: p[c] });
        let mut anomalous = score > m.calibration.threshold;
        let mut reasons = explain(&findings, &components, names, states.len());
        if anomalous && !m.allowed_sessions.is_empty() {
            let seq: Vec<&str> = states.iter().map(|&i| names.name(i)).collect();
            if m.allowed_sessions.iter().any(|a| a.len() == seq.len() && a.iter().zip(&seq).all(|(x, y)| x == y)) {
                anomalous = false;
                reasons.insert(
                    0,
                    Reason {
                        kind: "allowed",
                        component: "review",
                        p: 1.0,
                        text: "a session with these states was marked normal by review (logsieve model info lists why)".into(),
                        states: Vec::new(),
                        position: None,
                        field: None,
                        value: None,
                    },
                );
            }
        }
        Verdict { score, anomalous, components, reasons }
    }
}

fn names(ids: &[u32], states: &States) -> Vec<String> {
    ids.iter().map(|&i| states.name(i).to_owned()).collect()
}

fn explain(findings: &[Finding], comps: &[ComponentScore; 6], states: &States, events: usize) -> Vec<Reason> {
    let mut out: Vec<Reason> = Vec::new();
    let mut per_kind = std::collections::HashMap::new();
    let mut push = |r: Reason, out: &mut Vec<Reason>| {
        let n = per_kind.entry(r.kind).or_insert(0usize);
        *n += 1;
        if *n <= REASONS_PER_KIND {
            out.push(r);
        }
    };
    let base = |kind, c: usize, text: String| Reason {
        kind,
        component: comps[c].name,
        p: comps[c].p,
        text,
        states: Vec::new(),
        position: None,
        field: None,
        value: None,
    };
    for f in findings {
        let r = match f {
            Finding::UnseenWindow { window, at } => Reason {
                states: names(window, states),
                position: Some(*at),
                ..base(
                    "unseen_window",
                    0,
                    format!("window never seen in training: {} (at event {})", names(window, states).join(" → "), at + 1),
                )
            },
            Finding::RareWindow { window, at, count } => Reason {
                states: names(window, states),
                position: Some(*at),
                ..base(
                    "rare_window",
                    0,
                    format!("rare window: {} (at event {}; seen {count}× in training)", names(window, states).join(" → "), at + 1),
                )
            },
            Finding::Transition { window, at, probability } => {
                if comps[1].p > 0.01 {
                    continue;
                }
                let (ctx, next) = window.split_at(window.len() - 1);
                Reason {
                    states: names(window, states),
                    position: Some(*at),
                    ..base(
                        "unlikely_transition",
                        1,
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
                ..base("unseen_state", 2, format!("state never seen in training: {} (at event {})", states.name(*state), at + 1))
            },
            Finding::UnseenPair { states: (a, b) } => Reason {
                states: vec![states.name(*a).to_owned(), states.name(*b).to_owned()],
                ..base("unseen_pair", 2, format!("{} and {} never occur in one session in training", states.name(*a), states.name(*b)))
            },
            Finding::NewValue { field, value, known } => Reason {
                field: Some(field.clone()),
                value: Some(value.clone()),
                ..base("new_value", 3, format!("new value {field}={value} ({known} values known for {field})"))
            },
        };
        push(r, &mut out);
    }
    for c in [4, 5] {
        if comps[c].p <= 0.01 {
            let what = if c == 4 {
                "event counts outside the normal subspace (PCA residual"
            } else {
                "event counts far from every training session (kNN distance"
            };
            let r = base("count_deviation", c, format!("{what} {:.3}, p={:.1e}; {} events)", comps[c].raw, comps[c].p, events));
            push(r, &mut out);
        }
    }
    out.sort_by(|a, b| a.p.total_cmp(&b.p));
    out
}
