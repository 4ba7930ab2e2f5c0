//! The MCMC moves SMC applies to its whole population at once: the MALA and HMC kernels
//! ([`crate::sampler::mala`], [`crate::sampler::hmc`], the ones every sampler execution runs) on
//! the stage's tempered target, one batched evaluation per gradient and a Metropolis–Hastings test
//! per particle, so each leaves that target invariant. Particle `j` of a move draws from its own
//! stream (seeded from the run's), as a chain does.

use crate::error::ModelError;
use crate::sampler::execution::Rows;
use crate::sampler::metric::Metric;
use crate::sampler::phase_space::{Points, TransitionParams};
use crate::sampler::{hmc, mala, SamplerError};
use crate::target::Target;
use rand_chacha::ChaCha8Rng;

/// Which kernel moves the particles between stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Move {
    /// One MALA step per move (the default).
    #[default]
    Mala,
    /// HMC with `leapfrog` steps per move: travels further per gradient than MALA's random walk,
    /// which matters in high dimension.
    Hmc {
        /// Leapfrog steps per move (at least 1; 1 is MALA).
        leapfrog: usize,
    },
}

/// `log prior + weight · log likelihood(obs)`: the target that the moves of a stage leave
/// invariant, through the one seam the kernels evaluate.
pub(crate) struct Tempered<'a, T: ?Sized> {
    pub target: &'a T,
    pub obs: Option<&'a [usize]>,
    pub weight: f64,
}

impl<T: Target + ?Sized> Target for Tempered<'_, T> {
    fn dim(&self) -> usize {
        self.target.dim()
    }
    fn logp_grad_batch(&self, q: &[f64], lp: &mut [f64], grad: &mut [f64]) -> Result<(), ModelError> {
        let parts = self.target.logp_parts(q, self.obs, self.weight, Some(grad))?;
        for (l, (p, ll)) in lp.iter_mut().zip(parts.log_prior.iter().zip(&parts.log_likelihood)) {
            *l = p + self.weight * ll;
        }
        Ok(())
    }
}

impl Move {
    /// One move of every particle of `points` in `rows` (the stage's tempered target, on the
    /// host or a device): step τ (ε = √(2τ)), diagonal preconditioner `precond`, particle `j`
    /// drawing from `rngs[j]`. Returns the mean acceptance and the number of divergent particles.
    pub(crate) fn apply<A: Rows>(self, rows: &A, points: &mut Points<A::Array>, tau: f64, precond: &[f64], rngs: &mut [ChaCha8Rng]) -> Result<(f64, usize), SamplerError> {
        let n = rngs.len();
        // a particle stops where its density is not finite (an infinite energy error), not before
        let params = vec![TransitionParams { step_size: (2.0 * tau).sqrt(), metric: Metric::Diag(precond.to_vec()), max_depth: 0, max_energy_error: f64::MAX }; n];
        let metric = rows.metric(&vec![Metric::Diag(precond.to_vec()); n])?;
        let info: Vec<(f64, bool)> = match self {
            Move::Mala => {
                let sqrt = rows.metric(&vec![Metric::Diag(precond.iter().map(|m| m.sqrt()).collect()); n])?;
                mala::steps(rows, points, &params, &metric, &sqrt, rngs)?.iter().map(|i| (i.accept_prob, i.divergent)).collect()
            }
            Move::Hmc { leapfrog } => hmc::trajectories(rows, points, &params, &metric, leapfrog, rngs)?.iter().map(|i| (i.accept_prob, i.divergent)).collect(),
        };
        Ok((info.iter().map(|i| i.0).sum::<f64>() / n as f64, info.iter().filter(|i| i.1).count()))
    }
}
