//! The Bayesian neural network regression the ray tracing sampler is for: a 1-H-1 tanh network,
//! every weight ~ Normal(0, 1), on 20 noisy points of sin(x) (x uniform on [−3, 3], noise sd 0.1),
//! and its predictive distribution at 50 test points on [−5, 5], inside and outside the data.
//!
//! `examples/network_reference.rs` stores a long NUTS run's predictive means and sds as test
//! data (`tests/data/sin_net_1_20_1.json`); the tests hold ray tracing to it. The weights are
//! not identified (sign and permutation symmetries), so the comparison is in function space.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use snell::diagnostics::{ess_bulk, mcse_mean, rhat};
use snell::nn::{Activation, Mlp, WeightPrior};
use snell::prelude::*;
use snell::sampler::Draws;
use std::path::PathBuf;

/// The observation noise's sd.
pub const NOISE: f64 = 0.1;

/// The network `net` on `(x, y)`: every weight ~ Normal(0, 1), known noise.
#[model(observations(x, y))]
pub fn sin_net(net: &Mlp, x: &Matrix, y: &[f64]) {
    let w = sample!([net.len()] ~ Normal(0.0, 1.0));
    observe!(y ~ Normal(net.forward(w, x), NOISE));
}

/// The 20 observations (seed 20): x uniform on [−3, 3], y = sin(x) + N(0, 0.1²).
pub fn sin_data() -> (Matrix, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(20);
    let xs: Vec<f64> = (0..20).map(|_| rng.gen_range(-3.0..3.0)).collect();
    let noise = Normal::new(0.0, NOISE).expect("a positive sd");
    let ys = xs.iter().map(|x| x.sin() + noise.sample(&mut rng)).collect();
    (Matrix::new(20, 1, xs).expect("20 × 1"), ys)
}

/// The 1-`hidden`-1 tanh network with N(0, 1) weights.
pub fn sin_network(hidden: usize) -> Mlp {
    Mlp::new(&[1, hidden, 1], Activation::Tanh, WeightPrior::isotropic(1.0)).expect("valid widths")
}

/// 50 test points evenly spaced on [−5, 5]: the data cover [−3, 3].
pub fn test_points() -> Matrix {
    Matrix::new(50, 1, (0..50).map(|i| -5.0 + 10.0 * i as f64 / 49.0).collect()).expect("50 × 1")
}

/// The predictive distribution of the network's output at each test point, as sampled.
#[derive(Clone, Debug, PartialEq)]
pub struct Predictive {
    /// The test points.
    pub x: Vec<f64>,
    /// Mean of f(x) over the draws.
    pub mean: Vec<f64>,
    /// Standard deviation of f(x) over the draws.
    pub sd: Vec<f64>,
    /// Monte Carlo standard error of each mean.
    pub mcse: Vec<f64>,
    /// R-hat of f(x) across chains.
    pub rhat: Vec<f64>,
    /// Bulk ESS of f(x).
    pub ess: Vec<f64>,
}

impl Predictive {
    /// The moments of `net`'s output at the rows of `x` over `draws` (the weights named `w`,
    /// recorded in order).
    pub fn of(net: &Mlp, draws: &Draws, x: &Matrix) -> Result<Self, ModelError> {
        let k = net.len();
        let mut series = vec![vec![Vec::new(); draws.chains.len()]; x.rows()];
        for (c, chain) in draws.chains.iter().enumerate() {
            for w in chain.values.chunks(k) {
                for (i, f) in net.predict(&w[..k], x)?.into_iter().enumerate() {
                    series[i][c].push(f);
                }
            }
        }
        let mut out = Predictive { x: (0..x.rows()).map(|i| x.get(i, 0)).collect(), mean: vec![], sd: vec![], mcse: vec![], rhat: vec![], ess: vec![] };
        for chains in &series {
            let views: Vec<&[f64]> = chains.iter().map(Vec::as_slice).collect();
            let all = chains.concat();
            let n = all.len() as f64;
            let m = all.iter().sum::<f64>() / n;
            out.mean.push(m);
            out.sd.push((all.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
            out.mcse.push(mcse_mean(&views));
            out.rhat.push(rhat(&views));
            out.ess.push(ess_bulk(&views));
        }
        Ok(out)
    }

    /// Where these draws disagree with `reference`: a mean further than 4 combined MCSE, an sd
    /// more than `sd_tolerance` off (relative), an R-hat above `max_rhat`. Empty when they agree.
    pub fn disagreements(&self, reference: &Predictive, sd_tolerance: f64, max_rhat: f64) -> Vec<String> {
        let mut out = Vec::new();
        for i in 0..self.x.len() {
            let x = self.x[i];
            let se = (self.mcse[i].powi(2) + reference.mcse[i].powi(2)).sqrt();
            if (self.mean[i] - reference.mean[i]).abs() > 4.0 * se {
                out.push(format!("x = {x:.3}: mean {:.4} vs {:.4} (4·MCSE {:.4})", self.mean[i], reference.mean[i], 4.0 * se));
            }
            if (self.sd[i] / reference.sd[i] - 1.0).abs() > sd_tolerance {
                out.push(format!("x = {x:.3}: sd {:.4} vs {:.4}", self.sd[i], reference.sd[i]));
            }
            if self.rhat[i] > max_rhat || self.rhat[i].is_nan() {
                out.push(format!("x = {x:.3}: R-hat {:.4}", self.rhat[i]));
            }
        }
        out
    }

    /// As JSON, with a note of how it was made.
    pub fn to_json(&self, made_by: &str) -> serde_json::Value {
        serde_json::json!({ "made_by": made_by, "x": self.x, "mean": self.mean, "sd": self.sd, "mcse": self.mcse, "rhat": self.rhat, "ess": self.ess })
    }

    /// From the JSON of [`to_json`](Predictive::to_json).
    pub fn from_json(v: &serde_json::Value) -> Option<Self> {
        let reals = |k: &str| v[k].as_array().map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect::<Vec<f64>>());
        Some(Predictive { x: reals("x")?, mean: reals("mean")?, sd: reals("sd")?, mcse: reals("mcse")?, rhat: reals("rhat")?, ess: reals("ess")? })
    }
}

/// Where the reference of the 1-`hidden`-1 network is stored.
pub fn reference_path(hidden: usize) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("data").join(format!("sin_net_1_{hidden}_1.json"))
}

/// The stored reference of the 1-`hidden`-1 network.
pub fn reference(hidden: usize) -> Result<Predictive, String> {
    let path = reference_path(hidden);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e} (made by `cargo run --release --example network_reference`)", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Predictive::from_json(&v).ok_or_else(|| format!("{}: not a predictive reference", path.display()))
}
