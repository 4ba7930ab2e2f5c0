//! Effective sample sizes: Geyer's initial monotone sequence estimator on split chains, applied
//! to the draws, to their rank-normalised version, or to quantile indicators.

use rustfft::FftPlanner;

use super::autocov::autocov;
use super::chains::{draws_per_chain, is_constant, map, mean, pooled, split, var};
use super::quantile::quantile;
use super::rank::z_scale;

/// The probabilities whose quantile indicators [`ess_tail`] takes the smaller ESS of: the 5% and
/// 95% quantiles, the ends of the 90% interval that a summary reports.
pub const TAIL_PROBS: [f64; 2] = [0.05, 0.95];

/// The ESS of the mean of already split (and possibly transformed) chains, with the
/// multi-chain autocorrelation estimate of Vehtari et al. (2021) and Geyer's initial monotone
/// sequence, step by step as in ArviZ's `_ess` (= posterior's `ess_basic` and Stan's
/// `compute_effective_sample_size`).
///
/// Why this shape: the autocorrelations ρ̂ₜ are estimated from the within-chain autocovariances
/// *relative to the pooled variance* var⁺, so that chains that disagree lower the ESS; the sum
/// τ = −1 + 2 Σ ρ̂ₜ is truncated where pairs ρ̂₂ₖ + ρ̂₂ₖ₊₁ turn negative (beyond it the estimates
/// are noise), and the pair sums are made non-increasing, which Geyer showed keeps τ from being
/// underestimated. τ is floored at 1/log₁₀(N) so that an antithetic chain cannot claim an
/// unbounded ESS.
///
/// `NaN` for non-finite or constant input.
pub(crate) fn ess_split(chains: &[Vec<f64>]) -> f64 {
    let m = chains.len();
    let n = chains.first().map_or(0, Vec::len);
    if m == 0 || n < 2 || chains.iter().any(|c| c.len() != n) {
        return f64::NAN;
    }
    if chains.iter().flatten().any(|x| !x.is_finite()) || is_constant(chains) {
        return f64::NAN;
    }
    let mut planner = FftPlanner::new();
    let acov: Vec<Vec<f64>> = chains.iter().map(|c| autocov(c, &mut planner)).collect();
    let mean_acov = |t: usize| acov.iter().map(|a| a[t]).sum::<f64>() / m as f64;
    let nf = n as f64;
    // W: the mean within-chain variance (denominator n − 1); var⁺: the pooled variance estimate.
    let mean_var = mean_acov(0) * nf / (nf - 1.0);
    let mut var_plus = mean_var * (nf - 1.0) / nf;
    if m > 1 {
        let means: Vec<f64> = chains.iter().map(|c| mean(c)).collect();
        var_plus += var(&means);
    }
    let rho_at = |t: usize| 1.0 - (mean_var - mean_acov(t)) / var_plus;

    let mut rho = vec![0.0; n];
    let mut rho_even = 1.0;
    let mut rho_odd = rho_at(1);
    rho[0] = rho_even;
    rho[1] = rho_odd;
    // Geyer's initial positive sequence: add pairs while their sum stays positive.
    let mut t = 1;
    while t + 3 < n && rho_even + rho_odd > 0.0 {
        rho_even = rho_at(t + 1);
        rho_odd = rho_at(t + 2);
        if rho_even + rho_odd >= 0.0 {
            rho[t + 1] = rho_even;
            rho[t + 2] = rho_odd;
        }
        t += 2;
    }
    // The last lag kept; −1 when not even the first pair was (then ρ̂₀ alone enters below).
    let max_t = t as isize - 2;
    // The first lag of the dropped pair still counts if it is positive (ArviZ's "improve
    // estimation"; posterior and Stan do the same).
    let next = (max_t + 1) as usize;
    if rho_even > 0.0 {
        rho[next] = rho_even;
    }
    // Geyer's initial monotone sequence: pair sums may not increase.
    let mut t: isize = 1;
    while t <= max_t - 2 {
        let u = t as usize;
        if rho[u + 1] + rho[u + 2] > rho[u - 1] + rho[u] {
            rho[u + 1] = (rho[u - 1] + rho[u]) / 2.0;
            rho[u + 2] = rho[u + 1];
        }
        t += 2;
    }
    if rho.iter().any(|r| r.is_nan()) {
        return f64::NAN;
    }
    let total = (m * n) as f64;
    let tau = -1.0 + 2.0 * rho[..next].iter().sum::<f64>() + rho[next];
    total / tau.max(1.0 / total.log10())
}

/// Bulk effective sample size: the ESS of the rank-normalised split chains.
///
/// It measures how well the centre of the distribution (mean, median) is estimated and, unlike
/// [`ess_mean`], exists for distributions without a finite variance (it is the ESS of the
/// normal scores, not of the draws). CmdStan's and posterior's `ESS_bulk`. `NaN` for degenerate
/// input (see the [module docs](super#degenerate-input)).
pub fn ess_bulk(chains: &[&[f64]]) -> f64 {
    if draws_per_chain(chains).is_none() || is_constant(chains) {
        return f64::NAN;
    }
    ess_split(&z_scale(&split(chains)))
}

/// ESS of the mean: the classic split-chain ESS of the draws themselves, without rank
/// normalisation; the one that sets [`mcse_mean`](super::mcse_mean). Only meaningful when the
/// quantity has a finite variance, which the draws cannot tell; prefer [`ess_bulk`] to judge
/// convergence. `NaN` for degenerate input.
pub fn ess_mean(chains: &[&[f64]]) -> f64 {
    if draws_per_chain(chains).is_none() || is_constant(chains) {
        return f64::NAN;
    }
    ess_split(&split(chains))
}

/// ESS of the `prob`-quantile: the ESS of the indicator `x ≤ q`, q the pooled [`quantile`] of
/// all draws. An indicator is a bounded function of the draws, so this exists for any
/// distribution, and it is how well the quantile's probability level is estimated.
///
/// `NaN` for degenerate input, for `prob` outside [0, 1], and where the indicator is constant
/// (e.g. the 95% quantile of a discrete quantity that equals its maximum).
pub fn ess_quantile(chains: &[&[f64]], prob: f64) -> f64 {
    if draws_per_chain(chains).is_none() || is_constant(chains) || !(0.0..=1.0).contains(&prob) {
        return f64::NAN;
    }
    let q = quantile(&pooled(chains), prob);
    ess_split(&split(&map(chains, |x| if x <= q { 1.0 } else { 0.0 })))
}

/// Tail effective sample size: the smaller ESS of the 5% and 95% quantile indicators
/// ([`TAIL_PROBS`]), posterior's and CmdStan's `ESS_tail`. It tells whether the ends of a 90%
/// interval are estimated well, which a chain can fail at while its bulk is fine (it visits a
/// heavy tail rarely). `NaN` if either quantile's ESS is.
pub fn ess_tail(chains: &[&[f64]]) -> f64 {
    let lo = ess_quantile(chains, TAIL_PROBS[0]);
    let hi = ess_quantile(chains, TAIL_PROBS[1]);
    if lo.is_nan() || hi.is_nan() {
        f64::NAN
    } else {
        lo.min(hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::chains::uniforms;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs()
    }

    #[test]
    fn hand_computed_geyer() {
        // One split pair (1, 2, 3, 4 | 4, 3, 2, 1): both halves have mean 2.5 and the same
        // autocovariances γ = (1.25, 0.3125, −0.375, −0.5625), so W = 5/3, var⁺ = 1.25,
        // ρ̂₁ = 1 − (5/3 − 0.3125)/1.25 = −1/12 ≈ −0.0833; the loop does not run (4 draws per
        // half), max_t = −1, τ = −1 + ρ̂₀ = 0, floored at 1/log₁₀ 8, so ESS = 8 log₁₀ 8.
        let e = ess_split(&[vec![1.0, 2.0, 3.0, 4.0], vec![4.0, 3.0, 2.0, 1.0]]);
        assert!(close(e, 8.0 * 8f64.log10(), 1e-12), "{e}");
    }

    #[test]
    fn alternating_chain_hits_the_antithetic_floor() {
        // Perfectly antithetic draws: the pair sums are negative from the start.
        let x: Vec<f64> = (0..100).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
        let e = ess_mean(&[&x]);
        assert!(close(e, 100.0 * 2.0, 1e-12), "{e}");
    }

    #[test]
    fn iid_draws_have_ess_near_n() {
        let chains: Vec<Vec<f64>> = (0..4).map(|c| uniforms(c + 1, 1000)).collect();
        let refs: Vec<&[f64]> = chains.iter().map(Vec::as_slice).collect();
        for e in [ess_bulk(&refs), ess_mean(&refs), ess_tail(&refs)] {
            assert!((3000.0..5000.0).contains(&e), "{e}");
        }
        // A random walk (cumulative sums) mixes far worse.
        let walks: Vec<Vec<f64>> = chains
            .iter()
            .map(|c| {
                c.iter()
                    .scan(0.0, |s, u| {
                        *s += u - 0.5;
                        Some(*s)
                    })
                    .collect()
            })
            .collect();
        let refs: Vec<&[f64]> = walks.iter().map(Vec::as_slice).collect();
        assert!(ess_bulk(&refs) < 100.0, "{}", ess_bulk(&refs));
    }

    #[test]
    fn degenerate_inputs_are_nan() {
        let constant = [2.0; 10];
        assert!(ess_bulk(&[&constant, &constant]).is_nan());
        assert!(ess_mean(&[&constant]).is_nan());
        assert!(ess_tail(&[&constant]).is_nan());
        let short = [1.0, 2.0, 3.0];
        assert!(ess_bulk(&[&short]).is_nan());
        let inf = [1.0, 2.0, f64::INFINITY, 3.0, 0.5];
        assert!(ess_bulk(&[&inf]).is_nan());
        assert!(ess_tail(&[&inf]).is_nan());
        let ok = [1.0, 5.0, 2.0, 3.0, 0.5, 4.0];
        assert!(ess_quantile(&[&ok], 1.5).is_nan());
        // The maximum's indicator is all true: constant, so NaN, not N.
        assert!(ess_quantile(&[&ok], 1.0).is_nan());
        assert!(ess_bulk(&[]).is_nan());
    }
}
