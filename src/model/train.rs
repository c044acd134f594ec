//! Training: cross-fitted calibration, and a clean period that is not perfectly clean.
//!
//! The sessions are split into folds; each fold is scored by components trained on the others,
//! and those held-out scores calibrate the combination and the threshold ([`calibrate`]). Labels
//! are never used.
//!
//! A real clean period holds a few anomalous sessions, and an anomaly seen in training would
//! pass as normal ever after. So training runs twice when it must: the first pass scores every
//! training session held out, and sets aside those that are anomalous by it (an error state that
//! few sessions hold, or a score above the first pass's threshold), at most the share
//! `contamination` of all sessions, most anomalous first. The second pass fits and calibrates on
//! the rest. The sessions set aside are kept in the model with the reasons the final model gives
//! for them, so the user learns that the clean period was not clean (and can `allow` any that
//! are fine). Error states are not calibrated: held-out sessions with one are left out of the
//! calibration, or a contaminated period would teach that errors are normal.
//!
//! [`calibrate`]: super::calibrate

use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};

use super::calibrate::Calibration;
use super::components::{Featured, Neighbours, Ngrams, Pairs, Values, Vectors};
use super::verdict::{Component, PerComponent};
use super::{Model, ModelInfo, Parts, TrainError, TrainOptions, TrainParams};
use crate::session::States;

/// At most this many held-out sessions per fold calibrate the threshold.
const HELD_OUT_PER_FOLD: usize = 20_000;
/// At most this many distinct sessions set aside are listed (all are counted).
const LISTED: usize = 1000;

/// The components trained on one set of sessions.
pub(super) struct Fitted {
    pub ngrams: Ngrams,
    pub pairs: Pairs,
    pub values: Values,
    pub vectors: Vectors,
}

impl Fitted {
    fn fit(sessions: &[&Featured], options: &TrainOptions, vocabulary: usize) -> Self {
        let binary = options.sequences && options.presence_vectors;
        Fitted {
            ngrams: Ngrams::fit(options.ngram, options.rare_share, options.sequences, vocabulary, sessions.iter().copied()),
            pairs: Pairs::fit(sessions.iter().copied()),
            values: Values::fit(sessions.iter().copied()),
            vectors: Vectors::fit(sessions, binary),
        }
    }
}

/// A training session set aside as anomalous (one entry per distinct session).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetAside {
    /// Its key (the smallest among identical sessions).
    pub key: String,
    /// How many training sessions were identical to it.
    pub sessions: u64,
    /// Its score held out in the first pass.
    pub score: f64,
    /// Why, as the final model says.
    pub reasons: Vec<String>,
}

/// The training sessions set aside, for `model info` and the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SetAsideList {
    /// Sessions set aside in all.
    pub total: u64,
    /// The first thousand distinct ones, most anomalous first.
    pub listed: Vec<SetAside>,
}

/// A session's content: its states and parameter values.
type Content<'a> = (&'a [u32], &'a [(String, String)]);

/// One training session's first-pass result, held out.
struct Held {
    index: usize,
    raw: PerComponent<f64>,
}

/// Scores every session held out by components fitted on the other folds. Returns each session's
/// raw scores (in index order) and whether each was in the calibration sample.
fn cross_fit(sessions: &[&Featured], states: &States, options: &TrainOptions) -> Vec<(Held, bool)> {
    let n = sessions.len();
    let folds = options.folds.clamp(2, n.max(2));
    let vocabulary = states.len();
    // The folds are independent: they run in parallel (rayon), and their results are joined in
    // fold order, so the model is the same byte for byte whatever the number of threads.
    let mut out: Vec<(Held, bool)> = (0..folds)
        .into_par_iter()
        .flat_map_iter(|f| {
            let train: Vec<&Featured> = sessions.iter().enumerate().filter(|(i, _)| i % folds != f).map(|(_, s)| *s).collect();
            let held: Vec<usize> = (0..n).filter(|i| i % folds == f).collect();
            let fitted = Fitted::fit(&train, options, vocabulary);
            let matrix = fitted.vectors.neighbour_matrix();
            let neighbours = Neighbours::new(&matrix).with_counts(&fitted.vectors.counts, options.neighbours());
            let parts = Parts::of(&fitted, &neighbours, options, states);
            let stride = held.len().div_ceil(HELD_OUT_PER_FOLD).max(1);
            let mut findings = Vec::new();
            let mut last: Option<(usize, PerComponent<f64>)> = None;
            held.into_iter()
                .enumerate()
                .map(|(k, i)| {
                    // Sessions come sorted (canonical form): an identical neighbour is scored once.
                    let raw = match last {
                        Some((j, raw)) if sessions[j].states == sessions[i].states && sessions[j].params == sessions[i].params => raw,
                        _ => {
                            findings.clear();
                            parts.raw_scores(&sessions[i].states, &sessions[i].params, &mut findings)
                        }
                    };
                    last = Some((i, raw));
                    (Held { index: i, raw }, k % stride == 0)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort_by_key(|(h, _)| h.index);
    out
}

/// Whether the sessions hold varied sets of states: at least a quarter of them has a set of its
/// own (no more than 4 other sessions share it). Then which states occur tells sessions apart
/// (the programs of system-call traces); when most sessions share a few sets (event ids of one
/// kind of entity), presence vectors put nearly every clean session at distance 0 from another
/// and the slightest variation would stand out, so counts (tf-idf) are used.
fn varied_sets(sessions: &[Featured]) -> bool {
    let mut sets: HashMap<Vec<u32>, u64> = HashMap::default();
    for s in sessions {
        let mut d = s.states.clone();
        d.sort_unstable();
        d.dedup();
        *sets.entry(d).or_default() += 1;
    }
    #[allow(clippy::iter_over_hash_type)] // a sum: order does not matter
    let own: u64 = sets.values().filter(|&&c| c <= 5).sum();
    own * 4 >= sessions.len() as u64
}

/// The window lengths tried for pure sequences.
const CHOICES: std::ops::RangeInclusive<usize> = 2..=8;
/// At most this many sessions choose the window length.
const CHOOSING: usize = 20_000;

/// The window length that predicts held-out sessions best: the mean log-likelihood per
/// transition, cross-fitted over the folds, for each length in [`CHOICES`]; the shortest of any
/// within 0.01 nats of the best (longer windows only when they pay).
fn choose_ngram(sessions: &[Featured], vocabulary: usize, folds: usize) -> usize {
    let stride = sessions.len().div_ceil(CHOOSING).max(1);
    let sample: Vec<&Featured> = sessions.iter().step_by(stride).collect();
    let folds = folds.clamp(2, sample.len().max(2));
    let likelihood: Vec<(usize, f64)> = CHOICES
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|n| {
            let mean = (0..folds)
                .map(|f| {
                    let train: Vec<&Featured> = sample.iter().enumerate().filter(|(i, _)| i % folds != f).map(|(_, s)| *s).collect();
                    let held: Vec<&Featured> = sample.iter().enumerate().filter(|(i, _)| i % folds == f).map(|(_, s)| *s).collect();
                    Ngrams::held_out_likelihood(n, &train, &held, vocabulary)
                })
                .sum::<f64>()
                / folds as f64;
            (n, mean)
        })
        .collect();
    let best = likelihood.iter().map(|x| x.1).fold(f64::NEG_INFINITY, f64::max);
    likelihood.iter().find(|x| x.1 >= best - 0.01).map_or(3, |x| x.0)
}

/// The calibration from held-out sessions: the sampled ones without an error state.
fn calibrate(held: &[(Held, bool)], max_fpr: f64) -> Calibration {
    let raw: Vec<PerComponent<f64>> =
        held.iter().filter(|(h, sampled)| *sampled && h.raw[Component::Errors] == 0.0).map(|(h, _)| h.raw).collect();
    Calibration::fit(&raw, max_fpr)
}

impl Model {
    /// Learns a model from clean sessions (see the module docs). `states` names the state ids
    /// the sessions use, and marks the error states.
    pub fn train(sessions: &[Featured], states: &States, params: TrainParams) -> Result<Self, TrainError> {
        let mut options = params.into_options();
        let n = sessions.len();
        if n < 2 {
            return Err(TrainError::TooFewSessions(n));
        }
        if options.choose_ngram {
            options.ngram = choose_ngram(sessions, states.len(), options.folds);
        }
        if options.sequences {
            options.presence_vectors = varied_sets(sessions);
        }
        let all: Vec<&Featured> = sessions.iter().collect();
        let first = cross_fit(&all, states, &options);
        let cal = calibrate(&first, options.max_fpr);
        // The anomalous ones by the first pass, most anomalous first, at most the expected share.
        let mut anomalous: Vec<(f64, usize)> = first
            .iter()
            .filter_map(|(h, _)| {
                let (score, _) = cal.combine(&h.raw);
                (h.raw[Component::Errors] > 0.0 || score > cal.threshold).then_some((score, h.index))
            })
            .collect();
        anomalous.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        anomalous.truncate((options.contamination * n as f64).floor() as usize);
        let mut aside = vec![false; n];
        for &(_, i) in &anomalous {
            aside[i] = true;
        }
        // The first pass's scores are done with: the second pass does not hold both.
        drop(first);
        let kept: Vec<&Featured> = sessions.iter().zip(&aside).filter(|(_, a)| !**a).map(|(s, _)| s).collect();
        if kept.len() < 2 {
            return Err(TrainError::TooFewSessions(kept.len()));
        }
        let calibration = if anomalous.is_empty() { cal } else { calibrate(&cross_fit(&kept, states, &options), options.max_fpr) };
        let fitted = Fitted::fit(&kept, &options, states.len());
        let mut model = Model {
            info: ModelInfo {
                logsieve: env!("CARGO_PKG_VERSION").to_owned(),
                sessions: n as u64,
                events: sessions.iter().map(|s| s.states.len() as u64).sum(),
                ..ModelInfo::default()
            },
            options,
            states: states.names().to_vec(),
            errors: states.error_names(),
            ngrams: fitted.ngrams,
            pairs: fitted.pairs,
            values: fitted.values,
            vectors: fitted.vectors,
            calibration,
            ..Model::default()
        };
        model.set_aside = model.list_set_aside(sessions, &anomalous, states);
        Ok(model)
    }

    /// The sessions set aside, with the reasons the final model gives for each; identical
    /// sessions are one entry.
    fn list_set_aside(&self, sessions: &[Featured], anomalous: &[(f64, usize)], states: &States) -> SetAsideList {
        let matrix = self.vectors.neighbour_matrix();
        let scorer = super::Scorer::new(self, &matrix);
        let mut listed: Vec<SetAside> = Vec::new();
        let mut entry: HashMap<Content<'_>, usize> = HashMap::default();
        for &(score, i) in anomalous {
            let s = &sessions[i];
            if let Some(&k) = entry.get(&(s.states.as_slice(), s.params.as_slice())) {
                let l: &mut SetAside = &mut listed[k];
                l.sessions += 1;
                if s.key < l.key {
                    l.key = s.key.clone();
                }
                continue;
            }
            if listed.len() == LISTED {
                continue;
            }
            entry.insert((s.states.as_slice(), s.params.as_slice()), listed.len());
            let v = scorer.score(&s.states, &s.params, states);
            let reasons = v.reasons.into_iter().map(|r| r.text).collect();
            listed.push(SetAside { key: s.key.clone(), sessions: 1, score: (score * 1e6).round() / 1e6, reasons });
        }
        SetAsideList { total: anomalous.len() as u64, listed }
    }
}
