//! Checking and splitting chains, the first step of every diagnostic.

use super::MIN_DRAWS;

/// The number of draws per chain, or `None` where no diagnostic is defined: no chains, chains of
/// different lengths, fewer than [`MIN_DRAWS`] draws, or a non-finite draw.
pub(crate) fn draws_per_chain<C: AsRef<[f64]>>(chains: &[C]) -> Option<usize> {
    let n = chains.first()?.as_ref().len();
    let ok = n >= MIN_DRAWS
        && chains.iter().all(|c| c.as_ref().len() == n)
        && chains.iter().all(|c| c.as_ref().iter().all(|x| x.is_finite()));
    ok.then_some(n)
}

/// Whether all values are equal up to `f64::EPSILON` (posterior's `is_constant`): such a quantity
/// has no variance, so R-hat and ESS are 0/0.
pub(crate) fn is_constant<C: AsRef<[f64]>>(chains: &[C]) -> bool {
    let (lo, hi) = chains
        .iter()
        .flat_map(|c| c.as_ref().iter())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    // Written so that no values (lo = +∞, hi = −∞) also count as constant.
    hi < lo || (hi - lo).abs() < f64::EPSILON
}

/// Each chain cut into its first and last halves, so that a chain whose distribution drifts looks
/// like two chains that disagree. An odd-length chain loses its middle draw (as in ArviZ and
/// posterior), so both halves have the same length.
pub(crate) fn split<C: AsRef<[f64]>>(chains: &[C]) -> Vec<Vec<f64>> {
    let mut out = Vec::with_capacity(2 * chains.len());
    for c in chains {
        let c = c.as_ref();
        let half = c.len() / 2;
        out.push(c[..half].to_vec());
        out.push(c[c.len() - half..].to_vec());
    }
    out
}

/// All draws of all chains in one vector.
pub(crate) fn pooled<C: AsRef<[f64]>>(chains: &[C]) -> Vec<f64> {
    chains.iter().flat_map(|c| c.as_ref().iter().copied()).collect()
}

/// Applies `f` to every draw, keeping the chain structure.
pub(crate) fn map<C: AsRef<[f64]>>(chains: &[C], f: impl Fn(f64) -> f64) -> Vec<Vec<f64>> {
    chains.iter().map(|c| c.as_ref().iter().map(|&x| f(x)).collect()).collect()
}

/// The arithmetic mean (`NaN` for no values).
pub(crate) fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// The sample variance with denominator n − 1 (`NaN` for fewer than two values).
pub(crate) fn var(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return f64::NAN;
    }
    let m = mean(x);
    x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64
}

/// Uniform draws from a xorshift generator, as good as iid here.
#[cfg(test)]
pub(crate) fn uniforms(seed: u64, n: usize) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity() {
        let ok: [&[f64]; 2] = [&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 3.0, 5.0]];
        assert_eq!(draws_per_chain(&ok), Some(4));
        let none: [&[f64]; 0] = [];
        assert_eq!(draws_per_chain(&none), None);
        let short: [&[f64]; 1] = [&[1.0, 2.0, 3.0]];
        assert_eq!(draws_per_chain(&short), None);
        let ragged: [&[f64]; 2] = [&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 3.0, 4.0, 5.0]];
        assert_eq!(draws_per_chain(&ragged), None);
        let inf: [&[f64]; 1] = [&[1.0, 2.0, f64::INFINITY, 4.0]];
        assert_eq!(draws_per_chain(&inf), None);
        let nan: [&[f64]; 1] = [&[1.0, 2.0, f64::NAN, 4.0]];
        assert_eq!(draws_per_chain(&nan), None);
    }

    #[test]
    fn splitting_drops_the_middle_of_odd_chains() {
        let c: [&[f64]; 2] = [&[1.0, 2.0, 3.0, 4.0, 5.0], &[6.0, 7.0, 8.0, 9.0]];
        assert_eq!(split(&c), vec![vec![1.0, 2.0], vec![4.0, 5.0], vec![6.0, 7.0], vec![8.0, 9.0]]);
    }

    #[test]
    fn constancy() {
        assert!(is_constant(&[[2.0, 2.0], [2.0, 2.0]]));
        assert!(!is_constant(&[[2.0, 2.0], [2.0, 2.5]]));
    }
}
