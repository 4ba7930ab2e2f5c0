//! [`SequenceNetwork`]: a token model (embeddings, attention blocks, a vocabulary head) called
//! inside a `#[model]` like a function of its weights, the token-input counterpart of
//! [`Network`](super::Network).

use super::{NetworkWeights, WeightPrior};
use crate::nn::module::{flatten, token_forms, tensor_sizes, SequenceLayers, TokenFunction};
use crate::backend::Backend;
use crate::error::ModelError;
use crate::value::Real;
use dfdx::nn::BuildOnDevice;
use dfdx::tensor::Cpu;
use std::rc::Rc;
use std::sync::Arc;

/// A dfdx module mapping `(windows, S)` token ids to `(windows, S, V)` logits — e.g.
/// `(Embedding<V, M>, TransformerEncoder<M, H, F, L>, Linear<M, V>)` — passed to a `#[model]` as
/// data and called on a vector parameter that holds all of its weights. With
/// [`CategoricalLogitRows`](crate::dist::CategoricalLogitRows) over its logits this is a
/// next-token language model:
///
/// ```
/// use snell::prelude::*;
/// use snell::nn::layers::{Embedding, Linear, TransformerEncoder};
/// use snell::nn::{SequenceNetwork, WeightPrior};
///
/// type Net = (Embedding<8, 4>, TransformerEncoder<4, 2, 8, 1>, Linear<4, 8>);
///
/// // each row of `inputs` is a window of tokens, the same row of `next` the tokens that follow
/// #[model(observations(inputs, next))]
/// fn lm(net: &SequenceNetwork<Net, 8>, inputs: &[Vec<usize>], next: &[Vec<usize>]) {
///     let w = sample!([net.len()] ~ Normal(0.0, net.prior_sd()));
///     observe!(next ~ CategoricalLogitRows(net.forward(w, inputs), 8));
/// }
///
/// # fn main() -> Result<(), ModelError> {
/// let stream: Vec<usize> = (0..13).map(|i| (3 * i + 1) % 8).collect();
/// let inputs: Vec<Vec<usize>> = stream[..12].chunks(4).map(|c| c.to_vec()).collect();
/// let next: Vec<Vec<usize>> = stream[1..].chunks(4).map(|c| c.to_vec()).collect();
/// let net = SequenceNetwork::<Net, 8>::new(WeightPrior::isotropic(1.0))?;
/// let model = Lm::new(&net, &inputs, &next)?;
/// let (lp, grad) = model.log_density_and_grad(net.initial_weights())?;
/// assert!(lp.is_finite() && grad.len() == net.len());
/// # Ok(()) }
/// ```
///
/// `net.forward(w, windows)` takes the windows as rows (`&[Vec<usize>]`, all of one length `S`,
/// tokens below `V`), so that minibatches (`observations(inputs, next)`) are sets of windows, and
/// returns the `windows · S · V` logits, window by window and position by position: row
/// `i · S + j` of `V` logits scores the token after position `j` of window `i`, which is how
/// `CategoricalLogitRows(…, V)` reads the labels `next` (flattened in the same order). The flat
/// weights are the module's trainable tensors in dfdx's order. The module runs once per
/// population member, with dfdx's forward and reverse passes: on dfdx's CPU device in f64 under
/// the `Native` backend (the taped forward pass kept for the reverse pass), and on a dfdx
/// backend's own device and tape under that backend, as [`Network`](super::Network) does.
pub struct SequenceNetwork<Net: BuildOnDevice<Cpu, f64>, const V: usize> {
    template: Arc<Net::Built>,
    dev: Cpu,
    weights: NetworkWeights,
}

impl<Net, const V: usize> SequenceNetwork<Net, V>
where
    Net: SequenceLayers<V>,
{
    /// Builds the module with dfdx's initialisation (seed 0), checking the prior: one positive sd
    /// for every weight, or one per trainable tensor.
    pub fn new(prior: WeightPrior) -> Result<Self, ModelError> {
        let dev = Cpu::default();
        let template = <Net as BuildOnDevice<Cpu, f64>>::build_on_device(&dev);
        let weights = NetworkWeights::new(tensor_sizes(&template), flatten(&template), &prior)?;
        Ok(Self { template: Arc::new(template), dev, weights })
    }

    /// The vocabulary size `V`.
    pub fn vocabulary(&self) -> usize {
        V
    }

    fn function(&self, windows: &[Vec<usize>], seq: usize) -> TokenFunction<<Net as BuildOnDevice<Cpu, f64>>::Built, V, f64, Cpu> {
        let name = format!("a sequence network of {} weights", self.weights.len());
        TokenFunction::tokens(name, Arc::clone(&self.template), &self.dev, windows.concat(), seq)
    }

    /// The logits (`windows · S · V` values) at the token windows `windows` (rows of `S` token
    /// ids), for the weights `w` (a vector of [`len`](NetworkWeights::len) values, one row per
    /// population member). Ragged or empty windows and tokens outside the vocabulary are
    /// reported as a model error naming the statement.
    pub fn forward<'c, B: Backend>(&self, w: Real<'c, B>, windows: &[Vec<usize>]) -> Real<'c, B> {
        let seq = window_length(windows, V);
        let s = *seq.as_ref().unwrap_or(&1);
        self.weights.call(w, seq.map(|_| ()), || Rc::new(self.function(windows, s).with_forms(token_forms::<_, V>(&self.template, &windows.concat(), s))))
    }

    /// The logits (row-major `(windows, S, V)`) at `windows` for one weight vector, on the host:
    /// for predictions from draws.
    pub fn predict(&self, w: &[f64], windows: &[Vec<usize>]) -> Result<Vec<f64>, ModelError> {
        let seq = window_length(windows, V);
        let s = *seq.as_ref().unwrap_or(&1);
        self.weights.predict_with(w, "windows", seq.map(|_| ()), || Box::new(self.function(windows, s)))
    }
}

/// The common length `S` of the windows; `Err` for no windows, empty or ragged windows and tokens
/// not below `v`.
fn window_length(windows: &[Vec<usize>], v: usize) -> Result<usize, String> {
    let Some(first) = windows.first() else {
        return Err("a sequence network needs at least one window of tokens".into());
    };
    let seq = first.len();
    if seq == 0 {
        return Err("the windows of tokens are empty".into());
    }
    for (i, w) in windows.iter().enumerate() {
        if w.len() != seq {
            return Err(format!("window {i} has {} tokens and window 0 has {seq}: windows must have one length", w.len()));
        }
        if let Some((j, t)) = w.iter().enumerate().find(|(_, &t)| t >= v) {
            return Err(format!("token {t} (window {i}, position {j}) is not below the vocabulary size {v}"));
        }
    }
    Ok(seq)
}

impl<Net: BuildOnDevice<Cpu, f64>, const V: usize> std::ops::Deref for SequenceNetwork<Net, V> {
    type Target = NetworkWeights;
    fn deref(&self) -> &NetworkWeights {
        &self.weights
    }
}

impl<Net: BuildOnDevice<Cpu, f64>, const V: usize> Clone for SequenceNetwork<Net, V> {
    fn clone(&self) -> Self {
        Self { template: Arc::clone(&self.template), dev: self.dev.clone(), weights: self.weights.clone() }
    }
}

impl<Net: BuildOnDevice<Cpu, f64>, const V: usize> std::fmt::Debug for SequenceNetwork<Net, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SequenceNetwork({V} tokens, tensors {:?})", self.weights.tensor_sizes())
    }
}

/// A sequence network is checked when it is built ([`SequenceNetwork::new`]).
impl<Net: BuildOnDevice<Cpu, f64>, const V: usize> crate::data::Check for SequenceNetwork<Net, V> {
    fn first_bad(&self) -> Option<(String, f64)> {
        None
    }
}
