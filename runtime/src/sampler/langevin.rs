//! Underdamped Langevin dynamics integrated by BAOAB (Leimkuhler & Matthews 2013, 2016): with
//! mass m, friction γ, inverse temperature β and time step dt, one step is
//! B(dt/2) A(dt/2) O(dt) A(dt/2) B(dt/2), where B kicks `p += (dt/2)·∇ln π(q)`, A drifts
//! `q += (dt/2)·p/m` and O is the exact Ornstein–Uhlenbeck step `p ← e^{−γdt} p + √((1 − e^{−2γdt}) m/β) ξ`.
//!
//! No Metropolis test: the stationary distribution is π^β only up to O(dt²) (exact in q for
//! Gaussian targets). [`Baoab`] runs as a sampler with two settings, as the Bayesian neural net
//! workflow does: a burn-in (high friction, large mass) during warmup, and a production setting.
//! Its kernel is written once against the population state, so it runs in every execution
//! (threads, lockstep, device).

use super::execution::{normals, Chains, HostRows, Kernel, Rows};
use super::phase_space::Point;
use crate::target::Target;
use super::{Phase, Sampler, SamplerError};
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

/// BAOAB's population state: positions, momenta, gradients and log densities of P chains.
pub(crate) struct Particles<A: Rows> {
    q: A::Array,
    p: A::Array,
    grad: A::Array,
    lp: Vec<f64>,
}

/// One BAOAB step of every chain, chain `r` drawing from `rngs[r]`: written once against
/// [`Rows`], so threads, lockstep and devices run this same code. A chain whose step reaches a
/// non-finite log density or gradient is put back where it was, its momentum redrawn from
/// N(0, m/β), and reported divergent.
pub(crate) fn steps<A: Rows, R: Rng>(rows: &A, z: &mut Particles<A>, params: &LangevinParams, rngs: &mut [R]) -> Result<Vec<bool>, SamplerError> {
    let n = rows.len();
    let (h, m) = (0.5 * params.step_size, params.mass);
    let all = vec![true; n];
    let (q0, lp0, g0) = (z.q.clone(), z.lp.clone(), z.grad.clone());
    rows.axpy(&mut z.p, &vec![h; n], &z.grad);
    rows.axpy(&mut z.q, &vec![h / m; n], &z.p);
    let e = (-params.gamma * params.step_size).exp();
    let s = ((1.0 - e * e) * m / params.beta).sqrt();
    rows.scale(&mut z.p, &vec![e; n]);
    rows.axpy(&mut z.p, &vec![1.0; n], &normals(rows, s, None, rngs));
    rows.axpy(&mut z.q, &vec![h / m; n], &z.p);
    let (lp, grad) = rows.evaluate(&z.q, &all)?;
    let divergent: Vec<bool> = lp.iter().map(|l| !l.is_finite()).collect();
    z.lp = lp.iter().zip(&lp0).zip(&divergent).map(|((l, l0), div)| if *div { *l0 } else { *l }).collect();
    z.grad = grad;
    if divergent.contains(&true) {
        rows.select(&divergent, &mut z.q, &q0);
        rows.select(&divergent, &mut z.grad, &g0);
        let fresh = normals(rows, (m / params.beta).sqrt(), Some(&divergent), rngs);
        rows.select(&divergent, &mut z.p, &fresh);
    }
    let kick: Vec<f64> = divergent.iter().map(|div| if *div { 0.0 } else { h }).collect();
    rows.axpy(&mut z.p, &kick, &z.grad);
    Ok(divergent)
}

/// One BAOAB step of `z` (position, momentum, log density and gradient): the kernel of
/// [`Baoab`] for one chain. A step that reaches a non-finite log density or gradient is undone
/// (position restored, momentum redrawn) and reported as divergent (`true`).
pub fn baoab_step<R: Rng>(target: &dyn Target, rng: &mut R, z: &mut Point, params: &LangevinParams) -> Result<bool, SamplerError> {
    let rows = HostRows::new(target, 1);
    let mut particles = Particles { q: std::mem::take(&mut z.q), p: std::mem::take(&mut z.p), grad: std::mem::take(&mut z.grad), lp: vec![z.lp] };
    let divergent = steps(&rows, &mut particles, params, std::slice::from_mut(rng))?;
    (z.q, z.p, z.grad, z.lp) = (particles.q, particles.p, particles.grad, particles.lp[0]);
    Ok(divergent[0])
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

/// BAOAB's chains: the kernel over [`Rows`] with the phase's settings.
struct BaoabChains<A: Rows> {
    rows: A,
    z: Particles<A>,
    settings: Baoab,
    current: LangevinParams,
}

impl<A: Rows> Chains for BaoabChains<A> {
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn step(&mut self, rngs: &mut [ChaCha8Rng], phase: Phase) -> Result<Vec<Vec<f64>>, SamplerError> {
        let params = if let Phase::Warmup { .. } = phase { self.settings.burn_in } else { self.settings.production };
        if params != self.current {
            self.z.p = normals(&self.rows, (params.mass / params.beta).sqrt(), None, rngs);
            self.current = params;
        }
        let divergent = steps(&self.rows, &mut self.z, &params, rngs)?;
        let p2 = self.rows.row_dot(&self.z.p, &self.z.p);
        Ok(divergent.iter().zip(&p2).zip(&self.z.lp).map(|((div, p2), lp)| vec![params.step_size, f64::from(u8::from(*div)), -lp + p2 / (2.0 * params.mass)]).collect())
    }
    fn positions(&self) -> Vec<Vec<f64>> {
        self.rows.download(&self.z.q).chunks(self.rows.dim().max(1)).map(<[f64]>::to_vec).collect()
    }
    fn log_densities(&self) -> Vec<f64> {
        self.z.lp.clone()
    }
    fn stat_names(&self) -> Vec<&'static str> {
        STAT_NAMES.to_vec()
    }
    fn step_size(&self, _r: usize) -> f64 {
        self.settings.production.step_size
    }
    fn inv_metric(&self, _r: usize) -> Vec<f64> {
        vec![1.0 / self.settings.production.mass; self.rows.dim()]
    }
}

impl Kernel for Baoab {
    fn start_rows<'a, A: Rows + 'a>(&self, rows: A, positions: Vec<Vec<f64>>, warmup: usize, rngs: &mut [ChaCha8Rng]) -> Result<Box<dyn Chains + 'a>, SamplerError> {
        let n = rows.len();
        let q = rows.upload(&positions.concat());
        let (lp, grad) = rows.evaluate(&q, &vec![true; n])?;
        let current = if warmup > 0 { self.burn_in } else { self.production };
        let p = normals(&rows, (current.mass / current.beta).sqrt(), None, rngs);
        Ok(Box::new(BaoabChains { z: Particles { q, p, grad, lp }, rows, settings: self.clone(), current }))
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
        // unadjusted: the draws' warnings read this setting
        let mut out = vec![("engine".into(), "baoab".into()), ("metropolis".into(), "false".into())];
        out.extend(p("burn_in", &self.burn_in));
        out.extend(p("production", &self.production));
        out
    }
    fn start_group<'t>(&self, target: &'t dyn Target, positions: Vec<Vec<f64>>, warmup: usize, rngs: &mut [ChaCha8Rng]) -> Result<Box<dyn Chains + 't>, SamplerError> {
        self.start_rows(HostRows::new(target, positions.len()), positions, warmup, rngs)
    }
}
