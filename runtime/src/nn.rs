//! Bayesian neural networks: a dfdx network whose weights are parameters, with a Gaussian prior on
//! every weight and a Gaussian likelihood, as a [`Target`] (and a [`MinibatchTarget`], so that
//! stochastic-gradient samplers can run on it) that every sampler of the crate consumes.
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

use crate::backend::network::{DeviceNetwork, NetworkModule};
pub use crate::backend::network::{flatten, load, tensor_sizes};
/// dfdx's layer builders (`Linear`, `Tanh`, `ReLU`, `LayerNorm1D`, …), to declare networks with.
pub use dfdx::nn::builders as layers;
/// dfdx's CPU device.
pub use dfdx::tensor::Cpu;
pub use dfdx::nn::BuildOnDevice;
use crate::backend::DfdxElem;
use crate::data::Matrix;
use crate::error::ModelError;
use crate::sampler::{MinibatchTarget, Target};
use crate::special::lgamma as ln_gamma;
use dfdx::prelude::{Const, Tensor};
use dfdx::tensor::TensorFromVec;
use dfdx::tensor_ops::Device;
use rand_distr::{Distribution, StandardNormal};

const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

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

/// `y_i ~ Normal(f_w(x_i), sigma)` with `w ~ WeightPrior` for a dfdx network `f` built from the
/// builder type `B` (e.g. `(Linear<1, 50>, Tanh, Linear<50, 1>)`) with `I` inputs, in element type
/// `E` on device `D` (f64 on the CPU by default).
pub struct NetworkRegression<B: BuildOnDevice<D, E>, const I: usize, E: DfdxElem = f64, D: Device<E> = dfdx::tensor::Cpu> {
    net: DeviceNetwork<B, I, E, D>,
    /// The prior sd of each weight.
    weight_sd: Vec<f64>,
    /// RMS of dfdx's initial values of each weight's tensor: the scale of initial points.
    init_scale: Vec<f64>,
    noise: Noise,
    names: Vec<String>,
}

impl<B, const I: usize, E, D> NetworkRegression<B, I, E, D>
where
    E: DfdxElem,
    D: Device<E> + TensorFromVec<usize>,
    B: BuildOnDevice<D, E>,
    B::Built: NetworkModule<I, E, D>,
{
    /// The model for inputs `x` (`n × I`) and targets `y` (`n`) on device `dev`; checks the data
    /// and the prior.
    pub fn new(dev: D, x: &Matrix, y: &[f64], prior: WeightPrior, noise: Noise) -> Result<Self, ModelError> {
        let data = |name: &str, detail: String| ModelError::Data { name: name.into(), detail };
        if x.cols() != I {
            return Err(data("x", format!("has {} columns, the network takes {I} inputs", x.cols())));
        }
        if x.rows() != y.len() || y.is_empty() {
            return Err(data("y", format!("has {} values for {} rows of x (at least one needed)", y.len(), x.rows())));
        }
        if let Some(v) = x.data().iter().chain(y).find(|v| !v.is_finite()) {
            return Err(data("x, y", format!("contain a non-finite value ({v})")));
        }
        match noise {
            Noise::Fixed(s) if !(s > 0.0 && s.is_finite()) => return Err(data("noise", format!("sd {s} must be positive and finite"))),
            Noise::Gamma { shape, rate } if !(shape > 0.0 && rate > 0.0 && shape.is_finite() && rate.is_finite()) => {
                return Err(data("noise", format!("Gamma({shape}, {rate}) needs a positive, finite shape and rate")))
            }
            _ => {}
        }
        let net = DeviceNetwork::<B, I, E, D>::new(dev, x.data(), y);
        let sizes = net.tensor_sizes();
        let sd = match prior.sd.len() {
            1 => vec![prior.sd[0]; sizes.len()],
            k if k == sizes.len() => prior.sd.clone(),
            k => return Err(data("prior", format!("{k} standard deviations for a network of {} tensors", sizes.len()))),
        };
        if let Some(s) = sd.iter().find(|s| !(**s > 0.0 && s.is_finite())) {
            return Err(data("prior", format!("sd {s} must be positive and finite")));
        }
        let init = net.initial_weights();
        let (mut weight_sd, mut init_scale, mut at) = (Vec::new(), Vec::new(), 0);
        for (k, &n) in sizes.iter().enumerate() {
            let rms = (init[at..at + n].iter().map(|v| v * v).sum::<f64>() / n as f64).sqrt();
            weight_sd.extend(std::iter::repeat_n(sd[k], n));
            init_scale.extend(std::iter::repeat_n(if rms > 0.0 { rms } else { 0.1 }, n));
            at += n;
        }
        let mut names: Vec<String> = (1..=weight_sd.len()).map(|i| format!("w.{i}")).collect();
        if matches!(noise, Noise::Gamma { .. }) {
            names.push("sigma".into());
        }
        Ok(Self { net, weight_sd, init_scale, noise, names })
    }

    /// Number of weights.
    pub fn n_weights(&self) -> usize {
        self.weight_sd.len()
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
        if x.cols() != I {
            return Err(ModelError::Data { name: "x".into(), detail: format!("has {} columns, the network takes {I} inputs", x.cols()) });
        }
        if draws.names.len() != self.names.len() {
            return Err(ModelError::Dimension { what: "values per draw".into(), expected: self.names.len(), got: draws.names.len() });
        }
        if let Some(p) = probs.iter().find(|p| !(0.0..=1.0).contains(*p)) {
            return Err(ModelError::Data { name: "probs".into(), detail: format!("{p} is not a probability") });
        }
        let k = self.n_weights();
        let width = self.names.len();
        let weights: Vec<&[f64]> = draws.chains.iter().flat_map(|c| c.values.chunks(width)).map(|v| &v[..k]).collect();
        let mut bands = Bands { mean: Vec::with_capacity(x.rows()), quantiles: vec![Vec::with_capacity(x.rows()); probs.len()], probs: probs.to_vec() };
        let batch = batch.max(1);
        for start in (0..x.rows()).step_by(batch) {
            let end = (start + batch).min(x.rows());
            let rows = &x.data()[start * I..end * I];
            let outs: Vec<Vec<f64>> = weights.iter().map(|w| self.net.predict(w, rows)).collect();
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

    fn check(&self, q: &[f64]) -> Result<(), ModelError> {
        if q.len() != self.names.len() {
            return Err(ModelError::Dimension { what: "network parameters".into(), expected: self.names.len(), got: q.len() });
        }
        Ok(())
    }

    /// Log density (prior + Jacobian + `scale` · log likelihood of `batch`) and its gradient.
    fn eval(&self, q: &[f64], batch: Option<&[usize]>, grad: &mut [f64]) -> Result<f64, ModelError> {
        self.check(q)?;
        let k = self.n_weights();
        let (w, rest) = q.split_at(k);
        let (sigma, ln_sigma) = match self.noise {
            Noise::Fixed(s) => (s, s.ln()),
            Noise::Gamma { .. } => (rest[0].exp(), rest[0]),
        };
        let b = batch.map_or(self.net.n_obs(), |b| b.len());
        let scale = self.net.n_obs() as f64 / b as f64;
        let mut g_sse = Vec::with_capacity(k);
        let sse = self.net.squared_error_grad(w, batch, &mut g_sse);
        let mut lp = scale * (-0.5 * sse / (sigma * sigma) - b as f64 * (ln_sigma + HALF_LN_2PI));
        for i in 0..k {
            let s = self.weight_sd[i];
            lp -= 0.5 * (w[i] / s).powi(2) + s.ln() + HALF_LN_2PI;
            grad[i] = -w[i] / (s * s) - scale * 0.5 * g_sse[i] / (sigma * sigma);
        }
        if let Noise::Gamma { shape, rate } = self.noise {
            // Gamma(shape, rate) on sigma, + ln sigma for the Jacobian of sigma = exp(u)
            lp += shape * rate.ln() - ln_gamma(shape) + shape * ln_sigma - rate * sigma;
            grad[k] = scale * (sse / (sigma * sigma) - b as f64) + shape - rate * sigma;
        }
        if !lp.is_finite() {
            return Ok(f64::NEG_INFINITY);
        }
        Ok(lp)
    }
}

impl<B, const I: usize, E, D> Target for NetworkRegression<B, I, E, D>
where
    E: DfdxElem,
    D: Device<E> + TensorFromVec<usize> + Sync,
    B: BuildOnDevice<D, E>,
    B::Built: NetworkModule<I, E, D> + Sync,
    Tensor<(usize, Const<I>), E, D>: Sync,
    Tensor<(usize, Const<1>), E, D>: Sync,
{
    fn dim(&self) -> usize {
        self.names.len()
    }
    fn logp_grad(&self, q: &[f64], grad: &mut [f64]) -> Result<f64, ModelError> {
        self.eval(q, None, grad)
    }
    fn names(&self) -> Vec<String> {
        self.names.clone()
    }
    fn constrain(&self, q: &[f64]) -> Result<Vec<f64>, ModelError> {
        self.check(q)?;
        let mut out = q.to_vec();
        if matches!(self.noise, Noise::Gamma { .. }) {
            let last = out.len() - 1;
            out[last] = out[last].exp();
        }
        Ok(out)
    }
    /// Weights at the scale of dfdx's initialisation of each tensor (drawn from the chain's
    /// stream), `sigma` = 1: Stan's uniform(−2, 2) would saturate every unit of a wide network.
    fn init(&self, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
        let mut q: Vec<f64> = self.init_scale.iter().map(|s| {
            let z: f64 = StandardNormal.sample(&mut *rng);
            s * z
        }).collect();
        if matches!(self.noise, Noise::Gamma { .. }) {
            q.push(0.0);
        }
        q
    }
}

impl<B, const I: usize, E, D> MinibatchTarget for NetworkRegression<B, I, E, D>
where
    E: DfdxElem,
    D: Device<E> + TensorFromVec<usize> + Sync,
    B: BuildOnDevice<D, E>,
    B::Built: NetworkModule<I, E, D> + Sync,
    Tensor<(usize, Const<I>), E, D>: Sync,
    Tensor<(usize, Const<1>), E, D>: Sync,
{
    fn n_obs(&self) -> Option<usize> {
        Some(self.net.n_obs())
    }
    fn logp_grad_minibatch(&self, q: &[f64], batch: &[usize], grad: &mut [f64]) -> Result<f64, ModelError> {
        let n = self.net.n_obs();
        if batch.is_empty() {
            return Err(ModelError::Data { name: "batch".into(), detail: "a minibatch needs at least one observation".into() });
        }
        if let Some(&i) = batch.iter().find(|&&i| i >= n) {
            return Err(ModelError::Data { name: "batch".into(), detail: format!("index {i} out of range for {n} observations") });
        }
        self.eval(q, Some(batch), grad)
    }
}
