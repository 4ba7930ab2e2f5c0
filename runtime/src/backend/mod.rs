//! The seam between snell and a tensor library.
//!
//! Everything a model evaluation needs from a tensor library is one of the primitive operations of
//! [`Backend`], applied to 2-D tensors of shape `(rows, cols)`. `rows` is either 1 (a value shared by
//! the whole population, e.g. data) or `P` (one row per population member); `cols` is 1 for scalars
//! or the length of a vector. Broadcasting, shapes and the choice of operations are decided above this
//! trait (in `snell::value`), so a backend only has to execute them and differentiate them.
//!
//! Two backends implement it: [`Native`], snell's own CPU tape in f64 (the default: dfdx's per-op
//! cost dominates small models), and dfdx ([`Dfdx`]: `Cpu64`, `Cpu32`, and `Cuda64`/`Cuda32` behind
//! the `cuda` feature). This module is the only place that names dfdx's tensors and tapes for model
//! evaluation, and it holds snell's type for points on a dfdx device ([`DevicePoints`]), which
//! the device execution hands to targets; nothing here knows of samplers or networks, which sit
//! above it.

pub(crate) mod device;
mod dfdx_backend;
mod native;

pub use device::{DeviceColumn, DeviceMatrix, DevicePoints, LogpGrad, PointDevice};
#[cfg(feature = "cuda")]
pub use device::cuda_memory_in_use;
pub use dfdx_backend::{Cpu32, Cpu64, Dfdx, DfdxElem, HostGradients, TensorFunction};
pub use native::Native;
#[cfg(feature = "cuda")]
pub use dfdx_backend::{Cuda32, Cuda64};

/// Element-wise operations with one operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unary {
    /// `−x`
    Neg,
    /// `eˣ`
    Exp,
    /// `ln x`
    Ln,
    /// `√x`
    Sqrt,
    /// `x²`
    Square,
    /// `|x|`
    Abs,
    /// `tanh x`
    Tanh,
    /// `1 / (1 + e⁻ˣ)`
    Sigmoid,
    /// `sin x`
    Sin,
    /// `cos x`
    Cos,
    /// `max(0, x)`
    Relu,
}

/// Element-wise operations with two operands of the same shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    /// `a + b`
    Add,
    /// `a − b`
    Sub,
    /// `a · b`
    Mul,
    /// `a / b`
    Div,
}

/// Operations between a tensor and a constant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    /// `x + c`
    Add(f64),
    /// `x * c`
    Mul(f64),
    /// `c / x`
    DivInto(f64),
    /// `x.powf(c)`
    Powf(f64),
}

/// A function of a whole row that the backend does not know, computed on the host with its own
/// vector–Jacobian product: the hook through which a dfdx network runs inside a model
/// (`snell::nn::Network`) or a Gaussian-process factorisation. Rows are population members:
/// `forward` maps each row of `x` (`rows × in_cols`, row-major) to a row of `out_cols()` values,
/// and `vjp` pulls an output gradient `g` (`rows × out_cols`) back to `x`.
pub trait HostFunction {
    /// What to call the function in messages.
    fn name(&self) -> String;
    /// Length of each input row.
    fn in_cols(&self) -> usize;
    /// Length of each output row.
    fn out_cols(&self) -> usize;
    /// `f` of each row of `x`, row-major `(rows, out_cols)`.
    fn forward(&self, x: &[f64], rows: usize) -> Vec<f64>;
    /// [`forward`](Self::forward) when a [`vjp`](Self::vjp) at the same `x` will follow: a
    /// function may keep what its reverse pass needs (a taped forward pass) instead of computing
    /// it again there. By default the plain forward pass.
    fn forward_for_vjp(&self, x: &[f64], rows: usize) -> Vec<f64> {
        self.forward(x, rows)
    }
    /// `gᵀ ∂f/∂x` for each row, row-major `(rows, in_cols)`.
    fn vjp(&self, x: &[f64], rows: usize, g: &[f64]) -> Vec<f64>;
    /// The same function written as a backend's own operations, for the backends it has such a
    /// form for ([`TensorForms`]): there it runs where the backend's tensors live, recorded on the
    /// evaluation's tape, instead of through the host. None by default.
    fn tensor_forms(&self) -> Option<&TensorForms> {
        None
    }
}

/// Forms of one [`HostFunction`] that particular backends run as their own operations, each a
/// value of a type the backend looks for (for dfdx on device `D` in `E`: an
/// `Rc<dyn TensorFunction<E, D>>`). A backend that finds none of its type runs the host form.
#[derive(Default)]
pub struct TensorForms(Vec<Box<dyn std::any::Any>>);

impl TensorForms {
    /// These forms and `form`.
    pub fn with<F: std::any::Any>(mut self, form: F) -> Self {
        self.0.push(Box::new(form));
        self
    }

    /// The form of type `F`, if there is one.
    pub fn get<F: std::any::Any>(&self) -> Option<&F> {
        self.0.iter().find_map(|f| f.downcast_ref::<F>())
    }
}

impl std::fmt::Debug for TensorForms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TensorForms({})", self.0.len())
    }
}

/// A tensor library that snell can evaluate models with.
///
/// All tensors are 2-D `(rows, cols)`. Operations take an optional tape: `None` means no gradient is
/// wanted and nothing is recorded.
pub trait Backend: Clone + 'static {
    /// The device's tensor type. Cloning must be cheap (a reference count).
    type Tensor: Clone;
    /// Whether tensors are host vectors of f64 that a [`HostFunction`] reads in place. Then a
    /// hand-written host kernel (a dense network's) is the fastest way to evaluate a function;
    /// elsewhere its values would travel to the host and back, and a network is built from the
    /// backend's own operations instead.
    const HOST: bool = false;
    /// Records operations for the reverse pass.
    type Tape;

    /// A short name for messages, e.g. `"dfdx-cpu-f64"`.
    fn name(&self) -> &'static str;
    /// Shape `(rows, cols)` of a tensor.
    fn shape(t: &Self::Tensor) -> (usize, usize);
    /// A new, empty tape.
    fn new_tape(&self) -> Self::Tape;
    /// Copies host values (row-major) to the device.
    fn from_host(&self, data: &[f64], rows: usize, cols: usize) -> Self::Tensor;
    /// Copies a tensor to the host (row-major).
    fn to_host(&self, t: &Self::Tensor) -> Vec<f64>;

    /// An element-wise function of one tensor.
    fn unary(&self, tape: &mut Option<Self::Tape>, op: Unary, x: &Self::Tensor) -> Self::Tensor;
    /// An element-wise function of two tensors of the same shape.
    fn binary(&self, tape: &mut Option<Self::Tape>, op: Binary, a: &Self::Tensor, b: &Self::Tensor) -> Self::Tensor;
    /// A tensor combined with a constant.
    fn scalar(&self, tape: &mut Option<Self::Tape>, op: Scalar, x: &Self::Tensor) -> Self::Tensor;
    /// Expands dimensions of size 1 to `(rows, cols)`.
    fn broadcast(&self, tape: &mut Option<Self::Tape>, x: &Self::Tensor, rows: usize, cols: usize) -> Self::Tensor;
    /// `(r, c) -> (r, 1)`: sum over columns.
    fn sum_cols(&self, tape: &mut Option<Self::Tape>, x: &Self::Tensor) -> Self::Tensor;
    /// `(r, c) -> (r, 1)`: `ln Σ exp` over columns.
    fn logsumexp_cols(&self, tape: &mut Option<Self::Tape>, x: &Self::Tensor) -> Self::Tensor;
    /// `(m, k) × (k, n) -> (m, n)`.
    fn matmul(&self, tape: &mut Option<Self::Tape>, a: &Self::Tensor, b: &Self::Tensor) -> Self::Tensor;
    /// One matrix product per row: row `r` of `a` (`(rows, m·k)`) read as an `(m, k)` matrix times
    /// row `r` of `b` (`(rows, k·n)`) read as a `(k, n)` matrix (both row-major) is row `r` of the
    /// result `(rows, m·n)`. `a` and `b` have the same number of rows. The product of each
    /// population member's own weights with its own activations: what a network inside a model is
    /// made of on the backend's own operations.
    fn matmul_rows(&self, tape: &mut Option<Self::Tape>, a: &Self::Tensor, b: &Self::Tensor, m: usize, k: usize, n: usize) -> Self::Tensor;
    /// Columns `start..end`.
    fn slice_cols(&self, tape: &mut Option<Self::Tape>, x: &Self::Tensor, start: usize, end: usize) -> Self::Tensor;
    /// Columns `idx[0], idx[1], …` (indices may repeat).
    fn gather_cols(&self, tape: &mut Option<Self::Tape>, x: &Self::Tensor, idx: &[usize]) -> Self::Tensor;
    /// Concatenates tensors with equal row counts along columns.
    fn concat_cols(&self, tape: &mut Option<Self::Tape>, xs: &[Self::Tensor]) -> Self::Tensor;
    /// `lp` where `lo < x < hi` (or `≤` where `closed`), `-∞` elsewhere; same shapes.
    fn guard(
        &self,
        tape: &mut Option<Self::Tape>,
        lp: &Self::Tensor,
        x: &Self::Tensor,
        lo: f64,
        hi: f64,
        closed: bool,
    ) -> Self::Tensor;
    /// Applies `f` element-wise with derivative `df`: the hook for special functions the tensor
    /// library lacks (lgamma, log1p, softplus, …).
    fn map(&self, tape: &mut Option<Self::Tape>, x: &Self::Tensor, f: fn(f64) -> f64, df: fn(f64) -> f64) -> Self::Tensor;
    /// Applies a [`HostFunction`] to each row of `x`. `None` when the backend cannot record it on
    /// the given tape (the caller reports that as a model error); without a tape every backend can
    /// evaluate it.
    fn host_function(&self, tape: &mut Option<Self::Tape>, x: &Self::Tensor, f: &std::rc::Rc<dyn HostFunction>) -> Option<Self::Tensor>;
    /// Runs the reverse pass from `Σ out` and returns `∂/∂wrt` on the host (row-major).
    fn gradient(&self, tape: Self::Tape, out: &Self::Tensor, wrt: &Self::Tensor) -> Vec<f64>;
    /// [`gradient`](Self::gradient) as a tensor of `wrt`'s shape, left where the backend keeps
    /// it (on a GPU, there): for evaluations of points that live on the backend's device.
    fn gradient_tensor(&self, tape: Self::Tape, out: &Self::Tensor, wrt: &Self::Tensor) -> Self::Tensor {
        let (r, c) = Self::shape(wrt);
        self.from_host(&self.gradient(tape, out, wrt), r, c)
    }
}
