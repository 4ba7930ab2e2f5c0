//! Stochastic gradient Langevin dynamics (Welling & Teh 2011): on a minibatch B_t of n of the N
//! observations, `θ ← θ + (ε_t/2)·[∇ln p(θ) + (N/n) Σ_{i∈B_t} ∇ln p(y_i|θ)] + N(0, ε_t I)`, no
//! Metropolis test, with ε_t = a(b + t)^{−γ} (Σε = ∞, Σε² < ∞ for γ ∈ (0.5, 1]) or constant.
//!
//! SGLD runs on targets that offer minibatches ([`Target::observations`]: every `#[model]` with
//! `observations(…)`); each chain draws its batches from its own stream.

use super::minibatch::{Batches, Order};
use crate::target::Target;
use super::{Chain, Phase, Sampler, SamplerError};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// The step sizes ε_t.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StepSchedule {
    /// ε_t = ε.
    Constant(f64),
    /// ε_t = a (b + t)^{−γ}, t = 0, 1, … over warmup and sampling.
    Polynomial {
        /// Scale a.
        a: f64,
        /// Offset b.
        b: f64,
        /// Decay exponent γ, in (0.5, 1] for convergence.
        gamma: f64,
    },
}

impl StepSchedule {
    /// ε_t.
    pub fn at(&self, t: usize) -> f64 {
        match *self {
            StepSchedule::Constant(e) => e,
            StepSchedule::Polynomial { a, b, gamma } => a * (b + t as f64).powf(-gamma),
        }
    }
}

/// SGLD settings.
#[derive(Clone, Debug)]
pub struct Sgld {
    /// Observations per minibatch.
    pub batch_size: usize,
    /// How batches are drawn (shuffled epochs).
    pub order: Order,
    /// The step sizes.
    pub schedule: StepSchedule,
}

/// One SGLD step of `q` with step `eps`, `grad` holding the minibatch gradient at `q` on entry;
/// the new point is evaluated on `next_batch`, the batch of the following step, so each step costs
/// one evaluation. On return `grad` holds the gradient on `next_batch` at the (new) `q`, and the
/// minibatch log density there is returned. A step to a non-finite log density or gradient is not
/// taken and reported as divergent (`true`).
pub fn sgld_step<R: Rng>(target: &dyn Target, rng: &mut R, q: &mut [f64], grad: &mut [f64], eps: f64, next_batch: &[usize]) -> Result<(f64, bool), SamplerError> {
    let s = eps.sqrt();
    let new: Vec<f64> = q.iter().zip(grad.iter()).map(|(q, g)| q + 0.5 * eps * g + s * rng.sample::<f64, _>(StandardNormal)).collect();
    let mut g_new = vec![0.0; q.len()];
    let lp = target.logp_grad_minibatch(&new, next_batch, &mut g_new)?;
    if !lp.is_finite() || g_new.iter().any(|g| !g.is_finite()) {
        let lp = target.logp_grad_minibatch(q, next_batch, grad)?;
        return Ok((lp, true));
    }
    q.copy_from_slice(&new);
    grad.copy_from_slice(&g_new);
    Ok((lp, false))
}

const STAT_NAMES: [&str; 2] = ["stepsize__", "divergent__"];

struct SgldChain<'t> {
    target: &'t dyn Target,
    q: Vec<f64>,
    grad: Vec<f64>,
    lp: f64,
    batches: Batches,
    schedule: StepSchedule,
    t: usize,
}

impl Chain for SgldChain<'_> {
    fn step(&mut self, rng: &mut ChaCha8Rng, _phase: Phase) -> Result<Vec<f64>, SamplerError> {
        let eps = self.schedule.at(self.t);
        self.t += 1;
        let next = self.batches.next(rng).to_vec();
        let (lp, divergent) = sgld_step(self.target, rng, &mut self.q, &mut self.grad, eps, &next)?;
        self.lp = lp;
        Ok(vec![eps, f64::from(u8::from(divergent))])
    }
    fn position(&self) -> &[f64] {
        &self.q
    }
    /// The minibatch estimate of the log density at the current position (on the next batch).
    fn log_density(&self) -> f64 {
        self.lp
    }
    fn stat_names(&self) -> Vec<&'static str> {
        STAT_NAMES.to_vec()
    }
    fn step_size(&self) -> f64 {
        self.schedule.at(self.t)
    }
    fn inv_metric(&self) -> Vec<f64> {
        vec![1.0; self.q.len()]
    }
}

impl Sampler for Sgld {
    fn name(&self) -> &'static str {
        "sgld"
    }
    fn validate(&self) -> Result<(), SamplerError> {
        if self.batch_size == 0 {
            return Err(SamplerError::Setting { name: "batch_size", detail: "must be at least 1".into() });
        }
        let ok = match self.schedule {
            StepSchedule::Constant(e) => e > 0.0 && e.is_finite(),
            StepSchedule::Polynomial { a, b, gamma } => a > 0.0 && a.is_finite() && b >= 0.0 && gamma >= 0.0 && (b > 0.0 || gamma == 0.0),
        };
        if !ok {
            return Err(SamplerError::Setting { name: "schedule", detail: format!("{:?}: steps must be positive and finite (a > 0, b > 0, γ ≥ 0)", self.schedule) });
        }
        Ok(())
    }
    fn settings(&self) -> Vec<(String, String)> {
        vec![("engine".into(), "sgld".into()), ("metropolis".into(), "false".into()), ("batch_size".into(), self.batch_size.to_string()), ("schedule".into(), format!("{:?}", self.schedule))]
    }
    fn start<'t>(&self, target: &'t dyn Target, position: Vec<f64>, _warmup: usize, rng: &mut ChaCha8Rng) -> Result<Box<dyn Chain + 't>, SamplerError> {
        let no_batches = || SamplerError::Setting { name: "target", detail: "SGLD needs a likelihood indexed by observation (#[model(observations(…))])".into() };
        let n = target.observations().ok_or_else(no_batches)?;
        let mut batches = Batches::new(n, self.batch_size, self.order)?;
        let mut grad = vec![0.0; position.len()];
        let lp = target.logp_grad_minibatch(&position, batches.next(rng), &mut grad)?;
        let chain = SgldChain { target, q: position, grad, lp, batches, schedule: self.schedule, t: 0 };
        Ok(Box::new(chain))
    }
}
