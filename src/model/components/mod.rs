//! The model's components, each learned from clean sessions and each giving a raw score (higher
//! is stranger) and the findings behind it:
//!
//! - [`Ngrams`]: stide / t-stide windows of `n` states with start/end padding (unseen and rare
//!   windows, by how many training sessions held them), and next-state probabilities
//!   (Witten-Bell interpolated n-gram model);
//! - [`Pairs`]: which states occur together in one session, in how many sessions (an unseen
//!   state, two known states never seen in the same session, and error states that few
//!   sessions held);
//! - [`Values`]: per-field value sets with frequencies for the parameter fields;
//! - [`Vectors`] (in `vectors.rs`): per-session state-count vectors (tf-idf), a PCA residual
//!   (SPE) (linfa-linalg) and the distance to the nearest training session (linfa-nn), after Liao
//!   & Vemuri.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use serde::{Deserialize, Serialize};

mod ngrams;
mod vectors;
pub use ngrams::{Ngrams, MAX_N};
pub use vectors::{sparse_key, Neighbours, Subspace, Vectors};

/// Rarity, graded: how much a window (or state) that `df` of `n` training sessions held counts as
/// evidence. Never seen: 1. Seen in fewer than `share` of the sessions (t-stide's rare windows):
/// how many halvings below that floor, in twos, `ln(share·n/df) / ln 4`, so a quarter of the
/// floor or rarer weighs as unseen. It depends on `df/n` only: more clean data never makes the
/// detector blind to what it flagged before. Common: 0.
pub fn rarity(df: u64, n: u64, share: f64) -> f64 {
    if df == 0 {
        return 1.0;
    }
    let floor = share * n as f64;
    if df as f64 >= floor {
        return 0.0;
    }
    ((floor / df as f64).ln() / 4f64.ln()).min(1.0)
}

/// What the components learn from: a session's entity key, states and parameter values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Featured {
    /// The session's key (for listing the training sessions set aside).
    pub key: String,
    /// State ids in order.
    pub states: Vec<u32>,
    /// Distinct (field, value) pairs.
    pub params: Vec<(String, String)>,
}

/// A distinct session and how many training sessions it stands for. Components learn from
/// sessions with counts: sessions repeat a lot (HDFS blocks, sshd logins), and a count is exactly
/// the repeats it stands for.
pub type Weighted<'a> = (&'a Featured, u64);

/// Every `stride`-th session (the first, the `stride`-th, …) of the list in which each of
/// `sessions` occurs as often as its count: a sample that does not depend on how the repeats are
/// grouped.
pub fn every_nth<'a>(sessions: &[Weighted<'a>], stride: u64) -> Vec<&'a Featured> {
    let stride = stride.max(1);
    let mut out = Vec::new();
    // The next position to take, relative to the start of the current session's repeats.
    let mut next = 0u64;
    for &(s, c) in sessions {
        while next < c {
            out.push(s);
            next += stride;
        }
        next -= c;
    }
    out
}

/// One finding behind a component's score.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// A window of states never seen in training; `at` is the index of its first real state.
    UnseenWindow {
        /// The window (padding included).
        window: Vec<u32>,
        /// Index into the session's states.
        at: usize,
    },
    /// A window seen, but in few training sessions.
    RareWindow {
        /// The window (padding included).
        window: Vec<u32>,
        /// Index into the session's states.
        at: usize,
        /// In how many training sessions it was seen.
        count: u32,
        /// Training sessions in all.
        of: u64,
    },
    /// An error state (an error-level message, or a template that reads as an error) that no or
    /// few training sessions held: evidence however often it occurred there.
    ErrorState {
        /// The state.
        state: u32,
        /// Where it first occurs.
        at: usize,
        /// In how many training sessions it was seen.
        sessions: u64,
        /// Training sessions in all.
        of: u64,
    },
    /// The least likely next state.
    Transition {
        /// The context and the state that followed.
        window: Vec<u32>,
        /// Index of the state that followed.
        at: usize,
        /// Its probability under the model.
        probability: f64,
    },
    /// A state never seen in training.
    UnseenState {
        /// The state.
        state: u32,
        /// Where it first occurs.
        at: usize,
    },
    /// Two known states never seen in one session.
    UnseenPair {
        /// The two states.
        states: (u32, u32),
    },
    /// A parameter value never seen for its field.
    NewValue {
        /// The field.
        field: String,
        /// The value.
        value: String,
        /// Distinct values known for the field.
        known: usize,
    },
}

/// Which states occur together in one session, and in how many sessions: `(a, a)` counts the
/// sessions that hold `a`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Pairs {
    /// Sorted (a, b), a ≤ b, of states seen in one session, with the sessions holding both.
    pairs: Vec<((u32, u32), u32)>,
    /// Training sessions in all.
    pub sessions: u64,
    #[serde(skip)]
    map: HashMap<(u32, u32), u32>,
}

/// At most this many distinct states of a session are paired (bounds the work per session).
const PAIR_STATES: usize = 128;

fn distinct_states(states: &[u32]) -> Vec<u32> {
    let mut seen: Vec<u32> = Vec::new();
    for &s in states {
        if !seen.contains(&s) {
            seen.push(s);
            if seen.len() == PAIR_STATES {
                break;
            }
        }
    }
    seen.sort_unstable();
    seen
}

/// The pairs (a, b), a ≤ b, of a session's distinct states, (a, a) included.
fn pairs_of(states: &[u32]) -> Vec<(u32, u32)> {
    let d = distinct_states(states);
    d.iter().enumerate().flat_map(|(i, &a)| d[i..].iter().map(move |&b| (a, b))).collect()
}

impl Pairs {
    /// Learns the pairs.
    pub fn fit<'a>(sessions: impl Iterator<Item = Weighted<'a>>) -> Self {
        let mut map: HashMap<(u32, u32), u32> = HashMap::default();
        let mut n = 0u64;
        for (s, c) in sessions {
            n += c;
            for p in pairs_of(&s.states) {
                let e = map.entry(p).or_default();
                *e = e.saturating_add(u32::try_from(c).unwrap_or(u32::MAX));
            }
        }
        let mut pairs: Vec<((u32, u32), u32)> = map.iter().map(|(p, c)| (*p, *c)).collect();
        pairs.sort_unstable();
        Pairs { pairs, sessions: n, map }
    }

    /// Rebuilds the lookup map (after loading).
    pub fn rebuild(&mut self) {
        self.map = self.pairs.iter().copied().collect();
    }

    /// Pairs known.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// In how many training sessions a state was seen.
    pub fn state_sessions(&self, state: u32) -> u64 {
        u64::from(self.map.get(&(state, state)).copied().unwrap_or(0))
    }

    /// Marks the states of a session as seen together (an allowance).
    pub fn allow(&mut self, states: &[u32]) {
        for p in pairs_of(states) {
            *self.map.entry(p).or_default() += 1;
        }
        self.pairs = self.map.iter().map(|(p, c)| (*p, *c)).collect();
        self.pairs.sort_unstable();
    }

    /// Unseen states plus pairs of known states never seen together.
    pub fn score(&self, states: &[u32], findings: &mut Vec<Finding>) -> f64 {
        let d = distinct_states(states);
        let known: Vec<u32> = d.iter().copied().filter(|&s| self.map.contains_key(&(s, s))).collect();
        let mut score = 0.0;
        for &s in &d {
            if !self.map.contains_key(&(s, s)) {
                score += 1.0;
                let at = states.iter().position(|&x| x == s).unwrap_or(0);
                findings.push(Finding::UnseenState { state: s, at });
            }
        }
        for (i, &a) in known.iter().enumerate() {
            for &b in &known[i + 1..] {
                if !self.map.contains_key(&(a, b)) {
                    score += 1.0;
                    findings.push(Finding::UnseenPair { states: (a, b) });
                }
            }
        }
        score
    }

    /// The error states of a session that fewer than `share` of the training sessions held
    /// (none, or a few: a contaminated clean period); `is_error` tells error states. Returns
    /// how many, and the findings.
    pub fn score_errors(&self, states: &[u32], share: f64, is_error: impl Fn(u32) -> bool, findings: &mut Vec<Finding>) -> f64 {
        let mut score = 0.0;
        for s in distinct_states(states) {
            if !is_error(s) {
                continue;
            }
            let held = self.state_sessions(s);
            if held as f64 >= share * self.sessions as f64 && held > 0 {
                continue;
            }
            score += 1.0;
            let at = states.iter().position(|&x| x == s).unwrap_or(0);
            findings.push(Finding::ErrorState { state: s, at, sessions: held, of: self.sessions });
        }
        score
    }
}

/// Per-field value sets with frequencies.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Values {
    /// field → value → sessions it was seen in.
    pub fields: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Values {
    /// Learns the values.
    pub fn fit<'a>(sessions: impl Iterator<Item = Weighted<'a>>) -> Self {
        let mut fields: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for (s, c) in sessions {
            for (f, v) in &s.params {
                *fields.entry(f.clone()).or_default().entry(v.clone()).or_default() += c;
            }
        }
        Values { fields }
    }

    /// Marks a value normal (an allowance).
    pub fn allow(&mut self, field: &str, value: &str) {
        *self.fields.entry(field.to_owned()).or_default().entry(value.to_owned()).or_default() += 1;
    }

    /// Σ −ln P(new value) over the session's values never seen for their field; P(new) is the
    /// Good-Turing estimate (values seen once + 1) / (observations + 2). A field never seen in
    /// training is not judged.
    pub fn score(&self, params: &[(String, String)], findings: &mut Vec<Finding>) -> f64 {
        let mut score = 0.0;
        for (f, v) in params {
            let Some(known) = self.fields.get(f) else { continue };
            if known.contains_key(v) {
                continue;
            }
            let total: u64 = known.values().sum();
            let once = known.values().filter(|&&c| c == 1).count() as f64;
            score += -((once + 1.0) / (total as f64 + 2.0)).ln();
            findings.push(Finding::NewValue { field: f.clone(), value: v.clone(), known: known.len() });
        }
        score
    }
}

/// Sessions of the given states and no parameters (for the components' tests).
#[cfg(test)]
fn sessions(rows: &[&[u32]]) -> Vec<Featured> {
    rows.iter().map(|s| Featured { key: String::new(), states: s.to_vec(), params: Vec::new() }).collect()
}

/// Each session once (for the components' tests).
#[cfg(test)]
fn once(sessions: &[Featured]) -> impl Iterator<Item = Weighted<'_>> {
    sessions.iter().map(|s| (s, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rarity_is_graded_relative_to_the_training_sessions() {
        assert_eq!(rarity(0, 1000, 0.01), 1.0);
        // Held by 5 of 1000 sessions, rare meaning under 1% (10 sessions): ln 2 / ln 4.
        assert!((rarity(5, 1000, 0.01) - 0.5).abs() < 1e-12);
        assert!(rarity(5, 1000, 0.01) < rarity(3, 1000, 0.01));
        assert_eq!(rarity(10, 1000, 0.01), 0.0);
        assert_eq!(rarity(2, 1000, 0.01), 1.0, "a quarter of the floor weighs as unseen");
        // Ten times the data, the same share: the same evidence.
        assert!((rarity(30, 10_000, 0.01) - rarity(3, 1000, 0.01)).abs() < 1e-12);
        // Nothing is rare below one session but the unseen.
        assert_eq!(rarity(1, 500, 0.001), 0.0);
    }

    #[test]
    fn error_states_count_when_few_training_sessions_held_them() {
        // State 9 is an error held by 3 of 1000 sessions, state 8 an error held by 300.
        let mut rows: Vec<&[u32]> = vec![&[1, 2]; 697];
        rows.extend(vec![&[1, 9, 2][..]; 3]);
        rows.extend(vec![&[1, 8, 2][..]; 300]);
        let p = Pairs::fit(once(&sessions(&rows)));
        let err = |s: u32| s == 8 || s == 9 || s == 7;
        let mut f = Vec::new();
        assert_eq!(p.score_errors(&[1, 9, 9, 8, 2], 0.05, err, &mut f), 1.0);
        assert_eq!(f, [Finding::ErrorState { state: 9, at: 1, sessions: 3, of: 1000 }]);
        f.clear();
        // An unseen error state counts too; above the share, a held error state does not.
        assert_eq!(p.score_errors(&[7, 8], 0.05, err, &mut f), 1.0);
        assert_eq!(p.score_errors(&[1, 9], 0.001, err, &mut f), 0.0);
    }
}
