//! [`Chains`]: P chains that step together, what the driver runs.

use crate::sampler::{Chain, Phase, SamplerError};
use rand_chacha::ChaCha8Rng;

/// A group of chains that take their transitions together: one chain on its own thread, or all
/// chains of a run in lockstep (on the host or on a device). Chain `r` of the group draws from
/// `rngs[r]`, its own stream.
pub trait Chains {
    /// Number of chains in the group.
    fn len(&self) -> usize;
    /// Whether the group has no chains.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// One transition of every chain; returns each chain's statistics (in
    /// [`stat_names`](Chains::stat_names) order).
    fn step(&mut self, rngs: &mut [ChaCha8Rng], phase: Phase) -> Result<Vec<Vec<f64>>, SamplerError>;
    /// The chains' current unconstrained positions.
    fn positions(&self) -> Vec<Vec<f64>>;
    /// The log densities at the current positions.
    fn log_densities(&self) -> Vec<f64>;
    /// Names of the statistics, CmdStan style.
    fn stat_names(&self) -> Vec<&'static str>;
    /// Chain `r`'s adapted step size.
    fn step_size(&self, r: usize) -> f64;
    /// Chain `r`'s adapted inverse metric (diagonal, or a dense matrix row-major).
    fn inv_metric(&self, r: usize) -> Vec<f64>;
}

/// One [`Chain`] as a group of one.
pub struct Single<'t>(pub Box<dyn Chain + 't>);

impl Chains for Single<'_> {
    fn len(&self) -> usize {
        1
    }
    fn step(&mut self, rngs: &mut [ChaCha8Rng], phase: Phase) -> Result<Vec<Vec<f64>>, SamplerError> {
        Ok(vec![self.0.step(&mut rngs[0], phase)?])
    }
    fn positions(&self) -> Vec<Vec<f64>> {
        vec![self.0.position().to_vec()]
    }
    fn log_densities(&self) -> Vec<f64> {
        vec![self.0.log_density()]
    }
    fn stat_names(&self) -> Vec<&'static str> {
        self.0.stat_names()
    }
    fn step_size(&self, _r: usize) -> f64 {
        self.0.step_size()
    }
    fn inv_metric(&self, _r: usize) -> Vec<f64> {
        self.0.inv_metric()
    }
}

/// Whether statistics named `names` mark a divergent transition.
pub(crate) fn is_divergent(names: &[&'static str], stats: &[f64]) -> bool {
    names.iter().position(|n| *n == "divergent__").is_some_and(|i| stats[i] != 0.0)
}

opaque_debug!(impl['t] Single<'t>);
