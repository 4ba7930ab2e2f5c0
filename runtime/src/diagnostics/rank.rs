//! Rank normalisation and folding: the transformations that make R-hat and the bulk ESS work for
//! any distribution, heavy tails and all.

use super::quantile::median;

/// Ranks 1..=n of `values`, ties sharing the mean of their ranks (scipy's `rankdata(method =
/// "average")`), so that a discrete quantity gets the same normal score for the same value.
pub(crate) fn average_ranks(values: &[f64]) -> Vec<f64> {
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        // Positions i..=j (0-based) hold ranks i+1..=j+1, whose mean is (i + j + 2) / 2.
        let rank = (i + j + 2) as f64 / 2.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

/// The standard normal quantile function Φ⁻¹.
fn normal_quantile(p: f64) -> f64 {
    -std::f64::consts::SQRT_2 * statrs::function::erf::erfc_inv(2.0 * p)
}

/// Rank-normalised draws: the pooled draws of all chains are ranked and rank r of S becomes
/// Φ⁻¹((r − 3/8) / (S − 2·3/8 + 1)) (Blom's offset), chain structure kept. The result is
/// normally distributed whatever the draws' distribution, so variance-based diagnostics computed
/// from it exist even where the draws have no finite variance.
pub(crate) fn z_scale(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let pooled = super::chains::pooled(chains);
    let ranks = average_ranks(&pooled);
    let s = pooled.len() as f64;
    const C: f64 = 3.0 / 8.0;
    let mut z = ranks.into_iter().map(|r| normal_quantile((r - C) / (s - 2.0 * C + 1.0)));
    chains.iter().map(|c| z.by_ref().take(c.len()).collect()).collect()
}

/// Folded draws |x − median|, with the median of all chains pooled: chains that agree in location
/// but differ in scale differ in the location of their folded draws, which R-hat can see.
pub(crate) fn fold(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let m = median(&super::chains::pooled(chains));
    super::chains::map(chains, |x| (x - m).abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_average_ties() {
        assert_eq!(average_ranks(&[3.0, 1.0, 2.0]), vec![3.0, 1.0, 2.0]);
        assert_eq!(average_ranks(&[5.0, 1.0, 5.0, 0.0, 5.0]), vec![4.0, 2.0, 4.0, 1.0, 4.0]);
        assert_eq!(average_ranks(&[]), Vec::<f64>::new());
    }

    #[test]
    fn normal_scores() {
        // Two values: ranks 1 and 2 of 2 → p = 0.625/2.25 and 1.625/2.25.
        let z = z_scale(&[vec![10.0], vec![-4.0]]);
        let p: f64 = 1.625 / 2.25;
        assert!((z[0][0] - 0.589_455_797_849_778_3).abs() < 1e-12, "{z:?} (p = {p})");
        assert!((z[0][0] + z[1][0]).abs() < 1e-15);
        assert!((normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-13);
        assert_eq!(normal_quantile(0.5), 0.0);
    }

    #[test]
    fn folding() {
        assert_eq!(fold(&[vec![1.0, 2.0], vec![4.0, 7.0]]), vec![vec![2.0, 1.0], vec![1.0, 4.0]]);
    }
}
