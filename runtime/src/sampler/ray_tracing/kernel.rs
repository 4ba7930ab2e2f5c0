//! The ray tracing kernel over [`Rows`]: trajectories, the Metropolis test and warmup of a group
//! of chains, written once for every execution (one chain per thread, all chains in lockstep on
//! the host or on a device).
//!
//! Per-chain scalars (`|v|`, `|g|`, `v·g`, the kick's coefficients, acceptance) live on the host;
//! the `(P, D)` positions, velocities and gradients in the execution's arrays. A kick is three
//! per-row dot products, the exact rotation's coefficients per chain, and `v ← α·g + β·v`.

use super::dphi::DphiTuner;
use super::weighting::Kick;
use super::{Integrator, MinibatchSettings, RayInfo, RayTracing, TrajectoryInfo, Weighting, OMELYAN_LAMBDA, STAT_NAMES};
use crate::sampler::adapt::{DualAveraging, Welford, WindowedAdaptation, WindowedSettings};
use crate::sampler::execution::{normals, Chains, Rows};
use crate::sampler::metric::Metric;
use crate::sampler::minibatch::Batches;
use crate::sampler::{Phase, SamplerError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// The rays of a group of chains: positions `z` in the coordinates the rays travel in (whitened
/// by the warmup metric, if any), velocities, `ln L − ln W`, `ln W`, and the gradient (in `z`) of
/// the first.
#[derive(Clone)]
pub(crate) struct Rays<A> {
    pub z: A,
    pub v: A,
    pub lp: Vec<f64>,
    pub ln_w: Vec<f64>,
    pub grad: A,
}

/// Where the rays' log densities come from: the exact target through a [`Weighting`], or each
/// chain's next minibatch; optionally in coordinates whitened by per-chain scales
/// (`x = scale ⊙ z`, `∇_z = scale ⊙ ∇_x`; the constant Jacobian cancels in every ratio).
pub(crate) struct RayEval<A: Rows> {
    weighting: Weighting,
    /// Each chain's batch schedule and the stream it shuffles with.
    batches: Option<Vec<(Batches, ChaCha8Rng)>>,
    /// Each chain's scales (host), and in the rows' form once any differs from 1.
    scales: Vec<Vec<f64>>,
    scale: Option<A::Metric>,
}

impl<A: Rows> RayEval<A> {
    /// The exact target through `weighting`, unwhitened, for `p` chains of dimension `d`.
    pub(crate) fn exact(weighting: &Weighting, p: usize, d: usize) -> Self {
        Self { weighting: weighting.clone(), batches: None, scales: vec![vec![1.0; d]; p], scale: None }
    }

    /// Minibatches: one schedule per chain, shuffled by `streams[r]`.
    fn minibatched(rows: &A, weighting: &Weighting, settings: &MinibatchSettings, streams: Vec<ChaCha8Rng>) -> Result<Self, SamplerError> {
        let detail = "minibatches need a target indexed by observation: a model with #[model(observations(x, y))], or a Target with observations() and logp_grad_minibatch";
        let n = rows.observations().ok_or_else(|| SamplerError::Setting { name: "minibatch", detail: detail.into() })?;
        let batches = streams.into_iter().map(|rng| Ok((Batches::new(n, settings.batch_size, settings.order)?, rng))).collect::<Result<Vec<_>, SamplerError>>()?;
        Ok(Self { batches: Some(batches), ..Self::exact(weighting, rows.len(), rows.dim()) })
    }

    /// Positions `x = scale ⊙ z` of every chain, on the host.
    fn positions(&self, rows: &A, z: &A::Array) -> Vec<f64> {
        let d = rows.dim();
        let mut x = rows.download(z);
        if self.scale.is_some() {
            for (xr, s) in x.chunks_mut(d).zip(&self.scales) {
                xr.iter_mut().zip(s).for_each(|(x, s)| *x *= s);
            }
        }
        x
    }

    /// `ln L − ln W`, `ln W` and the gradient (in `z`) of the rows with `need[r]`.
    pub(crate) fn eval(&mut self, rows: &A, z: &A::Array, need: &[bool]) -> Result<(Vec<f64>, Vec<f64>, A::Array), SamplerError> {
        let (p, d) = (rows.len(), rows.dim());
        let whitened = self.scale.as_ref().map(|s| rows.velocity(s, z));
        let x = whitened.as_ref().unwrap_or(z);
        let (lnl, mut g) = match &mut self.batches {
            Some(b) => {
                let batches: Vec<Option<&[usize]>> = b.iter_mut().zip(need).map(|((batches, rng), n)| n.then(|| batches.next(rng))).collect();
                rows.evaluate_minibatch(x, &batches)?
            }
            None => rows.evaluate(x, need)?,
        };
        let power = |a: f64, g: &mut A::Array| {
            rows.scale(g, &vec![1.0 - a; p]);
            (lnl.iter().map(|l| (1.0 - a) * l).collect(), lnl.iter().map(|l| if a == 0.0 { 0.0 } else { a * l }).collect())
        };
        let (lp, ln_w): (Vec<f64>, Vec<f64>) = match &self.weighting {
            Weighting::Unit | Weighting::Hmc => (lnl, vec![0.0; p]),
            Weighting::Power(a) => power(*a, &mut g),
            Weighting::Microcanonical => power(1.0 / d as f64, &mut g),
            Weighting::Custom(w) => {
                let xs = rows.download(x);
                let (mut gw, mut lnw) = (vec![0.0; p * d], vec![0.0; p]);
                for r in (0..p).filter(|&r| need[r]) {
                    lnw[r] = w(&xs[r * d..(r + 1) * d], &mut gw[r * d..(r + 1) * d]);
                }
                let minus: Vec<f64> = need.iter().map(|n| if *n { -1.0 } else { 0.0 }).collect();
                rows.axpy(&mut g, &minus, &rows.upload(&gw));
                (lnl.iter().zip(&lnw).map(|(l, w)| l - w).collect(), lnw)
            }
            Weighting::Metropolis => {
                g = rows.upload(&vec![0.0; p * d]);
                (vec![0.0; p], lnl)
            }
        };
        if let Some(s) = &self.scale {
            g = rows.velocity(s, &g);
        }
        Ok((lp, ln_w, g))
    }

    /// New scales for the chains with `Some`: the rows' whitening changes.
    fn rescale(&mut self, rows: &A, scales: Vec<Option<Vec<f64>>>) -> Result<(), SamplerError> {
        for (old, new) in self.scales.iter_mut().zip(scales) {
            if let Some(new) = new {
                *old = new;
            }
        }
        self.scale = Some(rows.metric(&self.scales.iter().cloned().map(Metric::Diag).collect::<Vec<_>>())?);
        Ok(())
    }
}

/// The exact rotation of a kick (Behroozi 2025, §1.4) from `|v| = l`, `|g| = gn` and
/// `cos θ_i = c`, for a duration `h` in dimension `d`, in the overflow-safe ζ-form: the new
/// velocity is `α·g + β·v`; returns `(α, β, dlnL_pred, turned)`. `|v| = 0`, `|g| = 0` or `h = 0`
/// keep `v` and predict 0; a non-finite `|g|` keeps `v` and predicts NaN. Never evaluates
/// `e^{+δ}`, so huge gradients cannot overflow: the ray turns fully towards `g`.
pub(crate) fn snell_coefficients(l: f64, gn: f64, c: f64, h: f64, d: usize) -> (f64, f64, f64, f64) {
    if !gn.is_finite() {
        return (0.0, 1.0, f64::NAN, 0.0);
    }
    if l == 0.0 || gn == 0.0 || h == 0.0 {
        return (0.0, 1.0, 0.0, 0.0);
    }
    let dm1 = (d as f64 - 1.0).max(1.0);
    let c = c.clamp(-1.0, 1.0);
    let delta = l * gn * h / dm1;
    let zeta = (-delta).exp();
    let one_m_zeta = -(-delta).exp_m1();
    // u_new ∝ A·e + B·u = (A·c + B)·u + A·sin θ_i·e⊥
    let a = one_m_zeta * ((1.0 + c) + zeta * (1.0 - c));
    let b = 2.0 * zeta;
    let (along, across) = (a * c + b, a * (1.0 - c * c).max(0.0).sqrt());
    let turned = across.atan2(along);
    let new_norm = (along * along + across * across).sqrt();
    let (alpha, beta) = if new_norm > 0.0 && new_norm.is_finite() { (l / new_norm * a / gn, l / new_norm * b / l) } else { (0.0, 1.0) };
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
    (alpha, beta, dm1 * (delta + log_half_s), turned)
}

/// One trajectory in progress for every chain of a group.
struct Integration<'a, A: Rows> {
    rows: &'a A,
    eval: &'a mut RayEval<A>,
    kick: Kick,
    p: &'a mut Rays<A::Array>,
    dirty: Vec<bool>,
    active: Vec<bool>,
    info: Vec<TrajectoryInfo>,
}

impl<A: Rows> Integration<'_, A> {
    fn masked(&self, h: &[f64]) -> Vec<f64> {
        h.iter().zip(&self.active).map(|(h, a)| if *a { *h } else { 0.0 }).collect()
    }
    fn stop(&mut self, r: usize) {
        self.info[r].non_finite = true;
        self.active[r] = false;
    }
    fn drift(&mut self, h: &[f64]) {
        let h = self.masked(h);
        self.rows.axpy(&mut self.p.z, &h, &self.p.v);
        for (d, h) in self.dirty.iter_mut().zip(&h) {
            *d |= *h != 0.0;
        }
    }
    /// Evaluates the active rows that moved and are in `want`.
    fn evaluate(&mut self, want: &[bool]) -> Result<(), SamplerError> {
        let need: Vec<bool> = (0..self.active.len()).map(|r| self.active[r] && self.dirty[r] && want[r]).collect();
        if !need.contains(&true) {
            return Ok(());
        }
        let (lp, ln_w, g) = self.eval.eval(self.rows, &self.p.z, &need)?;
        if need.iter().all(|n| *n) {
            self.p.grad = g;
        } else {
            self.rows.select(&need, &mut self.p.grad, &g);
        }
        for r in (0..need.len()).filter(|&r| need[r]) {
            (self.p.lp[r], self.p.ln_w[r]) = (lp[r], ln_w[r]);
            self.info[r].n_grad += 1;
            self.dirty[r] = false;
            if !lp[r].is_finite() || !ln_w[r].is_finite() {
                self.stop(r);
            }
        }
        Ok(())
    }
    /// A kick of duration `h[r]` of every active row (rows with `h[r] = 0` do not kick).
    fn kick(&mut self, h: &[f64]) -> Result<(), SamplerError> {
        if self.kick == Kick::Straight {
            return Ok(());
        }
        let want: Vec<bool> = h.iter().map(|h| *h != 0.0).collect();
        self.evaluate(&want)?;
        let h = self.masked(h);
        let rows = self.rows;
        let (vv, gg, vg) = (rows.row_dot(&self.p.v, &self.p.v), rows.row_dot(&self.p.grad, &self.p.grad), rows.row_dot(&self.p.v, &self.p.grad));
        let (mut pred, mut turned) = (vec![0.0; h.len()], vec![0.0; h.len()]);
        match self.kick {
            Kick::Newton => {
                // v ← v + h·g: the change of kinetic energy stands for dlnL_pred
                rows.axpy(&mut self.p.v, &h, &self.p.grad);
                let vv_new = rows.row_dot(&self.p.v, &self.p.v);
                for r in (0..h.len()).filter(|&r| h[r] != 0.0) {
                    pred[r] = 0.5 * vv_new[r] - 0.5 * vv[r];
                    turned[r] = super::newton_turning(vv[r], gg[r], vg[r], h[r]);
                    if !gg[r].is_finite() {
                        pred[r] = f64::NAN;
                    }
                }
            }
            _ => {
                let d = rows.dim();
                let (mut alpha, mut beta) = (vec![0.0; h.len()], vec![1.0; h.len()]);
                for r in (0..h.len()).filter(|&r| h[r] != 0.0) {
                    let (l, gn) = (vv[r].sqrt(), gg[r].sqrt());
                    (alpha[r], beta[r], pred[r], turned[r]) = snell_coefficients(l, gn, vg[r] / (l * gn), h[r], d);
                }
                rows.scale(&mut self.p.v, &beta);
                rows.axpy(&mut self.p.v, &alpha, &self.p.grad);
            }
        }
        for r in (0..h.len()).filter(|&r| h[r] != 0.0) {
            self.info[r].turning += turned[r];
            if pred[r].is_finite() {
                self.info[r].dlnl_pred += pred[r];
            } else {
                self.stop(r);
            }
        }
        Ok(())
    }
    /// The partial refresh `v ← f·v + √(1−f²)·ξ`, `f = e^{−|rate·τ|}`, of every active row, `ξ`
    /// from each chain's stream.
    fn refresh<R: Rng>(&mut self, rate: f64, tau: &[f64], rngs: &mut [R]) {
        let (p, d) = (self.active.len(), self.rows.dim());
        let (mut f, mut s, mut xi) = (vec![1.0; p], vec![0.0; p], vec![0.0; p * d]);
        for r in (0..p).filter(|&r| self.active[r]) {
            f[r] = (-(rate * tau[r]).abs()).exp();
            s[r] = (1.0 - f[r] * f[r]).sqrt();
            for x in &mut xi[r * d..(r + 1) * d] {
                *x = rngs[r].sample(StandardNormal);
            }
        }
        self.rows.scale(&mut self.p.v, &f);
        self.rows.axpy(&mut self.p.v, &s, &self.rows.upload(&xi));
    }
    fn step<R: Rng>(&mut self, integrator: Integrator, dt: &[f64], rngs: &mut [R]) -> Result<(), SamplerError> {
        let times = |f: f64| -> Vec<f64> { dt.iter().map(|h| f * h).collect() };
        match integrator {
            Integrator::Dkd => {
                self.drift(&times(0.5));
                self.kick(dt)?;
                self.drift(&times(0.5));
            }
            Integrator::Kdk => {
                self.kick(&times(0.5))?;
                self.drift(dt);
                self.kick(&times(0.5))?;
            }
            Integrator::Rdkd => {
                // each chain picks DKD or KDK from its own stream: K(kdk·h/2) D(h/2) K(dkd·h) D(h/2) K(kdk·h/2)
                let dkd: Vec<bool> = (0..dt.len()).map(|r| self.active[r] && rngs[r].gen::<bool>()).collect();
                let pick = |f: f64, when: bool| -> Vec<f64> { dt.iter().zip(&dkd).map(|(h, k)| if *k == when { f * h } else { 0.0 }).collect() };
                self.kick(&pick(0.5, false))?;
                self.drift(&times(0.5));
                self.kick(&pick(1.0, true))?;
                self.drift(&times(0.5));
                self.kick(&pick(0.5, false))?;
            }
            Integrator::Omelyan => {
                let l = OMELYAN_LAMBDA;
                self.kick(&times(l))?;
                self.drift(&times(0.5));
                self.kick(&times(1.0 - 2.0 * l))?;
                self.drift(&times(0.5));
                self.kick(&times(l))?;
            }
        }
        Ok(())
    }
}

/// Integrates `n_steps` steps of size `dt[r]` of every chain's ray `p` in place (§1.12 without
/// the Metropolis test); with `refresh_rate > 0`, partial refreshes O(dt/2) Φ O(dt) Φ … Φ O(dt/2)
/// around the steps. A chain whose ray meets a non-finite value stops there (`non_finite`); the
/// others end with `lp` and `grad` of their final position.
#[allow(clippy::too_many_arguments)]
pub(crate) fn trajectories<A: Rows, R: Rng>(rows: &A, eval: &mut RayEval<A>, kick: Kick, p: &mut Rays<A::Array>, dt: &[f64], n_steps: &[usize], integrator: Integrator, refresh_rate: f64, rngs: &mut [R]) -> Result<Vec<TrajectoryInfo>, SamplerError> {
    let n = rows.len();
    let mut it = Integration { rows, eval, kick, p, dirty: vec![false; n], active: vec![true; n], info: vec![TrajectoryInfo::default(); n] };
    let half: Vec<f64> = dt.iter().map(|h| 0.5 * h).collect();
    let longest = n_steps.iter().copied().max().unwrap_or(0);
    for j in 0..longest {
        if refresh_rate > 0.0 {
            it.refresh(refresh_rate, if j == 0 { &half } else { dt }, rngs);
        }
        for r in (0..n).filter(|&r| it.active[r]) {
            it.info[r].steps += 1;
        }
        it.step(integrator, dt, rngs)?;
        if !it.active.contains(&true) {
            return Ok(it.info);
        }
        // a chain whose own steps are done ends its trajectory here and sits out the others'
        // (no draw from its stream), so that its path is the same alone or beside others
        let done: Vec<bool> = (0..n).map(|r| it.active[r] && n_steps[r] == j + 1).collect();
        if j + 1 < longest && done.contains(&true) {
            if refresh_rate > 0.0 {
                let all = std::mem::replace(&mut it.active, done.clone());
                it.refresh(refresh_rate, &half, rngs);
                it.active = all;
            }
            it.evaluate(&done)?;
            for r in (0..n).filter(|&r| done[r]) {
                it.active[r] = false;
            }
        }
    }
    if refresh_rate > 0.0 {
        it.refresh(refresh_rate, &half, rngs);
    }
    it.evaluate(&vec![true; n])?;
    Ok(it.info)
}

/// The end of every chain's trajectory from `s` to `p` that started with velocities `v0`: the
/// Metropolis test on `ln α = Δ(lnL − lnW) − Σ dlnL_pred` (§1.8; plus `Δ ln W` for the selection
/// of [`Weighting::Metropolis`]), and on rejection the start with velocity `−v₀`. With minibatches
/// the test is off or the threshold rule `|ln α| ≤ reject_above` (§1.10 (c)).
pub(crate) fn finish<A: Rows, R: Rng>(rows: &A, s: &mut Rays<A::Array>, p: Rays<A::Array>, v0: A::Array, info: &[TrajectoryInfo], cfg: &RayTracing, rngs: &mut [R]) -> Vec<RayInfo> {
    let mut out = Vec::with_capacity(info.len());
    for (r, info) in info.iter().enumerate() {
        let selection = if cfg.weighting.selects() { p.ln_w[r] - s.ln_w[r] } else { 0.0 };
        let ln_alpha = if info.non_finite { f64::NEG_INFINITY } else { p.lp[r] - s.lp[r] - info.dlnl_pred + selection };
        let ln_alpha = if ln_alpha.is_nan() { f64::NEG_INFINITY } else { ln_alpha };
        let accept_prob = ln_alpha.min(0.0).exp();
        let divergent = info.non_finite || ln_alpha < -cfg.max_energy_error;
        let kept = match cfg.minibatch.as_ref().and_then(|m| m.reject_above) {
            Some(bound) => ln_alpha.abs() <= bound,
            None => !cfg.metropolis || rngs[r].gen::<f64>() < accept_prob,
        };
        let accepted = !info.non_finite && kept;
        let dphi = info.turning / info.steps.max(1) as f64;
        out.push(RayInfo { accept_prob, accepted, divergent, dlnl_pred: info.dlnl_pred, ln_alpha, n_grad: info.n_grad, dphi });
    }
    let take: Vec<bool> = out.iter().map(|i| i.accepted).collect();
    let mut v = v0;
    rows.scale(&mut v, &vec![-1.0; take.len()]);
    rows.select(&take, &mut v, &p.v);
    s.v = v;
    rows.select(&take, &mut s.z, &p.z);
    rows.select(&take, &mut s.grad, &p.grad);
    for r in (0..take.len()).filter(|&r| take[r]) {
        (s.lp[r], s.ln_w[r]) = (p.lp[r], p.ln_w[r]);
    }
    out
}

/// Warmup iterations after the last metric window, in which the step is tuned under the final
/// metric: 100 rather than Stan's 50, after which the draws of a 100-d standard normal had a
/// mean acceptance of 0.86 for a target of 0.75 (0.83 with 100).
const TERM_BUFFER: usize = 100;

/// The ray tracing sampler's chains: the kernel with each chain's warmup (the step towards the
/// target acceptance or `⟨Δφ⟩`, and the metric).
pub(crate) struct RayChains<A: Rows> {
    rows: A,
    eval: RayEval<A>,
    cfg: RayTracing,
    s: Rays<A::Array>,
    dt: Vec<f64>,
    da: Vec<DualAveraging>,
    dphi: Vec<Option<DphiTuner>>,
    /// The warmup's metric windows and each chain's estimator.
    metric: Option<(Vec<(usize, usize)>, Vec<Welford>)>,
    /// Whether each chain already travels in whitened coordinates.
    whitened: Vec<bool>,
    /// Each chain's arc (the setting's, or the one its warmup chose).
    arc: Vec<f64>,
    /// The warmup's choice of arcs, when it is asked for.
    arc_trial: Option<ArcTrial>,
}

/// The arcs a chain tries after the last metric window, as multiples of the setting's.
const ARC_TRIALS: [f64; 2] = [1.0, 2.0];

/// The warmup's choice of each chain's arc: after the last metric window (from iteration
/// `from`), trajectory `k` sweeps `arc · ARC_TRIALS[k mod 2]` and scores the ChEES statistic
/// `(|z′ − μ|² − |z − μ|²)²` in whitened coordinates, `μ` the window's mean; at the end of
/// warmup the chain keeps the trial arc with the highest mean score (the setting's on a tie).
struct ArcTrial {
    from: usize,
    centre: Vec<Vec<f64>>,
    score: Vec<[f64; ARC_TRIALS.len()]>,
    count: Vec<[usize; ARC_TRIALS.len()]>,
}

impl ArcTrial {
    /// Which trial arc iteration `iter` sweeps, if it is part of the trial.
    fn trial(&self, iter: usize) -> Option<usize> {
        (iter >= self.from).then(|| (iter - self.from) % ARC_TRIALS.len())
    }
}

impl<A: Rows> RayChains<A> {
    pub(crate) fn start(cfg: &RayTracing, rows: A, positions: Vec<Vec<f64>>, warmup: usize, rngs: &mut [ChaCha8Rng]) -> Result<Self, SamplerError> {
        use crate::sampler::Sampler;
        cfg.validate()?;
        let (p, d) = (rows.len(), rows.dim());
        if d < 2 && cfg.weighting.kick() == Kick::Snell {
            return Err(SamplerError::Setting { name: "dimension", detail: format!("the ray tracing sampler needs D ≥ 2 (its refractive index L^(1/(D−1)) is undefined for D = {d}); use HMC or NUTS") });
        }
        let mut x = Vec::with_capacity(p * d);
        for position in positions {
            if cfg.start_at_mode && warmup > 0 {
                let adam = crate::sampler::map::Adam { learning_rate: 0.05, max_steps: 2000, ..Default::default() };
                x.extend(crate::sampler::map::find_map(rows.host_target(), &position, &adam)?.point);
            } else {
                x.extend(position);
            }
        }
        let v = normals(&rows, 1.0, None, rngs);
        let mut eval = match &cfg.minibatch {
            // the batch schedule draws from its own stream, seeded from the chain's
            Some(m) => RayEval::minibatched(&rows, &cfg.weighting, m, rngs.iter_mut().map(|rng| ChaCha8Rng::seed_from_u64(rng.gen())).collect())?,
            None => RayEval::exact(&cfg.weighting, p, d),
        };
        let z = rows.upload(&x);
        let (lp, ln_w, grad) = eval.eval(&rows, &z, &vec![true; p])?;
        let s = Rays { z, v, lp, ln_w, grad };
        let metric = (cfg.metric && warmup > 0).then(|| (WindowedAdaptation::new(WindowedSettings { term_buffer: TERM_BUFFER, ..WindowedSettings::default() }, warmup, d).metric_windows(), (0..p).map(|_| Welford::new(d, false)).collect()));
        let arc_trial = match &metric {
            Some((windows, _)) if cfg.tune_arc && cfg.n_steps.is_none() => windows.last().map(|w| ArcTrial { from: w.1 + 1, centre: vec![vec![0.0; d]; p], score: vec![[0.0; ARC_TRIALS.len()]; p], count: vec![[0; ARC_TRIALS.len()]; p] }),
            _ => None,
        };
        Ok(Self { rows, eval, cfg: cfg.clone(), s, dt: vec![cfg.step_size; p], da: (0..p).map(|_| DualAveraging::new(cfg.target_accept, cfg.step_size)).collect(), dphi: (0..p).map(|_| cfg.target_dphi.map(DphiTuner::new)).collect(), metric, whitened: vec![false; p], arc: vec![cfg.arc; p], arc_trial })
    }

    /// At the end of a metric window: each chain's scales become its window's standard
    /// deviations, its ray moves to the new whitened coordinates, and its step size search
    /// restarts: at the first window from the initial `step_size` — in whitened coordinates the
    /// natural change of direction per step is O(0.1–1) whatever the target's scales, while the
    /// step reached under the unit metric can be orders of magnitude off (measured on kidiq:
    /// 2·10⁻⁵, from which the averaging never recovered) — and at later windows from the step
    /// reached under the previous whitening, which a refined metric hardly moves, with the
    /// averaging centred on it (restarted from `step_size` and centred on ten times the step,
    /// the last warmup iterations left the step at an acceptance of 0.86–0.89 for a target of
    /// 0.75 on a 100-d standard normal).
    fn adapt_metric(&mut self, iter: usize) -> Result<(), SamplerError> {
        let Some((windows, welford)) = self.metric.as_mut() else { return Ok(()) };
        let Some(&(first, last)) = windows.iter().find(|w| (w.0..=w.1).contains(&iter)) else { return Ok(()) };
        let (p, d) = (self.rows.len(), self.rows.dim());
        let x = self.eval.positions(&self.rows, &self.s.z);
        for (w, xr) in welford.iter_mut().zip(x.chunks(d)) {
            w.add(xr);
        }
        if iter < last || iter == first {
            return Ok(());
        }
        let scales: Vec<Option<Vec<f64>>> = welford.iter().map(|w| match w.estimate() {
            Some(Metric::Diag(var)) => Some(var.iter().map(|v| v.sqrt()).collect()),
            _ => None,
        }).collect();
        if let Some(trial) = self.arc_trial.as_mut() {
            for ((c, w), s) in trial.centre.iter_mut().zip(welford.iter()).zip(&scales) {
                if let Some(s) = s {
                    *c = w.mean().iter().zip(s).map(|(m, s)| m / s).collect();
                }
            }
        }
        welford.iter_mut().for_each(Welford::restart);
        let changed: Vec<bool> = scales.iter().map(Option::is_some).collect();
        if !changed.contains(&true) {
            return Ok(());
        }
        self.eval.rescale(&self.rows, scales)?;
        let mut z = self.rows.download(&self.s.z);
        for r in (0..p).filter(|&r| changed[r]) {
            for j in 0..d {
                z[r * d + j] = x[r * d + j] / self.eval.scales[r][j];
            }
        }
        self.s.z = self.rows.upload(&z);
        let (lp, ln_w, g) = self.eval.eval(&self.rows, &self.s.z, &changed)?;
        self.rows.select(&changed, &mut self.s.grad, &g);
        for r in (0..p).filter(|&r| changed[r]) {
            (self.s.lp[r], self.s.ln_w[r]) = (lp[r], ln_w[r]);
            let reached = self.da[r].final_step_size();
            self.dt[r] = if self.whitened[r] && reached.is_finite() && reached > 0.0 { reached } else { self.cfg.step_size };
            // from the step reached the averaging centres on it, not on ten times it
            let centre = if self.whitened[r] { self.dt[r] / 10.0 } else { self.dt[r] };
            self.whitened[r] = true;
            self.da[r] = DualAveraging::new(self.cfg.target_accept, centre);
            if let Some(t) = self.dphi[r].as_mut() {
                t.restart(iter);
            }
        }
        Ok(())
    }
}

impl<A: Rows> Chains for RayChains<A> {
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn step(&mut self, rngs: &mut [ChaCha8Rng], phase: Phase) -> Result<Vec<Vec<f64>>, SamplerError> {
        let used = self.dt.clone();
        let mut p = self.s.clone();
        if self.cfg.full_refresh {
            p.v = normals(&self.rows, 1.0, None, rngs);
        }
        let v0 = p.v.clone();
        let cfg = &self.cfg;
        let trial = match (phase, &self.arc_trial) {
            (Phase::Warmup { iter, .. }, Some(t)) => t.trial(iter),
            _ => None,
        };
        let multiple = trial.map_or(1.0, |k| ARC_TRIALS[k]);
        let steps: Vec<usize> = self.dt.iter().zip(&self.arc).map(|(dt, arc)| cfg.steps_along(*dt, arc * multiple)).collect();
        let z0 = trial.map(|_| self.rows.download(&self.s.z));
        let info = trajectories(&self.rows, &mut self.eval, cfg.weighting.kick(), &mut p, &self.dt, &steps, cfg.integrator, cfg.refresh_rate, rngs)?;
        let info = finish(&self.rows, &mut self.s, p, v0, &info, cfg, rngs);
        if let (Some(k), Some(z0), Some(t)) = (trial, z0, self.arc_trial.as_mut()) {
            let (z1, d) = (self.rows.download(&self.s.z), self.rows.dim());
            for r in 0..self.rows.len() {
                let c = &t.centre[r];
                let sq = |z: &[f64]| z.iter().zip(c).map(|(z, c)| (z - c) * (z - c)).sum::<f64>();
                let change = sq(&z1[r * d..(r + 1) * d]) - sq(&z0[r * d..(r + 1) * d]);
                if change.is_finite() {
                    t.score[r][k] += change * change;
                    t.count[r][k] += 1;
                }
            }
        }
        if let Phase::Warmup { iter, total } = phase {
            let exact = self.cfg.minibatch.is_none();
            for (r, info) in info.iter().enumerate() {
                match &mut self.dphi[r] {
                    Some(tuner) => self.dt[r] = tuner.learn(self.dt[r], info.dphi, iter, total),
                    None if exact => self.dt[r] = self.da[r].learn(info.accept_prob),
                    None => {}
                }
            }
            if exact {
                self.adapt_metric(iter)?;
            }
            if iter + 1 == total {
                if let Some(t) = &self.arc_trial {
                    for r in 0..self.arc.len() {
                        let rate = |k: usize| if t.count[r][k] > 0 { t.score[r][k] / t.count[r][k] as f64 } else { f64::NEG_INFINITY };
                        // the setting's arc unless another scored strictly more
                        let best = (0..ARC_TRIALS.len()).fold(0, |best, k| if rate(k) > rate(best) { k } else { best });
                        self.arc[r] = self.cfg.arc * ARC_TRIALS[best];
                    }
                }
                for r in 0..self.dt.len() {
                    match &self.dphi[r] {
                        Some(tuner) => self.dt[r] = tuner.final_step_size().unwrap_or(self.dt[r]),
                        None if exact => self.dt[r] = self.da[r].final_step_size(),
                        None => {}
                    }
                }
            }
        }
        let weighted = self.cfg.weighting.is_weighted();
        Ok(info
            .iter()
            .enumerate()
            .map(|(r, info)| {
                let mut stats = info.stats(used[r], steps[r]);
                if weighted {
                    stats.push(self.s.ln_w[r]);
                }
                stats
            })
            .collect())
    }
    fn positions(&self) -> Vec<Vec<f64>> {
        self.eval.positions(&self.rows, &self.s.z).chunks(self.rows.dim()).map(<[f64]>::to_vec).collect()
    }
    fn log_densities(&self) -> Vec<f64> {
        self.s.lp.iter().zip(&self.s.ln_w).map(|(l, w)| l + w).collect()
    }
    fn stat_names(&self) -> Vec<&'static str> {
        let mut names = STAT_NAMES.to_vec();
        if self.cfg.weighting.is_weighted() {
            names.push("log_weight__");
        }
        names
    }
    fn step_size(&self, r: usize) -> f64 {
        self.dt[r]
    }
    fn inv_metric(&self, r: usize) -> Vec<f64> {
        self.eval.scales[r].iter().map(|s| s * s).collect()
    }
}
