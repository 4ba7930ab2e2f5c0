//! Static HMC: a fixed number of leapfrog steps and a Metropolis test, the simple special case of
//! [`super::nuts`]; tuned by the same windowed warmup.

use super::adapt::{WindowedAdaptation, WindowedSettings};
use super::metric::Metric;
use super::phase_space::{Point, TransitionParams};
use crate::target::Target;
use super::{Chain, Phase, Sampler, SamplerError};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// What one HMC transition did.
#[derive(Clone, Debug)]
pub struct HmcInfo {
    /// Metropolis acceptance probability `min(1, e^{−ΔH})`.
    pub accept_prob: f64,
    /// Whether the proposal was accepted.
    pub accepted: bool,
    /// Whether the energy error exceeded the divergence threshold.
    pub divergent: bool,
    /// Hamiltonian at the new point.
    pub energy: f64,
}

/// One HMC transition of `n_steps` leapfrog steps from `z` (momentum redrawn).
pub fn transition<R: Rng>(target: &dyn Target, rng: &mut R, z: &Point, params: &TransitionParams, n_steps: usize) -> Result<(Point, HmcInfo), SamplerError> {
    let mut x = z.clone();
    params.metric.sample_momentum(rng, &mut x.p);
    let h0 = x.hamiltonian(&params.metric);
    let mut scratch = vec![0.0; x.q.len()];
    let mut divergent = false;
    for _ in 0..n_steps {
        x.leapfrog(target, &params.metric, params.step_size, &mut scratch)?;
        if x.hamiltonian(&params.metric) - h0 > params.max_energy_error {
            divergent = true;
            break;
        }
    }
    let h = x.hamiltonian(&params.metric);
    let accept_prob = if divergent { 0.0 } else { (h0 - h).exp().min(1.0) };
    let accepted = rng.gen::<f64>() < accept_prob;
    let energy = if accepted { h } else { h0 };
    let out = if accepted { x } else { z.clone() };
    Ok((out, HmcInfo { accept_prob, accepted, divergent, energy }))
}

/// Static HMC with `n_steps` leapfrog steps per transition.
#[derive(Clone, Debug)]
pub struct Hmc {
    /// Leapfrog steps per transition.
    pub n_steps: usize,
    /// Energy error that marks a divergence (1000).
    pub max_energy_error: f64,
    /// Warmup settings (step size towards the target acceptance, metric).
    pub adapt: WindowedSettings,
}

impl Hmc {
    /// HMC with `n_steps` leapfrog steps and default warmup.
    pub fn new(n_steps: usize) -> Self {
        Self { n_steps, max_energy_error: 1000.0, adapt: WindowedSettings { target_accept: 0.65, ..Default::default() } }
    }
}

impl Hmc {
    /// A chain's starting state at `position`: unit metric, and Stan's initial step-size search
    /// when there is a warmup. Shared by the threaded chains and the lockstep population.
    pub(crate) fn begin<R: Rng>(&self, target: &dyn Target, position: Vec<f64>, warmup: usize, rng: &mut R) -> Result<(Point, TransitionParams, WindowedAdaptation), SamplerError> {
        let d = position.len();
        let mut z = Point::new(target, position)?;
        let mut params = TransitionParams { step_size: 1.0, metric: Metric::unit(d), max_depth: 0, max_energy_error: self.max_energy_error };
        let adapt = WindowedAdaptation::begin(self.adapt.clone(), warmup, target, rng, &mut z, &mut params)?;
        Ok((z, params, adapt))
    }
}

/// Names of HMC's per-draw statistics.
pub(crate) const STAT_NAMES: [&str; 5] = ["accept_stat__", "stepsize__", "n_leapfrog__", "divergent__", "energy__"];

struct HmcChain<'t> {
    target: &'t dyn Target,
    z: Point,
    params: TransitionParams,
    adapt: WindowedAdaptation,
    n_steps: usize,
}

impl Chain for HmcChain<'_> {
    fn step(&mut self, rng: &mut ChaCha8Rng, phase: Phase) -> Result<Vec<f64>, SamplerError> {
        let used = self.params.step_size;
        let (z, info) = transition(self.target, rng, &self.z, &self.params, self.n_steps)?;
        self.z = z;
        if let Phase::Warmup { .. } = phase {
            self.adapt.update(self.target, rng, &mut self.z, &mut self.params, info.accept_prob)?;
        }
        Ok(vec![info.accept_prob, used, self.n_steps as f64, f64::from(u8::from(info.divergent)), info.energy])
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
        self.params.step_size
    }
    fn inv_metric(&self) -> Vec<f64> {
        self.params.metric.to_vec()
    }
}

impl Sampler for Hmc {
    fn name(&self) -> &'static str {
        "hmc"
    }
    fn validate(&self) -> Result<(), SamplerError> {
        if self.n_steps == 0 {
            return Err(SamplerError::Setting { name: "n_steps", detail: "must be at least 1".into() });
        }
        self.adapt.validate()
    }
    fn settings(&self) -> Vec<(String, String)> {
        vec![("engine".into(), "static".into()), ("n_steps".into(), self.n_steps.to_string()), ("metric".into(), if self.adapt.dense { "dense_e" } else { "diag_e" }.into())]
    }
    fn start<'t>(&self, target: &'t dyn Target, position: Vec<f64>, warmup: usize, rng: &mut ChaCha8Rng) -> Result<Box<dyn Chain + 't>, SamplerError> {
        let (z, params, adapt) = self.begin(target, position, warmup, rng)?;
        Ok(Box::new(HmcChain { target, z, params, adapt, n_steps: self.n_steps }))
    }
}
