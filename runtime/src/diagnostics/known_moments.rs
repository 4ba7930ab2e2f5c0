//! ESS from the known mean and covariance of a test target: the estimator of the L2HMC paper
//! (Levy, Hoffman & Sohl-Dickstein 2018, App. C.2), used to compare with its reported numbers.
//!
//! For a chain x₀…x_{T−1} in ℝⁿ with known mean μ and covariance Σ,
//! `ρ_t = Σ_{τ<T−t} (x_τ − μ)ᵀ(x_{τ+t} − μ) / (Tr(Σ)(T − t))` and
//! `ESS/T = 1 / (1 + 2 Σ_{t≥1} ρ_t)`, the sum stopped at the first lag where ρ_t < 0.05. Unlike
//! [`super::ess_mean`] it needs no estimate of the mean or variance (so a chain that has not
//! found a mode is not flattered), and it pools the coordinates into one number weighted by
//! their variances, as the paper does.

use super::autocov::lag_sums;
use rustfft::FftPlanner;

/// ρ below which the sum of autocorrelations stops (the paper's 0.05).
pub const KNOWN_MOMENTS_CUTOFF: f64 = 0.05;

/// ρ_t for t = 0…T−1 (ρ₀ ≈ 1) from chains given row-major `(T, n)` (all of the same length),
/// the known mean μ and Tr(Σ). The lag products are pooled over the chains before ρ_t is formed
/// (one estimate of ρ_t from all chains: for slowly mixing chains a single chain's ρ_t is so noisy
/// that it crosses the cut-off early and flatters the chain). Empty for empty or ragged input,
/// fewer than two draws, or a non-positive trace.
pub fn autocorrelation_known_moments<C: AsRef<[f64]>>(chains: &[C], mean: &[f64], trace: f64) -> Vec<f64> {
    let n = mean.len();
    if chains.is_empty() || n == 0 || !(trace > 0.0) {
        return Vec::new();
    }
    let t_len = chains[0].as_ref().len() / n;
    if t_len < 2 || chains.iter().any(|c| c.as_ref().len() != t_len * n) {
        return Vec::new();
    }
    let mut planner = FftPlanner::new();
    let mut sums = vec![0.0; t_len];
    for c in chains {
        let c = c.as_ref();
        for i in 0..n {
            let coord: Vec<f64> = c.iter().skip(i).step_by(n).copied().collect();
            for (s, v) in sums.iter_mut().zip(lag_sums(&coord, mean[i], &mut planner)) {
                *s += v;
            }
        }
    }
    let k = chains.len() as f64;
    sums.iter().enumerate().map(|(t, s)| s / (k * trace * (t_len - t) as f64)).collect()
}

/// ESS per draw (between 0 and about 1, or above 1 for antithetic chains) from
/// [`autocorrelation_known_moments`], the sum stopped at the first ρ_t below
/// [`KNOWN_MOMENTS_CUTOFF`]. `NaN` where the autocorrelations are not defined.
pub fn ess_known_moments<C: AsRef<[f64]>>(chains: &[C], mean: &[f64], trace: f64) -> f64 {
    let rho = autocorrelation_known_moments(chains, mean, trace);
    if rho.is_empty() {
        return f64::NAN;
    }
    let acf: f64 = rho.iter().skip(1).take_while(|&&r| r >= KNOWN_MOMENTS_CUTOFF).sum();
    1.0 / (1.0 + 2.0 * acf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};

    #[test]
    fn iid_draws_have_ess_one_and_ar1_its_closed_form() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let iid: Vec<f64> = (0..20_000).map(|_| StandardNormal.sample(&mut rng)).collect();
        let e = ess_known_moments(&[&iid], &[0.0, 0.0], 2.0);
        assert!((e - 1.0).abs() < 0.05, "iid ESS {e}");
        // AR(1) with φ = 0.8 and unit stationary variance: ρ_t = φᵗ, and the cut-off keeps
        // t = 1…13 (φ¹⁴ < 0.05), so ESS/T = 1/(1 + 2 Σ_{t=1}^{13} φᵗ) ≈ 0.117 (untruncated 1/9).
        let phi: f64 = 0.8;
        let mut x = 0.0;
        let ar: Vec<f64> = (0..200_000)
            .map(|_| {
                x = phi * x + (1.0 - phi * phi).sqrt() * Distribution::<f64>::sample(&StandardNormal, &mut rng);
                x
            })
            .collect();
        let e = ess_known_moments(&[&ar], &[0.0], 1.0);
        let want = 1.0 / (1.0 + 2.0 * (1..14).map(|t| phi.powi(t)).sum::<f64>());
        assert!((e - want).abs() < 0.01, "AR(1) ESS {e} vs {want}");
        assert!(ess_known_moments(&[&ar[..3]], &[0.0, 0.0], 1.0).is_nan());
    }
}
