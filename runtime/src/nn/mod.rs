//! Bayesian neural networks: a dfdx network whose weights are parameters, with a Gaussian prior on
//! every weight and a Gaussian ([`NetworkRegression`]) or categorical ([`NetworkClassifier`])
//! likelihood, as a [`Target`](crate::sampler::Target) (and a
//! [`MinibatchTarget`](crate::sampler::MinibatchTarget), so that stochastic-gradient samplers can
//! run on it) that every sampler of the crate consumes.
//!
//! The network is any dfdx module built from its layers (`Linear`, activations, `LayerNorm`, …)
//! mapping `(batch, I)` inputs to one output. Its trainable tensors, in dfdx's order, form the flat
//! parameter vector `w.1 … w.K`; with a learned noise scale, `sigma` (sampled as `ln sigma`, its
//! Jacobian added) comes last. Inputs and targets live on the network's device; each evaluation
//! writes the weights into the module, runs the forward and reverse pass there and returns the
//! gradient on the host.
//!
//! ```no_run
//! use snell::nn::layers::{Linear, Tanh};
//! use snell::nn::{Noise, NetworkRegression, WeightPrior};
//! use snell::sampler::{nuts::Nuts, run, RunConfig};
//! use snell::Matrix;
//!
//! // y = sin(x) + noise at 20 points, a 1-20-1 tanh network
//! let xs: Vec<f64> = (0..20).map(|i| -3.0 + 6.0 * i as f64 / 19.0).collect();
//! let ys: Vec<f64> = xs.iter().map(|x| x.sin()).collect();
//! let x = Matrix::new(20, 1, xs).unwrap();
//! type Net = (Linear<1, 20>, Tanh, Linear<20, 1>);
//! let target = NetworkRegression::<Net, 1>::new(Default::default(), &x, &ys, WeightPrior::isotropic(1.0), Noise::Gamma { shape: 2.0, rate: 10.0 }).unwrap();
//! let draws = run(&Nuts::default(), &target, &RunConfig::default()).unwrap();
//! println!("{}", draws.summary());
//! ```

mod classifier;
mod network;
mod regression;
mod sequence;
mod weights;

pub use crate::backend::network::{flatten, load, tensor_sizes};
pub use classifier::NetworkClassifier;
/// dfdx's layer builders (`Linear`, `Tanh`, `ReLU`, `LayerNorm1D`, …), to declare networks with.
pub use dfdx::nn::builders as layers;
pub use dfdx::nn::BuildOnDevice;
/// dfdx's CPU device.
pub use dfdx::tensor::Cpu;
pub use network::{Activation, Mlp, Network, NetworkWeights};
pub use regression::{NetworkRegression, Noise};
pub use sequence::NetworkSequenceModel;
pub(crate) use weights::Weights;

pub(crate) const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// The prior on the weights: independent normals with mean 0 and one standard deviation per
/// trainable tensor (isotropic by default).
#[derive(Clone, Debug, PartialEq)]
pub struct WeightPrior {
    sd: Vec<f64>,
}

impl WeightPrior {
    /// Every weight `~ Normal(0, sd)`.
    pub fn isotropic(sd: f64) -> Self {
        Self { sd: vec![sd] }
    }
    /// Tensor `k` of the network (dfdx's order: for `Linear`, weight then bias) `~ Normal(0, sd[k])`.
    pub fn per_tensor(sd: Vec<f64>) -> Self {
        Self { sd }
    }
}

/// Posterior predictive summaries at test points.
#[derive(Clone, Debug, PartialEq)]
pub struct Bands {
    /// The probabilities of [`Bands::quantiles`].
    pub probs: Vec<f64>,
    /// Mean output at each test point.
    pub mean: Vec<f64>,
    /// `quantiles[k][j]`: quantile `probs[k]` at test point `j`.
    pub quantiles: Vec<Vec<f64>>,
}


/// A minibatch must be non-empty and index existing observations.
pub(crate) fn check_batch(batch: &[usize], n: usize) -> Result<(), crate::error::ModelError> {
    use crate::error::ModelError;
    if batch.is_empty() {
        return Err(ModelError::Data { name: "batch".into(), detail: "a minibatch needs at least one observation".into() });
    }
    if let Some(&i) = batch.iter().find(|&&i| i >= n) {
        return Err(ModelError::Data { name: "batch".into(), detail: format!("index {i} out of range for {n} observations") });
    }
    Ok(())
}

/// A parameter vector must have the target's dimension.
pub(crate) fn check_len(q: &[f64], expected: usize) -> Result<(), crate::error::ModelError> {
    if q.len() != expected {
        return Err(crate::error::ModelError::Dimension { what: "network parameters".into(), expected, got: q.len() });
    }
    Ok(())
}
