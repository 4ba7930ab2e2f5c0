//! [`Native`]: a pure-Rust CPU backend in f64 with a flat reverse-mode tape.
//!
//! Models in snell are small or medium (tens to a few thousand values per op), so the cost of an
//! evaluation is dominated by the fixed cost of each operation rather than by arithmetic. This
//! backend keeps that cost low:
//!
//! * a tensor is an `Rc` handle to `(rows, cols, Vec<f64>)`: cloning it is a reference count;
//! * with a tape, an operation appends one `Op` (a plain enum: input and output ids and the handles
//!   of the values its derivative needs) to a flat `Vec`; with no tape nothing is recorded at all;
//! * ids are local to a tape: the output of a recorded op gets the next id, and a tensor the tape has
//!   not seen yet (the parameters, data) gets one the first time an op reads it. A tensor remembers
//!   the tape (by a generation number) its id belongs to, so tensors never get confused across tapes;
//! * the reverse pass keeps one gradient buffer per id in a `Vec`, visits only the ops that lie on a
//!   path from `wrt` to `out`, and moves buffers instead of copying them where it can;
//! * kernels are plain loops over slices that the compiler vectorises; the matrix product runs in
//!   i-k-j order (contiguous rows of both operands).
//!
//! Non-finite values are handled so that a value that does not reach the target cannot spill NaN
//! into gradients: `guard` passes the gradient by a select (0 where invalid), `map` uses slope 0
//! where `df` is not finite, a `−∞` row of `logsumexp_cols` has no gradient, and in the reverse pass
//! a zero output gradient contributes exactly zero (no `0 · ∞`), unlike dfdx, which gives NaN there.
//! Otherwise values and gradients agree with the dfdx backend to rounding.

use super::{Backend, Binary, HostFunction, Scalar, Unary};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

mod kernels;
mod pool;
mod tape;

use tape::Op;

/// A pure-Rust CPU backend in f64 with a flat reverse-mode tape, for small and medium models where
/// a tensor library's fixed cost per operation dominates (a few µs per gradient for eight schools).
///
/// Values and gradients agree with the dfdx backend to rounding, except where dfdx gives NaN from
/// `0 · ∞` in a reverse pass: here an element whose output gradient is 0 passes 0 on, so that a
/// value that does not reach the target (the invalid side of a bound, a `−∞` term of a
/// log-sum-exp) cannot put NaN into the gradient. Buffers are pooled per thread.
///
/// ```
/// use snell::backend::{Backend, Native, Unary};
/// let b = Native;
/// let x = b.from_host(&[1.0, 2.0], 1, 2);
/// let mut tape = Some(b.new_tape());
/// let y = b.unary(&mut tape, Unary::Exp, &x);
/// assert_eq!(b.gradient(tape.unwrap(), &y, &x), [1f64.exp(), 2f64.exp()]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Native;

impl Native {
    /// Frees the buffers this thread keeps for its next evaluations (at most 64 MiB per thread).
    /// Every sampler run does this on its worker threads and on the calling thread when it ends;
    /// call it after evaluating a model's density yourself in a long-lived thread.
    pub fn release_buffers() {
        pool::release();
    }

    /// Bytes of buffers this thread keeps for its next evaluations.
    pub fn kept_bytes() -> usize {
        pool::kept_bytes()
    }
}

/// A tensor of [`Native`]: a cheap-to-clone handle to row-major f64 values.
pub struct NativeTensor(Rc<Data>);

struct Data {
    rows: usize,
    cols: usize,
    v: Vec<f64>,
    /// `(tape generation, id)` of the tape that knows this tensor; generation 0 is no tape.
    slot: Cell<(u64, u32)>,
}

impl Drop for Data {
    fn drop(&mut self) {
        pool::give(std::mem::take(&mut self.v));
    }
}

impl Drop for NativeTensor {
    fn drop(&mut self) {
        if Rc::strong_count(&self.0) == 1 {
            pool::recycle(&mut self.0);
        }
    }
}

impl Clone for NativeTensor {
    fn clone(&self) -> Self {
        Self(Rc::clone(&self.0))
    }
}

impl std::fmt::Debug for NativeTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NativeTensor({}x{}, {:?})", self.0.rows, self.0.cols, self.0.v)
    }
}

impl NativeTensor {
    /// A `(rows, cols)` tensor whose values `fill` appends to an empty buffer (from the pool).
    #[inline]
    fn build(rows: usize, cols: usize, fill: impl FnOnce(&mut Vec<f64>)) -> Self {
        let mut d = pool::tensor(rows * cols);
        let data = Rc::get_mut(&mut d).expect("a new tensor has one handle");
        data.rows = rows;
        data.cols = cols;
        fill(&mut data.v);
        debug_assert_eq!(data.v.len(), rows * cols);
        Self(d)
    }

    /// Row-major values.
    pub fn values(&self) -> &[f64] {
        &self.0.v
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.0.rows, self.0.cols)
    }

    fn rows(&self) -> usize {
        self.0.rows
    }

    fn cols(&self) -> usize {
        self.0.cols
    }
}

/// The tape of [`Native`]: the operations of one evaluation, in order.
pub struct NativeTape {
    /// Unique per tape (never 0), so that ids of different tapes cannot be mixed up.
    generation: u64,
    /// Number of ids handed out.
    next: u32,
    ops: Vec<Op>,
}

impl Drop for NativeTape {
    fn drop(&mut self) {
        pool::give_ops(std::mem::take(&mut self.ops));
    }
}

impl NativeTape {
    /// The id of `t` on this tape, handing out a new one if the tape has not seen it yet.
    fn id(&mut self, t: &NativeTensor) -> u32 {
        let (g, id) = t.0.slot.get();
        if g == self.generation {
            return id;
        }
        let id = self.fresh();
        t.0.slot.set((self.generation, id));
        id
    }

    fn fresh(&mut self) -> u32 {
        let id = self.next;
        self.next = id.checked_add(1).expect("more than 2³² tensors on one tape");
        id
    }
}

/// Records the op that made `out` when there is a tape: `op` builds the tape entry from the tape (to
/// look up the ids of the inputs), the output's id and the output.
#[inline]
fn emit(tape: &mut Option<NativeTape>, out: NativeTensor, op: impl FnOnce(&mut NativeTape, u32, &NativeTensor) -> Op) -> NativeTensor {
    if let Some(tape) = tape.as_mut() {
        let id = tape.fresh();
        out.0.slot.set((tape.generation, id));
        let entry = op(tape, id, &out);
        tape.ops.push(entry);
    }
    out
}

impl Backend for Native {
    const HOST: bool = true;
    type Tensor = NativeTensor;
    type Tape = NativeTape;

    fn name(&self) -> &'static str {
        "native-cpu-f64"
    }

    fn shape(t: &Self::Tensor) -> (usize, usize) {
        t.shape()
    }

    fn new_tape(&self) -> Self::Tape {
        static GENERATION: AtomicU64 = AtomicU64::new(1);
        NativeTape { generation: GENERATION.fetch_add(1, Ordering::Relaxed), next: 0, ops: pool::take_ops() }
    }

    fn from_host(&self, data: &[f64], rows: usize, cols: usize) -> Self::Tensor {
        assert_eq!(data.len(), rows * cols, "from_host: {} values for a {rows}x{cols} tensor", data.len());
        NativeTensor::build(rows, cols, |v| v.extend_from_slice(data))
    }

    fn to_host(&self, t: &Self::Tensor) -> Vec<f64> {
        t.0.v.clone()
    }

    fn unary(&self, tape: &mut Option<Self::Tape>, op: Unary, x: &Self::Tensor) -> Self::Tensor {
        let (r, c) = x.shape();
        let y = NativeTensor::build(r, c, |v| kernels::unary(v, op, &x.0.v));
        // The derivative of exp, sqrt, tanh and sigmoid is cheapest from the output; the others
        // need the input (or nothing).
        let from_output = matches!(op, Unary::Exp | Unary::Sqrt | Unary::Tanh | Unary::Sigmoid);
        emit(tape, y, |tp, out, y| Op::Unary { op, x: tp.id(x), out, keep: if from_output { y.clone() } else { x.clone() } })
    }

    fn binary(&self, tape: &mut Option<Self::Tape>, op: Binary, a: &Self::Tensor, b: &Self::Tensor) -> Self::Tensor {
        assert_eq!(a.shape(), b.shape(), "binary {op:?}: shapes differ");
        let (r, c) = a.shape();
        let y = NativeTensor::build(r, c, |v| kernels::binary(v, op, &a.0.v, &b.0.v));
        emit(tape, y, |tp, out, _| {
            let (ia, ib) = (tp.id(a), tp.id(b));
            let keep = match op {
                Binary::Add | Binary::Sub => None,
                Binary::Mul | Binary::Div => Some((a.clone(), b.clone())),
            };
            Op::Binary { op, a: ia, b: ib, out, keep }
        })
    }

    fn scalar(&self, tape: &mut Option<Self::Tape>, op: Scalar, x: &Self::Tensor) -> Self::Tensor {
        let (r, c) = x.shape();
        let y = NativeTensor::build(r, c, |v| kernels::scalar(v, op, &x.0.v));
        emit(tape, y, |tp, out, _| {
            let keep = match op {
                Scalar::Add(_) | Scalar::Mul(_) => None,
                Scalar::DivInto(_) | Scalar::Powf(_) => Some(x.clone()),
            };
            Op::Scalar { op, x: tp.id(x), out, keep }
        })
    }

    fn broadcast(&self, tape: &mut Option<Self::Tape>, x: &Self::Tensor, rows: usize, cols: usize) -> Self::Tensor {
        let (r, c) = x.shape();
        if (r, c) == (rows, cols) {
            return x.clone();
        }
        assert!((r == rows || r == 1) && (c == cols || c == 1), "cannot broadcast {r}x{c} to {rows}x{cols}");
        let xv = &x.0.v;
        let y = NativeTensor::build(rows, cols, |v| {
            if r == rows {
                // (rows, 1) → (rows, cols): each value fills its row.
                for &s in xv {
                    v.extend(std::iter::repeat_n(s, cols));
                }
            } else if c == cols {
                // (1, cols) → (rows, cols): the row repeats.
                for _ in 0..rows {
                    v.extend_from_slice(xv);
                }
            } else {
                v.resize(rows * cols, xv[0]);
            }
        });
        emit(tape, y, |tp, out, _| Op::Broadcast { x: tp.id(x), out, from: (r, c), to: (rows, cols) })
    }

    fn sum_cols(&self, tape: &mut Option<Self::Tape>, x: &Self::Tensor) -> Self::Tensor {
        let (r, c) = x.shape();
        let y = NativeTensor::build(r, 1, |v| {
            if c == 0 {
                v.resize(r, 0.0);
            } else {
                v.extend(x.0.v.chunks_exact(c).map(kernels::sum));
            }
        });
        emit(tape, y, |tp, out, _| Op::SumCols { x: tp.id(x), out, cols: c })
    }

    fn logsumexp_cols(&self, tape: &mut Option<Self::Tape>, x: &Self::Tensor) -> Self::Tensor {
        let (r, c) = x.shape();
        if c == 0 {
            let y = NativeTensor::build(r, 1, |v| v.resize(r, f64::NEG_INFINITY));
            return emit(tape, y, |tp, out, _| Op::SumCols { x: tp.id(x), out, cols: 0 });
        }
        let rows = x.0.v.chunks_exact(c).map(kernels::logsumexp);
        if tape.is_none() {
            return NativeTensor::build(r, 1, |v| v.extend(rows.map(|(m, l)| m + l)));
        }
        let stats: Box<[(f64, f64)]> = rows.collect();
        let y = NativeTensor::build(r, 1, |v| v.extend(stats.iter().map(|&(m, l)| m + l)));
        emit(tape, y, |tp, out, _| Op::LogSumExp { x: tp.id(x), out, xv: x.clone(), stats })
    }

    fn matmul(&self, tape: &mut Option<Self::Tape>, a: &Self::Tensor, b: &Self::Tensor) -> Self::Tensor {
        let (m, k) = a.shape();
        let (k2, n) = b.shape();
        assert_eq!(k, k2, "matmul of {m}x{k} and {k2}x{n}");
        let y = NativeTensor::build(m, n, |v| kernels::matmul(v, &a.0.v, &b.0.v, m, k, n));
        emit(tape, y, |tp, out, _| Op::MatMul { a: tp.id(a), b: tp.id(b), out, av: a.clone(), bv: b.clone() })
    }

    fn matmul_rows(&self, tape: &mut Option<Self::Tape>, a: &Self::Tensor, b: &Self::Tensor, m: usize, k: usize, n: usize) -> Self::Tensor {
        let (r, ca) = a.shape();
        let (r2, cb) = b.shape();
        assert!(r == r2 && ca == m * k && cb == k * n, "matmul_rows of {r}x{ca} and {r2}x{cb} as ({m}, {k}) × ({k}, {n})");
        let y = NativeTensor::build(r, m * n, |v| {
            let mut row = Vec::with_capacity(m * n);
            for i in 0..r {
                row.clear();
                kernels::matmul(&mut row, &a.0.v[i * m * k..(i + 1) * m * k], &b.0.v[i * k * n..(i + 1) * k * n], m, k, n);
                v.extend_from_slice(&row);
            }
        });
        emit(tape, y, |tp, out, _| Op::MatMulRows { a: tp.id(a), b: tp.id(b), out, av: a.clone(), bv: b.clone(), mkn: (m, k, n) })
    }

    fn slice_cols(&self, tape: &mut Option<Self::Tape>, x: &Self::Tensor, start: usize, end: usize) -> Self::Tensor {
        let (r, c) = x.shape();
        assert!(start <= end && end <= c, "columns {start}..{end} of a {r}x{c} tensor");
        let w = end - start;
        let y = NativeTensor::build(r, w, |v| {
            for row in x.0.v.chunks_exact(c.max(1)) {
                v.extend_from_slice(&row[start..end]);
            }
        });
        emit(tape, y, |tp, out, _| Op::Slice { x: tp.id(x), out, cols: c, start, width: w })
    }

    fn gather_cols(&self, tape: &mut Option<Self::Tape>, x: &Self::Tensor, idx: &[usize]) -> Self::Tensor {
        let (r, c) = x.shape();
        // Indices out of range panic at the indexing below (the context checks them first).
        let y = NativeTensor::build(r, idx.len(), |v| {
            for row in x.0.v.chunks_exact(c.max(1)).take(r) {
                v.extend(idx.iter().map(|&j| row[j]));
            }
        });
        emit(tape, y, |tp, out, _| Op::Gather { x: tp.id(x), out, cols: c, idx: idx.into() })
    }

    fn concat_cols(&self, tape: &mut Option<Self::Tape>, xs: &[Self::Tensor]) -> Self::Tensor {
        let r = xs[0].rows();
        assert!(xs.iter().all(|x| x.rows() == r), "concat of tensors with different row counts");
        let total: usize = xs.iter().map(|x| x.cols()).sum();
        let y = NativeTensor::build(r, total, |v| {
            for i in 0..r {
                for x in xs {
                    let c = x.cols();
                    v.extend_from_slice(&x.0.v[i * c..(i + 1) * c]);
                }
            }
        });
        emit(tape, y, |tp, out, _| Op::Concat { out, parts: xs.iter().map(|x| (tp.id(x), x.cols())).collect() })
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
        assert_eq!(lp.shape(), x.shape(), "guard: shapes differ");
        let (r, c) = lp.shape();
        let y = NativeTensor::build(r, c, |v| {
            let (l, xs) = (&lp.0.v, &x.0.v);
            let ninf = f64::NEG_INFINITY;
            // One loop per kind of bound, each free of branches.
            if closed {
                kernels::map2(v, l, xs, |l, xv| if kernels::inside(xv, lo, hi, true) { l } else { ninf })
            } else {
                kernels::map2(v, l, xs, |l, xv| if kernels::inside(xv, lo, hi, false) { l } else { ninf })
            }
        });
        emit(tape, y, |tp, out, _| Op::Guard { lp: tp.id(lp), out, x: x.clone(), lo, hi, closed })
    }

    fn map(&self, tape: &mut Option<Self::Tape>, x: &Self::Tensor, f: fn(f64) -> f64, df: fn(f64) -> f64) -> Self::Tensor {
        let (r, c) = x.shape();
        let y = NativeTensor::build(r, c, |v| kernels::map1(v, &x.0.v, f));
        // The slope df(x) is only computed in the reverse pass, and only if a gradient reaches it.
        emit(tape, y, |tp, out, _| Op::Map { x: tp.id(x), out, xv: x.clone(), df })
    }

    fn host_function(&self, tape: &mut Option<Self::Tape>, x: &Self::Tensor, f: &Rc<dyn HostFunction>) -> Option<Self::Tensor> {
        let rows = x.rows();
        let values = if tape.is_some() { f.forward_for_vjp(x.values(), rows) } else { f.forward(x.values(), rows) };
        let y = NativeTensor::build(rows, f.out_cols(), |v| v.extend_from_slice(&values));
        Some(emit(tape, y, |tp, out, _| Op::Host { x: tp.id(x), out, xv: x.clone(), f: Rc::clone(f) }))
    }

    fn gradient(&self, mut tape: Self::Tape, out: &Self::Tensor, wrt: &Self::Tensor) -> Vec<f64> {
        let o = tape.id(out);
        let w = tape.id(wrt);
        tape::backward(&tape.ops, tape.next as usize, o, out.0.v.len(), w, wrt.0.v.len())
        // dropping the tape returns its storage to the pool
    }
}

opaque_debug!(impl[] NativeTape);
