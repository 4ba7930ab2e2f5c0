//! Monte Carlo standard errors: how far an estimate from these draws may be from what infinitely
//! many draws would give, accounting for autocorrelation through the ESS.

use super::chains::{draws_per_chain, is_constant, map, mean, pooled, var};
use super::ess::{ess_mean, ess_quantile};

/// MCSE of the posterior mean: sd / √ESS_mean, with sd the pooled standard deviation (denominator
/// n − 1). CmdStan's `MCSE` column. `NaN` for degenerate input, a constant quantity included (see
/// the [module docs](super#degenerate-input)).
pub fn mcse_mean(chains: &[&[f64]]) -> f64 {
    var(&pooled(chains)).sqrt() / ess_mean(chains).sqrt()
}

/// MCSE of the posterior standard deviation, by the delta method as in posterior's and ArviZ's
/// (0.23) `mcse_sd`: with c = (x − x̄)², the variance of the estimate `mean(c)` is
/// (`mean(c²)` − `mean(c)²`) / ESS(c), and sd = √`mean(c)` turns it into that over 4·`mean(c)`.
/// Autocorrelation enters through the ESS of c, which is why this is not simply sd/√(2·ESS).
/// `NaN` for degenerate input.
pub fn mcse_sd(chains: &[&[f64]]) -> f64 {
    if draws_per_chain(chains).is_none() || is_constant(chains) {
        return f64::NAN;
    }
    let m = mean(&pooled(chains));
    let sq = map(chains, |x| (x - m) * (x - m));
    let sq_refs: Vec<&[f64]> = sq.iter().map(Vec::as_slice).collect();
    let ess = ess_mean(&sq_refs);
    let all = pooled(&sq);
    let evar = mean(&all);
    let varvar = (all.iter().map(|c| c * c).sum::<f64>() / all.len() as f64 - evar * evar) / ess;
    (varvar / evar / 4.0).sqrt()
}

/// MCSE of the `prob`-quantile, as in posterior and ArviZ: the quantile's rank among the S pooled
/// draws is roughly Beta(ESS·p + 1, ESS·(1 − p) + 1)·S, so the draws at that Beta's ±1σ
/// probabilities (15.87% and 84.13%) bracket the quantile, and half their distance is the
/// standard error. Why not a density-based formula: this needs no density estimate and works
/// for discrete quantities.
///
/// `NaN` where [`ess_quantile`] is (degenerate input, `prob` outside [0, 1], constant
/// indicator); ArviZ returns half the range there, which says nothing.
pub fn mcse_quantile(chains: &[&[f64]], prob: f64) -> f64 {
    let ess = ess_quantile(chains, prob);
    if ess.is_nan() {
        return f64::NAN;
    }
    let (a, b) = (ess * prob + 1.0, ess * (1.0 - prob) + 1.0);
    let mut sorted = pooled(chains);
    sorted.sort_by(f64::total_cmp);
    let s = sorted.len() as f64;
    let lo = (beta_quantile(0.158_655_3, a, b) * s - 1.0).max(0.0).floor();
    let hi = (beta_quantile(0.841_344_7, a, b) * s - 1.0).min(s - 1.0).ceil();
    (sorted[hi as usize] - sorted[lo as usize]) / 2.0
}

/// The `p`-quantile of Beta(a, b), by bisection on the regularised incomplete beta function
/// (statrs' own inverse stops at ~1e-5, too coarse to pick the right order statistic of a few
/// thousand draws). Bisection to the last bit: the cdf is monotone and only ~60 steps are needed.
fn beta_quantile(p: f64, a: f64, b: f64) -> f64 {
    if !(a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite()) {
        return f64::NAN;
    }
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if statrs::function::beta::beta_reg(a, b, mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beta_quantiles() {
        // Beta(1, 1) is uniform; Beta(2, 1) has cdf x², so quantile √p.
        assert!((beta_quantile(0.3, 1.0, 1.0) - 0.3).abs() < 1e-15);
        assert!((beta_quantile(0.25, 2.0, 1.0) - 0.5).abs() < 1e-15);
        // scipy.stats.beta.ppf(0.1586553, 101, 1901) = 0.045565…
        let q = beta_quantile(0.158_655_3, 101.0, 1901.0);
        assert!((q - 0.045_564_847_396_907_81).abs() < 1e-12, "{q}");
        assert!(beta_quantile(0.5, 0.0, 1.0).is_nan());
    }

    #[test]
    fn antithetic_floor_gives_hand_computable_mcse_mean() {
        // ±1 alternating: ESS_mean = 2N (the floor of τ at 1/log₁₀ N with N = 100), sd² = 100/99.
        let x: Vec<f64> = (0..100).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
        let want = (100.0f64 / 99.0).sqrt() / 200f64.sqrt();
        assert!((mcse_mean(&[&x]) - want).abs() < 1e-14);
    }

    #[test]
    fn degenerate_inputs_are_nan() {
        let c = [3.0; 12];
        assert!(mcse_mean(&[&c, &c]).is_nan());
        assert!(mcse_sd(&[&c, &c]).is_nan());
        assert!(mcse_quantile(&[&c, &c], 0.5).is_nan());
        let x = [1.0, 4.0, 2.0, 8.0, 5.0, 7.0];
        assert!(mcse_quantile(&[&x], -0.1).is_nan());
        assert!(mcse_mean(&[&[1.0, f64::NEG_INFINITY, 2.0, 3.0]]).is_nan());
        assert!(mcse_sd(&[&[1.0, 2.0]]).is_nan());
        assert!(mcse_mean(&[]).is_nan());
    }
}
