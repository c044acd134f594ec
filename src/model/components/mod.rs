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

use crate::session::{PAD_END, PAD_START};

mod vectors;
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

fn pack(ids: &[u32]) -> u128 {
    ids.iter().fold(0u128, |k, &id| (k << 32) | u128::from(id))
}

mod sorted_maps {
    //! Hash maps saved as sorted lists, so equal models are equal bytes.
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(maps: &[HashMap<u128, u32>], s: S) -> Result<S::Ok, S::Error> {
        let sorted: Vec<Vec<(u128, u32)>> = maps
            .iter()
            .map(|m| {
                let mut v: Vec<(u128, u32)> = m.iter().map(|(k, c)| (*k, *c)).collect();
                v.sort_unstable();
                v
            })
            .collect();
        sorted.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<HashMap<u128, u32>>, D::Error> {
        let sorted: Vec<Vec<(u128, u32)>> = Vec::deserialize(d)?;
        Ok(sorted.into_iter().map(|v| v.into_iter().collect()).collect())
    }
}

/// Windows of `n` states (stide / t-stide) and next-state probabilities.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ngrams {
    /// Window length.
    pub n: usize,
    /// A window held by less than this share of the training sessions is rare.
    pub rare_share: f64,
    /// `[0]`: padded windows of length n → training sessions holding it; `[k]` for k in 1..=n:
    /// k-grams of the next-state model → count.
    #[serde(with = "sorted_maps")]
    grams: Vec<HashMap<u128, u32>>,
    /// Training windows in all.
    pub windows: u64,
    /// Training sessions in all.
    pub sessions: u64,
    /// Known states (for the uniform floor of the next-state model).
    vocabulary: u32,
    /// Per order k: context → (occurrences, distinct followers); rebuilt on load.
    #[serde(skip)]
    contexts: Vec<HashMap<u128, (u32, u32)>>,
}

impl Ngrams {
    fn windows_of(n: usize, states: &[u32]) -> Vec<u32> {
        let mut p = Vec::with_capacity(states.len() + 2 * (n - 1));
        p.extend(std::iter::repeat_n(PAD_START, n - 1));
        p.extend_from_slice(states);
        p.extend(std::iter::repeat_n(PAD_END, n - 1));
        p
    }

    fn lm_sequence(n: usize, states: &[u32]) -> Vec<u32> {
        let mut p = Vec::with_capacity(states.len() + n);
        p.extend(std::iter::repeat_n(PAD_START, n - 1));
        p.extend_from_slice(states);
        p.push(PAD_END);
        p
    }

    /// Learns windows and next-state counts from `sessions`; `n` is 1 to 4 (checked with the
    /// training options).
    pub fn fit<'a>(n: usize, rare_share: f64, vocabulary: usize, sessions: impl Iterator<Item = &'a Featured>) -> Self {
        debug_assert!((1..=4).contains(&n), "n-gram length {n}");
        let mut grams: Vec<HashMap<u128, u32>> = vec![HashMap::default(); n + 1];
        let (mut windows, mut count) = (0u64, 0u64);
        let mut seen: Vec<u128> = Vec::new();
        for s in sessions {
            count += 1;
            let p = Self::windows_of(n, &s.states);
            seen.clear();
            seen.extend(p.windows(n).map(pack));
            windows += seen.len() as u64;
            seen.sort_unstable();
            seen.dedup();
            for w in &seen {
                *grams[0].entry(*w).or_default() += 1;
            }
            let q = Self::lm_sequence(n, &s.states);
            for i in n - 1..q.len() {
                for k in 1..=n {
                    *grams[k].entry(pack(&q[i + 1 - k..=i])).or_default() += 1;
                }
            }
        }
        let mut m = Ngrams { n, rare_share, grams, windows, sessions: count, vocabulary: vocabulary as u32, contexts: Vec::new() };
        m.rebuild();
        m
    }

    /// What is inconsistent in a loaded table, if anything.
    pub fn problem(&self) -> Option<String> {
        if !(1..=4).contains(&self.n) {
            return Some(format!("n-gram length {} (1 to 4)", self.n));
        }
        (self.grams.len() != self.n + 1).then(|| format!("{} n-gram tables for n = {}", self.grams.len(), self.n))
    }

    /// Derives the context table from the counts (after loading).
    pub fn rebuild(&mut self) {
        let mut contexts: Vec<HashMap<u128, (u32, u32)>> = vec![HashMap::default(); self.n + 1];
        for (k, (grams, ctx_k)) in self.grams.iter().zip(contexts.iter_mut()).enumerate().skip(1) {
            #[allow(clippy::iter_over_hash_type)] // sums: order does not matter
            for (&key, &c) in grams {
                let ctx = if k == 1 { 0 } else { key >> 32 };
                let e = ctx_k.entry(ctx).or_default();
                e.0 = e.0.saturating_add(c);
                e.1 += 1;
            }
        }
        self.contexts = contexts;
    }

    /// Distinct windows learned.
    pub fn distinct(&self) -> usize {
        self.grams.first().map_or(0, HashMap::len)
    }

    /// How often each state was seen in training (the next-state model's unigrams).
    pub fn unigrams(&self) -> Vec<(u32, u64)> {
        let Some(g) = self.grams.get(1) else { return Vec::new() };
        let mut v: Vec<(u32, u64)> =
            g.iter().map(|(&k, &c)| (k as u32, u64::from(c))).filter(|(id, _)| *id != PAD_START && *id != PAD_END).collect();
        v.sort_unstable();
        v
    }

    /// In how many training sessions a window was seen.
    pub fn count(&self, window: &[u32]) -> u32 {
        self.grams.first().and_then(|g| g.get(&pack(window))).copied().unwrap_or(0)
    }

    /// Marks the windows of a session that were never seen normal (an allowance).
    pub fn allow_session(&mut self, states: &[u32]) {
        let p = Self::windows_of(self.n, states);
        for w in p.windows(self.n) {
            if self.count(w) == 0 {
                self.allow(w);
            }
        }
    }

    /// Marks a window normal (an allowance).
    pub fn allow(&mut self, window: &[u32]) {
        if window.len() == self.n {
            *self.grams[0].entry(pack(window)).or_default() += 1;
        }
    }

    /// Witten-Bell interpolated probability of `next` after `context` (the last n-1 states).
    fn probability(&self, context: &[u32], next: u32) -> f64 {
        let mut p = 1.0 / (f64::from(self.vocabulary) + 2.0);
        for k in 1..=self.n {
            let ctx = pack(&context[context.len() + 1 - k..]);
            let Some(&(total, types)) = self.contexts[k].get(&ctx) else { continue };
            let c = self.grams[k].get(&((ctx << 32) | u128::from(next))).copied().unwrap_or(0);
            let lambda = f64::from(total) / (f64::from(total) + f64::from(types));
            p = lambda * f64::from(c) / f64::from(total) + (1.0 - lambda) * p;
        }
        p
    }

    /// stide / t-stide: Σ over the session's windows of their [`rarity`] (unseen 1, rare graded
    /// by how many training sessions held them). Returns the score and the findings.
    pub fn score_windows(&self, states: &[u32], findings: &mut Vec<Finding>) -> f64 {
        let n = self.n;
        let p = Self::windows_of(n, states);
        let mut score = 0.0;
        for (i, w) in p.windows(n).enumerate() {
            let at = i.saturating_sub(n - 1).min(states.len().saturating_sub(1));
            let c = self.count(w);
            let r = rarity(u64::from(c), self.sessions, self.rare_share);
            if r <= 0.0 {
                continue;
            }
            score += r;
            if c == 0 {
                findings.push(Finding::UnseenWindow { window: w.to_vec(), at });
            } else {
                findings.push(Finding::RareWindow { window: w.to_vec(), at, count: c, of: self.sessions });
            }
        }
        score
    }

    /// Next-state surprisal: the largest −ln P(state | previous n−1) in the session.
    pub fn score_transitions(&self, states: &[u32], findings: &mut Vec<Finding>) -> f64 {
        let n = self.n;
        let q = Self::lm_sequence(n, states);
        let mut worst = (0.0f64, 0usize, 1.0f64);
        for i in n - 1..q.len() {
            let pr = self.probability(&q[i + 1 - n..i], q[i]);
            let s = -pr.max(1e-300).ln();
            if s > worst.0 {
                worst = (s, i, pr);
            }
        }
        if worst.0 > 0.0 {
            let i = worst.1;
            findings.push(Finding::Transition {
                window: q[i + 1 - n..=i].to_vec(),
                at: (i + 1 - n).min(states.len().saturating_sub(1)),
                probability: worst.2,
            });
        }
        worst.0
    }
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
    pub fn fit<'a>(sessions: impl Iterator<Item = &'a Featured>) -> Self {
        let mut map: HashMap<(u32, u32), u32> = HashMap::default();
        let mut n = 0u64;
        for s in sessions {
            n += 1;
            for p in pairs_of(&s.states) {
                *map.entry(p).or_default() += 1;
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
    pub fn fit<'a>(sessions: impl Iterator<Item = &'a Featured>) -> Self {
        let mut fields: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for s in sessions {
            for (f, v) in &s.params {
                *fields.entry(f.clone()).or_default().entry(v.clone()).or_default() += 1;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ngrams_find_unseen_and_rare_windows_with_padding() {
        let mut rows: Vec<&[u32]> = vec![&[1, 2, 3]; 100_000];
        rows.push(&[1, 3, 2]);
        let s = sessions(&rows);
        let g = Ngrams::fit(3, 1e-4, 4, s.iter());
        let mut f = Vec::new();
        assert_eq!(g.score_windows(&[1, 2, 3], &mut f), 0.0);
        assert!(f.is_empty());
        // Every window of 1 3 2 was seen in 1 of 100,001 sessions: rare, by the graded weight.
        let score = g.score_windows(&[1, 3, 2], &mut f);
        assert!(f.iter().all(|x| matches!(x, Finding::RareWindow { count: 1, of: 100_001, .. })), "{f:?}");
        let once = rarity(1, 100_001, 1e-4);
        assert!((score - once * f.len() as f64).abs() < 1e-12 && once > 0.9 && once <= 1.0, "{once}");
        f.clear();
        // Ending after 2: [1 2 $] was never seen, [2 $ $] once (the session 1 3 2).
        assert!((g.score_windows(&[1, 2], &mut f) - (1.0 + once)).abs() < 1e-12, "{f:?}");
        assert_eq!(f[0], Finding::UnseenWindow { window: vec![1, 2, PAD_END], at: 0 });
        assert_eq!(f[1], Finding::RareWindow { window: vec![2, PAD_END, PAD_END], at: 1, count: 1, of: 100_001 });
        f.clear();
        let t = g.score_transitions(&[1, 2, 3], &mut f);
        let u = g.score_transitions(&[1, 3, 3], &mut f);
        assert!(t < 0.01 && u > 5.0, "{t} {u}");
    }

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
        let p = Pairs::fit(sessions(&rows).iter());
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
