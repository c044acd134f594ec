//! [`Ngrams`]: stide / t-stide windows of `n` states and a Witten-Bell interpolated next-state
//! model, keyed exactly for up to four states and by fingerprint beyond (system-call windows of 6
//! to 10).

use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};

use super::{rarity, Featured, Finding, Weighted};
use crate::session::{PAD_END, PAD_START};

/// The longest window.
pub const MAX_N: usize = 10;

fn pack(ids: &[u32]) -> u128 {
    ids.iter().fold(0u128, |k, &id| (k << 32) | u128::from(id))
}

/// The key of a window or k-gram: exact for up to 4 states (32 bits each); beyond, a 96-bit
/// fingerprint of all but the last state, then the last, so that `key >> 32` is the key of the
/// context in both cases.
fn key(ids: &[u32]) -> u128 {
    match ids.split_last() {
        Some((last, ctx)) if ids.len() > 4 => (context_key(ctx) << 32) | u128::from(*last),
        _ => pack(ids),
    }
}

/// The key of a context: exact for up to 3 states, else a 96-bit fingerprint (two independent
/// 64-bit mixes; a collision among the contexts of one length has a probability near 2^-96 per
/// pair).
fn context_key(ids: &[u32]) -> u128 {
    if ids.len() <= 3 {
        return pack(ids);
    }
    let mix = |mut z: u64| {
        // splitmix64's finaliser.
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let (mut a, mut b) = (0x9e37_79b9_7f4a_7c15u64 ^ ids.len() as u64, 0xc2b2_ae3d_27d4_eb4fu64 ^ ids.len() as u64);
    for &id in ids {
        a = mix(a ^ u64::from(id));
        b = mix(b.wrapping_add(u64::from(id)).rotate_left(17));
    }
    ((u128::from(a) << 32) ^ u128::from(b)) & ((1u128 << 96) - 1)
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

/// Windows of `n` states (stide / t-stide) and next-state probabilities. For pure sequences
/// (`sequences`: system calls, event ids, no log text), a session's windows count by their share
/// of its windows and its transitions by their mean surprisal, as in the system-call literature;
/// for logs, by their sum and the least likely one.
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
    /// Pure sequences: windows by their share, transitions by their mean (see the type's docs).
    #[serde(default)]
    pub sequences: bool,
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
    pub fn fit<'a>(n: usize, rare_share: f64, sequences: bool, vocabulary: usize, sessions: impl Iterator<Item = Weighted<'a>>) -> Self {
        debug_assert!((1..=MAX_N).contains(&n), "n-gram length {n}");
        let mut grams: Vec<HashMap<u128, u32>> = vec![HashMap::default(); n + 1];
        let (mut windows, mut count) = (0u64, 0u64);
        let mut seen: Vec<u128> = Vec::new();
        let add = |e: &mut u32, c: u32| *e = e.saturating_add(c);
        for (s, c) in sessions {
            count += c;
            let w = u32::try_from(c).unwrap_or(u32::MAX);
            let p = Self::windows_of(n, &s.states);
            seen.clear();
            seen.extend(p.windows(n).map(key));
            windows += seen.len() as u64 * c;
            seen.sort_unstable();
            seen.dedup();
            for k in &seen {
                add(grams[0].entry(*k).or_default(), w);
            }
            let q = Self::lm_sequence(n, &s.states);
            for i in n - 1..q.len() {
                for k in 1..=n {
                    add(grams[k].entry(key(&q[i + 1 - k..=i])).or_default(), w);
                }
            }
        }
        let mut m =
            Ngrams { n, rare_share, grams, windows, sessions: count, sequences, vocabulary: vocabulary as u32, contexts: Vec::new() };
        m.rebuild();
        m
    }

    /// What is inconsistent in a loaded table, if anything.
    pub fn problem(&self) -> Option<String> {
        if !(1..=MAX_N).contains(&self.n) {
            return Some(format!("n-gram length {} (1 to {MAX_N})", self.n));
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
        self.grams.first().and_then(|g| g.get(&key(window))).copied().unwrap_or(0)
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
            *self.grams[0].entry(key(window)).or_default() += 1;
        }
    }

    /// Witten-Bell interpolated probability of `next` after `context` (the last n-1 states).
    fn probability(&self, context: &[u32], next: u32) -> f64 {
        let mut p = 1.0 / (f64::from(self.vocabulary) + 2.0);
        for k in 1..=self.n {
            let ctx = context_key(&context[context.len() + 1 - k..]);
            let Some(&(total, types)) = self.contexts[k].get(&ctx) else { continue };
            let c = self.grams[k].get(&((ctx << 32) | u128::from(next))).copied().unwrap_or(0);
            let lambda = f64::from(total) / (f64::from(total) + f64::from(types));
            p = lambda * f64::from(c) / f64::from(total) + (1.0 - lambda) * p;
        }
        p
    }

    /// stide / t-stide: Σ over the session's windows of their [`rarity`] (unseen 1, rare graded
    /// by how many training sessions held them); for pure sequences, their mean. Returns the
    /// score and the findings.
    pub fn score_windows(&self, states: &[u32], findings: &mut Vec<Finding>) -> f64 {
        let n = self.n;
        let p = Self::windows_of(n, states);
        let mut score = 0.0;
        let total = p.len().saturating_sub(n - 1).max(1);
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
        if self.sequences {
            score / total as f64
        } else {
            score
        }
    }

    /// Next-state surprisal: the largest −ln P(state | previous n−1) in the session; for pure
    /// sequences, the mean. The finding is the least likely transition either way.
    pub fn score_transitions(&self, states: &[u32], findings: &mut Vec<Finding>) -> f64 {
        let n = self.n;
        let q = Self::lm_sequence(n, states);
        let mut worst = (0.0f64, 0usize, 1.0f64);
        let mut sum = 0.0;
        for i in n - 1..q.len() {
            let pr = self.probability(&q[i + 1 - n..i], q[i]);
            let s = -pr.max(1e-300).ln();
            sum += s;
            if s > worst.0 {
                worst = (s, i, pr);
            }
        }
        let mean = sum / (q.len() + 1 - n).max(1) as f64;
        if worst.0 > 0.0 {
            let i = worst.1;
            findings.push(Finding::Transition {
                window: q[i + 1 - n..=i].to_vec(),
                at: (i + 1 - n).min(states.len().saturating_sub(1)),
                probability: worst.2,
            });
        }
        if self.sequences {
            mean
        } else {
            worst.0
        }
    }

    /// The mean log-likelihood per transition of `held` under a model fitted on `train`: how
    /// well windows of `n` states predict unseen sessions (for choosing `n`).
    pub fn held_out_likelihood(n: usize, train: &[&Featured], held: &[&Featured], vocabulary: usize) -> f64 {
        let m = Ngrams::fit(n, 0.0, true, vocabulary, train.iter().map(|s| (*s, 1)));
        let (mut sum, mut count) = (0.0, 0u64);
        for s in held {
            let q = Self::lm_sequence(n, &s.states);
            for i in n - 1..q.len() {
                sum += m.probability(&q[i + 1 - n..i], q[i]).max(1e-300).ln();
                count += 1;
            }
        }
        sum / count.max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::super::{once, sessions};
    use super::*;

    #[test]
    fn ngrams_find_unseen_and_rare_windows_with_padding() {
        let mut rows: Vec<&[u32]> = vec![&[1, 2, 3]; 100_000];
        rows.push(&[1, 3, 2]);
        let s = sessions(&rows);
        let g = Ngrams::fit(3, 1e-4, false, 4, once(&s));
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
    fn long_windows_are_keyed_apart_and_their_contexts_agree() {
        let a: Vec<u32> = (0..10).collect();
        let mut b = a.clone();
        b[3] = 99;
        assert_ne!(key(&a), key(&b));
        assert_eq!(key(&a[..7]) >> 32, context_key(&a[..6]));
        assert_eq!(key(&a[..4]), pack(&a[..4]));
        assert_eq!(key(&a[..4]) >> 32, context_key(&a[..3]));
        let rows: Vec<&[u32]> = vec![&[1, 2, 3, 4, 5, 6, 7, 8]; 50];
        let g = Ngrams::fit(6, 1e-3, false, 9, once(&sessions(&rows)));
        let mut f = Vec::new();
        assert_eq!(g.score_windows(&[1, 2, 3, 4, 5, 6, 7, 8], &mut f), 0.0);
        assert!(g.score_windows(&[1, 2, 3, 9, 5, 6, 7, 8], &mut f) >= 6.0, "{f:?}");
        assert!(g.score_transitions(&[1, 2, 3, 4, 5, 6, 7, 8], &mut f) < 0.1);
    }
}
