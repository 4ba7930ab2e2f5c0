//! Underdamped Langevin dynamics integrated by BAOAB (Leimkuhler & Matthews 2013, 2016): with
//! mass m, friction γ, inverse temperature β and time step dt, one step is
//! B(dt/2) A(dt/2) O(dt) A(dt/2) B(dt/2), where B kicks `p += (dt/2)·∇ln π(q)`, A drifts
//! `q += (dt/2)·p/m` and O is the exact Ornstein–Uhlenbeck step `p ← e^{−γdt} p + √((1 − e^{−2γdt}) m/β) ξ`.
//!
//! [`Baoab`] by default runs the Metropolized form (the OBABO splitting with a Metropolis test
//! on each leapfrog step, [`super::obabo`]), its step size and mass tuned in warmup: exact for
//! the posterior, nothing to set. The unadjusted form ([`Baoab::unadjusted`],
//! [`Baoab::constant`], [`Baoab::workflow`]) is the integrator above with no Metropolis test: its
//! stationary distribution is π^β only up to O(dt²) (exact in q for Gaussian targets), so its
//! draws are biased by the step. Its `accept_stat__` is the acceptance a Metropolis test on each
//! step's shadow work would have had, and its warnings give the mean: on `exp(−√(1 + x²))` with
//! γ = 0.2, 99.95% at dt = 0.2 (E(x²) within Monte Carlo error) and 86% at dt = 1.9 (E(x²) 38%
//! too large). It runs with two fixed settings, as the Bayesian neural net workflow does: a
//! burn-in (high friction, large mass) during warmup, and a production setting. Both kernels are written once against the population state, so they run
//! in every execution (threads, lockstep, device).

use super::adapt::WindowedSettings;
use super::execution::{normals, Chains, HostRows, Kernel, Rows};
use super::obabo::ObaboChains;
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

/// What one BAOAB step did to one chain.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct StepInfo {
    /// The step reached a non-finite log density or gradient and was undone.
    pub divergent: bool,
    /// `min(1, e^{−βW})` for the step's shadow work `W = ΔH − Q` (the change of the energy `H`
    /// less the heat `Q` the O step exchanged; Sivak, Chodera & Crooks 2013): the acceptance a
    /// Metropolis test on the deterministic sub-steps would have had. 1 for exact dynamics; the
    /// further below 1, the larger the step's bias. 0 for a divergent step.
    pub accept: f64,
}

/// One BAOAB step of every chain, chain `r` drawing from `rngs[r]`: written once against
/// [`Rows`], so threads, lockstep and devices run this same code. A chain whose step reaches a
/// non-finite log density or gradient is put back where it was, its momentum redrawn from
/// N(0, m/β), and reported divergent.
pub(crate) fn steps<A: Rows, R: Rng>(rows: &A, z: &mut Particles<A>, params: &LangevinParams, rngs: &mut [R]) -> Result<Vec<StepInfo>, SamplerError> {
    let n = rows.len();
    let (h, m) = (0.5 * params.step_size, params.mass);
    let kinetic = |p: &A::Array| -> Vec<f64> { rows.row_dot(p, p).into_iter().map(|p2| p2 / (2.0 * m)).collect() };
    let all = vec![true; n];
    let (q0, lp0, g0) = (z.q.clone(), z.lp.clone(), z.grad.clone());
    let k0 = kinetic(&z.p);
    rows.axpy(&mut z.p, &vec![h; n], &z.grad);
    rows.axpy(&mut z.q, &vec![h / m; n], &z.p);
    let e = (-params.gamma * params.step_size).exp();
    let s = ((1.0 - e * e) * m / params.beta).sqrt();
    let before_o = kinetic(&z.p);
    rows.scale(&mut z.p, &vec![e; n]);
    rows.axpy(&mut z.p, &vec![1.0; n], &normals(rows, s, None, rngs));
    let after_o = kinetic(&z.p);
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
    let k1 = kinetic(&z.p);
    Ok((0..n)
        .map(|r| {
            if divergent[r] {
                return StepInfo { divergent: true, accept: 0.0 };
            }
            let work = (k1[r] - z.lp[r]) - (k0[r] - lp0[r]) - (after_o[r] - before_o[r]);
            let accept = if work.is_nan() { 0.0 } else { (-params.beta * work).exp().min(1.0) };
            StepInfo { divergent: false, accept }
        })
        .collect())
}

/// One BAOAB step of `z` (position, momentum, log density and gradient): the kernel of
/// [`Baoab`] for one chain. A step that reaches a non-finite log density or gradient is undone
/// (position restored, momentum redrawn) and reported as divergent (`true`).
pub fn baoab_step<R: Rng>(target: &dyn Target, rng: &mut R, z: &mut Point, params: &LangevinParams) -> Result<bool, SamplerError> {
    let rows = HostRows::new(target, 1);
    let mut particles = Particles { q: std::mem::take(&mut z.q), p: std::mem::take(&mut z.p), grad: std::mem::take(&mut z.grad), lp: vec![z.lp] };
    let info = steps(&rows, &mut particles, params, std::slice::from_mut(rng))?;
    (z.q, z.p, z.grad, z.lp) = (particles.q, particles.p, particles.grad, particles.lp[0]);
    Ok(info[0].divergent)
}

/// Underdamped Langevin dynamics as a sampler. By default Metropolized and self-tuning (see
/// [`super::obabo`]): OBABO steps for `draw_time` per draw with friction `friction`, step size
/// and mass adapted in warmup towards `adapt.target_accept`. With `unadjusted` set, the BAOAB
/// integrator with fixed settings and no Metropolis test instead.
#[derive(Clone, Debug)]
pub struct Baoab {
    /// Friction γ, in the time units of the adapted metric (0.5).
    pub friction: f64,
    /// Integration time per draw, in the adapted metric's time units (2): `⌈draw_time / ε⌉`
    /// steps, each one gradient and one Metropolis test.
    pub draw_time: f64,
    /// Most steps per draw (1000).
    pub max_steps: usize,
    /// Energy error that marks a divergence (1000).
    pub max_energy_error: f64,
    /// Warmup: step size towards `target_accept` (0.9) and a diagonal mass from the windows.
    pub adapt: WindowedSettings,
    /// The unadjusted form with fixed settings (no adaptation, no Metropolis test: biased by
    /// the step), or `None` for the Metropolized one.
    pub unadjusted: Option<Unadjusted>,
}

/// The fixed settings of unadjusted BAOAB: `burn_in` for the warmup iterations, `production`
/// for the draws. The momentum is redrawn from N(0, m/β) when the settings change.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Unadjusted {
    /// Settings during warmup.
    pub burn_in: LangevinParams,
    /// Settings while sampling.
    pub production: LangevinParams,
}

impl Baoab {
    /// Unadjusted BAOAB with `burn_in` settings in warmup and `production` settings after.
    pub fn unadjusted(burn_in: LangevinParams, production: LangevinParams) -> Self {
        Self { unadjusted: Some(Unadjusted { burn_in, production }), ..Self::default() }
    }
    /// Unadjusted BAOAB with the same settings in both phases.
    pub fn constant(params: LangevinParams) -> Self {
        Self::unadjusted(params, params)
    }
    /// The Bayesian neural net workflow's unadjusted settings: burn-in dt = 10⁻³, γ = 100, m = 10;
    /// production dt = 10⁻³, γ = 10, m = 1 (β = 1).
    pub fn workflow() -> Self {
        Self::unadjusted(LangevinParams { step_size: 1e-3, gamma: 100.0, mass: 10.0, beta: 1.0 }, LangevinParams { step_size: 1e-3, gamma: 10.0, mass: 1.0, beta: 1.0 })
    }
}

impl Default for Baoab {
    /// Metropolized, tuned in warmup: friction 0.5, two time units per draw, target acceptance
    /// 0.9 (measured on posteriordb against other choices: see the module docs of
    /// [`super::obabo`]).
    fn default() -> Self {
        Self { friction: 0.5, draw_time: 2.0, max_steps: 1000, max_energy_error: 1000.0, adapt: WindowedSettings { target_accept: 0.9, ..Default::default() }, unadjusted: None }
    }
}

/// `accept_stat__` is the acceptance a Metropolis test would have had (see [`StepInfo`]), which
/// the draws' warnings report as a measure of the bias.
const STAT_NAMES: [&str; 4] = ["accept_stat__", "stepsize__", "divergent__", "energy__"];

/// BAOAB's chains: the kernel over [`Rows`] with the phase's settings.
struct BaoabChains<A: Rows> {
    rows: A,
    z: Particles<A>,
    settings: Unadjusted,
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
        let info = steps(&self.rows, &mut self.z, &params, rngs)?;
        let p2 = self.rows.row_dot(&self.z.p, &self.z.p);
        Ok(info.iter().zip(&p2).zip(&self.z.lp).map(|((i, p2), lp)| vec![i.accept, params.step_size, f64::from(u8::from(i.divergent)), -lp + p2 / (2.0 * params.mass)]).collect())
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
        let Some(fixed) = self.unadjusted else {
            return Ok(Box::new(ObaboChains::start(self, rows, positions, warmup, rngs)?));
        };
        let n = rows.len();
        let q = rows.upload(&positions.concat());
        let (lp, grad) = rows.evaluate(&q, &vec![true; n])?;
        let current = if warmup > 0 { fixed.burn_in } else { fixed.production };
        let p = normals(&rows, (current.mass / current.beta).sqrt(), None, rngs);
        Ok(Box::new(BaoabChains { z: Particles { q, p, grad, lp }, rows, settings: fixed, current }))
    }
}

impl Sampler for Baoab {
    fn name(&self) -> &'static str {
        "baoab"
    }
    fn validate(&self) -> Result<(), SamplerError> {
        if let Some(fixed) = &self.unadjusted {
            fixed.burn_in.validate()?;
            return fixed.production.validate();
        }
        if !(self.friction >= 0.0 && self.friction.is_finite()) {
            return Err(SamplerError::Setting { name: "friction", detail: format!("must be non-negative and finite, got {}", self.friction) });
        }
        if !(self.draw_time > 0.0 && self.draw_time.is_finite()) {
            return Err(SamplerError::Setting { name: "draw_time", detail: format!("must be positive and finite, got {}", self.draw_time) });
        }
        if self.max_steps == 0 {
            return Err(SamplerError::Setting { name: "max_steps", detail: "must be at least 1".into() });
        }
        if !(self.max_energy_error > 0.0) {
            return Err(SamplerError::Setting { name: "max_energy_error", detail: format!("must be positive, got {}", self.max_energy_error) });
        }
        self.adapt.validate()
    }
    fn settings(&self) -> Vec<(String, String)> {
        let Some(fixed) = &self.unadjusted else {
            return vec![("engine".into(), "obabo".into()), ("metropolis".into(), "true".into()), ("friction".into(), self.friction.to_string()), ("draw_time".into(), self.draw_time.to_string()), ("metric".into(), "diag_e".into())];
        };
        let p = |n: &str, v: &LangevinParams| vec![(format!("{n}_dt"), v.step_size.to_string()), (format!("{n}_gamma"), v.gamma.to_string()), (format!("{n}_mass"), v.mass.to_string()), (format!("{n}_beta"), v.beta.to_string())];
        // unadjusted: the draws' warnings read this setting
        let mut out = vec![("engine".into(), "baoab".into()), ("metropolis".into(), "false".into())];
        out.extend(p("burn_in", &fixed.burn_in));
        out.extend(p("production", &fixed.production));
        out
    }
    fn start_group<'t>(&self, target: &'t dyn Target, positions: Vec<Vec<f64>>, warmup: usize, rngs: &mut [ChaCha8Rng]) -> Result<Box<dyn Chains + 't>, SamplerError> {
        self.start_rows(HostRows::new(target, positions.len()), positions, warmup, rngs)
    }
}
