//! The Metropolis-adjusted Langevin algorithm (Roberts & Tweedie 1996): a Langevin proposal
//! `x' = x + τ M ∇ln π(x) + √(2τ) M^{1/2} ξ` with a diagonal preconditioner M, corrected by a
//! Metropolis–Hastings test with the proposal densities `q(x' | x)`.
//!
//! The kernel ([`Mala`] through [`Kernel`]) moves a group of chains with one batched evaluation
//! per step in every execution; [`population_step`] moves the tempered particles of
//! [`super::smc`]. MALA is
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

/// `ln q(to | from)` up to a constant: `−Σ (to − from − τ M g)² / (4τ M)`.
fn log_q(to: &[f64], from: &[f64], grad_from: &[f64], tau: f64, precond: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..to.len() {
        let r = to[i] - from[i] - tau * precond[i] * grad_from[i];
        s += r * r / precond[i];
    }
    -s / (4.0 * tau)
}

/// One MALA step for every row of the population `q` (row-major `(P, D)`), with log densities
/// `lp`, gradients `grad` and one carried value per point `aux` (e.g. SMC's log likelihood),
/// step `tau` and diagonal preconditioner `precond` (length D). `eval(q, lp, grad, aux)` evaluates
/// a population of proposals in one call. Proposals with a non-finite log density or gradient are
/// rejected and marked divergent.
#[allow(clippy::too_many_arguments)]
pub fn population_step<R: Rng, F>(q: &mut [f64], lp: &mut [f64], grad: &mut [f64], aux: &mut [f64], tau: f64, precond: &[f64], rng: &mut R, mut eval: F) -> Result<Vec<MalaInfo>, SamplerError>
where
    F: FnMut(&[f64], &mut [f64], &mut [f64], &mut [f64]) -> Result<(), SamplerError>,
{
    let p = lp.len();
    let d = precond.len();
    let noise: Vec<f64> = precond.iter().map(|m| (2.0 * tau * m).sqrt()).collect();
    let mut prop = vec![0.0; p * d];
    for j in 0..p {
        for i in 0..d {
            let k = j * d + i;
            let xi: f64 = rng.sample(StandardNormal);
            prop[k] = q[k] + tau * precond[i] * grad[k] + noise[i] * xi;
        }
    }
    let (mut lp_new, mut grad_new, mut aux_new) = (vec![0.0; p], vec![0.0; p * d], vec![0.0; p]);
    eval(&prop, &mut lp_new, &mut grad_new, &mut aux_new)?;
    let mut info = vec![MalaInfo::default(); p];
    for j in 0..p {
        let r = j * d..(j + 1) * d;
        let finite = lp_new[j].is_finite() && grad_new[r.clone()].iter().all(|g| g.is_finite());
        let log_ratio = if finite {
            lp_new[j] - lp[j] + log_q(&q[r.clone()], &prop[r.clone()], &grad_new[r.clone()], tau, precond) - log_q(&prop[r.clone()], &q[r.clone()], &grad[r.clone()], tau, precond)
        } else {
            f64::NEG_INFINITY
        };
        let accept_prob = if log_ratio.is_nan() { 0.0 } else { log_ratio.exp().min(1.0) };
        let accepted = rng.gen::<f64>() < accept_prob;
        if accepted {
            q[r.clone()].copy_from_slice(&prop[r.clone()]);
            grad[r.clone()].copy_from_slice(&grad_new[r]);
            lp[j] = lp_new[j];
            aux[j] = aux_new[j];
        }
        info[j] = MalaInfo { accept_prob, accepted, divergent: !finite };
    }
    Ok(info)
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
    rows.select(&take, &mut points.q, &prop);
    rows.select(&take, &mut points.grad, &grad_new);
    for r in (0..p).filter(|&r| take[r]) {
        points.lp[r] = lp_new[r];
    }
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
    fn len(&self) -> usize {
        self.rows.len()
    }
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
    fn positions(&self) -> Vec<Vec<f64>> {
        self.rows.download(&self.points.q).chunks(self.rows.dim()).map(<[f64]>::to_vec).collect()
    }
    fn log_densities(&self) -> Vec<f64> {
        self.points.lp.clone()
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

