//! The maximum a posteriori point of a target's log density, by Adam (Kingma & Ba 2015), as the
//! Bayesian neural net workflow initialises its samplers. The point is a mode of the
//! *unconstrained* log density (with the transforms' Jacobian), which is what a sampler starts
//! from: pass it as `RunConfig { init: Some(vec![map.point]), .. }`.
//!
//! Adam ([`crate::optim::Adam`], the optimiser variational inference uses too) rather than a
//! quasi-Newton crate: it needs only the gradient the samplers already use, copes with the
//! stochastic and badly scaled gradients of neural nets, and stops when the gradient's largest
//! entry falls below `tol`.

use crate::target::Target;
use super::SamplerError;

/// Settings of the MAP search with Adam.
#[derive(Clone, Debug)]
pub struct Adam {
    /// Learning rate (0.01).
    pub learning_rate: f64,
    /// Maximum iterations (10 000).
    pub max_steps: usize,
    /// First-moment decay β₁ (0.9).
    pub beta1: f64,
    /// Second-moment decay β₂ (0.999).
    pub beta2: f64,
    /// Denominator offset (10⁻⁸).
    pub epsilon: f64,
    /// Stop when `max |∇ln π| < tol` (10⁻⁶).
    pub tol: f64,
}

impl Default for Adam {
    fn default() -> Self {
        Self { learning_rate: 0.01, max_steps: 10_000, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, tol: 1e-6 }
    }
}

/// The result of [`find_map`].
#[derive(Clone, Debug)]
pub struct MapEstimate {
    /// The point with the highest log density seen (unconstrained).
    pub point: Vec<f64>,
    /// Its log density.
    pub log_density: f64,
    /// Iterations taken.
    pub steps: usize,
    /// Whether the gradient tolerance was reached.
    pub converged: bool,
}

/// Maximises `target`'s log density from `init` with Adam.
pub fn find_map(target: &dyn Target, init: &[f64], adam: &Adam) -> Result<MapEstimate, SamplerError> {
    let bad = |name, detail: String| Err(SamplerError::Setting { name, detail });
    if init.len() != target.dim() {
        return bad("init", format!("has {} values, the target has dimension {}", init.len(), target.dim()));
    }
    if !(adam.learning_rate > 0.0 && adam.learning_rate.is_finite()) {
        return bad("learning_rate", format!("must be positive, got {}", adam.learning_rate));
    }
    if !((0.0..1.0).contains(&adam.beta1) && (0.0..1.0).contains(&adam.beta2)) {
        return bad("beta1", format!("β₁ = {} and β₂ = {} must be in [0, 1)", adam.beta1, adam.beta2));
    }
    let d = init.len();
    let mut x = init.to_vec();
    let mut grad = vec![0.0; d];
    let mut step = crate::optim::Adam::new(adam.learning_rate);
    (step.beta1, step.beta2, step.eps) = (adam.beta1, adam.beta2, adam.epsilon);
    let mut lp = target.logp_grad(&x, &mut grad)?;
    if !lp.is_finite() {
        return Err(SamplerError::Init { chain: 0, tries: 1, detail: format!("log density {lp} at the initial point") });
    }
    let mut best = MapEstimate { point: x.clone(), log_density: lp, steps: 0, converged: false };
    for t in 1..=adam.max_steps {
        if grad.iter().all(|g| g.abs() < adam.tol) {
            best.converged = true;
            best.steps = t - 1;
            return Ok(best);
        }
        step.ascend(&mut x, &grad);
        lp = target.logp_grad(&x, &mut grad)?;
        if !lp.is_finite() || grad.iter().any(|g| !g.is_finite()) {
            return Err(SamplerError::Setting { name: "learning_rate", detail: format!("Adam reached a point with log density {lp} at step {t}: lower the learning rate") });
        }
        if lp > best.log_density {
            best.point.copy_from_slice(&x);
            best.log_density = lp;
        }
        best.steps = t;
    }
    Ok(best)
}
