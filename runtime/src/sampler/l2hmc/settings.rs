//! What the training loop is told and what it reports.

use crate::sampler::SamplerError;

/// Settings of the training loop (the paper's toy-task defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainSettings {
    /// Adam steps (5000).
    pub iterations: usize,
    /// Chains per batch, for the persistent batch and for the burn-in batch (200).
    pub batch: usize,
    /// Adam's learning rate (1e-3).
    pub learning_rate: f64,
    /// The learning rate is multiplied by this every `decay_every` steps (0.96, staircase).
    pub decay: f64,
    /// Steps between decays (1000).
    pub decay_every: usize,
    /// λ² of the loss (0.1, the reference code's `scale`).
    pub scale: f64,
    /// λ_b: weight of the burn-in term on chains fresh from N(0, I) (0: mixing only).
    pub burn_in_weight: f64,
    /// Temperature of the energy at the first step, lowered linearly to 1 at the last (1: none).
    /// Used for the mixture of Gaussians, as in the paper.
    pub anneal_from: f64,
    /// Seed of the chains, momenta and directions.
    pub seed: u64,
    /// Whether the training gradient follows ∇U(x) through the trajectory to first order, with
    /// Hessians from central differences of the gradient (2N extra gradient evaluations per point
    /// and step; exact for quadratic U). Without it ∇U(x) is a constant of the training gradient.
    pub curvature: bool,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self { iterations: 5000, batch: 200, learning_rate: 1e-3, decay: 0.96, decay_every: 1000, scale: 0.1, burn_in_weight: 0.0, anneal_from: 1.0, seed: 0, curvature: true }
    }
}

impl TrainSettings {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), SamplerError> {
        let bad = |name: &'static str, detail: String| Err(SamplerError::Setting { name, detail });
        if self.batch == 0 {
            return bad("batch", "must be at least 1".into());
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad("learning_rate", format!("must be positive and finite, got {}", self.learning_rate));
        }
        if !(self.decay > 0.0 && self.decay <= 1.0) || self.decay_every == 0 {
            return bad("decay", format!("needs 0 < decay ≤ 1 and decay_every ≥ 1, got {} and {}", self.decay, self.decay_every));
        }
        if !(self.scale > 0.0 && self.scale.is_finite()) {
            return bad("scale", format!("must be positive and finite, got {}", self.scale));
        }
        if !(self.burn_in_weight >= 0.0 && self.burn_in_weight.is_finite()) {
            return bad("burn_in_weight", format!("must be non-negative and finite, got {}", self.burn_in_weight));
        }
        if !(self.anneal_from >= 1.0 && self.anneal_from.is_finite()) {
            return bad("anneal_from", format!("must be a finite temperature ≥ 1, got {}", self.anneal_from));
        }
        Ok(())
    }
}

/// What one training step did.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainStats {
    /// The loss of the step.
    pub loss: f64,
    /// Mean acceptance probability of the persistent chains' proposals.
    pub accept: f64,
    /// The step size ε after the step.
    pub step_size: f64,
    /// Whether the update was skipped because the loss was not finite.
    pub skipped: bool,
}

