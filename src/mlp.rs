//! A small Bayesian neural network written by hand, as a [`Target`] with minibatches: one input, `H`
//! tanh hidden units, one output, `y ~ N(f(x), σ)` with σ known and N(0, 1) priors on all
//! `3H + 1` weights. The gradient is back-propagated analytically (checked against finite
//! differences in `tests/mlp.rs`), so minibatch samplers can run on it without a model compiler.
//!
//! Parameter layout: `[w₁ (H), b₁ (H), w₂ (H), b₂]`, `f(x) = b₂ + Σ_j w₂ⱼ·tanh(w₁ⱼ·x + b₁ⱼ)`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use snell::error::ModelError;
use snell::target::Target;

/// The network and its data.
#[derive(Clone, Debug)]
pub struct Mlp {
    hidden: usize,
    sigma: f64,
    x: Vec<f64>,
    y: Vec<f64>,
}

impl Mlp {
    /// A network of `hidden` units on data `(x, y)` with noise sd `sigma`.
    pub fn new(hidden: usize, sigma: f64, x: Vec<f64>, y: Vec<f64>) -> Result<Self, ModelError> {
        if x.len() != y.len() {
            return Err(ModelError::Data { name: "y".into(), detail: format!("{} responses for {} inputs", y.len(), x.len()) });
        }
        Ok(Self { hidden, sigma, x, y })
    }

    /// `n` points `x ~ U(−2, 2)`, `y = sin(2x) + N(0, sigma²)`.
    pub fn simulate(hidden: usize, sigma: f64, n: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x: Vec<f64> = (0..n).map(|_| rng.gen_range(-2.0..2.0)).collect();
        let y = x.iter().map(|x| (2.0 * x).sin() + sigma * rng.sample::<f64, _>(StandardNormal)).collect();
        Self { hidden, sigma, x, y }
    }

    /// The network's output at `x` for weights `q`.
    pub fn predict(&self, q: &[f64], x: f64) -> f64 {
        let h = self.hidden;
        q[3 * h] + (0..h).map(|j| q[2 * h + j] * (q[j] * x + q[h + j]).tanh()).sum::<f64>()
    }

    /// `log prior + scale · Σ_{i ∈ obs} log N(y_i | f(x_i), σ)` (without constants) and gradient.
    fn eval(&self, q: &[f64], obs: impl Iterator<Item = usize>, scale: f64, grad: &mut [f64]) -> Result<f64, ModelError> {
        let h = self.hidden;
        if q.len() != 3 * h + 1 {
            return Err(ModelError::Dimension { what: "weights".into(), expected: 3 * h + 1, got: q.len() });
        }
        let mut lp = -0.5 * q.iter().map(|w| w * w).sum::<f64>();
        grad.iter_mut().zip(q).for_each(|(g, w)| *g = -w);
        let mut act = vec![0.0; h];
        let s2 = self.sigma * self.sigma;
        for i in obs {
            let x = self.x[i];
            let mut f = q[3 * h];
            for j in 0..h {
                act[j] = (q[j] * x + q[h + j]).tanh();
                f += q[2 * h + j] * act[j];
            }
            let r = self.y[i] - f;
            lp -= 0.5 * scale * r * r / s2;
            // d lp / d f = scale · r / σ²
            let df = scale * r / s2;
            grad[3 * h] += df;
            for j in 0..h {
                let dz = df * q[2 * h + j] * (1.0 - act[j] * act[j]);
                grad[2 * h + j] += df * act[j];
                grad[j] += dz * x;
                grad[h + j] += dz;
            }
        }
        Ok(lp)
    }
}

impl Target for Mlp {
    fn dim(&self) -> usize {
        3 * self.hidden + 1
    }
    fn logp_grad_batch(&self, q: &[f64], lp: &mut [f64], grad: &mut [f64]) -> Result<(), ModelError> {
        snell::target::logp_grad_rows(self.dim(), q, lp, grad, |q, g| self.logp_grad(q, g))
    }
    fn logp_grad(&self, q: &[f64], grad: &mut [f64]) -> Result<f64, ModelError> {
        self.eval(q, 0..self.y.len(), 1.0, grad)
    }
    fn names(&self) -> Vec<String> {
        let h = self.hidden;
        let name = |p: &str, j: usize| format!("{p}.{}", j + 1);
        (0..h).map(|j| name("w1", j)).chain((0..h).map(|j| name("b1", j))).chain((0..h).map(|j| name("w2", j))).chain(["b2".to_string()]).collect()
    }
    fn output_values(&self, q: &[f64]) -> Result<Vec<f64>, ModelError> {
        Ok(q.to_vec())
    }
    fn init(&self, rng: &mut ChaCha8Rng) -> Vec<f64> {
        (0..self.dim()).map(|_| rng.gen_range(-1.0..1.0)).collect()
    }
    fn observations(&self) -> Option<usize> {
        Some(self.y.len())
    }
    fn logp_grad_minibatch(&self, q: &[f64], batch: &[usize], grad: &mut [f64]) -> Result<f64, ModelError> {
        let n = self.y.len();
        if batch.is_empty() {
            return Err(ModelError::Data { name: "batch".into(), detail: "a minibatch needs at least one observation".into() });
        }
        if let Some(&i) = batch.iter().find(|&&i| i >= n) {
            return Err(ModelError::Data { name: "batch".into(), detail: format!("index {i} out of range for {n} observations") });
        }
        self.eval(q, batch.iter().copied(), n as f64 / batch.len() as f64, grad)
    }
}
