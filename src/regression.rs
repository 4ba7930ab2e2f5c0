//! A Bayesian linear regression with known noise, indexed by observation for minibatches, with its
//! exact Gaussian posterior: the reference for stochastic-gradient sampling (tests and the heating
//! example).

use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use snell::prelude::*;

/// `beta ~ N(0, 10²)`, `y ~ N(X beta, sigma)` with `sigma` known.
#[model(observations(x, y))]
pub fn linreg_known_sigma(x: &Matrix, y: &[f64], sigma: f64) {
    let beta = sample!([x.cols()] ~ Normal(0.0, 10.0));
    observe!(y ~ Normal(x.matvec(beta), sigma));
}

/// Simulated data and the exact posterior.
pub struct Regression {
    /// Design rows: an intercept and `k − 1` standard normal predictors.
    pub rows: Vec<Vec<f64>>,
    /// Responses, `sigma = 1`.
    pub y: Vec<f64>,
    /// Exact posterior mean of `beta`.
    pub mean: Vec<f64>,
    /// Exact posterior sds of `beta`.
    pub sd: Vec<f64>,
}

impl Regression {
    /// The noise sd.
    pub const SIGMA: f64 = 1.0;

    /// `n` observations of `k` coefficients `1, 0.9, 0.8, …`, seed `seed`.
    pub fn simulate(n: usize, k: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let beta: Vec<f64> = (0..k).map(|j| 1.0 - 0.1 * j as f64).collect();
        let rows: Vec<Vec<f64>> = (0..n).map(|_| (0..k).map(|j| if j == 0 { 1.0 } else { rng.sample(StandardNormal) }).collect()).collect();
        let y: Vec<f64> = rows.iter().map(|r| r.iter().zip(&beta).map(|(x, b)| x * b).sum::<f64>() + Self::SIGMA * rng.sample::<f64, _>(StandardNormal)).collect();
        let x = DMatrix::from_fn(n, k, |i, j| rows[i][j]);
        let s2 = Self::SIGMA * Self::SIGMA;
        let prec = x.transpose() * &x / s2 + DMatrix::identity(k, k) / 100.0;
        let cov = prec.try_inverse().expect("a positive definite posterior precision");
        let mean = &cov * x.transpose() * DVector::from_vec(y.clone()) / s2;
        Self { mean: mean.iter().cloned().collect(), sd: (0..k).map(|i| cov[(i, i)].sqrt()).collect(), rows, y }
    }

    /// The model on these data.
    pub fn model(&self) -> Result<LinregKnownSigma, ModelError> {
        LinregKnownSigma::new(&Matrix::from_rows(&self.rows)?, &self.y, Self::SIGMA)
    }
}
