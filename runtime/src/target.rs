//! [`Target`]: the one seam between models and samplers.
//!
//! A sampler never sees a model's internals: it sees a log density on the unconstrained space,
//! evaluated for a whole population of points at once, with names and constrained values for the
//! output. Every `#[model]` implements it (through [`Model`](crate::Model)); hand-written
//! densities do too ([`FnDensity`], or an `impl Target` of your own).
//!
//! Beyond the density, a target may offer two capabilities, both reached through this trait and
//! refused by default:
//! - **minibatches** ([`observations`](Target::observations),
//!   [`logp_grad_minibatch`](Target::logp_grad_minibatch)): the likelihood is a sum over
//!   observations that can be evaluated on a subset, for stochastic-gradient samplers;
//! - **tempering** ([`prior_draw`](Target::prior_draw), [`logp_parts`](Target::logp_parts)): exact
//!   prior draws and the log prior and log likelihood apart, for sequential Monte Carlo.
//!
//! The device execution ([`run_device`](crate::sampler::run_device)) hands a target its points as
//! tensors on a dfdx device ([`logp_grad_device`](Target::logp_grad_device)); every target
//! evaluates them (by default through the host), and `#[model]`s do it on that device.
//!
//! A target need not be `Sync`: the threads execution ([`run`](crate::sampler::run) without
//! [`Lockstep`](crate::sampler::Lockstep)) asks for it, as it shares the target between threads;
//! lockstep and device executions evaluate it on the calling thread (a target holding dfdx's CUDA
//! device, which is not `Sync`, runs there).
//!
//! The method names differ from [`Model`](crate::Model)'s typed methods (`constrain` gives typed
//! parameters there, [`output_values`](Target::output_values) flat values here), so both traits can
//! be in scope without qualified calls.

use crate::backend::DevicePoints;
use crate::error::ModelError;
use rand_chacha::ChaCha8Rng;

/// The two parts of a tempered log density `log prior + w · log likelihood`, per population member.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parts {
    /// Log prior density on the unconstrained scale (with the transforms' log Jacobian).
    pub log_prior: Vec<f64>,
    /// Log likelihood of the observations evaluated, not scaled.
    pub log_likelihood: Vec<f64>,
}

/// A log density on an unconstrained space `R^D`, what every sampler consumes.
///
/// Required: [`dim`](Target::dim) and the population evaluation
/// [`logp_grad_batch`](Target::logp_grad_batch). Everything else is provided: the one-point forms,
/// names `x.1 … x.D`, output values equal to the coordinates, Stan's uniform(−2, 2) initial points,
/// and no minibatches or tempering.
///
/// Log densities that are NaN or +∞ are not densities: implementations report them as −∞ (or the
/// sampler treats them so), and the point is rejected.
pub trait Target {
    /// Dimension D of the unconstrained space.
    fn dim(&self) -> usize;

    /// Log densities `lp` (length P) and gradients `grad` (row-major `(P, D)`) of the `P` points in
    /// the rows of `q` (row-major `(P, D)`).
    fn logp_grad_batch(&self, q: &[f64], lp: &mut [f64], grad: &mut [f64]) -> Result<(), ModelError>;

    /// `ln p(q)` of one point, with its gradient written to `grad`.
    fn logp_grad(&self, q: &[f64], grad: &mut [f64]) -> Result<f64, ModelError> {
        check_point(self.dim(), q, grad)?;
        let mut lp = [0.0];
        self.logp_grad_batch(q, &mut lp, grad)?;
        Ok(lp[0])
    }

    /// `ln p(q)` alone, for samplers that need no gradient (random-walk Metropolis). By default
    /// [`logp_grad`](Target::logp_grad) with the gradient thrown away; models evaluate without a
    /// tape.
    fn logp(&self, q: &[f64]) -> Result<f64, ModelError> {
        let mut grad = vec![0.0; q.len()];
        self.logp_grad(q, &mut grad)
    }

    /// Names of the recorded values, Stan style (`theta.1`, …); by default `x.1 … x.D`.
    fn names(&self) -> Vec<String> {
        (1..=self.dim()).map(|i| format!("x.{i}")).collect()
    }

    /// The recorded (constrained) values of an unconstrained point, in [`names`](Target::names)
    /// order; by default the point itself.
    fn output_values(&self, q: &[f64]) -> Result<Vec<f64>, ModelError> {
        Ok(q.to_vec())
    }

    /// An initial point; by default Stan's uniform(−2, 2) on every coordinate.
    fn init(&self, rng: &mut ChaCha8Rng) -> Vec<f64> {
        use rand::Rng;
        (0..self.dim()).map(|_| rng.gen_range(-2.0..2.0)).collect()
    }

    /// Number of observations N when the likelihood is a sum over observations that
    /// [`logp_grad_minibatch`](Target::logp_grad_minibatch) can evaluate on subsets; `None` (the
    /// default) when the target has no minibatches.
    fn observations(&self) -> Option<usize> {
        None
    }

    /// The minibatch estimate `log prior + (N / B) · Σ_{i ∈ batch} log p(y_i | q)` (unbiased for the
    /// full log density) and its gradient, written to `grad`. Refused by default.
    fn logp_grad_minibatch(&self, q: &[f64], batch: &[usize], grad: &mut [f64]) -> Result<f64, ModelError> {
        let _ = (q, batch, grad);
        Err(unsupported("minibatches", "the target is not indexed by observation: write the model with #[model(observations(x, y))], or implement Target::observations and Target::logp_grad_minibatch"))
    }

    /// An exact draw from the prior, on the unconstrained scale. Sequential Monte Carlo starts
    /// from these, so the prior must be proper. Refused by default.
    fn prior_draw(&self, rng: &mut ChaCha8Rng) -> Result<Vec<f64>, ModelError> {
        let _ = rng;
        Err(unsupported("prior draws", "the target has no prior to draw from: implement Target::prior_draw and Target::logp_parts"))
    }

    /// Log densities (on the host) and gradients (on `q`'s device) of the points in the rows of
    /// `q`, which live on a dfdx device: the device execution's evaluation. By default the points
    /// are copied to the host, evaluated by [`logp_grad_batch`](Target::logp_grad_batch) and the
    /// gradients copied back; a `#[model]` evaluates them on their device through the dfdx backend.
    fn logp_grad_device(&self, q: &DevicePoints) -> Result<(Vec<f64>, DevicePoints), ModelError> {
        logp_grad_device_via_host(self, q)
    }

    /// The minibatch estimates of [`logp_grad_minibatch`](Target::logp_grad_minibatch) for the rows
    /// of `q` on a dfdx device, row `r` on its own batch `batches[r]`. By default one host
    /// evaluation per row.
    fn logp_grad_minibatch_device(&self, q: &DevicePoints, batches: &[&[usize]]) -> Result<(Vec<f64>, DevicePoints), ModelError> {
        minibatch_device_via_host(self, q, batches)
    }

    /// For every row of `q` (row-major `(P, D)`): the log prior and the unscaled log likelihood of
    /// the observations `obs` (all of them for `None`). With `grad`, also the gradient (row-major
    /// `(P, D)`) of `log prior + weight · log likelihood`. This is what tempering needs. Refused by
    /// default.
    fn logp_parts(&self, q: &[f64], obs: Option<&[usize]>, weight: f64, grad: Option<&mut [f64]>) -> Result<Parts, ModelError> {
        let _ = (q, obs, weight, grad);
        Err(unsupported("the prior/likelihood split", "the target does not separate its prior from its likelihood: implement Target::prior_draw and Target::logp_parts"))
    }
}

/// [`Target::logp_grad_device`] through the host: download, [`Target::logp_grad_batch`], upload.
pub fn logp_grad_device_via_host<T: Target + ?Sized>(target: &T, q: &DevicePoints) -> Result<(Vec<f64>, DevicePoints), ModelError> {
    let (p, d) = q.shape();
    crate::backend::device::check_dim(d, target.dim())?;
    let (mut lp, mut grad) = (vec![0.0; p], vec![0.0; p * d]);
    target.logp_grad_batch(&q.to_host(), &mut lp, &mut grad)?;
    Ok((lp, q.like(&grad)?))
}

/// [`Target::logp_grad_minibatch_device`] through the host: one
/// [`Target::logp_grad_minibatch`] per row.
pub fn minibatch_device_via_host<T: Target + ?Sized>(target: &T, q: &DevicePoints, batches: &[&[usize]]) -> Result<(Vec<f64>, DevicePoints), ModelError> {
    let (p, d) = q.shape();
    crate::backend::device::check_dim(d, target.dim())?;
    crate::backend::device::check_batch_count(batches.len(), p)?;
    let theta = q.to_host();
    let (mut lp, mut grad) = (Vec::with_capacity(p), vec![0.0; p * d]);
    for ((row, g), batch) in theta.chunks(d.max(1)).zip(grad.chunks_mut(d.max(1))).zip(batches) {
        lp.push(target.logp_grad_minibatch(row, batch, g)?);
    }
    Ok((lp, q.like(&grad)?))
}

/// The error of a capability a target does not offer.
pub fn unsupported(what: &'static str, detail: &str) -> ModelError {
    ModelError::Unsupported { what, detail: detail.to_string() }
}

/// Checks that a single point and its gradient buffer have length `d`.
pub(crate) fn check_point(d: usize, q: &[f64], grad: &[f64]) -> Result<(), ModelError> {
    if q.len() != d {
        return Err(ModelError::Dimension { what: "unconstrained values".into(), expected: d, got: q.len() });
    }
    if grad.len() != d {
        return Err(ModelError::Dimension { what: "gradient buffer".into(), expected: d, got: grad.len() });
    }
    Ok(())
}

/// Checks a population `(P, D)`: `q` a non-empty multiple of `d` (empty when `d = 0` is allowed),
/// and `lp`, `grad` of lengths P and P·D. Returns P.
pub(crate) fn check_population(d: usize, q: &[f64], lp: &[f64], grad: &[f64]) -> Result<usize, ModelError> {
    let p = if d == 0 { lp.len() } else { q.len() / d };
    if (d == 0 && !q.is_empty()) || (d > 0 && !q.len().is_multiple_of(d)) {
        return Err(ModelError::Dimension { what: format!("unconstrained values (a multiple of D = {d})"), expected: d, got: q.len() });
    }
    if lp.len() != p {
        return Err(ModelError::Dimension { what: "log density buffer (one per point)".into(), expected: p, got: lp.len() });
    }
    if grad.len() != p * d {
        return Err(ModelError::Dimension { what: "gradient buffer (P × D)".into(), expected: p * d, got: grad.len() });
    }
    Ok(p)
}

/// A population evaluated one point after another with `f(q, grad) -> ln p(q)`: the
/// [`Target::logp_grad_batch`] of targets whose evaluation is per point.
pub fn logp_grad_rows(d: usize, q: &[f64], lp: &mut [f64], grad: &mut [f64], mut f: impl FnMut(&[f64], &mut [f64]) -> Result<f64, ModelError>) -> Result<(), ModelError> {
    check_population(d, q, lp, grad)?;
    for (i, l) in lp.iter_mut().enumerate() {
        *l = f(&q[i * d..(i + 1) * d], &mut grad[i * d..(i + 1) * d])?;
    }
    Ok(())
}

/// A hand-written log density: a closure `f(q, grad) -> ln p(q)` on unconstrained values, which are
/// also the output values (named `x.1`, `x.2`, …). Used for targets like Neal's funnel or the banana.
pub struct FnDensity<F> {
    dim: usize,
    f: F,
    names: Vec<String>,
}

impl<F: Fn(&[f64], &mut [f64]) -> f64 + Sync> FnDensity<F> {
    /// A density of dimension `dim`.
    pub fn new(dim: usize, f: F) -> Self {
        Self { dim, f, names: (1..=dim).map(|i| format!("x.{i}")).collect() }
    }
    /// Names the coordinates.
    pub fn with_names(mut self, names: Vec<String>) -> Self {
        self.names = names;
        self
    }
}

impl<F> std::fmt::Debug for FnDensity<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnDensity").field("dim", &self.dim).field("names", &self.names).finish_non_exhaustive()
    }
}

impl<F: Fn(&[f64], &mut [f64]) -> f64 + Sync> Target for FnDensity<F> {
    fn dim(&self) -> usize {
        self.dim
    }
    fn logp_grad_batch(&self, q: &[f64], lp: &mut [f64], grad: &mut [f64]) -> Result<(), ModelError> {
        logp_grad_rows(self.dim, q, lp, grad, |q, g| Ok((self.f)(q, g)))
    }
    fn logp_grad(&self, q: &[f64], grad: &mut [f64]) -> Result<f64, ModelError> {
        check_point(self.dim, q, grad)?;
        Ok((self.f)(q, grad))
    }
    fn names(&self) -> Vec<String> {
        self.names.clone()
    }
}
