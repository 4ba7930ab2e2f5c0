//! Autocovariances of a chain at every lag, by FFT.

use rustfft::num_complex::Complex;
use rustfft::FftPlanner;

/// The biased autocovariances γ̂ₜ = (1/n) Σᵢ (xᵢ − x̄)(xᵢ₊ₜ − x̄), t = 0..n, of one chain.
///
/// Why FFT: the ESS needs all lags up to where the autocorrelations die out, which for a slowly
/// mixing chain is most of them, and the direct sums cost O(n²); the FFT of the centred chain
/// zero-padded to at least 2n (so the circular correlation it computes equals the linear one)
/// costs O(n log n). Dividing by n rather than n − t is the standard choice (ArviZ, posterior,
/// Stan): it keeps the sequence positive semi-definite.
///
/// `planner` is shared so that the plans are made once for all chains of the same length.
pub(crate) fn autocov(x: &[f64], planner: &mut FftPlanner<f64>) -> Vec<f64> {
    let n = x.len();
    if n == 0 {
        return Vec::new();
    }
    let mean = super::chains::mean(x);
    let scale = 1.0 / n as f64;
    lag_sums(x, mean, planner).into_iter().map(|v| v * scale).collect()
}

/// The lag sums Σᵢ (xᵢ − c)(xᵢ₊ₜ − c), t = 0..n, around a given centre `c` (the chain's mean for
/// [`autocov`], a known mean for [`super::ess_known_moments`]).
pub(crate) fn lag_sums(x: &[f64], centre: f64, planner: &mut FftPlanner<f64>) -> Vec<f64> {
    let n = x.len();
    if n == 0 {
        return Vec::new();
    }
    let m = (2 * n).next_power_of_two();
    let mut buf: Vec<Complex<f64>> = x.iter().map(|&v| Complex::new(v - centre, 0.0)).collect();
    buf.resize(m, Complex::new(0.0, 0.0));
    planner.plan_fft_forward(m).process(&mut buf);
    for z in &mut buf {
        *z = Complex::new(z.norm_sqr(), 0.0);
    }
    planner.plan_fft_inverse(m).process(&mut buf);
    // rustfft's transforms are unnormalised: the round trip multiplies by m.
    let scale = 1.0 / m as f64;
    buf[..n].iter().map(|z| z.re * scale).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The O(n²) definition.
    fn direct(x: &[f64]) -> Vec<f64> {
        let n = x.len();
        let m = x.iter().sum::<f64>() / n as f64;
        (0..n).map(|t| (0..n - t).map(|i| (x[i] - m) * (x[i + t] - m)).sum::<f64>() / n as f64).collect()
    }

    #[test]
    fn matches_direct_sums() {
        let mut planner = FftPlanner::new();
        for x in [vec![1.0, 2.0, 3.0, 4.0], vec![0.3, -1.2, 2.5, 0.0, 0.7, -0.4, 1.1], vec![5.0]] {
            let got = autocov(&x, &mut planner);
            let want = direct(&x);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-12, "{got:?} vs {want:?}");
            }
        }
        // Hand-computed: x = 1, 2, 3, 4 centred is −1.5, −0.5, 0.5, 1.5.
        let g = autocov(&[1.0, 2.0, 3.0, 4.0], &mut planner);
        for (g, w) in g.iter().zip([1.25, 0.3125, -0.375, -0.5625]) {
            assert!((g - w).abs() < 1e-14, "{g} vs {w}");
        }
    }
}
