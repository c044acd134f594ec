//! The model's components, each learned from clean sessions and each giving a raw score (higher
//! is stranger) and the findings behind it:
//!
//! - [`Ngrams`]: stide / t-stide windows of `n` states with start/end padding (unseen and rare
//!   windows), and next-state probabilities (Witten-Bell interpolated n-gram model);
//! - [`Pairs`]: which states occur together in one session (an unseen state, or two known
//!   states never seen in the same session);
//! - [`Values`]: per-field value sets with frequencies for the parameter fields;
//! - [`Vectors`] (in `vectors.rs`): per-session state-count vectors (tf-idf), a PCA residual
//!   (SPE) (linfa-linalg) and the distance to the nearest training session (linfa-nn), after Liao
//!   & Vemuri.

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use serde::{Deserialize, Serialize};

use crate::session::{PAD_END, PAD_START};

mod vectors;
pub use vectors::{sparse_key, Neighbours, Subspace, Vectors};

/// What the components learn from: a session's states and parameter values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Featured {
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
    /// A window seen, but rarely.
    RareWindow {
        /// The window (padding included).
        window: Vec<u32>,
        /// Index into the session's states.
        at: usize,
        /// How often it was seen in training.
        count: u32,
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
    /// A window seen in less than this share of all training windows is rare.
    pub rare_share: f64,
    /// `[0]`: padded windows of length n → count; `[k]` for k in 1..=n: k-grams of the
    /// next-state model → count.
    #[serde(with = "sorted_maps")]
    grams: Vec<HashMap<u128, u32>>,
    /// Training windows in all.
    pub windows: u64,
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
        let mut windows = 0u64;
        for s in sessions {
            let p = Self::windows_of(n, &s.states);
            for w in p.windows(n) {
                *grams[0].entry(pack(w)).or_default() += 1;
                windows += 1;
            }
            let q = Self::lm_sequence(n, &s.states);
            for i in n - 1..q.len() {
                for k in 1..=n {
                    *grams[k].entry(pack(&q[i + 1 - k..=i])).or_default() += 1;
                }
            }
        }
        let mut m = Ngrams { n, rare_share, grams, windows, vocabulary: vocabulary as u32, contexts: Vec::new() };
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

    /// How often a window was seen.
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

    /// stide / t-stide: unseen windows count 1, rare ones ¼. Returns the score and the findings.
    pub fn score_windows(&self, states: &[u32], findings: &mut Vec<Finding>) -> f64 {
        let n = self.n;
        let p = Self::windows_of(n, states);
        let rare_below = self.rare_share * self.windows as f64;
        let mut score = 0.0;
        for (i, w) in p.windows(n).enumerate() {
            let at = i.saturating_sub(n - 1).min(states.len().saturating_sub(1));
            let c = self.count(w);
            if c == 0 {
                score += 1.0;
                findings.push(Finding::UnseenWindow { window: w.to_vec(), at });
            } else if f64::from(c) < rare_below {
                score += 0.25;
                findings.push(Finding::RareWindow { window: w.to_vec(), at, count: c });
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

/// Which states occur together in one session.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Pairs {
    /// Sorted (a, b), a ≤ b, of states seen in one session; (a, a) means a was seen.
    pairs: Vec<(u32, u32)>,
    #[serde(skip)]
    set: HashSet<(u32, u32)>,
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
        let mut set = HashSet::default();
        for s in sessions {
            set.extend(pairs_of(&s.states));
        }
        let mut pairs: Vec<(u32, u32)> = set.iter().copied().collect();
        pairs.sort_unstable();
        Pairs { pairs, set }
    }

    /// Rebuilds the lookup set (after loading).
    pub fn rebuild(&mut self) {
        self.set = self.pairs.iter().copied().collect();
    }

    /// Pairs known.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Marks the states of a session as seen together (an allowance).
    pub fn allow(&mut self, states: &[u32]) {
        for p in pairs_of(states) {
            if self.set.insert(p) {
                self.pairs.push(p);
            }
        }
        self.pairs.sort_unstable();
    }

    /// Unseen states plus pairs of known states never seen together.
    pub fn score(&self, states: &[u32], findings: &mut Vec<Finding>) -> f64 {
        let d = distinct_states(states);
        let known: Vec<u32> = d.iter().copied().filter(|&s| self.set.contains(&(s, s))).collect();
        let mut score = 0.0;
        for &s in &d {
            if !self.set.contains(&(s, s)) {
                score += 1.0;
                let at = states.iter().position(|&x| x == s).unwrap_or(0);
                findings.push(Finding::UnseenState { state: s, at });
            }
        }
        for (i, &a) in known.iter().enumerate() {
            for &b in &known[i + 1..] {
                if !self.set.contains(&(a, b)) {
                    score += 1.0;
                    findings.push(Finding::UnseenPair { states: (a, b) });
                }
            }
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
    rows.iter().map(|s| Featured { states: s.to_vec(), params: Vec::new() }).collect()
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
        // Every window of 1 3 2 was seen once in 500,005 windows: rare.
        let score = g.score_windows(&[1, 3, 2], &mut f);
        assert!(f.iter().all(|x| matches!(x, Finding::RareWindow { count: 1, .. })), "{f:?}");
        assert!((score - 0.25 * f.len() as f64).abs() < 1e-12);
        f.clear();
        // Ending after 2: [1 2 $] was never seen, [2 $ $] once (the session 1 3 2).
        assert_eq!(g.score_windows(&[1, 2], &mut f), 1.25, "{f:?}");
        assert_eq!(f[0], Finding::UnseenWindow { window: vec![1, 2, PAD_END], at: 0 });
        assert_eq!(f[1], Finding::RareWindow { window: vec![2, PAD_END, PAD_END], at: 1, count: 1 });
        f.clear();
        let t = g.score_transitions(&[1, 2, 3], &mut f);
        let u = g.score_transitions(&[1, 3, 3], &mut f);
        assert!(t < 0.01 && u > 5.0, "{t} {u}");
    }
}
