//! The Bayesian neural net for 1-D regression (the Langevin neural-net workflow,
//! G. Ross's `langevin_neural_nets`) in the model language: a fully connected net `1 → H → … → 1` with
//! hidden activation `1 + tanh`, Gaussian noise σ, iid N(0, s²) priors on every weight and bias,
//! and σ ~ Gamma(shape a, scale 1). The network is a [`Mlp`], so a population of parameter
//! vectors (SMC's particles) is one batched evaluation; the unconstrained vector is
//! `[ln σ, W₁, b₁, W₂, b₂, …]` with each `W` row-major `(out, in)`.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use snell::nn::{Activation, Mlp, WeightPrior};
use snell::prelude::*;

/// `σ ~ Gamma(noise_shape, 1)`, the weights `w ~ N(0, s²)` (the prior `net` was built with) and
/// `y_i ~ N(f_w(x_i), σ)`.
#[model(observations(x, y))]
pub fn bnn(net: &Mlp, x: &Matrix, y: &[f64], noise_shape: f64) {
    let sigma = sample!(Gamma(noise_shape, 1.0));
    let w = sample!([net.len()] ~ Normal(0.0, net.prior_sd()));
    observe!(y ~ Normal(net.forward(w, x), sigma));
}

/// The Langevin workflow's net: one input, `hidden` layers of `1 + tanh` units, one output, N(0, s²) on every
/// weight and bias (`s = weight_scale`).
pub fn seed_net(hidden: &[usize], weight_scale: f64) -> Result<Mlp, ModelError> {
    let widths: Vec<usize> = std::iter::once(1).chain(hidden.iter().copied()).chain(std::iter::once(1)).collect();
    Mlp::new(&widths, Activation::OnePlusTanh, WeightPrior::isotropic(weight_scale))
}

/// The Langevin workflow's regression data: `n` points of `y = 4 sin(x − 2) + sin(8x − 2) − 4x² + N(0, 0.5²)`
/// at x uniform on [0, 1], as an `n × 1` input matrix and the outputs.
pub fn toy_data(n: usize, rng: &mut ChaCha8Rng) -> (Matrix, Vec<f64>) {
    let x: Vec<f64> = (0..n).map(|_| rng.gen_range(0.0..1.0)).collect();
    let y = x.iter().map(|&x| truth(x) + 0.5 * rng.sample::<f64, _>(StandardNormal)).collect();
    (Matrix::new(n, 1, x).expect("n × 1"), y)
}

/// The noiseless curve `4 sin(x − 2) + sin(8x − 2) − 4x²`.
pub fn truth(x: f64) -> f64 {
    4.0 * (x - 2.0).sin() + (8.0 * x - 2.0).sin() - 4.0 * x * x
}
