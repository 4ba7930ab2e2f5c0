//! Checks of parameters and observed values that are known before sampling (constants and data),
//! so that a mistake is reported when the model is built, naming the variable.

use super::{ArgKind, Dist, Family};
use crate::backend::Backend;
use crate::ctx::Ctx;
use crate::error::ModelError;

fn is_count(v: f64) -> bool {
    v >= 0.0 && v.fract() == 0.0 && v.is_finite()
}

impl<'c, B: Backend> Dist<'c, B> {
    /// Checks parameters whose values are known (constants, data).
    pub(crate) fn validate(&self, site: &str) -> Result<(), ModelError> {
        let bad = |detail: String| ModelError::InvalidParameter { site: site.to_string(), dist: self.name(), detail };
        for (arg, &(name, kind)) in self.args.iter().zip(self.family.args()) {
            let Some(values) = self.ctx.host_const(*arg) else { continue };
            for &v in values.iter() {
                let ok = match kind {
                    ArgKind::Real => v.is_finite(),
                    ArgKind::Positive => v > 0.0 && v.is_finite(),
                    ArgKind::Probability => (0.0..=1.0).contains(&v),
                    ArgKind::Count => is_count(v),
                };
                if !ok {
                    let need = match kind {
                        ArgKind::Real => "a finite number",
                        ArgKind::Positive => "positive and finite",
                        ArgKind::Probability => "in [0, 1]",
                        ArgKind::Count => "a non-negative integer",
                    };
                    return Err(bad(format!("{name} must be {need}, got {v}")));
                }
            }
        }
        match self.family {
            Family::Uniform => {
                if let (Some(lo), Some(hi)) = (self.ctx.host_const(self.args[0]), self.ctx.host_const(self.args[1])) {
                    let n = lo.len().max(hi.len());
                    for i in 0..n {
                        let (l, h) = (lo[i.min(lo.len() - 1)], hi[i.min(hi.len() - 1)]);
                        if l >= h {
                            return Err(bad(format!("lower ({l}) must be below upper ({h})")));
                        }
                    }
                }
            }
            Family::MultivariateNormal => {
                let l = self.chol.as_ref().expect("Cholesky factor");
                let k = self.args[0].len();
                if l.rows() != l.cols() {
                    return Err(bad(format!("the Cholesky factor must be square, got {}x{}", l.rows(), l.cols())));
                }
                if k != 1 && k != l.rows() {
                    return Err(bad(format!("mu has length {k} but the Cholesky factor is {0}x{0}", l.rows())));
                }
                for i in 0..l.rows() {
                    if !(l.get(i, i) > 0.0) {
                        return Err(bad(format!("the Cholesky factor's diagonal must be positive, L[{i}][{i}] = {}", l.get(i, i))));
                    }
                    for j in i + 1..l.cols() {
                        if l.get(i, j) != 0.0 {
                            return Err(bad(format!("the Cholesky factor must be lower triangular, L[{i}][{j}] = {}", l.get(i, j))));
                        }
                    }
                }
            }
            Family::CategoricalLogitRows => {
                self.logit_rows().map_err(bad)?;
            }
            Family::CategoricalLogit | Family::Dirichlet if self.args[0].len() < 2 => {
                return Err(bad(format!("needs a vector of at least 2 {}", self.family.args()[0].0)));
            }
            _ => {}
        }
        Ok(())
    }

    /// Checks observed values against the support; `Err` describes the first bad value.
    pub(crate) fn check_value(&self, x: &[f64], ctx: &Ctx<B>) -> Result<(), String> {
        if let Some((i, v)) = x.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(format!("element {i} is {v}"));
        }
        let first_bad = |pred: &dyn Fn(usize, f64) -> bool, need: &str| -> Result<(), String> {
            match x.iter().enumerate().find(|&(i, &v)| !pred(i, v)) {
                Some((i, v)) => Err(format!("element {i} is {v}, must be {need}")),
                None => Ok(()),
            }
        };
        let arg = |k: usize| ctx.host_const(self.args[k]);
        match self.family {
            Family::HalfNormal | Family::HalfCauchy | Family::Exponential => first_bad(&|_, v| v >= 0.0, "non-negative"),
            Family::Gamma | Family::InverseGamma | Family::LogNormal => first_bad(&|_, v| v > 0.0, "positive"),
            Family::Beta => first_bad(&|_, v| v > 0.0 && v < 1.0, "in (0, 1)"),
            Family::Uniform => match (arg(0), arg(1)) {
                (Some(lo), Some(hi)) => first_bad(
                    &|i, v| v >= lo[i.min(lo.len() - 1)] && v <= hi[i.min(hi.len() - 1)],
                    "between the bounds",
                ),
                _ => Ok(()),
            },
            Family::Bernoulli | Family::BernoulliLogit => first_bad(&|_, v| v == 0.0 || v == 1.0, "0 or 1"),
            Family::Poisson | Family::PoissonLog => first_bad(&|_, v| is_count(v), "a non-negative integer"),
            Family::BinomialLogit => match arg(0) {
                Some(n) => first_bad(&|i, v| is_count(v) && v <= n[i.min(n.len() - 1)], "an integer in 0..=n"),
                None => first_bad(&|_, v| is_count(v), "a non-negative integer"),
            },
            Family::CategoricalLogit => {
                let k = self.args[0].len() as f64;
                first_bad(&|_, v| is_count(v) && v < k, &format!("a label in 0..{k}"))
            }
            Family::CategoricalLogitRows => self.check_labels(x).map(|_| ()),
            Family::Dirichlet => {
                let k = self.args[0].len();
                let sum: f64 = x.iter().sum();
                if x.len() != k {
                    Err(format!("has length {} but alpha has length {k}", x.len()))
                } else if x.iter().any(|&v| v <= 0.0) || (sum - 1.0).abs() > 1e-8 {
                    Err("must be positive and sum to 1".into())
                } else {
                    Ok(())
                }
            }
            Family::MultivariateNormal => {
                let k = self.event_len().unwrap_or(1);
                if x.len() != k {
                    Err(format!("has length {} but the distribution has dimension {k}", x.len()))
                } else {
                    Ok(())
                }
            }
            Family::Normal | Family::StudentT | Family::Cauchy | Family::Laplace | Family::Flat => Ok(()),
        }
    }
}
