//! Underdamped Langevin dynamics integrated by BAOAB (Leimkuhler & Matthews 2013, 2016): with
//! mass m, friction γ, inverse temperature β and time step dt, one step is
//! B(dt/2) A(dt/2) O(dt) A(dt/2) B(dt/2), where B kicks `p += (dt/2)·∇ln π(q)`, A drifts
//! `q += (dt/2)·p/m` and O is the exact Ornstein–Uhlenbeck step `p ← e^{−γdt} p + √((1 − e^{−2γdt}) m/β) ξ`.
//!
//! No Metropolis test: the stationary distribution is π^β only up to O(dt²) (exact in q for
//! Gaussian targets). [`Baoab`] runs as a sampler with two settings, as the Bayesian neural net
//! workflow does: a burn-in (high friction, large mass) during warmup, and a production setting.

use super::phase_space::Point;
use crate::target::Target;
use super::{Chain, Phase, Sampler, SamplerError};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// The settings of one BAOAB phase.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LangevinParams {
    /// Time step.
    pub step_size: f64,
    /// Friction γ (0 gives Hamiltonian dynamics, ∞ overdamped).
    pub gamma: f64,
    /// Scalar mass m.
    pub mass: f64,
    /// Inverse temperature β (1 samples π).
    pub beta: f64,
}

impl LangevinParams {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), SamplerError> {
        let bad = |name, v: f64, what: &str| Err(SamplerError::Setting { name, detail: format!("must be {what}, got {v}") });
        if !(self.step_size > 0.0 && self.step_size.is_finite()) {
            return bad("step_size", self.step_size, "positive and finite");
        }
        if !(self.gamma >= 0.0 && self.gamma.is_finite()) {
            return bad("gamma", self.gamma, "non-negative and finite");
        }
        if !(self.mass > 0.0 && self.mass.is_finite()) {
            return bad("mass", self.mass, "positive and finite");
        }
        if !(self.beta > 0.0 && self.beta.is_finite()) {
            return bad("beta", self.beta, "positive and finite");
        }
        Ok(())
    }

    /// Draws the momentum from its stationary law N(0, m/β).
    pub fn draw_momentum<R: Rng>(&self, rng: &mut R, p: &mut [f64]) {
        let s = (self.mass / self.beta).sqrt();
        p.iter_mut().for_each(|v| *v = s * rng.sample::<f64, _>(StandardNormal));
    }

    /// Kinetic energy `|p|² / 2m`.
    pub fn kinetic(&self, p: &[f64]) -> f64 {
        p.iter().map(|v| v * v).sum::<f64>() / (2.0 * self.mass)
    }
}

/// One BAOAB step of `z` (position, momentum, log density and gradient). A step that reaches a
/// non-finite log density or gradient is undone (position restored, momentum redrawn) and
/// reported as divergent (`true`).
pub fn baoab_step<R: Rng>(target: &dyn Target, rng: &mut R, z: &mut Point, params: &LangevinParams) -> Result<bool, SamplerError> {
    let (h, m) = (0.5 * params.step_size, params.mass);
    let start = (z.q.clone(), z.lp, z.grad.clone());
    for (p, g) in z.p.iter_mut().zip(&z.grad) {
        *p += h * g;
    }
    for (q, p) in z.q.iter_mut().zip(&z.p) {
        *q += h * p / m;
    }
    let e = (-params.gamma * params.step_size).exp();
    let s = ((1.0 - e * e) * m / params.beta).sqrt();
    for p in z.p.iter_mut() {
        *p = e * *p + s * rng.sample::<f64, _>(StandardNormal);
    }
    for (q, p) in z.q.iter_mut().zip(&z.p) {
        *q += h * p / m;
    }
    z.lp = target.logp_grad(&z.q, &mut z.grad)?;
    if !z.lp.is_finite() || z.grad.iter().any(|g| !g.is_finite()) {
        (z.q, z.lp, z.grad) = start;
        params.draw_momentum(rng, &mut z.p);
        return Ok(true);
    }
    for (p, g) in z.p.iter_mut().zip(&z.grad) {
        *p += h * g;
    }
    Ok(false)
}

/// BAOAB as a sampler: `burn_in` settings for the warmup iterations, `production` for the draws.
/// The momentum is redrawn from N(0, m/β) when the settings change.
#[derive(Clone, Debug)]
pub struct Baoab {
    /// Settings during warmup.
    pub burn_in: LangevinParams,
    /// Settings while sampling.
    pub production: LangevinParams,
}

impl Baoab {
    /// The same settings in both phases.
    pub fn constant(params: LangevinParams) -> Self {
        Self { burn_in: params, production: params }
    }
}

impl Default for Baoab {
    /// The Bayesian neural net workflow's settings: burn-in dt = 10⁻³, γ = 100, m = 10;
    /// production dt = 10⁻³, γ = 10, m = 1 (β = 1).
    fn default() -> Self {
        Self { burn_in: LangevinParams { step_size: 1e-3, gamma: 100.0, mass: 10.0, beta: 1.0 }, production: LangevinParams { step_size: 1e-3, gamma: 10.0, mass: 1.0, beta: 1.0 } }
    }
}

const STAT_NAMES: [&str; 3] = ["stepsize__", "divergent__", "energy__"];

struct BaoabChain<'t> {
    target: &'t dyn Target,
    z: Point,
    settings: Baoab,
    current: LangevinParams,
}

impl Chain for BaoabChain<'_> {
    fn step(&mut self, rng: &mut ChaCha8Rng, phase: Phase) -> Result<Vec<f64>, SamplerError> {
        let params = if let Phase::Warmup { .. } = phase { self.settings.burn_in } else { self.settings.production };
        if params != self.current {
            params.draw_momentum(rng, &mut self.z.p);
            self.current = params;
        }
        let divergent = baoab_step(self.target, rng, &mut self.z, &params)?;
        Ok(vec![params.step_size, f64::from(u8::from(divergent)), -self.z.lp + params.kinetic(&self.z.p)])
    }
    fn position(&self) -> &[f64] {
        &self.z.q
    }
    fn log_density(&self) -> f64 {
        self.z.lp
    }
    fn stat_names(&self) -> Vec<&'static str> {
        STAT_NAMES.to_vec()
    }
    fn step_size(&self) -> f64 {
        self.settings.production.step_size
    }
    fn inv_metric(&self) -> Vec<f64> {
        vec![1.0 / self.settings.production.mass; self.z.q.len()]
    }
}

impl Sampler for Baoab {
    fn name(&self) -> &'static str {
        "baoab"
    }
    fn validate(&self) -> Result<(), SamplerError> {
        self.burn_in.validate()?;
        self.production.validate()
    }
    fn settings(&self) -> Vec<(String, String)> {
        let p = |n: &str, v: &LangevinParams| vec![(format!("{n}_dt"), v.step_size.to_string()), (format!("{n}_gamma"), v.gamma.to_string()), (format!("{n}_mass"), v.mass.to_string()), (format!("{n}_beta"), v.beta.to_string())];
        let mut out = vec![("engine".into(), "baoab".into())];
        out.extend(p("burn_in", &self.burn_in));
        out.extend(p("production", &self.production));
        out
    }
    fn start<'t>(&self, target: &'t dyn Target, position: Vec<f64>, warmup: usize, rng: &mut ChaCha8Rng) -> Result<Box<dyn Chain + 't>, SamplerError> {
        let mut z = Point::new(target, position)?;
        let current = if warmup > 0 { self.burn_in } else { self.production };
        current.draw_momentum(rng, &mut z.p);
        Ok(Box::new(BaoabChain { target, z, settings: self.clone(), current }))
    }
}
