//! Resampling schemes for particle populations (as BlackJAX's `smc/resampling.py`): each returns N
//! ancestor indices drawn so that particle j is copied N·w_j times in expectation. Systematic
//! resampling (the default) has the lowest variance of the four.

use rand::Rng;

/// How ancestors are drawn from normalised weights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Resampling {
    /// One uniform u; positions (k + u)/N on the weights' cumulative sum.
    #[default]
    Systematic,
    /// An independent uniform in each stratum [k/N, (k+1)/N).
    Stratified,
    /// N independent draws from the weights (sorted uniforms from normalised cumulative exponentials).
    Multinomial,
    /// ⌊N·w_j⌋ deterministic copies, the remainder multinomial on the residual weights.
    Residual,
}

/// Indices `k` with `cdf[k−1] ≤ u < cdf[k]` for sorted `us` (one pass, as `searchsorted`).
fn search_sorted(cdf: &[f64], us: impl Iterator<Item = f64>, out: &mut Vec<usize>) {
    let last = cdf.len() - 1;
    let mut k = 0;
    for u in us {
        while k < last && cdf[k] <= u {
            k += 1;
        }
        out.push(k);
    }
}

fn cumsum(w: &[f64]) -> Vec<f64> {
    let total: f64 = w.iter().sum();
    let mut acc = 0.0;
    w.iter()
        .map(|x| {
            acc += x / total;
            acc
        })
        .collect()
}

/// `n` sorted uniforms on [0, 1): normalised cumulative sums of n + 1 exponentials.
fn sorted_uniforms<R: Rng>(rng: &mut R, n: usize) -> Vec<f64> {
    let e: Vec<f64> = (0..=n).map(|_| -(1.0 - rng.gen::<f64>()).ln()).collect();
    let total: f64 = e.iter().sum();
    let mut acc = 0.0;
    e[..n]
        .iter()
        .map(|x| {
            acc += x;
            acc / total
        })
        .collect()
}

impl Resampling {
    /// `n` ancestor indices for the normalised (or unnormalised, non-negative) weights `w`.
    pub fn ancestors<R: Rng>(self, rng: &mut R, w: &[f64], n: usize) -> Vec<usize> {
        let mut out = Vec::with_capacity(n);
        match self {
            Resampling::Systematic => {
                let u: f64 = rng.gen();
                search_sorted(&cumsum(w), (0..n).map(|k| (k as f64 + u) / n as f64), &mut out);
            }
            Resampling::Stratified => {
                let us: Vec<f64> = (0..n).map(|k| (k as f64 + rng.gen::<f64>()) / n as f64).collect();
                search_sorted(&cumsum(w), us.into_iter(), &mut out);
            }
            Resampling::Multinomial => {
                search_sorted(&cumsum(w), sorted_uniforms(rng, n).into_iter(), &mut out);
            }
            Resampling::Residual => {
                let total: f64 = w.iter().sum();
                let scaled: Vec<f64> = w.iter().map(|x| n as f64 * x / total).collect();
                for (j, s) in scaled.iter().enumerate() {
                    out.extend(std::iter::repeat_n(j, s.floor() as usize));
                }
                out.truncate(n);
                let rest = n - out.len();
                if rest > 0 {
                    let mut residual: Vec<f64> = scaled.iter().map(|s| s - s.floor()).collect();
                    if !(residual.iter().sum::<f64>() > 0.0) {
                        residual = w.to_vec();
                    }
                    search_sorted(&cumsum(&residual), sorted_uniforms(rng, rest).into_iter(), &mut out);
                }
            }
        }
        out
    }
}
