//! The metric of Hamiltonian samplers: kinetic energy `½ pᵀ M⁻¹ p`, momentum draws `p ~ N(0, M)`.

use rand::Rng;
use rand_distr::StandardNormal;

/// A diagonal or dense inverse metric `M⁻¹`.
#[derive(Clone, Debug, PartialEq)]
pub enum Metric {
    /// Diagonal of `M⁻¹`.
    Diag(Vec<f64>),
    /// Dense `M⁻¹` (row-major) with its lower Cholesky factor `L` (`M⁻¹ = L Lᵀ`).
    Dense {
        /// `M⁻¹`, row-major.
        inv: Vec<f64>,
        /// Lower Cholesky factor of `M⁻¹`, row-major.
        chol: Vec<f64>,
    },
}

impl Metric {
    /// The identity of dimension `d` (diagonal).
    pub fn unit(d: usize) -> Self {
        Metric::Diag(vec![1.0; d])
    }

    /// A dense metric from `M⁻¹` (row-major `d × d`); `None` if it has another length or is not
    /// positive definite.
    pub fn dense(inv: Vec<f64>, d: usize) -> Option<Self> {
        if d.checked_mul(d) != Some(inv.len()) {
            return None;
        }
        let chol = cholesky(&inv, d)?;
        Some(Metric::Dense { inv, chol })
    }

    /// Why the metric cannot be used, if it cannot: a diagonal entry that is not positive and
    /// finite (the chain would never move, or move to NaN), or a dense matrix with a non-finite
    /// entry.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Metric::Diag(m) => match m.iter().find(|v| !(**v > 0.0 && v.is_finite())) {
                Some(v) => Err(format!("diagonal entries must be positive and finite, got {v}")),
                None => Ok(()),
            },
            Metric::Dense { inv, .. } => match inv.iter().find(|v| !v.is_finite()) {
                Some(v) => Err(format!("entries must be finite, got {v}")),
                None => Ok(()),
            },
        }
    }

    /// The dimension.
    pub fn dim(&self) -> usize {
        match self {
            Metric::Diag(m) => m.len(),
            Metric::Dense { inv, .. } => (inv.len() as f64).sqrt().round() as usize,
        }
    }

    /// `M⁻¹ p`, written to `out` (the velocity, Stan's `p♯`).
    pub fn velocity(&self, p: &[f64], out: &mut [f64]) {
        match self {
            Metric::Diag(m) => out.iter_mut().zip(m.iter().zip(p)).for_each(|(o, (m, p))| *o = m * p),
            Metric::Dense { inv, .. } => {
                let d = p.len();
                for i in 0..d {
                    out[i] = (0..d).map(|j| inv[i * d + j] * p[j]).sum();
                }
            }
        }
    }

    /// Kinetic energy `½ pᵀ M⁻¹ p`.
    pub fn kinetic(&self, p: &[f64]) -> f64 {
        match self {
            Metric::Diag(m) => 0.5 * m.iter().zip(p).map(|(m, p)| m * p * p).sum::<f64>(),
            Metric::Dense { inv, .. } => {
                let d = p.len();
                0.5 * (0..d).map(|i| p[i] * (0..d).map(|j| inv[i * d + j] * p[j]).sum::<f64>()).sum::<f64>()
            }
        }
    }

    /// Draws `p ~ N(0, M)`.
    pub fn sample_momentum<R: Rng>(&self, rng: &mut R, p: &mut [f64]) {
        match self {
            Metric::Diag(m) => p.iter_mut().zip(m).for_each(|(p, m)| *p = rng.sample::<f64, _>(StandardNormal) / m.sqrt()),
            Metric::Dense { chol, .. } => {
                // M = (L Lᵀ)⁻¹ = L⁻ᵀ L⁻¹: p = L⁻ᵀ z has covariance M.
                let d = p.len();
                let z: Vec<f64> = (0..d).map(|_| rng.sample(StandardNormal)).collect();
                for i in (0..d).rev() {
                    let s: f64 = (i + 1..d).map(|j| chol[j * d + i] * p[j]).sum();
                    p[i] = (z[i] - s) / chol[i * d + i];
                }
            }
        }
    }

    /// `M⁻¹` as a flat vector (diagonal or row-major matrix).
    pub fn to_vec(&self) -> Vec<f64> {
        match self {
            Metric::Diag(m) => m.clone(),
            Metric::Dense { inv, .. } => inv.clone(),
        }
    }
}

/// Lower Cholesky factor of a symmetric positive definite `d × d` matrix (row-major).
pub fn cholesky(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let s: f64 = a[i * d + j] - (0..j).map(|k| l[i * d + k] * l[j * d + k]).sum::<f64>();
            if i == j {
                if !(s > 0.0) {
                    return None;
                }
                l[i * d + i] = s.sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    Some(l)
}
