//! Stochastic gradient Langevin dynamics (Welling & Teh 2011): on a minibatch B_t of n of the N
//! observations, `θ ← θ + (ε_t/2)·[∇ln p(θ) + (N/n) Σ_{i∈B_t} ∇ln p(y_i|θ)] + N(0, ε_t I)`, no
//! Metropolis test, with ε_t = a(b + t)^{−γ} (Σε = ∞, Σε² < ∞ for γ ∈ (0.5, 1]) or constant.
//!
//! SGLD runs on targets that offer minibatches ([`Target::observations`]: every `#[model]` with
//! `observations(…)`); each chain draws its batches from its own stream. The transition is a
//! [`Kernel`] over [`Rows`], so threads, [`Lockstep`](super::Lockstep) and
//! [`run_device`](super::run_device) run the same chains. Without a Metropolis test its draws are
//! biased; their warnings say by how much the mean step alone inflates a Gaussian posterior's
//! variance (`1/(1 − ε/4σ²)`; the minibatch noise adds to it).

use super::execution::{normals, Chains, HostRows, Kernel, Rows};
use super::minibatch::{Batches, Order};
use super::{Phase, Sampler, SamplerError};
use crate::target::Target;
use rand_chacha::ChaCha8Rng;

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

const STAT_NAMES: [&str; 2] = ["stepsize__", "divergent__"];

/// The chains of a run: positions and their minibatch gradients as rows, one batch schedule per
/// chain drawn from the chain's stream.
struct SgldChains<A: Rows> {
    rows: A,
    q: A::Array,
    /// The minibatch gradient at `q` on the batch of the next step.
    grad: A::Array,
    lp: Vec<f64>,
    batches: Vec<Batches>,
    schedule: StepSchedule,
    t: usize,
}

impl<A: Rows> Chains for SgldChains<A> {
    fn len(&self) -> usize {
        self.rows.len()
    }
    /// One step `q + (ε/2)·g + √ε·ξ` of every chain, evaluated on the batch of the following step,
    /// so each step costs one evaluation. A step to a non-finite log density or gradient is not
    /// taken: the chain stays, its gradient is evaluated on the new batch, and the step is counted
    /// as divergent.
    fn step(&mut self, rngs: &mut [ChaCha8Rng], _phase: Phase) -> Result<Vec<Vec<f64>>, SamplerError> {
        let p = self.rows.len();
        let eps = self.schedule.at(self.t);
        self.t += 1;
        let next: Vec<Vec<usize>> = self.batches.iter_mut().zip(rngs.iter_mut()).map(|(b, rng)| b.next(rng).to_vec()).collect();
        let noise = normals(&self.rows, eps.sqrt(), None, rngs);
        let mut proposal = self.q.clone();
        self.rows.axpy(&mut proposal, &vec![0.5 * eps; p], &self.grad);
        self.rows.axpy(&mut proposal, &vec![1.0; p], &noise);
        let (lp, grad) = self.rows.evaluate_minibatch(&proposal, &next.iter().map(|b| Some(b.as_slice())).collect::<Vec<_>>())?;
        let take: Vec<bool> = lp.iter().map(|l| l.is_finite()).collect();
        self.rows.select(&take, &mut self.q, &proposal);
        self.rows.select(&take, &mut self.grad, &grad);
        if take.iter().any(|t| !t) {
            let stay: Vec<Option<&[usize]>> = next.iter().zip(&take).map(|(b, t)| (!t).then_some(b.as_slice())).collect();
            let (lp_stay, grad_stay) = self.rows.evaluate_minibatch(&self.q, &stay)?;
            let stayed: Vec<bool> = take.iter().map(|t| !t).collect();
            self.rows.select(&stayed, &mut self.grad, &grad_stay);
            for r in (0..p).filter(|&r| stayed[r]) {
                self.lp[r] = lp_stay[r];
            }
        }
        for r in (0..p).filter(|&r| take[r]) {
            self.lp[r] = lp[r];
        }
        Ok(take.iter().map(|t| vec![eps, f64::from(u8::from(!t))]).collect())
    }
    fn positions(&self) -> Vec<Vec<f64>> {
        self.rows.download(&self.q).chunks(self.rows.dim().max(1)).map(<[f64]>::to_vec).collect()
    }
    /// The minibatch estimates of the log density at the current positions (on the next batch).
    fn log_densities(&self) -> Vec<f64> {
        self.lp.clone()
    }
    fn stat_names(&self) -> Vec<&'static str> {
        STAT_NAMES.to_vec()
    }
    fn step_size(&self, _r: usize) -> f64 {
        self.schedule.at(self.t)
    }
    fn inv_metric(&self, _r: usize) -> Vec<f64> {
        vec![1.0; self.rows.dim()]
    }
}

impl Kernel for Sgld {
    fn start_rows<'a, A: Rows + 'a>(&self, rows: A, positions: Vec<Vec<f64>>, _warmup: usize, rngs: &mut [ChaCha8Rng]) -> Result<Box<dyn Chains + 'a>, SamplerError> {
        self.validate()?;
        let no_batches = || SamplerError::Setting { name: "target", detail: "SGLD needs a likelihood indexed by observation (#[model(observations(…))])".into() };
        let n = rows.observations().ok_or_else(no_batches)?;
        let mut batches = (0..rows.len()).map(|_| Batches::new(n, self.batch_size, self.order)).collect::<Result<Vec<_>, _>>()?;
        let first: Vec<Vec<usize>> = batches.iter_mut().zip(rngs.iter_mut()).map(|(b, rng)| b.next(rng).to_vec()).collect();
        let q = rows.upload(&positions.concat());
        let (lp, grad) = rows.evaluate_minibatch(&q, &first.iter().map(|b| Some(b.as_slice())).collect::<Vec<_>>())?;
        Ok(Box::new(SgldChains { rows, q, grad, lp, batches, schedule: self.schedule, t: 0 }))
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
    fn start_group<'t>(&self, target: &'t dyn Target, positions: Vec<Vec<f64>>, warmup: usize, rngs: &mut [ChaCha8Rng]) -> Result<Box<dyn Chains + 't>, SamplerError> {
        let rows = HostRows::new(target, positions.len());
        self.start_rows(rows, positions, warmup, rngs)
    }
}
