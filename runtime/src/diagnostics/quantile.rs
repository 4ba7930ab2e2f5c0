//! Sample quantiles, numpy's default ('linear', Hyndman & Fan type 7, R's default too).

/// The `q`-quantile of `values` by linear interpolation between order statistics, exactly as
/// numpy's `np.quantile(values, q)` with its default `method="linear"` (= R's `type = 7`, the
/// definition posterior, ArviZ and CmdStan use for the 5%, 50% and 95% columns).
///
/// Sorted values x₀ ≤ … ≤ xₙ₋₁ give h = (n − 1)·q and x⌊h⌋ + (h − ⌊h⌋)(x⌊h⌋₊₁ − x⌊h⌋), computed
/// in numpy's order of operations so results agree to the last bit; tied neighbours give their
/// value exactly, which matters for the quantile indicators of the tail ESS.
///
/// `NaN` if `values` is empty, contains `NaN`, or `q` is not in [0, 1]. Does not reorder `values`.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() || !(0.0..=1.0).contains(&q) || values.iter().any(|x| x.is_nan()) {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    quantile_sorted(&sorted, q)
}

/// [`quantile`] of values already sorted ascending, none of them `NaN`, and `q` in [0, 1].
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let last = n - 1;
    let h = last as f64 * q;
    if h >= last as f64 {
        return sorted[last];
    }
    let lo = h.floor();
    let t = h - lo;
    let (a, b) = (sorted[lo as usize], sorted[lo as usize + 1]);
    // numpy's `_lerp`: from the nearer end, so that t = 1 would give b exactly.
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// The median as `np.median` computes it: the middle value, or the mean of the two middle ones.
/// `NaN` for no values. Used to fold draws, where it must match ArviZ to the bit so that
/// |x − median| ties the same draws.
pub(crate) fn median(values: &[f64]) -> f64 {
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_linear() {
        let x = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
        // np.quantile(x, [0, 0.05, 0.25, 0.5, 0.9, 1]) = [1, 1, 1.75, 3.5, 6.9, 9]
        assert_eq!(quantile(&x, 0.0), 1.0);
        assert_eq!(quantile(&x, 0.05), 1.0);
        assert_eq!(quantile(&x, 0.25), 1.75);
        assert_eq!(quantile(&x, 0.5), 3.5);
        assert!((quantile(&x, 0.9) - 6.9).abs() < 1e-14);
        assert_eq!(quantile(&x, 1.0), 9.0);
        assert_eq!(quantile(&[7.0], 0.3), 7.0);
    }

    #[test]
    fn degenerate() {
        assert!(quantile(&[], 0.5).is_nan());
        assert!(quantile(&[1.0, f64::NAN], 0.5).is_nan());
        assert!(quantile(&[1.0, 2.0], 1.5).is_nan());
        assert!(quantile(&[1.0, 2.0], f64::NAN).is_nan());
        assert_eq!(quantile(&[1.0, f64::INFINITY, 0.0], 0.0), 0.0);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
