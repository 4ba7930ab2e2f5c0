//! An [`Mlp`](super::Mlp) built from the backend's own operations: one per-member matrix product
//! per layer ([`Backend::matmul_rows`](crate::backend::Backend::matmul_rows)), so that on a dfdx
//! device the weights, activations and their gradients never leave it.

use super::Activation;
use crate::backend::Backend;
use crate::value::Real;

/// The outputs of the MLP of `widths` with activation `act` for the weight rows `w` (dfdx's
/// `Linear` layout per layer: weight row-major `(out, in)`, then bias) at the `n` inputs `x`
/// (row-major `(n, widths[0])`): `n · O` values per member, row by row.
///
/// Each member's activations are kept as `(features, n)`, so that a layer is `W · H + b 1ᵀ` with
/// the weights read in place: the input `xᵀ` and the row of ones are shared by every member.
pub(crate) fn forward<'c, B: Backend>(widths: &[usize], act: Activation, w: Real<'c, B>, x: &[f64], n: usize) -> Real<'c, B> {
    let ctx = w.ctx();
    let mut xt = vec![0.0; x.len()];
    let i0 = widths[0];
    for (r, row) in x.chunks_exact(i0).enumerate() {
        for (j, &v) in row.iter().enumerate() {
            xt[j * n + r] = v;
        }
    }
    let ones = ctx.data(vec![1.0; n]);
    let mut h = ctx.data(xt);
    let last = widths.len() - 2;
    let mut off = 0;
    for (l, wd) in widths.windows(2).enumerate() {
        let (i, o) = (wd[0], wd[1]);
        let weight = w.slice(off, off + o * i);
        let bias = w.slice(off + o * i, off + o * i + o);
        off += o * i + o;
        let z = ctx.op_matmul_rows(weight, h, o, i, n) + ctx.op_matmul_rows(bias, ones, o, 1, n);
        h = if l == last { z } else { apply(act, z) };
    }
    let o = widths[widths.len() - 1];
    if o == 1 {
        return h;
    }
    // (O, n) per member to the outputs row by row, (n, O)
    let idx: Vec<usize> = (0..n * o).map(|t| (t % o) * n + t / o).collect();
    h.gather(&idx)
}

fn apply<B: Backend>(act: Activation, z: Real<'_, B>) -> Real<'_, B> {
    match act {
        Activation::Tanh => z.tanh(),
        Activation::ReLU => z.relu(),
        Activation::Sigmoid => z.sigmoid(),
        Activation::OnePlusTanh => z.tanh() + 1.0,
    }
}
