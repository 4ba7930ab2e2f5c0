//! Mean-field Gaussian variational inference (Kucukelbir et al. 2017, *Automatic differentiation
//! variational inference*): the baseline that sampling is compared against.
//!
//! On the unconstrained space, q(θ) = Π N(θᵢ; μᵢ, σᵢ²) with σ = e^ω. The ELBO
//! `E_q[ln p(θ)] + Σ ωᵢ + D/2·(1 + ln 2π)` is climbed with [`Adam`] from reparameterised gradients
//! (θ = μ + σ ⊙ ε, ε ~ N(0, I)): `∇_μ = ∇ln p(θ)`, `∇_ω = ∇ln p(θ) ⊙ ε ⊙ σ + 1`. The estimates
//! reported are the averages of μ and ω over the last part of the run (Polyak averaging), which
//! removes most of the jitter that a constant learning rate leaves.
//!
//! What to expect: for a Gaussian posterior the mean-field means are exact and the variances are
//! `1/diag(precision)` — too small when the posterior is correlated. [`VariationalFit::draws`] gives
//! draws of q in the same [`Draws`] type as the samplers, so every diagnostic and plot applies.
//!
//! ```no_run
//! use snell::prelude::*;
//! use snell::vi::MeanFieldVi;
//!
//! #[model]
//! fn normal_mean(y: &[f64]) {
//!     let mu = sample!(Normal(0.0, 10.0));
//!     observe!(y ~ Normal(mu, 1.0));
//! }
//!
//! let model = NormalMean::new(&[0.9, 1.4, 0.7, 1.1]).unwrap();
//! let fit = MeanFieldVi::default().fit(&model, 42).unwrap();
//! println!("q: mean {:?}, sd {:?}, final ELBO {:.3}", fit.mean, fit.sd, fit.elbo());
//! for w in fit.warnings(&model) {
//!     println!("warning: {w}");
//! }
//! let draws = fit.draws(&model, 4, 1000, 7).unwrap();
//! println!("{}", draws.summary());
//! ```

use crate::optim::Adam;
use crate::sampler::{chain_rng, ChainDraws, Draws, SamplerError};
use crate::target::Target;
use rand_distr::{Distribution, StandardNormal};

/// Settings of mean-field ADVI.
#[derive(Clone, Debug)]
pub struct MeanFieldVi {
    /// Adam iterations (10,000).
    pub iterations: usize,
    /// Monte Carlo draws of q per gradient (4).
    pub mc_samples: usize,
    /// Adam's learning rate (0.01).
    pub learning_rate: f64,
    /// Fraction of the final iterations whose parameters are averaged (0.5).
    pub average_fraction: f64,
}

impl Default for MeanFieldVi {
    fn default() -> Self {
        Self { iterations: 10_000, mc_samples: 4, learning_rate: 0.01, average_fraction: 0.5 }
    }
}

/// A fitted mean-field approximation on the unconstrained space.
#[derive(Clone, Debug, PartialEq)]
pub struct VariationalFit {
    /// Means μ of q.
    pub mean: Vec<f64>,
    /// Standard deviations σ of q.
    pub sd: Vec<f64>,
    /// The ELBO estimate of every iteration (Monte Carlo, from that iteration's draws).
    pub elbo_trace: Vec<f64>,
    /// Draws of q whose log density was not finite: left out of the gradient, counted here.
    pub rejected: usize,
    /// How much each `ln σᵢ` changed over the averaged iterations: near 0 once the fit has
    /// converged; a large positive value means the ELBO keeps rising as σᵢ grows (see
    /// [`warnings`](VariationalFit::warnings)).
    pub log_sd_drift: Vec<f64>,
}

impl MeanFieldVi {
    fn validate(&self) -> Result<(), SamplerError> {
        let bad = |name, detail: String| Err(SamplerError::Setting { name, detail });
        if self.iterations == 0 {
            return bad("iterations", "must be at least 1".into());
        }
        if self.mc_samples == 0 {
            return bad("mc_samples", "must be at least 1".into());
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad("learning_rate", format!("{} must be positive and finite", self.learning_rate));
        }
        if !(self.average_fraction > 0.0 && self.average_fraction <= 1.0) {
            return bad("average_fraction", format!("{} is not in (0, 1]", self.average_fraction));
        }
        Ok(())
    }

    /// Fits q to `target`, starting at Stan's initial point (uniform(−2, 2), up to 100 tries) with
    /// σ = 1. The same seed gives the same fit.
    pub fn fit(&self, target: &dyn Target, seed: u64) -> Result<VariationalFit, SamplerError> {
        self.validate()?;
        let d = target.dim();
        let mut rng = chain_rng(seed, 0);
        let cfg = crate::sampler::RunConfig { chains: 1, ..Default::default() };
        let mu0 = crate::sampler::initial_point(target, &cfg, 0, &mut rng)?;
        // parameters: [μ; ω]
        let mut x: Vec<f64> = mu0.into_iter().chain(std::iter::repeat_n(0.0, d)).collect();
        let mut adam = Adam::new(self.learning_rate);
        let entropy_const = 0.5 * d as f64 * (1.0 + (2.0 * std::f64::consts::PI).ln());
        let (mut grad, mut g, mut theta, mut eps) = (vec![0.0; 2 * d], vec![0.0; d], vec![0.0; d], vec![0.0; d]);
        let start_avg = self.iterations - ((self.iterations as f64 * self.average_fraction).ceil() as usize).clamp(1, self.iterations);
        let mut avg = vec![0.0; 2 * d];
        let mut n_avg = 0usize;
        let mut fit = VariationalFit { mean: Vec::new(), sd: Vec::new(), elbo_trace: Vec::with_capacity(self.iterations), rejected: 0, log_sd_drift: vec![0.0; d] };
        let mut omega_start = vec![0.0; d];
        for it in 0..self.iterations {
            grad.iter_mut().for_each(|v| *v = 0.0);
            let (mut elbo, mut used) = (0.0, 0usize);
            for _ in 0..self.mc_samples {
                for i in 0..d {
                    eps[i] = StandardNormal.sample(&mut rng);
                    theta[i] = x[i] + x[d + i].exp() * eps[i];
                }
                let lp = target.logp_grad(&theta, &mut g)?;
                if !lp.is_finite() || g.iter().any(|v| !v.is_finite()) {
                    fit.rejected += 1;
                    continue;
                }
                used += 1;
                elbo += lp;
                for i in 0..d {
                    grad[i] += g[i];
                    grad[d + i] += g[i] * eps[i] * x[d + i].exp();
                }
            }
            let omega_sum: f64 = x[d..].iter().sum();
            if used == 0 {
                fit.elbo_trace.push(f64::NEG_INFINITY);
                continue;
            }
            let s = used as f64;
            grad.iter_mut().for_each(|v| *v /= s);
            grad[d..].iter_mut().for_each(|v| *v += 1.0);
            fit.elbo_trace.push(elbo / s + omega_sum + entropy_const);
            adam.ascend(&mut x, &grad);
            if it == start_avg {
                omega_start.copy_from_slice(&x[d..]);
            }
            if it >= start_avg {
                avg.iter_mut().zip(&x).for_each(|(a, v)| *a += v);
                n_avg += 1;
            }
        }
        if n_avg == 0 {
            return Err(SamplerError::Setting { name: "target", detail: format!("every draw of q had a non-finite log density ({} rejected)", fit.rejected) });
        }
        avg.iter_mut().for_each(|a| *a /= n_avg as f64);
        fit.mean = avg[..d].to_vec();
        fit.sd = avg[d..].iter().map(|w| w.exp()).collect();
        fit.log_sd_drift = x[d..].iter().zip(&omega_start).map(|(w, w0)| w - w0).collect();
        Ok(fit)
    }
}

/// `ln σ` growing by more than this over the averaged iterations (σ × e) marks a fit that has not
/// converged: at a maximum of the ELBO, `ln σ` only jitters by about the learning rate.
const MAX_LOG_SD_DRIFT: f64 = 1.0;

impl VariationalFit {
    /// What makes the fit untrustworthy, one line per problem: coordinates of `target` whose σ was
    /// still growing at the end (`log_sd_drift` > 1): the ELBO has no maximum in that direction,
    /// as for a parameter the posterior leaves improper (a `Flat()` prior with no likelihood).
    pub fn warnings(&self, target: &dyn Target) -> Vec<String> {
        let names = target.names();
        self.log_sd_drift
            .iter()
            .enumerate()
            .filter(|(_, d)| **d > MAX_LOG_SD_DRIFT || d.is_nan())
            .map(|(i, d)| {
                let name = if names.len() == self.log_sd_drift.len() { names[i].as_str() } else { "" };
                format!("coordinate {} {name}: the sd of q grew by a factor of {:.3e} over the averaged iterations, so the ELBO has no maximum there (is the posterior proper?)", i + 1, d.exp())
            })
            .collect()
    }

    /// The mean ELBO estimate over the last tenth of the iterations.
    pub fn elbo(&self) -> f64 {
        let k = (self.elbo_trace.len() / 10).max(1);
        let tail = &self.elbo_trace[self.elbo_trace.len().saturating_sub(k)..];
        tail.iter().sum::<f64>() / tail.len() as f64
    }

    /// Independent draws of q, constrained and named like a sampler's, as `chains × draws`; `lp__`
    /// is the target's log density at each draw.
    pub fn draws(&self, target: &dyn Target, chains: usize, draws: usize, seed: u64) -> Result<Draws, SamplerError> {
        if chains == 0 || draws == 0 {
            return Err(SamplerError::Setting { name: "draws", detail: format!("{chains} chains × {draws} draws: both must be at least 1") });
        }
        let d = self.mean.len();
        if d != target.dim() {
            return Err(SamplerError::Setting { name: "target", detail: format!("the fit has dimension {d}, the target {}", target.dim()) });
        }
        let mut out = Draws { names: target.names(), sampler: "meanfield".into(), settings: vec![("algorithm".into(), "variational".into())], ..Default::default() };
        let (mut theta, mut g) = (vec![0.0; d], vec![0.0; d]);
        for c in 0..chains {
            let mut rng = chain_rng(seed, c);
            let mut chain = ChainDraws { step_size: f64::NAN, inv_metric: self.sd.iter().map(|s| s * s).collect(), ..Default::default() };
            for _ in 0..draws {
                for i in 0..d {
                    let e: f64 = StandardNormal.sample(&mut rng);
                    theta[i] = self.mean[i] + self.sd[i] * e;
                }
                chain.lp.push(target.logp_grad(&theta, &mut g)?);
                chain.values.extend(target.output_values(&theta)?);
            }
            out.chains.push(chain);
        }
        Ok(out)
    }
}
