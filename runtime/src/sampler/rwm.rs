//! Random-walk Metropolis (Metropolis et al. 1953): `x′ = x + σ·s ⊙ ξ`, accepted with probability
//! `min(1, π(x′)/π(x))`. The baseline that gradient-based samplers are measured against.
//!
//! Warmup tunes the scale σ by dual averaging towards the acceptance that is optimal for product
//! targets in high dimension (0.234, Roberts, Gelman & Gilks 1997; 0.44 in one dimension), starting
//! from σ = 2.38/√D, and estimates the per-coordinate scales `s` from the draws in Stan's doubling
//! windows (the same schedule as the Hamiltonian samplers' metric).
//!
//! The transition is a [`Kernel`] over [`Rows`], so one chain per thread, [`Lockstep`](super::Lockstep)
//! and [`run_device`](super::run_device) run the same chains; it evaluates log densities alone
//! ([`Rows::log_densities`]), without gradients where the execution can.

use super::adapt::{DualAveraging, WindowedAdaptation, WindowedSettings, Welford};
use super::execution::{normals, Chains, HostRows, Kernel, Rows};
use super::metric::Metric;
use super::{Phase, Sampler, SamplerError};
use crate::target::Target;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Random-walk Metropolis with a diagonal Gaussian proposal.
#[derive(Clone, Debug, Default)]
pub struct RandomWalkMetropolis {
    /// Target acceptance of the warmup's dual averaging; `None`: 0.234 (0.44 when D = 1).
    pub target_accept: Option<f64>,
    /// The proposal's scale σ, its step size: where warmup starts (`None`: 2.38/√D), or used as
    /// given when there is no warmup.
    pub step_size: Option<f64>,
}

const STAT_NAMES: [&str; 3] = ["accept_stat__", "stepsize__", "divergent__"];

impl Sampler for RandomWalkMetropolis {
    fn name(&self) -> &'static str {
        "rwm"
    }
    fn validate(&self) -> Result<(), SamplerError> {
        if let Some(a) = self.target_accept {
            if !(a > 0.0 && a < 1.0) {
                return Err(SamplerError::Setting { name: "target_accept", detail: format!("{a} is not in (0, 1)") });
            }
        }
        if let Some(s) = self.step_size {
            if !(s > 0.0 && s.is_finite()) {
                return Err(SamplerError::Setting { name: "step_size", detail: format!("{s} must be positive and finite") });
            }
        }
        Ok(())
    }
    fn settings(&self) -> Vec<(String, String)> {
        vec![("proposal".into(), "diag_gaussian".into())]
    }
    fn start_group<'t>(&self, target: &'t dyn Target, positions: Vec<Vec<f64>>, warmup: usize, rngs: &mut [ChaCha8Rng]) -> Result<Box<dyn Chains + 't>, SamplerError> {
        let rows = HostRows::new(target, positions.len());
        self.start_rows(rows, positions, warmup, rngs)
    }
}

impl Kernel for RandomWalkMetropolis {
    fn start_rows<'a, A: Rows + 'a>(&self, rows: A, positions: Vec<Vec<f64>>, warmup: usize, _rngs: &mut [ChaCha8Rng]) -> Result<Box<dyn Chains + 'a>, SamplerError> {
        self.validate()?;
        let (p, d) = (rows.len(), rows.dim());
        let q = rows.upload(&positions.concat());
        let lp = rows.log_densities(&q, &vec![true; p])?;
        let delta = self.target_accept.unwrap_or(if d == 1 { 0.44 } else { 0.234 });
        let scale = self.step_size.unwrap_or(2.38 / (d.max(1) as f64).sqrt());
        // Stan's window schedule decides when the proposal's per-coordinate scales are re-estimated
        let windows = WindowedAdaptation::new(WindowedSettings::default(), warmup, d).metric_windows();
        let mut step = DualAveraging::new(delta, scale);
        // centre the shrinkage on σ itself rather than Stan's 10σ: a random walk's good scale is
        // close to where it starts
        step.restart(scale / 10.0);
        let scales = vec![vec![1.0; d]; p];
        let sqrt_metric = rows.metric(&scales.iter().map(|s| Metric::Diag(s.clone())).collect::<Vec<_>>())?;
        Ok(Box::new(RwmChains { q, lp, scale: vec![scale; p], steps: vec![step; p], scales, sqrt_metric, welford: vec![Welford::new(d, false); p], windows, iter: 0, rows }))
    }
}

/// The chains of a run: positions as rows, the proposal's scales and their warmup per chain.
struct RwmChains<A: Rows> {
    rows: A,
    q: A::Array,
    lp: Vec<f64>,
    /// σ of each chain.
    scale: Vec<f64>,
    /// Each chain's per-coordinate scales `s`, and the same as a diagonal metric of `rows`.
    scales: Vec<Vec<f64>>,
    sqrt_metric: A::Metric,
    steps: Vec<DualAveraging>,
    welford: Vec<Welford>,
    windows: Vec<(usize, usize)>,
    iter: usize,
}

impl<A: Rows> RwmChains<A> {
    /// Warmup after a transition: σ towards the target acceptance; within a metric window the
    /// positions join each chain's estimate of its scales, which are replaced at the window's end.
    fn adapt(&mut self, accept: &[f64], total: usize) -> Result<(), SamplerError> {
        for (scale, (step, a)) in self.scale.iter_mut().zip(self.steps.iter_mut().zip(accept)) {
            *scale = step.learn(*a);
        }
        let it = self.iter;
        if let Some(&(first, last)) = self.windows.iter().find(|w| (w.0..=w.1).contains(&it)) {
            let q = self.rows.download(&self.q);
            for (w, row) in self.welford.iter_mut().zip(q.chunks(self.rows.dim().max(1))) {
                w.add(row);
            }
            if it == last && it > first {
                for (w, s) in self.welford.iter_mut().zip(&mut self.scales) {
                    if let Some(Metric::Diag(var)) = w.estimate() {
                        *s = var.iter().map(|v| v.sqrt()).collect();
                    }
                    w.restart();
                }
                self.sqrt_metric = self.rows.metric(&self.scales.iter().map(|s| Metric::Diag(s.clone())).collect::<Vec<_>>())?;
            }
        }
        self.iter += 1;
        if self.iter == total {
            for (scale, step) in self.scale.iter_mut().zip(&self.steps) {
                *scale = step.final_step_size();
            }
        }
        Ok(())
    }
}

impl<A: Rows> Chains for RwmChains<A> {
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn step(&mut self, rngs: &mut [ChaCha8Rng], phase: Phase) -> Result<Vec<Vec<f64>>, SamplerError> {
        let p = self.rows.len();
        let used = self.scale.clone();
        let xi = normals(&self.rows, 1.0, None, rngs);
        let mut proposal = self.q.clone();
        self.rows.axpy(&mut proposal, &used, &self.rows.velocity(&self.sqrt_metric, &xi));
        let lp = self.rows.log_densities(&proposal, &vec![true; p])?;
        let mut accept = vec![0.0; p];
        let mut take = vec![false; p];
        for r in 0..p {
            let log_alpha = lp[r] - self.lp[r];
            accept[r] = if log_alpha.is_nan() { 0.0 } else { log_alpha.exp().min(1.0) };
            take[r] = rngs[r].gen::<f64>() < accept[r];
            if take[r] {
                self.lp[r] = lp[r];
            }
        }
        self.rows.select(&take, &mut self.q, &proposal);
        if let Phase::Warmup { total, .. } = phase {
            self.adapt(&accept, total)?;
        }
        Ok((0..p).map(|r| vec![accept[r], used[r], 0.0]).collect())
    }
    fn positions(&self) -> Vec<Vec<f64>> {
        self.rows.download(&self.q).chunks(self.rows.dim().max(1)).map(<[f64]>::to_vec).collect()
    }
    fn log_densities(&self) -> Vec<f64> {
        self.lp.clone()
    }
    fn stat_names(&self) -> Vec<&'static str> {
        STAT_NAMES.to_vec()
    }
    fn step_size(&self, r: usize) -> f64 {
        self.scale[r]
    }
    fn inv_metric(&self, r: usize) -> Vec<f64> {
        self.scales[r].iter().map(|s| s * s).collect()
    }
}
