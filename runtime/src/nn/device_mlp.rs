//! [`DeviceMlp`]: a multilayer perceptron evaluated for a whole population of weight rows as
//! batched matrix products on a dfdx device, its gradient by one reverse pass of dfdx's tape.

use crate::backend::{DeviceMatrix as Rows, LogpGrad};
use super::module::{Activation, NetworkDevice};
use crate::backend::DfdxElem;
use crate::error::ModelError;
use dfdx::prelude::{Axes3, Axis, BroadcastTo, GatherTo, Gradients, NoneTape, PermuteTo, ReshapeTo, SumTo, Tensor, Trace, TryMatMul};
use dfdx::shapes::HasShape;
use dfdx::tensor_ops::Backward;

/// An MLP of the given widths (inputs first, one output) with its inputs and targets on a device.
///
/// Row `r` of a population `(P, K)` holds weight set `r` in dfdx's `Linear` layout (each layer's
/// weight row-major `(out, in)`, then its bias). Layer `l` of all rows is one batched product
/// `(P, out, in) × (P, in, n)` of views of the weight rows — the weights are never copied into
/// modules, and one evaluation is a few kernels whatever P is, where a module holds one weight set
/// and costs P passes. Activations are kept in `(P, features, n)` so that no weight is transposed.
pub(crate) struct DeviceMlp<E: DfdxElem, D: NetworkDevice<E>> {
    widths: Vec<usize>,
    act: Activation,
    /// Inputs `(n, I)`, for gathering minibatches.
    x: Tensor<(usize, usize), E, D>,
    /// Inputs transposed `(I, n)`, for the full data.
    xt: Tensor<(usize, usize), E, D>,
    y: Tensor<(usize,), E, D>,
    n: usize,
}

impl<E: DfdxElem, D: NetworkDevice<E>> DeviceMlp<E, D> {
    /// The MLP of `widths` at the inputs `x` (row-major `(n, widths[0])`) with targets `y` (`n`).
    pub(crate) fn new(dev: &D, widths: Vec<usize>, act: Activation, x: &[f64], y: &[f64]) -> Self {
        let (n, i) = (y.len(), widths[0]);
        let xs: Vec<E> = x.iter().map(|&v| E::of_f64(v)).collect();
        let mut xt = vec![E::of_f64(0.0); n * i];
        for r in 0..n {
            for j in 0..i {
                xt[j * n + r] = xs[r * i + j];
            }
        }
        let x = dev.tensor_from_vec(xs, (n, i));
        let xt = dev.tensor_from_vec(xt, (i, n));
        let y = dev.tensor_from_vec(y.iter().map(|&v| E::of_f64(v)).collect(), (n,));
        Self { widths, act, x, xt, y, n }
    }

    /// Number of observations.
    pub(crate) fn n_obs(&self) -> usize {
        self.n
    }

    /// The device.
    pub(crate) fn device(&self) -> &D {
        self.y.device()
    }

    /// `Σ_i (f_w(x_i) − y_i)²` of every row of `w` (`(P, K)`) and its gradient rows, over all
    /// observations or, with `batches` (one per row, all of one size B), over row `r`'s batch
    /// scaled by `N / B`.
    pub(crate) fn sse_rows(&self, w: &Rows<E, D>, batches: Option<&[Vec<usize>]>) -> Result<LogpGrad<E, D>, ModelError> {
        let (p, _) = *w.shape();
        let i0 = self.widths[0];
        let (h, y, b) = match batches {
            None => (self.xt.clone().broadcast_like::<_, Axis<0>>(&(p, i0, self.n)), self.y.clone().broadcast_like::<_, Axis<0>>(&(p, self.n)), self.n),
            Some(all) => {
                let b = all.first().map_or(0, Vec::len);
                if all.iter().any(|r| r.len() != b) {
                    return Err(ModelError::Data { name: "batch".into(), detail: "the batched MLP needs batches of one size in every row".into() });
                }
                let idx = self.device().tensor_from_vec(all.concat(), (p * b,));
                let x = self.x.clone().gather(idx.clone()).reshape_like(&(p, b, i0)).permute::<_, Axes3<0, 2, 1>>();
                (x, self.y.clone().gather(idx).reshape_like(&(p, b)), b)
            }
        };
        // the weight rows are the one leaf of the tape; every layer reads views of it
        let leaf = w.clone();
        let taped = || leaf.clone().traced(Gradients::leaky());
        let last = self.widths.len() - 2;
        let mut off = 0;
        let mut out = None;
        let mut h = Some(h);
        for (l, wd) in self.widths.windows(2).enumerate() {
            let (i, o) = (wd[0], wd[1]);
            let wl = taped().slice((0..p, off..off + o * i)).reshape_like(&(p, o, i));
            let bias = taped().slice((0..p, off + o * i..off + o * i + o)).broadcast_like::<_, Axis<2>>(&(p, o, b));
            off += o * i + o;
            let z = match (h.take(), out.take()) {
                (Some(x), _) => wl.matmul(x) + bias,
                (None, Some(prev)) => wl.matmul(prev) + bias,
                (None, None) => unreachable!("every layer has an input"),
            };
            out = Some(if l == last { z } else { self.act.taped(z) });
        }
        let f = out.expect("an MLP has a layer").reshape_like(&(p, b));
        let sse = (f - y).square().sum::<(usize,), Axis<1>>() * E::of_f64(self.n as f64 / b as f64);
        let value = sse.retaped::<NoneTape>();
        let grads = sse.sum::<(), _>().backward();
        Ok((value, grads.get(&leaf)))
    }
}
