//! [`Counting`]: a target wrapper that counts log density + gradient evaluations, for benchmarks
//! that report ESS per gradient.

use snell::target::Target;
use snell::ModelError;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts evaluations of the wrapped target (from any number of threads).
pub struct Counting<'a, T: ?Sized> {
    inner: &'a T,
    calls: AtomicUsize,
}

impl<'a, T: Target + ?Sized> Counting<'a, T> {
    /// Wraps `inner` with a count of zero.
    pub fn new(inner: &'a T) -> Self {
        Self { inner, calls: AtomicUsize::new(0) }
    }
    /// Evaluations so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }
}

impl<T: Target + ?Sized> Target for Counting<'_, T> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn logp_grad_batch(&self, q: &[f64], lp: &mut [f64], grad: &mut [f64]) -> Result<(), ModelError> {
        // One evaluation per member of the population.
        self.calls.fetch_add(lp.len(), Ordering::Relaxed);
        self.inner.logp_grad_batch(q, lp, grad)
    }
    fn logp_grad(&self, q: &[f64], grad: &mut [f64]) -> Result<f64, ModelError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.logp_grad(q, grad)
    }
    /// A density evaluation without gradient counts as one evaluation too.
    fn logp(&self, q: &[f64]) -> Result<f64, ModelError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.logp(q)
    }
    fn names(&self) -> Vec<String> {
        self.inner.names()
    }
    fn output_values(&self, q: &[f64]) -> Result<Vec<f64>, ModelError> {
        self.inner.output_values(q)
    }
    fn init(&self, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
        self.inner.init(rng)
    }
    fn observations(&self) -> Option<usize> {
        self.inner.observations()
    }
    fn logp_grad_minibatch(&self, q: &[f64], batch: &[usize], grad: &mut [f64]) -> Result<f64, ModelError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.logp_grad_minibatch(q, batch, grad)
    }
}
