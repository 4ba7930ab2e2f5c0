//! The forward kernels of [`Native`](super::Native): plain loops over slices, written so that the
//! compiler can vectorise the arithmetic ones (zipped iterators, no index arithmetic).

use crate::backend::{Binary, Scalar, Unary};

/// Appends `x.map(f)` to `out`.
#[inline]
pub(super) fn map1(out: &mut Vec<f64>, x: &[f64], f: impl Fn(f64) -> f64) {
    out.extend(x.iter().map(|&a| f(a)));
}

/// Appends `zip(a, b).map(f)` to `out`.
#[inline]
pub(super) fn map2(out: &mut Vec<f64>, a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64) {
    out.extend(a.iter().zip(b).map(|(&x, &y)| f(x, y)));
}

/// Appends `op(x)` element-wise to `out`.
pub(super) fn unary(out: &mut Vec<f64>, op: Unary, x: &[f64]) {
    match op {
        Unary::Neg => map1(out, x, |v| -v),
        Unary::Exp => map1(out, x, f64::exp),
        Unary::Ln => map1(out, x, f64::ln),
        Unary::Sqrt => map1(out, x, f64::sqrt),
        Unary::Square => map1(out, x, |v| v * v),
        Unary::Abs => map1(out, x, f64::abs),
        Unary::Tanh => map1(out, x, f64::tanh),
        Unary::Sigmoid => map1(out, x, crate::special::sigmoid),
        Unary::Sin => map1(out, x, f64::sin),
        Unary::Cos => map1(out, x, f64::cos),
        Unary::Relu => map1(out, x, |v| v.max(0.0)),
    }
}

/// Appends `a op b` element-wise (equal lengths) to `out`.
pub(super) fn binary(out: &mut Vec<f64>, op: Binary, a: &[f64], b: &[f64]) {
    match op {
        Binary::Add => map2(out, a, b, |x, y| x + y),
        Binary::Sub => map2(out, a, b, |x, y| x - y),
        Binary::Mul => map2(out, a, b, |x, y| x * y),
        Binary::Div => map2(out, a, b, |x, y| x / y),
    }
}

/// Appends `x op c` element-wise to `out`.
pub(super) fn scalar(out: &mut Vec<f64>, op: Scalar, x: &[f64]) {
    match op {
        Scalar::Add(c) => map1(out, x, |v| v + c),
        Scalar::Mul(c) => map1(out, x, |v| v * c),
        Scalar::DivInto(c) => map1(out, x, |v| c / v),
        Scalar::Powf(c) => map1(out, x, |v| v.powf(c)),
    }
}

/// `Σ x`, with four partial sums so that the loop vectorises (the order of additions differs from a
/// sequential sum by rounding only).
pub(super) fn sum(x: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let mut chunks = x.chunks_exact(4);
    for c in &mut chunks {
        for k in 0..4 {
            acc[k] += c[k];
        }
    }
    let tail: f64 = chunks.remainder().iter().sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `Σ aᵢ bᵢ` (equal lengths), vectorised like [`sum`].
pub(super) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f64 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `ln Σ exp x` as `(m, ln Σ exp(x − m))` with `m` the maximum, so that the value is `m + ln s`
/// and the slopes `exp((x − m) − ln s)` are as accurate as the shifted exponentials. A row whose
/// maximum is not finite gives `(m, 0)` (`−∞` for a row of `−∞`, `+∞` if an element is `+∞`); NaN
/// anywhere gives a NaN.
pub(super) fn logsumexp(x: &[f64]) -> (f64, f64) {
    let m = x.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    if !m.is_finite() {
        return (if x.iter().any(|v| v.is_nan()) { f64::NAN } else { m }, 0.0);
    }
    let s: f64 = x.iter().map(|&v| (v - m).exp()).sum();
    (m, s.ln())
}

/// Appends `(m, k) × (k, n)` (row-major) to the empty `out`, in i-k-j order: the innermost loop is
/// an axpy over contiguous rows.
pub(super) fn matmul(out: &mut Vec<f64>, a: &[f64], b: &[f64], m: usize, k: usize, n: usize) {
    out.resize(m * n, 0.0);
    if n == 0 {
        return;
    }
    for (orow, arow) in out.chunks_exact_mut(n).zip(a.chunks_exact(k.max(1))) {
        for (&s, brow) in arow.iter().zip(b.chunks_exact(n)) {
            axpy(orow, s, brow);
        }
    }
}

/// `y += s x`.
#[inline]
pub(super) fn axpy(y: &mut [f64], s: f64, x: &[f64]) {
    for (d, &v) in y.iter_mut().zip(x) {
        *d += s * v;
    }
}

/// Whether `x` lies in `[lo, hi]` (closed) or `(lo, hi)`; false for NaN. Non-short-circuit `&`, so
/// that loops around it vectorise.
#[inline(always)]
pub(super) fn inside(x: f64, lo: f64, hi: f64, closed: bool) -> bool {
    if closed {
        (x >= lo) & (x <= hi)
    } else {
        (x > lo) & (x < hi)
    }
}
