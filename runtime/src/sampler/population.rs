//! Chains in lockstep on one population-batched evaluation.
//!
//! Samplers whose trajectories have a fixed length (static HMC and ray tracing here; Langevin
//! kernels next) can move all chains together: every leapfrog step evaluates the log density of all
//! chains' positions as one `(P, D)` population, which costs far less per point than P separate
//! evaluations on small models. Each chain keeps its own random stream, step size, metric and
//! warmup, in the same order as the threaded driver uses them, so [`run_hmc_population`] and
//! [`run_ray_tracing_population`] give the draws that [`super::run`] gives with the same settings and seed.

use super::adapt::{DualAveraging, WindowedAdaptation};
use super::draws::{ChainDraws, Draws};
use super::driver::{chain_rng, initial_point, RunConfig};
use super::hmc::{Hmc, STAT_NAMES as HMC_STATS};
use super::phase_space::{Point, TransitionParams};
use super::ray_tracing::{finish, kick_turning as ray_kick, partial_refresh, Integrator, RayState, RayTracing, TrajectoryInfo, Weighting, OMELYAN_LAMBDA, STAT_NAMES as RAY_STATS};
use crate::target::Target;
use super::{Phase, Sampler, SamplerError};
use rand::Rng;
use rand_distr::StandardNormal;

struct Member {
    rng: rand_chacha::ChaCha8Rng,
    z: Point,
    params: TransitionParams,
    adapt: WindowedAdaptation,
    out: ChainDraws,
}

/// Static HMC with all `cfg.chains` chains in lockstep (one thread, one batched evaluation per
/// leapfrog step).
pub fn run_hmc_population<T: Target>(hmc: &Hmc, target: &T, cfg: &RunConfig) -> Result<Draws, SamplerError> {
    hmc.validate()?;
    cfg.validate(target.dim(), target.names().len())?;
    let d = target.dim();
    let mut members = Vec::with_capacity(cfg.chains);
    for c in 0..cfg.chains {
        let mut rng = chain_rng(cfg.seed, c);
        let q0 = initial_point(target, cfg, c, &mut rng)?;
        let (z, params, adapt) = hmc.begin(target, q0, cfg.warmup, &mut rng)?;
        members.push(Member { rng, z, params, adapt, out: ChainDraws::default() });
    }
    let p = members.len();
    let (mut q, mut lp, mut grad, mut v) = (vec![0.0; p * d], vec![0.0; p], vec![0.0; p * d], vec![0.0; d]);
    let mut rows: Vec<usize> = Vec::with_capacity(p);
    for iter in 0..cfg.warmup + cfg.draws {
        let phase = if iter < cfg.warmup { Phase::Warmup { iter, total: cfg.warmup } } else { Phase::Sampling };
        let mut xs: Vec<Point> = members.iter().map(|m| m.z.clone()).collect();
        let mut h0 = vec![0.0; p];
        for (c, m) in members.iter_mut().enumerate() {
            m.params.metric.sample_momentum(&mut m.rng, &mut xs[c].p);
            h0[c] = xs[c].hamiltonian(&m.params.metric);
        }
        let mut active = vec![true; p];
        let mut divergent = vec![false; p];
        for _ in 0..hmc.n_steps {
            // the first half of each active chain's leapfrog step, then one evaluation of them all
            rows.clear();
            for (c, m) in members.iter().enumerate().filter(|(c, _)| active[*c]) {
                let (x, eps) = (&mut xs[c], m.params.step_size);
                for (pi, g) in x.p.iter_mut().zip(&x.grad) {
                    *pi += 0.5 * eps * g;
                }
                m.params.metric.velocity(&x.p, &mut v);
                for (qi, vi) in x.q.iter_mut().zip(&v) {
                    *qi += eps * vi;
                }
                q[rows.len() * d..(rows.len() + 1) * d].copy_from_slice(&x.q);
                rows.push(c);
            }
            if rows.is_empty() {
                break;
            }
            let k = rows.len();
            target.logp_grad_batch(&q[..k * d], &mut lp[..k], &mut grad[..k * d])?;
            for (r, &c) in rows.iter().enumerate() {
                let (x, m) = (&mut xs[c], &members[c]);
                x.lp = lp[r];
                x.grad.copy_from_slice(&grad[r * d..(r + 1) * d]);
                if !x.lp.is_finite() || x.grad.iter().any(|g| !g.is_finite()) {
                    x.lp = f64::NEG_INFINITY;
                } else {
                    let eps = m.params.step_size;
                    for (pi, g) in x.p.iter_mut().zip(&x.grad) {
                        *pi += 0.5 * eps * g;
                    }
                }
                if x.hamiltonian(&m.params.metric) - h0[c] > m.params.max_energy_error {
                    divergent[c] = true;
                    active[c] = false;
                }
            }
        }
        for (c, (m, x)) in members.iter_mut().zip(xs).enumerate() {
            let used = m.params.step_size;
            let h = x.hamiltonian(&m.params.metric);
            let accept_prob = if divergent[c] { 0.0 } else { (h0[c] - h).exp().min(1.0) };
            let accepted = m.rng.gen::<f64>() < accept_prob;
            let energy = if accepted { h } else { h0[c] };
            if accepted {
                m.z = x;
            }
            match phase {
                Phase::Warmup { .. } => m.adapt.update(target, &mut m.rng, &mut m.z, &mut m.params, accept_prob)?,
                Phase::Sampling => {
                    m.out.lp.push(m.z.lp);
                    m.out.stats.extend_from_slice(&[accept_prob, used, hmc.n_steps as f64, f64::from(u8::from(divergent[c])), energy]);
                    m.out.values.extend(target.output_values(&m.z.q)?);
                }
            }
            if iter + 1 == cfg.warmup {
                m.out.step_size = m.params.step_size;
                m.out.inv_metric = m.params.metric.to_vec();
            }
        }
    }
    if cfg.warmup == 0 {
        for m in &mut members {
            m.out.step_size = m.params.step_size;
            m.out.inv_metric = m.params.metric.to_vec();
        }
    }
    Ok(Draws {
        names: target.names(),
        stat_names: HMC_STATS.iter().map(|s| s.to_string()).collect(),
        chains: members.into_iter().map(|m| m.out).collect(),
        sampler: hmc.name().to_string(),
        warmup: cfg.warmup,
        settings: hmc.settings(),
    })
}

/// One ray of a lockstep ray-tracing run: its chain's state and the trajectory in progress.
struct Ray {
    rng: rand_chacha::ChaCha8Rng,
    s: RayState,
    dt: f64,
    da: DualAveraging,
    out: ChainDraws,
    // the trajectory in progress
    p: RayState,
    dirty: bool,
    active: bool,
    non_finite: bool,
    pred: f64,
    n_grad: usize,
    turning: f64,
}

/// Evaluates every active ray whose position moved, in one batch.
fn evaluate_moved<T: Target + ?Sized>(target: &T, rays: &mut [Ray], buf: &mut (Vec<f64>, Vec<f64>, Vec<f64>), d: usize) -> Result<(), SamplerError> {
    let (q, lp, grad) = buf;
    let rows: Vec<usize> = (0..rays.len()).filter(|&c| rays[c].active && rays[c].dirty).collect();
    if rows.is_empty() {
        return Ok(());
    }
    for (r, &c) in rows.iter().enumerate() {
        q[r * d..(r + 1) * d].copy_from_slice(&rays[c].p.x);
    }
    let k = rows.len();
    target.logp_grad_batch(&q[..k * d], &mut lp[..k], &mut grad[..k * d])?;
    for (r, &c) in rows.iter().enumerate() {
        let ray = &mut rays[c];
        ray.p.lp = lp[r];
        ray.p.grad.copy_from_slice(&grad[r * d..(r + 1) * d]);
        ray.n_grad += 1;
        ray.dirty = false;
        if !ray.p.lp.is_finite() || ray.p.grad.iter().any(|g| !g.is_finite()) {
            ray.non_finite = true;
            ray.active = false;
        }
    }
    Ok(())
}

fn drift_all(rays: &mut [Ray], f: f64) {
    for ray in rays.iter_mut().filter(|r| r.active) {
        let h = f * ray.dt;
        for (x, v) in ray.p.x.iter_mut().zip(&ray.p.v) {
            *x += h * v;
        }
        ray.dirty = true;
    }
}

fn kick_all<T: Target + ?Sized>(target: &T, rays: &mut [Ray], f: f64, buf: &mut (Vec<f64>, Vec<f64>, Vec<f64>), d: usize) -> Result<(), SamplerError> {
    evaluate_moved(target, rays, buf, d)?;
    for ray in rays.iter_mut().filter(|r| r.active) {
        let (pred, turned) = ray_kick(&mut ray.p.v, &ray.p.grad, f * ray.dt, d);
        ray.turning += turned;
        if pred.is_finite() {
            ray.pred += pred;
        } else {
            ray.non_finite = true;
            ray.active = false;
        }
    }
    Ok(())
}

/// The ray tracing sampler with all chains' rays in lockstep: every gradient evaluation of a step
/// is one population evaluation. Gives the draws of [`super::run`] with the same settings and seed.
/// The random per-step choice of [`Integrator::Rdkd`] cannot run in lockstep and is refused.
pub fn run_ray_tracing_population<T: Target>(rt: &RayTracing, target: &T, cfg: &RunConfig) -> Result<Draws, SamplerError> {
    rt.validate()?;
    if !matches!(rt.weighting, Weighting::Unit) || rt.minibatch.is_some() || rt.metric || rt.start_at_mode {
        return Err(SamplerError::Setting { name: "weighting", detail: "the lockstep driver runs plain ray tracing with exact gradients , a unit metric and the given starts: use run for weightings, minibatches, metrics and starts at the mode".into() });
    }
    if rt.integrator == Integrator::Rdkd {
        return Err(SamplerError::Setting { name: "integrator", detail: "RDKD picks each step's integrator at random per ray, which cannot run in lockstep: use DKD, KDK or Omelyan".into() });
    }
    cfg.validate(target.dim(), target.names().len())?;
    let d = target.dim();
    if d < 2 {
        return Err(SamplerError::Setting { name: "dimension", detail: format!("the ray tracing sampler needs D ≥ 2, got {d}; use HMC or NUTS") });
    }
    let mut rays = Vec::with_capacity(cfg.chains);
    for c in 0..cfg.chains {
        let mut rng = chain_rng(cfg.seed, c);
        let q0 = initial_point(target, cfg, c, &mut rng)?;
        let v: Vec<f64> = (0..d).map(|_| rng.sample(StandardNormal)).collect();
        let s = RayState::new(target, q0, v)?;
        rays.push(Ray { rng, p: s.clone(), s, dt: rt.step_size, da: DualAveraging::new(rt.target_accept, rt.step_size), out: ChainDraws::default(), dirty: false, active: true, non_finite: false, pred: 0.0, n_grad: 0, turning: 0.0 });
    }
    let n = rays.len();
    let mut buf = (vec![0.0; n * d], vec![0.0; n], vec![0.0; n * d]);
    let mut v0s = vec![Vec::new(); n];
    for iter in 0..cfg.warmup + cfg.draws {
        for (ray, v0) in rays.iter_mut().zip(v0s.iter_mut()) {
            ray.p = ray.s.clone();
            if rt.full_refresh {
                for vi in ray.p.v.iter_mut() {
                    *vi = ray.rng.sample(StandardNormal);
                }
            }
            v0.clone_from(&ray.p.v);
            (ray.dirty, ray.active, ray.non_finite, ray.pred, ray.n_grad, ray.turning) = (false, true, false, 0.0, 0, 0.0);
        }
        for j in 0..rt.n_steps {
            if rt.refresh_rate > 0.0 {
                for ray in rays.iter_mut().filter(|r| r.active) {
                    let tau = if j == 0 { 0.5 * ray.dt } else { ray.dt };
                    partial_refresh(&mut ray.p.v, rt.refresh_rate, tau, &mut ray.rng);
                }
            }
            match rt.integrator {
                Integrator::Dkd | Integrator::Rdkd => {
                    drift_all(&mut rays, 0.5);
                    kick_all(target, &mut rays, 1.0, &mut buf, d)?;
                    drift_all(&mut rays, 0.5);
                }
                Integrator::Kdk => {
                    kick_all(target, &mut rays, 0.5, &mut buf, d)?;
                    drift_all(&mut rays, 1.0);
                    kick_all(target, &mut rays, 0.5, &mut buf, d)?;
                }
                Integrator::Omelyan => {
                    let l = OMELYAN_LAMBDA;
                    kick_all(target, &mut rays, l, &mut buf, d)?;
                    drift_all(&mut rays, 0.5);
                    kick_all(target, &mut rays, 1.0 - 2.0 * l, &mut buf, d)?;
                    drift_all(&mut rays, 0.5);
                    kick_all(target, &mut rays, l, &mut buf, d)?;
                }
            }
        }
        if rt.refresh_rate > 0.0 {
            for ray in rays.iter_mut().filter(|r| r.active) {
                partial_refresh(&mut ray.p.v, rt.refresh_rate, 0.5 * ray.dt, &mut ray.rng);
            }
        }
        evaluate_moved(target, &mut rays, &mut buf, d)?;
        for (ray, v0) in rays.iter_mut().zip(&v0s) {
            let used = ray.dt;
            let trajectory = TrajectoryInfo { dlnl_pred: ray.pred, n_grad: ray.n_grad, non_finite: ray.non_finite, turning: ray.turning };
            let (s, info) = finish(&ray.s, ray.p.clone(), v0, &trajectory, rt, &mut ray.rng);
            ray.s = s;
            if iter < cfg.warmup {
                ray.dt = ray.da.learn(info.accept_prob);
                if iter + 1 == cfg.warmup {
                    ray.dt = ray.da.final_step_size();
                }
            } else {
                ray.out.lp.push(ray.s.lp);
                ray.out.stats.extend(info.stats(used, rt.n_steps));
                ray.out.values.extend(target.output_values(&ray.s.x)?);
            }
            if iter + 1 == cfg.warmup || (cfg.warmup == 0 && iter == 0) {
                ray.out.step_size = ray.dt;
                ray.out.inv_metric = vec![1.0; d];
            }
        }
    }
    Ok(Draws {
        names: target.names(),
        stat_names: RAY_STATS.iter().map(|s| s.to_string()).collect(),
        chains: rays.into_iter().map(|r| r.out).collect(),
        sampler: rt.name().to_string(),
        warmup: cfg.warmup,
        settings: rt.settings(),
    })
}
