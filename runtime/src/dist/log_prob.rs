//! Log densities, written once on [`Real`] so that they run on any backend, with gradients in the
//! value and every parameter.

use super::{ArgKind, Dist, Family, Support};
use crate::backend::Backend;
use crate::data::Matrix;
use crate::special;
use crate::value::Real;
use std::f64::consts::{LN_2, PI};

/// `½ ln 2π`
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

fn normal<'c, B: Backend>(x: Real<'c, B>, mu: Real<'c, B>, sigma: Real<'c, B>) -> Real<'c, B> {
    let z = (x - mu) / sigma;
    -0.5 * z.square() - sigma.ln() - HALF_LN_2PI
}

fn cauchy<'c, B: Backend>(x: Real<'c, B>, mu: Real<'c, B>, sigma: Real<'c, B>) -> Real<'c, B> {
    let z = (x - mu) / sigma;
    -z.square().ln_1p() - sigma.ln() - PI.ln()
}

impl<'c, B: Backend> Dist<'c, B> {
    /// Log density (or mass) of `x`: element-wise for element-wise families (broadcasting `x` and
    /// the parameters), one value per population member for multivariate ones.
    pub fn log_prob(&self, x: Real<'c, B>) -> Real<'c, B> {
        let a = &self.args;
        let lp = match self.family {
            Family::Normal => normal(x, a[0], a[1]),
            Family::HalfNormal => normal(x, Real::constant(self.ctx, 0.0), a[0]) + LN_2,
            Family::LogNormal => {
                let lx = x.ln();
                normal(lx, a[0], a[1]) - lx
            }
            Family::StudentT => {
                let (nu, mu, sigma) = (a[0], a[1], a[2]);
                let z = (x - mu) / sigma;
                let half_nu1 = (nu + 1.0) * 0.5;
                half_nu1.lgamma() - (nu * 0.5).lgamma() - 0.5 * (nu * PI).ln() - sigma.ln() - half_nu1 * (z.square() / nu).ln_1p()
            }
            Family::Cauchy => cauchy(x, a[0], a[1]),
            Family::Flat => x * 0.0,
            Family::HalfCauchy => cauchy(x, Real::constant(self.ctx, 0.0), a[0]) + LN_2,
            Family::Laplace => -(x - a[0]).abs() / a[1] - a[1].ln() - LN_2,
            Family::Exponential => a[0].ln() - a[0] * x,
            Family::Gamma => {
                let (alpha, beta) = (a[0], a[1]);
                alpha * beta.ln() - alpha.lgamma() + (alpha - 1.0) * x.ln() - beta * x
            }
            Family::InverseGamma => {
                let (alpha, beta) = (a[0], a[1]);
                alpha * beta.ln() - alpha.lgamma() - (alpha + 1.0) * x.ln() - beta / x
            }
            Family::Beta => {
                let (p, q) = (a[0], a[1]);
                (p - 1.0) * x.ln() + (q - 1.0) * (-x).ln_1p() + (p + q).lgamma() - p.lgamma() - q.lgamma()
            }
            Family::Uniform => {
                let (lo, hi) = (a[0], a[1]);
                let lp = -(hi - lo).ln() + x * 0.0;
                let lp = self.ctx.guard(lp, x - lo, 0.0, f64::INFINITY, true);
                self.ctx.guard(lp, hi - x, 0.0, f64::INFINITY, true)
            }
            Family::Bernoulli => {
                // k ∈ {0, 1}: ln(k p + (1 − k)(1 − p)) is ln p or ln(1 − p), with no 0 · ∞.
                let p = a[0];
                (x * p + (1.0 - x) * (1.0 - p)).ln()
            }
            Family::BernoulliLogit => x * a[0] - a[0].softplus(),
            Family::BinomialLogit => {
                let (n, eta) = (a[0], a[1]);
                let log_choose = self.host_fn2(n, x, special::ln_choose);
                log_choose + x * eta - n * eta.softplus()
            }
            Family::Poisson => x * a[0].ln() - a[0] - (x + 1.0).lgamma(),
            Family::PoissonLog => x * a[0] - a[0].exp() - (x + 1.0).lgamma(),
            Family::CategoricalLogit => {
                let logits = a[0];
                let labels: Vec<usize> = x.to_host().iter().map(|&k| k as usize).collect();
                logits.gather(&labels) - logits.log_sum_exp()
            }
            Family::CategoricalLogitRows => self.log_prob_rows(x),
            Family::Dirichlet => {
                let alpha = a[0];
                let terms = (alpha - 1.0) * x.ln() - alpha.lgamma();
                let terms = self.ctx.guard(terms, alpha, 0.0, f64::INFINITY, false);
                // ln Γ(Σα) is +∞ or NaN where Σα ≤ 0: guard it too, or −∞ + ∞ = NaN.
                let total = alpha.sum();
                return terms.sum() + self.ctx.guard(total.lgamma(), total, 0.0, f64::INFINITY, false);
            }
            Family::MultivariateNormal => {
                let l = self.chol.as_ref().expect("MultivariateNormal has a Cholesky factor");
                let k = l.rows();
                let linv_t = l.lower_inverse().transpose();
                let z = (x - a[0]).matmul(&linv_t);
                let log_det: f64 = (0..k).map(|i| l.get(i, i).ln()).sum();
                return -0.5 * z.square().sum() - log_det - k as f64 * HALF_LN_2PI;
            }
        };
        self.guard_args(lp)
    }

    /// `−∞` where a parameter is invalid (skipped where the parameter's range proves it valid).
    fn guard_args(&self, mut lp: Real<'c, B>) -> Real<'c, B> {
        for (arg, &(_, kind)) in self.args.iter().zip(self.family.args()) {
            lp = match kind {
                ArgKind::Positive => self.ctx.guard(lp, *arg, 0.0, f64::INFINITY, false),
                ArgKind::Probability => self.ctx.guard(lp, *arg, 0.0, 1.0, true),
                ArgKind::Real | ArgKind::Count => lp,
            };
        }
        lp
    }

    /// `−∞` where `x` is outside the family's own support: needed when explicit bounds replace the
    /// support (e.g. `Exponential` with `lower = -1`).
    pub(crate) fn guard_value(&self, lp: Real<'c, B>, x: Real<'c, B>) -> Real<'c, B> {
        match self.support() {
            Support::Lower(_) => {
                // Gamma, InverseGamma and LogNormal live on (0, ∞) (as `check_value` says); their
                // formulas are NaN at x = 0, where the density is 0.
                let open = matches!(self.family, Family::Gamma | Family::InverseGamma | Family::LogNormal);
                self.ctx.guard(lp, x, 0.0, f64::INFINITY, !open)
            }
            Support::Interval(lo, hi) if self.family == Family::Beta => {
                let _ = (lo, hi);
                self.ctx.guard(lp, x, 0.0, 1.0, true)
            }
            _ => lp,
        }
    }

    /// `f(a, b)` element-wise on host constants (data), e.g. `ln C(n, k)`.
    fn host_fn2(&self, a: Real<'c, B>, b: Real<'c, B>, f: fn(f64, f64) -> f64) -> Real<'c, B> {
        let (ha, hb) = (a.to_host(), b.to_host());
        if ha.len() != hb.len() && ha.len() != 1 && hb.len() != 1 {
            return self.ctx.fail(format!("{} values against {} observations: give one value or one per observation", ha.len(), hb.len()));
        }
        let n = ha.len().max(hb.len());
        let v: Vec<f64> = (0..n).map(|i| f(ha[if ha.len() == 1 { 0 } else { i }], hb[if hb.len() == 1 { 0 } else { i }])).collect();
        if v.len() == 1 {
            Real::constant(self.ctx, v[0])
        } else {
            self.ctx.data(v)
        }
    }
}

impl Matrix {
    /// Inverse of a lower-triangular matrix (forward substitution).
    pub(crate) fn lower_inverse(&self) -> Matrix {
        let k = self.rows();
        let mut inv = vec![0.0; k * k];
        for col in 0..k {
            for i in col..k {
                let mut s = if i == col { 1.0 } else { 0.0 };
                for j in col..i {
                    s -= self.get(i, j) * inv[j * k + col];
                }
                inv[i * k + col] = s / self.get(i, i);
            }
        }
        Matrix::new(k, k, inv).expect("square")
    }
}
