//! Phase space for the Hamiltonian samplers (NUTS, static HMC, MALA, the Langevin integrators,
//! the lockstep drivers): a [`Point`] (position, momentum, log density and gradient), its leapfrog
//! step, and the fixed [`TransitionParams`] of one transition. Kept apart from any one sampler so
//! that each of them, and each way of executing their chains, uses the same step.

use super::metric::Metric;
use super::SamplerError;
use crate::target::Target;

/// A point of phase space: position, momentum, log density and its gradient.
#[derive(Clone, Debug)]
pub struct Point {
    /// Position (unconstrained).
    pub q: Vec<f64>,
    /// Momentum.
    pub p: Vec<f64>,
    /// `ln π(q)`.
    pub lp: f64,
    /// `∇ ln π(q)`.
    pub grad: Vec<f64>,
}

impl Point {
    /// The point `q` with zero momentum; evaluates the density.
    pub fn new(target: &dyn Target, q: Vec<f64>) -> Result<Self, SamplerError> {
        let mut grad = vec![0.0; q.len()];
        let lp = target.logp_grad(&q, &mut grad)?;
        Ok(Self { p: vec![0.0; q.len()], q, lp, grad })
    }

    /// Hamiltonian `−ln π(q) + ½ pᵀ M⁻¹ p`; NaN counts as +∞.
    pub fn hamiltonian(&self, metric: &Metric) -> f64 {
        let h = -self.lp + metric.kinetic(&self.p);
        if h.is_nan() {
            f64::INFINITY
        } else {
            h
        }
    }

    /// One leapfrog step of size `eps` (negative to go backwards).
    pub fn leapfrog(&mut self, target: &dyn Target, metric: &Metric, eps: f64, scratch: &mut [f64]) -> Result<(), SamplerError> {
        for (p, g) in self.p.iter_mut().zip(&self.grad) {
            *p += 0.5 * eps * g;
        }
        metric.velocity(&self.p, scratch);
        for (q, v) in self.q.iter_mut().zip(scratch.iter()) {
            *q += eps * v;
        }
        self.lp = target.logp_grad(&self.q, &mut self.grad)?;
        if !self.lp.is_finite() || self.grad.iter().any(|g| !g.is_finite()) {
            self.lp = f64::NEG_INFINITY;
            return Ok(());
        }
        for (p, g) in self.p.iter_mut().zip(&self.grad) {
            *p += 0.5 * eps * g;
        }
        Ok(())
    }
}

/// Fixed parameters of one transition.
#[derive(Clone, Debug)]
pub struct TransitionParams {
    /// Leapfrog step size.
    pub step_size: f64,
    /// Inverse metric.
    pub metric: Metric,
    /// Maximum tree depth: at most `2^max_depth − 1` leapfrog steps.
    pub max_depth: usize,
    /// Energy error above which a trajectory is divergent.
    pub max_energy_error: f64,
}

impl<A: Clone> Points<A> {
    /// Moves the chains with `take[r]` to their proposals (`q`, `lp`, `grad`).
    pub(crate) fn take<R: super::execution::Rows<Array = A>>(&mut self, rows: &R, take: &[bool], q: &A, lp: &[f64], grad: &A) {
        rows.select(take, &mut self.q, q);
        rows.select(take, &mut self.grad, grad);
        for r in (0..take.len()).filter(|&r| take[r]) {
            self.lp[r] = lp[r];
        }
    }
}

/// The current points of a group of chains (see [`Rows`](super::execution::Rows)): positions and
/// gradients as `(P, D)` arrays of the execution, log densities on the host.
pub(crate) struct Points<A> {
    /// Positions, one row per chain.
    pub q: A,
    /// `ln π` per chain.
    pub lp: Vec<f64>,
    /// Gradients, one row per chain.
    pub grad: A,
}
