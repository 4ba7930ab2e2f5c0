//! Stan's warmup for Hamiltonian samplers, separate from the transitions it tunes.
//!
//! - [`DualAveraging`]: the step size that reaches a target mean acceptance (Hoffman & Gelman 2014).
//! - [`WindowedAdaptation`]: Stan's schedule — a fast initial buffer (75 iterations of 1000), slow
//!   windows that double in length (25, 50, 100, …) at whose ends the metric is re-estimated from
//!   the window's draws (regularised towards the identity) and the step size search restarts, and
//!   a final fast buffer (50).

use super::metric::Metric;
use super::execution::Rows;
use super::phase_space::{Point, Points, TransitionParams};
use crate::target::Target;
use super::SamplerError;
use rand::Rng;

/// Dual averaging of `ln ε` (Nesterov 2009, as in Stan).
#[derive(Clone, Debug)]
pub struct DualAveraging {
    /// Target mean acceptance statistic (default 0.8).
    pub delta: f64,
    /// Regularisation scale (0.05).
    pub gamma: f64,
    /// Relaxation exponent (0.75).
    pub kappa: f64,
    /// Iteration offset (10).
    pub t0: f64,
    mu: f64,
    counter: f64,
    s_bar: f64,
    x_bar: f64,
}

impl DualAveraging {
    /// A fresh state shrinking towards `ln(10 ε₀)`.
    pub fn new(delta: f64, eps0: f64) -> Self {
        Self { delta, gamma: 0.05, kappa: 0.75, t0: 10.0, mu: (10.0 * eps0).ln(), counter: 0.0, s_bar: 0.0, x_bar: 0.0 }
    }
    /// Restarts the averages around `ln(10 ε₀)`.
    pub fn restart(&mut self, eps0: f64) {
        self.mu = (10.0 * eps0).ln();
        self.counter = 0.0;
        self.s_bar = 0.0;
        self.x_bar = 0.0;
    }
    /// The next step size after a transition with acceptance statistic `accept`.
    pub fn learn(&mut self, accept: f64) -> f64 {
        self.counter += 1.0;
        let accept = if accept.is_nan() { 0.0 } else { accept.min(1.0) };
        let eta = 1.0 / (self.counter + self.t0);
        self.s_bar = (1.0 - eta) * self.s_bar + eta * (self.delta - accept);
        let x = self.mu - self.s_bar * self.counter.sqrt() / self.gamma;
        let x_eta = self.counter.powf(-self.kappa);
        self.x_bar = (1.0 - x_eta) * self.x_bar + x_eta * x;
        x.exp()
    }
    /// The final step size: the average `exp(x̄)`.
    pub fn final_step_size(&self) -> f64 {
        self.x_bar.exp()
    }
}

/// Settings of Stan's windowed warmup.
#[derive(Clone, Debug)]
pub struct WindowedSettings {
    /// Target mean acceptance statistic (Stan's `delta`, default 0.8).
    pub target_accept: f64,
    /// Initial fast buffer (75).
    pub init_buffer: usize,
    /// Final fast buffer (50).
    pub term_buffer: usize,
    /// First slow window (25); later ones double.
    pub base_window: usize,
    /// Estimate a dense metric instead of a diagonal one.
    pub dense: bool,
}

impl Default for WindowedSettings {
    fn default() -> Self {
        Self { target_accept: 0.8, init_buffer: 75, term_buffer: 50, base_window: 25, dense: false }
    }
}

impl WindowedSettings {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), SamplerError> {
        if !(self.target_accept > 0.0 && self.target_accept < 1.0) {
            return Err(SamplerError::Setting { name: "target_accept", detail: format!("must be in (0, 1), got {}", self.target_accept) });
        }
        if self.base_window == 0 {
            return Err(SamplerError::Setting { name: "base_window", detail: "must be positive".into() });
        }
        Ok(())
    }
}

/// Welford estimates of the variances (or covariance) of the draws in a window.
#[derive(Clone, Debug)]
pub(crate) struct Welford {
    n: usize,
    mean: Vec<f64>,
    m2: Vec<f64>,
    dense: bool,
}

impl Welford {
    pub(crate) fn new(d: usize, dense: bool) -> Self {
        Self { n: 0, mean: vec![0.0; d], m2: vec![0.0; if dense { d * d } else { d }], dense }
    }
    pub(crate) fn add(&mut self, q: &[f64]) {
        self.n += 1;
        let d = q.len();
        let delta: Vec<f64> = q.iter().zip(&self.mean).map(|(x, m)| x - m).collect();
        for (m, dl) in self.mean.iter_mut().zip(&delta) {
            *m += dl / self.n as f64;
        }
        if self.dense {
            for i in 0..d {
                for j in 0..d {
                    self.m2[i * d + j] += delta[i] * (q[j] - self.mean[j]);
                }
            }
        } else {
            for i in 0..d {
                self.m2[i] += delta[i] * (q[i] - self.mean[i]);
            }
        }
    }
    /// Stan's regularised estimate: `n/(n+5) Σ + 10⁻³ · 5/(n+5) I`.
    pub(crate) fn estimate(&self) -> Option<Metric> {
        let d = self.mean.len();
        let n = self.n as f64;
        if self.n < 2 {
            return None;
        }
        let shrink = |v: f64, diag: bool| (n / (n + 5.0)) * v / (n - 1.0) + if diag { 1e-3 * 5.0 / (n + 5.0) } else { 0.0 };
        if self.dense {
            let cov: Vec<f64> = (0..d * d).map(|k| shrink(self.m2[k], k / d == k % d)).collect();
            Metric::dense(cov, d)
        } else {
            Some(Metric::Diag(self.m2.iter().map(|&v| shrink(v, true)).collect()))
        }
    }
    /// The mean of the draws added since the last restart.
    pub(crate) fn mean(&self) -> &[f64] {
        &self.mean
    }
    pub(crate) fn restart(&mut self) {
        let (d, dense) = (self.mean.len(), self.dense);
        *self = Welford::new(d, dense);
    }
}

/// Stan's windowed adaptation of step size and metric.
#[derive(Clone, Debug)]
pub struct WindowedAdaptation {
    num_warmup: usize,
    init_buffer: usize,
    term_buffer: usize,
    counter: usize,
    window_size: usize,
    next_window: usize,
    estimator: Welford,
    step: DualAveraging,
}

impl WindowedAdaptation {
    /// The schedule for `num_warmup` iterations in dimension `d`. Like Stan, a warmup too short
    /// for the default buffers uses 15% / 75% / 10%.
    pub fn new(settings: WindowedSettings, num_warmup: usize, d: usize) -> Self {
        let (mut init, mut term, mut base) = (settings.init_buffer, settings.term_buffer, settings.base_window);
        if num_warmup >= 20 && init + base + term > num_warmup {
            init = (0.15 * num_warmup as f64) as usize;
            term = (0.1 * num_warmup as f64) as usize;
            base = num_warmup - (init + term);
        }
        let estimator = Welford::new(d, settings.dense);
        let step = DualAveraging::new(settings.target_accept, 1.0);
        Self { num_warmup, init_buffer: init, term_buffer: term, counter: 0, window_size: base, next_window: (init + base).saturating_sub(1), estimator, step }
    }

    /// Stan's start of warmup for a chain at `z`: the schedule for `num_warmup` iterations and,
    /// when there is a warmup, the initial step-size search from `params.step_size`.
    pub fn begin<R: Rng>(settings: WindowedSettings, num_warmup: usize, target: &dyn Target, rng: &mut R, z: &mut Point, params: &mut TransitionParams) -> Result<Self, SamplerError> {
        let mut adapt = Self::new(settings, num_warmup, z.q.len());
        if num_warmup > 0 {
            adapt.init_step_size(target, rng, z, params)?;
        }
        adapt.restart_step_size(params.step_size);
        Ok(adapt)
    }

    /// Sets the dual averaging's shrinkage target to `ln(10 ε)` and restarts it.
    pub fn restart_step_size(&mut self, eps: f64) {
        self.step.restart(eps);
    }

    /// Whether the next [`update`](Self::update) reads the chain's point (to estimate the metric,
    /// or to search the step size at a window's end); otherwise only the acceptance matters.
    pub(crate) fn reads_point(&self) -> bool {
        self.in_window() || self.end_of_window()
    }

    fn in_window(&self) -> bool {
        self.num_warmup >= 20 && self.counter >= self.init_buffer && self.counter < self.num_warmup - self.term_buffer && self.counter != self.num_warmup
    }

    fn end_of_window(&self) -> bool {
        self.num_warmup >= 20 && self.counter == self.next_window && self.counter != self.num_warmup
    }

    fn compute_next_window(&mut self) {
        let last = self.num_warmup - self.term_buffer - 1;
        if self.next_window == last {
            return;
        }
        self.window_size *= 2;
        self.next_window = self.counter + self.window_size;
        if self.next_window != last && self.next_window + 2 * self.window_size >= self.num_warmup - self.term_buffer {
            self.next_window = last;
        }
    }

    /// The metric windows `(first, last)` iteration (0-based, inclusive) this schedule will use,
    /// computed by running the schedule's own bookkeeping without sampling.
    pub fn metric_windows(&self) -> Vec<(usize, usize)> {
        let mut a = self.clone();
        let mut out = Vec::new();
        let mut start = None;
        while a.counter < a.num_warmup {
            if a.in_window() && start.is_none() {
                start = Some(a.counter);
            }
            if a.end_of_window() {
                a.compute_next_window();
                out.push((start.take().unwrap_or(a.counter), a.counter));
            }
            a.counter += 1;
        }
        out
    }

    /// Updates step size and metric after a warmup transition; at the end of warmup the step size
    /// becomes the dual average.
    pub fn update<R: Rng>(&mut self, target: &dyn Target, rng: &mut R, z: &mut Point, params: &mut TransitionParams, accept: f64) -> Result<(), SamplerError> {
        params.step_size = self.step.learn(accept);
        if self.in_window() {
            self.estimator.add(&z.q);
        }
        if self.end_of_window() {
            self.compute_next_window();
            if let Some(m) = self.estimator.estimate() {
                params.metric = m;
            }
            self.estimator.restart();
            self.init_step_size(target, rng, z, params)?;
            self.step.restart(params.step_size);
        }
        self.counter += 1;
        if self.counter == self.num_warmup {
            params.step_size = self.step.final_step_size();
        }
        Ok(())
    }

    /// Stan's heuristic: double or halve the step size until the acceptance of one leapfrog step
    /// crosses 0.8.
    pub fn init_step_size<R: Rng>(&self, target: &dyn Target, rng: &mut R, z: &mut Point, params: &mut TransitionParams) -> Result<(), SamplerError> {
        let start = z.clone();
        let d = z.q.len();
        let mut scratch = vec![0.0; d];
        let log_08 = 0.8f64.ln();
        let mut try_step = |eps: f64, rng: &mut R| -> Result<f64, SamplerError> {
            let mut x = start.clone();
            params.metric.sample_momentum(rng, &mut x.p);
            let h0 = x.hamiltonian(&params.metric);
            x.leapfrog(target, &params.metric, eps, &mut scratch)?;
            Ok(h0 - x.hamiltonian(&params.metric))
        };
        let mut eps = params.step_size;
        let direction = if try_step(eps, rng)? > log_08 { 1.0 } else { -1.0 };
        for _ in 0..100 {
            let dh = try_step(eps, rng)?;
            if (direction > 0.0 && !(dh > log_08)) || (direction < 0.0 && !(dh < log_08)) {
                break;
            }
            eps = if direction > 0.0 { 2.0 * eps } else { 0.5 * eps };
            if eps > 1e7 || eps == 0.0 {
                return Err(SamplerError::Setting { name: "step_size", detail: format!("the step size search diverged to {eps}: the posterior may be improper or the initial point degenerate") });
            }
        }
        params.step_size = eps;
        *z = start;
        Ok(())
    }
}

/// Warmup after a transition of every chain of a group: each chain's windowed adaptation sees its
/// point (copied to the host) and its acceptance.
pub(crate) fn update_rows<A: Rows>(rows: &A, state: &Points<A::Array>, params: &mut [TransitionParams], adapt: &mut [WindowedAdaptation], accept: &[f64], rngs: &mut [rand_chacha::ChaCha8Rng]) -> Result<(), SamplerError> {
    let d = rows.dim();
    // the points travel to the host only for the iterations whose adaptation reads them
    let (q, grad) = if adapt.iter().any(WindowedAdaptation::reads_point) { (rows.download(&state.q), rows.download(&state.grad)) } else { (Vec::new(), Vec::new()) };
    for r in 0..rows.len() {
        let mut z = if q.is_empty() {
            Point { q: Vec::new(), p: Vec::new(), lp: state.lp[r], grad: Vec::new() }
        } else {
            let span = r * d..(r + 1) * d;
            Point { q: q[span.clone()].to_vec(), p: vec![0.0; d], lp: state.lp[r], grad: grad[span].to_vec() }
        };
        adapt[r].update(rows.host_target(), &mut rngs[r], &mut z, &mut params[r], accept[r])?;
    }
    Ok(())
}

/// Starts a group of chains at `positions` (one per row): each at its point with a unit metric,
/// a step size from Stan's initial search when there is a warmup, and its windowed adaptation.
pub(crate) fn begin_rows<A: Rows>(rows: &A, positions: Vec<Vec<f64>>, settings: &WindowedSettings, max_energy_error: f64, warmup: usize, rngs: &mut [rand_chacha::ChaCha8Rng]) -> Result<(Points<A::Array>, Vec<TransitionParams>, Vec<WindowedAdaptation>), SamplerError> {
    if settings.dense && !rows.dense_metrics() {
        return Err(SamplerError::Setting { name: "dense", detail: "this execution applies diagonal metrics only: adapt a diagonal metric (dense = false)".into() });
    }
    let (mut q, mut lp, mut grad, mut params, mut adapt) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (position, rng) in positions.into_iter().zip(rngs.iter_mut()) {
        let d = position.len();
        let mut z = Point::new(rows.host_target(), position)?;
        let mut m = TransitionParams { step_size: 1.0, metric: Metric::unit(d), max_depth: 0, max_energy_error };
        adapt.push(WindowedAdaptation::begin(settings.clone(), warmup, rows.host_target(), rng, &mut z, &mut m)?);
        q.extend(z.q);
        lp.push(z.lp);
        grad.extend(z.grad);
        params.push(m);
    }
    Ok((Points { q: rows.upload(&q), lp, grad: rows.upload(&grad) }, params, adapt))
}

/// The chains' metrics in `rows`' form.
pub(crate) fn metrics<A: Rows>(rows: &A, params: &[TransitionParams]) -> Result<A::Metric, SamplerError> {
    rows.metric(&params.iter().map(|m| m.metric.clone()).collect::<Vec<_>>())
}

/// The [`Chains`](super::execution::Chains) accessors of a group of chains tuned by the windowed
/// warmup (HMC, MALA, Metropolized BAOAB): the chains' count, positions and log densities from
/// their points `self.$points` in `self.rows`, each chain's step size and inverse metric from
/// `self.params`, and the kernel's `STAT_NAMES`.
macro_rules! tuned_chains_accessors {
    ($points:ident) => {
        fn len(&self) -> usize {
            self.rows.len()
        }
        fn positions(&self) -> Vec<Vec<f64>> {
            self.rows.download(&self.$points.q).chunks(self.rows.dim().max(1)).map(<[f64]>::to_vec).collect()
        }
        fn log_densities(&self) -> Vec<f64> {
            self.$points.lp.clone()
        }
        fn stat_names(&self) -> Vec<&'static str> {
            STAT_NAMES.to_vec()
        }
        fn step_size(&self, r: usize) -> f64 {
            self.params[r].step_size
        }
        fn inv_metric(&self, r: usize) -> Vec<f64> {
            self.params[r].metric.to_vec()
        }
    };
}
pub(crate) use tuned_chains_accessors;
