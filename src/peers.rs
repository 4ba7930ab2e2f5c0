//! The four models of the peer comparison (NumPyro and nutpie figures in the benchmark), with data
//! generated as the comparison describes them, from a fixed seed. Used by `examples/benchmark.rs`
//! and `examples/gradient_bench.rs`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use snell::prelude::*;

/// Eight schools, non-centred.
#[model]
pub fn eight_schools(y: &[f64], sigma: &[f64]) {
    let mu = sample!(Normal(0.0, 5.0));
    let tau = sample!(HalfCauchy(5.0));
    let theta_raw = sample!([y.len()] ~ Normal(0.0, 1.0));
    observe!(y ~ Normal(mu + tau * theta_raw, sigma));
}

/// Linear regression: alpha ~ N(0, 10), beta ~ N(0, 2.5), sigma ~ HalfNormal(5).
#[model]
pub fn linear_regression(x: &Matrix, y: &[f64]) {
    let alpha = sample!(Normal(0.0, 10.0));
    let beta = sample!([x.cols()] ~ Normal(0.0, 2.5));
    let sigma = sample!(HalfNormal(5.0));
    observe!(y ~ Normal(alpha + x.matvec(beta), sigma));
}

/// Logistic regression: alpha, beta ~ N(0, 2.5).
#[model]
pub fn logistic_regression(x: &Matrix, y: &[f64]) {
    let alpha = sample!(Normal(0.0, 2.5));
    let beta = sample!([x.cols()] ~ Normal(0.0, 2.5));
    observe!(y ~ BernoulliLogit(alpha + x.matvec(beta)));
}

/// Hierarchical normal, non-centred: mu, tau, sigma and standardised group effects.
#[model]
pub fn hierarchical_normal(y: &[f64], group: &[usize], n_groups: usize) {
    let mu = sample!(Normal(0.0, 5.0));
    let tau = sample!(HalfNormal(2.5));
    let eta = sample!([n_groups] ~ Normal(0.0, 1.0));
    let sigma = sample!(HalfNormal(2.5));
    observe!(y ~ Normal((mu + tau * eta).gather(group), sigma));
}

/// The four models with their data.
pub struct PeerModels {
    /// Rubin's eight schools.
    pub eight_schools: EightSchools,
    /// 1000 rows, 10 standard normal features.
    pub linear_regression: LinearRegression,
    /// 1000 rows, 10 AR(0.5)-correlated features, 2 null effects.
    pub logistic_regression: LogisticRegression,
    /// 30 groups of 2–15 observations.
    pub hierarchical_normal: HierarchicalNormal,
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    StandardNormal.sample(rng)
}

impl PeerModels {
    /// Builds the models; the simulated data depend only on `seed`.
    pub fn generate(seed: u64) -> Result<Self, ModelError> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let eight_schools = EightSchools::new(&[28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0], &[15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])?;

        let (n, k) = (1000, 10);
        let x: Vec<f64> = (0..n * k).map(|_| normal(&mut rng)).collect();
        let beta: Vec<f64> = (0..k).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let y: Vec<f64> = (0..n).map(|i| 0.5 + (0..k).map(|j| x[i * k + j] * beta[j]).sum::<f64>() + normal(&mut rng)).collect();
        let linear_regression = LinearRegression::new(&Matrix::new(n, k, x)?, &y)?;

        let mut x = vec![0.0; n * k];
        for i in 0..n {
            for j in 0..k {
                let e = normal(&mut rng);
                x[i * k + j] = if j == 0 { e } else { 0.5 * x[i * k + j - 1] + 0.75f64.sqrt() * e };
            }
        }
        let beta: Vec<f64> = (0..k).map(|j| if j < 2 { 0.0 } else { rng.gen_range(-1.0..1.0) }).collect();
        let y: Vec<f64> = (0..n)
            .map(|i| {
                let eta = -0.3 + (0..k).map(|j| x[i * k + j] * beta[j]).sum::<f64>();
                f64::from(u8::from(rng.gen_bool(1.0 / (1.0 + (-eta).exp()))))
            })
            .collect();
        let logistic_regression = LogisticRegression::new(&Matrix::new(n, k, x)?, &y)?;

        let groups = 30;
        let (mut y, mut group) = (Vec::new(), Vec::new());
        for g in 0..groups {
            let effect = 1.0 + 2.0 * normal(&mut rng);
            for _ in 0..rng.gen_range(2..=15) {
                y.push(effect + 3.0 * normal(&mut rng));
                group.push(g);
            }
        }
        let hierarchical_normal = HierarchicalNormal::new(&y, &group, groups)?;
        Ok(Self { eight_schools, linear_regression, logistic_regression, hierarchical_normal })
    }
}
