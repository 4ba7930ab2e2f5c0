//! Helpers shared by the integration tests: finite differences, tolerances, determinants and the
//! independent reference formulas that the tests compare snell against.

#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use snell::prelude::*;
use snell::sampler::Draws;
use snell::target::FnDensity;

/// `½ ln 2π`
pub const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// A deterministic random number generator.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// `n` values uniform in `[lo, hi)`.
pub fn uniform(rng: &mut ChaCha8Rng, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n).map(|_| rng.gen_range(lo..hi)).collect()
}

/// `|got − want| ≤ rel · max(1, |want|)`, with a message naming the check.
#[track_caller]
pub fn assert_close(got: f64, want: f64, rel: f64, what: &str) {
    assert!(got.is_finite() && want.is_finite(), "{what}: got {got}, want {want} (not finite)");
    let tol = rel * want.abs().max(1.0);
    assert!((got - want).abs() <= tol, "{what}: got {got}, want {want}, |diff| = {:e} > {tol:e}", (got - want).abs());
}

/// Element-wise [`assert_close`].
#[track_caller]
pub fn assert_all_close(got: &[f64], want: &[f64], rel: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ ({got:?} vs {want:?})");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert_close(g, w, rel, &format!("{what} [{i}]"));
    }
}

/// Central finite differences of `f` at `x` with step `h`.
pub fn fd_grad(f: impl Fn(&[f64]) -> f64, x: &[f64], h: f64) -> Vec<f64> {
    let mut xp = x.to_vec();
    (0..x.len())
        .map(|i| {
            xp[i] = x[i] + h;
            let fp = f(&xp);
            xp[i] = x[i] - h;
            let fm = f(&xp);
            xp[i] = x[i];
            (fp - fm) / (2.0 * h)
        })
        .collect()
}

/// Central finite-difference Jacobian (row-major `(m, n)`) of `f: ℝⁿ → ℝᵐ` at `x`.
pub fn fd_jacobian(f: impl Fn(&[f64]) -> Vec<f64>, x: &[f64], h: f64) -> (usize, Vec<f64>) {
    let n = x.len();
    let m = f(x).len();
    let mut jac = vec![0.0; m * n];
    let mut xp = x.to_vec();
    for j in 0..n {
        xp[j] = x[j] + h;
        let fp = f(&xp);
        xp[j] = x[j] - h;
        let fm = f(&xp);
        xp[j] = x[j];
        for i in 0..m {
            jac[i * n + j] = (fp[i] - fm[i]) / (2.0 * h);
        }
    }
    (m, jac)
}

/// `ln |det A|` of a square row-major matrix, by LU decomposition with partial pivoting.
pub fn log_abs_det(a: &[f64], n: usize) -> f64 {
    assert_eq!(a.len(), n * n);
    let mut a = a.to_vec();
    let mut acc = 0.0;
    for k in 0..n {
        let p = (k..n).max_by(|&i, &j| a[i * n + k].abs().total_cmp(&a[j * n + k].abs())).unwrap();
        if p != k {
            for j in 0..n {
                a.swap(k * n + j, p * n + j);
            }
        }
        let piv = a[k * n + k];
        acc += piv.abs().ln();
        for i in k + 1..n {
            let f = a[i * n + k] / piv;
            for j in k..n {
                a[i * n + j] -= f * a[k * n + j];
            }
        }
    }
    acc
}

/// Checks the gradient of the model's log density at every point against central finite
/// differences of the log density (computed without gradient), that the value with and without
/// gradient agree, and that a population evaluation of all points gives the same results as the
/// single evaluations.
#[track_caller]
pub fn check_grad<M: Model>(m: &M, points: &[Vec<f64>], what: &str) {
    let d = m.dim();
    for (k, theta) in points.iter().enumerate() {
        assert_eq!(theta.len(), d, "{what}: point {k} has the wrong dimension");
        let (lp, g) = m.log_density_and_grad(theta).unwrap();
        let lp0 = m.log_density(theta).unwrap();
        assert!(lp.is_finite(), "{what}: log density {lp} at {theta:?}");
        assert_close(lp, lp0, 1e-12, &format!("{what}: log density with and without gradient at {theta:?}"));
        let fd = fd_grad(|t| m.log_density(t).unwrap(), theta, 1e-5);
        for i in 0..d {
            let tol = 1e-6 * (1.0 + g[i].abs());
            assert!(
                (g[i] - fd[i]).abs() <= tol,
                "{what}: d/dθ[{i}] at θ = {theta:?}: autodiff {} vs finite differences {} (|diff| {:e} > {tol:e})",
                g[i],
                fd[i],
                (g[i] - fd[i]).abs()
            );
        }
    }
    // The same points as one population.
    let flat: Vec<f64> = points.iter().flatten().cloned().collect();
    let (lps, grads) = m.log_density_and_grad_batch(&flat).unwrap();
    for (k, theta) in points.iter().enumerate() {
        let (lp, g) = m.log_density_and_grad(theta).unwrap();
        assert_close(lps[k], lp, 1e-12, &format!("{what}: population member {k}"));
        assert_all_close(&grads[k * d..(k + 1) * d], &g, 1e-12, &format!("{what}: population gradient of member {k}"));
    }
}

/// `n` random unconstrained points of dimension `d`, coordinates uniform in `[-r, r)`.
pub fn random_points(seed: u64, n: usize, d: usize, r: f64) -> Vec<Vec<f64>> {
    let mut g = rng(seed);
    (0..n).map(|_| uniform(&mut g, d, -r, r)).collect()
}

// ---- reference densities written by hand (no snell code) ---------------------------------------

/// `ln N(x | mu, sigma)`
pub fn ln_normal(x: f64, mu: f64, sigma: f64) -> f64 {
    let z = (x - mu) / sigma;
    -0.5 * z * z - sigma.ln() - HALF_LN_2PI
}

/// Half-normal: `ln 2 + ln N(x | 0, sigma)` for `x ≥ 0`.
pub fn ln_half_normal(x: f64, sigma: f64) -> f64 {
    assert!(x >= 0.0);
    std::f64::consts::LN_2 - sigma.ln() - HALF_LN_2PI - 0.5 * (x / sigma).powi(2)
}

/// Half-Cauchy: `ln 2 − ln π − ln sigma − ln(1 + (x/sigma)²)` for `x ≥ 0`.
pub fn ln_half_cauchy(x: f64, sigma: f64) -> f64 {
    assert!(x >= 0.0);
    std::f64::consts::LN_2 - std::f64::consts::PI.ln() - sigma.ln() - (x / sigma).powi(2).ln_1p()
}

/// Logistic sigmoid.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `ln σ(y) + ln σ(−y)`, the log derivative of the logistic function.
pub fn ln_dsigmoid(y: f64) -> f64 {
    sigmoid(y).ln() + sigmoid(-y).ln()
}

/// Stan's stick-breaking transform of `K − 1` unconstrained values to a simplex of length `K`.
pub fn stick_breaking(y: &[f64]) -> Vec<f64> {
    let k = y.len() + 1;
    let mut rem = 1.0;
    let mut x = Vec::with_capacity(k);
    for (i, &yi) in y.iter().enumerate() {
        let z = sigmoid(yi - ((k - 1 - i) as f64).ln());
        x.push(rem * z);
        rem *= 1.0 - z;
    }
    x.push(rem);
    x
}

/// Expects `Err` of the given variant (a pattern) from building a model.
#[macro_export]
macro_rules! assert_err {
    ($e:expr, $pat:pat) => {{
        match $e {
            Err(ref err @ $pat) => {
                let _ = err.to_string();
            }
            Err(other) => panic!("{}: expected {}, got the error {other:?}", stringify!($e), stringify!($pat)),
            Ok(_) => panic!("{}: expected {}, got Ok", stringify!($e), stringify!($pat)),
        }
    }};
}

/// Whether a vector holds no NaN.
pub fn no_nan(v: &[f64]) -> bool {
    v.iter().all(|x| !x.is_nan())
}

/// The lower Cholesky factor used by the multivariate normal tests.
pub fn chol3() -> Matrix {
    Matrix::from_rows(&[[1.3, 0.0, 0.0], [0.4, 0.8, 0.0], [-0.6, 0.25, 1.1]]).unwrap()
}

/// The standard normal N(0, I) of dimension `d` as a hand-written density.
pub fn std_normal(d: usize) -> FnDensity<impl Fn(&[f64], &mut [f64]) -> f64 + Sync> {
    FnDensity::new(d, |q: &[f64], g: &mut [f64]| {
        g.iter_mut().zip(q).for_each(|(g, q)| *g = -q);
        -0.5 * q.iter().map(|x| x * x).sum::<f64>()
    })
}

/// Exact draws of N(0, I): one initial point per chain.
pub fn exact_inits(chains: usize, d: usize, seed: u64) -> Vec<Vec<f64>> {
    use rand_distr::{Distribution, StandardNormal};
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..chains).map(|_| (0..d).map(|_| StandardNormal.sample(&mut rng)).collect()).collect()
}

/// Final states of many short chains started from exact draws of N(0, I): if the kernel leaves
/// N(0, I) invariant they are exact independent draws, so their pooled mean and variance have
/// known sampling distributions.
pub fn check_invariance(draws: &Draws, d: usize) {
    let last: Vec<f64> = draws.chains.iter().flat_map(|c| c.values[c.values.len() - d..].to_vec()).collect();
    let n = last.len() as f64;
    let mean = last.iter().sum::<f64>() / n;
    let var = last.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    assert!(mean.abs() < 4.0 / n.sqrt(), "mean {mean}");
    assert!((var - 1.0).abs() < 4.0 * (2.0 / n).sqrt(), "variance {var}");
}

/// A diagonal Gaussian N(0, diag(var)) as a hand-written density.
pub fn diag_gaussian(var: Vec<f64>) -> FnDensity<impl Fn(&[f64], &mut [f64]) -> f64 + Sync> {
    FnDensity::new(var.len(), move |q: &[f64], g: &mut [f64]| {
        let mut lp = 0.0;
        for i in 0..q.len() {
            g[i] = -q[i] / var[i];
            lp -= 0.5 * q[i] * q[i] / var[i];
        }
        lp
    })
}

/// The same seed gives the same draws with 1 and 3 threads, another seed other draws, and chains
/// do not share a stream.
pub fn check_thread_reproducibility<S: snell::sampler::Sampler>(sampler: &S) {
    use snell::sampler::{run, RunConfig};
    let target = std_normal(5);
    let cfg = RunConfig { chains: 4, warmup: 100, draws: 50, seed: 11, init: None };
    let pool = |n| rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap();
    let one = pool(1).install(|| run(sampler, &target, &cfg).unwrap());
    let three = pool(3).install(|| run(sampler, &target, &cfg).unwrap());
    assert_eq!(one, three);
    let other = run(sampler, &target, &RunConfig { seed: 12, ..cfg }).unwrap();
    assert_ne!(one.chains[0].values, other.chains[0].values);
    assert_ne!(one.chains[0].values, one.chains[1].values, "chains must not share a stream");
}

/// Checks that `draws` (parameters 1..=3 after `lp__`: the weights `(w1, w2, b)` of a `Linear<2, 1>`
/// network) have the closed-form posterior of Bayesian linear regression with a bias, noise sd
/// `sigma` and prior sd `s0`: means within 4·MCSE + 2% of an sd, sds within 10%, R-hat < 1.01.
pub fn assert_linear_network_posterior(draws: &Draws, x: &Matrix, y: &[f64], sigma: f64, s0: f64) {
    let (mean, sd) = linear_network_posterior(x, y, sigma, s0);
    let s = draws.summary();
    for j in 0..3 {
        let row = &s.rows()[j + 1];
        assert!((row.mean - mean[j]).abs() < 4.0 * row.mcse_mean + 0.02 * sd[j], "{}: {} vs {} (mcse {})", row.name, row.mean, mean[j], row.mcse_mean);
        assert!((row.sd / sd[j] - 1.0).abs() < 0.1, "{}: sd {} vs {}", row.name, row.sd, sd[j]);
        assert!(row.rhat < 1.01);
    }
}

/// `n` points `(x₁, x₂)` and `y ≈ x₁ − x₂/2` plus a deterministic wiggle: the data of the
/// linear network regressions whose posterior [`linear_network_posterior`] gives.
pub fn linear_network_data(n: usize) -> (Matrix, Vec<f64>) {
    let x: Vec<f64> = (0..2 * n).map(|i| ((i as f64) * 0.37).sin() * 1.5).collect();
    let y: Vec<f64> = (0..n).map(|i| x[2 * i] - 0.5 * x[2 * i + 1] + 0.3 * ((i as f64) * 1.3).cos()).collect();
    (Matrix::new(n, 2, x).unwrap(), y)
}

/// The exact posterior means and sds of `(w₁, w₂, b)` of `y ~ N(w·x + b, sigma)` with N(0, s0²)
/// priors.
pub fn linear_network_posterior(x: &Matrix, y: &[f64], sigma: f64, s0: f64) -> (Vec<f64>, Vec<f64>) {
    use nalgebra::{DMatrix, DVector};
    let n = y.len();
    let xm = DMatrix::from_fn(n, 3, |i, j| if j < 2 { x.get(i, j) } else { 1.0 });
    let precision = xm.transpose() * &xm / (sigma * sigma) + DMatrix::identity(3, 3) / (s0 * s0);
    let cov = precision.try_inverse().unwrap();
    let mean = &cov * (xm.transpose() * DVector::from_vec(y.to_vec()) / (sigma * sigma));
    ((0..3).map(|j| mean[j]).collect(), (0..3).map(|j| cov[(j, j)].sqrt()).collect())
}
