//! Turning raw component scores into one session score, and the threshold, from training data
//! only.
//!
//! Every component's raw scores on held-out clean sessions (cross-fitted: each fold scored by a
//! model trained on the other folds) give its null distribution. A new raw score becomes a tail
//! probability: empirical below the distribution's 98th percentile, and beyond it an exponential
//! tail fitted to the excesses (peaks over threshold), so a score far beyond anything seen in
//! training is told apart from one just beyond it. Components that measure the same thing are
//! grouped (their smallest p, Bonferroni-corrected), and the groups are combined as in Fisher's
//! method: score = −Σ ln p. The threshold is the score that held-out clean sessions exceed with
//! probability `max_fpr`, again from a peaks-over-threshold fit, and never below −ln(max_fpr).

use serde::{Deserialize, Serialize};

use super::verdict::{Component, PerComponent};

/// The share of a distribution below the start of its fitted tail.
const TAIL_FROM: f64 = 0.98;
/// At most this many points of a distribution are kept.
const QUANTILES: usize = 1000;
/// Relative difference under which a value counts as equal to the top of a tail-less null.
const TIE: f64 = 0.01;
/// The smallest p-value used (keeps scores finite).
const P_FLOOR: f64 = 1e-300;
/// The p-value of an error state that no or few training sessions held: a session holding one
/// is anomalous whatever the threshold (see `Model::train` for why errors are not calibrated).
pub const ERROR_P: f64 = 1e-9;

/// A null distribution: quantiles and a fitted exponential tail.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tail {
    /// How many scores it was fitted on.
    pub n: u64,
    /// Evenly spaced quantiles, ascending.
    pub quantiles: Vec<f64>,
    /// Where the tail starts.
    pub u: f64,
    /// Mean excess over `u` (the exponential tail's scale); 0 when nothing exceeds `u`.
    pub beta: f64,
    /// Share of scores above `u`.
    pub zeta: f64,
}

impl Tail {
    /// Fits a distribution to `scores`.
    pub fn fit(scores: &[f64]) -> Self {
        let mut s: Vec<f64> = scores.iter().copied().filter(|x| x.is_finite()).collect();
        if s.is_empty() {
            return Tail::default();
        }
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let u = s[((TAIL_FROM * n as f64) as usize).min(n - 1)];
        let excess: Vec<f64> = s.iter().filter(|&&x| x > u).map(|x| x - u).collect();
        let zeta = excess.len() as f64 / n as f64;
        let beta = if excess.is_empty() { 0.0 } else { excess.iter().sum::<f64>() / excess.len() as f64 };
        let quantiles = if n <= QUANTILES { s.clone() } else { (0..QUANTILES).map(|i| s[(i * (n - 1)) / (QUANTILES - 1)]).collect() };
        Tail { n: n as u64, quantiles, u, beta, zeta }
    }

    /// The probability that a clean session scores at least `v`.
    pub fn p(&self, v: f64) -> f64 {
        if self.n == 0 {
            return 1.0;
        }
        let n = self.n as f64;
        if v > self.u {
            if self.zeta > 0.0 && self.beta > 0.0 {
                return (self.zeta * (-(v - self.u) / self.beta).exp()).clamp(P_FLOOR, 1.0);
            }
            // No tail to fit: every held-out score at or below `u`. A value a hair above it (a
            // mean surprisal estimated on all the data rather than on four folds of it) is `u`;
            // clearly above it, it is beyond anything held out.
            if v > self.u + TIE * (self.u.abs() + 1e-6) {
                return 1.0 / (n + 1.0);
            }
            return self.p(self.u);
        }
        let q = &self.quantiles;
        let below = q.partition_point(|&x| x < v);
        let share_ge = (q.len() - below) as f64 / q.len() as f64;
        ((1.0 + share_ge * n) / (n + 1.0)).min(1.0)
    }

    /// The score exceeded with probability `alpha`.
    pub fn quantile_above(&self, alpha: f64) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        if self.zeta > alpha && self.beta > 0.0 {
            return self.u + self.beta * (self.zeta / alpha).ln();
        }
        let q = &self.quantiles;
        let idx = (((1.0 - alpha) * q.len() as f64) as usize).min(q.len() - 1);
        q[idx].max(self.u)
    }
}

/// The calibrated combination.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// One null distribution per component.
    pub components: PerComponent<Tail>,
    /// The null distribution of the combined score.
    pub combined: Tail,
    /// The target false-positive rate.
    pub max_fpr: f64,
    /// Sessions above it are anomalous.
    pub threshold: f64,
    /// Held-out clean sessions scored (cross-fitted).
    pub held_out: u64,
    /// Held-out clean sessions above the threshold.
    pub held_out_above: u64,
}

impl Calibration {
    /// Fits the calibration to held-out raw component scores.
    pub fn fit(raw: &[PerComponent<f64>], max_fpr: f64) -> Self {
        let components = PerComponent::from_fn(|c| Tail::fit(&raw.iter().map(|r| r[c]).collect::<Vec<_>>()));
        let mut cal = Calibration { components, max_fpr, held_out: raw.len() as u64, ..Calibration::default() };
        let combined: Vec<f64> = raw.iter().map(|r| cal.combine(r).0).collect();
        cal.combined = Tail::fit(&combined);
        cal.threshold = cal.combined.quantile_above(max_fpr).max(-max_fpr.ln());
        cal.held_out_above = combined.iter().filter(|&&s| s > cal.threshold).count() as u64;
        cal
    }

    /// The combined score and each component's p-value.
    pub fn combine(&self, raw: &PerComponent<f64>) -> (f64, PerComponent<f64>) {
        let p = PerComponent::from_fn(|c| match c {
            // Errors are evidence by rule, not by how often held-out sessions held them.
            Component::Errors if raw[c] > 0.0 => ERROR_P,
            Component::Errors => 1.0,
            _ => self.components[c].p(raw[c]),
        });
        let terms = Component::GROUPS.iter().map(|g| {
            let min = g.iter().map(|&c| p[c]).fold(1.0, f64::min);
            -(min * g.len() as f64).clamp(P_FLOOR, 1.0).ln()
        });
        let score = terms.sum();
        (score, p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_p_values_are_empirical_inside_and_decay_beyond() {
        let scores: Vec<f64> = (0..1000).map(|i| f64::from(i) / 100.0).collect();
        let t = Tail::fit(&scores);
        assert!((t.p(0.0) - 1.0).abs() < 1e-9);
        assert!((t.p(5.0) - 0.5).abs() < 0.01, "{}", t.p(5.0));
        assert!(t.p(10.0) < t.p(9.9));
        assert!(t.p(20.0) < 1e-10);
        assert!(t.quantile_above(0.001) > 9.8);
    }

    #[test]
    fn a_degenerate_distribution_gives_the_rank_bound() {
        let t = Tail::fit(&[0.0; 99]);
        assert_eq!(t.p(0.0), 1.0);
        assert!((t.p(3.0) - 0.01).abs() < 1e-12);
        // A value a hair above a tail-less null's top is that top; clearly above, beyond it.
        let t = Tail::fit(&[0.138; 99]);
        assert_eq!(t.p(0.1383), 1.0);
        assert!((t.p(0.15) - 0.01).abs() < 1e-12);
        let cal = Calibration::fit(&[PerComponent([0.0; Component::COUNT]); 50], 0.001);
        assert!((cal.threshold - -(0.001f64).ln()).abs() < 1e-9);
        assert_eq!(cal.held_out_above, 0);
    }
}
