//! The tape of [`Native`](super::Native) and its reverse pass.
//!
//! An [`Op`] names its inputs and output by tape id and keeps handles to the values its derivative
//! needs (an `Rc` clone, no copy). The reverse pass first marks the ids that depend on `wrt` (one
//! forward sweep over the ops), then walks the ops backwards, skipping every op whose output has no
//! gradient or does not depend on `wrt` (e.g. arithmetic on data), and never accumulating into an
//! input that does not depend on `wrt`.

use super::kernels::{axpy, dot, inside};
use super::{pool, NativeTensor};
use crate::backend::{Binary, HostFunction, Scalar, Unary};
use std::rc::Rc;

/// One recorded operation. Ids are tape-local indices.
pub(crate) enum Op {
    /// `out = op(x)`; `keep` is the output for exp, sqrt, tanh and sigmoid and the input otherwise.
    Unary { op: Unary, x: u32, out: u32, keep: NativeTensor },
    /// `out = a op b`; `keep` holds both operands for mul and div.
    Binary { op: Binary, a: u32, b: u32, out: u32, keep: Option<(NativeTensor, NativeTensor)> },
    /// `out = x op c`; `keep` holds the input for `c / x` and `xᶜ`.
    Scalar { op: Scalar, x: u32, out: u32, keep: Option<NativeTensor> },
    /// `out = x` expanded from `from` to `to`.
    Broadcast { x: u32, out: u32, from: (usize, usize), to: (usize, usize) },
    /// `out = Σ` over the `cols` columns of `x`.
    SumCols { x: u32, out: u32, cols: usize },
    /// `out = ln Σ exp` over the columns of `xv`; `stats` holds `(max, ln Σ exp(x − max))` per row.
    LogSumExp { x: u32, out: u32, xv: NativeTensor, stats: Box<[(f64, f64)]> },
    /// `out = a × b`.
    MatMul { a: u32, b: u32, out: u32, av: NativeTensor, bv: NativeTensor },
    /// Row `r` of `out` = row `r` of `a` as `(m, k)` × row `r` of `b` as `(k, n)`.
    MatMulRows { a: u32, b: u32, out: u32, av: NativeTensor, bv: NativeTensor, mkn: (usize, usize, usize) },
    /// `out` = columns `start..start + width` of `x` (which has `cols` columns).
    Slice { x: u32, out: u32, cols: usize, start: usize, width: usize },
    /// `out` = columns `idx` of `x` (which has `cols` columns).
    Gather { x: u32, out: u32, cols: usize, idx: Box<[usize]> },
    /// `out` = the inputs `(id, cols)` side by side.
    Concat { out: u32, parts: Box<[(u32, usize)]> },
    /// `out = lp` where `x` lies within the bounds, `−∞` elsewhere.
    Guard { lp: u32, out: u32, x: NativeTensor, lo: f64, hi: f64, closed: bool },
    /// `out = f(x)` with derivative `df`.
    Map { x: u32, out: u32, xv: NativeTensor, df: fn(f64) -> f64 },
    /// `out = f(x)` row by row, for a function with its own vector–Jacobian product.
    Host { x: u32, out: u32, xv: NativeTensor, f: Rc<dyn HostFunction> },
}

impl Op {
    fn out(&self) -> u32 {
        match *self {
            Op::Unary { out, .. }
            | Op::Binary { out, .. }
            | Op::Scalar { out, .. }
            | Op::Broadcast { out, .. }
            | Op::SumCols { out, .. }
            | Op::LogSumExp { out, .. }
            | Op::MatMul { out, .. }
            | Op::MatMulRows { out, .. }
            | Op::Slice { out, .. }
            | Op::Gather { out, .. }
            | Op::Concat { out, .. }
            | Op::Guard { out, .. }
            | Op::Map { out, .. }
            | Op::Host { out, .. } => out,
        }
    }

    /// Calls `f` with each input id.
    fn inputs(&self, mut f: impl FnMut(u32)) {
        match self {
            Op::Unary { x, .. }
            | Op::Scalar { x, .. }
            | Op::Broadcast { x, .. }
            | Op::SumCols { x, .. }
            | Op::LogSumExp { x, .. }
            | Op::Slice { x, .. }
            | Op::Gather { x, .. }
            | Op::Map { x, .. }
            | Op::Host { x, .. } => f(*x),
            Op::Guard { lp, .. } => f(*lp),
            Op::Binary { a, b, .. } | Op::MatMul { a, b, .. } | Op::MatMulRows { a, b, .. } => {
                f(*a);
                f(*b)
            }
            Op::Concat { parts, .. } => parts.iter().for_each(|&(id, _)| f(id)),
        }
    }
}

/// The contribution `c = g · slope` of an output gradient `g`, or exactly 0 where `g` is 0: a value
/// that does not reach the target (e.g. the invalid side of a guard, a `−∞` term of a log-sum-exp)
/// must not turn an infinite slope (`ln` at 0, `exp` overflowing) into `0 · ∞ = NaN`. A bit mask
/// rather than a branch, so that the loops around it vectorise.
#[inline(always)]
fn strong(g: f64, c: f64) -> f64 {
    let keep = u64::from(g != 0.0).wrapping_neg();
    f64::from_bits(c.to_bits() & keep)
}

/// Gradient buffers by id (empty: no gradient yet) and which ids depend on `wrt`.
struct Grads {
    g: Vec<Vec<f64>>,
    needs: Vec<bool>,
}

impl Drop for Grads {
    fn drop(&mut self) {
        pool::give_scratch(std::mem::take(&mut self.g), std::mem::take(&mut self.needs));
    }
}

impl Grads {
    #[inline]
    fn wants(&self, id: u32) -> bool {
        self.needs[id as usize]
    }

    fn alloc(&mut self, n: usize) -> Vec<f64> {
        pool::take(n)
    }

    /// `g[id] += f(a)` element-wise, where `a` is the output's gradient (a zero there contributes
    /// exactly zero: see [`strong`]).
    #[inline]
    fn add1(&mut self, id: u32, a: &[f64], f: impl Fn(f64) -> f64) {
        let f = |g: f64| strong(g, f(g));
        if !self.wants(id) {
            return;
        }
        let i = id as usize;
        if self.g[i].is_empty() {
            let mut v = self.alloc(a.len());
            v.extend(a.iter().map(|&x| f(x)));
            self.g[i] = v;
        } else {
            let d = &mut self.g[i];
            debug_assert_eq!(d.len(), a.len());
            for (d, &x) in d.iter_mut().zip(a) {
                *d += f(x);
            }
        }
    }

    /// `g[id] += f(a, b)` element-wise, `a` the output's gradient (see [`strong`]).
    #[inline]
    fn add2(&mut self, id: u32, a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64) {
        let f = |g: f64, y: f64| strong(g, f(g, y));
        if !self.wants(id) {
            return;
        }
        let i = id as usize;
        if self.g[i].is_empty() {
            let mut v = self.alloc(a.len());
            v.extend(a.iter().zip(b).map(|(&x, &y)| f(x, y)));
            self.g[i] = v;
        } else {
            let d = &mut self.g[i];
            debug_assert_eq!(d.len(), a.len());
            for (d, (&x, &y)) in d.iter_mut().zip(a.iter().zip(b)) {
                *d += f(x, y);
            }
        }
    }

    /// `g[id] += f(g)` element-wise, consuming the output gradient `g`: where `id` has no gradient
    /// yet, `g` is transformed in place and moved in (no new buffer).
    #[inline]
    fn own1(&mut self, id: u32, mut g: Vec<f64>, f: impl Fn(f64) -> f64) {
        if !self.wants(id) {
            pool::give(g);
            return;
        }
        let i = id as usize;
        if self.g[i].is_empty() {
            for v in g.iter_mut() {
                *v = strong(*v, f(*v));
            }
            self.g[i] = g;
        } else {
            for (d, &v) in self.g[i].iter_mut().zip(&g) {
                *d += strong(v, f(v));
            }
            pool::give(g);
        }
    }

    /// `g[id] += f(g, b)` element-wise, consuming `g` like [`Grads::own1`].
    #[inline]
    fn own2(&mut self, id: u32, mut g: Vec<f64>, b: &[f64], f: impl Fn(f64, f64) -> f64) {
        if !self.wants(id) {
            pool::give(g);
            return;
        }
        let i = id as usize;
        if self.g[i].is_empty() {
            for (v, &y) in g.iter_mut().zip(b) {
                *v = strong(*v, f(*v, y));
            }
            self.g[i] = g;
        } else {
            for (d, (&v, &y)) in self.g[i].iter_mut().zip(g.iter().zip(b)) {
                *d += strong(v, f(v, y));
            }
            pool::give(g);
        }
    }

    /// `g[id] += f(g, b, c)` element-wise, consuming `g` like [`Grads::own1`].
    #[inline]
    fn own3(&mut self, id: u32, mut g: Vec<f64>, b: &[f64], c: &[f64], f: impl Fn(f64, f64, f64) -> f64) {
        if !self.wants(id) {
            pool::give(g);
            return;
        }
        let i = id as usize;
        if self.g[i].is_empty() {
            for (v, (&y, &z)) in g.iter_mut().zip(b.iter().zip(c)) {
                *v = strong(*v, f(*v, y, z));
            }
            self.g[i] = g;
        } else {
            for (d, (&v, (&y, &z))) in self.g[i].iter_mut().zip(g.iter().zip(b.iter().zip(c))) {
                *d += strong(v, f(v, y, z));
            }
            pool::give(g);
        }
    }

    /// `g[id] += v`, moving `v` in when `id` has no gradient yet; otherwise `v` goes to the pool.
    fn add_owned(&mut self, id: u32, v: Vec<f64>) {
        if !self.wants(id) {
            pool::give(v);
            return;
        }
        let i = id as usize;
        if self.g[i].is_empty() {
            self.g[i] = v;
        } else {
            for (d, &x) in self.g[i].iter_mut().zip(&v) {
                *d += x;
            }
            pool::give(v);
        }
    }

    /// The gradient buffer of `id`, zero-filled with `n` values if it has none yet (for scatters).
    fn buffer(&mut self, id: u32, n: usize) -> &mut [f64] {
        let i = id as usize;
        if self.g[i].is_empty() {
            self.g[i] = pool::filled(n, 0.0);
        }
        &mut self.g[i]
    }
}

/// `∂(Σ out)/∂wrt`, row-major. `n_ids` ids were handed out; `out` has `out_len` values and `wrt`
/// has `wrt_len`.
pub(super) fn backward(ops: &[Op], n_ids: usize, out: u32, out_len: usize, wrt: u32, wrt_len: usize) -> Vec<f64> {
    let (g, needs) = pool::take_scratch(n_ids);
    let mut gr = Grads { g, needs };
    gr.needs[wrt as usize] = true;
    for op in ops {
        let mut any = false;
        op.inputs(|i| any |= gr.needs[i as usize]);
        if any {
            gr.needs[op.out() as usize] = true;
        }
    }
    if !gr.needs[out as usize] {
        return vec![0.0; wrt_len];
    }
    gr.g[out as usize] = pool::filled(out_len, 1.0);
    for op in ops.iter().rev() {
        let o = op.out();
        if o == wrt || !gr.needs[o as usize] || gr.g[o as usize].is_empty() {
            continue;
        }
        let g = std::mem::take(&mut gr.g[o as usize]);
        step(&mut gr, op, g);
    }
    let grad = std::mem::take(&mut gr.g[wrt as usize]);
    if grad.is_empty() {
        pool::give(grad);
        return vec![0.0; wrt_len];
    }
    grad
}

/// Propagates the gradient `g` of the output of `op` to its inputs.
fn step(gr: &mut Grads, op: &Op, g: Vec<f64>) {
    match op {
        Op::Unary { op, x, keep, .. } => {
            let k = keep.values();
            match op {
                Unary::Neg => gr.own1(*x, g, |g| -g),
                Unary::Exp => gr.own2(*x, g, k, |g, y| g * y),
                Unary::Ln => gr.own2(*x, g, k, |g, x| g / x),
                Unary::Sqrt => gr.own2(*x, g, k, |g, y| g / (y + y)),
                Unary::Square => gr.own2(*x, g, k, |g, x| g * (x + x)),
                Unary::Abs => gr.own2(*x, g, k, |g, x| if x == 0.0 { 0.0 } else { g * x.signum() }),
                Unary::Tanh => gr.own2(*x, g, k, |g, y| g * (1.0 - y * y)),
                Unary::Sigmoid => gr.own2(*x, g, k, |g, y| g * (y * (1.0 - y))),
                Unary::Sin => gr.own2(*x, g, k, |g, x| g * x.cos()),
                Unary::Cos => gr.own2(*x, g, k, |g, x| -g * x.sin()),
                Unary::Relu => gr.own2(*x, g, k, |g, x| if x > 0.0 { g } else { 0.0 }),
            }
        }
        Op::Binary { op, a, b, keep, .. } => match op {
            Binary::Add => {
                gr.add1(*a, &g, |g| g);
                gr.add_owned(*b, g);
            }
            Binary::Sub => {
                gr.add1(*a, &g, |g| g);
                gr.own1(*b, g, |g| -g);
            }
            Binary::Mul => {
                let (av, bv) = keep.as_ref().expect("operands of mul");
                gr.add2(*a, &g, bv.values(), |g, b| g * b);
                gr.own2(*b, g, av.values(), |g, a| g * a);
            }
            Binary::Div => {
                let (av, bv) = keep.as_ref().expect("operands of div");
                gr.add2(*a, &g, bv.values(), |g, b| g / b);
                gr.own3(*b, g, av.values(), bv.values(), |g, a, b| -g * a / (b * b));
            }
        },
        Op::Scalar { op, x, keep, .. } => match *op {
            Scalar::Add(_) => gr.add_owned(*x, g),
            Scalar::Mul(c) => gr.own1(*x, g, |g| g * c),
            Scalar::DivInto(c) => {
                let xv = keep.as_ref().expect("input of c / x");
                gr.own2(*x, g, xv.values(), |g, x| {
                    let r = 1.0 / x;
                    -(g * c) * (r * r)
                });
            }
            Scalar::Powf(c) => {
                let xv = keep.as_ref().expect("input of powf");
                gr.own2(*x, g, xv.values(), |g, x| g * (c * x.powf(c - 1.0)));
            }
        },
        Op::Broadcast { x, from, to, .. } => {
            let (rows, cols) = *to;
            if gr.wants(*x) && rows * cols > 0 {
                let (r, c) = *from;
                let d = gr.buffer(*x, r * c);
                if r == rows {
                    // (rows, 1) → (rows, cols): sum each row.
                    for (d, row) in d.iter_mut().zip(g.chunks_exact(cols)) {
                        *d += super::kernels::sum(row);
                    }
                } else if c == cols {
                    // (1, cols) → (rows, cols): sum the rows.
                    for row in g.chunks_exact(cols) {
                        axpy(d, 1.0, row);
                    }
                } else {
                    d[0] += super::kernels::sum(&g);
                }
            }
            pool::give(g);
        }
        Op::SumCols { x, cols, .. } => {
            if gr.wants(*x) {
                let c = *cols;
                let d = gr.buffer(*x, g.len() * c);
                for (row, &s) in d.chunks_exact_mut(c.max(1)).zip(&g) {
                    row.iter_mut().for_each(|v| *v += s);
                }
            }
            pool::give(g);
        }
        Op::LogSumExp { x, xv, stats, .. } => {
            if gr.wants(*x) {
                let xs = xv.values();
                let c = xv.shape().1;
                let d = gr.buffer(*x, xs.len());
                for ((drow, xrow), (&gi, &(m, l))) in d.chunks_exact_mut(c).zip(xs.chunks_exact(c)).zip(g.iter().zip(stats.iter())) {
                    // A row of −∞ (or with +∞ or NaN) has no finite softmax: no gradient.
                    if (m + l).is_finite() {
                        for (dv, &xj) in drow.iter_mut().zip(xrow) {
                            *dv += gi * ((xj - m) - l).exp();
                        }
                    }
                }
            }
            pool::give(g);
        }
        Op::MatMul { a, b, av, bv, .. } => {
            let (m, k) = av.shape();
            let n = bv.shape().1;
            if gr.wants(*a) && n > 0 {
                // ∂a = g bᵀ: (m, n) × (n, k); each entry a dot product of contiguous rows.
                let bvals = bv.values();
                let d = gr.buffer(*a, m * k);
                for (drow, grow) in d.chunks_exact_mut(k.max(1)).zip(g.chunks_exact(n)) {
                    for (dv, brow) in drow.iter_mut().zip(bvals.chunks_exact(n)) {
                        *dv += dot(grow, brow);
                    }
                }
            }
            if gr.wants(*b) && n > 0 {
                // ∂b = aᵀ g: (k, m) × (m, n), accumulated row by row of g.
                let avals = av.values();
                let d = gr.buffer(*b, k * n);
                for (arow, grow) in avals.chunks_exact(k.max(1)).zip(g.chunks_exact(n)) {
                    for (&s, drow) in arow.iter().zip(d.chunks_exact_mut(n)) {
                        axpy(drow, s, grow);
                    }
                }
            }
            pool::give(g);
        }
        Op::MatMulRows { a, b, av, bv, mkn: (m, k, n), .. } => {
            let (m, k, n) = (*m, *k, *n);
            if n > 0 && m * k > 0 {
                if gr.wants(*a) {
                    // per row: ∂a = g bᵀ, (m, n) × (n, k)
                    let d = gr.buffer(*a, av.values().len());
                    for ((da, gr_), br) in d.chunks_exact_mut(m * k).zip(g.chunks_exact(m * n)).zip(bv.values().chunks_exact(k * n)) {
                        for (drow, grow) in da.chunks_exact_mut(k).zip(gr_.chunks_exact(n)) {
                            for (dv, brow) in drow.iter_mut().zip(br.chunks_exact(n)) {
                                *dv += dot(grow, brow);
                            }
                        }
                    }
                }
                if gr.wants(*b) {
                    // per row: ∂b = aᵀ g, (k, m) × (m, n)
                    let d = gr.buffer(*b, bv.values().len());
                    for ((db, gr_), ar) in d.chunks_exact_mut(k * n).zip(g.chunks_exact(m * n)).zip(av.values().chunks_exact(m * k)) {
                        for (arow, grow) in ar.chunks_exact(k).zip(gr_.chunks_exact(n)) {
                            for (&s, drow) in arow.iter().zip(db.chunks_exact_mut(n)) {
                                axpy(drow, s, grow);
                            }
                        }
                    }
                }
            }
            pool::give(g);
        }
        Op::Slice { x, cols, start, width, .. } => {
            if gr.wants(*x) && *width > 0 {
                let (c, s, w) = (*cols, *start, *width);
                let rows = g.len() / w;
                let d = gr.buffer(*x, rows * c);
                for (drow, grow) in d.chunks_exact_mut(c).zip(g.chunks_exact(w)) {
                    for (dv, &gv) in drow[s..s + w].iter_mut().zip(grow) {
                        *dv += gv;
                    }
                }
            }
            pool::give(g);
        }
        Op::Gather { x, cols, idx, .. } => {
            if gr.wants(*x) && !idx.is_empty() {
                let c = *cols;
                let rows = g.len() / idx.len();
                let d = gr.buffer(*x, rows * c);
                // Scatter-add: repeated indices accumulate.
                for (drow, grow) in d.chunks_exact_mut(c).zip(g.chunks_exact(idx.len())) {
                    for (&j, &gv) in idx.iter().zip(grow) {
                        drow[j] += gv;
                    }
                }
            }
            pool::give(g);
        }
        Op::Concat { parts, .. } => {
            let total: usize = parts.iter().map(|p| p.1).sum();
            if let Some(rows) = g.len().checked_div(total) {
                let mut off = 0;
                for &(id, c) in parts.iter() {
                    if gr.wants(id) && c > 0 {
                        let d = gr.buffer(id, rows * c);
                        for (drow, grow) in d.chunks_exact_mut(c).zip(g.chunks_exact(total)) {
                            for (dv, &gv) in drow.iter_mut().zip(&grow[off..off + c]) {
                                *dv += gv;
                            }
                        }
                    }
                    off += c;
                }
            }
            pool::give(g);
        }
        Op::Guard { lp, x, lo, hi, closed, .. } => {
            let (lo, hi, closed) = (*lo, *hi, *closed);
            // A select, not a product with 0: the gradient of lp where it is invalid may be ±∞/NaN.
            if closed {
                gr.own2(*lp, g, x.values(), |g, x| if inside(x, lo, hi, true) { g } else { 0.0 });
            } else {
                gr.own2(*lp, g, x.values(), |g, x| if inside(x, lo, hi, false) { g } else { 0.0 });
            }
        }
        Op::Map { x, xv, df, .. } => {
            let df = *df;
            // The slope where it is finite; 0 outside the function's domain, so that a −∞ density
            // cannot spill NaN into the gradient.
            gr.own2(*x, g, xv.values(), |g, x| {
                let d = df(x);
                if d.is_finite() {
                    g * d
                } else {
                    0.0
                }
            });
        }
        Op::Host { x, xv, f, .. } => {
            let gx = f.vjp(xv.values(), xv.rows(), &g);
            pool::give(g);
            gr.add_owned(*x, gx);
        }
    }
}
