//! The [`Model`] trait that `#[model]` implements, and everything a model offers on top of running
//! its body: log densities (single and population-batched, with gradients), the parts of the log
//! density, constraining and unconstraining, initial values, prior draws and simulation.

use crate::backend::device::{check_dim, evaluate_points, evaluate_points_on_batches, OnDevice};
use crate::backend::{Backend, DevicePoints, Native};
use crate::ctx::{Ctx, CtxOptions, Mode, Output};
use crate::error::ModelError;
use crate::target::{check_population, Parts, Target};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// One parameter of a model, as found by running the model once.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteInfo {
    /// The parameter's name.
    pub name: &'static str,
    /// A vector (names get indices) rather than a scalar.
    pub vector: bool,
    /// Number of constrained values.
    pub len: usize,
    /// Number of unconstrained values.
    pub ulen: usize,
    /// The prior's family.
    pub dist: &'static str,
}

/// The parameters of a model in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layout {
    /// One entry per `sample!`.
    pub sites: Vec<SiteInfo>,
    /// One entry per `deterministic!` (with `ulen` 0): recorded with draws, not sampled.
    pub derived: Vec<SiteInfo>,
}

impl Layout {
    /// Unconstrained dimension.
    pub fn dim(&self) -> usize {
        self.sites.iter().map(|s| s.ulen).sum()
    }
    /// Number of constrained values.
    pub fn constrained_len(&self) -> usize {
        self.sites.iter().map(|s| s.len).sum()
    }
    /// Flattened constrained names, Stan style with 1-based indices: `mu`, `theta.1`, `theta.2`, ….
    pub fn names(&self) -> Vec<String> {
        flat_names(&self.sites)
    }
    /// Names of everything recorded per draw: the parameters, then the deterministic quantities.
    pub fn output_names(&self) -> Vec<String> {
        let mut out = self.names();
        out.extend(flat_names(&self.derived));
        out
    }
}

fn flat_names(sites: &[SiteInfo]) -> Vec<String> {
    let mut out = Vec::new();
    for s in sites {
        if s.vector {
            out.extend((1..=s.len).map(|i| format!("{}.{i}", s.name)));
        } else {
            out.push(s.name.to_string());
        }
    }
    out
}

/// Data simulated by running a model in predictive mode: each `observe!` drew new values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Simulation {
    /// Values per observed expression, in the order they were drawn (an `observe!` in a loop
    /// appends).
    pub values: BTreeMap<String, Vec<f64>>,
}

impl Simulation {
    /// The values drawn for the observed expression `name` (as written, e.g. `"y"`).
    pub fn get(&self, name: &str) -> Option<&[f64]> {
        self.values.get(name).map(|v| v.as_slice())
    }
}

/// How to evaluate: which parts, with or without gradient.
#[derive(Clone, Copy, Debug)]
pub struct EvalOptions {
    /// Compute the gradient of the target.
    pub grad: bool,
    /// Include the log-Jacobian of the constraint transforms in the target (as samplers need).
    pub jacobian: bool,
    /// Weight of the log likelihood in the target (1 for the posterior; SMC tempers it).
    pub likelihood_weight: f64,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self { grad: true, jacobian: true, likelihood_weight: 1.0 }
    }
}

/// Per-member results of [`Model::evaluate`].
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// The target: `log prior + log Jacobian + weight · log likelihood`, `−∞` where not finite.
    pub log_density: Vec<f64>,
    /// Log prior density of the constrained parameters.
    pub log_prior: Vec<f64>,
    /// Log absolute Jacobian determinant of the constraint transforms.
    pub log_jacobian: Vec<f64>,
    /// Log likelihood of the data evaluated (for a minibatch: of the batch, not scaled; the
    /// target above includes the N / B scaling).
    pub log_likelihood: Vec<f64>,
    /// Gradient of the target, row-major `(P, D)`.
    pub grad: Option<Vec<f64>>,
}

thread_local! {
    static CPU: Native = const { Native };
}

/// The backend that [`Model`]'s own methods and the samplers use: snell's native CPU backend in
/// f64 (measured 2–14× faster than dfdx's CPU device on small and medium models, see
/// `examples/gradient_bench.rs`). Every model also runs on dfdx (`Cpu64`, `Cpu32`, `Cuda64`,
/// `Cuda32`) through [`Model::evaluate`].
pub fn default_backend() -> Native {
    CPU.with(|b| *b)
}

/// Converts between a typed parameter struct's fields and flat constrained values.
pub trait FlatField: Sized {
    /// Appends the field's values.
    fn push_to(&self, out: &mut Vec<f64>);
    /// Reads `len` values from the front of `flat`.
    fn read(flat: &mut &[f64], len: usize) -> Self;
}
impl FlatField for f64 {
    fn push_to(&self, out: &mut Vec<f64>) {
        out.push(*self)
    }
    fn read(flat: &mut &[f64], _: usize) -> Self {
        let v = flat[0];
        *flat = &flat[1..];
        v
    }
}
impl FlatField for Vec<f64> {
    fn push_to(&self, out: &mut Vec<f64>) {
        out.extend_from_slice(self)
    }
    fn read(flat: &mut &[f64], len: usize) -> Self {
        let v = flat[..len].to_vec();
        *flat = &flat[len..];
        v
    }
}

/// A probabilistic model: what `#[model]` generates an implementation of.
///
/// Implementors provide [`run`](Model::run) (the body) and the conversions of the typed parameter
/// struct; every other method is provided.
pub trait Model: Target + Sync + Sized {
    /// The typed constrained parameters, e.g. `EightSchoolsParams { mu, tau, theta_raw }`.
    type Params: Clone + std::fmt::Debug;

    /// The model's name (the function's name).
    fn name(&self) -> &'static str;
    /// The parameters found when the model was built.
    fn layout(&self) -> &Layout;
    /// Runs the model body in `ctx`, on all data (`batch = None`) or on the observations `batch`.
    fn run<B: Backend>(&self, ctx: &Ctx<B>, batch: Option<&[usize]>);
    /// Number of observations of the data arguments marked as indexed by observation.
    fn n_obs(&self) -> Option<usize>;
    /// Typed parameters from flat constrained values (in [`Layout::names`] order); a slice of
    /// another length is a [`ModelError::Dimension`].
    fn params_from_flat(&self, flat: &[f64]) -> Result<Self::Params, ModelError>;
    /// Flat constrained values of typed parameters.
    fn params_to_flat(&self, params: &Self::Params) -> Vec<f64>;

    /// Flattened constrained parameter names, Stan style: `theta.1`, `theta.2`, ….
    fn param_names(&self) -> Vec<String> {
        self.layout().names()
    }

    /// This model as a [`Target`] whose log densities and gradients are computed on `backend`
    /// instead of the default one: every sampler then runs on it, e.g. with dfdx on the CPU
    /// (`model.on_backend(Cpu64::default())`). The recorded values are still computed once per
    /// draw on the default backend. The threads execution shares a target between chain threads,
    /// so there the backend must be `Sync`; dfdx 0.13's CUDA device is not (its streams are raw
    /// pointers), so on a GPU a model runs in lockstep or on the device
    /// ([`run_device`](crate::sampler::run_device)), which keep it on one thread.
    fn on_backend<B: Backend>(&self, backend: B) -> OnBackend<'_, Self, B> {
        OnBackend { model: self, backend }
    }

    /// Evaluates a population of `P` unconstrained vectors (`theta` row-major `(P, D)`) on any
    /// backend; `batch` restricts the likelihood to some observations, scaled by `N / B`.
    fn evaluate<B: Backend>(&self, backend: &B, theta: &[f64], batch: Option<&[usize]>, opts: EvalOptions) -> Result<Evaluation, ModelError> {
        let d = self.dim();
        if (d == 0 && !theta.is_empty()) || (d > 0 && (theta.is_empty() || !theta.len().is_multiple_of(d))) {
            return Err(ModelError::Dimension { what: format!("unconstrained values (a multiple of D = {d})"), expected: d, got: theta.len() });
        }
        let ctx = Ctx::new(backend.clone(), Mode::Density, theta, d, CtxOptions { grad: opts.grad, ..Default::default() }, None);
        run_body(self, &ctx, batch);
        let scale = match (batch, self.n_obs()) {
            (Some(b), Some(n)) if !b.is_empty() => n as f64 / b.len() as f64,
            _ => 1.0,
        };
        let w = opts.likelihood_weight * scale;
        let out: Output = ctx.finish(opts.jacobian, w)?;
        let mut log_density = densities(&out, w, opts.jacobian);
        let mut grad = out.grad;
        reject_non_finite(&mut log_density, grad.as_deref_mut(), d);
        Ok(Evaluation { log_density, log_prior: out.log_prior, log_jacobian: out.log_jacobian, log_likelihood: out.log_likelihood, grad })
    }

    /// Log density (with the Jacobian) at one unconstrained point.
    fn log_density(&self, theta: &[f64]) -> Result<f64, ModelError> {
        self.check_single(theta)?;
        let e = self.evaluate(&default_backend(), theta, None, EvalOptions { grad: false, ..Default::default() })?;
        Ok(e.log_density[0])
    }

    /// Log density and its gradient at one unconstrained point.
    fn log_density_and_grad(&self, theta: &[f64]) -> Result<(f64, Vec<f64>), ModelError> {
        self.check_single(theta)?;
        let e = self.evaluate(&default_backend(), theta, None, EvalOptions::default())?;
        Ok((e.log_density[0], e.grad.unwrap_or_default()))
    }

    /// Log densities of `P` points, `theta` row-major `(P, D)`.
    fn log_density_batch(&self, theta: &[f64]) -> Result<Vec<f64>, ModelError> {
        Ok(self.evaluate(&default_backend(), theta, None, EvalOptions { grad: false, ..Default::default() })?.log_density)
    }

    /// Log densities and gradients (row-major `(P, D)`) of `P` points.
    fn log_density_and_grad_batch(&self, theta: &[f64]) -> Result<(Vec<f64>, Vec<f64>), ModelError> {
        let e = self.evaluate(&default_backend(), theta, None, EvalOptions::default())?;
        Ok((e.log_density, e.grad.unwrap_or_default()))
    }

    /// Log density and gradient with the likelihood of the observations `batch` only, scaled by
    /// `N / B`: an unbiased estimate for stochastic-gradient samplers.
    fn log_density_and_grad_minibatch(&self, theta: &[f64], batch: &[usize]) -> Result<(f64, Vec<f64>), ModelError> {
        self.check_single(theta)?;
        self.check_batch(batch)?;
        let e = self.evaluate(&default_backend(), theta, Some(batch), EvalOptions::default())?;
        Ok((e.log_density[0], e.grad.unwrap_or_default()))
    }

    /// Log prior density of the constrained parameters at an unconstrained point (no Jacobian).
    fn log_prior(&self, theta: &[f64]) -> Result<f64, ModelError> {
        self.check_single(theta)?;
        Ok(self.evaluate(&default_backend(), theta, None, EvalOptions { grad: false, ..Default::default() })?.log_prior[0])
    }

    /// Log likelihood at an unconstrained point.
    fn log_likelihood(&self, theta: &[f64]) -> Result<f64, ModelError> {
        self.check_single(theta)?;
        Ok(self.evaluate(&default_backend(), theta, None, EvalOptions { grad: false, ..Default::default() })?.log_likelihood[0])
    }

    /// Log likelihood of the observations `batch`, scaled by `N / B`.
    fn log_likelihood_minibatch(&self, theta: &[f64], batch: &[usize]) -> Result<f64, ModelError> {
        self.check_single(theta)?;
        self.check_batch(batch)?;
        let e = self.evaluate(&default_backend(), theta, Some(batch), EvalOptions { grad: false, ..Default::default() })?;
        let n = self.n_obs().unwrap_or(batch.len()) as f64;
        Ok(e.log_likelihood[0] * n / batch.len() as f64)
    }

    /// Pointwise log likelihood (one value per observed element, in order), e.g. for LOO.
    fn log_likelihood_pointwise(&self, theta: &[f64]) -> Result<Vec<f64>, ModelError> {
        self.check_single(theta)?;
        let d = self.dim();
        let ctx = Ctx::new(default_backend(), Mode::Density, theta, d, CtxOptions { pointwise: true, ..Default::default() }, None);
        run_body(self, &ctx, None);
        ctx.finish(true, 1.0)?;
        let obs = ctx.observations.borrow();
        Ok(obs.iter().flat_map(|o| o.values.iter().cloned()).collect())
    }

    /// Flat constrained values (in [`Model::param_names`] order) at an unconstrained point.
    fn constrain_flat(&self, theta: &[f64]) -> Result<Vec<f64>, ModelError> {
        self.check_single(theta)?;
        let d = self.dim();
        let ctx = Ctx::new(default_backend(), Mode::Density, theta, d, CtxOptions { collect: true, ..Default::default() }, None);
        run_body(self, &ctx, None);
        ctx.finish(true, 1.0).map(|_| ())?;
        let sites = ctx.sites.borrow();
        Ok(sites.iter().flat_map(|s| s.constrained.iter().cloned()).collect())
    }

    /// Typed constrained parameters at an unconstrained point.
    fn constrain(&self, theta: &[f64]) -> Result<Self::Params, ModelError> {
        self.params_from_flat(&self.constrain_flat(theta)?)
    }

    /// Unconstrained values of typed parameters; an error names a value outside its support.
    fn unconstrain(&self, params: &Self::Params) -> Result<Vec<f64>, ModelError> {
        self.unconstrain_flat(&self.params_to_flat(params))
    }

    /// Unconstrained values of flat constrained values.
    fn unconstrain_flat(&self, flat: &[f64]) -> Result<Vec<f64>, ModelError> {
        let expected = self.layout().constrained_len();
        if flat.len() != expected {
            return Err(ModelError::Dimension { what: "constrained values".into(), expected, got: flat.len() });
        }
        let ctx = Ctx::new(default_backend(), Mode::Constrained(flat.to_vec()), &[], 0, CtxOptions { collect: true, ..Default::default() }, None);
        run_body(self, &ctx, None);
        ctx.finish(true, 1.0)?;
        let sites = ctx.sites.borrow();
        Ok(sites.iter().flat_map(|s| s.unconstrained.iter().cloned()).collect())
    }

    /// A draw of the parameters from the prior (flat constrained values).
    fn sample_prior_flat<R: RngCore + ?Sized>(&self, rng: &mut R) -> Result<Vec<f64>, ModelError> {
        let seeded = ChaCha8Rng::seed_from_u64(rng.next_u64());
        let ctx = Ctx::new(default_backend(), Mode::Prior, &[], 0, CtxOptions { collect: true, ..Default::default() }, Some(seeded));
        run_body(self, &ctx, None);
        ctx.finish(true, 1.0)?;
        let sites = ctx.sites.borrow();
        Ok(sites.iter().flat_map(|s| s.constrained.iter().cloned()).collect())
    }

    /// A draw of the parameters from the prior.
    fn sample_prior<R: RngCore + ?Sized>(&self, rng: &mut R) -> Result<Self::Params, ModelError> {
        self.params_from_flat(&self.sample_prior_flat(rng)?)
    }

    /// Runs the model in predictive mode at `params`: every `observe!` draws new data from its
    /// distribution instead of scoring the data. With prior draws this is a prior predictive
    /// check; with posterior draws a posterior predictive one.
    fn simulate<R: RngCore + ?Sized>(&self, params: &Self::Params, rng: &mut R) -> Result<Simulation, ModelError> {
        let flat = self.params_to_flat(params);
        let seeded = ChaCha8Rng::seed_from_u64(rng.next_u64());
        let ctx = Ctx::new(default_backend(), Mode::Constrained(flat), &[], 0, CtxOptions { simulate: true, ..Default::default() }, Some(seeded));
        run_body(self, &ctx, None);
        ctx.finish(true, 1.0)?;
        let mut sim = Simulation::default();
        for o in ctx.observations.borrow().iter() {
            sim.values.entry(o.name.to_string()).or_default().extend_from_slice(&o.values);
        }
        Ok(sim)
    }

    #[doc(hidden)]
    fn check_single(&self, theta: &[f64]) -> Result<(), ModelError> {
        if theta.len() != self.dim() {
            return Err(ModelError::Dimension { what: "unconstrained parameter values".into(), expected: self.dim(), got: theta.len() });
        }
        Ok(())
    }

    #[doc(hidden)]
    fn check_batch(&self, batch: &[usize]) -> Result<(), ModelError> {
        let Some(n) = self.n_obs() else {
            return Err(ModelError::Data {
                name: self.name().to_string(),
                detail: "minibatches need the data arguments indexed by observation: #[model(observations(x, y))]".into(),
            });
        };
        if batch.is_empty() {
            return Err(ModelError::Data { name: "batch".into(), detail: "a minibatch needs at least one observation".into() });
        }
        if let Some(&i) = batch.iter().find(|&&i| i >= n) {
            return Err(ModelError::Data { name: "batch".into(), detail: format!("index {i} out of range for {n} observations") });
        }
        Ok(())
    }
}

/// Runs a freshly built model once to find its parameters (names, shapes, supports) and to check its
/// data against the distributions. Called by the generated `new`.
pub fn discover<M: Model>(model: &M, expected: &[&'static str]) -> Result<Layout, ModelError> {
    let ctx = Ctx::new(default_backend(), Mode::Discover, &[], 0, CtxOptions::default(), None);
    run_body(model, &ctx, None);
    let out = ctx.finish(true, 1.0)?;
    let sites = ctx.sites.borrow();
    let mut seen: Vec<&str> = Vec::new();
    for s in sites.iter() {
        if seen.contains(&s.name) {
            return Err(ModelError::Shape {
                site: format!("`{}`", s.name),
                detail: "the parameter is sampled more than once (a `sample!` in a loop?); declare one vector parameter instead".into(),
            });
        }
        seen.push(s.name);
    }
    if seen != expected {
        return Err(ModelError::Shape {
            site: model.name().to_string(),
            detail: format!("parameters were sampled as {seen:?}, but the model declares {expected:?}: every `sample!` must run exactly once, in order"),
        });
    }
    if out.log_likelihood.iter().chain(&out.log_prior).any(|v| v.is_nan()) {
        return Err(ModelError::NotANumber { where_: " at the initial point (check the data and distribution parameters)".into() });
    }
    let derived = ctx.derived.borrow();
    for (i, o) in derived.iter().enumerate() {
        if derived[..i].iter().any(|p| p.name == o.name) {
            return Err(ModelError::Shape {
                site: format!("`{}`", o.name),
                detail: "the deterministic quantity is recorded more than once (a `deterministic!` in a loop?)".into(),
            });
        }
    }
    Ok(Layout {
        sites: sites.iter().map(|s| SiteInfo { name: s.name, vector: s.vector, len: s.len, ulen: s.ulen, dist: s.dist }).collect(),
        derived: derived.iter().map(|o| SiteInfo { name: o.name, vector: o.values.len() > 1, len: o.values.len(), ulen: 0, dist: "deterministic" }).collect(),
    })
}

/// The length of a vector parameter (`sample!([n] ~ …)`): data, known before the model runs.
#[diagnostic::on_unimplemented(
    message = "the length of a vector parameter must be data, not `{Self}`",
    label = "a length such as `y.len()` or a `usize` argument",
    note = "a parameter's value changes from draw to draw, so it cannot give the number of values of another parameter"
)]
pub trait Length {
    /// The length; a negative one is 0 (which `new` reports as an error naming the parameter).
    fn length(self) -> usize;
}

macro_rules! lengths {
    ($($t:ty),*) => {$(
        impl Length for $t {
            fn length(self) -> usize {
                usize::try_from(self).unwrap_or(0)
            }
        }
    )*};
}
lengths!(usize, u8, u16, u32, u64, i8, i16, i32, i64, isize);

/// [`Length::length`], what the code `#[model]` generates calls.
pub fn length(n: impl Length) -> usize {
    n.length()
}

/// Checks that the data arguments indexed by observation have the same number of rows.
pub fn check_observations(counts: &[(&str, usize)]) -> Result<Option<usize>, ModelError> {
    let Some(&(first, n)) = counts.first() else { return Ok(None) };
    for &(name, m) in &counts[1..] {
        if m != n {
            return Err(ModelError::Data { name: name.to_string(), detail: format!("has {m} observations but `{first}` has {n}") });
        }
    }
    Ok(Some(n))
}

/// Every model is a [`Target`]: the population evaluation on the default backend, the recorded
/// values (constrained parameters, then deterministic quantities), minibatches when the model's data
/// are indexed by observation, and the prior/likelihood split for tempering.
impl<M: Model> Target for M {
    fn dim(&self) -> usize {
        self.layout().dim()
    }
    fn logp_grad_batch(&self, theta: &[f64], lp: &mut [f64], grad: &mut [f64]) -> Result<(), ModelError> {
        check_population(self.layout().dim(), theta, lp, grad)?;
        let e = self.evaluate(&default_backend(), theta, None, EvalOptions::default())?;
        lp.copy_from_slice(&e.log_density);
        grad.copy_from_slice(e.grad.as_deref().unwrap_or(&[]));
        Ok(())
    }
    fn logp(&self, q: &[f64]) -> Result<f64, ModelError> {
        self.log_density(q)
    }
    fn names(&self) -> Vec<String> {
        self.layout().output_names()
    }
    /// Constrained parameters followed by the deterministic quantities (in
    /// [`Layout::output_names`] order): what samplers record per draw.
    fn output_values(&self, theta: &[f64]) -> Result<Vec<f64>, ModelError> {
        self.check_single(theta)?;
        let d = self.layout().dim();
        let ctx = Ctx::new(default_backend(), Mode::Density, theta, d, CtxOptions { collect: true, ..Default::default() }, None);
        run_body(self, &ctx, None);
        ctx.finish(true, 1.0)?;
        let sites = ctx.sites.borrow();
        let derived = ctx.derived.borrow();
        Ok(sites.iter().flat_map(|s| s.constrained.iter().cloned()).chain(derived.iter().flat_map(|o| o.values.iter().cloned())).collect())
    }
    fn observations(&self) -> Option<usize> {
        self.n_obs()
    }
    fn logp_grad_minibatch(&self, q: &[f64], batch: &[usize], grad: &mut [f64]) -> Result<f64, ModelError> {
        let (lp, g) = self.log_density_and_grad_minibatch(q, batch)?;
        crate::target::check_point(self.layout().dim(), q, grad)?;
        grad.copy_from_slice(&g);
        Ok(lp)
    }
    fn prior_draw(&self, rng: &mut ChaCha8Rng) -> Result<Vec<f64>, ModelError> {
        self.unconstrain_flat(&self.sample_prior_flat(rng)?)
    }
    fn logp_parts(&self, theta: &[f64], obs: Option<&[usize]>, weight: f64, grad: Option<&mut [f64]>) -> Result<Parts, ModelError> {
        parts_on(self, &default_backend(), theta, obs, weight, grad)
    }
    /// On the points' own device: the model on the dfdx backend there, the points entering the
    /// evaluation and the gradient leaving it without a copy.
    fn logp_grad_device(&self, q: &DevicePoints) -> Result<(Vec<f64>, DevicePoints), ModelError> {
        evaluate_points(q, &DensityOnDevice(self))
    }
    /// One evaluation per row on the points' device, each on its own batch: the rows are cut,
    /// evaluated and their gradients stacked there, without a copy through the host.
    fn logp_grad_minibatch_device(&self, q: &DevicePoints, batches: &[&[usize]]) -> Result<(Vec<f64>, DevicePoints), ModelError> {
        evaluate_points_on_batches(q, batches, &DensityOnDevice(self))
    }
}

/// Runs the model's body in `ctx`. A panic of the user's code (an index out of range, the sum of
/// an empty vector of `Real`s) is caught and recorded as the evaluation's error
/// ([`ModelError::Panicked`], naming the statement), which [`Ctx::finish`] then returns: a model
/// never takes a sampler's thread down.
fn run_body<M: Model + ?Sized, B: Backend>(model: &M, ctx: &Ctx<B>, batch: Option<&[usize]>) {
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| model.run(ctx, batch)));
    if let Err(payload) = ran {
        let message = payload.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| payload.downcast_ref::<String>().cloned()).unwrap_or_else(|| "(no message)".into());
        let site = match ctx.current_site() {
            "the model" => "the model".to_string(),
            last => format!("the code after `{last}`"),
        };
        ctx.fail_with(ModelError::Panicked { site, message });
    }
}

/// `log prior + w · log likelihood (+ log Jacobian)` per member.
fn densities(out: &Output, w: f64, jacobian: bool) -> Vec<f64> {
    (0..out.log_prior.len()).map(|i| out.log_prior[i] + w * out.log_likelihood[i] + if jacobian { out.log_jacobian[i] } else { 0.0 }).collect()
}

/// NaN and +∞ are not densities: such members get −∞ and a zero gradient, so that samplers reject
/// the point. `grad` is row-major `(P, d)`.
fn reject_non_finite(log_density: &mut [f64], mut grad: Option<&mut [f64]>, d: usize) {
    for (i, lp) in log_density.iter_mut().enumerate() {
        if !lp.is_finite() {
            *lp = f64::NEG_INFINITY;
            if let Some(g) = grad.as_deref_mut() {
                g[i * d..(i + 1) * d].iter_mut().for_each(|v| *v = 0.0);
            }
        }
    }
}

/// A model's log density and gradient at points on a backend's device, evaluated there.
struct DensityOnDevice<'m, M>(&'m M);

impl<M: Model> OnDevice for DensityOnDevice<'_, M> {
    fn evaluate<B: Backend>(&self, backend: &B, theta: B::Tensor, batch: Option<&[usize]>) -> Result<(Vec<f64>, B::Tensor), ModelError> {
        let (p, d) = B::shape(&theta);
        check_dim(d, self.0.dim())?;
        let scale = match batch {
            Some(b) => {
                self.0.check_batch(b)?;
                self.0.n_obs().map_or(1.0, |n| n as f64 / b.len() as f64)
            }
            None => 1.0,
        };
        let ctx = Ctx::on_tensor(backend.clone(), theta, CtxOptions { grad: true, ..Default::default() });
        run_body(self.0, &ctx, batch);
        let (out, grad) = ctx.finish_on_backend(true, scale)?;
        let mut log_density = densities(&out, scale, true);
        let grad = grad.expect("the evaluation records a gradient");
        if log_density.iter().all(|lp| lp.is_finite()) {
            return Ok((log_density, grad));
        }
        // rare: through the host
        let mut g = backend.to_host(&grad);
        reject_non_finite(&mut log_density, Some(&mut g), d);
        Ok((log_density, backend.from_host(&g, p, d)))
    }
}

/// The prior/likelihood split of a population on `backend` (what tempering needs).
fn parts_on<M: Model, B: Backend>(model: &M, backend: &B, theta: &[f64], obs: Option<&[usize]>, weight: f64, grad: Option<&mut [f64]>) -> Result<Parts, ModelError> {
    // `evaluate` scales a batch's likelihood by N / B; undo it so the weight applies to the
    // batch's own likelihood.
    let scale = match obs {
        Some(b) => {
            model.check_batch(b)?;
            b.len() as f64 / model.n_obs().unwrap_or(b.len()) as f64
        }
        None => 1.0,
    };
    let e = model.evaluate(backend, theta, obs, EvalOptions { grad: grad.is_some(), jacobian: true, likelihood_weight: weight * scale })?;
    if let (Some(g), Some(eg)) = (grad, e.grad.as_deref()) {
        if g.len() != eg.len() {
            return Err(ModelError::Dimension { what: "gradient buffer (P × D)".into(), expected: eg.len(), got: g.len() });
        }
        g.copy_from_slice(eg);
    }
    let log_prior = e.log_prior.iter().zip(&e.log_jacobian).map(|(p, j)| p + j).collect();
    Ok(Parts { log_prior, log_likelihood: e.log_likelihood })
}

/// A model evaluated on a chosen backend, as a [`Target`]: made by [`Model::on_backend`].
pub struct OnBackend<'m, M, B> {
    model: &'m M,
    backend: B,
}

impl<M: Model, B: Backend> Target for OnBackend<'_, M, B> {
    fn dim(&self) -> usize {
        self.model.dim()
    }
    fn logp_grad_batch(&self, theta: &[f64], lp: &mut [f64], grad: &mut [f64]) -> Result<(), ModelError> {
        check_population(self.model.dim(), theta, lp, grad)?;
        let e = self.model.evaluate(&self.backend, theta, None, EvalOptions::default())?;
        lp.copy_from_slice(&e.log_density);
        grad.copy_from_slice(e.grad.as_deref().unwrap_or(&[]));
        Ok(())
    }
    fn names(&self) -> Vec<String> {
        self.model.names()
    }
    fn output_values(&self, q: &[f64]) -> Result<Vec<f64>, ModelError> {
        self.model.output_values(q)
    }
    fn init(&self, rng: &mut ChaCha8Rng) -> Vec<f64> {
        self.model.init(rng)
    }
    fn observations(&self) -> Option<usize> {
        self.model.n_obs()
    }
    fn logp_grad_minibatch(&self, q: &[f64], batch: &[usize], grad: &mut [f64]) -> Result<f64, ModelError> {
        crate::target::check_point(self.model.dim(), q, grad)?;
        self.model.check_batch(batch)?;
        let e = self.model.evaluate(&self.backend, q, Some(batch), EvalOptions::default())?;
        grad.copy_from_slice(e.grad.as_deref().unwrap_or(&[]));
        Ok(e.log_density[0])
    }
    fn prior_draw(&self, rng: &mut ChaCha8Rng) -> Result<Vec<f64>, ModelError> {
        self.model.prior_draw(rng)
    }
    fn logp_parts(&self, theta: &[f64], obs: Option<&[usize]>, weight: f64, grad: Option<&mut [f64]>) -> Result<Parts, ModelError> {
        parts_on(self.model, &self.backend, theta, obs, weight, grad)
    }
}

opaque_debug!(impl['m, M, B] OnBackend<'m, M, B>);
