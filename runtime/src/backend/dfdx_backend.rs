//! The dfdx 0.13 backend: the only module of snell that names dfdx.
//!
//! dfdx carries its tape inside the tensor (`OwnedTape`), the tape is not `Clone`, and the taped
//! operand of a binary op must be on the left. snell keeps every tensor untaped and holds the one tape
//! of an evaluation beside them: each operation puts the tape on its left operand, runs the dfdx op
//! and takes the tape back. The tape's operations are ordered by id, so where the tape travels does
//! not matter, and a value can be used any number of times.

use super::{Backend, Binary, Scalar, Unary};
use dfdx::prelude::{
    Axes2, Axis, Backward, BroadcastTo, ChooseFrom, GatherTo, LogSumExpTo, OwnedTape, PermuteTo,
    PutTape, ReshapeTo, SplitTape, SumTo, Tensor, TryConcatAlong, TryGe, TryGt, TryLe, TryLt, TryMatMul,
};
use dfdx::shapes::HasShape;
use dfdx::tensor::Tape;
use dfdx::tensor_ops::Device;
use std::marker::PhantomData;

/// The float types snell runs dfdx with.
pub trait DfdxElem: dfdx::dtypes::Dtype + 'static {
    /// From f64 (rounding for f32).
    fn of_f64(x: f64) -> Self;
    /// To f64.
    fn as_f64(self) -> f64;
}
impl DfdxElem for f64 {
    fn of_f64(x: f64) -> Self {
        x
    }
    fn as_f64(self) -> f64 {
        self
    }
}
impl DfdxElem for f32 {
    fn of_f64(x: f64) -> Self {
        x as f32
    }
    fn as_f64(self) -> f64 {
        self as f64
    }
}

type T2<E, D> = Tensor<(usize, usize), E, D>;

/// dfdx devices whose gradient buffers snell can read and add host-computed values into: what the
/// reverse pass of a [`HostFunction`](super::HostFunction) (a network inside a model) needs on
/// dfdx, since dfdx 0.13 has no public operation that adds a gradient computed elsewhere. Its
/// `Gradients::get_or_alloc_mut` hands out the device's raw buffer; these two functions are the
/// per-device access to it (a slice on the CPU, a copy through the driver on CUDA).
pub trait HostGradients<E: DfdxElem>: Device<E> {
    /// The values of a gradient buffer, on the host.
    fn read_gradient(buf: &<Self as dfdx::tensor::Storage<E>>::Vec) -> Result<Vec<E>, Self::Err>;
    /// Adds `values` (host) into a gradient buffer.
    fn add_to_gradient(buf: &mut <Self as dfdx::tensor::Storage<E>>::Vec, values: &[E]) -> Result<(), Self::Err>;
}

macro_rules! host_gradients_cpu {
    ($($e:ty),*) => {$(
        impl HostGradients<$e> for dfdx::tensor::Cpu {
            fn read_gradient(buf: &<Self as dfdx::tensor::Storage<$e>>::Vec) -> Result<Vec<$e>, Self::Err> {
                Ok(buf.to_vec())
            }
            fn add_to_gradient(buf: &mut <Self as dfdx::tensor::Storage<$e>>::Vec, values: &[$e]) -> Result<(), Self::Err> {
                buf.iter_mut().zip(values).for_each(|(b, v)| *b += v);
                Ok(())
            }
        }
    )*};
}
host_gradients_cpu!(f32, f64);

#[cfg(feature = "cuda")]
macro_rules! host_gradients_cuda {
    ($($e:ty),*) => {$(
        impl HostGradients<$e> for dfdx::tensor::Cuda {
            fn read_gradient(buf: &<Self as dfdx::tensor::Storage<$e>>::Vec) -> Result<Vec<$e>, Self::Err> {
                let slice: &cudarc::driver::CudaSlice<$e> = buf;
                Ok(slice.device().dtoh_sync_copy(slice)?)
            }
            fn add_to_gradient(buf: &mut <Self as dfdx::tensor::Storage<$e>>::Vec, values: &[$e]) -> Result<(), Self::Err> {
                let mut host = Self::read_gradient(buf)?;
                host.iter_mut().zip(values).for_each(|(b, v)| *b += v);
                let slice: &mut cudarc::driver::CudaSlice<$e> = buf;
                let dev = slice.device();
                dev.htod_sync_copy_into(&host, slice)?;
                Ok(())
            }
        }
    )*};
}
#[cfg(feature = "cuda")]
host_gradients_cuda!(f32, f64);

/// A function of each row of a `(P, in)` tensor written as dfdx operations on device `D`: the form
/// of a [`HostFunction`](super::HostFunction) that the dfdx backend runs on its own device and
/// tape ([`TensorForms`](super::TensorForms) carries it as an `Rc<dyn TensorFunction<E, D>>`),
/// so that a network inside a model never leaves the GPU. `forward` receives the rows carrying
/// the evaluation's tape and returns the `(P, out)` outputs carrying it on; every operation it
/// records is differentiated by dfdx's reverse pass with the rest of the model.
pub trait TensorFunction<E: DfdxElem, D: Device<E>> {
    /// `f` of each row of `x`, on `dev` (the backend's device, where `x` lives).
    fn forward(&self, dev: &D, x: Tensor<(usize, usize), E, D, OwnedTape<E, D>>) -> Tensor<(usize, usize), E, D, OwnedTape<E, D>>;
}

/// A dfdx tensor with an identity that snell can see (dfdx keeps its own private).
pub struct DTensor<E, D: dfdx::tensor::Storage<E>> {
    t: T2<E, D>,
    key: u64,
}

impl<E: dfdx::shapes::Unit, D: dfdx::tensor::Storage<E>> Clone for DTensor<E, D> {
    fn clone(&self) -> Self {
        Self { t: self.t.clone(), key: self.key }
    }
}

impl<E, D: dfdx::tensor::Storage<E>> DTensor<E, D> {
    fn wrap(t: T2<E, D>) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Self { t, key: NEXT.fetch_add(1, Ordering::Relaxed) }
    }
}

/// dfdx on device `D` with element type `E`.
pub struct Dfdx<E, D> {
    dev: D,
    _e: PhantomData<E>,
}

impl<E, D: Clone> Clone for Dfdx<E, D> {
    fn clone(&self) -> Self {
        Self { dev: self.dev.clone(), _e: PhantomData }
    }
}

impl<E: dfdx::shapes::Unit, D: dfdx::tensor::Storage<E>> Dfdx<E, D> {
    /// A `(rows, cols)` dfdx tensor as this backend's tensor (no copy): how points that already
    /// live on the device enter an evaluation.
    pub(crate) fn adopt(t: &T2<E, D>) -> DTensor<E, D> {
        DTensor::wrap(t.clone())
    }
    /// This backend's tensor as the dfdx tensor it is.
    pub(crate) fn release(t: DTensor<E, D>) -> T2<E, D> {
        t.t
    }
}

impl<E, D> Dfdx<E, D> {
    /// A backend on the given dfdx device.
    pub fn new(dev: D) -> Self {
        Self { dev, _e: PhantomData }
    }
    /// The dfdx device.
    pub fn device(&self) -> &D {
        &self.dev
    }
}

impl<E, D: Default> Default for Dfdx<E, D> {
    fn default() -> Self {
        Self::new(D::default())
    }
}

/// dfdx on the CPU in f64: the default backend.
pub type Cpu64 = Dfdx<f64, dfdx::tensor::Cpu>;
/// dfdx on the CPU in f32.
pub type Cpu32 = Dfdx<f32, dfdx::tensor::Cpu>;
/// dfdx on a CUDA GPU in f64.
#[cfg(feature = "cuda")]
pub type Cuda64 = Dfdx<f64, dfdx::tensor::Cuda>;
/// dfdx on a CUDA GPU in f32.
#[cfg(feature = "cuda")]
pub type Cuda32 = Dfdx<f32, dfdx::tensor::Cuda>;

/// Runs `$body` with `$t` bound to `$x` carrying the tape (when there is one), and takes the tape
/// back from the result.
macro_rules! taped {
    ($tape:expr, $x:expr, |$t:ident| $body:expr) => {{
        match $tape.take() {
            Some(tape) => {
                let $t = $x.clone().put_tape(tape);
                let (out, tape) = $body.split_tape();
                *$tape = Some(tape);
                out
            }
            None => {
                let $t = $x.clone();
                $body
            }
        }
    }};
}

impl<E: DfdxElem, D: Device<E> + Default + 'static> Dfdx<E, D> {
    fn consts(&self, v: Vec<f64>, rows: usize, cols: usize) -> T2<E, D> {
        self.dev.tensor_from_vec(v.into_iter().map(E::of_f64).collect(), (rows, cols))
    }
}

impl<E: DfdxElem, D: HostGradients<E> + Default + 'static> Backend for Dfdx<E, D> {
    type Tensor = DTensor<E, D>;
    type Tape = OwnedTape<E, D>;

    fn name(&self) -> &'static str {
        "dfdx"
    }

    fn shape(t: &Self::Tensor) -> (usize, usize) {
        *t.t.shape()
    }

    fn new_tape(&self) -> Self::Tape {
        OwnedTape::default()
    }

    fn from_host(&self, data: &[f64], rows: usize, cols: usize) -> Self::Tensor {
        assert_eq!(data.len(), rows * cols, "from_host: {} values for a {rows}x{cols} tensor", data.len());
        DTensor::wrap(self.consts(data.to_vec(), rows, cols))
    }

    fn to_host(&self, t: &Self::Tensor) -> Vec<f64> {
        t.t.as_vec().into_iter().map(E::as_f64).collect()
    }

    fn unary(&self, tape: &mut Option<Self::Tape>, op: Unary, x: &Self::Tensor) -> Self::Tensor {
        let x = &x.t;
        DTensor::wrap(match op {
            Unary::Neg => taped!(tape, x, |t| -t),
            Unary::Exp => taped!(tape, x, |t| t.exp()),
            Unary::Ln => taped!(tape, x, |t| t.ln()),
            Unary::Sqrt => taped!(tape, x, |t| t.sqrt()),
            Unary::Square => taped!(tape, x, |t| t.square()),
            Unary::Abs => taped!(tape, x, |t| t.abs()),
            Unary::Tanh => taped!(tape, x, |t| t.tanh()),
            Unary::Sigmoid => taped!(tape, x, |t| t.sigmoid()),
            Unary::Sin => taped!(tape, x, |t| t.sin()),
            Unary::Cos => taped!(tape, x, |t| t.cos()),
            Unary::Relu => taped!(tape, x, |t| t.relu()),
        })
    }

    fn binary(&self, tape: &mut Option<Self::Tape>, op: Binary, a: &Self::Tensor, b: &Self::Tensor) -> Self::Tensor {
        // dfdx's reverse pass panics when both operands are the same tensor: give the right one a
        // new identity first (an identity op that the tape differentiates through).
        let b = if a.key == b.key { self.scalar(tape, Scalar::Mul(1.0), b).t } else { b.t.clone() };
        let a = &a.t;
        DTensor::wrap(match op {
            Binary::Add => taped!(tape, a, |t| t + b),
            Binary::Sub => taped!(tape, a, |t| t - b),
            Binary::Mul => taped!(tape, a, |t| t * b),
            Binary::Div => taped!(tape, a, |t| t / b),
        })
    }

    fn scalar(&self, tape: &mut Option<Self::Tape>, op: Scalar, x: &Self::Tensor) -> Self::Tensor {
        let x = &x.t;
        DTensor::wrap(match op {
            Scalar::Add(c) => taped!(tape, x, |t| t + E::of_f64(c)),
            Scalar::Mul(c) => taped!(tape, x, |t| t * E::of_f64(c)),
            Scalar::DivInto(c) => taped!(tape, x, |t| t.recip() * E::of_f64(c)),
            Scalar::Powf(c) => taped!(tape, x, |t| t.powf(c)),
        })
    }

    fn broadcast(&self, tape: &mut Option<Self::Tape>, x: &Self::Tensor, rows: usize, cols: usize) -> Self::Tensor {
        let (r, c) = Self::shape(x);
        let x = &x.t;
        DTensor::wrap(match (r == rows, c == cols) {
            (true, true) => x.clone(),
            (true, false) => {
                debug_assert_eq!(c, 1);
                taped!(tape, x, |t| t.reshape_like(&(r,)).broadcast_like::<_, Axis<1>>(&(rows, cols)))
            }
            (false, true) => {
                debug_assert_eq!(r, 1);
                taped!(tape, x, |t| t.reshape_like(&(c,)).broadcast_like::<_, Axis<0>>(&(rows, cols)))
            }
            (false, false) => {
                debug_assert_eq!((r, c), (1, 1));
                taped!(tape, x, |t| t.reshape_like(&()).broadcast_like::<_, Axes2<0, 1>>(&(rows, cols)))
            }
        })
    }

    fn sum_cols(&self, tape: &mut Option<Self::Tape>, x: &Self::Tensor) -> Self::Tensor {
        let (r, _) = Self::shape(x);
        let x = &x.t;
        DTensor::wrap(taped!(tape, x, |t| t.sum::<(usize,), Axis<1>>().reshape_like(&(r, 1))))
    }

    fn logsumexp_cols(&self, tape: &mut Option<Self::Tape>, x: &Self::Tensor) -> Self::Tensor {
        let (r, _) = Self::shape(x);
        let x = &x.t;
        DTensor::wrap(taped!(tape, x, |t| t.logsumexp::<(usize,), Axis<1>>().reshape_like(&(r, 1))))
    }

    fn matmul(&self, tape: &mut Option<Self::Tape>, a: &Self::Tensor, b: &Self::Tensor) -> Self::Tensor {
        let b = b.t.clone();
        let a = &a.t;
        DTensor::wrap(taped!(tape, a, |t| t.matmul(b)))
    }

    fn matmul_rows(&self, tape: &mut Option<Self::Tape>, a: &Self::Tensor, b: &Self::Tensor, m: usize, k: usize, n: usize) -> Self::Tensor {
        // dfdx's batched product `(rows, m, k) × (rows, k, n)` on reshaped views of the rows
        let (r, _) = Self::shape(a);
        let b = &b.t;
        let b3 = taped!(tape, b, |t| t.reshape_like(&(r, k, n)));
        let a = &a.t;
        DTensor::wrap(taped!(tape, a, |t| t.reshape_like(&(r, m, k)).matmul(b3.clone()).reshape_like(&(r, m * n))))
    }

    fn slice_cols(&self, tape: &mut Option<Self::Tape>, x: &Self::Tensor, start: usize, end: usize) -> Self::Tensor {
        if tape.is_none() {
            let x = &x.t;
            return DTensor::wrap(x.clone().slice((.., start..end)));
        }
        // dfdx 0.13's `slice` backward assigns the gradient instead of adding it, which loses
        // contributions when a tensor is sliced more than once (e.g. the `ordered` transform, a
        // network's layers). A fresh copy (an identity op that accumulates correctly) has the
        // slice as its only consumer, so there the assignment is the sum. Cheaper than a gather,
        // whose columns need two permutes and a strided copy.
        let copy = self.scalar(tape, Scalar::Mul(1.0), x).t;
        DTensor::wrap(taped!(tape, copy, |t| t.slice((.., start..end))))
    }

    fn gather_cols(&self, tape: &mut Option<Self::Tape>, x: &Self::Tensor, idx: &[usize]) -> Self::Tensor {
        let (r, _) = Self::shape(x);
        let m = idx.len();
        let idx = self.dev.tensor_from_vec(idx.to_vec(), (m,));
        let x = &x.t;
        DTensor::wrap(taped!(tape, x, |t| t
            .permute::<(usize, usize), Axes2<1, 0>>()
            .gather::<(usize, usize), (usize,)>(idx)
            .permute::<(usize, usize), Axes2<1, 0>>()
            .reshape_like(&(r, m))))
    }

    fn concat_cols(&self, tape: &mut Option<Self::Tape>, xs: &[Self::Tensor]) -> Self::Tensor {
        let mut acc = xs[0].t.clone();
        for x in &xs[1..] {
            let x = x.t.clone();
            acc = taped!(tape, acc, |t| (t, x).concat_along(Axis::<1>));
        }
        DTensor::wrap(acc)
    }

    fn guard(
        &self,
        tape: &mut Option<Self::Tape>,
        lp: &Self::Tensor,
        x: &Self::Tensor,
        lo: f64,
        hi: f64,
        closed: bool,
    ) -> Self::Tensor {
        let (lo, hi) = (E::of_f64(lo), E::of_f64(hi));
        let x = &x.t;
        let ok = if closed { x.ge(lo) & x.le(hi) } else { x.gt(lo) & x.lt(hi) };
        let (r, c) = Self::shape(lp);
        let neg_inf = self.consts(vec![f64::NEG_INFINITY; r * c], r, c);
        let lp = &lp.t;
        DTensor::wrap(taped!(tape, lp, |t| ok.choose(t, neg_inf)))
    }

    fn host_function(&self, tape: &mut Option<Self::Tape>, x: &Self::Tensor, f: &std::rc::Rc<dyn super::HostFunction>) -> Option<Self::Tensor> {
        if let Some(form) = f.tensor_forms().and_then(|forms| forms.get::<std::rc::Rc<dyn TensorFunction<E, D>>>()) {
            // the function's own dfdx form, on this device and this tape (a throwaway tape when
            // no gradient is wanted)
            let taped = tape.is_some();
            let out = form.forward(&self.dev, x.t.clone().put_tape(tape.take().unwrap_or_default()));
            let (out, t) = out.split_tape();
            if taped {
                *tape = Some(t);
            }
            return Some(DTensor::wrap(out));
        }
        let (r, _) = Self::shape(x);
        let xs = self.to_host(x);
        let Some(tape) = tape.as_mut() else {
            return Some(DTensor::wrap(self.consts(f.forward(&xs, r), r, f.out_cols())));
        };
        // The output is a fresh tensor, and one backward op added now (so that it runs after the
        // ops that consume the output and before those that made `x`) pulls the output's gradient
        // back through the function's own vector–Jacobian product on the host.
        let y = self.consts(f.forward_for_vjp(&xs, r), r, f.out_cols());
        let (xt, yt, f) = (x.t.clone(), y.clone(), std::rc::Rc::clone(f));
        tape.add_backward_op(move |grads| {
            let gy: Vec<f64> = D::read_gradient(grads.get_or_alloc_mut(&yt)?)?.into_iter().map(E::as_f64).collect();
            let gx: Vec<E> = f.vjp(&xs, r, &gy).into_iter().map(E::of_f64).collect();
            D::add_to_gradient(grads.get_or_alloc_mut(&xt)?, &gx)
        });
        Some(DTensor::wrap(y))
    }

    fn map(&self, tape: &mut Option<Self::Tape>, x: &Self::Tensor, f: fn(f64) -> f64, df: fn(f64) -> f64) -> Self::Tensor {
        let (r, c) = Self::shape(x);
        let xs = self.to_host(x);
        let values: Vec<f64> = xs.iter().map(|&v| f(v)).collect();
        if tape.is_none() {
            return DTensor::wrap(self.consts(values, r, c));
        }
        // Linearisation at the current point: value f(x₀) and slope f'(x₀), exact to first order,
        // which is all a reverse pass needs. Non-finite slopes (outside the function's domain) are
        // zeroed so that a −∞ density cannot spill NaN into the gradient of other members.
        let slopes: Vec<f64> = xs.iter().map(|&v| df(v)).map(|d| if d.is_finite() { d } else { 0.0 }).collect();
        let offsets: Vec<f64> = xs.iter().zip(&values).zip(&slopes).map(|((&v, &fv), &d)| fv - v * d).collect();
        let slopes = self.consts(slopes, r, c);
        let offsets = self.consts(offsets, r, c);
        let x = &x.t;
        DTensor::wrap(taped!(tape, x, |t| t * slopes + offsets))
    }

    fn gradient(&self, tape: Self::Tape, out: &Self::Tensor, wrt: &Self::Tensor) -> Vec<f64> {
        self.to_host(&self.gradient_tensor(tape, out, wrt))
    }

    fn gradient_tensor(&self, mut tape: Self::Tape, out: &Self::Tensor, wrt: &Self::Tensor) -> Self::Tensor {
        // Make sure `wrt` has a gradient even if the output does not depend on it.
        let w = wrt.t.clone();
        tape.add_backward_op(move |g| g.try_alloc_for(&w));
        let total = out.t.clone().put_tape(tape).sum::<dfdx::shapes::Rank0, _>();
        let grads = total.backward();
        DTensor::wrap(grads.get(&wrt.t))
    }
}

#[cfg(feature = "cuda")]
impl<E> Dfdx<E, dfdx::tensor::Cuda> {
    /// dfdx on the CUDA device `ordinal`; `Err` describes why the device could not be opened.
    pub fn cuda(ordinal: usize) -> Result<Self, String> {
        dfdx::tensor::Cuda::try_build(ordinal, 0).map(Self::new).map_err(|e| format!("cannot open CUDA device {ordinal}: {e:?}"))
    }
}

opaque_debug!(impl[E, D] Dfdx<E, D>);
opaque_debug!(impl[E, D: dfdx::tensor::Storage<E>] DTensor<E, D>);
