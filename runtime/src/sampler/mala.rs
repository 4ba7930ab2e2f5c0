//! The Metropolis-adjusted Langevin algorithm (Roberts & Tweedie 1996): a Langevin proposal
//! `x' = x + τ M ∇ln π(x) + √(2τ) M^{1/2} ξ` with a diagonal preconditioner M, corrected by a
//! Metropolis–Hastings test with the proposal densities `q(x' | x)`.
//!
//! The kernel ([`Mala`] through [`Kernel`]) moves a group of chains with one batched evaluation
//! per step in every execution, and the tempered particles of [`super::smc`]. MALA is
//! one leapfrog step of HMC with step size ε = √(2τ), so [`Mala`] reuses the windowed warmup
//! (dual averaging towards acceptance 0.574, Roberts & Rosenthal 1998, and a diagonal metric).

use super::adapt::{begin_rows, update_rows, WindowedAdaptation, WindowedSettings};
use super::metric::Metric;
use super::execution::{Chains, HostRows, Kernel, Rows};
use super::phase_space::{Points, TransitionParams};
use crate::target::Target;
use super::{Phase, Sampler, SamplerError};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// What one MALA step did to one point.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MalaInfo {
    /// Metropolis–Hastings acceptance probability.
    pub accept_prob: f64,
    /// Whether the proposal was accepted.
    pub accepted: bool,
    /// Whether the proposal's log density or gradient was not finite (rejected and counted).
    pub divergent: bool,
}

/// One MALA step of every chain of `points`, chain `r` with its step size `ε_r` (τ = ε²/2) and
/// diagonal preconditioner (its metric; `sqrt_metric` holds the square roots): the noise `ξ` of
/// each chain from its own stream, one evaluation of all proposals, a Metropolis–Hastings test per
/// chain. Written once against [`Rows`], so threads, lockstep and devices run this same code.
///
/// With `x' = x + τ M g + √(2τ) M^{1/2} ξ`, the forward proposal density is `−|ξ|²/2` and the
/// reverse one `−|τ M^{1/2}(g + g') + √(2τ) ξ|² / (4τ)` (up to the same constant), so neither
/// needs `M⁻¹`.
pub(crate) fn steps<A: Rows, R: Rng>(rows: &A, points: &mut Points<A::Array>, params: &[TransitionParams], metric: &A::Metric, sqrt_metric: &A::Metric, rngs: &mut [R]) -> Result<Vec<MalaInfo>, SamplerError> {
    let (p, d) = (rows.len(), rows.dim());
    let tau: Vec<f64> = params.iter().map(|m| 0.5 * m.step_size * m.step_size).collect();
    let (mut scaled, mut forward) = (vec![0.0; p * d], vec![0.0; p]);
    for r in 0..p {
        let s = (2.0 * tau[r]).sqrt();
        for x in &mut scaled[r * d..(r + 1) * d] {
            let xi: f64 = rngs[r].sample(StandardNormal);
            forward[r] += xi * xi;
            *x = s * xi;
        }
    }
    let scaled = rows.upload(&scaled);
    let ones = vec![1.0; p];
    let mut prop = points.q.clone();
    rows.axpy(&mut prop, &tau, &rows.velocity(metric, &points.grad));
    rows.axpy(&mut prop, &ones, &rows.velocity(sqrt_metric, &scaled));
    let (lp_new, grad_new) = rows.evaluate(&prop, &ones.iter().map(|_| true).collect::<Vec<_>>())?;
    let mut sum = points.grad.clone();
    rows.axpy(&mut sum, &ones, &grad_new);
    let mut reverse = scaled;
    rows.axpy(&mut reverse, &tau, &rows.velocity(sqrt_metric, &sum));
    let reverse = rows.row_dot(&reverse, &reverse);
    let mut info = Vec::with_capacity(p);
    for r in 0..p {
        let finite = lp_new[r].is_finite();
        let log_ratio = if finite { lp_new[r] - points.lp[r] - reverse[r] / (4.0 * tau[r]) + 0.5 * forward[r] } else { f64::NEG_INFINITY };
        let accept_prob = if log_ratio.is_nan() { 0.0 } else { log_ratio.exp().min(1.0) };
        let accepted = rngs[r].gen::<f64>() < accept_prob;
        info.push(MalaInfo { accept_prob, accepted, divergent: !finite });
    }
    let take: Vec<bool> = info.iter().map(|i| i.accepted).collect();
    points.take(rows, &take, &prop, &lp_new, &grad_new);
    Ok(info)
}

/// MALA with windowed warmup of its step size (dual averaging towards `target_accept`, 0.574 by
/// default) and of a diagonal preconditioner.
#[derive(Clone, Debug)]
pub struct Mala {
    /// Warmup settings; `dense` must be false (the preconditioner is diagonal).
    pub adapt: WindowedSettings,
}

impl Default for Mala {
    fn default() -> Self {
        Self { adapt: WindowedSettings { target_accept: 0.574, ..Default::default() } }
    }
}

/// Names of MALA's per-draw statistics; `stepsize__` is ε with τ = ε²/2.
const STAT_NAMES: [&str; 3] = ["accept_stat__", "stepsize__", "divergent__"];

/// MALA's chains: the kernel over [`Rows`] with each chain's windowed warmup.
struct MalaChains<A: Rows> {
    rows: A,
    points: Points<A::Array>,
    params: Vec<TransitionParams>,
    adapt: Vec<WindowedAdaptation>,
    metric: A::Metric,
    sqrt_metric: A::Metric,
}

impl<A: Rows> MalaChains<A> {
    /// The preconditioners and their square roots in `rows`' form.
    fn metrics(rows: &A, params: &[TransitionParams]) -> Result<(A::Metric, A::Metric), SamplerError> {
        let diag: Vec<Vec<f64>> = params.iter().map(|m| diag(&m.metric)).collect();
        let sqrt: Vec<Metric> = diag.iter().map(|m| Metric::Diag(m.iter().map(|m| m.sqrt()).collect())).collect();
        Ok((rows.metric(&diag.into_iter().map(Metric::Diag).collect::<Vec<_>>())?, rows.metric(&sqrt)?))
    }
}

impl<A: Rows> Chains for MalaChains<A> {
    super::adapt::tuned_chains_accessors!(points);
    fn step(&mut self, rngs: &mut [ChaCha8Rng], phase: Phase) -> Result<Vec<Vec<f64>>, SamplerError> {
        let used: Vec<f64> = self.params.iter().map(|m| m.step_size).collect();
        let info = steps(&self.rows, &mut self.points, &self.params, &self.metric, &self.sqrt_metric, rngs)?;
        if let Phase::Warmup { .. } = phase {
            let accept: Vec<f64> = info.iter().map(|i| i.accept_prob).collect();
            update_rows(&self.rows, &self.points, &mut self.params, &mut self.adapt, &accept, rngs)?;
            (self.metric, self.sqrt_metric) = Self::metrics(&self.rows, &self.params)?;
        }
        Ok(info.iter().zip(used).map(|(i, eps)| vec![i.accept_prob, eps, f64::from(u8::from(i.divergent))]).collect())
    }
}

fn diag(metric: &Metric) -> Vec<f64> {
    match metric {
        Metric::Diag(v) => v.clone(),
        other => vec![1.0; other.dim()],
    }
}

impl Kernel for Mala {
    fn start_rows<'a, A: Rows + 'a>(&self, rows: A, positions: Vec<Vec<f64>>, warmup: usize, rngs: &mut [ChaCha8Rng]) -> Result<Box<dyn Chains + 'a>, SamplerError> {
        let (points, params, adapt) = begin_rows(&rows, positions, &self.adapt, f64::INFINITY, warmup, rngs)?;
        let (metric, sqrt_metric) = MalaChains::metrics(&rows, &params)?;
        Ok(Box::new(MalaChains { rows, points, params, adapt, metric, sqrt_metric }))
    }
}

impl Sampler for Mala {
    fn name(&self) -> &'static str {
        "mala"
    }
    fn validate(&self) -> Result<(), SamplerError> {
        if self.adapt.dense {
            return Err(SamplerError::Setting { name: "dense", detail: "MALA uses a diagonal preconditioner".into() });
        }
        self.adapt.validate()
    }
    fn settings(&self) -> Vec<(String, String)> {
        vec![("engine".into(), "mala".into()), ("metric".into(), "diag_e".into())]
    }
    fn start_group<'t>(&self, target: &'t dyn Target, positions: Vec<Vec<f64>>, warmup: usize, rngs: &mut [ChaCha8Rng]) -> Result<Box<dyn Chains + 't>, SamplerError> {
        let rows = HostRows::new(target, positions.len());
        self.start_rows(rows, positions, warmup, rngs)
    }
}

