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
//! Only the identity metric is supported (no mass matrix). `D ≥ 2` is required for the Snell kick:
//! for `D = 1` the refractive index is undefined.

mod dphi;
mod minibatch;
mod weighting;

pub mod device;

pub use minibatch::MinibatchSettings;
pub use weighting::{WeightFn, Weighting};

use super::adapt::DualAveraging;
use crate::target::Target;
use super::{Chain, Phase, Sampler, SamplerError};
use minibatch::Minibatched;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use dphi::DphiTuner;
use weighting::{Kick, Weighted};

/// Where a trajectory's log densities and gradients come from: the exact target seen through a
/// [`Weighting`], or minibatch estimates.
pub(crate) enum Source<'t> {
    Exact(Weighted<'t>),
    Minibatch(Minibatched<'t>),
}

/// What the rays follow: `ln L(q) − ln W(q)` (the log of `n^{D−1}`) of a [`Source`], optionally in
/// coordinates whitened by the warmup metric (`x = scale ⊙ z`, `∇_z = scale ⊙ ∇_x`; the constant
/// Jacobian cancels in every ratio).
pub(crate) struct RayDensity<'t> {
    source: Source<'t>,
    whitening: Option<Whitening>,
}

struct Whitening {
    scale: Vec<f64>,
    x: Vec<f64>,
}

impl<'t> RayDensity<'t> {
    /// The exact target through `weighting`, unwhitened.
    fn exact(target: &'t dyn Target, weighting: &Weighting) -> Self {
        Self { source: Source::Exact(Weighted::new(target, weighting)), whitening: None }
    }
    /// `source` in whitened coordinates, with unit scales to start with.
    fn whitened(source: Source<'t>, d: usize) -> Self {
        Self { source, whitening: Some(Whitening { scale: vec![1.0; d], x: vec![0.0; d] }) }
    }
    /// The whitening scales (empty when unwhitened).
    fn scale(&self) -> &[f64] {
        self.whitening.as_ref().map_or(&[], |w| &w.scale)
    }
    fn set_scale(&mut self, scale: Vec<f64>) {
        let x = vec![0.0; scale.len()];
        self.whitening = Some(Whitening { scale, x });
    }
    /// `ln L(q) − ln W(q)` with its gradient written to `grad`, and `ln W(q)`.
    fn eval(&mut self, z: &[f64], grad: &mut [f64]) -> Result<(f64, f64), SamplerError> {
        let Some(w) = self.whitening.as_mut() else {
            return self.source.eval(z, grad);
        };
        for ((x, z), s) in w.x.iter_mut().zip(z).zip(&w.scale) {
            *x = z * s;
        }
        let out = self.source.eval(&w.x, grad)?;
        for (g, s) in grad.iter_mut().zip(&w.scale) {
            *g *= s;
        }
        Ok(out)
    }
}

impl Source<'_> {
    fn eval(&mut self, q: &[f64], grad: &mut [f64]) -> Result<(f64, f64), SamplerError> {
        match self {
            Source::Exact(w) => w.eval(q, grad),
            Source::Minibatch(m) => m.eval(q, grad),
        }
    }
}

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
    let l = norm(v);
    let gn = norm(g);
    if !gn.is_finite() {
        return (f64::NAN, 0.0);
    }
    if l == 0.0 || gn == 0.0 || h == 0.0 {
        return (0.0, 0.0);
    }
    let dm1 = (d as f64 - 1.0).max(1.0);
    let c = v.iter().zip(g).map(|(vi, gi)| (vi / l) * (gi / gn)).sum::<f64>().clamp(-1.0, 1.0);
    let delta = l * gn * h / dm1;
    let zeta = (-delta).exp();
    let one_m_zeta = -(-delta).exp_m1();
    // u_new ∝ A·e + B·u
    let a = one_m_zeta * ((1.0 + c) + zeta * (1.0 - c));
    let b = 2.0 * zeta;
    let mut new_norm2 = 0.0;
    // first pass: |A e + B u|
    for (vi, gi) in v.iter().zip(g) {
        let w = a * gi / gn + b * vi / l;
        new_norm2 += w * w;
    }
    let new_norm = new_norm2.sqrt();
    // u·u_new ∝ A·c + B, |u × u_new| ∝ A·sin θ_i
    let turned = (a * (1.0 - c * c).max(0.0).sqrt()).atan2(a * c + b);
    if new_norm > 0.0 && new_norm.is_finite() {
        let s = l / new_norm;
        for (vi, gi) in v.iter_mut().zip(g) {
            *vi = s * (a * gi / gn + b * *vi / l);
        }
    }
    // ln(s/2), s = (1+c) + (1−c)ζ² = 2 − (1−c)(1−ζ²)
    let m = 0.5 * (1.0 - c) * (-(-2.0 * delta).exp_m1());
    let log_half_s = if m < 0.5 {
        (-m).ln_1p()
    } else {
        let s = (1.0 + c) + (1.0 - c) * zeta * zeta;
        if s > 0.0 {
            s.ln() - std::f64::consts::LN_2
        } else {
            // 1 + c = 0 and ζ² underflowed: ln((1−c)ζ²/2) exactly
            (0.5 * (1.0 - c)).ln() - 2.0 * delta
        }
    };
    (dm1 * (delta + log_half_s), turned)
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
    // v_new = v + h g: |v × v_new| = h·|v × g|, v·v_new = |v|² + h v·g
    let cross = h * (2.0 * k0 * gg - vg * vg).max(0.0).sqrt();
    (0.5 * dot(v, v) - k0, cross.atan2(2.0 * k0 + h * vg))
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
        Self::from_density(&mut RayDensity::exact(target, weighting), x, v)
    }
    fn from_density(density: &mut RayDensity<'_>, x: Vec<f64>, v: Vec<f64>) -> Result<Self, SamplerError> {
        let mut grad = vec![0.0; x.len()];
        let (lp, ln_w) = density.eval(&x, &mut grad)?;
        Ok(Self { x, v, lp, grad, ln_w })
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
}

struct Integration<'a, 't> {
    density: &'a mut RayDensity<'t>,
    kick: Kick,
    s: &'a mut RayState,
    dirty: bool,
    info: TrajectoryInfo,
}

impl Integration<'_, '_> {
    fn drift(&mut self, h: f64) {
        for (x, v) in self.s.x.iter_mut().zip(&self.s.v) {
            *x += h * v;
        }
        self.dirty = true;
    }
    fn evaluate(&mut self) -> Result<bool, SamplerError> {
        if self.dirty {
            (self.s.lp, self.s.ln_w) = self.density.eval(&self.s.x, &mut self.s.grad)?;
            self.info.n_grad += 1;
            self.dirty = false;
            if !self.s.lp.is_finite() || !self.s.ln_w.is_finite() || self.s.grad.iter().any(|g| !g.is_finite()) {
                self.info.non_finite = true;
                return Ok(false);
            }
        }
        Ok(true)
    }
    /// Returns false on a non-finite density or gradient.
    fn kick(&mut self, h: f64) -> Result<bool, SamplerError> {
        if self.kick == Kick::Straight {
            return Ok(true);
        }
        if !self.evaluate()? {
            return Ok(false);
        }
        let d = self.s.x.len();
        let (pred, turned) = match self.kick {
            Kick::Newton => newton_kick(&mut self.s.v, &self.s.grad, h),
            _ => kick_turning(&mut self.s.v, &self.s.grad, h, d),
        };
        self.info.turning += turned;
        if !pred.is_finite() {
            self.info.non_finite = true;
            return Ok(false);
        }
        self.info.dlnl_pred += pred;
        Ok(true)
    }
    fn step<R: Rng>(&mut self, integrator: Integrator, h: f64, rng: &mut R) -> Result<bool, SamplerError> {
        let integrator = match integrator {
            Integrator::Rdkd => {
                if rng.gen::<bool>() {
                    Integrator::Dkd
                } else {
                    Integrator::Kdk
                }
            }
            i => i,
        };
        Ok(match integrator {
            Integrator::Dkd | Integrator::Rdkd => {
                self.drift(0.5 * h);
                let ok = self.kick(h)?;
                self.drift(0.5 * h);
                ok
            }
            Integrator::Kdk => {
                let ok = self.kick(0.5 * h)?;
                self.drift(h);
                ok && self.kick(0.5 * h)?
            }
            Integrator::Omelyan => {
                let l = OMELYAN_LAMBDA;
                self.kick(l * h)? && {
                    self.drift(0.5 * h);
                    self.kick((1.0 - 2.0 * l) * h)?
                } && {
                    self.drift(0.5 * h);
                    self.kick(l * h)?
                }
            }
        })
    }
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
    integrate_density(&mut RayDensity::exact(target, weighting), weighting.kick(), s, dt, n_steps, integrator, refresh_rate, rng)
}

#[allow(clippy::too_many_arguments)]
fn integrate_density<R: Rng>(density: &mut RayDensity<'_>, kick: Kick, s: &mut RayState, dt: f64, n_steps: usize, integrator: Integrator, refresh_rate: f64, rng: &mut R) -> Result<TrajectoryInfo, SamplerError> {
    let mut it = Integration { density, kick, s, dirty: false, info: TrajectoryInfo::default() };
    for j in 0..n_steps {
        if refresh_rate > 0.0 {
            partial_refresh(&mut it.s.v, refresh_rate, if j == 0 { 0.5 * dt } else { dt }, rng);
        }
        if !it.step(integrator, dt, rng)? {
            return Ok(it.info);
        }
    }
    if refresh_rate > 0.0 {
        partial_refresh(&mut it.s.v, refresh_rate, 0.5 * dt, rng);
    }
    it.evaluate()?;
    Ok(it.info)
}

/// The Ray Tracing Sampler with its settings.
#[derive(Clone, Debug)]
pub struct RayTracing {
    /// Step size: the effective timestep `Δt`, read as the mean change of direction per step
    /// `Δφ` in radians (for the unit Gaussian `Δφ ≈ step_size`; see the module docs). Used as given
    /// when there is no warmup, and as the starting point of the warmup's dual averaging. Default
    /// 0.3.
    pub step_size: f64,
    /// Integration steps per trajectory (default 5: with `step_size = 0.3` an arc of ≈ π/2).
    pub n_steps: usize,
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
    /// Estimate a diagonal metric in warmup (default off): per-coordinate scales `s` from the
    /// draws in Stan's doubling windows, after which the rays travel in the whitened coordinates
    /// `z = x / s`. The paper's sampler has none; without it, badly scaled posteriors (scales that
    /// differ by orders of magnitude) defeat the constant-speed rays. Needs exact gradients.
    pub metric: bool,
    /// Before warmup, move each chain's start to a mode of the density by Adam (default off;
    /// [`find_map`](crate::sampler::map::find_map) with learning rate 0.05, at most 2,000
    /// gradients, not counted in `n_grad__`). Rays travel at constant speed with a step that warmup
    /// shrinks to the posterior's smallest scale, so from a start far out in the tails of a
    /// badly scaled posterior (Stan's uniform(−2, 2) on a regression with coefficients of sd
    /// 10⁻³) they may not reach the typical set within warmup at all; from the mode they start in
    /// it. Needs exact gradients.
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
            n_steps: 5,
            integrator: Integrator::Dkd,
            metropolis: true,
            full_refresh: true,
            refresh_rate: 0.0,
            target_accept: 0.75,
            max_energy_error: 1000.0,
            weighting: Weighting::Unit,
            minibatch: None,
            metric: false,
            start_at_mode: false,
            target_dphi: None,
        }
    }
}

impl RayTracing {
    /// Default settings with step size `step_size` and `n_steps` steps per trajectory.
    pub fn new(step_size: f64, n_steps: usize) -> Self {
        Self { step_size, n_steps, ..Default::default() }
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
    transition_density(&mut RayDensity::exact(target, &cfg.weighting), rng, s, cfg, dt)
}

fn transition_density<R: Rng>(density: &mut RayDensity<'_>, rng: &mut R, s: &RayState, cfg: &RayTracing, dt: f64) -> Result<(RayState, RayInfo), SamplerError> {
    let mut p = s.clone();
    if cfg.full_refresh {
        for vi in p.v.iter_mut() {
            *vi = rng.sample(StandardNormal);
        }
    }
    let v0 = p.v.clone();
    let info = integrate_density(density, cfg.weighting.kick(), &mut p, dt, cfg.n_steps, cfg.integrator, cfg.refresh_rate, rng)?;
    Ok(finish(s, p, &v0, &info, cfg, rng))
}

/// The end of a trajectory from `s` to `p` that started with velocity `v0`: the Metropolis test
/// on `ln α = Δ(lnL − lnW) − Σ dlnL_pred` (§1.8; plus `Δ ln W` for the selection of
/// [`Weighting::Metropolis`]), and on rejection the start with velocity `−v₀`. With minibatches
/// the test is off or the threshold rule `|ln α| ≤ reject_above` (§1.10 (c)).
pub(crate) fn finish<R: Rng>(s: &RayState, p: RayState, v0: &[f64], info: &TrajectoryInfo, cfg: &RayTracing, rng: &mut R) -> (RayState, RayInfo) {
    let selection = if cfg.weighting.selects() { p.ln_w - s.ln_w } else { 0.0 };
    let ln_alpha = if info.non_finite { f64::NEG_INFINITY } else { p.lp - s.lp - info.dlnl_pred + selection };
    let ln_alpha = if ln_alpha.is_nan() { f64::NEG_INFINITY } else { ln_alpha };
    let accept_prob = ln_alpha.min(0.0).exp();
    let divergent = info.non_finite || ln_alpha < -cfg.max_energy_error;
    let kept = match cfg.minibatch.as_ref().and_then(|m| m.reject_above) {
        Some(bound) => ln_alpha.abs() <= bound,
        None => !cfg.metropolis || rng.gen::<f64>() < accept_prob,
    };
    let accepted = !info.non_finite && kept;
    let out = if accepted {
        p
    } else {
        let mut r = s.clone();
        r.v = v0.iter().map(|x| -x).collect();
        r
    };
    let dphi = info.turning / cfg.n_steps.max(1) as f64;
    (out, RayInfo { accept_prob, accepted, divergent, dlnl_pred: info.dlnl_pred, ln_alpha, n_grad: info.n_grad, dphi })
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

struct RayChain<'t> {
    density: RayDensity<'t>,
    cfg: RayTracing,
    /// The ray, in the whitened coordinates `z = x / scale`.
    s: RayState,
    /// The position `x = scale ⊙ z`.
    x: Vec<f64>,
    dt: f64,
    da: DualAveraging,
    /// Tunes `step_size` towards a target `⟨Δφ⟩` instead of `da`.
    dphi: Option<DphiTuner>,
    metric: Option<MetricWindows>,
}

/// Warmup estimation of the per-coordinate scales in Stan's windows.
struct MetricWindows {
    windows: Vec<(usize, usize)>,
    welford: super::adapt::Welford,
}

impl Chain for RayChain<'_> {
    fn step(&mut self, rng: &mut ChaCha8Rng, phase: Phase) -> Result<Vec<f64>, SamplerError> {
        let used = self.dt;
        let (s, info) = transition_density(&mut self.density, rng, &self.s, &self.cfg, self.dt)?;
        self.s = s;
        for ((x, z), sc) in self.x.iter_mut().zip(&self.s.x).zip(self.density.scale()) {
            *x = z * sc;
        }
        if let Phase::Warmup { iter, total } = phase {
            let exact = self.cfg.minibatch.is_none();
            match &mut self.dphi {
                Some(tuner) => self.dt = tuner.learn(self.dt, info.dphi, iter, total),
                None if exact => self.dt = self.da.learn(info.accept_prob),
                None => {}
            }
            if exact {
                self.adapt_metric(iter)?;
            }
            if iter + 1 == total {
                match &self.dphi {
                    Some(tuner) => self.dt = tuner.final_step_size().unwrap_or(self.dt),
                    None if exact => self.dt = self.da.final_step_size(),
                    None => {}
                }
            }
        }
        let mut stats = info.stats(used, self.cfg.n_steps);
        if self.cfg.weighting.is_weighted() {
            stats.push(self.s.ln_w);
        }
        Ok(stats)
    }
    fn position(&self) -> &[f64] {
        &self.x
    }
    fn log_density(&self) -> f64 {
        self.s.lp + self.s.ln_w
    }
    fn stat_names(&self) -> Vec<&'static str> {
        let mut names = STAT_NAMES.to_vec();
        if self.cfg.weighting.is_weighted() {
            names.push("log_weight__");
        }
        names
    }
    fn step_size(&self) -> f64 {
        self.dt
    }
    fn inv_metric(&self) -> Vec<f64> {
        self.density.scale().iter().map(|s| s * s).collect()
    }
}

impl RayChain<'_> {
    /// At the end of a metric window: the scales become the window's standard deviations, the ray
    /// moves to the new whitened coordinates, and the step size search restarts from the initial
    /// `step_size` — in whitened coordinates the natural change of direction per step is O(0.1–1)
    /// whatever the target's scales, while the step reached under the previous metric can be
    /// orders of magnitude off (measured on kidiq: 2·10⁻⁵, from which the averaging never
    /// recovered).
    fn adapt_metric(&mut self, iter: usize) -> Result<(), SamplerError> {
        let Some(m) = self.metric.as_mut() else { return Ok(()) };
        let Some(&(first, last)) = m.windows.iter().find(|w| (w.0..=w.1).contains(&iter)) else { return Ok(()) };
        m.welford.add(&self.x);
        if iter < last || iter == first {
            return Ok(());
        }
        if let Some(super::metric::Metric::Diag(var)) = m.welford.estimate() {
            self.density.set_scale(var.iter().map(|v| v.sqrt()).collect());
            let z: Vec<f64> = self.x.iter().zip(self.density.scale()).map(|(x, s)| x / s).collect();
            self.s = RayState::from_density(&mut self.density, z, self.s.v.clone())?;
            self.dt = self.cfg.step_size;
            self.da = DualAveraging::new(self.cfg.target_accept, self.dt);
            if let Some(t) = self.dphi.as_mut() {
                t.restart(iter);
            }
        }
        m.welford.restart();
        Ok(())
    }
}

impl Sampler for RayTracing {
    fn name(&self) -> &'static str {
        "ray_tracing"
    }
    fn validate(&self) -> Result<(), SamplerError> {
        if !(self.step_size > 0.0 && self.step_size.is_finite()) {
            return Err(SamplerError::Setting { name: "step_size", detail: format!("must be positive and finite, got {}", self.step_size) });
        }
        if self.n_steps == 0 {
            return Err(SamplerError::Setting { name: "n_steps", detail: "must be at least 1".into() });
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
                return Err(SamplerError::Setting { name: "metropolis", detail: "the Metropolis test needs exact densities: with minibatches set metropolis = false (and optionally minibatch.reject_above, the threshold rule)".into() });
            }
            if self.metric {
                return Err(SamplerError::Setting { name: "metric", detail: "the metric is estimated in warmup from exact-gradient draws: turn it off with minibatches".into() });
            }
            if self.start_at_mode {
                return Err(SamplerError::Setting { name: "start_at_mode", detail: "the mode is searched with exact gradients: turn it off with minibatches".into() });
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
            ("n_steps".into(), self.n_steps.to_string()),
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
    fn start<'t>(&self, target: &'t dyn Target, position: Vec<f64>, warmup: usize, rng: &mut ChaCha8Rng) -> Result<Box<dyn Chain + 't>, SamplerError> {
        self.validate()?;
        let d = position.len();
        if d < 2 && self.weighting.kick() == Kick::Snell {
            return Err(SamplerError::Setting {
                name: "dimension",
                detail: format!("the ray tracing sampler needs D ≥ 2 (its refractive index L^(1/(D−1)) is undefined for D = {d}); use HMC or NUTS"),
            });
        }
        let position = if self.start_at_mode && warmup > 0 {
            let adam = crate::sampler::map::Adam { learning_rate: 0.05, max_steps: 2000, ..Default::default() };
            crate::sampler::map::find_map(target, &position, &adam)?.point
        } else {
            position
        };
        let v: Vec<f64> = (0..d).map(|_| rng.sample(StandardNormal)).collect();
        let source = match &self.minibatch {
            // the batch schedule draws from its own stream, seeded from the chain's
            Some(m) => Source::Minibatch(Minibatched::new(target, m, ChaCha8Rng::seed_from_u64(rng.gen()))?),
            None => Source::Exact(Weighted::new(target, &self.weighting)),
        };
        let mut density = RayDensity::whitened(source, d);
        let s = RayState::from_density(&mut density, position.clone(), v)?;
        let metric = (self.metric && warmup > 0).then(|| MetricWindows {
            windows: super::adapt::WindowedAdaptation::new(super::adapt::WindowedSettings::default(), warmup, d).metric_windows(),
            welford: super::adapt::Welford::new(d, false),
        });
        Ok(Box::new(RayChain { density, cfg: self.clone(), s, x: position, dt: self.step_size, da: DualAveraging::new(self.target_accept, self.step_size), dphi: self.target_dphi.map(DphiTuner::new), metric }))
    }
}
