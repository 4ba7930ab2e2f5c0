//! Chains in lockstep on one population-batched evaluation.
//!
//! Samplers whose trajectories have a fixed length (static HMC here; ray tracing and Langevin
//! kernels next) can move all chains together: every leapfrog step evaluates the log density of all
//! chains' positions as one `(P, D)` population, which costs far less per point than P separate
//! evaluations on small models. Each chain keeps its own random stream, step size, metric and
//! warmup, in the same order as the threaded driver uses them, so [`run_hmc_population`] gives the
//! draws that [`super::run`] gives with the same [`Hmc`] and seed.

use super::adapt::WindowedAdaptation;
use super::draws::{ChainDraws, Draws};
use super::driver::{chain_rng, initial_point, RunConfig};
use super::hmc::Hmc;
use super::metric::Metric;
use super::nuts::{Point, TransitionParams};
use super::target::{FnDensity, Target};
use super::{Phase, Sampler, SamplerError};
use crate::error::ModelError;
use crate::model::Model;
use rand::Rng;

/// A target that evaluates many points at once.
pub trait PopulationTarget: Target {
    /// Log densities (`lp`, length P) and gradients (`grad`, row-major `(P, D)`) of the rows of `q`.
    fn logp_grad_batch(&self, q: &[f64], lp: &mut [f64], grad: &mut [f64]) -> Result<(), ModelError>;
}

impl<M: Model> PopulationTarget for M {
    fn logp_grad_batch(&self, q: &[f64], lp: &mut [f64], grad: &mut [f64]) -> Result<(), ModelError> {
        self.log_density_grad_batch(q, lp, grad)
    }
}

impl<F: Fn(&[f64], &mut [f64]) -> f64 + Sync> PopulationTarget for FnDensity<F> {
    fn logp_grad_batch(&self, q: &[f64], lp: &mut [f64], grad: &mut [f64]) -> Result<(), ModelError> {
        let d = self.dim();
        for (i, l) in lp.iter_mut().enumerate() {
            *l = self.logp_grad(&q[i * d..(i + 1) * d], &mut grad[i * d..(i + 1) * d])?;
        }
        Ok(())
    }
}

struct Member {
    rng: rand_chacha::ChaCha8Rng,
    z: Point,
    params: TransitionParams,
    adapt: WindowedAdaptation,
    out: ChainDraws,
}

/// Static HMC with all `cfg.chains` chains in lockstep (one thread, one batched evaluation per
/// leapfrog step).
pub fn run_hmc_population<T: PopulationTarget>(hmc: &Hmc, target: &T, cfg: &RunConfig) -> Result<Draws, SamplerError> {
    hmc.validate()?;
    if cfg.chains == 0 {
        return Err(SamplerError::Setting { name: "chains", detail: "must be at least 1".into() });
    }
    let d = target.dim();
    let mut members = Vec::with_capacity(cfg.chains);
    for c in 0..cfg.chains {
        let mut rng = chain_rng(cfg.seed, c);
        let q0 = initial_point(target, cfg, c, &mut rng)?;
        let mut z = Point::new(target, q0)?;
        let mut params = TransitionParams { step_size: 1.0, metric: Metric::unit(d), max_depth: 0, max_delta_h: hmc.max_delta_h };
        let mut adapt = WindowedAdaptation::new(hmc.adapt.clone(), cfg.warmup, d);
        if cfg.warmup > 0 {
            adapt.init_step_size(target, &mut rng, &mut z, &mut params)?;
        }
        adapt.restart_step_size(params.step_size);
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
                if x.hamiltonian(&m.params.metric) - h0[c] > m.params.max_delta_h {
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
                    m.out.values.extend(target.constrain(&m.z.q)?);
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
        stat_names: ["accept_stat__", "stepsize__", "n_leapfrog__", "divergent__", "energy__"].iter().map(|s| s.to_string()).collect(),
        chains: members.into_iter().map(|m| m.out).collect(),
        sampler: hmc.name().to_string(),
        warmup: cfg.warmup,
        settings: hmc.settings(),
    })
}
