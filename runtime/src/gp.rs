//! Gaussian-process priors in the model language: the non-centred draw `f = L z` with `L` the
//! Cholesky factor of the squared-exponential covariance of the inputs, differentiable in the
//! amplitude, the length scale and `z` (Stan's `cholesky_decompose(gp_exp_quad_cov(x, α, ρ)) * z`).
//!
//! ```
//! use snell::prelude::*;
//! use snell::gp::exp_quad_cholesky;
//!
//! #[model]
//! fn gp_poisson(x: &[f64], k: &[i64]) {
//!     let rho = sample!(Gamma(25.0, 4.0));
//!     let alpha = sample!(HalfNormal(2.0));
//!     let z = sample!([x.len()] ~ Normal(0.0, 1.0));
//!     let f = deterministic!(exp_quad_cholesky(x, alpha, rho, z, 1e-10));
//!     observe!(k ~ PoissonLog(f));
//! }
//! # fn main() -> Result<(), ModelError> {
//! let m = GpPoisson::new(&[-1.0, 0.0, 1.0], &[3, 5, 2])?;
//! assert_eq!(m.dim(), 5);
//! # Ok(()) }
//! ```

use crate::backend::{Backend, HostFunction};
use crate::value::{concat, Real};
use nalgebra::{DMatrix, DVector};
use std::rc::Rc;

/// `f = L z` for `L L ᵀ = K + jitter·I`, `K_ij = α² exp(−(x_i − x_j)² / (2ρ²))`: a draw of the
/// Gaussian process at the inputs `x` from standard normals `z` (length `x.len()`). The reverse
/// pass differentiates through the Cholesky factorisation (Murray 2016). A covariance that is not
/// positive definite (e.g. α or ρ not finite) gives NaN, which the samplers reject.
pub fn exp_quad_cholesky<'c, B: Backend>(x: &[f64], alpha: Real<'c, B>, rho: Real<'c, B>, z: Real<'c, B>, jitter: f64) -> Real<'c, B> {
    let ctx = alpha.ctx();
    if z.len() != x.len() {
        return ctx.fail(format!("the Gaussian process has {} inputs but `z` has length {}", x.len(), z.len()));
    }
    let input = concat(&[alpha, rho, z]);
    ctx.op_host(input, Rc::new(ExpQuadCholesky { x: x.to_vec(), jitter }))
}

/// The host function of [`exp_quad_cholesky`]: rows `[α, ρ, z₁ … z_N]` to `L z`.
struct ExpQuadCholesky {
    x: Vec<f64>,
    jitter: f64,
}

impl ExpQuadCholesky {
    fn n(&self) -> usize {
        self.x.len()
    }

    /// `K + jitter·I` and its Cholesky factor.
    fn factor(&self, alpha: f64, rho: f64) -> (DMatrix<f64>, Option<DMatrix<f64>>) {
        let n = self.n();
        let k = DMatrix::from_fn(n, n, |i, j| {
            let d = self.x[i] - self.x[j];
            alpha * alpha * (-d * d / (2.0 * rho * rho)).exp() + if i == j { self.jitter } else { 0.0 }
        });
        let l = if alpha.is_finite() && rho.is_finite() && rho != 0.0 { k.clone().cholesky().map(|c| c.l()) } else { None };
        (k, l)
    }
}

impl HostFunction for ExpQuadCholesky {
    fn name(&self) -> String {
        format!("a squared-exponential Gaussian process at {} inputs", self.n())
    }
    fn in_cols(&self) -> usize {
        self.n() + 2
    }
    fn out_cols(&self) -> usize {
        self.n()
    }
    fn forward(&self, w: &[f64], rows: usize) -> Vec<f64> {
        let n = self.n();
        let mut out = Vec::with_capacity(rows * n);
        for row in w.chunks_exact(n + 2).take(rows) {
            match self.factor(row[0], row[1]).1 {
                Some(l) => out.extend((&l * DVector::from_column_slice(&row[2..])).iter()),
                None => out.extend(std::iter::repeat_n(f64::NAN, n)),
            }
        }
        out
    }
    fn vjp(&self, w: &[f64], rows: usize, g: &[f64]) -> Vec<f64> {
        let n = self.n();
        let mut out = Vec::with_capacity(rows * (n + 2));
        for (row, g) in w.chunks_exact(n + 2).zip(g.chunks_exact(n)).take(rows) {
            let (alpha, rho) = (row[0], row[1]);
            let (k, Some(l)) = self.factor(alpha, rho) else {
                out.extend(std::iter::repeat_n(0.0, n + 2));
                continue;
            };
            let z = DVector::from_column_slice(&row[2..]);
            let g = DVector::from_column_slice(g);
            // f = L z: z̄ = Lᵀ ḡ, L̄ = ḡ zᵀ (lower triangle)
            let z_bar = l.transpose() * &g;
            let l_bar = (&g * z.transpose()).lower_triangle();
            // Cholesky's reverse pass: K̄ = sym(L⁻ᵀ Φ(Lᵀ L̄) L⁻¹), Φ = lower triangle, diagonal halved
            let mut p = (l.transpose() * l_bar).lower_triangle();
            for i in 0..n {
                p[(i, i)] *= 0.5;
            }
            let lt = l.transpose();
            let a = lt.solve_upper_triangular(&p).unwrap_or_else(|| DMatrix::zeros(n, n));
            let k_bar_t = lt.solve_upper_triangular(&a.transpose()).unwrap_or_else(|| DMatrix::zeros(n, n));
            let k_bar = (&k_bar_t + k_bar_t.transpose()) * 0.5;
            let (mut d_alpha, mut d_rho) = (0.0, 0.0);
            for i in 0..n {
                for j in 0..n {
                    let kij = k[(i, j)] - if i == j { self.jitter } else { 0.0 };
                    let d = self.x[i] - self.x[j];
                    d_alpha += k_bar[(i, j)] * 2.0 * kij / alpha;
                    d_rho += k_bar[(i, j)] * kij * d * d / (rho * rho * rho);
                }
            }
            out.push(if d_alpha.is_finite() { d_alpha } else { 0.0 });
            out.push(d_rho);
            out.extend(z_bar.iter());
        }
        out
    }
}
