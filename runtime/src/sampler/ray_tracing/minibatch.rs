//! Stochastic gradients for the ray tracing sampler (Behroozi 2025, §2.11.3 and §3.1.2): every gradient
//! evaluation of a trajectory sees a fresh minibatch, `log prior + (N/B)·Σ_{batch} log p(y_i | θ)`
//! ([`Target::logp_grad_minibatch`]), in the order of a [`Batches`] schedule drawn from the chain's random
//! stream. The update is the exact-gradient one fed the noisy gradient, with no friction or noise
//! correction: at constant speed the noise can only turn the ray, not heat it (§2.11.3).
//!
//! The Metropolis test needs exact densities and is off; optionally the spec's threshold rule
//! (§1.10 (c)) rejects a trajectory whose `|ΔlnL − Σ dlnL_pred|`, from the minibatch estimates,
//! exceeds a bound. With [`super::Weighting::Hmc`] the same machinery is static HMC with minibatch
//! gradients (leapfrog, momentum redrawn per trajectory), the comparison the paper makes.

use crate::sampler::minibatch::Order;
use crate::sampler::SamplerError;

/// Minibatch settings of [`super::RayTracing`].
#[derive(Clone, Debug, PartialEq)]
pub struct MinibatchSettings {
    /// Observations per gradient evaluation, between 1 and the number of observations N.
    pub batch_size: usize,
    /// How the batches are drawn (default: a fresh permutation every epoch).
    pub order: Order,
    /// §1.10 (c): reject trajectories whose `|ΔlnL − Σ dlnL_pred|` (minibatch estimates) exceeds
    /// this bound, e.g. a few standard deviations of the minibatch noise in `ln L`; `None` (the
    /// default) keeps every trajectory.
    pub reject_above: Option<f64>,
}

impl MinibatchSettings {
    /// Batches of `batch_size`, shuffled per epoch, every trajectory kept.
    pub fn new(batch_size: usize) -> Self {
        Self { batch_size, order: Order::Shuffled, reject_above: None }
    }

    pub(crate) fn validate(&self) -> Result<(), SamplerError> {
        if self.batch_size == 0 {
            return Err(SamplerError::Setting { name: "batch_size", detail: "must be at least 1".into() });
        }
        if let Some(t) = self.reject_above {
            if !(t > 0.0) {
                return Err(SamplerError::Setting { name: "reject_above", detail: format!("must be positive, got {t}") });
            }
        }
        Ok(())
    }
}
