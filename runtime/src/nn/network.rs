//! Networks called inside a `#[model]` like functions of their weights: [`Network`] (any dfdx
//! module) and [`Mlp`] (dense layers, batched over the population), sharing [`NetworkWeights`].

use super::{WeightPrior, Weights};
use crate::nn::module::{dense_forms, flatten, tensor_sizes, Buffers, DenseFunction, DenseMlp, MlpFunction, NetworkLayers};
use crate::backend::{Backend, HostFunction};
use crate::data::Matrix;
use crate::error::ModelError;
use crate::value::Real;
use dfdx::nn::BuildOnDevice;
use dfdx::tensor::Cpu;
use rand::{Rng, SeedableRng};
use std::rc::Rc;
use std::sync::Arc;

pub use crate::nn::module::Activation;

/// The weights of a network as a parameter block: their number, tensor sizes, prior scales and
/// starting values. [`Network`], [`Mlp`] and [`SequenceNetwork`](super::SequenceNetwork)
/// dereference to it, so `net.len()` and `net.prior_sd()` work on all of them.
#[derive(Clone, Debug)]
pub struct NetworkWeights {
    sizes: Vec<usize>,
    weights: Weights,
    init: Vec<f64>,
}

impl NetworkWeights {
    pub(crate) fn new(sizes: Vec<usize>, init: Vec<f64>, prior: &WeightPrior) -> Result<Self, ModelError> {
        let weights = Weights::new(&sizes, &init, prior)?;
        Ok(Self { sizes, weights, init })
    }

    /// Number of weights (the length of the parameter vector the network takes).
    pub fn len(&self) -> usize {
        self.init.len()
    }

    /// Always false: a network has weights.
    pub fn is_empty(&self) -> bool {
        self.init.is_empty()
    }

    /// Sizes of the trainable tensors, in the order of the flat weights.
    pub fn tensor_sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// The prior sd of each weight (from the [`WeightPrior`] the network was built with).
    pub fn prior_sd(&self) -> &[f64] {
        self.weights.sd()
    }

    /// The initial weights: a starting point at the scale of each layer (Stan's uniform(−2, 2) on
    /// every weight would saturate the units of a wide network).
    pub fn initial_weights(&self) -> &[f64] {
        &self.init
    }


    /// Initial weights drawn at the scale of the initialisation of each tensor.
    pub fn random_weights(&self, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
        self.weights.init(rng)
    }

    /// `f` of the weights `w`, once `inputs` (what the inputs say of themselves) is `Ok`.
    pub(crate) fn call<'c, B: Backend>(&self, w: Real<'c, B>, inputs: Result<(), String>, f: impl FnOnce() -> Rc<dyn HostFunction>) -> Real<'c, B> {
        match inputs {
            Ok(()) => w.ctx().op_host(w, f()),
            Err(detail) => w.ctx().fail(detail),
        }
    }

    /// The weight vectors of the vector parameter `param` (outputs `param.1 …`) in `draws`.
    fn weights_in<'d>(&self, draws: &'d crate::sampler::Draws, param: &str) -> Result<Vec<&'d [f64]>, ModelError> {
        let first = format!("{param}.1");
        let Some(at) = draws.names.iter().position(|n| *n == first) else {
            return Err(ModelError::Data { name: param.into(), detail: format!("the draws have no output `{first}`") });
        };
        let (k, width) = (self.len(), draws.names.len());
        if at + k > width || draws.names[at + k - 1] != format!("{param}.{k}") {
            return Err(ModelError::Dimension { what: format!("values of `{param}` per draw"), expected: k, got: width - at });
        }
        Ok(draws.chains.iter().flat_map(|c| c.values.chunks(width)).map(|v| &v[at..at + k]).collect())
    }

    /// `f` of one weight vector on the host, once `inputs` (named `name` in errors) is `Ok`.
    pub(crate) fn predict_with(&self, w: &[f64], name: &str, inputs: Result<(), String>, f: impl FnOnce() -> Box<dyn HostFunction>) -> Result<Vec<f64>, ModelError> {
        super::check_len(w, self.len())?;
        inputs.map_err(|detail| ModelError::Data { name: name.into(), detail })?;
        Ok(f().forward(w, 1))
    }
}

/// `x` must have `inputs` columns.
fn columns(x: &Matrix, inputs: usize) -> Result<(), String> {
    if x.cols() == inputs {
        Ok(())
    } else {
        Err(format!("the network takes {inputs} inputs per row, and `x` has {} columns", x.cols()))
    }
}


/// A dfdx network with `I` inputs and `O` outputs, passed to a `#[model]` as data and called in
/// its body on a vector parameter that holds all of its weights:
///
/// ```
/// use snell::prelude::*;
/// use snell::nn::layers::{Linear, Tanh};
/// use snell::nn::{Network, WeightPrior};
///
/// type Net = (Linear<1, 10>, Tanh, Linear<10, 1>);
///
/// #[model(observations(x, y))]
/// fn bnn(net: &Network<Net, 1, 1>, x: &Matrix, y: &[f64]) {
///     let w = sample!([net.len()] ~ Normal(0.0, net.prior_sd()));  // every weight, its prior
///     let sigma = sample!(HalfNormal(0.5));
///     observe!(y ~ Normal(net.forward(w, x), sigma));              // the network's outputs at x
/// }
///
/// # fn main() -> Result<(), ModelError> {
/// let net = Network::<Net, 1, 1>::new(WeightPrior::isotropic(1.0))?;
/// let x = Matrix::new(3, 1, vec![-1.0, 0.0, 1.0])?;
/// let model = Bnn::new(&net, &x, &[0.5, 0.0, -0.5])?;
/// assert_eq!(model.dim(), 31 + 1);
/// let (lp, grad) = model.log_density_and_grad(&vec![0.1; 32])?;
/// assert!(lp.is_finite() && grad.len() == 32);
/// # Ok(()) }
/// ```
///
/// The flat weight vector is the module's trainable tensors in dfdx's order (for `Linear`: weight,
/// row-major `(out, in)`, then bias), as [`flatten`] and [`load`](super::load) lay them out.
/// `net.forward(w, x)` is the vector of the `n · O` outputs at the `n` rows of `x` (row by row);
/// with minibatches (`observations(x, …)`) `x` holds the batch's rows. Where the network runs
/// follows the model: on the `Native` backend (the default) on dfdx's CPU device in f64, each
/// population member's weights written into a copy of the module, dfdx's forward and reverse
/// passes run there and spliced into the model's tape; on a dfdx backend (dfdx's CPU in f64 or
/// f32, CUDA with the `cuda` feature) on that backend's own device and tape, the module built
/// there and each member's weights cut from the population's weight tensor by device operations,
/// so neither the weights nor the gradient leave the device. A dfdx 0.13 module has no forward
/// pass over many sets of weights, so either way it runs once per population member; an
/// [`Mlp`] is batched over the population, so prefer it for dense networks.
pub struct Network<Net: BuildOnDevice<Cpu, f64>, const I: usize, const O: usize> {
    template: Arc<Net::Built>,
    dev: Cpu,
    weights: NetworkWeights,
}

impl<Net, const I: usize, const O: usize> Network<Net, I, O>
where
    Net: NetworkLayers<I, O>,
{
    /// Builds the network with dfdx's initialisation (seed 0), checking the prior: one positive
    /// sd for every weight, or one per trainable tensor.
    pub fn new(prior: WeightPrior) -> Result<Self, ModelError> {
        let dev = Cpu::default();
        let template = <Net as BuildOnDevice<Cpu, f64>>::build_on_device(&dev);
        let weights = NetworkWeights::new(tensor_sizes(&template), flatten(&template), &prior)?;
        Ok(Self { template: Arc::new(template), dev, weights })
    }

    fn function(&self, x: &Matrix) -> DenseFunction<<Net as BuildOnDevice<Cpu, f64>>::Built, I, O, f64, Cpu> {
        let name = format!("a network of {} weights", self.weights.len());
        DenseFunction::dense(name, Arc::clone(&self.template), &self.dev, x.data())
    }

    /// The network's outputs (`n · O` values, row by row) at the `n` rows of `x`, for the weights
    /// `w` (a vector of [`len`](NetworkWeights::len) values, one row per population member). A
    /// wrong length of `w` or number of columns of `x` is reported as a model error naming the
    /// statement.
    pub fn forward<'c, B: Backend>(&self, w: Real<'c, B>, x: &Matrix) -> Real<'c, B> {
        self.weights.call(w, columns(x, I), || Rc::new(self.function(x).with_forms(dense_forms::<_, I, O>(&self.template, x.data()))))
    }

    /// The outputs (row-major `(rows, O)`) at the rows of `x` for one weight vector, on the host:
    /// for predictions from draws.
    pub fn predict(&self, w: &[f64], x: &Matrix) -> Result<Vec<f64>, ModelError> {
        self.weights.predict_with(w, "x", columns(x, I), || Box::new(self.function(x)))
    }

    /// Posterior predictive mean and quantiles `probs` of the (first) output at the rows of `x`,
    /// from the weights recorded as the vector parameter `param` of a model's `draws`, `batch`
    /// test points at a time.
    pub fn predictive_bands(&self, draws: &crate::sampler::Draws, param: &str, x: &Matrix, probs: &[f64], batch: usize) -> Result<super::Bands, ModelError> {
        let weights = self.weights.weights_in(draws, param)?;
        super::bands_over(&weights, x, I, probs, batch, |w, rows| {
            let out = DenseFunction::<<Net as BuildOnDevice<Cpu, f64>>::Built, I, O, f64, Cpu>::dense(String::new(), Arc::clone(&self.template), &self.dev, rows).forward(w, 1);
            out.chunks(O).map(|o| o[0]).collect()
        })
    }
}

impl<Net: BuildOnDevice<Cpu, f64>, const I: usize, const O: usize> std::ops::Deref for Network<Net, I, O> {
    type Target = NetworkWeights;
    fn deref(&self) -> &NetworkWeights {
        &self.weights
    }
}

impl<Net: BuildOnDevice<Cpu, f64>, const I: usize, const O: usize> Clone for Network<Net, I, O> {
    fn clone(&self) -> Self {
        Self { template: Arc::clone(&self.template), dev: self.dev.clone(), weights: self.weights.clone() }
    }
}

impl<Net: BuildOnDevice<Cpu, f64>, const I: usize, const O: usize> std::fmt::Debug for Network<Net, I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Network({I} inputs, {O} outputs, tensors {:?})", self.weights.sizes)
    }
}

/// A network is checked when it is built ([`Network::new`]).
impl<Net: BuildOnDevice<Cpu, f64>, const I: usize, const O: usize> crate::data::Check for Network<Net, I, O> {
    fn first_bad(&self) -> Option<(String, f64)> {
        None
    }
}

/// How an [`Mlp`] evaluates its layers (both on the CPU in f64, with the same results to rounding).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MlpKernel {
    /// Forward and reverse passes written out for the host, one member after another, each layer
    /// one `matrixmultiply` product on views of the member's flat weights, the activations of the
    /// taped pass kept in buffers that the `Mlp` (and its clones) holds between evaluations (per
    /// member, the points times the widths after the input: 40 MB at P = 1,000 for 1-50-50-1 at
    /// 50 points). The default: per member faster at every population size than
    /// [`MlpKernel::DfdxBatched`] at P = 1, and more than twice as fast as it at the same P.
    #[default]
    Dense,
    /// dfdx's batched matmul `(P, n, in) × (P, in, out)` and its tape, four members at a time: the
    /// earlier implementation, kept as a reference for tests and timings
    /// (`examples/mlp_batch_bench.rs`). Per member it costs up to twice a single evaluation.
    DfdxBatched,
    /// The backend's own operations: one per-member matrix product per layer
    /// ([`Backend::matmul_rows`]), recorded on the evaluation's tape like any other operation.
    /// What an `Mlp` uses on every backend but `Native` whatever its kernel (there the weights
    /// and activations stay on the backend's device); on `Native` it is the reference the host
    /// kernels are tested against. Predictions ([`Mlp::predict`]) run [`MlpKernel::Dense`].
    BackendOps,
}

/// A multilayer perceptron — dense layers of the given widths with one activation between them —
/// called inside a `#[model]` like [`Network`], but evaluated for a whole population of weight
/// sets in one operation of the model (on the CPU, f64, by [`MlpKernel::Dense`]: one member's
/// layers after another's, without a dfdx module per member), where [`Network`] runs its module
/// once per member. The flat weights
/// are laid out as dfdx's `Linear` layers are, so `Mlp::new(&[1, 50, 1], Activation::Tanh, …)`
/// reads a weight vector exactly as `Network<(Linear<1, 50>, Tanh, Linear<50, 1>), 1, 1>` does.
///
/// ```
/// use snell::prelude::*;
/// use snell::nn::{Activation, Mlp, WeightPrior};
///
/// #[model(observations(x, y))]
/// fn bnn(net: &Mlp, x: &Matrix, y: &[f64]) {
///     let w = sample!([net.len()] ~ Normal(0.0, 1.0));
///     observe!(y ~ Normal(net.forward(w, x), 0.1));
/// }
///
/// # fn main() -> Result<(), ModelError> {
/// let net = Mlp::new(&[1, 50, 50, 1], Activation::Tanh, WeightPrior::isotropic(1.0))?;
/// let model = Bnn::new(&net, &Matrix::new(2, 1, vec![-1.0, 1.0])?, &[0.3, -0.2])?;
/// assert_eq!(model.dim(), 2701);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Mlp {
    widths: Vec<usize>,
    act: Activation,
    dev: Cpu,
    kernel: MlpKernel,
    buffers: Buffers,
    weights: NetworkWeights,
}

impl Mlp {
    /// Layer widths from inputs to outputs (at least two, all positive) and the activation after
    /// every layer but the last. Initial weights as dfdx's `Linear` draws them: uniform in
    /// ±1/√fan-in (seed 0).
    pub fn new(widths: &[usize], activation: Activation, prior: WeightPrior) -> Result<Self, ModelError> {
        if widths.len() < 2 || widths.contains(&0) {
            return Err(ModelError::Data { name: "widths".into(), detail: format!("an MLP needs at least an input and an output width, all positive; got {widths:?}") });
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let (mut sizes, mut init) = (Vec::new(), Vec::new());
        for w in widths.windows(2) {
            let k = 1.0 / (w[0] as f64).sqrt();
            for n in [w[1] * w[0], w[1]] {
                sizes.push(n);
                init.extend((0..n).map(|_| rng.gen_range(-k..k)));
            }
        }
        let weights = NetworkWeights::new(sizes, init, &prior)?;
        Ok(Self { widths: widths.to_vec(), act: activation, dev: Cpu::default(), kernel: MlpKernel::default(), buffers: Buffers::default(), weights })
    }

    /// The layer widths, inputs first.
    pub fn widths(&self) -> &[usize] {
        &self.widths
    }

    /// The activation between the layers.
    pub fn activation(&self) -> Activation {
        self.act
    }

    /// The same network evaluated by `kernel` (by default [`MlpKernel::Dense`]).
    pub fn with_kernel(mut self, kernel: MlpKernel) -> Self {
        self.kernel = kernel;
        self
    }

    /// The kernel the layers are evaluated by.
    pub fn kernel(&self) -> MlpKernel {
        self.kernel
    }

    /// The network as a function of its weights at the inputs `x` (row-major, `widths[0]` columns).
    fn function(&self, x: &[f64]) -> Box<dyn HostFunction> {
        match self.kernel {
            MlpKernel::Dense | MlpKernel::BackendOps => Box::new(DenseMlp::new(self.widths.clone(), self.act, x, &self.buffers)),
            MlpKernel::DfdxBatched => Box::new(MlpFunction::<f64, Cpu>::new(self.widths.clone(), self.act, &self.dev, x)),
        }
    }

    /// The outputs (`n · O` values, row by row) at the `n` rows of `x`, for the weights `w`; as
    /// [`Network::forward`]. On the `Native` backend the host kernel [`Mlp::kernel`] runs; on
    /// the others (dfdx on the CPU or a GPU) the layers are the backend's own operations
    /// ([`MlpKernel::BackendOps`]), so the gradient is taken where the model runs.
    pub fn forward<'c, B: Backend>(&self, w: Real<'c, B>, x: &Matrix) -> Real<'c, B> {
        if B::HOST && self.kernel != MlpKernel::BackendOps {
            return self.weights.call(w, columns(x, self.widths[0]), || Rc::from(self.function(x.data())));
        }
        let ctx = w.ctx();
        if let Err(detail) = columns(x, self.widths[0]) {
            return ctx.fail(detail);
        }
        if w.len() != self.len() {
            return ctx.fail(format!("an MLP of {} weights takes {} values, got a length-{} vector", self.len(), self.len(), w.len()));
        }
        super::mlp_layers::forward(&self.widths, self.act, w, x.data(), x.rows())
    }

    /// The outputs (row-major `(rows, O)`) at the rows of `x` for one weight vector, on the host.
    pub fn predict(&self, w: &[f64], x: &Matrix) -> Result<Vec<f64>, ModelError> {
        self.weights.predict_with(w, "x", columns(x, self.widths[0]), || self.function(x.data()))
    }

    /// As [`Network::predictive_bands`]: predictive mean and quantiles of the first output from
    /// the weights recorded as `param` in a model's `draws`.
    pub fn predictive_bands(&self, draws: &crate::sampler::Draws, param: &str, x: &Matrix, probs: &[f64], batch: usize) -> Result<super::Bands, ModelError> {
        let weights = self.weights.weights_in(draws, param)?;
        let o = *self.widths.last().unwrap_or(&1);
        super::bands_over(&weights, x, self.widths[0], probs, batch, |w, rows| {
            let out = self.function(rows).forward(w, 1);
            out.chunks(o).map(|v| v[0]).collect()
        })
    }
}

impl std::ops::Deref for Mlp {
    type Target = NetworkWeights;
    fn deref(&self) -> &NetworkWeights {
        &self.weights
    }
}

/// An MLP is checked when it is built ([`Mlp::new`]).
impl crate::data::Check for Mlp {
    fn first_bad(&self) -> Option<(String, f64)> {
        None
    }
}
