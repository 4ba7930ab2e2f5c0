//! [`Ctx`]: one evaluation of a model for a population of parameter vectors.
//!
//! The code that `#[model]` generates runs the user's function body with a `Ctx`: every `sample!`
//! becomes [`Ctx::param`] and every `observe!` becomes [`Ctx::observe`]. What those calls do depends on
//! the [`Mode`]: compute the log density of given unconstrained parameters (with or without
//! gradient), discover the parameter layout, read constrained values given by the user, draw from the
//! prior, or simulate data. Running the same body in every mode is what keeps `constrain`,
//! `sample_prior` and `simulate` consistent with the log density.

use crate::backend::{Backend, Binary, Scalar, Unary};
use crate::data::Matrix;
use crate::dist::{Dist, IntoDist, Support};
use crate::error::ModelError;
use crate::range::Range;
use crate::transform;
use crate::value::{Inner, IntoReal, Real};
use rand_chacha::ChaCha8Rng;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// What `sample!` and `observe!` do in this evaluation.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// Log density (and optionally gradient) at unconstrained parameters `(P, D)`.
    Density,
    /// Find the parameters, their shapes and supports (unconstrained zeros, `P = 1`).
    Discover,
    /// Parameters take the given constrained values (`P = 1`); used by `unconstrain` and `simulate`.
    Constrained(Vec<f64>),
    /// Parameters are drawn from their priors (`P = 1`).
    Prior,
}

/// Which part of the log density a term belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Term {
    Prior,
    Jacobian,
    Likelihood,
}

pub(crate) struct Node<B: Backend> {
    pub t: B::Tensor,
    pub shape: (usize, usize),
    pub range: Range,
    /// Host copy of data nodes (values that do not depend on parameters).
    pub host: Option<Rc<Vec<f64>>>,
}

/// What one `sample!` did.
#[derive(Clone, Debug)]
pub struct SiteRecord {
    /// The parameter's name.
    pub name: &'static str,
    /// Declared as (or drawn as) a vector rather than a scalar.
    pub vector: bool,
    /// Constrained length.
    pub len: usize,
    /// Unconstrained length (one less for a simplex).
    pub ulen: usize,
    /// Name of the prior's family.
    pub dist: &'static str,
    /// Constrained values, row-major `(P, len)` (filled when values are collected).
    pub constrained: Vec<f64>,
    /// Unconstrained values, row-major `(P, ulen)` (filled when values are collected).
    pub unconstrained: Vec<f64>,
}

/// What one `observe!` did.
#[derive(Clone, Debug)]
pub struct ObsRecord {
    /// The observed expression as written, e.g. `y` or `y[i]`.
    pub name: &'static str,
    /// Simulated values (simulation) or pointwise log likelihoods (row-major `(P, n)`).
    pub values: Vec<f64>,
}

/// One evaluation of a model. See the module documentation.
pub struct Ctx<B: Backend> {
    backend: B,
    rows: usize,
    mode: Mode,
    nodes: RefCell<Vec<Node<B>>>,
    tape: RefCell<Option<B::Tape>>,
    theta: Option<usize>,
    offset: Cell<usize>,
    given_offset: Cell<usize>,
    rng: RefCell<Option<ChaCha8Rng>>,
    collect: bool,
    simulate: bool,
    pointwise: bool,
    terms: RefCell<Vec<(Term, Inner)>>,
    pub(crate) sites: RefCell<Vec<SiteRecord>>,
    pub(crate) observations: RefCell<Vec<ObsRecord>>,
    pub(crate) derived: RefCell<Vec<ObsRecord>>,
    error: RefCell<Option<ModelError>>,
    site: Cell<&'static str>,
}

/// Options of an evaluation.
#[derive(Clone, Debug, Default)]
pub struct CtxOptions {
    /// Record the reverse pass (gradients).
    pub grad: bool,
    /// Record constrained and unconstrained values of every parameter.
    pub collect: bool,
    /// `observe!` draws new data instead of scoring them.
    pub simulate: bool,
    /// Record pointwise log likelihoods.
    pub pointwise: bool,
}

impl<B: Backend> Ctx<B> {
    /// A new evaluation. In [`Mode::Density`], `theta` holds `P` unconstrained vectors of length `D`
    /// (row-major); other modes use `P = 1` and ignore it.
    pub fn new(backend: B, mode: Mode, theta: &[f64], dim: usize, opts: CtxOptions, rng: Option<ChaCha8Rng>) -> Self {
        let mut ctx = Ctx {
            rows: 1,
            tape: RefCell::new(if opts.grad { Some(backend.new_tape()) } else { None }),
            backend,
            mode,
            nodes: RefCell::new(Vec::new()),
            theta: None,
            offset: Cell::new(0),
            given_offset: Cell::new(0),
            rng: RefCell::new(rng),
            collect: opts.collect,
            simulate: opts.simulate,
            pointwise: opts.pointwise,
            terms: RefCell::new(Vec::new()),
            sites: RefCell::new(Vec::new()),
            observations: RefCell::new(Vec::new()),
            derived: RefCell::new(Vec::new()),
            error: RefCell::new(None),
            site: Cell::new("the model"),
        };
        if ctx.mode == Mode::Density {
            let p = if dim == 0 { 1 } else { theta.len() / dim };
            ctx.rows = p;
            let t = ctx.backend.from_host(theta, p, dim);
            ctx.nodes.borrow_mut().push(Node { t, shape: (p, dim), range: Range::ALL, host: None });
            ctx.theta = Some(0);
        }
        ctx
    }

    /// The population size `P`.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The evaluation's mode.
    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// The backend this evaluation runs on.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    // ---- nodes -----------------------------------------------------------------------------

    fn push(&self, t: B::Tensor, range: Range, host: Option<Rc<Vec<f64>>>) -> Real<'_, B> {
        let shape = B::shape(&t);
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(Node { t, shape, range, host });
        Real::new(self, Inner::N(nodes.len() - 1))
    }

    fn tensor(&self, id: usize) -> B::Tensor {
        self.nodes.borrow()[id].t.clone()
    }

    pub(crate) fn node_shape(&self, id: usize) -> (usize, usize) {
        self.nodes.borrow()[id].shape
    }

    pub(crate) fn range(&self, x: Real<'_, B>) -> Range {
        match x.v {
            Inner::C(c) => Range::point(c),
            Inner::N(id) => self.nodes.borrow()[id].range,
        }
    }

    /// Host values of a value that does not depend on parameters, if it is one.
    pub(crate) fn host_const(&self, x: Real<'_, B>) -> Option<Rc<Vec<f64>>> {
        match x.v {
            Inner::C(c) => Some(Rc::new(vec![c])),
            Inner::N(id) => self.nodes.borrow()[id].host.clone(),
        }
    }

    pub(crate) fn node_host(&self, id: usize) -> Vec<f64> {
        let n = &self.nodes.borrow()[id];
        match &n.host {
            Some(h) => h.as_ref().clone(),
            None => self.backend.to_host(&n.t),
        }
    }

    fn with_tape<T>(&self, f: impl FnOnce(&B, &mut Option<B::Tape>) -> T) -> T {
        let mut tape = self.tape.borrow_mut();
        f(&self.backend, &mut tape)
    }

    /// A data vector `(1, n)`.
    pub fn data(&self, values: Vec<f64>) -> Real<'_, B> {
        let range = Range::of(&values);
        let t = self.backend.from_host(&values, 1, values.len());
        self.push(t, range, Some(Rc::new(values)))
    }

    /// Records the first error of the evaluation; returns a placeholder so that evaluation can go
    /// on to the end, where the error is reported.
    pub(crate) fn fail(&self, detail: String) -> Real<'_, B> {
        let mut e = self.error.borrow_mut();
        if e.is_none() {
            *e = Some(ModelError::Shape { site: format!("`{}`", self.site.get()), detail });
        }
        Real::constant(self, 0.0)
    }

    pub(crate) fn fail_with(&self, err: ModelError) {
        let mut e = self.error.borrow_mut();
        if e.is_none() {
            *e = Some(err);
        }
    }


    /// The value broadcast to `(rows, cols)` as a node.
    pub(crate) fn expand<'c>(&'c self, x: Real<'c, B>, rows: usize, cols: usize) -> Real<'c, B> {
        match x.v {
            Inner::C(c) => {
                let t = self.backend.from_host(&vec![c; rows * cols], rows, cols);
                self.push(t, Range::point(c), if rows == 1 { Some(Rc::new(vec![c; cols])) } else { None })
            }
            Inner::N(id) => {
                let (r, c) = self.node_shape(id);
                if (r, c) == (rows, cols) {
                    return x;
                }
                if (r != rows && r != 1) || (c != cols && c != 1) {
                    return self.fail(format!("cannot broadcast a {r}x{c} value to {rows}x{cols}"));
                }
                let (range, host) = {
                    let n = &self.nodes.borrow()[id];
                    let host = match (&n.host, rows) {
                        (Some(h), 1) => Some(Rc::new(if c == cols { h.as_ref().clone() } else { vec![h[0]; cols] })),
                        _ => None,
                    };
                    (n.range, host)
                };
                let t = self.with_tape(|b, tape| b.broadcast(tape, &self.tensor(id), rows, cols));
                self.push(t, range, host)
            }
        }
    }

    fn common_shape(&self, a: (usize, usize), b: (usize, usize)) -> Option<(usize, usize)> {
        let dim = |x: usize, y: usize| if x == y || y == 1 { Some(x) } else if x == 1 { Some(y) } else { None };
        Some((dim(a.0, b.0)?, dim(a.1, b.1)?))
    }

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
        let data = if transposed { m.transpose().into_data() } else { m.data().to_vec() };
        let mt = self.backend.from_host(&data, k, n);
        let t = self.with_tape(|b, tape| b.matmul(tape, &self.tensor(id), &mt));
        self.push(t, Range::ALL, None)
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

    // ---- sample! and observe! ------------------------------------------------------------------

    fn add_term(&self, kind: Term, x: Real<'_, B>) {
        let s = x.sum();
        self.terms.borrow_mut().push((kind, s.v));
    }

    /// Adds `x` (summed) to the log likelihood: Stan's `target +=`, for densities written by hand.
    pub fn factor<'c>(&'c self, x: Real<'c, B>) {
        self.add_term(Term::Likelihood, x);
    }

    /// A parameter: `name ~ dist`, optionally a vector of length `len`, optionally with explicit
    /// bounds (which replace the support of `dist` for the transform). Returns the constrained value.
    pub fn param<'c, D: IntoDist<'c, B>>(
        &'c self,
        name: &'static str,
        len: Option<usize>,
        dist: D,
        lower: Option<Real<'c, B>>,
        upper: Option<Real<'c, B>>,
        ordered: bool,
    ) -> Real<'c, B> {
        self.site.set(name);
        let dist: Dist<'c, B> = dist.into_dist(self);
        if self.mode == Mode::Discover {
            if let Err(e) = dist.validate(name) {
                self.fail_with(e);
            }
        }
        let explicit = lower.is_some() || upper.is_some();
        let support = match (lower, upper) {
            (Some(a), Some(b)) => Support::Interval(a, b),
            (Some(a), None) => Support::Lower(a),
            (None, Some(b)) => Support::Upper(b),
            (None, None) => dist.support(),
        };
        let support = if ordered {
            if explicit || !matches!(support, Support::Real) {
                return self.fail(format!("`ordered` needs a distribution on the whole real line without bounds, not {}", dist.name()));
            }
            Support::Ordered
        } else {
            support
        };
        if let Support::Discrete = support {
            self.fail_with(ModelError::Discrete { site: name.to_string(), dist: dist.name() });
            return Real::constant(self, 0.0);
        }
        let event = dist.event_len();
        let n = match (len, event) {
            (Some(_), Some(_)) => {
                return self.fail(format!("{} is multivariate: its length comes from its parameters, drop the `[..] ~`", dist.name()));
            }
            (Some(n), None) | (None, Some(n)) => n,
            (None, None) => 1,
        };
        if n == 0 {
            return self.fail("a parameter must have at least one element".into());
        }
        let vector = len.is_some() || event.is_some();
        let ulen = if matches!(support, Support::Simplex) { n.saturating_sub(1) } else { n };

        let (x, y_host) = match &self.mode {
            Mode::Density | Mode::Discover => {
                let y = if let Some(theta) = self.theta {
                    let off = self.offset.get();
                    let (_, d) = self.node_shape(theta);
                    if off + ulen > d {
                        self.fail_with(ModelError::Dimension { what: "unconstrained parameters".into(), expected: off + ulen, got: d });
                        return Real::constant(self, 0.0);
                    }
                    self.op_slice(Real::new(self, Inner::N(theta)), off, off + ulen)
                } else {
                    // Discover: the point y = 0. Like a slice of θ in `Mode::Density`, the node carries
                    // no host values and no range, so that a parameter is never mistaken for data:
                    // `validate` and `check_value` must not judge parameters by this arbitrary point
                    // (e.g. `Normal(0.0, s)` with `s` a real parameter, 0 here, is a valid model).
                    let t = self.backend.from_host(&vec![0.0; ulen], 1, ulen);
                    self.push(t, Range::ALL, None)
                };
                self.offset.set(self.offset.get() + ulen);
                let (x, log_jac) = transform::constrain(self, &support, y, n);
                self.add_term(Term::Jacobian, log_jac);
                let lp = dist.log_prob(x);
                let lp = if explicit { dist.guard_value(lp, x) } else { lp };
                self.add_term(Term::Prior, lp);
                let yh = if self.collect { Some(y.to_host()) } else { None };
                (x, yh)
            }
            Mode::Constrained(given) => {
                let off = self.given_offset.get();
                if off + n > given.len() {
                    self.fail_with(ModelError::Dimension { what: "constrained parameter values".into(), expected: off + n, got: given.len() });
                    return Real::constant(self, 0.0);
                }
                self.given_offset.set(off + n);
                let xs = given[off..off + n].to_vec();
                let y = match transform::unconstrain_host(self, &support, &xs) {
                    Ok(y) => y,
                    Err(detail) => {
                        self.fail_with(ModelError::Constraint { site: name.to_string(), detail });
                        return Real::constant(self, 0.0);
                    }
                };
                (self.data(xs), Some(y))
            }
            Mode::Prior => {
                let xs = {
                    let mut rng = self.rng.borrow_mut();
                    let rng = rng.as_mut().expect("prior draws need a random number generator");
                    dist.draw_within(rng, n, &support, self)
                };
                let xs = match xs {
                    // iid draws sorted are draws of the prior restricted to increasing vectors
                    Ok(mut xs) if matches!(support, Support::Ordered) => {
                        xs.sort_by(f64::total_cmp);
                        xs
                    }
                    Ok(xs) => xs,
                    Err(detail) => {
                        self.fail_with(ModelError::Draw { site: name.to_string(), detail });
                        return Real::constant(self, 0.0);
                    }
                };
                let y = transform::unconstrain_host(self, &support, &xs).unwrap_or_default();
                (self.data(xs), Some(y))
            }
        };
        if self.collect || self.mode == Mode::Discover {
            let constrained = if self.collect { x.to_host() } else { Vec::new() };
            let constrained = if constrained.len() == 1 && n > 1 { vec![constrained[0]; n] } else { constrained };
            self.sites.borrow_mut().push(SiteRecord {
                name,
                vector,
                len: n,
                ulen,
                dist: dist.name(),
                constrained,
                unconstrained: y_host.unwrap_or_default(),
            });
        }
        if x.len() != n && x.len() != 1 {
            return self.fail(format!("parameter has length {} but {n} was declared", x.len()));
        }
        if x.len() == 1 && n > 1 {
            return self.expand(x, x.shape().0, n);
        }
        x
    }

    /// A deterministic function of the parameters, recorded with every draw
    /// (`let theta = deterministic!(mu + tau * z);`).
    pub fn deterministic<'c>(&'c self, name: &'static str, x: Real<'c, B>) -> Real<'c, B> {
        if self.collect || self.mode == Mode::Discover {
            let values = if self.collect { self.expand(x, self.rows.max(x.shape().0), x.len()).to_host() } else { vec![0.0; x.len()] };
            self.derived.borrow_mut().push(ObsRecord { name, values });
        }
        x
    }

    /// The element-wise log density of `value` under `dist` (`log_prob!(x ~ Normal(mu, s))`).
    pub fn log_prob<'c, V: IntoReal<'c, B>, D: IntoDist<'c, B>>(&'c self, value: V, dist: D) -> Real<'c, B> {
        let dist: Dist<'c, B> = dist.into_dist(self);
        dist.log_prob(value.into_real(self))
    }

    /// An observation: `value ~ dist`. Scores `value` (or, when simulating, draws a new one).
    pub fn observe<'c, V: IntoReal<'c, B>, D: IntoDist<'c, B>>(&'c self, name: &'static str, value: V, dist: D) {
        self.site.set(name);
        let dist: Dist<'c, B> = dist.into_dist(self);
        let x = value.into_real(self);
        if self.mode == Mode::Discover {
            if let Err(e) = dist.validate(name) {
                self.fail_with(e);
            }
            if let Some(h) = self.host_const(x) {
                if let Err(detail) = dist.check_value(&h, self) {
                    self.fail_with(ModelError::OutOfSupport { site: name.to_string(), dist: dist.name(), detail });
                }
            } else {
                self.fail_with(ModelError::Shape { site: format!("`{name}`"), detail: "observed values must be data, not parameters".into() });
            }
        }
        if self.simulate {
            let n = dist.broadcast_len(x.len());
            let drawn = {
                let mut rng = self.rng.borrow_mut();
                let rng = rng.as_mut().expect("simulation needs a random number generator");
                dist.draw(rng, n, self)
            };
            match drawn {
                Ok(values) => self.observations.borrow_mut().push(ObsRecord { name, values }),
                Err(detail) => self.fail_with(ModelError::Draw { site: name.to_string(), detail }),
            }
            return;
        }
        let lp = dist.log_prob(x);
        if self.pointwise {
            let (r, c) = lp.shape();
            // A multivariate observation has one log density, not one per element of the vector.
            let cols = if dist.event_len().is_some() { c } else { c.max(x.len()) };
            let full = self.expand(lp, self.rows.max(r), cols);
            self.observations.borrow_mut().push(ObsRecord { name, values: full.to_host() });
        }
        self.add_term(Term::Likelihood, lp);
    }

    // ---- results ---------------------------------------------------------------------------

    fn total<'c>(&'c self, kinds: &[(Term, f64)]) -> Real<'c, B> {
        let terms = self.terms.borrow().clone();
        let mut acc = Real::constant(self, 0.0);
        for (kind, v) in terms {
            if let Some(&(_, w)) = kinds.iter().find(|(k, _)| *k == kind) {
                if w != 0.0 {
                    acc = acc + Real::new(self, v) * w;
                }
            }
        }
        acc
    }

    fn per_member(&self, x: Real<'_, B>) -> Vec<f64> {
        let h = x.to_host();
        if h.len() == self.rows {
            h
        } else {
            vec![h[0]; self.rows]
        }
    }

    /// Finishes the evaluation: the parts of the log density per member, and the gradient of
    /// `log prior + (log Jacobian if jacobian) + likelihood_weight · log likelihood` when the
    /// evaluation records one.
    pub fn finish(&self, jacobian: bool, likelihood_weight: f64) -> Result<Output, ModelError> {
        if let Some(e) = self.error.borrow_mut().take() {
            return Err(e);
        }
        let prior = self.total(&[(Term::Prior, 1.0)]);
        let jac = self.total(&[(Term::Jacobian, 1.0)]);
        let lik = self.total(&[(Term::Likelihood, 1.0)]);
        let mut out = Output {
            log_prior: self.per_member(prior),
            log_jacobian: self.per_member(jac),
            log_likelihood: self.per_member(lik),
            grad: None,
        };
        if self.tape.borrow().is_some() {
            let target = prior + lik * likelihood_weight;
            let target = if jacobian { target + jac } else { target };
            let (r, _) = target.shape();
            let target = if r == self.rows { target } else { self.expand(target, self.rows, 1) };
            let tape = self.tape.borrow_mut().take().expect("tape");
            let theta = self.theta.expect("gradients need Mode::Density");
            let d = self.node_shape(theta).1;
            let grad = match target.v {
                Inner::C(_) => vec![0.0; self.rows * d],
                Inner::N(id) => self.backend.gradient(tape, &self.tensor(id), &self.tensor(theta)),
            };
            out.grad = Some(grad);
        }
        Ok(out)
    }

    /// Number of unconstrained values consumed by `sample!` so far.
    pub fn consumed(&self) -> usize {
        self.offset.get()
    }
}

/// The result of [`Ctx::finish`]: per population member.
#[derive(Clone, Debug)]
pub struct Output {
    /// Log prior density.
    pub log_prior: Vec<f64>,
    /// Log absolute Jacobian determinant of the transforms.
    pub log_jacobian: Vec<f64>,
    /// Log likelihood (unweighted).
    pub log_likelihood: Vec<f64>,
    /// Row-major `(P, D)`.
    pub grad: Option<Vec<f64>>,
}
