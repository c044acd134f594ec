//! Cross-fitting on runs of equal sessions, and the choice of the sessions set aside (see the
//! parent module's docs): which of the list of all sessions each fold holds, worked out per run.

use rayon::prelude::*;

use super::Fitted;
use crate::model::calibrate::Calibration;
use crate::model::components::{Neighbours, Weighted};
use crate::model::verdict::{Component, PerComponent};
use crate::model::{Parts, TrainOptions};
use crate::session::States;

/// At most this many held-out sessions per fold calibrate the threshold.
const HELD_OUT_PER_FOLD: usize = 20_000;

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

/// How many folds cross-fitting makes of `n` sessions.
pub(super) fn fold_count(options: &TrainOptions, n: u64) -> u64 {
    (options.folds as u64).clamp(2, n.max(2))
}

/// How many of the sessions before session `x` are in fold `f` of `folds`: the index, among the
/// sessions of fold `f`, of the first one at `x` or after.
fn before(x: u64, folds: u64, f: u64) -> u64 {
    (x + folds - 1 - f) / folds
}

/// How many of the sessions `a..b` are in fold `f` of `folds`.
fn in_fold(a: u64, b: u64, folds: u64, f: u64) -> u64 {
    before(b, folds, f) - before(a, folds, f)
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
pub(super) struct CrossFit {
    held: Vec<Held>,
    sample: Vec<PerComponent<f64>>,
}

/// One fold's held-out runs, and its calibration sample as (session index, raw scores).
type FoldScores = (Vec<Held>, Vec<(u64, PerComponent<f64>)>);

/// Scores every session held out by components fitted on the other folds.
pub(super) fn cross_fit(runs: &[Weighted<'_>], states: &States, options: &TrainOptions) -> CrossFit {
    let at = starts(runs);
    let n = at[runs.len()];
    let folds = fold_count(options, n);
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
                let first_k = before(at[r], folds, f);
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
pub(super) struct Aside {
    pub(super) run: usize,
    first: u64,
    pub(super) count: u64,
    pub(super) score: f64,
}

/// The sessions anomalous by the first pass, most anomalous first (ties in session order), at most
/// `limit` of them.
pub(super) fn most_anomalous(pass: &CrossFit, cal: &Calibration, folds: u64, limit: u64) -> Vec<Aside> {
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
            by_index.extend((0..a.count.min(need)).map(|k| (a.first + k * folds, i + g)));
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
pub(super) fn keep<'a>(runs: &[Weighted<'a>], aside: &[Aside]) -> Vec<Weighted<'a>> {
    let mut left: Vec<u64> = runs.iter().map(|r| r.1).collect();
    for a in aside {
        left[a.run] -= a.count;
    }
    runs.iter().zip(left).filter(|(_, c)| *c > 0).map(|(r, c)| (r.0, c)).collect()
}

/// The calibration from held-out sessions: the sampled ones without an error state.
pub(super) fn calibrate(pass: &CrossFit, max_fpr: f64) -> Calibration {
    let raw: Vec<PerComponent<f64>> = pass.sample.iter().filter(|r| r[Component::Errors] == 0.0).copied().collect();
    Calibration::fit(&raw, max_fpr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_counted_per_run() {
        assert_eq!(in_fold(0, 10, 3, 0), 4);
        assert_eq!(in_fold(0, 10, 3, 2), 3);
        assert_eq!(in_fold(4, 5, 3, 1), 1);
        assert_eq!(in_fold(5, 7, 3, 1), 0);
        assert_eq!(before(4, 3, 1), 1, "session 4 is the second of fold 1");
        assert_eq!(before(5, 3, 1), 2);
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
                    let first = before(at[r], folds, f) * folds + f;
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
            let got = most_anomalous(&pass, &cal, folds, limit);
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
}
