//! Bayesian neural networks. The way to write one is a `#[model]` that takes the network as data
//! ([`Mlp`], [`Network`] or [`SequenceNetwork`]) and calls `net.forward(w, x)` on a vector parameter
//! of its weights, beside any other priors and likelihoods;
//! [`CategoricalLogitRows`](crate::dist::CategoricalLogitRows) is the likelihood of a classifier's
//! or a token model's rows of logits. Such a model runs on every backend and device: on a dfdx
//! backend an [`Mlp`]'s layers are the backend's own operations, batched over the population, and
//! a [`Network`]'s or [`SequenceNetwork`]'s dfdx module runs once per population member on the
//! backend's own device and tape ([`run_device`](crate::sampler::run_device) keeps the whole
//! population there).
//!
//! A network is any dfdx module built from its layers (`Linear`, activations, `LayerNorm`,
//! embeddings, transformer blocks, …). Its trainable tensors, in dfdx's order, form the flat
//! weight vector; [`WeightPrior`] gives the weights' Gaussian prior scales.
//!
//! ```no_run
//! use snell::nn::layers::{Linear, Tanh};
//! use snell::nn::{Network, WeightPrior};
//! use snell::prelude::*;
//! use snell::sampler::{nuts::Nuts, run, RunConfig};
//!
//! type Net = (Linear<1, 20>, Tanh, Linear<20, 1>);
//!
//! #[model(observations(x, y))]
//! fn bnn(net: &Network<Net, 1, 1>, x: &Matrix, y: &[f64]) {
//!     let w = sample!([net.len()] ~ Normal(0.0, net.prior_sd()));
//!     let sigma = sample!(Gamma(2.0, 10.0));
//!     observe!(y ~ Normal(net.forward(w, x), sigma));
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // y = sin(x) at 20 points, a 1-20-1 tanh network
//! let xs: Vec<f64> = (0..20).map(|i| -3.0 + 6.0 * i as f64 / 19.0).collect();
//! let ys: Vec<f64> = xs.iter().map(|x| x.sin()).collect();
//! let net = Network::<Net, 1, 1>::new(WeightPrior::isotropic(1.0))?;
//! let model = Bnn::new(&net, &Matrix::new(20, 1, xs)?, &ys)?;
//! let draws = run(&Nuts::default(), &model, &RunConfig::default())?;
//! println!("{}", draws.summary());
//! # Ok(()) }
//! ```

mod mlp_layers;
pub mod module;
mod network;
mod sequence_network;
mod weights;

pub use module::{flatten, load, tensor_sizes};
/// dfdx's layer builders (`Linear`, `Tanh`, `ReLU`, `LayerNorm1D`, …), to declare networks with.
pub use dfdx::nn::builders as layers;
pub use dfdx::nn::BuildOnDevice;
// dfdx, re-exported from this one place: its layers to declare networks with, and its devices,
// on which networks and the device execution run.
/// dfdx's CPU device (`Cpu::seed_from_u64(seed)` seeds its random stream).
pub use dfdx::tensor::Cpu;
/// dfdx's CUDA device (`Cuda::try_build(ordinal, seed)`).
#[cfg(feature = "cuda")]
pub use dfdx::tensor::Cuda;
/// dfdx's device trait: what networks and the device execution run on.
pub use dfdx::tensor_ops::Device as DfdxDevice;
pub use network::{Activation, Mlp, MlpKernel, Network, NetworkWeights};
pub use sequence_network::SequenceNetwork;
pub(crate) use weights::Weights;

use crate::data::Matrix;


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


/// Mean and quantiles of the outputs at the rows of `x` (`inputs` columns) over the weight vectors
/// `weights`, a batch of test points at a time: never all draws × all points in memory at once.
/// `predict(w, rows)` gives one output per row of `rows` (row-major, `inputs` columns).
pub(crate) fn bands_over(weights: &[&[f64]], x: &Matrix, inputs: usize, probs: &[f64], batch: usize, predict: impl Fn(&[f64], &[f64]) -> Vec<f64>) -> Result<Bands, crate::error::ModelError> {
    use crate::error::ModelError;
    if x.cols() != inputs {
        return Err(ModelError::Data { name: "x".into(), detail: format!("has {} columns, the network takes {inputs} inputs", x.cols()) });
    }
    if let Some(p) = probs.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        return Err(ModelError::Data { name: "probs".into(), detail: format!("{p} is not a probability") });
    }
    if weights.is_empty() {
        return Err(ModelError::Data { name: "draws".into(), detail: "there are no draws".into() });
    }
    let mut bands = Bands { mean: Vec::with_capacity(x.rows()), quantiles: vec![Vec::with_capacity(x.rows()); probs.len()], probs: probs.to_vec() };
    let batch = batch.max(1);
    for start in (0..x.rows()).step_by(batch) {
        let end = (start + batch).min(x.rows());
        let rows = &x.data()[start * inputs..end * inputs];
        let outs: Vec<Vec<f64>> = weights.iter().map(|w| predict(w, rows)).collect();
        for j in 0..end - start {
            let column: Vec<f64> = outs.iter().map(|o| o[j]).collect();
            bands.mean.push(column.iter().sum::<f64>() / column.len() as f64);
            for (b, &p) in bands.quantiles.iter_mut().zip(probs) {
                b.push(crate::diagnostics::quantile(&column, p));
            }
        }
    }
    Ok(bands)
}

/// A weight vector must have the network's length.
pub(crate) fn check_len(q: &[f64], expected: usize) -> Result<(), crate::error::ModelError> {
    if q.len() != expected {
        return Err(crate::error::ModelError::Dimension { what: "network parameters".into(), expected, got: q.len() });
    }
    Ok(())
}
