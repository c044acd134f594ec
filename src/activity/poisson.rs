//! How improbable a count is: a Poisson count at the clean period's busiest rate, and the levels
//! a finding is held to.

/// A count is improbable when a Poisson count with the baseline's busiest rate reaches it with
/// less than this chance (and it is at least twice that rate: real activity is burstier than
/// Poisson).
pub const RATE_LEVEL: f64 = 0.001;

/// A value new to its context is reported when the clean period shows less than this chance of a
/// new value in that context (Good–Turing).
pub const NOVELTY_LEVEL: f64 = 0.1;

/// ln(k!) (exact up to 20, Stirling's series beyond).
fn ln_factorial(k: u64) -> f64 {
    if k <= 20 {
        return (2..=k).map(|i| (i as f64).ln()).sum();
    }
    let x = k as f64;
    x * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI * x).ln() + 1.0 / (12.0 * x)
}

/// P(X ≥ c) for X ~ Poisson(λ), for c above λ.
pub fn poisson_tail(c: u64, lambda: f64) -> f64 {
    let ln_pmf = |k: u64| -lambda + k as f64 * lambda.ln() - ln_factorial(k);
    let mut total = 0.0;
    let mut k = c;
    loop {
        let t = ln_pmf(k).exp();
        total += t;
        if t < total * 1e-12 || k > c + 10_000 {
            break;
        }
        k += 1;
    }
    total.min(1.0)
}

/// The least count that is improbable under a learned busiest rate.
pub fn limit(busiest: u64) -> u64 {
    let mut c = 2 * busiest.max(1);
    while improbable(c, busiest).is_none() {
        c += 1;
    }
    c
}

/// The chance of `count` under a learned busiest rate, when it is at least twice the rate.
pub(super) fn improbable(count: u64, busiest: u64) -> Option<f64> {
    let lambda = busiest.max(1) as f64;
    if (count as f64) < 2.0 * lambda {
        return None;
    }
    let p = poisson_tail(count, lambda);
    (p < RATE_LEVEL).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_tails_match_known_values() {
        // P(X >= 3; 1) = 1 - e^-1 (1 + 1 + 1/2) = 0.0803
        assert!((poisson_tail(3, 1.0) - 0.080_301).abs() < 1e-5);
        assert!(poisson_tail(200, 9.0) < 1e-100);
        assert!(improbable(5, 0).is_none() && improbable(6, 0).is_some(), "with no failures in training, 6 in a bucket are improbable");
        assert!(improbable(17, 9).is_none() && improbable(21, 9).is_some());
    }
}
