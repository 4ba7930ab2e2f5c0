//! [`NetworkRegression`]: a network with a Gaussian likelihood on one output.

use super::{Bands, WeightPrior, Weights, HALF_LN_2PI};
use crate::nn::module::{DeviceNetwork, NetworkBuilder, NetworkDevice, Loss};
use dfdx::nn::BuildOnDevice;
use super::device::DevicePrior;
use crate::backend::{DfdxElem, PointDevice};
use crate::data::Matrix;
use crate::error::ModelError;
use crate::target::{logp_grad_rows, Parts, Target};
use crate::special::lgamma as ln_gamma;
use dfdx::tensor_ops::Device;

/// The observation noise of the Gaussian likelihood.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Noise {
    /// A known standard deviation.
    Fixed(f64),
    /// A parameter `sigma ~ Gamma(shape, rate)`, sampled as `ln sigma`.
    Gamma {
        /// Shape of the prior.
        shape: f64,
        /// Rate of the prior.
        rate: f64,
    },
}

/// Checks regression data for a network of `inputs` inputs and the noise's settings.
pub(crate) fn check_data(x: &Matrix, y: &[f64], inputs: usize, noise: Noise) -> Result<(), ModelError> {
    let data = |name: &str, detail: String| ModelError::Data { name: name.into(), detail };
    if x.cols() != inputs {
        return Err(data("x", format!("has {} columns, the network takes {inputs} inputs", x.cols())));
    }
    if x.rows() != y.len() || y.is_empty() {
        return Err(data("y", format!("has {} values for {} rows of x (at least one needed)", y.len(), x.rows())));
    }
    if let Some(v) = x.data().iter().chain(y).find(|v| !v.is_finite()) {
        return Err(data("x, y", format!("contain a non-finite value ({v})")));
    }
    match noise {
        Noise::Fixed(s) if !(s > 0.0 && s.is_finite()) => Err(data("noise", format!("sd {s} must be positive and finite"))),
        Noise::Gamma { shape, rate } if !(shape > 0.0 && rate > 0.0 && shape.is_finite() && rate.is_finite()) => Err(data("noise", format!("Gamma({shape}, {rate}) needs a positive, finite shape and rate"))),
        _ => Ok(()),
    }
}

/// `w.1 … w.K`, then `sigma` when the noise is learned.
pub(crate) fn names_with_noise(weights: &Weights, noise: Noise) -> Vec<String> {
    let mut names = weights.names();
    if matches!(noise, Noise::Gamma { .. }) {
        names.push("sigma".into());
    }
    names
}

/// `q` with `sigma = exp(last)` when the noise is learned.
pub(crate) fn constrain_noise(q: &[f64], noise: Noise) -> Vec<f64> {
    let mut out = q.to_vec();
    if matches!(noise, Noise::Gamma { .. }) {
        let last = out.len() - 1;
        out[last] = out[last].exp();
    }
    out
}

/// Weights at the scale of their initialisation, then `ln sigma = 0` when the noise is learned.
pub(crate) fn init_with_noise(weights: &Weights, noise: Noise, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
    let mut q = weights.init(rng);
    if matches!(noise, Noise::Gamma { .. }) {
        q.push(0.0);
    }
    q
}

/// `y_i ~ Normal(f_w(x_i), sigma)` with `w ~ WeightPrior` for a dfdx network `f` built from the
/// builder type `B` (e.g. `(Linear<1, 50>, Tanh, Linear<50, 1>)`) with `I` inputs, in element type
/// `E` on device `D` (f64 on the CPU by default).
pub struct NetworkRegression<B: BuildOnDevice<D, E>, const I: usize, E: DfdxElem = f64, D: Device<E> = dfdx::tensor::Cpu> {
    net: DeviceNetwork<B, I, 1, E, D>,
    weights: Weights,
    noise: Noise,
    names: Vec<String>,
    /// The prior on the device (for the device evaluation).
    device_prior: DevicePrior<E, D>,
}

impl<B, const I: usize, E, D> NetworkRegression<B, I, E, D>
where
    E: DfdxElem,
    D: NetworkDevice<E>,
    B: NetworkBuilder<I, 1, E, D>,
{
    /// The model for inputs `x` (`n × I`) and targets `y` (`n`) on device `dev`; checks the data
    /// and the prior.
    pub fn new(dev: D, x: &Matrix, y: &[f64], prior: WeightPrior, noise: Noise) -> Result<Self, ModelError> {
        check_data(x, y, I, noise)?;
        let net = DeviceNetwork::<B, I, 1, E, D>::new(dev, x.data(), y, Loss::SquaredError);
        let weights = Weights::new(&net.tensor_sizes(), &net.initial_weights(), &prior)?;
        let device_prior = DevicePrior::new(net.device(), weights.sds());
        let names = names_with_noise(&weights, noise);
        Ok(Self { net, weights, noise, names, device_prior })
    }

    /// Number of weights.
    pub fn n_weights(&self) -> usize {
        self.weights.len()
    }

    /// The parameters' names: `w.1 … w.K`, then `sigma` when the noise is learned.
    pub fn param_names(&self) -> &[String] {
        &self.names
    }

    /// The constrained values of an unconstrained point (`sigma = exp(last)`).
    pub fn constrain_point(&self, q: &[f64]) -> Result<Vec<f64>, ModelError> {
        self.check(q)?;
        Ok(constrain_noise(q, self.noise))
    }

    /// A starting point: weights at the scale of dfdx's initialisation, `ln sigma = 0`.
    pub fn init_point(&self, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
        init_with_noise(&self.weights, self.noise, rng)
    }

    /// The network, the prior on the device and the noise, for the device density.
    pub(crate) fn device_parts(&self) -> (&DeviceNetwork<B, I, 1, E, D>, &DevicePrior<E, D>, Noise) {
        (&self.net, &self.device_prior, self.noise)
    }

    /// The network's outputs at the rows of `x` for the unconstrained point `q`.
    pub fn predict(&self, q: &[f64], x: &Matrix) -> Result<Vec<f64>, ModelError> {
        self.check(q)?;
        if x.cols() != I {
            return Err(ModelError::Data { name: "x".into(), detail: format!("has {} columns, the network takes {I} inputs", x.cols()) });
        }
        Ok(self.net.predict(&q[..self.n_weights()], x.data()))
    }

    /// Posterior predictive bands of the network's output at the rows of `x`: the mean and the
    /// `probs` quantiles over all draws (values as the samplers record them: weights, then `sigma`
    /// if learned). Test points are taken `batch` at a time, so memory holds draws × `batch`
    /// outputs, never draws × all test points.
    pub fn predictive_bands(&self, draws: &crate::sampler::Draws, x: &Matrix, probs: &[f64], batch: usize) -> Result<Bands, ModelError> {
        if draws.names.len() != self.names.len() {
            return Err(ModelError::Dimension { what: "values per draw".into(), expected: self.names.len(), got: draws.names.len() });
        }
        let k = self.n_weights();
        let width = self.names.len();
        let weights: Vec<&[f64]> = draws.chains.iter().flat_map(|c| c.values.chunks(width)).map(|v| &v[..k]).collect();
        super::bands_over(&weights, x, I, probs, batch, |w, rows| self.net.predict(w, rows))
    }

    fn check(&self, q: &[f64]) -> Result<(), ModelError> {
        super::check_len(q, self.names.len())
    }

    /// The log prior (with the Jacobian of `sigma = exp(u)`) and the unscaled log likelihood of
    /// `batch` (all observations for `None`) at `q`; the gradient of `log prior + weight · log
    /// likelihood` is written to `grad`.
    fn parts(&self, q: &[f64], batch: Option<&[usize]>, weight: f64, grad: &mut [f64]) -> Result<(f64, f64), ModelError> {
        self.check(q)?;
        let k = self.n_weights();
        let (w, rest) = q.split_at(k);
        let (sigma, ln_sigma) = match self.noise {
            Noise::Fixed(s) => (s, s.ln()),
            Noise::Gamma { .. } => (rest[0].exp(), rest[0]),
        };
        let (b, _) = self.net.batch_scale(batch);
        let mut g_sse = Vec::with_capacity(k);
        let sse = self.net.loss_grad(w, batch, &mut g_sse);
        let log_lik = -0.5 * sse / (sigma * sigma) - b as f64 * (ln_sigma + HALF_LN_2PI);
        let mut log_prior = self.weights.log_prior_grad(w, &mut grad[..k]);
        for i in 0..k {
            grad[i] -= weight * 0.5 * g_sse[i] / (sigma * sigma);
        }
        if let Noise::Gamma { shape, rate } = self.noise {
            // Gamma(shape, rate) on sigma, + ln sigma for the Jacobian of sigma = exp(u)
            log_prior += shape * rate.ln() - ln_gamma(shape) + shape * ln_sigma - rate * sigma;
            grad[k] = weight * (sse / (sigma * sigma) - b as f64) + shape - rate * sigma;
        }
        Ok((log_prior, log_lik))
    }

    /// Log density (prior + Jacobian + N/B · log likelihood of `batch`) and its gradient.
    fn eval(&self, q: &[f64], batch: Option<&[usize]>, grad: &mut [f64]) -> Result<f64, ModelError> {
        let (_, scale) = self.net.batch_scale(batch);
        let (prior, lik) = self.parts(q, batch, scale, grad)?;
        let lp = prior + scale * lik;
        Ok(if lp.is_finite() { lp } else { f64::NEG_INFINITY })
    }

    fn sample_prior_point(&self, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
        let mut q = self.weights.sample_prior(rng);
        if let Noise::Gamma { shape, rate } = self.noise {
            let sigma: f64 = rand_distr::Gamma::new(shape, 1.0 / rate).map_or(1.0, |g| rand_distr::Distribution::sample(&g, rng));
            q.push(sigma.max(f64::MIN_POSITIVE).ln());
        }
        q
    }
}

/// Populations (lockstep chains, SMC) are evaluated one member after another.
impl<B, const I: usize, E, D> Target for NetworkRegression<B, I, E, D>
where
    E: DfdxElem,
    D: NetworkDevice<E> + PointDevice<E>,
    B: NetworkBuilder<I, 1, E, D>,
{
    crate::nn::device::device_methods!();
    fn dim(&self) -> usize {
        self.names.len()
    }
    fn logp_grad_batch(&self, q: &[f64], lp: &mut [f64], grad: &mut [f64]) -> Result<(), ModelError> {
        logp_grad_rows(self.names.len(), q, lp, grad, |q, g| self.eval(q, None, g))
    }
    fn logp_grad(&self, q: &[f64], grad: &mut [f64]) -> Result<f64, ModelError> {
        self.eval(q, None, grad)
    }
    fn names(&self) -> Vec<String> {
        self.names.clone()
    }
    fn output_values(&self, q: &[f64]) -> Result<Vec<f64>, ModelError> {
        self.constrain_point(q)
    }
    /// Weights at the scale of dfdx's initialisation of each tensor (drawn from the chain's
    /// stream), `sigma` = 1: Stan's uniform(−2, 2) would saturate every unit of a wide network.
    fn init(&self, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
        self.init_point(rng)
    }
    fn observations(&self) -> Option<usize> {
        Some(self.net.n_obs())
    }
    fn logp_grad_minibatch(&self, q: &[f64], batch: &[usize], grad: &mut [f64]) -> Result<f64, ModelError> {
        super::check_batch(batch, self.net.n_obs())?;
        self.eval(q, Some(batch), grad)
    }
    fn prior_draw(&self, rng: &mut rand_chacha::ChaCha8Rng) -> Result<Vec<f64>, ModelError> {
        Ok(self.sample_prior_point(rng))
    }
    fn logp_parts(&self, theta: &[f64], obs: Option<&[usize]>, weight: f64, grad: Option<&mut [f64]>) -> Result<Parts, ModelError> {
        let d = self.names.len();
        if let Some(b) = obs {
            super::check_batch(b, self.net.n_obs())?;
        }
        let mut out = Parts::default();
        let mut scratch = vec![0.0; d];
        let mut grad = grad;
        for (p, q) in theta.chunks(d).enumerate() {
            let g = match grad.as_deref_mut() {
                Some(g) => &mut g[p * d..(p + 1) * d],
                None => &mut scratch[..],
            };
            let (prior, lik) = self.parts(q, obs, weight, g)?;
            out.log_prior.push(prior);
            out.log_likelihood.push(lik);
        }
        Ok(out)
    }
}

opaque_debug!(impl[B: BuildOnDevice<D, E>, const I: usize, E: DfdxElem, D: Device<E>] NetworkRegression<B, I, E, D>);
