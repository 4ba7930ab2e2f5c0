//! [`Target`]: what samplers need of a log density, one point at a time.

use super::minibatch::MinibatchTarget;
use crate::error::ModelError;
use crate::model::{LogDensity, Model};

/// A log density on unconstrained space, with names and a map to constrained values for output.
/// Implemented for every [`Model`] and for [`FnDensity`] (hand-written densities).
pub trait Target: Sync {
    /// Dimension D of the unconstrained space.
    fn dim(&self) -> usize;
    /// `ln p(q)` and its gradient (written to `grad`).
    fn logp_grad(&self, q: &[f64], grad: &mut [f64]) -> Result<f64, ModelError>;
    /// `ln p(q)` alone, for samplers that need no gradient (random-walk Metropolis). By default
    /// [`Target::logp_grad`] with the gradient thrown away; models evaluate without a tape.
    fn logp(&self, q: &[f64]) -> Result<f64, ModelError> {
        let mut grad = vec![0.0; q.len()];
        self.logp_grad(q, &mut grad)
    }
    /// Names of the constrained values, Stan style.
    fn names(&self) -> Vec<String>;
    /// Constrained values of an unconstrained point (in [`Target::names`] order).
    fn constrain(&self, q: &[f64]) -> Result<Vec<f64>, ModelError>;
    /// An initial point; by default Stan's uniform(−2, 2).
    fn init(&self, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
        use rand::Rng;
        (0..self.dim()).map(|_| rng.gen_range(-2.0..2.0)).collect()
    }
    /// The target as a [`MinibatchTarget`], when it can be evaluated on subsets of its
    /// observations: lets stochastic-gradient samplers (ray tracing with minibatches, SGLD) run
    /// through the common [`super::run`]. `None` by default; every [`Model`] returns itself.
    fn as_minibatch(&self) -> Option<&dyn MinibatchTarget> {
        None
    }
}

impl<M: Model> Target for M {
    fn dim(&self) -> usize {
        LogDensity::dim(self)
    }
    fn logp_grad(&self, q: &[f64], grad: &mut [f64]) -> Result<f64, ModelError> {
        let mut lp = [0.0];
        self.log_density_grad_batch(q, &mut lp, grad)?;
        Ok(lp[0])
    }
    fn logp(&self, q: &[f64]) -> Result<f64, ModelError> {
        self.log_density(q)
    }
    fn names(&self) -> Vec<String> {
        self.layout().output_names()
    }
    fn constrain(&self, q: &[f64]) -> Result<Vec<f64>, ModelError> {
        self.constrain_outputs(q)
    }
    fn as_minibatch(&self) -> Option<&dyn MinibatchTarget> {
        Some(self)
    }
}

/// A hand-written log density: a closure `f(q, grad) -> ln p(q)` on unconstrained values, which are
/// also the output values (named `x.1`, `x.2`, …). Used for targets like Neal's funnel or the banana.
pub struct FnDensity<F> {
    dim: usize,
    f: F,
    names: Vec<String>,
}

impl<F: Fn(&[f64], &mut [f64]) -> f64 + Sync> FnDensity<F> {
    /// A density of dimension `dim`.
    pub fn new(dim: usize, f: F) -> Self {
        Self { dim, f, names: (1..=dim).map(|i| format!("x.{i}")).collect() }
    }
    /// Names the coordinates.
    pub fn with_names(mut self, names: Vec<String>) -> Self {
        self.names = names;
        self
    }
}

impl<F: Fn(&[f64], &mut [f64]) -> f64 + Sync> Target for FnDensity<F> {
    fn dim(&self) -> usize {
        self.dim
    }
    fn logp_grad(&self, q: &[f64], grad: &mut [f64]) -> Result<f64, ModelError> {
        if q.len() != self.dim {
            return Err(ModelError::Dimension { what: "values".into(), expected: self.dim, got: q.len() });
        }
        Ok((self.f)(q, grad))
    }
    fn names(&self) -> Vec<String> {
        self.names.clone()
    }
    fn constrain(&self, q: &[f64]) -> Result<Vec<f64>, ModelError> {
        Ok(q.to_vec())
    }
}
