//! Points held on a dfdx device, in snell's own type ([`DevicePoints`]), and the row-wise tensor
//! helpers that the device execution uses.
//!
//! The device execution keeps the `(P, D)` positions, momenta and gradients of all chains in
//! tensors on one dfdx device; a [`Target`](crate::target::Target) evaluates them through
//! [`logp_grad_device`](crate::target::Target::logp_grad_device), which takes and returns
//! [`DevicePoints`]. That type names the devices and element types snell runs on (dfdx's `Cpu`
//! in f32 and f64, and `Cuda` in both behind the `cuda` feature), so that the target trait stays
//! object-safe and free of dfdx's generic parameters while a target that can evaluate on the
//! device (a `#[model]` through the dfdx backend, networks inside it included) finds its tensors
//! there without a copy.

use super::dfdx_backend::{Dfdx, DfdxElem};
use crate::error::ModelError;
use dfdx::prelude::{Axis, BroadcastTo, SumTo, Tensor};
use dfdx::shapes::HasShape;
use dfdx::tensor::Cpu;
use dfdx::tensor_ops::Device;

/// `(P, D)`: one row per point (per chain).
pub type DeviceMatrix<E, D> = Tensor<(usize, usize), E, D>;
/// `(P,)`: one value per point.
pub type DeviceColumn<E, D> = Tensor<(usize,), E, D>;
/// Log densities `(P,)` and their gradients `(P, D)` on a device.
pub type LogpGrad<E, D> = (DeviceColumn<E, D>, DeviceMatrix<E, D>);

/// `(P, D)` points on one of the dfdx devices snell runs on, in one of its element types.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum DevicePoints {
    /// dfdx's CPU device, f32.
    CpuF32(DeviceMatrix<f32, Cpu>),
    /// dfdx's CPU device, f64.
    CpuF64(DeviceMatrix<f64, Cpu>),
    /// A CUDA GPU, f32.
    #[cfg(feature = "cuda")]
    CudaF32(DeviceMatrix<f32, dfdx::tensor::Cuda>),
    /// A CUDA GPU, f64.
    #[cfg(feature = "cuda")]
    CudaF64(DeviceMatrix<f64, dfdx::tensor::Cuda>),
}

/// A dfdx device that holds [`DevicePoints`] in element type `E`: dfdx's `Cpu`, and `Cuda` behind
/// the `cuda` feature, in f32 and f64.
pub trait PointDevice<E: DfdxElem>: Device<E> {
    /// The tensor as [`DevicePoints`].
    fn wrap(t: DeviceMatrix<E, Self>) -> DevicePoints;
    /// The tensor inside `points`, if they live on this kind of device in `E`.
    fn unwrap(points: &DevicePoints) -> Option<&DeviceMatrix<E, Self>>;
}

macro_rules! point_device {
    ($dev:ty, $e:ty, $variant:ident $(, $cfg:meta)?) => {
        $(#[$cfg])?
        impl PointDevice<$e> for $dev {
            fn wrap(t: DeviceMatrix<$e, Self>) -> DevicePoints {
                DevicePoints::$variant(t)
            }
            fn unwrap(points: &DevicePoints) -> Option<&DeviceMatrix<$e, Self>> {
                match points {
                    DevicePoints::$variant(t) => Some(t),
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }
        }
    };
}

point_device!(Cpu, f32, CpuF32);
point_device!(Cpu, f64, CpuF64);
point_device!(dfdx::tensor::Cuda, f32, CudaF32, cfg(feature = "cuda"));
point_device!(dfdx::tensor::Cuda, f64, CudaF64, cfg(feature = "cuda"));

/// Evaluates `$body` with `$t` bound to the tensor inside [`DevicePoints`] `$p`, whichever device
/// and element type it has (the body is compiled once per variant).
macro_rules! with_points {
    ($p:expr, |$t:ident| $body:expr) => {
        match $p {
            $crate::backend::DevicePoints::CpuF32($t) => $body,
            $crate::backend::DevicePoints::CpuF64($t) => $body,
            #[cfg(feature = "cuda")]
            $crate::backend::DevicePoints::CudaF32($t) => $body,
            #[cfg(feature = "cuda")]
            $crate::backend::DevicePoints::CudaF64($t) => $body,
        }
    };
}

impl DevicePoints {
    /// Row-major host values, `rows` rows of `values.len() / rows`, on `dev` in element type `E`
    /// (e.g. `DevicePoints::from_host::<f64, _>(&Cpu::default(), &q, 4)`); values that do not
    /// fill whole rows are a [`ModelError::Dimension`].
    pub fn from_host<E: DfdxElem, D: PointDevice<E>>(dev: &D, values: &[f64], rows: usize) -> Result<DevicePoints, ModelError> {
        let d = values.len() / rows.max(1);
        check_len(values.len(), rows * d)?;
        Ok(D::wrap(upload(dev, values, rows, d)))
    }

    /// `(P, D)`.
    pub fn shape(&self) -> (usize, usize) {
        with_points!(self, |t| *t.shape())
    }

    /// The points on the host as f64, row-major.
    pub fn to_host(&self) -> Vec<f64> {
        with_points!(self, |t| download(t))
    }

    /// Row-major `(P, D)` host values (`P·D` of them, this array's shape) on this array's device in
    /// its element type, e.g. a gradient for these points; another number of values is a
    /// [`ModelError::Dimension`].
    pub fn like(&self, values: &[f64]) -> Result<DevicePoints, ModelError> {
        let (p, d) = self.shape();
        check_len(values.len(), p * d)?;
        Ok(with_points!(self, |t| like(t, values, p, d)))
    }
}

fn check_len(got: usize, expected: usize) -> Result<(), ModelError> {
    if got == expected {
        Ok(())
    } else {
        Err(ModelError::Dimension { what: "values for (P, D) points on a device".into(), expected, got })
    }
}

fn like<E: DfdxElem, D: PointDevice<E>>(t: &DeviceMatrix<E, D>, values: &[f64], p: usize, d: usize) -> DevicePoints {
    D::wrap(upload(t.device(), values, p, d))
}

/// An evaluation of points that already live on a backend's device (a model's, on the dfdx
/// backend of the points' device): log densities on the host, the gradient left on the device.
pub(crate) trait OnDevice {
    /// Log densities and the gradient of the `(P, D)` points `theta`, a tensor of `backend`, on
    /// all observations or on the minibatch `batch` (its likelihood scaled to the full data's).
    fn evaluate<B: super::Backend>(&self, backend: &B, theta: B::Tensor, batch: Option<&[usize]>) -> Result<(Vec<f64>, B::Tensor), ModelError>;
}

/// `f` of the points `q` on the dfdx backend of their own device and element type: the points
/// enter the evaluation and its gradient leaves it without a copy.
pub(crate) fn evaluate_points(q: &DevicePoints, f: &impl OnDevice) -> Result<(Vec<f64>, DevicePoints), ModelError> {
    fn on<E: DfdxElem, D: PointDevice<E> + super::HostGradients<E> + Default>(t: &DeviceMatrix<E, D>, f: &impl OnDevice) -> Result<(Vec<f64>, DevicePoints), ModelError> {
        let (lp, grad) = f.evaluate(&backend_of(t), Dfdx::adopt(t), None)?;
        Ok((lp, D::wrap(Dfdx::release(grad))))
    }
    with_points!(q, |t| on(t, f))
}

/// As [`evaluate_points`] with one minibatch per point: one evaluation per row, each on its own
/// batch, all on the points' device (the rows are cut there and the gradient rows stacked there).
pub(crate) fn evaluate_points_on_batches(q: &DevicePoints, batches: &[&[usize]], f: &impl OnDevice) -> Result<(Vec<f64>, DevicePoints), ModelError> {
    fn on<E: DfdxElem, D: PointDevice<E> + super::HostGradients<E> + Default>(t: &DeviceMatrix<E, D>, batches: &[&[usize]], f: &impl OnDevice) -> Result<(Vec<f64>, DevicePoints), ModelError> {
        use dfdx::prelude::{ReshapeTo, TryStack};
        let (p, d) = *t.shape();
        check_batch_count(batches.len(), p)?;
        let backend = backend_of(t);
        let (mut lp, mut grads) = (Vec::with_capacity(p), Vec::with_capacity(p));
        for (r, batch) in batches.iter().enumerate() {
            let row = t.clone().slice((r..r + 1, 0..d));
            let (l, g) = f.evaluate(&backend, Dfdx::adopt(&row), Some(batch))?;
            lp.extend(l);
            grads.push(Dfdx::release(g).reshape_like(&(d,)));
        }
        Ok((lp, D::wrap(grads.stack())))
    }
    with_points!(q, |t| on(t, batches, f))
}

/// One batch per row of a population of `p`.
pub(crate) fn check_batch_count(batches: usize, p: usize) -> Result<(), ModelError> {
    if batches == p {
        Ok(())
    } else {
        Err(ModelError::Dimension { what: "minibatches, one per point".into(), expected: p, got: batches })
    }
}

/// The dfdx backend of the device and element type `t` lives on.
pub(crate) fn backend_of<S: dfdx::shapes::Shape, E: DfdxElem, D: Device<E>>(t: &Tensor<S, E, D>) -> Dfdx<E, D> {
    Dfdx::new(t.device().clone())
}

/// `(P, D)` host values (row-major) as a device tensor.
pub(crate) fn upload<E: DfdxElem, D: Device<E>>(dev: &D, values: &[f64], p: usize, d: usize) -> DeviceMatrix<E, D> {
    dev.tensor_from_vec(values.iter().map(|&v| E::of_f64(v)).collect(), (p, d))
}

/// Host values as a `(n,)` device tensor.
pub(crate) fn upload_column<E: DfdxElem, D: Device<E>>(dev: &D, values: &[f64]) -> DeviceColumn<E, D> {
    dev.tensor_from_vec(values.iter().map(|&v| E::of_f64(v)).collect(), (values.len(),))
}

/// A device tensor's values on the host, as f64 (row-major).
pub(crate) fn download<S: dfdx::shapes::Shape, E: DfdxElem, D: Device<E>>(t: &Tensor<S, E, D>) -> Vec<f64> {
    t.as_vec().into_iter().map(DfdxElem::as_f64).collect()
}

/// `Σ_j m[i, j]` per row.
pub(crate) fn row_sum<E: DfdxElem, D: Device<E>>(m: DeviceMatrix<E, D>) -> DeviceColumn<E, D> {
    m.sum::<(usize,), Axis<1>>()
}

/// `Σ_j a[i, j]·b[i, j]` per row.
pub(crate) fn row_dot<E: DfdxElem, D: Device<E>>(a: &DeviceMatrix<E, D>, b: &DeviceMatrix<E, D>) -> DeviceColumn<E, D> {
    row_sum(a.clone() * b.clone())
}

/// A per-row value repeated along the row: `(P,) -> (P, D)`.
pub(crate) fn spread<E: DfdxElem, D: Device<E>>(v: DeviceColumn<E, D>, d: usize) -> DeviceMatrix<E, D> {
    let p = v.shape().0;
    v.broadcast_like::<_, Axis<1>>(&(p, d))
}

/// A per-row flag repeated along the row.
pub(crate) fn spread_mask<E: DfdxElem, D: Device<E>>(m: &Tensor<(usize,), bool, D>, d: usize) -> Tensor<(usize, usize), bool, D> {
    let p = m.shape().0;
    m.clone().broadcast_like::<_, Axis<1>>(&(p, d))
}

/// A population's dimension against the target's.
pub(crate) fn check_dim(got: usize, want: usize) -> Result<(), ModelError> {
    if got == want {
        Ok(())
    } else {
        Err(ModelError::Dimension { what: "coordinates of each point on the device".into(), expected: want, got })
    }
}

/// Bytes of CUDA device memory in use (the driver's total minus free) on the current thread's
/// device, or `None` where the driver cannot tell. dfdx keeps freed buffers in its cache rather
/// than returning them to the driver, so after a run this is close to the run's peak.
#[cfg(feature = "cuda")]
pub fn cuda_memory_in_use() -> Option<usize> {
    cudarc::driver::result::mem_get_info().ok().map(|(free, total)| total.saturating_sub(free))
}
