//! The potential scale reduction factor R-hat, rank-normalised and split (Vehtari et al. 2021).

use super::chains::{draws_per_chain, is_constant, mean, split, var};
use super::rank::{fold, z_scale};

/// The classic Gelman–Rubin R-hat of chains taken as they are: √((B/W + n − 1)/n), with
/// B/n the variance of the chain means and W the mean within-chain variance (both with
/// denominator − 1), i.e. √(var⁺/W) for var⁺ = (n − 1)/n·W + B/n.
///
/// `NaN` if W = 0 and B = 0 (0/0), which rank-normalised non-constant input never gives.
fn rhat_basic(chains: &[Vec<f64>]) -> f64 {
    let n = chains.first().map_or(0, Vec::len) as f64;
    let means: Vec<f64> = chains.iter().map(|c| mean(c)).collect();
    let between = n * var(&means);
    let within = chains.iter().map(|c| var(c)).sum::<f64>() / chains.len() as f64;
    ((between / within + n - 1.0) / n).sqrt()
}

/// Bulk R-hat: split R-hat of the rank-normalised draws; it sees chains that disagree in
/// location (or a chain that drifts, through the split halves), for any distribution of the draws.
/// One half of [`rhat`]. `NaN` for degenerate input (see the [module docs](super#degenerate-input)).
pub fn rhat_bulk(chains: &[&[f64]]) -> f64 {
    if draws_per_chain(chains).is_none() || is_constant(chains) {
        return f64::NAN;
    }
    rhat_basic(&z_scale(&split(chains)))
}

/// Tail R-hat: split R-hat of the rank-normalised folded draws |x − median|; it sees chains that
/// agree in location but differ in scale (one chain stuck in a narrow region, or visiting a tail
/// the others miss), which [`rhat_bulk`] cannot. One half of [`rhat`]. `NaN` for degenerate
/// input, and where the folded draws are constant (a quantity with two values symmetric about the
/// median).
pub fn rhat_tail(chains: &[&[f64]]) -> f64 {
    if draws_per_chain(chains).is_none() || is_constant(chains) {
        return f64::NAN;
    }
    let folded = fold(&split(chains));
    if is_constant(&folded) {
        return f64::NAN;
    }
    rhat_basic(&z_scale(&folded))
}

/// Rank-normalised split R-hat: the larger of [`rhat_bulk`] and [`rhat_tail`], posterior's
/// `rhat`, ArviZ's `rhat(method = "rank")` and CmdStan's `R_hat`. Values above
/// [`RHAT_THRESHOLD`](super::RHAT_THRESHOLD) (1.01) mean the chains have not mixed: do not use
/// the draws.
///
/// Where the tail R-hat is undefined but the bulk one is (folded draws constant), the bulk R-hat
/// is returned, as ArviZ does. `NaN` for degenerate input: a constant quantity (as in posterior),
/// non-finite draws, fewer than [`MIN_DRAWS`](super::MIN_DRAWS) draws per chain, chains of
/// different lengths. A single chain is split into two halves and gets an R-hat, as in posterior
/// and CmdStan (ArviZ's `rhat` requires two chains).
pub fn rhat(chains: &[&[f64]]) -> f64 {
    let bulk = rhat_bulk(chains);
    let tail = rhat_tail(chains);
    if tail > bulk {
        tail
    } else {
        bulk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_basic() {
        // Chains (0, 2) and (4, 6): means 1 and 5, variances 2 and 2; B = 2·8 = 16, W = 2,
        // R-hat = √((16/2 + 1)/2) = √4.5.
        let r = rhat_basic(&[vec![0.0, 2.0], vec![4.0, 6.0]]);
        assert!((r - 4.5f64.sqrt()).abs() < 1e-15, "{r}");
    }

    #[test]
    fn disagreeing_chains_have_large_rhat() {
        let a: Vec<f64> = (0..100).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = a.iter().map(|x| x + 3.0).collect();
        assert!(rhat(&[&a, &b]) > 1.5);
        // Same location, different scale: only the tail R-hat sees it.
        let c: Vec<f64> = a.iter().map(|x| x * 10.0).collect();
        assert!(rhat_tail(&[&a, &c]) > 1.1, "{}", rhat_tail(&[&a, &c]));
        assert!(rhat_bulk(&[&a, &c]) < rhat_tail(&[&a, &c]));
    }

    #[test]
    fn one_chain_is_split() {
        // A chain whose second half sits higher than its first: split R-hat sees the drift.
        let x: Vec<f64> =
            (0..200).map(|i| (i as f64 * 0.91).sin() + if i < 100 { 0.0 } else { 2.0 }).collect();
        assert!(rhat(&[&x]) > 1.5, "{}", rhat(&[&x]));
    }

    #[test]
    fn degenerate_inputs_are_nan() {
        let constant = [1.0; 8];
        assert!(rhat(&[&constant, &constant]).is_nan());
        assert!(rhat(&[&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]]).is_nan());
        assert!(rhat(&[&[1.0, 2.0, f64::NAN, 4.0], &[1.0, 2.0, 3.0, 4.0]]).is_nan());
        assert!(rhat(&[&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 3.0, 4.0, 5.0]]).is_nan());
        assert!(rhat(&[]).is_nan());
        // ±1 around a median of 0: the folded draws are all 1, so R-hat is the bulk one.
        let pm = [1.0, -1.0, 1.0, -1.0, -1.0, 1.0];
        assert!(rhat_tail(&[&pm, &pm]).is_nan());
        assert_eq!(rhat(&[&pm, &pm]), rhat_bulk(&[&pm, &pm]));
        assert!(rhat(&[&pm, &pm]).is_finite());
    }
}
