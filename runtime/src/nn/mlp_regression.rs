//! [`MlpRegression`]: [`NetworkRegression`](super::NetworkRegression)'s likelihood for a dense
//! network ([`Mlp`]), with the whole population of weight rows evaluated as batched matrix
//! products on a dfdx device — a density for many chains of one network on a device.

use super::regression::{check_data, constrain_noise, init_with_noise, names_with_noise};
use super::{Mlp, Noise, Weights};
use super::device::DevicePrior;
use super::device_mlp::DeviceMlp;
use crate::nn::module::NetworkDevice;
use crate::backend::device::{download, upload};
use crate::backend::{DfdxElem, PointDevice};
use crate::target::{check_point, check_population, Target};
use crate::data::Matrix;
use crate::error::ModelError;

/// `y_i ~ Normal(f_w(x_i), sigma)` with the prior of `net`'s weights, for the [`Mlp`] `net` (one
/// output) on device `D` in element type `E`: a target whose evaluation of P weight rows is one
/// batched product per layer, forward and reverse, on views of the rows (no weight is copied into
/// a module), on its device. Its parameters, names and log density are those of a
/// `NetworkRegression` of the same layers, data, prior and noise.
///
/// ```
/// use snell::nn::{Activation, Mlp, MlpRegression, Noise, WeightPrior};
/// use snell::nn::Cpu;
/// use snell::sampler::ray_tracing::RayTracing;
/// use snell::sampler::{run_device, RunConfig};
/// use snell::backend::Cpu32;
/// use snell::Matrix;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let net = Mlp::new(&[1, 20, 1], Activation::Tanh, WeightPrior::isotropic(1.0))?;
/// let x = Matrix::new(4, 1, vec![-1.0, -0.3, 0.4, 1.0])?;
/// let target = MlpRegression::<f32, _>::new(Cpu::seed_from_u64(1), &net, &x, &[0.5, 0.1, -0.2, -0.6], Noise::Fixed(0.3))?;
/// let config = RunConfig { chains: 100, warmup: 20, draws: 10, seed: 1, init: None };
/// let draws = run_device(&RayTracing::new(0.1, 10), &target, &Cpu32::default(), &config)?;
/// assert_eq!(draws.chains.len(), 100);
/// # Ok(()) }
/// ```
pub struct MlpRegression<E: DfdxElem = f32, D: NetworkDevice<E> = dfdx::tensor::Cpu> {
    mlp: DeviceMlp<E, D>,
    weights: Weights,
    noise: Noise,
    names: Vec<String>,
    prior: DevicePrior<E, D>,
}

impl<E: DfdxElem, D: NetworkDevice<E>> MlpRegression<E, D> {
    /// The model of targets `y` (`n`) at inputs `x` (`n × I`) for the MLP `net` (its widths,
    /// activation and weight prior; one output) on `dev`; checks the data.
    pub fn new(dev: D, net: &Mlp, x: &Matrix, y: &[f64], noise: Noise) -> Result<Self, ModelError> {
        let widths = net.widths().to_vec();
        if widths.last() != Some(&1) {
            return Err(ModelError::Data { name: "net".into(), detail: format!("a regression needs one output, the MLP has widths {widths:?}") });
        }
        check_data(x, y, widths[0], noise)?;
        let weights = net.prior().clone();
        let prior = DevicePrior::new(&dev, weights.sds());
        let mlp = DeviceMlp::new(&dev, widths, net.activation(), x.data(), y);
        Ok(Self { mlp, names: names_with_noise(&weights, noise), weights, noise, prior })
    }

    /// Number of weights.
    pub fn n_weights(&self) -> usize {
        self.weights.len()
    }

    /// The parameters' names: `w.1 … w.K`, then `sigma` when the noise is learned.
    pub fn param_names(&self) -> &[String] {
        &self.names
    }

    /// A starting point: weights at the scale of their initialisation, `ln sigma = 0`.
    pub fn init_point(&self, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
        init_with_noise(&self.weights, self.noise, rng)
    }

    /// The recorded values of an unconstrained point (`sigma = exp(last)`).
    pub fn constrain_point(&self, q: &[f64]) -> Vec<f64> {
        constrain_noise(q, self.noise)
    }

    /// The MLP, the prior on the device and the noise, for the device density.
    pub(crate) fn device_parts(&self) -> (&DeviceMlp<E, D>, &DevicePrior<E, D>, Noise) {
        (&self.mlp, &self.prior, self.noise)
    }
}

/// The host evaluation is the device evaluation, the points copied to the device and back.
impl<E: DfdxElem, D: NetworkDevice<E> + PointDevice<E>> Target for MlpRegression<E, D> {
    fn dim(&self) -> usize {
        self.names.len()
    }
    fn logp_grad_batch(&self, q: &[f64], lp: &mut [f64], grad: &mut [f64]) -> Result<(), ModelError> {
        let d = self.names.len();
        let p = check_population(d, q, lp, grad)?;
        let (l, g) = self.device_eval(&upload(self.prior.device(), q, p, d), None)?;
        lp.copy_from_slice(&download(&l));
        grad.copy_from_slice(&download(&g));
        Ok(())
    }
    fn names(&self) -> Vec<String> {
        self.names.clone()
    }
    fn output_values(&self, q: &[f64]) -> Result<Vec<f64>, ModelError> {
        Ok(self.constrain_point(q))
    }
    fn init(&self, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
        self.init_point(rng)
    }
    fn observations(&self) -> Option<usize> {
        Some(self.mlp.n_obs())
    }
    fn logp_grad_minibatch(&self, q: &[f64], batch: &[usize], grad: &mut [f64]) -> Result<f64, ModelError> {
        let d = self.names.len();
        check_point(d, q, grad)?;
        let (l, g) = self.device_eval(&upload(self.prior.device(), q, 1, d), Some(&[batch.to_vec()]))?;
        grad.copy_from_slice(&download(&g));
        Ok(download(&l)[0])
    }
    crate::nn::device::device_methods!();
}

opaque_debug!(impl[E: DfdxElem, D: NetworkDevice<E>] MlpRegression<E, D>);
