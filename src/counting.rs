//! [`Counting`]: a target wrapper that counts log density + gradient evaluations, for benchmarks
//! that report ESS per gradient.

use snell::sampler::{MinibatchTarget, Target};
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
    fn constrain(&self, q: &[f64]) -> Result<Vec<f64>, ModelError> {
        self.inner.constrain(q)
    }
    fn init(&self, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
        self.inner.init(rng)
    }
    fn as_minibatch(&self) -> Option<&dyn MinibatchTarget> {
        self.inner.as_minibatch().map(|_| self as &dyn MinibatchTarget)
    }
}

/// Minibatch evaluations count too.
impl<T: Target + ?Sized> MinibatchTarget for Counting<'_, T> {
    fn n_obs(&self) -> Option<usize> {
        self.inner.as_minibatch().and_then(|m| m.n_obs())
    }
    fn logp_grad_minibatch(&self, q: &[f64], batch: &[usize], grad: &mut [f64]) -> Result<f64, ModelError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        match self.inner.as_minibatch() {
            Some(m) => m.logp_grad_minibatch(q, batch, grad),
            None => Err(ModelError::Data { name: "target".into(), detail: "is not indexed by observation".into() }),
        }
    }
}
