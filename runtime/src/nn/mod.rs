//! Bayesian neural networks. The way to write one is a `#[model]` that takes the network as data
//! ([`Mlp`], [`Network`] or [`SequenceNetwork`]) and calls `net.forward(w, x)` on a vector parameter
//! of its weights. On a dfdx device an [`Mlp`]'s layers are the backend's own operations, so such a
//! model runs there whole ([`run_device`](crate::sampler::run_device)). A general dfdx module
//! cannot (a dfdx 0.13 module holds one set of weights as its own tensors, with no forward pass
//! over weights given as a tensor): the targets here ([`NetworkRegression`],
//! [`NetworkClassifier`], [`NetworkSequenceModel`]) are such a network whose weights are
//! parameters, with a Gaussian prior on every weight and a Gaussian or categorical likelihood, as
//! a [`Target`](crate::target::Target) with minibatches whose device evaluation keeps the whole
//! population's weights on the network's dfdx device, one module pass per member.
//!
//! The network is any dfdx module built from its layers (`Linear`, activations, `LayerNorm`, …)
//! mapping `(batch, I)` inputs to one output. Its trainable tensors, in dfdx's order, form the flat
//! parameter vector `w.1 … w.K`; with a learned noise scale, `sigma` (sampled as `ln sigma`, its
//! Jacobian added) comes last. Inputs and targets live on the network's device; each evaluation
//! writes the weights into the module, runs the forward and reverse pass there and returns the
//! gradient on the host.
//!
//! Inside a `#[model]`, [`Network`], [`Mlp`] and [`SequenceNetwork`] (token windows to logits) are
//! data arguments called on a vector parameter of their weights, beside any other priors and
//! likelihoods; [`CategoricalLogitRows`](crate::dist::CategoricalLogitRows) is the likelihood of a
//! classifier's or a token model's rows of logits there.
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
mod device;
mod mlp_layers;
pub mod module;
mod network;
mod regression;
mod sequence;
mod sequence_network;
mod weights;

pub use module::{flatten, load, tensor_sizes};
pub use classifier::NetworkClassifier;
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
pub use regression::{NetworkRegression, Noise};
pub use sequence::NetworkSequenceModel;
pub use sequence_network::SequenceNetwork;
pub(crate) use weights::Weights;

use crate::data::Matrix;

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
