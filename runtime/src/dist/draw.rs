//! Random draws on the host (prior draws and simulated data, `P = 1`).

use super::{Dist, Family, Support};
use crate::backend::Backend;
use crate::ctx::Ctx;
use crate::special::sigmoid;
use rand::Rng;
use rand_distr::Distribution as _;

fn at(v: &[f64], i: usize) -> f64 {
    v[if v.len() == 1 { 0 } else { i }]
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

impl<'c, B: Backend> Dist<'c, B> {
    /// `n` draws (for multivariate families, one draw of length `n`).
    pub(crate) fn draw<R: Rng>(&self, rng: &mut R, n: usize, _ctx: &Ctx<B>) -> Result<Vec<f64>, String> {
        use rand_distr as rd;
        let h: Vec<Vec<f64>> = self.args.iter().map(|a| a.to_host()).collect();
        for (a, &(name, _)) in h.iter().zip(self.family.args()) {
            if a.len() != 1 && a.len() != n && self.event_len().is_none() && !matches!(self.family, Family::CategoricalLogit | Family::CategoricalLogitRows) {
                return Err(format!("{name} has length {} but {n} values are drawn", a.len()));
            }
        }
        let mut out = Vec::with_capacity(n);
        match self.family {
            Family::Dirichlet => return Ok(rd::Dirichlet::new(&h[0]).map_err(err)?.sample(rng)),
            Family::Flat => return Err("Flat() is an improper prior: it has no draws (give the parameter a proper prior to draw from the prior or simulate)".into()),
            Family::MultivariateNormal => {
                let l = self.chol.as_ref().expect("Cholesky factor");
                let z: Vec<f64> = (0..n).map(|_| rng.sample(rd::StandardNormal)).collect();
                return Ok((0..n).map(|i| at(&h[0], i) + (0..=i).map(|j| l.get(i, j) * z[j]).sum::<f64>()).collect());
            }
            Family::CategoricalLogit => {
                let m = h[0].iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let w: Vec<f64> = h[0].iter().map(|&l| (l - m).exp()).collect();
                let d = rd::WeightedIndex::new(&w).map_err(err)?;
                return Ok((0..n).map(|_| d.sample(rng) as f64).collect());
            }
            Family::CategoricalLogitRows => {
                let (k, rows) = self.logit_rows()?;
                if rows != n {
                    return Err(format!("{n} labels are drawn from {rows} rows of {k} logits"));
                }
                let mut out = Vec::with_capacity(n);
                for row in h[0].chunks_exact(k) {
                    let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let w: Vec<f64> = row.iter().map(|&l| (l - m).exp()).collect();
                    out.push(rd::WeightedIndex::new(&w).map_err(err)?.sample(rng) as f64);
                }
                return Ok(out);
            }
            _ => {}
        }
        for i in 0..n {
            let p = |k: usize| at(&h[k], i);
            let v = match self.family {
                Family::Normal => rd::Normal::new(p(0), p(1)).map_err(err)?.sample(rng),
                Family::HalfNormal => rd::Normal::new(0.0, p(0)).map_err(err)?.sample(rng).abs(),
                Family::LogNormal => rd::LogNormal::new(p(0), p(1)).map_err(err)?.sample(rng),
                Family::StudentT => p(1) + p(2) * rd::StudentT::new(p(0)).map_err(err)?.sample(rng),
                Family::Cauchy => rd::Cauchy::new(p(0), p(1)).map_err(err)?.sample(rng),
                Family::HalfCauchy => rd::Cauchy::new(0.0, p(0)).map_err(err)?.sample(rng).abs(),
                Family::Laplace => {
                    let u: f64 = rng.gen::<f64>() - 0.5;
                    p(0) - p(1) * u.signum() * (1.0 - 2.0 * u.abs()).ln()
                }
                Family::Exponential => rd::Exp::new(p(0)).map_err(err)?.sample(rng),
                Family::Gamma => rd::Gamma::new(p(0), 1.0 / p(1)).map_err(err)?.sample(rng),
                Family::InverseGamma => 1.0 / rd::Gamma::new(p(0), 1.0 / p(1)).map_err(err)?.sample(rng),
                Family::Beta => rd::Beta::new(p(0), p(1)).map_err(err)?.sample(rng),
                Family::Uniform => p(0) + (p(1) - p(0)) * rng.gen::<f64>(),
                Family::Bernoulli => f64::from(u8::from(rng.gen_bool(p(0).clamp(0.0, 1.0)))),
                Family::BernoulliLogit => f64::from(u8::from(rng.gen_bool(sigmoid(p(0))))),
                Family::BinomialLogit => rd::Binomial::new(p(0) as u64, sigmoid(p(1))).map_err(err)?.sample(rng) as f64,
                Family::Poisson => poisson(rng, p(0))?,
                Family::PoissonLog => poisson(rng, p(0).exp())?,
                Family::Dirichlet | Family::MultivariateNormal | Family::CategoricalLogit | Family::CategoricalLogitRows | Family::Flat => {
                    unreachable!()
                }
            };
            out.push(v);
        }
        Ok(out)
    }

    /// Draws restricted to `support` (explicit bounds), by rejection.
    pub(crate) fn draw_within<R: Rng>(&self, rng: &mut R, n: usize, support: &Support<'c, B>, ctx: &Ctx<B>) -> Result<Vec<f64>, String> {
        let bounds = |b: &crate::value::Real<'c, B>| b.to_host();
        let (lo, hi) = match support {
            Support::Lower(a) => (bounds(a), vec![f64::INFINITY]),
            Support::Upper(b) => (vec![f64::NEG_INFINITY], bounds(b)),
            Support::Interval(a, b) => (bounds(a), bounds(b)),
            Support::PositiveOrdered => (vec![0.0], vec![f64::INFINITY]),
            _ => return self.draw(rng, n, ctx),
        };
        let mut out = self.draw(rng, n, ctx)?;
        for (i, v) in out.iter_mut().enumerate() {
            let (l, h) = (at(&lo, i), at(&hi, i));
            let mut tries = 0;
            while !(*v > l && *v < h) {
                tries += 1;
                if tries > 10_000 {
                    return Err(format!("the prior puts almost no mass inside ({l}, {h})"));
                }
                *v = self.draw(rng, n, ctx)?[i];
            }
        }
        Ok(out)
    }
}

fn poisson<R: Rng>(rng: &mut R, rate: f64) -> Result<f64, String> {
    if rate == 0.0 {
        return Ok(0.0);
    }
    rand_distr::Poisson::new(rate).map_err(err).map(|d| d.sample(rng))
}
