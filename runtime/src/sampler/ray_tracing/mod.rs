//! The Ray Tracing Sampler (Behroozi 2025).
//!
//! Parameter space is treated as an optical medium with refractive index `n(x) = L(x)^{1/(D−1)}`;
//! rays travel at constant speed and bend towards higher `L` by Snell's law. The state is
//! `(x, v)` with `v ~ N(0, I)` (the reference code's convention, §1.3): a drift of duration `h`
//! moves `x` by `h·v` (path length `|v|·h`), a [`kick`] of duration `h` rotates `v` towards the
//! gradient by the exact constant-gradient solution `tan(θ_f/2) = tan(θ_i/2)·e^{−δ}`,
//! `δ = |v|·|g|·h/(D−1)`, and returns the predicted change of `ln L` along the segment
//! (`dlnL_pred`). A trajectory of `n_steps` steps of size `step_size` ([`Integrator`]) ends in the
//! Metropolis test `ln α = ΔlnL − Σ dlnL_pred` (§1.8).
//!
//! **Step size.** `step_size` is the code's "effective timestep" (`Δt = Δs/√D`, §1.3). Read it as the
//! mean change of direction per step `Δφ`: for the unit Gaussian in any `D` the typical set is the
//! shell of radius `√D`, a ray moves a path length `|v|·dt ≈ √D·dt` per step on a (near) great
//! circle, so its direction turns by `Δφ ≈ dt` radians per step, and `n_steps·dt` is the arc swept
//! by a trajectory (`π/2` is the reference choice). For a target of scale `σ` the same `step_size` turns
//! the ray by about `dt/σ`. Every draw reports the measured mean turning per step as `dphi__`
//! (tested: it equals `step_size` within 1% on N(0, I) in D = 1000).
//!
//! **Stochastic gradients** ([`MinibatchSettings`], §1.10): every gradient evaluation sees a fresh
//! minibatch of a model's observations. **Generalised ray tracing** ([`Weighting`], §1.9): a
//! sample weight `W(x)`, with HMC, random-walk Metropolis, tempering and the microcanonical index
//! as special cases.
//!
//! **Defaults.** The paper's sampler has a fixed step count and no metric; with those as defaults
//! warmup shrinks the step to the posterior's smallest scale and the trajectory's arc with it
//! (measured: two of eleven posteriordb references pass). So by default each chain starts at a
//! mode ([`RayTracing::start_at_mode`]), warmup estimates per-coordinate scales after which the
//! rays travel in whitened coordinates ([`RayTracing::metric`]), and every trajectory sweeps a
//! fixed arc of turning ([`RayTracing::arc`], `⌈arc / step⌉` steps) whatever step warmup reaches:
//! ten of eleven pass, at an ESS per gradient at least NUTS's on eight (`examples/validation.rs`).
//! The arc is a rule, not tuned per posterior: 1.5 radians is about where a unit Gaussian's ray
//! decorrelates from its start. Choosing it per chain in warmup ([`RayTracing::tune_arc`], by
//! the ChEES criterion) was measured against the rule and gains ESS per gradient on most
//! references but passes one fewer, so it is offered, not the default. `RayTracing::new(step, n)` is the paper's fixed-step sampler;
//! [`RayTracing::minibatched`] the stochastic-gradient one. `D ≥ 2` is required for the Snell
//! kick: for `D = 1` the refractive index is undefined.
//!
//! **Executions.** The trajectories, the Metropolis test and the warmup are one kernel over a group
//! of chains (`kernel.rs`, through [`Kernel`]): one chain per thread ([`run`](crate::sampler::run)),
//! all chains in lockstep ([`Lockstep`](crate::sampler::Lockstep)), or on a dfdx device
//! ([`run_device`](crate::sampler::run_device)), every setting in each. The one-point functions
//! below ([`integrate`], [`transition`]) are that kernel for one chain.

mod dphi;
mod kernel;
mod minibatch;
mod weighting;


pub use minibatch::MinibatchSettings;
pub use weighting::{WeightFn, Weighting};

use super::execution::{Chains, HostRows, Kernel, Rows};
use super::{Sampler, SamplerError};
use crate::target::Target;
use kernel::{snell_coefficients, RayChains, RayEval, Rays};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Euclidean norm that neither overflows nor underflows for extreme entries.
fn norm(a: &[f64]) -> f64 {
    let ss = dot(a, a);
    if ss.is_finite() && ss > 1e-290 {
        return ss.sqrt();
    }
    let m = a.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if m == 0.0 || !m.is_finite() {
        return m;
    }
    m * a.iter().map(|x| (x / m).powi(2)).sum::<f64>().sqrt()
}

/// The kick ("UpdateV", §1.4) in the overflow-safe ζ-form: rotates `v` towards the gradient `g` of
/// `ln L` for a duration `h` in dimension `d`, keeping `|v|`; returns `dlnL_pred`, the predicted
/// change of `ln L` along the segment, `(D−1)·ln(sin θ_i / sin θ_f)`.
///
/// `|v| = 0` or `|g| = 0` (or `h = 0`) leave `v` unchanged and return 0; `v` (anti)parallel to `g`
/// is not rotated and returns `±|v|·|g|·h`. A non-finite `|g|` leaves `v` unchanged and returns NaN
/// (the caller treats it as a divergence). Never evaluates `e^{+δ}`, so huge gradients cannot
/// overflow: the ray turns fully towards `g`.
pub fn kick(v: &mut [f64], g: &[f64], h: f64, d: usize) -> f64 {
    kick_turning(v, g, h, d).0
}

/// [`kick`], also returning the angle by which the direction of `v` turned (`θ_i − θ_f`, in
/// radians): the change of direction that the step size `Δφ` stands for.
pub fn kick_turning(v: &mut [f64], g: &[f64], h: f64, d: usize) -> (f64, f64) {
    let (l, gn) = (norm(v), norm(g));
    let c = if l > 0.0 && gn > 0.0 && gn.is_finite() { v.iter().zip(g).map(|(vi, gi)| (vi / l) * (gi / gn)).sum::<f64>() } else { 0.0 };
    let (alpha, beta, pred, turned) = snell_coefficients(l, gn, c, h, d);
    if alpha != 0.0 || beta != 1.0 {
        for (vi, gi) in v.iter_mut().zip(g) {
            *vi = alpha * gi + beta * *vi;
        }
    }
    (pred, turned)
}

/// The kick in the reference code's atan2 form (§1.4, `UpdateV_Raytrace`): the same map as
/// [`kick`], kept as an independent check. Overflows for large `|v|·|g|·h/(D−1)`; use [`kick`].
pub fn kick_atan2(v: &mut [f64], g: &[f64], h: f64, d: usize) -> f64 {
    let l = norm(v);
    let gn = norm(g);
    if l == 0.0 || gn == 0.0 {
        return 0.0;
    }
    let u: Vec<f64> = v.iter().map(|x| x / l).collect();
    let e: Vec<f64> = g.iter().map(|x| x / gn).collect();
    let a = u.iter().zip(&e).map(|(u, e)| (u - e).powi(2)).sum::<f64>().sqrt();
    let b = u.iter().zip(&e).map(|(u, e)| (u + e).powi(2)).sum::<f64>().sqrt();
    let ti = 2.0 * a.atan2(b);
    if ti.sin() == 0.0 {
        return l * gn * h * ti.cos();
    }
    let kappa = (l * gn * h / (d as f64 - 1.0)).exp();
    let tf = 2.0 * a.atan2(b * kappa);
    let fv = tf.sin() / ti.sin();
    let fnn = (tf.cos() - fv * ti.cos()) * l;
    for (vi, ei) in v.iter_mut().zip(&e) {
        *vi = fv * *vi + fnn * ei;
    }
    (d as f64 - 1.0) * (ti.sin() / tf.sin()).ln()
}

/// Newton's kick `v ← v + h·g` of HMC ([`Weighting::Hmc`]); returns the change of kinetic energy
/// `½|v_new|² − ½|v|²`, which takes the place of `dlnL_pred` in the Metropolis test, and the angle
/// by which the direction of `v` turned.
pub fn newton_kick(v: &mut [f64], g: &[f64], h: f64) -> (f64, f64) {
    let k0 = 0.5 * dot(v, v);
    let (vg, gg) = (dot(v, g), dot(g, g));
    for (vi, gi) in v.iter_mut().zip(g) {
        *vi += h * gi;
    }
    (0.5 * dot(v, v) - k0, newton_turning(2.0 * k0, gg, vg, h))
}

/// The angle by which `v ← v + h·g` turns `v`, from `|v|² = vv`, `|g|² = gg` and `v·g = vg`:
/// `|v × v_new| = h·|v × g|`, `v·v_new = |v|² + h v·g`.
pub(crate) fn newton_turning(vv: f64, gg: f64, vg: f64, h: f64) -> f64 {
    let cross = h * (vv * gg - vg * vg).max(0.0).sqrt();
    cross.atan2(vv + h * vg)
}

/// One integration step of size `h`, as palindromic compositions of drifts D and kicks K (§1.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Integrator {
    /// D(h/2) K(h) D(h/2): one gradient per step; the reference code's default.
    Dkd,
    /// K(h/2) D(h) K(h/2): one gradient per step.
    Kdk,
    /// DKD or KDK with probability ½ each, independently every step ("R(KDK,DKD)").
    Rdkd,
    /// Omelyan's 2nd-order minimal-norm K(λh) D(h/2) K((1−2λ)h) D(h/2) K(λh),
    /// λ = 0.1931833275037836: two gradients per step; best in the paper's Fig. 7.
    Omelyan,
}

/// Omelyan's minimal-norm λ.
pub const OMELYAN_LAMBDA: f64 = 0.193_183_327_503_783_6;

impl Integrator {
    fn name(self) -> &'static str {
        match self {
            Integrator::Dkd => "dkd",
            Integrator::Kdk => "kdk",
            Integrator::Rdkd => "rdkd",
            Integrator::Omelyan => "omelyan",
        }
    }
}

/// A point of the ray: position, velocity, `ln L` and its gradient at the position.
#[derive(Clone, Debug)]
pub struct RayState {
    /// Position.
    pub x: Vec<f64>,
    /// Velocity (unnormalised; `N(0, I)` in equilibrium).
    pub v: Vec<f64>,
    /// `ln L(x) − ln W(x)`: `ln L(x)` for plain ray tracing (`W = 1`).
    pub lp: f64,
    /// The gradient of `lp`.
    pub grad: Vec<f64>,
    /// `ln W(x)`, the log weight of the point (0 for plain ray tracing).
    pub ln_w: f64,
}

impl RayState {
    /// The point `x` with velocity `v`; evaluates the density.
    pub fn new(target: &dyn Target, x: Vec<f64>, v: Vec<f64>) -> Result<Self, SamplerError> {
        Self::weighted(target, &Weighting::Unit, x, v)
    }
    /// The point `x` with velocity `v` under a weighting; evaluates the density and the weight.
    pub fn weighted(target: &dyn Target, weighting: &Weighting, x: Vec<f64>, v: Vec<f64>) -> Result<Self, SamplerError> {
        let rows = HostRows::new(target, 1);
        let (lp, ln_w, grad) = RayEval::exact(weighting, 1, x.len()).eval(&rows, &x, &[true])?;
        Ok(Self { x, v, lp: lp[0], grad, ln_w: ln_w[0] })
    }
    fn rays(&self) -> Rays<Vec<f64>> {
        Rays { z: self.x.clone(), v: self.v.clone(), lp: vec![self.lp], ln_w: vec![self.ln_w], grad: self.grad.clone() }
    }
    fn from_rays(r: Rays<Vec<f64>>) -> Self {
        Self { x: r.z, v: r.v, lp: r.lp[0], grad: r.grad, ln_w: r.ln_w[0] }
    }
}

/// What [`integrate`] did.
#[derive(Clone, Debug, Default)]
pub struct TrajectoryInfo {
    /// Σ `dlnL_pred` over every kick.
    pub dlnl_pred: f64,
    /// Gradient evaluations.
    pub n_grad: usize,
    /// A non-finite log density or gradient was met (the trajectory stopped there).
    pub non_finite: bool,
    /// Σ of the angles by which the kicks turned the velocity.
    pub turning: f64,
    /// Integration steps taken.
    pub steps: usize,
}

/// Ornstein–Uhlenbeck partial refresh of `v` over a duration `tau` at rate `rate` (§1.7):
/// `v ← f·v + √(1−f²)·ξ`, `f = e^{−|rate·τ|}`; preserves `N(0, I)`.
pub fn partial_refresh<R: Rng>(v: &mut [f64], rate: f64, tau: f64, rng: &mut R) {
    let f = (-(rate * tau).abs()).exp();
    let s = (1.0 - f * f).sqrt();
    for vi in v.iter_mut() {
        let xi: f64 = rng.sample(StandardNormal);
        *vi = f * *vi + s * xi;
    }
}

/// Integrates `n_steps` steps of size `step_size` from `s` in place (§1.12 without the Metropolis test):
/// with `refresh_rate > 0`, partial refreshes O(dt/2) Φ O(dt) Φ … Φ O(dt/2) around the steps.
/// On return `s.lp` and `s.grad` belong to `s.x` (unless the trajectory met a non-finite value and
/// stopped, `info.non_finite`).
pub fn integrate<R: Rng>(target: &dyn Target, s: &mut RayState, dt: f64, n_steps: usize, integrator: Integrator, refresh_rate: f64, rng: &mut R) -> Result<TrajectoryInfo, SamplerError> {
    integrate_weighted(target, &Weighting::Unit, s, dt, n_steps, integrator, refresh_rate, rng)
}

/// [`integrate`] under a [`Weighting`]: the rays follow `ln L − ln W` (with [`Weighting::Hmc`]
/// Newton's kick, with [`Weighting::Metropolis`] straight lines). `s` must come from
/// [`RayState::weighted`] with the same weighting.
#[allow(clippy::too_many_arguments)]
pub fn integrate_weighted<R: Rng>(target: &dyn Target, weighting: &Weighting, s: &mut RayState, dt: f64, n_steps: usize, integrator: Integrator, refresh_rate: f64, rng: &mut R) -> Result<TrajectoryInfo, SamplerError> {
    let rows = HostRows::new(target, 1);
    let mut p = s.rays();
    let info = kernel::trajectories(&rows, &mut RayEval::exact(weighting, 1, s.x.len()), weighting.kick(), &mut p, &[dt], &[n_steps], integrator, refresh_rate, std::slice::from_mut(rng))?;
    *s = RayState::from_rays(p);
    Ok(info.into_iter().next().unwrap_or_default())
}

/// The Ray Tracing Sampler with its settings.
#[derive(Clone, Debug)]
pub struct RayTracing {
    /// Step size: the effective timestep `Δt`, read as the mean change of direction per step
    /// `Δφ` in radians (for the unit Gaussian `Δφ ≈ step_size`; see the module docs). Used as given
    /// when there is no warmup, and as the starting point of the warmup's dual averaging. Default
    /// 0.3.
    pub step_size: f64,
    /// Integration steps per trajectory, fixed (default `None`: `⌈arc / step⌉`, see `arc`).
    /// `Some(n)` is the paper's sampler: `n` steps whatever the step size, so the arc a trajectory
    /// sweeps shrinks with the step that warmup tunes.
    pub n_steps: Option<usize>,
    /// The arc each trajectory sweeps, in radians of turning, when `n_steps` is `None`: each chain
    /// takes `⌈arc / step⌉` steps of its own step size (at most `max_steps`), so that the
    /// trajectory keeps its length when warmup shrinks the step (default 1.5, about a quarter
    /// turn: the distance over which a unit Gaussian's ray decorrelates). With a fixed 5 steps
    /// the arc shrank to nothing where warmup took the step to 10⁻⁷, and ray tracing passed two
    /// of the eleven posteriordb references of `examples/validation.rs`; with the arc, the metric
    /// and the mode start it passes ten (table in BENCHMARKS.md).
    pub arc: f64,
    /// Most steps per trajectory with `arc` (1000).
    pub max_steps: usize,
    /// Choose each chain's arc in warmup (with `arc`, the metric and warmup; default off): in
    /// the iterations after the last metric window the trajectories alternate between `arc` and
    /// `2·arc`, and the chain keeps the one whose trajectories changed its squared whitened
    /// distance from the window's mean the most (the ChEES criterion of Hoffman, Radul &
    /// Sountsov 2021). Measured on the posteriordb references of `examples/validation.rs`
    /// (BENCHMARKS.md) it raised the ESS per gradient on 7 of 11 (arK 24 → 29, kidiq 14 → 20,
    /// gp_pois_regr 2.5 → 3.7 per 1,000) but passed 9 of 11 rather than 10 (the centred eight
    /// schools' funnel missed R-hat 1.01), so it is not the default. Scoring per gradient or
    /// also trying `arc/2` chose short arcs and lost on most references.
    pub tune_arc: bool,
    /// The step (default [`Integrator::Dkd`]).
    pub integrator: Integrator,
    /// Metropolis test on each trajectory (default on). Off, the chain is biased by the
    /// integration error (§1.13, Fig. 5).
    pub metropolis: bool,
    /// Draw a fresh `v ~ N(0, I)` at the start of every trajectory (default on). Off, `v`
    /// persists across trajectories (and is negated on rejection); then `refresh_rate` must be
    /// positive for ergodicity.
    pub full_refresh: bool,
    /// Rate of the partial Ornstein–Uhlenbeck refresh of `v` within trajectories (§1.7): `1`
    /// refreshes after a travel time of 1 (default 0: none).
    pub refresh_rate: f64,
    /// Target mean acceptance of the warmup's dual averaging of `step_size` (default 0.75).
    pub target_accept: f64,
    /// `ln α` below `−max_energy_error` marks a trajectory divergent (default 1000, as Stan's energy
    /// error threshold).
    pub max_energy_error: f64,
    /// The sample weight `W(x)` of generalised ray tracing (default [`Weighting::Unit`]). With a
    /// weighted choice the draws sample `L/W` and carry `log_weight__ = ln W`; `lp__` stays `ln L`.
    pub weighting: Weighting,
    /// Stochastic gradients: a fresh minibatch of the model's observations at every gradient
    /// evaluation (default `None`: exact gradients). Needs `metropolis = false`; `step_size` is then used
    /// as given (the acceptance statistic is minibatch noise, so warmup does not tune it), and
    /// `lp__` is the minibatch estimate.
    pub minibatch: Option<MinibatchSettings>,
    /// Estimate a diagonal metric in warmup (default on): per-coordinate scales `s` from the
    /// draws in Stan's doubling windows, after which the rays travel in the whitened coordinates
    /// `z = x / s`. The paper's sampler has none; without it, badly scaled posteriors (scales that
    /// differ by orders of magnitude) defeat the constant-speed rays. Needs exact gradients
    /// (off in [`RayTracing::minibatched`]).
    pub metric: bool,
    /// Before warmup, move each chain's start to a mode of the density by Adam (default on;
    /// [`find_map`](crate::sampler::map::find_map) with learning rate 0.05, at most 2,000
    /// gradients, not counted in `n_grad__`). Rays travel at constant speed with a step that warmup
    /// shrinks to the posterior's smallest scale, so from a start far out in the tails of a
    /// badly scaled posterior (Stan's uniform(−2, 2) on a regression with coefficients of sd
    /// 10⁻³) they may not reach the typical set within warmup at all; from the mode they start in
    /// it. Each chain climbs from its own start, so chains started apart may reach different
    /// modes and R-hat still sees them. Needs exact gradients (off in [`RayTracing::minibatched`]).
    pub start_at_mode: bool,
    /// Tune `step_size` in warmup so that the measured mean change of direction per step `⟨Δφ⟩`
    /// (`dphi__`, radians) equals this, instead of reaching `target_accept` (default `None`).
    /// The paper sets its step this way (e.g. ⟨Δφ⟩ = 0.25 for Figure 5); it also works with
    /// minibatch gradients, where the acceptance rate is noise and `step_size` is otherwise used as given.
    pub target_dphi: Option<f64>,
}

impl Default for RayTracing {
    fn default() -> Self {
        Self {
            step_size: 0.3,
            n_steps: None,
            arc: 1.5,
            max_steps: 1000,
            tune_arc: false,
            integrator: Integrator::Dkd,
            metropolis: true,
            full_refresh: true,
            refresh_rate: 0.0,
            target_accept: 0.75,
            max_energy_error: 1000.0,
            weighting: Weighting::Unit,
            minibatch: None,
            metric: true,
            start_at_mode: true,
            target_dphi: None,
        }
    }
}

impl RayTracing {
    /// The paper's sampler: step size `step_size`, a fixed `n_steps` steps per trajectory, no
    /// warmup metric and no mode start (the other settings at their defaults).
    pub fn new(step_size: f64, n_steps: usize) -> Self {
        Self { step_size, n_steps: Some(n_steps), metric: false, start_at_mode: false, ..Default::default() }
    }

    /// Settings for stochastic gradients: a fresh minibatch at every gradient evaluation, no
    /// Metropolis test, no warmup metric and no mode start (all three need exact densities),
    /// the other settings at their defaults.
    pub fn minibatched(minibatch: MinibatchSettings) -> Self {
        Self { minibatch: Some(minibatch), metropolis: false, metric: false, start_at_mode: false, ..Default::default() }
    }

    /// Steps of a trajectory with step size `dt`: `n_steps`, or `⌈arc / dt⌉` (1 to `max_steps`).
    pub fn steps_for(&self, dt: f64) -> usize {
        self.steps_along(dt, self.arc)
    }

    /// Steps of a trajectory with step size `dt` over an arc `arc`: `n_steps`, or `⌈arc / dt⌉`.
    pub(crate) fn steps_along(&self, dt: f64, arc: f64) -> usize {
        match self.n_steps {
            Some(n) => n,
            None => {
                let k = (arc / dt).ceil();
                if k.is_finite() { (k as usize).clamp(1, self.max_steps) } else { self.max_steps }
            }
        }
    }
}

/// What one transition did.
#[derive(Clone, Debug)]
pub struct RayInfo {
    /// `min(1, e^{ln α})` (0 on a non-finite trajectory), whether or not the test is applied.
    pub accept_prob: f64,
    /// Whether the proposal was kept.
    pub accepted: bool,
    /// Non-finite density or gradient met, or `ln α < −max_energy_error`.
    pub divergent: bool,
    /// Σ `dlnL_pred` over the trajectory.
    pub dlnl_pred: f64,
    /// `ln α = ΔlnL − Σ dlnL_pred`.
    pub ln_alpha: f64,
    /// Gradient evaluations.
    pub n_grad: usize,
    /// The mean angle (radians) by which the direction turned per step: the measured `⟨Δφ⟩`.
    pub dphi: f64,
}

/// One ray-tracing transition from `s` with step `step_size` (§1.12). `s.v` is the persistent velocity
/// (ignored and redrawn with `full_refresh`).
/// With a weighting, `s` must come from [`RayState::weighted`]; `cfg.minibatch` is ignored here
/// (the sampler's chains apply it).
pub fn transition<R: Rng>(target: &dyn Target, rng: &mut R, s: &RayState, cfg: &RayTracing, dt: f64) -> Result<(RayState, RayInfo), SamplerError> {
    let rows = HostRows::new(target, 1);
    let mut p = s.rays();
    if cfg.full_refresh {
        p.v = (0..s.x.len()).map(|_| rng.sample(StandardNormal)).collect();
    }
    let v0 = p.v.clone();
    let rng = std::slice::from_mut(rng);
    let info = kernel::trajectories(&rows, &mut RayEval::exact(&cfg.weighting, 1, s.x.len()), cfg.weighting.kick(), &mut p, &[dt], &[cfg.steps_for(dt)], cfg.integrator, cfg.refresh_rate, rng)?;
    let mut out = s.rays();
    let info = kernel::finish(&rows, &mut out, p, v0, &info, cfg, rng);
    Ok((RayState::from_rays(out), info.into_iter().next().expect("one chain")))
}

impl RayInfo {
    /// The per-draw statistics, in [`STAT_NAMES`] order.
    pub(crate) fn stats(&self, step: f64, n_steps: usize) -> Vec<f64> {
        vec![self.accept_prob, step, n_steps as f64, self.n_grad as f64, f64::from(u8::from(self.divergent)), self.dlnl_pred, self.ln_alpha, self.dphi]
    }
}

/// Names of the per-draw statistics.
/// `dphi__` is the measured mean change of direction per step of the trajectory (radians).
pub(crate) const STAT_NAMES: [&str; 8] = ["accept_stat__", "stepsize__", "n_steps__", "n_grad__", "divergent__", "dlnL_pred__", "dlnL_err__", "dphi__"];

impl Sampler for RayTracing {
    fn name(&self) -> &'static str {
        "ray_tracing"
    }
    fn validate(&self) -> Result<(), SamplerError> {
        if !(self.step_size > 0.0 && self.step_size.is_finite()) {
            return Err(SamplerError::Setting { name: "step_size", detail: format!("must be positive and finite, got {}", self.step_size) });
        }
        if self.n_steps == Some(0) {
            return Err(SamplerError::Setting { name: "n_steps", detail: "must be at least 1".into() });
        }
        if !(self.arc > 0.0 && self.arc.is_finite()) {
            return Err(SamplerError::Setting { name: "arc", detail: format!("must be positive and finite, got {}", self.arc) });
        }
        if self.max_steps == 0 {
            return Err(SamplerError::Setting { name: "max_steps", detail: "must be at least 1".into() });
        }
        if !(self.refresh_rate >= 0.0 && self.refresh_rate.is_finite()) {
            return Err(SamplerError::Setting { name: "refresh_rate", detail: format!("must be non-negative and finite, got {}", self.refresh_rate) });
        }
        if !self.full_refresh && self.refresh_rate == 0.0 {
            return Err(SamplerError::Setting { name: "refresh_rate", detail: "must be positive when full_refresh is off (otherwise the velocity is never refreshed and the chain is not ergodic)".into() });
        }
        if !(self.target_accept > 0.0 && self.target_accept < 1.0) {
            return Err(SamplerError::Setting { name: "target_accept", detail: format!("must be in (0, 1), got {}", self.target_accept) });
        }
        if !(self.max_energy_error > 0.0) {
            return Err(SamplerError::Setting { name: "max_energy_error", detail: format!("must be positive, got {}", self.max_energy_error) });
        }
        self.weighting.validate()?;
        if let Some(t) = self.target_dphi {
            if !(t > 0.0 && t < std::f64::consts::PI) {
                return Err(SamplerError::Setting { name: "target_dphi", detail: format!("a change of direction per step must lie in (0, π) radians, got {t}") });
            }
        }
        if let Some(m) = &self.minibatch {
            m.validate()?;
            if self.metropolis {
                return Err(SamplerError::Setting { name: "metropolis", detail: "the Metropolis test needs exact densities: with minibatches set metropolis = false, or start from RayTracing::minibatched (and optionally minibatch.reject_above, the threshold rule)".into() });
            }
            if self.metric {
                return Err(SamplerError::Setting { name: "metric", detail: "the metric is estimated in warmup from exact-gradient draws: turn it off with minibatches (RayTracing::minibatched does)".into() });
            }
            if self.start_at_mode {
                return Err(SamplerError::Setting { name: "start_at_mode", detail: "the mode is searched with exact gradients: turn it off with minibatches (RayTracing::minibatched does)".into() });
            }
            if !matches!(self.weighting, Weighting::Unit | Weighting::Hmc) {
                return Err(SamplerError::Setting { name: "weighting", detail: format!("minibatches run with the unit or the HMC weighting, not {}", self.weighting.name()) });
            }
        }
        Ok(())
    }
    fn settings(&self) -> Vec<(String, String)> {
        vec![
            ("integrator".into(), self.integrator.name().into()),
            ("step_size".into(), self.step_size.to_string()),
            ("n_steps".into(), self.n_steps.map_or("from arc".into(), |n| n.to_string())),
            ("arc".into(), if self.n_steps.is_some() { "none".into() } else { self.arc.to_string() }),
            ("tune_arc".into(), (self.tune_arc && self.n_steps.is_none() && self.metric).to_string()),
            ("metropolis".into(), self.metropolis.to_string()),
            ("full_refresh".into(), self.full_refresh.to_string()),
            ("refresh_rate".into(), self.refresh_rate.to_string()),
            ("target_accept".into(), self.target_accept.to_string()),
            ("weighting".into(), self.weighting.name().into()),
            ("metric".into(), if self.metric { "diag_e" } else { "unit_e" }.into()),
            ("start_at_mode".into(), self.start_at_mode.to_string()),
            ("target_dphi".into(), self.target_dphi.map_or("none".into(), |t| t.to_string())),
        ]
        .into_iter()
        .chain(self.minibatch.iter().flat_map(|m| [("batch_size".to_string(), m.batch_size.to_string()), ("reject_above".into(), m.reject_above.map_or("none".into(), |b| b.to_string()))]))
        .collect()
    }
    fn start_group<'t>(&self, target: &'t dyn Target, positions: Vec<Vec<f64>>, warmup: usize, rngs: &mut [ChaCha8Rng]) -> Result<Box<dyn Chains + 't>, SamplerError> {
        self.start_rows(HostRows::new(target, positions.len()), positions, warmup, rngs)
    }
}

impl Kernel for RayTracing {
    fn start_rows<'a, A: Rows + 'a>(&self, rows: A, positions: Vec<Vec<f64>>, warmup: usize, rngs: &mut [ChaCha8Rng]) -> Result<Box<dyn Chains + 'a>, SamplerError> {
        Ok(Box::new(RayChains::start(self, rows, positions, warmup, rngs)?))
    }
}
