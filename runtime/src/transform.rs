//! Constraint transforms: from the unconstrained space where samplers move to a parameter's
//! support, with the log absolute Jacobian determinant (Stan's conventions).
//!
//! | support        | constrain(y)                          | log-Jacobian                          |
//! |----------------|---------------------------------------|---------------------------------------|
//! | real           | y                                     | 0                                     |
//! | (a, ∞)         | a + eʸ                                | y                                     |
//! | (−∞, b)        | b − eʸ                                | y                                     |
//! | (a, b)         | a + (b − a)·σ(y)                      | ln(b − a) + ln σ(y) + ln σ(−y)        |
//! | simplex (K)    | stick-breaking of K − 1 values        | Σ ln zₖ + ln(1 − zₖ) + ln(remaining)  |
//! | ordered        | x₁ = y₁, xₖ = xₖ₋₁ + e^{yₖ}            | Σₖ₌₂ yₖ                                |
//! | positive ord.  | x₁ = e^{y₁}, xₖ = xₖ₋₁ + e^{yₖ}        | Σ yₖ                                   |
//!
//! Bounds may be data, constants or other parameters (then they are differentiated through).

use crate::backend::Backend;
use crate::ctx::Ctx;
use crate::dist::Support;
use crate::special::logit;
use crate::value::{concat, Real};

/// Maps unconstrained `y` to the support; returns `(x, log |J|)` with `log |J|` summed per member.
pub(crate) fn constrain<'c, B: Backend>(ctx: &'c Ctx<B>, support: &Support<'c, B>, y: Real<'c, B>, n: usize) -> (Real<'c, B>, Real<'c, B>) {
    match *support {
        Support::Real | Support::Discrete => (y, Real::constant(ctx, 0.0)),
        Support::Lower(a) => (a + y.exp(), y.sum()),
        Support::Upper(b) => (b - y.exp(), y.sum()),
        Support::Interval(a, b) => {
            let width = b - a;
            let x = a + width * y.sigmoid();
            let log_width = if width.len() == 1 { width.ln() * n as f64 } else { width.ln().sum() };
            let lj = (y.log_sigmoid() + (-y).log_sigmoid()).sum() + log_width;
            (x, lj)
        }
        Support::Simplex => simplex(ctx, y, n),
        Support::Ordered => ordered(ctx, y, n),
        Support::PositiveOrdered => positive_ordered(y, n),
    }
}

/// `x₁ = e^{y₁}`, `xₖ = xₖ₋₁ + e^{yₖ}`: a triangular Jacobian with diagonal `e^{yₖ}`.
fn positive_ordered<'c, B: Backend>(y: Real<'c, B>, n: usize) -> (Real<'c, B>, Real<'c, B>) {
    let mut parts = vec![y.at(0).exp()];
    for k in 1..n {
        parts.push(parts[k - 1] + y.at(k).exp());
    }
    (concat(&parts), y.sum())
}

fn ordered<'c, B: Backend>(ctx: &'c Ctx<B>, y: Real<'c, B>, n: usize) -> (Real<'c, B>, Real<'c, B>) {
    if n == 1 {
        return (y, Real::constant(ctx, 0.0));
    }
    // x₁ = y₁, xₖ = xₖ₋₁ + exp(yₖ): the Jacobian is triangular with diagonal (1, e^{y₂}, …).
    let mut parts = vec![y.at(0)];
    for k in 1..n {
        parts.push(parts[k - 1] + y.at(k).exp());
    }
    (concat(&parts), y.slice(1, n).sum())
}

fn simplex<'c, B: Backend>(ctx: &'c Ctx<B>, y: Real<'c, B>, k: usize) -> (Real<'c, B>, Real<'c, B>) {
    let mut parts = Vec::with_capacity(k);
    let mut rem = Real::constant(ctx, 1.0);
    let mut log_rem = Real::constant(ctx, 0.0);
    let mut lj = Real::constant(ctx, 0.0);
    for i in 0..k - 1 {
        // Stan: z_i = σ(y_i − ln(K − 1 − i)) so that y = 0 maps to the uniform simplex.
        let yi = y.at(i) - ((k - 1 - i) as f64).ln();
        let log_z = yi.log_sigmoid();
        let log_1mz = (-yi).log_sigmoid();
        lj = lj + log_z + log_1mz + log_rem;
        parts.push(rem * yi.sigmoid());
        rem = rem * (-yi).sigmoid();
        log_rem = log_rem + log_1mz;
    }
    parts.push(rem);
    (concat(&parts), lj)
}

fn bound_values<B: Backend>(b: Real<'_, B>, n: usize) -> Vec<f64> {
    let h = b.to_host();
    if h.len() == 1 {
        vec![h[0]; n]
    } else {
        h
    }
}

/// The inverse of [`constrain`] on the host (`P = 1`), checking that `x` lies in the support.
pub(crate) fn unconstrain_host<B: Backend>(_ctx: &Ctx<B>, support: &Support<'_, B>, x: &[f64]) -> Result<Vec<f64>, String> {
    let n = x.len();
    if let Some(v) = x.iter().find(|v| !v.is_finite()) {
        return Err(format!("value {v} is not finite"));
    }
    match *support {
        Support::Real | Support::Discrete => Ok(x.to_vec()),
        Support::Lower(a) => {
            let a = bound_values(a, n);
            x.iter().zip(&a).map(|(&x, &a)| if x > a { Ok((x - a).ln()) } else { Err(format!("{x} is not above the lower bound {a}")) }).collect()
        }
        Support::Upper(b) => {
            let b = bound_values(b, n);
            x.iter().zip(&b).map(|(&x, &b)| if x < b { Ok((b - x).ln()) } else { Err(format!("{x} is not below the upper bound {b}")) }).collect()
        }
        Support::Interval(a, b) => {
            let (a, b) = (bound_values(a, n), bound_values(b, n));
            x.iter()
                .zip(a.iter().zip(&b))
                .map(|(&x, (&a, &b))| if x > a && x < b { Ok(logit((x - a) / (b - a))) } else { Err(format!("{x} is not inside ({a}, {b})")) })
                .collect()
        }
        Support::Ordered => {
            if let Some(k) = (1..n).find(|&k| !(x[k] > x[k - 1])) {
                return Err(format!("{x:?} is not increasing (element {k})"));
            }
            Ok((0..n).map(|k| if k == 0 { x[0] } else { (x[k] - x[k - 1]).ln() }).collect())
        }
        Support::PositiveOrdered => {
            if let Some(k) = (0..n).find(|&k| !(x[k] > if k == 0 { 0.0 } else { x[k - 1] })) {
                return Err(format!("{x:?} is not positive and increasing (element {k})"));
            }
            Ok((0..n).map(|k| if k == 0 { x[0].ln() } else { (x[k] - x[k - 1]).ln() }).collect())
        }
        Support::Simplex => {
            let total: f64 = x.iter().sum();
            if x.iter().any(|&v| v <= 0.0) || (total - 1.0).abs() > 1e-8 {
                return Err(format!("{x:?} is not a simplex (positive values summing to 1)"));
            }
            let mut rem = 1.0;
            let mut y = Vec::with_capacity(n - 1);
            for (i, &xi) in x[..n - 1].iter().enumerate() {
                let z = (xi / rem).clamp(f64::MIN_POSITIVE, 1.0 - f64::EPSILON);
                y.push(logit(z) + ((n - 1 - i) as f64).ln());
                rem -= xi;
            }
            Ok(y)
        }
    }
}
