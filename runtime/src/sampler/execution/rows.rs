//! [`Rows`]: the population state a kernel is written against.
//!
//! A kernel (HMC, MALA, …) moves P chains at once. Their positions, momenta and gradients are
//! `(P, D)` arrays whose storage depends on the execution: host vectors for one chain per thread
//! (P = 1) and for all chains in lockstep, dfdx tensors on a device. The per-chain scalars (log
//! densities, step sizes, acceptance decisions) are host `f64`s in every execution: there are only
//! P of them, and the chains' random streams and adaptation live on the host anyway.
//!
//! A kernel uses only the operations below, so one kernel runs in every execution and, row for
//! row, performs the same floating-point operations in the same order in each.

use crate::sampler::metric::Metric;
use crate::sampler::SamplerError;
use crate::target::Target;

/// `(P, D)` arrays of a population and the operations kernels need on them.
pub trait Rows {
    /// A `(P, D)` array: one row per chain.
    type Array: Clone;
    /// The chains' inverse metrics in the form [`velocity`](Rows::velocity) applies.
    type Metric;

    /// Number of rows P.
    fn len(&self) -> usize;
    /// Whether there are no rows.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Columns D (the target's dimension).
    fn dim(&self) -> usize;
    /// An array from host values (row-major, `P·D`).
    fn upload(&self, values: &[f64]) -> Self::Array;
    /// The array's values on the host (row-major, `P·D`).
    fn download(&self, a: &Self::Array) -> Vec<f64>;
    /// `y[r] += a[r] · x[r]` for every row `r`; rows with `a[r] = 0` keep `y[r]` as it is (even
    /// where `x[r]` is not finite), which is how a kernel leaves stopped chains alone.
    fn axpy(&self, y: &mut Self::Array, a: &[f64], x: &Self::Array);
    /// `x[r] *= a[r]` for every row `r`; rows with `a[r] = 1` keep `x[r]` as it is.
    fn scale(&self, x: &mut Self::Array, a: &[f64]);
    /// `Σ_j a[r, j] · b[r, j]` for every row `r`.
    fn row_dot(&self, a: &Self::Array, b: &Self::Array) -> Vec<f64>;
    /// `a[r] = b[r]` for every row `r` with `take[r]`.
    fn select(&self, take: &[bool], a: &mut Self::Array, b: &Self::Array);
    /// The chains' inverse metrics (one per row) in this execution's form; an execution that
    /// cannot apply a kind of metric refuses it here, naming the setting.
    fn metric(&self, metrics: &[Metric]) -> Result<Self::Metric, SamplerError>;
    /// Whether [`metric`](Rows::metric) takes dense metrics (true by default); a run that would
    /// adapt one where it cannot is refused before it starts.
    fn dense_metrics(&self) -> bool {
        true
    }
    /// `M⁻¹ p` of every row, with row `r`'s metric.
    fn velocity(&self, metric: &Self::Metric, p: &Self::Array) -> Self::Array;
    /// Log densities and gradients of the rows of `q` with `active[r]`; other rows' results are
    /// unspecified (executions may skip them). A row whose log density or gradient is not finite
    /// gets `−∞` (or NaN) as its log density.
    fn evaluate(&self, q: &Self::Array, active: &[bool]) -> Result<(Vec<f64>, Self::Array), SamplerError>;
    /// Log densities alone of the rows with `active[r]`, for kernels that need no gradient
    /// (random-walk Metropolis); other rows' are unspecified and non-finite ones `−∞`. By default
    /// [`evaluate`](Rows::evaluate) with the gradients dropped; the host evaluates without them.
    fn log_densities(&self, q: &Self::Array, active: &[bool]) -> Result<Vec<f64>, SamplerError> {
        Ok(self.evaluate(q, active)?.0)
    }
    /// Number of observations N when the target's likelihood is a sum over observations that
    /// [`evaluate_minibatch`](Rows::evaluate_minibatch) evaluates on subsets (`None`: no
    /// minibatches).
    fn observations(&self) -> Option<usize>;
    /// The minibatch estimates `ln prior + (N / B) · Σ_{i ∈ batch} ln p(y_i | q_r)` and their
    /// gradients of the rows with a batch (each row sees its own); other rows' results are
    /// unspecified. Non-finite rows as in [`evaluate`](Rows::evaluate).
    fn evaluate_minibatch(&self, q: &Self::Array, batches: &[Option<&[usize]>]) -> Result<(Vec<f64>, Self::Array), SamplerError>;
    /// The log density on the host, one point at a time: initial points, and warmup's step-size
    /// search at the end of each adaptation window.
    fn host_target(&self) -> &dyn Target;
}

/// `N(0, scale²)` draws as an array of `rows`, row `r` from its chain's stream `rngs[r]`, for the
/// rows with `which[r]` (all rows for `None`); other rows are zeros and draw nothing. The draws are
/// made on the host, in the same order in every execution.
pub(crate) fn normals<A: Rows, R: rand::Rng>(rows: &A, scale: f64, which: Option<&[bool]>, rngs: &mut [R]) -> A::Array {
    let d = rows.dim();
    let mut out = vec![0.0; rows.len() * d];
    for (r, row) in out.chunks_mut(d.max(1)).enumerate() {
        if which.is_none_or(|w| w[r]) {
            row.iter_mut().for_each(|x| *x = scale * rngs[r].sample::<f64, _>(rand_distr::StandardNormal));
        }
    }
    rows.upload(&out)
}
