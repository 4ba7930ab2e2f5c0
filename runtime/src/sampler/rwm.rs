//! Random-walk Metropolis (Metropolis et al. 1953): `x′ = x + σ·s ⊙ ξ`, accepted with probability
//! `min(1, π(x′)/π(x))`. The baseline that gradient-based samplers are measured against.
//!
//! Warmup tunes the scale σ by dual averaging towards the acceptance that is optimal for product
//! targets in high dimension (0.234, Roberts, Gelman & Gilks 1997; 0.44 in one dimension), starting
//! from σ = 2.38/√D, and estimates the per-coordinate scales `s` from the draws in Stan's doubling
//! windows (the same schedule as the Hamiltonian samplers' metric).

use super::adapt::{DualAveraging, WindowedAdaptation, WindowedSettings, Welford};
use super::metric::Metric;
use crate::target::Target;
use super::{Chain, Phase, Sampler, SamplerError};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Random-walk Metropolis with a diagonal Gaussian proposal.
#[derive(Clone, Debug, Default)]
pub struct RandomWalkMetropolis {
    /// Target acceptance of the warmup's dual averaging; `None`: 0.234 (0.44 when D = 1).
    pub target_accept: Option<f64>,
    /// The proposal's scale σ, its step size: where warmup starts (`None`: 2.38/√D), or used as
    /// given when there is no warmup.
    pub step_size: Option<f64>,
}

const STATS: [&str; 3] = ["accept_stat__", "stepsize__", "divergent__"];

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
    fn start<'t>(&self, target: &'t dyn Target, position: Vec<f64>, warmup: usize, _rng: &mut ChaCha8Rng) -> Result<Box<dyn Chain + 't>, SamplerError> {
        self.validate()?;
        let d = position.len();
        let lp = target.logp(&position)?;
        let delta = self.target_accept.unwrap_or(if d == 1 { 0.44 } else { 0.234 });
        let scale = self.step_size.unwrap_or(2.38 / (d as f64).sqrt());
        // Stan's window schedule decides when the proposal's per-coordinate scales are re-estimated
        let windows = WindowedAdaptation::new(WindowedSettings::default(), warmup, d).metric_windows();
        let mut step = DualAveraging::new(delta, scale);
        // centre the shrinkage on σ itself rather than Stan's 10σ: a random walk's good scale is
        // close to where it starts
        step.restart(scale / 10.0);
        Ok(Box::new(RwmChain { target, q: position, lp, proposal: vec![0.0; d], scales: vec![1.0; d], scale, step, windows, welford: Welford::new(d, false), iter: 0 }))
    }
}

struct RwmChain<'t> {
    target: &'t dyn Target,
    q: Vec<f64>,
    lp: f64,
    proposal: Vec<f64>,
    scales: Vec<f64>,
    scale: f64,
    step: DualAveraging,
    windows: Vec<(usize, usize)>,
    welford: Welford,
    iter: usize,
}

impl Chain for RwmChain<'_> {
    fn step(&mut self, rng: &mut ChaCha8Rng, phase: Phase) -> Result<Vec<f64>, SamplerError> {
        let used = self.scale;
        for i in 0..self.q.len() {
            let z: f64 = StandardNormal.sample(rng);
            self.proposal[i] = self.q[i] + used * self.scales[i] * z;
        }
        let lp = self.target.logp(&self.proposal)?;
        let log_alpha = lp - self.lp;
        let accept = if log_alpha.is_nan() { 0.0 } else { log_alpha.exp().min(1.0) };
        if rng.gen::<f64>() < accept {
            std::mem::swap(&mut self.q, &mut self.proposal);
            self.lp = lp;
        }
        if let Phase::Warmup { total, .. } = phase {
            self.scale = self.step.learn(accept);
            let it = self.iter;
            if let Some(&(first, last)) = self.windows.iter().find(|w| (w.0..=w.1).contains(&it)) {
                self.welford.add(&self.q);
                if it == last && it > first {
                    if let Some(Metric::Diag(var)) = self.welford.estimate() {
                        self.scales = var.iter().map(|v| v.sqrt()).collect();
                    }
                    self.welford.restart();
                }
            }
            self.iter += 1;
            if self.iter == total {
                self.scale = self.step.final_step_size();
            }
        }
        Ok(vec![accept, used, 0.0])
    }
    fn position(&self) -> &[f64] {
        &self.q
    }
    fn log_density(&self) -> f64 {
        self.lp
    }
    fn stat_names(&self) -> Vec<&'static str> {
        STATS.to_vec()
    }
    fn step_size(&self) -> f64 {
        self.scale
    }
    fn inv_metric(&self) -> Vec<f64> {
        self.scales.iter().map(|s| s * s).collect()
    }
}
