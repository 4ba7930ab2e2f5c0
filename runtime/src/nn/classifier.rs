//! [`NetworkClassifier`]: a network whose `K` outputs are the logits of a categorical likelihood.

use super::{WeightPrior, Weights};
use crate::nn::module::{DeviceNetwork, NetworkBuilder, NetworkDevice, Loss};
use super::device::DevicePrior;
use crate::backend::{DfdxElem, PointDevice};
use crate::data::Matrix;
use crate::error::ModelError;
use crate::target::{logp_grad_rows, Target};
use dfdx::nn::BuildOnDevice;
use dfdx::tensor_ops::Device;

/// `label_i ~ Categorical(softmax(f_w(x_i)))` with `w ~ WeightPrior`, for a dfdx network built from
/// `B` with `I` inputs and `K` outputs (e.g. `(Linear<784, 1000>, ReLU, Linear<1000, 10>)`), in
/// element type `E` on device `D`. Labels are `0..K`.
pub struct NetworkClassifier<B: BuildOnDevice<D, E>, const I: usize, const K: usize, E: DfdxElem = f64, D: Device<E> = dfdx::tensor::Cpu> {
    net: DeviceNetwork<B, I, K, E, D>,
    weights: Weights,
    names: Vec<String>,
    /// The prior on the device (for the device evaluation).
    device_prior: DevicePrior<E, D>,
}

impl<B, const I: usize, const K: usize, E, D> NetworkClassifier<B, I, K, E, D>
where
    E: DfdxElem,
    D: NetworkDevice<E>,
    B: NetworkBuilder<I, K, E, D>,
{
    /// The model for inputs `x` (`n × I`) and labels (`n`, each below `K`) on device `dev`; checks
    /// the data and the prior.
    pub fn new(dev: D, x: &Matrix, labels: &[usize], prior: WeightPrior) -> Result<Self, ModelError> {
        let data = |name: &str, detail: String| ModelError::Data { name: name.into(), detail };
        if x.cols() != I {
            return Err(data("x", format!("has {} columns, the network takes {I} inputs", x.cols())));
        }
        if x.rows() != labels.len() || labels.is_empty() {
            return Err(data("labels", format!("has {} values for {} rows of x (at least one needed)", labels.len(), x.rows())));
        }
        if let Some(l) = labels.iter().find(|&&l| l >= K) {
            return Err(data("labels", format!("label {l} is not below the {K} classes")));
        }
        if let Some(v) = x.data().iter().find(|v| !v.is_finite()) {
            return Err(data("x", format!("contains a non-finite value ({v})")));
        }
        let mut one_hot = vec![0.0; labels.len() * K];
        for (i, &l) in labels.iter().enumerate() {
            one_hot[i * K + l] = 1.0;
        }
        let net = DeviceNetwork::<B, I, K, E, D>::new(dev, x.data(), &one_hot, Loss::CrossEntropy);
        let weights = Weights::new(&net.tensor_sizes(), &net.initial_weights(), &prior)?;
        let names = weights.names();
        let device_prior = DevicePrior::new(net.device(), weights.sds());
        Ok(Self { net, weights, names, device_prior })
    }

    /// Number of weights.
    pub fn n_weights(&self) -> usize {
        self.weights.len()
    }

    /// A starting point: weights at the scale of dfdx's initialisation of each tensor.
    pub fn init_point(&self, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
        self.weights.init(rng)
    }

    /// The network and the prior on the device, for the device density.
    pub(crate) fn device_parts(&self) -> (&DeviceNetwork<B, I, K, E, D>, &DevicePrior<E, D>) {
        (&self.net, &self.device_prior)
    }

    /// Class probabilities (row-major `(rows, K)`) at the rows of `x` for the weights `w`.
    pub fn predict_proba(&self, w: &[f64], x: &Matrix) -> Result<Vec<f64>, ModelError> {
        self.check(w)?;
        if x.cols() != I {
            return Err(ModelError::Data { name: "x".into(), detail: format!("has {} columns, the network takes {I} inputs", x.cols()) });
        }
        let logits = self.net.predict(w, x.data());
        let mut out = Vec::with_capacity(logits.len());
        for row in logits.chunks(K) {
            let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = row.iter().map(|l| (l - m).exp()).sum();
            out.extend(row.iter().map(|l| (l - m).exp() / z));
        }
        Ok(out)
    }

    fn check(&self, w: &[f64]) -> Result<(), ModelError> {
        super::check_len(w, self.names.len())
    }

    fn eval(&self, w: &[f64], batch: Option<&[usize]>, grad: &mut [f64]) -> Result<f64, ModelError> {
        self.check(w)?;
        let (_, scale) = self.net.batch_scale(batch);
        let mut g_ce = Vec::with_capacity(w.len());
        let ce = self.net.loss_grad(w, batch, &mut g_ce);
        let mut lp = self.weights.log_prior_grad(w, grad) - scale * ce;
        for i in 0..w.len() {
            grad[i] -= scale * g_ce[i];
        }
        if !lp.is_finite() {
            lp = f64::NEG_INFINITY;
        }
        Ok(lp)
    }
}

impl<B, const I: usize, const K: usize, E, D> Target for NetworkClassifier<B, I, K, E, D>
where
    E: DfdxElem,
    D: NetworkDevice<E> + PointDevice<E>,
    B: NetworkBuilder<I, K, E, D>,
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
        self.check(q)?;
        Ok(q.to_vec())
    }
    fn init(&self, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
        self.weights.init(rng)
    }
    fn observations(&self) -> Option<usize> {
        Some(self.net.n_obs())
    }
    fn logp_grad_minibatch(&self, q: &[f64], batch: &[usize], grad: &mut [f64]) -> Result<f64, ModelError> {
        super::check_batch(batch, self.net.n_obs())?;
        self.eval(q, Some(batch), grad)
    }
}

opaque_debug!(impl[B: BuildOnDevice<D, E>, const I: usize, const K: usize, E: DfdxElem, D: Device<E>] NetworkClassifier<B, I, K, E, D>);
