//! [`NetworkSequenceModel`]: a token model (embeddings, attention blocks, a vocabulary head) whose
//! weights are parameters, with the next-token categorical likelihood over windows of a token
//! stream — the shape of a GPT-style language model.

use super::{WeightPrior, Weights};
use crate::nn::module::{DeviceSequenceModel, NetworkDevice, SequenceBuilder};
use super::device::DevicePrior;
use crate::backend::{DfdxElem, PointDevice};
use crate::error::ModelError;
use crate::target::{logp_grad_rows, Target};
use dfdx::nn::BuildOnDevice;
use dfdx::tensor_ops::Device;

/// `tokens[i·S + j + 1] ~ Categorical(softmax(f_w(window i))_j)` with `w ~ WeightPrior`, for a dfdx
/// module built from `B` mapping `(batch, S)` token ids to `(batch, S, V)` logits, e.g.
/// `(Embedding<V, M>, TransformerEncoder<M, H, F, L>, Linear<M, V>)`. Each window of `S` tokens
/// is one observation, so minibatches are sets of windows.
pub struct NetworkSequenceModel<B: BuildOnDevice<D, E>, const V: usize, E: DfdxElem = f32, D: Device<E> = dfdx::tensor::Cpu> {
    net: DeviceSequenceModel<B, V, E, D>,
    weights: Weights,
    names: Vec<String>,
    /// The prior on the device (for the device evaluation).
    device_prior: DevicePrior<E, D>,
}

impl<B, const V: usize, E, D> NetworkSequenceModel<B, V, E, D>
where
    E: DfdxElem,
    D: NetworkDevice<E>,
    B: SequenceBuilder<V, E, D>,
{
    /// The model of the token stream `tokens` (each below `V`) in windows of `seq` tokens; at least
    /// one full window (plus its next token) is needed.
    pub fn new(dev: D, tokens: Vec<usize>, seq: usize, prior: WeightPrior) -> Result<Self, ModelError> {
        let data = |detail: String| ModelError::Data { name: "tokens".into(), detail };
        if seq == 0 || tokens.len() < seq + 1 {
            return Err(data(format!("{} tokens do not make one window of {seq} tokens and its next token", tokens.len())));
        }
        if let Some(t) = tokens.iter().find(|&&t| t >= V) {
            return Err(data(format!("token {t} is not below the vocabulary size {V}")));
        }
        let net = DeviceSequenceModel::<B, V, E, D>::new(dev, tokens, seq);
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
    pub(crate) fn device_parts(&self) -> (&DeviceSequenceModel<B, V, E, D>, &DevicePrior<E, D>) {
        (&self.net, &self.device_prior)
    }

    fn eval(&self, w: &[f64], batch: Option<&[usize]>, grad: &mut [f64]) -> Result<f64, ModelError> {
        super::check_len(w, self.names.len())?;
        let (_, scale) = self.net.batch_scale(batch);
        let mut g = Vec::with_capacity(w.len());
        let ce = self.net.loss_grad(w, batch, &mut g);
        let lp = self.weights.log_prior_grad(w, grad) - scale * ce;
        for i in 0..w.len() {
            grad[i] -= scale * g[i];
        }
        Ok(if lp.is_finite() { lp } else { f64::NEG_INFINITY })
    }
}

impl<B, const V: usize, E, D> Target for NetworkSequenceModel<B, V, E, D>
where
    E: DfdxElem,
    D: NetworkDevice<E> + PointDevice<E>,
    B: SequenceBuilder<V, E, D>,
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
        super::check_len(q, self.names.len())?;
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

opaque_debug!(impl[B: BuildOnDevice<D, E>, const V: usize, E: DfdxElem, D: Device<E>] NetworkSequenceModel<B, V, E, D>);
