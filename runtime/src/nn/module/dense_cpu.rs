//! [`DenseMlp`]: a multilayer perceptron's forward and reverse pass written out for the CPU in
//! f64, one population member at a time, each layer one `matrixmultiply` product on views of the
//! member's flat weights.
//!
//! Why not dfdx's batched matmul and tape ([`MlpFunction`](super::MlpFunction)): for the small
//! layers of a Bayesian network (1-50-50-1 at 50 points) the cost of dfdx on the CPU is not the
//! products but what surrounds them — copying every member's weights into transposed `(P, in,
//! out)` tensors and the gradients back, broadcasting the biases through dfdx's generic
//! element-wise path, allocating every intermediate and gradient tensor anew on each call, and
//! keeping P members' tapes alive until the reverse pass. Here the weights are read where they lie
//! (a `(out, in)` row-major weight is the transposed operand by its strides), the gradient is
//! written straight into its row, and the activations of the last taped pass stay in one buffer
//! that later calls reuse.

use super::tanh::tanh_in_place;
use super::Activation;
use std::cell::RefCell;
use std::sync::{Arc, Mutex};

/// `c = a · b + beta · c` for row-major or strided `(m, k)` and `(k, n)` operands, `c` row-major
/// `(m, n)` with row stride `ldc`. Strides are `(row, column)` in elements.
#[allow(clippy::too_many_arguments)]
fn gemm(m: usize, k: usize, n: usize, a: &[f64], (rsa, csa): (usize, usize), b: &[f64], (rsb, csb): (usize, usize), beta: f64, c: &mut [f64], ldc: usize) {
    if m == 0 || n == 0 {
        return;
    }
    // the last element each operand is read or written at: the checks that make the call sound
    if k > 0 {
        assert!(a.len() > (m - 1) * rsa + (k - 1) * csa, "gemm: `a` too short");
        assert!(b.len() > (k - 1) * rsb + (n - 1) * csb, "gemm: `b` too short");
    }
    assert!(c.len() > (m - 1) * ldc + (n - 1) && ldc >= n, "gemm: `c` too short");
    // SAFETY: every element the product reads or writes lies in its slice (checked above), and
    // `c` is a unique borrow whose rows of length n ≤ ldc do not alias.
    unsafe {
        matrixmultiply::dgemm(m, k, n, 1.0, a.as_ptr(), rsa as isize, csa as isize, b.as_ptr(), rsb as isize, csb as isize, beta, c.as_mut_ptr(), ldc as isize, 1);
    }
}

impl Activation {
    /// The activation of every element of `z`, in place.
    fn apply(self, z: &mut [f64]) {
        match self {
            Activation::Tanh => tanh_in_place(z),
            Activation::ReLU => z.iter_mut().for_each(|v| *v = v.max(0.0)),
            Activation::Sigmoid => z.iter_mut().for_each(|v| *v = 1.0 / (1.0 + (-*v).exp())),
            Activation::OnePlusTanh => {
                tanh_in_place(z);
                z.iter_mut().for_each(|v| *v += 1.0);
            }
        }
    }

    /// Its derivative, from the activation's value `h` (what the forward pass keeps).
    fn slope(self, h: f64) -> f64 {
        match self {
            Activation::Tanh => 1.0 - h * h,
            Activation::ReLU => (h > 0.0) as u8 as f64,
            Activation::Sigmoid => h * (1.0 - h),
            Activation::OnePlusTanh => {
                let t = h - 1.0;
                1.0 - t * t
            }
        }
    }
}

/// The activations kept from the last taped pass, for the `vjp` of the same weights.
#[derive(Default)]
struct Kept {
    w: Vec<f64>,
    /// Per member, every layer's output `(n, width)` after its activation, layer after layer.
    acts: Vec<f64>,
}

/// Buffers for the kept activations that outlive one evaluation: a [`DenseMlp`] is built for
/// every evaluation of a model, and at P = 1000 its activations (40 MB for 1-50-50-1 at 50 points)
/// are beyond the allocator's mapping threshold, so a new buffer would be mapped and faulted in
/// page by page on every call. Each evaluation takes a buffer and gives it back when done; clones
/// share the pool, and concurrent evaluations (chain threads) take one each.
#[derive(Clone, Default)]
pub(crate) struct Buffers(Arc<Mutex<Vec<Kept>>>);

impl Buffers {
    fn take(&self) -> Kept {
        self.0.lock().map(|mut pool| pool.pop().unwrap_or_default()).unwrap_or_default()
    }

    fn give_back(&self, kept: Kept) {
        if let Ok(mut pool) = self.0.lock() {
            pool.push(kept);
        }
    }
}

impl std::fmt::Debug for Buffers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.0.lock().map_or(0, |pool| pool.len());
        write!(f, "Buffers({held} held)")
    }
}

/// An MLP of the given widths at fixed inputs, evaluated on the host in f64; the flat weights as
/// dfdx's `Linear` layers lay them out (weight row-major `(out, in)`, then bias).
pub(crate) struct DenseMlp {
    widths: Vec<usize>,
    act: Activation,
    /// The inputs, row-major `(n, widths[0])`.
    x: Vec<f64>,
    n: usize,
    n_weights: usize,
    /// Values per member in [`Kept::acts`].
    n_acts: usize,
    kept: RefCell<Kept>,
    buffers: Buffers,
}

impl Drop for DenseMlp {
    fn drop(&mut self) {
        self.buffers.give_back(std::mem::take(self.kept.get_mut()));
    }
}

impl DenseMlp {
    /// The MLP of layer widths `widths` (inputs first) at the inputs `x` (row-major `(n, widths[0])`),
    /// keeping its activations in a buffer from `buffers`.
    pub(crate) fn new(widths: Vec<usize>, act: Activation, x: &[f64], buffers: &Buffers) -> Self {
        let n = x.len() / widths[0];
        let n_weights = widths.windows(2).map(|w| w[1] * w[0] + w[1]).sum();
        let n_acts = n * widths[1..].iter().sum::<usize>();
        let mut kept = buffers.take();
        // weights of an earlier evaluation are no record of this one's taped pass
        kept.w.clear();
        Self { widths, act, x: x.to_vec(), n, n_weights, n_acts, kept: RefCell::new(kept), buffers: buffers.clone() }
    }

    fn out_cols(&self) -> usize {
        self.n * self.widths.last().unwrap()
    }

    /// One member's forward pass: every layer's output into `acts` (`n_acts` values), the last
    /// layer's without activation.
    fn forward_member(&self, w: &[f64], acts: &mut [f64]) {
        let n = self.n;
        let last = self.widths.len() - 2;
        let (mut off, mut at) = (0, 0);
        for (l, wd) in self.widths.windows(2).enumerate() {
            let (i, o) = (wd[0], wd[1]);
            let (weight, bias) = (&w[off..off + o * i], &w[off + o * i..off + o * i + o]);
            let (done, rest) = acts.split_at_mut(at);
            let z = &mut rest[..n * o];
            let h: &[f64] = if l == 0 { &self.x } else { &done[at - n * i..] };
            for row in z.chunks_exact_mut(o) {
                row.copy_from_slice(bias);
            }
            // z (n, o) += h (n, i) · Wᵀ, Wᵀ being W (o, i) read by column
            gemm(n, i, o, h, (i, 1), weight, (1, i), 1.0, z, o);
            if l != last {
                self.act.apply(z);
            }
            off += o * i + o;
            at += n * o;
        }
    }

    /// One member's weight gradient of `Σ seed · outputs` into `grad` (`n_weights` values), from
    /// its forward pass `acts`; `delta` and `back` are scratch of `n · max width` values.
    fn gradient_member(&self, w: &[f64], acts: &[f64], seed: &[f64], grad: &mut [f64], delta: &mut Vec<f64>, back: &mut Vec<f64>) {
        let n = self.n;
        let layers = self.widths.len() - 1;
        delta.clear();
        delta.extend_from_slice(seed);
        let mut w_end = self.n_weights;
        let mut a_end = self.n_acts;
        for l in (0..layers).rev() {
            let (i, o) = (self.widths[l], self.widths[l + 1]);
            let off = w_end - (o * i + o);
            a_end -= n * o;
            let h: &[f64] = if l == 0 { &self.x } else { &acts[a_end - n * i..a_end] };
            let (gw, gb) = grad[off..w_end].split_at_mut(o * i);
            // ∂W (o, i) = δᵀ (o, n) · h (n, i); ∂b = δ summed over the points
            gemm(o, n, i, delta, (1, o), h, (i, 1), 0.0, gw, i);
            gb.fill(0.0);
            for row in delta.chunks_exact(o) {
                gb.iter_mut().zip(row).for_each(|(g, d)| *g += d);
            }
            if l > 0 {
                // ∂h (n, i) = δ (n, o) · W (o, i), then through the activation
                back.clear();
                back.resize(n * i, 0.0);
                gemm(n, o, i, delta, (o, 1), &w[off..off + o * i], (i, 1), 0.0, back, i);
                back.iter_mut().zip(h).for_each(|(d, &h)| *d *= self.act.slope(h));
                std::mem::swap(delta, back);
            }
            w_end = off;
        }
    }

    /// The outputs `(rows, n · O)` of `rows` members; with `keep`, their weights and activations
    /// are kept for [`Self::gradient`] (each member's weights copied while they are in cache for
    /// its forward pass, not in a separate sweep over the population).
    fn run(&self, w: &[f64], rows: usize, keep: bool) -> Vec<f64> {
        let (nw, na, oc) = (self.n_weights, self.n_acts, self.out_cols());
        let mut out = Vec::with_capacity(rows * oc);
        let mut kept = self.kept.borrow_mut();
        let Kept { w: kept_w, acts: kept_acts } = &mut *kept;
        let mut scratch = Vec::new();
        if keep {
            kept_w.clear();
            kept_acts.resize(rows * na, 0.0);
        } else {
            scratch.resize(na, 0.0);
        }
        for (r, wr) in w[..rows * nw].chunks_exact(nw).enumerate() {
            let a = if keep {
                kept_w.extend_from_slice(wr);
                &mut kept_acts[r * na..(r + 1) * na]
            } else {
                &mut scratch[..]
            };
            self.forward_member(wr, a);
            out.extend_from_slice(&a[na - oc..]);
        }
        out
    }

    /// `gᵀ ∂f/∂w` for each of the `rows` members, from the kept activations of the members whose
    /// weights the last taped pass had, otherwise from a new forward pass of the member.
    fn gradient(&self, w: &[f64], rows: usize, g: &[f64]) -> Vec<f64> {
        let (nw, na, oc) = (self.n_weights, self.n_acts, self.out_cols());
        let kept = self.kept.borrow();
        let mut grad = vec![0.0; rows * nw];
        let (mut delta, mut back, mut fresh) = (Vec::new(), Vec::new(), Vec::new());
        for (r, wr) in w[..rows * nw].chunks_exact(nw).enumerate() {
            let acts = match kept.w.get(r * nw..(r + 1) * nw) {
                Some(k) if k == wr => &kept.acts[r * na..(r + 1) * na],
                _ => {
                    fresh.resize(na, 0.0);
                    self.forward_member(wr, &mut fresh);
                    &fresh[..]
                }
            };
            self.gradient_member(wr, acts, &g[r * oc..(r + 1) * oc], &mut grad[r * nw..(r + 1) * nw], &mut delta, &mut back);
        }
        grad
    }
}

impl crate::backend::HostFunction for DenseMlp {
    fn name(&self) -> String {
        format!("an MLP of widths {:?} ({} weights)", self.widths, self.n_weights)
    }
    fn in_cols(&self) -> usize {
        self.n_weights
    }
    fn out_cols(&self) -> usize {
        DenseMlp::out_cols(self)
    }
    fn forward(&self, w: &[f64], rows: usize) -> Vec<f64> {
        self.run(w, rows, false)
    }
    fn forward_for_vjp(&self, w: &[f64], rows: usize) -> Vec<f64> {
        self.run(w, rows, true)
    }
    fn vjp(&self, w: &[f64], rows: usize, g: &[f64]) -> Vec<f64> {
        self.gradient(w, rows, g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::HostFunction;

    fn weights(k: usize, rows: usize, phase: f64) -> Vec<f64> {
        (0..k * rows).map(|i| ((i as f64 + 1.0) * phase).sin() * 0.7).collect()
    }

    #[test]
    fn the_gradient_needs_no_kept_pass_and_ignores_a_stale_one() {
        let x: Vec<f64> = (0..12).map(|i| (i as f64 * 0.3).cos()).collect();
        let buffers = Buffers::default();
        let f = DenseMlp::new(vec![2, 4, 3, 1], Activation::Tanh, &x, &buffers);
        let (k, rows) = (f.in_cols(), 3);
        let (w, other) = (weights(k, rows, 0.37), weights(k, rows, 0.53));
        let g: Vec<f64> = (0..rows * f.out_cols()).map(|i| 1.0 - 0.1 * i as f64).collect();
        let taped = {
            f.forward_for_vjp(&w, rows);
            f.vjp(&w, rows, &g)
        };
        // after an untaped pass, after a taped pass at other weights, and with member 1 changed
        f.forward(&w, rows);
        assert_eq!(f.vjp(&w, rows, &g), taped);
        f.forward_for_vjp(&other, rows);
        assert_eq!(f.vjp(&w, rows, &g), taped);
        let mut mixed = w.clone();
        mixed[k..2 * k].copy_from_slice(&other[k..2 * k]);
        f.forward_for_vjp(&mixed, rows);
        assert_eq!(f.vjp(&w, rows, &g), taped);
        // a later function takes the buffer back without taking the earlier weights for its own
        drop(f);
        let f = DenseMlp::new(vec![2, 4, 3, 1], Activation::Tanh, &x, &buffers);
        assert!(f.kept.borrow().w.is_empty() && !f.kept.borrow().acts.is_empty());
        assert_eq!(f.vjp(&w, rows, &g), taped);
    }
}
