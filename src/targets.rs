//! Hand-written test densities shared by the ray-tracing tests and examples.

use snell::sampler::FnDensity;

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
