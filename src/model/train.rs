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
//! Sessions come as runs: a distinct session and how often it occurred, in canonical order, so
//! training memory follows the distinct sessions, not all of them (sessions repeat a lot). Folds,
//! samples and ties are defined on the list in which every session occurs as often as it
//! occurred: session `i` of that list is in fold `i % folds`. So the model is the one training on
//! each repeat apart would give, byte for byte, however the repeats are grouped.
//!
//! [`calibrate`]: super::calibrate

use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};

use super::components::{every_nth, Featured, Ngrams, Pairs, Values, Vectors, Weighted};
use super::{Model, ModelInfo, TrainError, TrainOptions, TrainParams};
use crate::session::States;
use folds::{calibrate, cross_fit, fold_count, keep, most_anomalous, Aside};

mod folds;

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
    fn fit(sessions: &[Weighted<'_>], options: &TrainOptions, vocabulary: usize) -> Self {
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

/// Whether the sessions hold varied sets of states: at least a quarter of them has a set of its
/// own (no more than 4 other sessions share it). Then which states occur tells sessions apart
/// (the programs of system-call traces); when most sessions share a few sets (event ids of one
/// kind of entity), presence vectors put nearly every clean session at distance 0 from another
/// and the slightest variation would stand out, so counts (tf-idf) are used.
fn varied_sets(runs: &[Weighted<'_>]) -> bool {
    let mut sets: HashMap<Vec<u32>, u64> = HashMap::default();
    for (s, c) in runs {
        let mut d = s.states.clone();
        d.sort_unstable();
        d.dedup();
        *sets.entry(d).or_default() += c;
    }
    #[allow(clippy::iter_over_hash_type)] // a sum: order does not matter
    let own: u64 = sets.values().filter(|&&c| c <= 5).sum();
    own * 4 >= runs.iter().map(|r| r.1).sum::<u64>()
}

/// The window lengths tried for pure sequences.
const CHOICES: std::ops::RangeInclusive<usize> = 2..=8;
/// At most this many sessions choose the window length.
const CHOOSING: usize = 20_000;

/// The window length that predicts held-out sessions best: the mean log-likelihood per
/// transition, cross-fitted over the folds, for each length in [`CHOICES`]; the shortest of any
/// within 0.01 nats of the best (longer windows only when they pay).
fn choose_ngram(runs: &[Weighted<'_>], vocabulary: usize, folds: usize) -> usize {
    let stride = runs.iter().map(|r| r.1).sum::<u64>().div_ceil(CHOOSING as u64).max(1);
    let sample: Vec<&Featured> = every_nth(runs, stride);
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

impl Model {
    /// Learns a model from clean sessions (see the module docs): distinct sessions in canonical
    /// order, each with how often it occurred ([`super::shard::canonical`]). `states` names the
    /// state ids the sessions use, and marks the error states.
    pub fn train(sessions: &[(Featured, u64)], states: &States, params: TrainParams) -> Result<Self, TrainError> {
        let mut options = params.into_options();
        let runs: Vec<Weighted<'_>> = sessions.iter().filter(|s| s.1 > 0).map(|(s, c)| (s, *c)).collect();
        let n: u64 = runs.iter().map(|r| r.1).sum();
        if n < 2 {
            return Err(TrainError::TooFewSessions(n as usize));
        }
        if options.choose_ngram {
            options.ngram = choose_ngram(&runs, states.len(), options.folds);
        }
        if options.sequences {
            options.presence_vectors = varied_sets(&runs);
        }
        let first = cross_fit(&runs, states, &options);
        let cal = calibrate(&first, options.max_fpr);
        // The anomalous ones by the first pass, most anomalous first, at most the expected share.
        let aside = most_anomalous(&first, &cal, fold_count(&options, n), (options.contamination * n as f64).floor() as u64);
        // The first pass's scores are done with: the second pass does not hold both.
        drop(first);
        let kept = keep(&runs, &aside);
        let left: u64 = kept.iter().map(|r| r.1).sum();
        if left < 2 {
            return Err(TrainError::TooFewSessions(left as usize));
        }
        let calibration = if aside.is_empty() { cal } else { calibrate(&cross_fit(&kept, states, &options), options.max_fpr) };
        let fitted = Fitted::fit(&kept, &options, states.len());
        let mut model = Model {
            info: ModelInfo {
                logsieve: env!("CARGO_PKG_VERSION").to_owned(),
                sessions: n,
                events: runs.iter().map(|(s, c)| s.states.len() as u64 * c).sum(),
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
        model.set_aside = model.list_set_aside(&runs, &aside, states);
        Ok(model)
    }

    /// The sessions set aside, with the reasons the final model gives for each; identical
    /// sessions are one entry, under the smallest key of their run.
    fn list_set_aside(&self, runs: &[Weighted<'_>], aside: &[Aside], states: &States) -> SetAsideList {
        let matrix = self.vectors.neighbour_matrix();
        let scorer = super::Scorer::new(self, &matrix);
        let mut listed: Vec<SetAside> = Vec::new();
        let mut entry: HashMap<Content<'_>, usize> = HashMap::default();
        for a in aside {
            let s = runs[a.run].0;
            if let Some(&k) = entry.get(&(s.states.as_slice(), s.params.as_slice())) {
                let l: &mut SetAside = &mut listed[k];
                l.sessions += a.count;
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
            listed.push(SetAside { key: s.key.clone(), sessions: a.count, score: (a.score * 1e6).round() / 1e6, reasons });
        }
        SetAsideList { total: aside.iter().map(|a| a.count).sum(), listed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::shard::{canonical, each_once};
    use crate::model::{file, TrainOptions};

    /// Training sessions with repeats: common ones, rarer ones, and an error state that few hold.
    /// Equal sessions have equal keys (a joined run lists its smallest).
    fn repeated() -> (Vec<(Featured, u64)>, States) {
        let names: Vec<String> = ["a", "b", "c", "d", "err"].map(String::from).to_vec();
        let states = States::with_errors(&names, &["err".to_owned()]);
        let mut all = Vec::new();
        let rows: [(&[u32], &str, usize); 9] = [
            (&[0, 1, 2], "u0", 137),
            (&[0, 1, 2], "u1", 61),
            (&[0, 1, 1, 2], "u0", 23),
            (&[0, 2], "u2", 9),
            (&[0, 3, 2], "u0", 7),
            (&[0, 4, 2], "u0", 2),
            (&[0, 1, 3, 1, 2], "u3", 3),
            (&[0, 4, 4, 2], "u1", 1),
            (&[3, 3, 3], "u9", 1),
        ];
        for (states, user, times) in rows {
            let s = Featured { key: format!("{states:?}{user}"), states: states.to_vec(), params: vec![("user".into(), user.into())] };
            all.extend(std::iter::repeat_n(s, times));
        }
        canonical(each_once(all), &states)
    }

    #[test]
    fn repeats_as_counts_train_the_model_training_on_each_repeat_apart_does() {
        let (joined, states) = repeated();
        assert_eq!(joined.len(), 9);
        let apart: Vec<(Featured, u64)> = joined.iter().flat_map(|(s, c)| std::iter::repeat_n((s.clone(), 1), *c as usize)).collect();
        // Set-aside limits of 0 to 12 sessions fall between and inside runs, and inside folds.
        let mut set_aside = Vec::new();
        for contamination in [0.0, 0.004, 0.01, 0.02, 0.05] {
            for folds in [2, 5] {
                let options = TrainOptions { contamination, folds, ..TrainOptions::default() }.check().unwrap();
                let a = Model::train(&joined, &states, options.clone()).unwrap();
                let b = Model::train(&apart, &states, options).unwrap();
                assert_eq!(file::encode(&a), file::encode(&b), "contamination {contamination}, {folds} folds");
                assert_eq!(a.info.sessions, 244);
                set_aside.push(a.set_aside.total);
            }
        }
        assert_eq!(set_aside[..2], [0, 0]);
        assert!(set_aside.iter().any(|&n| n >= 3), "{set_aside:?}");
    }

    #[test]
    fn every_nth_samples_the_list_of_repeats() {
        let (joined, _) = repeated();
        let runs: Vec<Weighted<'_>> = joined.iter().map(|(s, c)| (s, *c)).collect();
        let apart: Vec<&Featured> = joined.iter().flat_map(|(s, c)| std::iter::repeat_n(s, *c as usize)).collect();
        for stride in [1, 2, 7, 100, 244, 1000] {
            let expected: Vec<&Featured> = apart.iter().step_by(stride as usize).copied().collect();
            assert_eq!(every_nth(&runs, stride), expected, "stride {stride}");
        }
    }
}
