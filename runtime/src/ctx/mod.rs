//! [`Ctx`]: one evaluation of a model for a population of parameter vectors.
//!
//! The code that `#[model]` generates runs the user's function body with a `Ctx`: every `sample!`
//! becomes [`Ctx::param`] and every `observe!` becomes [`Ctx::observe`]. What those calls do depends on
//! the [`Mode`]: compute the log density of given unconstrained parameters (with or without
//! gradient), discover the parameter layout, read constrained values given by the user, draw from the
//! prior, or simulate data. Running the same body in every mode is what keeps `constrain`,
//! `sample_prior` and `simulate` consistent with the log density.

use crate::backend::Backend;
use crate::error::ModelError;
use crate::range::Range;
use crate::value::{Inner, Real};
use rand_chacha::ChaCha8Rng;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

mod ops;
mod sites;

/// An order constraint on a vector parameter: `sample!(…, ordered)` or `sample!(…, positive_ordered)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// No constraint beyond the distribution's support.
    Any,
    /// Increasing values on the real line (Stan's `ordered`).
    Increasing,
    /// Increasing positive values (Stan's `positive_ordered`).
    PositiveIncreasing,
}

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
            let t = ctx.backend.from_host(theta, p, dim);
            ctx.set_theta(t);
        }
        ctx
    }

    /// A [`Mode::Density`] evaluation of the `(P, D)` points `theta` that already live on the
    /// backend (no copy).
    pub(crate) fn on_tensor(backend: B, theta: B::Tensor, opts: CtxOptions) -> Self {
        let mut ctx = Self::new(backend, Mode::Prior, &[], 0, opts, None);
        ctx.mode = Mode::Density;
        ctx.set_theta(theta);
        ctx
    }

    fn set_theta(&mut self, t: B::Tensor) {
        let shape = B::shape(&t);
        self.rows = shape.0;
        self.nodes.borrow_mut().push(Node { t, shape, range: Range::ALL, host: None });
        self.theta = Some(self.nodes.borrow().len() - 1);
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

    /// A constant `(rows, cols)` (one row per population member, or one shared row): a value that
    /// depends on the parameters' values but carries no gradient, e.g. the shift of a stable
    /// log-sum-exp.
    pub(crate) fn constant_rows(&self, values: Vec<f64>, rows: usize, cols: usize) -> Real<'_, B> {
        let range = Range::of(&values);
        let t = self.backend.from_host(&values, rows, cols);
        self.push(t, range, None)
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

    /// The statement running now (for messages).
    pub(crate) fn current_site(&self) -> &'static str {
        self.site.get()
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
        let (mut out, reverse) = self.finish_parts(jacobian, likelihood_weight)?;
        if let Some((tape, target, theta)) = reverse {
            out.grad = Some(match target {
                Some(t) => self.backend.gradient(tape, &t, &theta),
                None => vec![0.0; self.rows * B::shape(&theta).1],
            });
        }
        Ok(out)
    }

    /// [`finish`](Self::finish) with the gradient left on the backend as a tensor of the points'
    /// shape (`None` without a tape): for points that live on the backend's device.
    pub(crate) fn finish_on_backend(&self, jacobian: bool, likelihood_weight: f64) -> Result<(Output, Option<B::Tensor>), ModelError> {
        let (out, reverse) = self.finish_parts(jacobian, likelihood_weight)?;
        let grad = reverse.map(|(tape, target, theta)| match target {
            Some(t) => self.backend.gradient_tensor(tape, &t, &theta),
            None => {
                let (r, c) = B::shape(&theta);
                self.backend.from_host(&vec![0.0; r * c], r, c)
            }
        });
        Ok((out, grad))
    }

    /// The parts of the log density and, with a tape, what its reverse pass starts from: the
    /// tape, the total (`None` when it is a constant) and the points.
    #[allow(clippy::type_complexity)]
    fn finish_parts(&self, jacobian: bool, likelihood_weight: f64) -> Result<(Output, Option<(B::Tape, Option<B::Tensor>, B::Tensor)>), ModelError> {
        if let Some(e) = self.error.borrow_mut().take() {
            return Err(e);
        }
        let prior = self.total(&[(Term::Prior, 1.0)]);
        let jac = self.total(&[(Term::Jacobian, 1.0)]);
        let lik = self.total(&[(Term::Likelihood, 1.0)]);
        let out = Output {
            log_prior: self.per_member(prior),
            log_jacobian: self.per_member(jac),
            log_likelihood: self.per_member(lik),
            grad: None,
        };
        let mut reverse = None;
        if self.tape.borrow().is_some() {
            let target = prior + lik * likelihood_weight;
            let target = if jacobian { target + jac } else { target };
            let (r, _) = target.shape();
            let target = if r == self.rows { target } else { self.expand(target, self.rows, 1) };
            let tape = self.tape.borrow_mut().take().expect("tape");
            let theta = self.theta.expect("gradients need Mode::Density");
            let total = match target.v {
                Inner::C(_) => None,
                Inner::N(id) => Some(self.tensor(id)),
            };
            reverse = Some((tape, total, self.tensor(theta)));
        }
        Ok((out, reverse))
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

opaque_debug!(impl[B: Backend] Ctx<B>);
