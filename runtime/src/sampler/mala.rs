//! The Metropolis-adjusted Langevin algorithm (Roberts & Tweedie 1996): a Langevin proposal
//! `x' = x + τ M ∇ln π(x) + √(2τ) M^{1/2} ξ` with a diagonal preconditioner M, corrected by a
//! Metropolis–Hastings test with the proposal densities `q(x' | x)`.
//!
//! [`population_step`] moves a whole population of points with one batched evaluation per step;
//! the chains of [`Mala`] (one point each) and the moves of [`super::smc`] both use it. MALA is
//! one leapfrog step of HMC with step size ε = √(2τ), so [`Mala`] reuses the windowed warmup
//! (dual averaging towards acceptance 0.574, Roberts & Rosenthal 1998, and a diagonal metric).

use super::adapt::{WindowedAdaptation, WindowedSettings};
use super::metric::Metric;
use super::phase_space::{Point, TransitionParams};
use crate::target::Target;
use super::{Chain, Phase, Sampler, SamplerError};
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

/// One MALA step of a single point `z` with step `tau` and diagonal preconditioner `precond`.
pub fn transition<R: Rng>(target: &dyn Target, rng: &mut R, z: &mut Point, tau: f64, precond: &[f64]) -> Result<MalaInfo, SamplerError> {
    let mut aux = [0.0];
    let info = population_step(&mut z.q, std::slice::from_mut(&mut z.lp), &mut z.grad, &mut aux, tau, precond, rng, |q, lp, g, _| {
        lp[0] = target.logp_grad(q, g)?;
        Ok(())
    })?;
    Ok(info[0])
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

struct MalaChain<'t> {
    target: &'t dyn Target,
    z: Point,
    params: TransitionParams,
    adapt: WindowedAdaptation,
}

fn diag(metric: &Metric) -> Vec<f64> {
    match metric {
        Metric::Diag(v) => v.clone(),
        other => vec![1.0; other.dim()],
    }
}

impl Chain for MalaChain<'_> {
    fn step(&mut self, rng: &mut ChaCha8Rng, phase: Phase) -> Result<Vec<f64>, SamplerError> {
        let eps = self.params.step_size;
        let info = transition(self.target, rng, &mut self.z, 0.5 * eps * eps, &diag(&self.params.metric))?;
        if let Phase::Warmup { .. } = phase {
            self.adapt.update(self.target, rng, &mut self.z, &mut self.params, info.accept_prob)?;
        }
        Ok(vec![info.accept_prob, eps, f64::from(u8::from(info.divergent))])
    }
    fn position(&self) -> &[f64] {
        &self.z.q
    }
    fn log_density(&self) -> f64 {
        self.z.lp
    }
    fn stat_names(&self) -> Vec<&'static str> {
        STAT_NAMES.to_vec()
    }
    fn step_size(&self) -> f64 {
        self.params.step_size
    }
    fn inv_metric(&self) -> Vec<f64> {
        self.params.metric.to_vec()
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
    fn start<'t>(&self, target: &'t dyn Target, position: Vec<f64>, warmup: usize, rng: &mut ChaCha8Rng) -> Result<Box<dyn Chain + 't>, SamplerError> {
        let d = position.len();
        let mut z = Point::new(target, position)?;
        let mut params = TransitionParams { step_size: 1.0, metric: Metric::unit(d), max_depth: 0, max_energy_error: f64::INFINITY };
        let adapt = WindowedAdaptation::begin(self.adapt.clone(), warmup, target, rng, &mut z, &mut params)?;
        Ok(Box::new(MalaChain { target, z, params, adapt }))
    }
}
