//! Hand-written densities shared by the ray-tracing tests and examples.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use snell::error::ModelError;
use snell::target::{FnDensity, Target};

/// The 2-D Gaussian mixture of the ray-tracing paper's Figure 1:
/// `L(x) = [exp(−½(x₁−2)²) + exp(−½(x₁+2)²)]·exp(−½x₂²)`, two unit-variance modes at x₁ = ±2
/// with equal weight and a barrier at x₁ = 0 where `L` drops to `2e⁻²` of the maximum (×0.27).
pub fn figure1_mixture() -> FnDensity<impl Fn(&[f64], &mut [f64]) -> f64 + Sync> {
    FnDensity::new(2, |q: &[f64], g: &mut [f64]| {
        // log-sum-exp of the two modes, stable far from both
        let (a, b) = (-0.5 * (q[0] - 2.0).powi(2), -0.5 * (q[0] + 2.0).powi(2));
        let m = a.max(b);
        let (ea, eb) = ((a - m).exp(), (b - m).exp());
        let lse = m + (ea + eb).ln();
        // d/dx₁ = Σ w_k·(μ_k − x₁) with weights w_k ∝ e^{a_k}
        g[0] = (ea * (2.0 - q[0]) + eb * (-2.0 - q[0])) / (ea + eb);
        g[1] = -q[1];
        lse - 0.5 * q[1] * q[1]
    })
}

/// A smooth non-Gaussian density in `d` dimensions: an anisotropic quadratic (curvatures 1 … 3),
/// a quartic and a coupling term, `ln L = −Σ(½ s_i x_i² + 0.05 x_i⁴) − 0.01 (Σ x_i)²`.
pub fn quartic(d: usize) -> FnDensity<impl Fn(&[f64], &mut [f64]) -> f64 + Sync> {
    FnDensity::new(d, move |q: &[f64], g: &mut [f64]| {
        let c: f64 = q.iter().sum();
        let mut lp = -0.01 * c * c;
        for i in 0..q.len() {
            let s = 1.0 + (i % 5) as f64 * 0.5;
            lp -= 0.5 * s * q[i] * q[i] + 0.05 * q[i].powi(4);
            g[i] = -s * q[i] - 0.2 * q[i].powi(3) - 0.02 * c;
        }
        lp
    })
}

/// The ray-tracing paper's stochastic-gradient toy (Eq. 34): N(0, I) in `dim` dimensions whose
/// minibatch evaluations are `ln L_sto(x) = −½|x − R|²` with a fresh offset `R ~ N(0, σ²I)`, an
/// unbiased gradient with noise σ per coordinate. The "observations" are 2²² offset seeds: a batch
/// of one, drawn with replacement ([`snell::sampler::Order::WithReplacement`]), picks the offset.
/// The full density is the noise-free one.
pub struct NoisyGaussian {
    dim: usize,
    sigma: f64,
}

impl NoisyGaussian {
    /// Number of distinct offsets.
    pub const N_OFFSETS: usize = 1 << 22;

    /// `dim` dimensions, gradient noise `sigma` per coordinate.
    pub fn new(dim: usize, sigma: f64) -> Self {
        Self { dim, sigma }
    }
}

impl Target for NoisyGaussian {
    fn dim(&self) -> usize {
        self.dim
    }
    fn logp_grad_batch(&self, q: &[f64], lp: &mut [f64], grad: &mut [f64]) -> Result<(), ModelError> {
        snell::target::logp_grad_rows(self.dim(), q, lp, grad, |q, g| self.logp_grad(q, g))
    }
    fn logp_grad(&self, q: &[f64], grad: &mut [f64]) -> Result<f64, ModelError> {
        grad.iter_mut().zip(q).for_each(|(g, q)| *g = -q);
        Ok(-0.5 * q.iter().map(|x| x * x).sum::<f64>())
    }
    fn names(&self) -> Vec<String> {
        (1..=self.dim).map(|i| format!("x.{i}")).collect()
    }
    fn output_values(&self, q: &[f64]) -> Result<Vec<f64>, ModelError> {
        Ok(q.to_vec())
    }
    fn observations(&self) -> Option<usize> {
        Some(Self::N_OFFSETS)
    }
    fn logp_grad_minibatch(&self, q: &[f64], batch: &[usize], grad: &mut [f64]) -> Result<f64, ModelError> {
        let seed = batch.first().ok_or_else(|| ModelError::Data { name: "batch".into(), detail: "a minibatch needs at least one observation".into() })?;
        let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0000_0000 ^ *seed as u64);
        let mut lp = 0.0;
        for (g, x) in grad.iter_mut().zip(q) {
            let r: f64 = StandardNormal.sample(&mut rng);
            let z = x - self.sigma * r;
            *g = -z;
            lp -= 0.5 * z * z;
        }
        Ok(lp)
    }
}
