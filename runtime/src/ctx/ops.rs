//! Operations on values of an evaluation: what [`Real`]'s arithmetic and methods call. Each one
//! folds constants on the host, tracks the value range (see `range.rs`) and host copies of data,
//! broadcasts, and records the backend op on the evaluation's tape.

use super::Ctx;
use crate::backend::{Backend, Binary, Scalar, Unary};
use crate::data::Matrix;
use crate::range::Range;
use crate::value::{Inner, Real};
use std::rc::Rc;

impl<B: Backend> Ctx<B> {
    // ---- operations (called by `Real`) -------------------------------------------------------

    pub(crate) fn op_unary(&self, op: Unary, id: usize) -> Real<'_, B> {
        let r = self.nodes.borrow()[id].range;
        let range = match op {
            Unary::Neg => r.neg(),
            Unary::Exp => r.increasing(f64::exp, true),
            Unary::Ln if r.nonneg() => r.increasing(f64::ln, false),
            Unary::Sqrt if r.nonneg() => r.increasing(f64::sqrt, r.positive()),
            Unary::Square | Unary::Abs => {
                let m = r.lo.abs().max(r.hi.abs());
                let lo = if r.lo > 0.0 { r.lo } else if r.hi < 0.0 { -r.hi } else { 0.0 };
                let lo = if op == Unary::Square { lo * lo } else { lo };
                Range { lo, hi: if op == Unary::Square { m * m } else { m }, pos: r.positive() || r.hi < 0.0 }
            }
            Unary::Tanh => r.increasing(f64::tanh, false),
            Unary::Sigmoid => r.increasing(crate::special::sigmoid, true),
            Unary::Sin | Unary::Cos => Range { lo: -1.0, hi: 1.0, pos: false },
            Unary::Relu => Range { lo: r.lo.max(0.0), hi: r.hi.max(0.0), pos: r.positive() },
            _ => Range::ALL,
        };
        let t = self.with_tape(|b, tape| b.unary(tape, op, &self.tensor(id)));
        self.push(t, range, None)
    }

    pub(crate) fn op_map(&self, id: usize, f: fn(f64) -> f64, df: fn(f64) -> f64) -> Real<'_, B> {
        let t = self.with_tape(|b, tape| b.map(tape, &self.tensor(id), f, df));
        self.push(t, Range::ALL, None)
    }

    pub(crate) fn op_scalar<'c>(&'c self, op: Scalar, x: Real<'c, B>) -> Real<'c, B> {
        let id = match x.v {
            Inner::C(_) => unreachable!("scalar op on a constant is folded by the caller"),
            Inner::N(id) => id,
        };
        let r = self.nodes.borrow()[id].range;
        let range = match op {
            Scalar::Add(c) => r.add(Range::point(c)),
            Scalar::Mul(c) => r.mul(Range::point(c)),
            Scalar::DivInto(c) => Range::point(c).mul(r.recip()),
            Scalar::Powf(_) if r.positive() => Range::POSITIVE,
            Scalar::Powf(_) => Range::ALL,
        };
        let t = self.with_tape(|b, tape| b.scalar(tape, op, &self.tensor(id)));
        self.push(t, range, None)
    }

    pub(crate) fn op_binary<'c>(&'c self, op: Binary, a: Real<'c, B>, b: Real<'c, B>) -> Real<'c, B> {
        use Inner::{C, N};
        let fold = |x: f64, y: f64| match op {
            Binary::Add => x + y,
            Binary::Sub => x - y,
            Binary::Mul => x * y,
            Binary::Div => x / y,
        };
        match (a.v, b.v) {
            (C(x), C(y)) => Real::constant(self, fold(x, y)),
            (N(_), C(c)) => match op {
                Binary::Add if c == 0.0 => a,
                Binary::Mul | Binary::Div if c == 1.0 => a,
                Binary::Add => self.op_scalar(Scalar::Add(c), a),
                Binary::Sub => self.op_scalar(Scalar::Add(-c), a),
                Binary::Mul => self.op_scalar(Scalar::Mul(c), a),
                Binary::Div => self.op_scalar(Scalar::Mul(1.0 / c), a),
            },
            (C(c), N(_)) => match op {
                Binary::Add if c == 0.0 => b,
                Binary::Mul if c == 1.0 => b,
                Binary::Add => self.op_scalar(Scalar::Add(c), b),
                Binary::Sub => {
                    let nb = -b;
                    if c == 0.0 { nb } else { self.op_scalar(Scalar::Add(c), nb) }
                }
                Binary::Mul => self.op_scalar(Scalar::Mul(c), b),
                Binary::Div => self.op_scalar(Scalar::DivInto(c), b),
            },
            (N(ia), N(ib)) => {
                let (sa, sb) = (self.node_shape(ia), self.node_shape(ib));
                let Some((rows, cols)) = self.common_shape(sa, sb) else {
                    return self.fail(format!(
                        "operands of lengths {} and {} do not broadcast{}",
                        sa.1,
                        sb.1,
                        if sa.0 != sb.0 && sa.0 != 1 && sb.0 != 1 { " (population sizes differ)" } else { "" }
                    ));
                };
                let (ra, rb) = (self.range(a), self.range(b));
                let range = match op {
                    Binary::Add => ra.add(rb),
                    Binary::Sub => ra.sub(rb),
                    Binary::Mul => ra.mul(rb),
                    Binary::Div => ra.div(rb),
                };
                let host = match (self.host_const(a), self.host_const(b), rows) {
                    (Some(ha), Some(hb), 1) => Some(Rc::new(
                        (0..cols).map(|j| fold(ha[if ha.len() == 1 { 0 } else { j }], hb[if hb.len() == 1 { 0 } else { j }])).collect::<Vec<_>>(),
                    )),
                    _ => None,
                };
                let a = self.expand(a, rows, cols);
                let b = self.expand(b, rows, cols);
                let (Inner::N(ia), Inner::N(ib)) = (a.v, b.v) else { return self.fail("broadcast failed".into()) };
                let t = self.with_tape(|be, tape| be.binary(tape, op, &self.tensor(ia), &self.tensor(ib)));
                self.push(t, range, host)
            }
        }
    }

    pub(crate) fn op_sum(&self, id: usize) -> Real<'_, B> {
        let (r, c) = self.node_shape(id);
        let range = self.nodes.borrow()[id].range.times(c);
        if c == 1 {
            return Real::new(self, Inner::N(id));
        }
        let t = self.with_tape(|b, tape| b.sum_cols(tape, &self.tensor(id)));
        let host = self.nodes.borrow()[id].host.clone().filter(|_| r == 1).map(|h| Rc::new(vec![h.iter().sum()]));
        self.push(t, range, host)
    }

    pub(crate) fn op_logsumexp(&self, id: usize) -> Real<'_, B> {
        let t = self.with_tape(|b, tape| b.logsumexp_cols(tape, &self.tensor(id)));
        self.push(t, Range::ALL, None)
    }

    pub(crate) fn op_slice<'c>(&'c self, x: Real<'c, B>, start: usize, end: usize) -> Real<'c, B> {
        let id = match x.v {
            Inner::C(_) if start == 0 && end == 1 => return x,
            Inner::C(_) => return self.fail(format!("index {start}..{end} of a scalar")),
            Inner::N(id) => id,
        };
        let (_, c) = self.node_shape(id);
        if start >= end || end > c {
            return self.fail(format!("index {start}..{end} out of range for a vector of length {c}"));
        }
        if start == 0 && end == c {
            return x;
        }
        let (range, host) = {
            let n = &self.nodes.borrow()[id];
            (n.range, n.host.as_ref().map(|h| Rc::new(h[start..end].to_vec())))
        };
        let t = self.with_tape(|b, tape| b.slice_cols(tape, &self.tensor(id), start, end));
        self.push(t, range, host)
    }

    pub(crate) fn op_gather<'c>(&'c self, x: Real<'c, B>, idx: &[usize]) -> Real<'c, B> {
        let x = self.expand(x, self.shape_of(x).0, self.shape_of(x).1);
        let Inner::N(id) = x.v else { unreachable!() };
        let (_, c) = self.node_shape(id);
        if let Some(&bad) = idx.iter().find(|&&i| i >= c) {
            return self.fail(format!("index {bad} out of range for a vector of length {c}"));
        }
        if idx.is_empty() {
            return self.fail("gather with no indices".into());
        }
        let (range, host) = {
            let n = &self.nodes.borrow()[id];
            (n.range, n.host.as_ref().map(|h| Rc::new(idx.iter().map(|&i| h[i]).collect::<Vec<_>>())))
        };
        let t = self.with_tape(|b, tape| b.gather_cols(tape, &self.tensor(id), idx));
        self.push(t, range, host)
    }

    fn shape_of(&self, x: Real<'_, B>) -> (usize, usize) {
        x.shape()
    }

    pub(crate) fn op_concat<'c>(&'c self, parts: &[Real<'c, B>]) -> Real<'c, B> {
        let rows = parts.iter().map(|p| p.shape().0).max().unwrap_or(1);
        let mut tensors = Vec::with_capacity(parts.len());
        let mut range: Option<Range> = None;
        for &p in parts {
            let (r, c) = p.shape();
            if r != rows && r != 1 {
                return self.fail("concat of values with different population sizes".into());
            }
            let e = self.expand(p, rows, c);
            let Inner::N(id) = e.v else { unreachable!() };
            let pr = self.nodes.borrow()[id].range;
            range = Some(range.map_or(pr, |r: Range| r.union(pr)));
            tensors.push(self.tensor(id));
        }
        let t = self.with_tape(|b, tape| b.concat_cols(tape, &tensors));
        self.push(t, range.unwrap_or(Range::ALL), None)
    }

    pub(crate) fn op_matmul<'c>(&'c self, x: Real<'c, B>, m: &Matrix, transposed: bool) -> Real<'c, B> {
        // x (·, K) × M (K, N), or × Mᵀ when `transposed` (M is (N, K)).
        let (k, n) = if transposed { (m.cols(), m.rows()) } else { (m.rows(), m.cols()) };
        let (r, c) = x.shape();
        if c != k {
            return self.fail(format!("matrix product of a length-{c} vector with a {}x{} matrix{}", m.rows(), m.cols(), if transposed { " (transposed)" } else { "" }));
        }
        let x = self.expand(x, r, c);
        let Inner::N(id) = x.v else { unreachable!() };
        let data = if transposed { m.transposed_data() } else { m.data() };
        let mt = self.backend.from_host(data, k, n);
        let t = self.with_tape(|b, tape| b.matmul(tape, &self.tensor(id), &mt));
        self.push(t, Range::ALL, None)
    }

    /// Row `r` of `a` as an `(m, k)` matrix times row `r` of `b` as a `(k, n)` matrix, for every
    /// population member (a one-row operand is shared by all of them).
    pub(crate) fn op_matmul_rows<'c>(&'c self, a: Real<'c, B>, b: Real<'c, B>, m: usize, k: usize, n: usize) -> Real<'c, B> {
        let ((ra, ca), (rb, cb)) = (a.shape(), b.shape());
        if ca != m * k || cb != k * n {
            return self.fail(format!("product of a length-{ca} row as ({m}, {k}) with a length-{cb} row as ({k}, {n})"));
        }
        if ra != rb && ra != 1 && rb != 1 {
            return self.fail("product of values with different population sizes".into());
        }
        let rows = ra.max(rb);
        let (a, b) = (self.expand(a, rows, ca), self.expand(b, rows, cb));
        let (Inner::N(ia), Inner::N(ib)) = (a.v, b.v) else { unreachable!() };
        let t = self.with_tape(|be, tape| be.matmul_rows(tape, &self.tensor(ia), &self.tensor(ib), m, k, n));
        self.push(t, Range::ALL, None)
    }

    /// `f` applied to each row of `x` (see [`HostFunction`](crate::backend::HostFunction)).
    pub(crate) fn op_host<'c>(&'c self, x: Real<'c, B>, f: std::rc::Rc<dyn crate::backend::HostFunction>) -> Real<'c, B> {
        let (r, c) = x.shape();
        if c != f.in_cols() {
            return self.fail(format!("{} takes {} values, got a length-{c} vector", f.name(), f.in_cols()));
        }
        let x = self.expand(x, r, c);
        let Inner::N(id) = x.v else { unreachable!() };
        match self.with_tape(|b, tape| b.host_function(tape, &self.tensor(id), &f)) {
            Some(t) => self.push(t, Range::ALL, None),
            None => self.fail(format!(
                "{} has no gradient on the {} backend: evaluate the model with `Native` (what `Model`'s methods and the samplers use)",
                f.name(),
                self.backend.name()
            )),
        }
    }

    /// `lp` where `x` lies in `[lo, hi]` (closed) or `(lo, hi)` (open), `−∞` elsewhere.
    pub(crate) fn guard<'c>(&'c self, lp: Real<'c, B>, x: Real<'c, B>, lo: f64, hi: f64, closed: bool) -> Real<'c, B> {
        let r = self.range(x);
        let ok = if closed { r.within(lo, hi) } else { (r.lo > lo || (lo == 0.0 && r.positive())) && r.hi < hi };
        if ok {
            return lp;
        }
        if let Some(h) = self.host_const(x) {
            let bad = h.iter().any(|&v| if closed { !(v >= lo && v <= hi) } else { !(v > lo && v < hi) });
            if !bad {
                return lp;
            }
            if h.len() == 1 {
                return Real::constant(self, f64::NEG_INFINITY) + lp * 0.0;
            }
        }
        let (rl, cl) = lp.shape();
        let (rx, cx) = x.shape();
        let Some((rows, cols)) = self.common_shape((rl, cl), (rx, cx)) else {
            return self.fail(format!("lengths {cl} and {cx} do not broadcast"));
        };
        let lp = self.expand(lp, rows, cols);
        let x = self.expand(x, rows, cols);
        let (Inner::N(il), Inner::N(ix)) = (lp.v, x.v) else { unreachable!() };
        let t = self.with_tape(|b, tape| b.guard(tape, &self.tensor(il), &self.tensor(ix), lo, hi, closed));
        self.push(t, Range::ALL, None)
    }
}
