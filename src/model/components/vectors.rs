//! [`Vectors`]: per-session state-count vectors with tf-idf weights, the PCA residual (SPE) and
//! the distance to the nearest training session ([`Neighbours`]), after Liao & Vemuri.

use linfa_linalg::eigh::EighInto;
use linfa_nn::distance::L2Dist;
use linfa_nn::{CommonNearestNeighbour, NearestNeighbour, NearestNeighbourIndex};
use ndarray::{Array2, ArrayView1};
use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};

use super::{every_nth, Weighted};

/// At most this many states get their own dimension in count vectors; the rest share one.
const MAX_DIMS: usize = 256;
/// At most this many distinct training vectors are kept for the nearest-neighbour search.
const MAX_NEIGHBOURS: usize = 5000;
/// At most this many training vectors are used to fit the PCA.
const MAX_PCA_ROWS: usize = 20_000;
/// The PCA keeps the components that explain this share of the variance.
const PCA_VARIANCE: f64 = 0.95;
/// ... and at most this many.
const MAX_COMPONENTS: usize = 32;

/// The PCA's mean and principal axes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Subspace {
    mean: Vec<f64>,
    /// k rows of `dims` values.
    axes: Vec<f64>,
    /// Components kept.
    pub k: usize,
}

/// Per-session state-count vectors: tf-idf weighting, PCA residual and nearest-neighbour distance.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Vectors {
    /// State id of each dimension (the last dimension, beyond these, is "any other state").
    pub dims: Vec<u32>,
    idf: Vec<f64>,
    /// Distinct training vectors (row-major).
    neighbours: Vec<f64>,
    /// Rows in `neighbours`.
    pub rows: usize,
    /// How many training sessions each neighbour row stands for.
    pub counts: Vec<u64>,
    /// The PCA, when it could be fitted.
    pub pca: Option<Subspace>,
    /// Which states occur, not how often nor how rare: for pure sequences whose sessions hold
    /// varied sets of states (which system calls a program makes tells it apart best); Liao &
    /// Vemuri's tf-idf otherwise (see `Model::train`).
    #[serde(default)]
    pub binary: bool,
    #[serde(skip)]
    index: HashMap<u32, usize>,
}

impl Vectors {
    /// Learns the dimensions, weights, PCA and neighbour set; `binary` for presence vectors.
    pub fn fit(sessions: &[Weighted<'_>], binary: bool) -> Self {
        let mut df: HashMap<u32, u64> = HashMap::default();
        for (s, c) in sessions {
            let mut d = s.states.clone();
            d.sort_unstable();
            d.dedup();
            for x in d {
                *df.entry(x).or_default() += c;
            }
        }
        let total: u64 = sessions.iter().map(|s| s.1).sum();
        let mut by_df: Vec<(u32, u64)> = df.iter().map(|(k, v)| (*k, *v)).collect();
        by_df.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        by_df.truncate(MAX_DIMS);
        let n = total as f64;
        let idf_of = |d: f64| ((1.0 + n) / (1.0 + d)).ln() + 1.0;
        let mut dims: Vec<u32> = by_df.iter().map(|x| x.0).collect();
        dims.sort_unstable();
        let mut idf: Vec<f64> = dims.iter().map(|d| idf_of(df[d] as f64)).collect();
        idf.push(idf_of(0.0));
        let mut v = Vectors { dims, idf, binary, ..Vectors::default() };
        v.rebuild();
        let width = v.width();
        // Distinct vectors, most common first, for the neighbour search. They are told apart by
        // their sparse form (a session has few distinct states), so memory stays proportional to
        // the events, not to sessions × dimensions.
        let mut distinct: HashMap<Vec<(u32, u64)>, (u64, usize)> = HashMap::default();
        for (i, (s, c)) in sessions.iter().enumerate() {
            distinct.entry(sparse_key(&v.vector(&s.states))).or_insert((0, i)).0 += c;
        }
        let mut rows: Vec<(u64, usize)> = distinct.into_values().collect();
        rows.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        rows.truncate(MAX_NEIGHBOURS);
        rows.sort_unstable_by_key(|r| r.1);
        v.rows = rows.len();
        v.counts = rows.iter().map(|r| r.0).collect();
        v.neighbours = rows.iter().flat_map(|r| v.vector(&sessions[r.1].0.states)).collect();
        // PCA on (a stride sample of) all training vectors.
        let stride = total.div_ceil(MAX_PCA_ROWS as u64).max(1);
        let sample: Vec<f64> = every_nth(sessions, stride).into_iter().flat_map(|s| v.vector(&s.states)).collect();
        v.pca = fit_pca(sample, width);
        v
    }

    /// What is inconsistent in loaded vectors, if anything.
    pub fn problem(&self) -> Option<String> {
        let w = self.width();
        if self.idf.len() != w {
            return Some(format!("{} weights for {w} dimensions", self.idf.len()));
        }
        if self.neighbours.len() != self.rows * w {
            return Some(format!("{} neighbour values for {} rows of {w}", self.neighbours.len(), self.rows));
        }
        match &self.pca {
            Some(p) if p.mean.len() != w || p.axes.len() != p.k * w => Some(format!("PCA of {} axes does not fit {w} dimensions", p.k)),
            _ => None,
        }
    }

    /// Rebuilds the dimension index (after loading).
    pub fn rebuild(&mut self) {
        self.index = self.dims.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    }

    /// Vector length (dimensions plus the "other" one).
    pub fn width(&self) -> usize {
        self.dims.len() + 1
    }

    /// The unit-length tf-idf vector of a session.
    pub fn vector(&self, states: &[u32]) -> Vec<f64> {
        let w = self.width();
        let mut counts = vec![0u32; w];
        for s in states {
            let i = self.index.get(s).copied().unwrap_or(w - 1);
            counts[i] += 1;
        }
        let mut x: Vec<f64> = counts
            .iter()
            .zip(&self.idf)
            .map(|(&c, &idf)| match c {
                0 => 0.0,
                _ if self.binary => 1.0,
                _ => (1.0 + f64::from(c).ln()) * idf,
            })
            .collect();
        let norm = x.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm > 0.0 {
            x.iter_mut().for_each(|a| *a /= norm);
        }
        x
    }

    /// The squared prediction error: the part of the vector outside the PCA subspace.
    pub fn spe(&self, x: &[f64]) -> f64 {
        let Some(p) = &self.pca else { return 0.0 };
        let d = x.len();
        let r: Vec<f64> = x.iter().zip(&p.mean).map(|(a, m)| a - m).collect();
        let mut resid = r.clone();
        for k in 0..p.k {
            let axis = &p.axes[k * d..(k + 1) * d];
            let proj: f64 = axis.iter().zip(&r).map(|(a, b)| a * b).sum();
            resid.iter_mut().zip(axis).for_each(|(e, a)| *e -= proj * a);
        }
        resid.iter().map(|e| e * e).sum()
    }

    /// The training vectors as a matrix, for the neighbour index.
    pub fn neighbour_matrix(&self) -> Array2<f64> {
        Array2::from_shape_vec((self.rows, self.width()), self.neighbours.clone()).unwrap_or_else(|_| Array2::zeros((0, self.width())))
    }
}

/// PCA by the eigendecomposition of the covariance matrix (linfa-linalg's symmetric solver:
/// exact and deterministic; linfa-reduction's truncated SVD (LOBPCG) panicked with NaN on
/// rank-deficient data such as repeated sessions).
fn fit_pca(flat: Vec<f64>, width: usize) -> Option<Subspace> {
    let n = flat.len() / width.max(1);
    if n < 3 || width < 2 {
        return None;
    }
    let mut centred = Array2::from_shape_vec((n, width), flat).ok()?;
    let mean = centred.mean_axis(ndarray::Axis(0))?;
    centred -= &mean;
    let cov = centred.t().dot(&centred) / (n as f64 - 1.0);
    let (values, vectors) = cov.eigh_into().ok()?;
    if values.iter().chain(vectors.iter()).any(|v| !v.is_finite()) {
        return None;
    }
    let total: f64 = values.iter().filter(|&&v| v > 0.0).sum();
    if total <= 1e-12 {
        return None;
    }
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    let (mut explained, mut axes, mut k) = (0.0, Vec::new(), 0);
    for &i in order.iter().take(MAX_COMPONENTS) {
        if explained / total >= PCA_VARIANCE || values[i] <= 0.0 {
            break;
        }
        explained += values[i];
        axes.extend(vectors.column(i).iter().copied());
        k += 1;
    }
    (k > 0).then(|| Subspace { mean: mean.to_vec(), axes, k })
}

/// The nonzero entries of a vector, as exact bits: equal keys, equal vectors.
pub fn sparse_key(x: &[f64]) -> Vec<(u32, u64)> {
    x.iter().enumerate().filter(|(_, v)| **v != 0.0).map(|(i, v)| (i as u32, v.to_bits())).collect()
}

/// Distances remembered per distinct vector before the memo starts afresh.
const MEMO: usize = 1 << 16;

/// A nearest-neighbour index over a model's training vectors (linfa-nn), with a bounded memo:
/// sessions repeat, and the search is the costliest part of scoring.
pub struct Neighbours<'a> {
    index: Option<Box<dyn NearestNeighbourIndex<f64> + Send + Sync + 'a>>,
    memo: std::cell::RefCell<HashMap<Vec<(u32, u64)>, f64>>,
    counts: Vec<u64>,
    k: u64,
}

impl<'a> Neighbours<'a> {
    /// Builds the index over `matrix`.
    pub fn new(matrix: &'a Array2<f64>) -> Self {
        let index = if matrix.nrows() == 0 { None } else { CommonNearestNeighbour::LinearSearch.from_batch(matrix, L2Dist).ok() };
        Neighbours { index, memo: std::cell::RefCell::default(), counts: Vec::new(), k: 1 }
    }

    /// The distance at which `k` training sessions lie, `counts` saying how many each row
    /// stands for: a vector that a handful of (perhaps anomalous) training sessions share is
    /// not vouched for by them alone.
    pub fn with_counts(mut self, counts: &[u64], k: u64) -> Self {
        self.counts = counts.to_vec();
        self.k = k.max(1);
        self
    }

    /// Distance to the nearest training vector, or to the k-th nearest training session with
    /// [`Neighbours::with_counts`] (√2, the largest between unit vectors, when there is none).
    pub fn distance(&self, x: &[f64]) -> f64 {
        let key = sparse_key(x);
        if let Some(&d) = self.memo.borrow().get(&key) {
            return d;
        }
        let d = self.search(x);
        let mut memo = self.memo.borrow_mut();
        if memo.len() >= MEMO {
            memo.clear();
        }
        memo.insert(key, d);
        d
    }

    fn search(&self, x: &[f64]) -> f64 {
        let Some(index) = &self.index else { return std::f64::consts::SQRT_2 };
        let point: ArrayView1<'_, f64> = ArrayView1::from(x);
        if self.k <= 1 || self.counts.is_empty() {
            return match index.k_nearest(point, 1) {
                Ok(found) => found.first().map(|(p, _)| p.iter().zip(x).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt()).unwrap_or(0.0),
                Err(_) => std::f64::consts::SQRT_2,
            };
        }
        let want = (self.k as usize).min(self.counts.len());
        match index.k_nearest(point, want) {
            Ok(found) => {
                let mut seen = 0u64;
                let mut last = std::f64::consts::SQRT_2;
                for (p, i) in found {
                    last = p.iter().zip(x).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
                    seen += self.counts.get(i).copied().unwrap_or(1);
                    if seen >= self.k {
                        break;
                    }
                }
                last
            }
            Err(_) => std::f64::consts::SQRT_2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::sessions;
    use super::*;

    #[test]
    fn pca_on_repeated_sessions_neither_panics_nor_flags_them() {
        // Rank-deficient data (a few distinct sessions, each repeated): the truncated SVD that
        // linfa-reduction uses panicked here with NaN.
        let mut rows: Vec<&[u32]> = Vec::new();
        for i in 0..3000 {
            rows.push(match i % 3 {
                0 => &[0, 1, 2, 3],
                1 => &[0, 1, 1, 2, 3],
                _ => &[0, 4, 3],
            });
        }
        let s = sessions(&rows);
        let refs: Vec<Weighted<'_>> = s.iter().map(|s| (s, 1)).collect();
        let v = Vectors::fit(&refs, false);
        assert_eq!(v.rows, 3);
        let pca = v.pca.as_ref().expect("a subspace");
        assert!(pca.k >= 1 && pca.k <= 3, "{}", pca.k);
        let novel = v.spe(&v.vector(&[0, 5, 5, 3]));
        for r in &rows[..3] {
            assert!(v.spe(&v.vector(r)) < novel / 10.0, "{} vs {novel}", v.spe(&v.vector(r)));
        }
        let m = v.neighbour_matrix();
        let nn = Neighbours::new(&m);
        assert!(nn.distance(&v.vector(&[0, 1, 2, 3])) < 1e-12);
        assert!(nn.distance(&v.vector(&[9, 9])) > 1.0);
    }
}
