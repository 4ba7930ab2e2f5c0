//! [`Counting`]: a target that counts its gradient evaluations, for the benchmarks' gradients per
//! second and ESS per gradient.

use snell::error::ModelError;
use snell::sampler::Target;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts the gradient evaluations of a target's full density (it offers no minibatches).
pub struct Counting<'a, T> {
    inner: &'a T,
    calls: AtomicUsize,
}

impl<'a, T> Counting<'a, T> {
    /// Wraps `inner` with a count of zero.
    pub fn new(inner: &'a T) -> Self {
        Self { inner, calls: AtomicUsize::new(0) }
    }
    /// Gradient evaluations so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }
}

impl<T: Target> Target for Counting<'_, T> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn logp_grad(&self, q: &[f64], grad: &mut [f64]) -> Result<f64, ModelError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.logp_grad(q, grad)
    }
    fn names(&self) -> Vec<String> {
        self.inner.names()
    }
    fn constrain(&self, q: &[f64]) -> Result<Vec<f64>, ModelError> {
        self.inner.constrain(q)
    }
}
