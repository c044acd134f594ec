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

use super::calibrate::Calibration;
use super::components::{every_nth, Featured, Neighbours, Ngrams, Pairs, Values, Vectors, Weighted};
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

/// Where each run starts in the list of all sessions; the last entry is their number.
fn starts(runs: &[Weighted<'_>]) -> Vec<u64> {
    let mut at = Vec::with_capacity(runs.len() + 1);
    let mut i = 0u64;
    at.push(0);
    for &(_, c) in runs {
        i += c;
        at.push(i);
    }
    at
}

/// How many of the sessions `a..b` are in fold `f` of `folds`.
fn in_fold(a: u64, b: u64, folds: u64, f: u64) -> u64 {
    let below = |x: u64| (x + folds - 1 - f) / folds;
    below(b) - below(a)
}

/// The sessions of one run held out in one fold, and their raw scores.
struct Held {
    run: usize,
    /// The first of them (index into the list of all sessions).
    first: u64,
    /// How many.
    count: u64,
    raw: PerComponent<f64>,
}

/// What cross-fitting gives: every run's held-out raw scores, per fold it has sessions in, and
/// the calibration sample (the raw scores of at most [`HELD_OUT_PER_FOLD`] sessions per fold,
/// evenly spread, in session order).
struct CrossFit {
    held: Vec<Held>,
    sample: Vec<PerComponent<f64>>,
}

/// One fold's held-out runs, and its calibration sample as (session index, raw scores).
type FoldScores = (Vec<Held>, Vec<(u64, PerComponent<f64>)>);

/// Scores every session held out by components fitted on the other folds.
fn cross_fit(runs: &[Weighted<'_>], states: &States, options: &TrainOptions) -> CrossFit {
    let at = starts(runs);
    let n = at[runs.len()];
    let folds = (options.folds as u64).clamp(2, n.max(2));
    let vocabulary = states.len();
    // The folds are independent: they run in parallel (rayon), and their results are joined in
    // fold order, so the model is the same byte for byte whatever the number of threads.
    let parts: Vec<FoldScores> = (0..folds)
        .into_par_iter()
        .map(|f| {
            let train: Vec<Weighted<'_>> =
                runs.iter().enumerate().map(|(r, &(s, c))| (s, c - in_fold(at[r], at[r + 1], folds, f))).filter(|w| w.1 > 0).collect();
            let fitted = Fitted::fit(&train, options, vocabulary);
            drop(train);
            let matrix = fitted.vectors.neighbour_matrix();
            let neighbours = Neighbours::new(&matrix).with_counts(&fitted.vectors.counts, options.neighbours());
            let parts = Parts::of(&fitted, &neighbours, options, states);
            let stride = in_fold(0, n, folds, f).div_ceil(HELD_OUT_PER_FOLD as u64).max(1);
            let (mut held, mut sample) = (Vec::new(), Vec::new());
            let mut findings = Vec::new();
            let mut last: Option<(usize, PerComponent<f64>)> = None;
            for (r, &(s, _)) in runs.iter().enumerate() {
                let count = in_fold(at[r], at[r + 1], folds, f);
                if count == 0 {
                    continue;
                }
                // Equal sessions in adjacent runs are scored once.
                let raw = match last {
                    Some((q, raw)) if runs[q].0.states == s.states && runs[q].0.params == s.params => raw,
                    _ => {
                        findings.clear();
                        parts.raw_scores(&s.states, &s.params, &mut findings)
                    }
                };
                last = Some((r, raw));
                // The k-th session held out in fold f is session k·folds + f; every stride-th
                // calibrates.
                let first_k = (at[r] + folds - 1 - f) / folds;
                let mut k = first_k.div_ceil(stride) * stride;
                while k < first_k + count {
                    sample.push((k * folds + f, raw));
                    k += stride;
                }
                held.push(Held { run: r, first: first_k * folds + f, count, raw });
            }
            (held, sample)
        })
        .collect();
    let mut held = Vec::new();
    let mut sample = Vec::new();
    for (h, s) in parts {
        held.extend(h);
        sample.extend(s);
    }
    sample.sort_unstable_by_key(|s| s.0);
    CrossFit { held, sample: sample.into_iter().map(|s| s.1).collect() }
}

/// Sessions set aside: those of run `run` held out in one fold, all with the same score.
struct Aside {
    run: usize,
    first: u64,
    count: u64,
    score: f64,
}

/// The sessions anomalous by the first pass, most anomalous first (ties in session order), at most
/// `limit` of them.
fn most_anomalous(pass: &CrossFit, cal: &Calibration, at: &[u64], folds: u64, limit: u64) -> Vec<Aside> {
    let mut all: Vec<Aside> = pass
        .held
        .iter()
        .filter_map(|h| {
            let (score, _) = cal.combine(&h.raw);
            (h.raw[Component::Errors] > 0.0 || score > cal.threshold).then_some(Aside { run: h.run, first: h.first, count: h.count, score })
        })
        .collect();
    all.sort_unstable_by(|a, b| b.score.total_cmp(&a.score).then(a.first.cmp(&b.first)));
    let mut taken = 0u64;
    let mut i = 0;
    while i < all.len() && taken < limit {
        let j = i + all[i..].iter().take_while(|a| a.score.total_cmp(&all[i].score).is_eq()).count();
        let class: u64 = all[i..j].iter().map(|a| a.count).sum();
        if taken + class <= limit {
            taken += class;
            i = j;
            continue;
        }
        // The limit falls inside sessions of one score: the first ones in session order. A run's
        // sessions in one fold are every `folds`-th from its first.
        let need = limit - taken;
        let mut by_index: Vec<(u64, usize)> = Vec::new();
        for (g, a) in all[i..j].iter().enumerate() {
            let end = at[a.run + 1];
            by_index.extend((0..a.count.min(need)).map(|k| a.first + k * folds).take_while(|&p| p < end).map(|p| (p, i + g)));
        }
        by_index.sort_unstable();
        by_index.truncate(need as usize);
        let mut counts = vec![0u64; j];
        for (_, g) in &by_index {
            counts[*g] += 1;
        }
        for (a, c) in all[i..j].iter_mut().zip(&counts[i..]) {
            a.count = *c;
        }
        all.truncate(j);
        all.retain(|a| a.count > 0);
        return all;
    }
    all.truncate(i);
    all
}

/// The runs less the sessions set aside.
fn keep<'a>(runs: &[Weighted<'a>], aside: &[Aside]) -> Vec<Weighted<'a>> {
    let mut left: Vec<u64> = runs.iter().map(|r| r.1).collect();
    for a in aside {
        left[a.run] -= a.count;
    }
    runs.iter().zip(left).filter(|(_, c)| *c > 0).map(|(r, c)| (r.0, c)).collect()
}

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

/// The calibration from held-out sessions: the sampled ones without an error state.
fn calibrate(pass: &CrossFit, max_fpr: f64) -> Calibration {
    let raw: Vec<PerComponent<f64>> = pass.sample.iter().filter(|r| r[Component::Errors] == 0.0).copied().collect();
    Calibration::fit(&raw, max_fpr)
}

impl Model {
    /// Learns a model from clean sessions (see the module docs): distinct sessions in canonical
    /// order, each with how often it occurred ([`super::shard::canonical`]). `states` names the
    /// state ids the sessions use, and marks the error states.
    pub fn train(sessions: &[(Featured, u64)], states: &States, params: TrainParams) -> Result<Self, TrainError> {
        let mut options = params.into_options();
        let runs: Vec<Weighted<'_>> = sessions.iter().filter(|s| s.1 > 0).map(|(s, c)| (s, *c)).collect();
        let at = starts(&runs);
        let n = at[runs.len()];
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
        let folds = (options.folds as u64).clamp(2, n.max(2));
        let aside = most_anomalous(&first, &cal, &at, folds, (options.contamination * n as f64).floor() as u64);
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
    fn the_most_anomalous_are_taken_per_session_in_order_of_score_then_of_index() {
        // Runs of 5, 3, 7 and 4 sessions in 3 folds. Scores: a calibration on Ngram raw scores
        // 0..100 makes higher raw scores rarer; error states tie at one score.
        let counts = [5u64, 3, 7, 4];
        let mut at = vec![0u64];
        for c in counts {
            at.push(at.last().unwrap() + c);
        }
        let folds = 3;
        let raw = |ngram: f64, errors: f64| {
            let mut r = PerComponent::from_fn(|_| 0.0);
            r[Component::Ngram] = ngram;
            r[Component::Errors] = errors;
            r
        };
        let sample: Vec<PerComponent<f64>> = (0..100).map(|i| raw(f64::from(i), 0.0)).collect();
        let cal = Calibration::fit(&sample, 0.05);
        // (run, fold) → raw: errors in runs 1 and 2 (a tie across runs and folds), high n-gram
        // scores elsewhere, two of them equal.
        let of = |r: usize, f: u64| match (r, f) {
            (1, _) | (2, 0) | (2, 2) => raw(0.0, 1.0),
            (0, 1) | (3, 2) => raw(500.0, 0.0),
            (3, 0) => raw(300.0, 0.0),
            _ => raw(1.0, 0.0),
        };
        let mut held = Vec::new();
        for r in 0..counts.len() {
            for f in 0..folds {
                let count = in_fold(at[r], at[r + 1], folds, f);
                if count > 0 {
                    let first = (at[r] + folds - 1 - f) / folds * folds + f;
                    held.push(Held { run: r, first, count, raw: of(r, f) });
                }
            }
        }
        let pass = CrossFit { held, sample: Vec::new() };
        // Session by session, as training on each apart would take them.
        let mut each: Vec<(f64, u64, usize)> = Vec::new();
        for r in 0..counts.len() {
            for i in at[r]..at[r + 1] {
                let raw = of(r, i % folds);
                let (score, _) = cal.combine(&raw);
                if raw[Component::Errors] > 0.0 || score > cal.threshold {
                    each.push((score, i, r));
                }
            }
        }
        each.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        assert!(each.len() > 10 && each[0].0 > each[each.len() - 1].0, "{each:?}");
        for limit in 0..=each.len() as u64 + 1 {
            let got = most_anomalous(&pass, &cal, &at, folds, limit);
            let taken = &each[..(limit as usize).min(each.len())];
            let mut per_run = vec![0u64; counts.len()];
            for a in &got {
                per_run[a.run] += a.count;
            }
            let mut expected = vec![0u64; counts.len()];
            for t in taken {
                expected[t.2] += 1;
            }
            assert_eq!(per_run, expected, "limit {limit}");
            // In the order listed: by score, then by first session.
            let order: Vec<usize> = got.iter().map(|a| a.run).collect();
            let mut first_seen: Vec<usize> = Vec::new();
            for t in taken {
                if first_seen.last() != Some(&t.2) {
                    first_seen.push(t.2);
                }
            }
            let mut dedup = order.clone();
            dedup.dedup();
            assert_eq!(dedup, first_seen, "limit {limit}");
        }
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
        assert_eq!(in_fold(0, 10, 3, 0), 4);
        assert_eq!(in_fold(0, 10, 3, 2), 3);
        assert_eq!(in_fold(4, 5, 3, 1), 1);
        assert_eq!(in_fold(5, 7, 3, 1), 0);
    }
}
