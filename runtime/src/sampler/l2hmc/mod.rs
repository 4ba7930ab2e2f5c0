//! L2HMC: HMC's leapfrog generalised by six learned functions (Levy, Hoffman & Sohl-Dickstein,
//! "Generalizing Hamiltonian Monte Carlo with Neural Networks", ICLR 2018).
//!
//! The momentum half-steps are scaled by `e^{½εS_v}`, their force by `e^{εQ_v}` and shifted by
//! `T_v`; the position updates act on two complementary random halves of the coordinates with
//! `S_x, Q_x, T_x`; a direction `d = ±1` picks the step or its inverse. Whatever the six functions
//! are, the kernel leaves the target invariant once the log-Jacobian of the trajectory enters the
//! Metropolis test, so training (here: [`train::Trainer`], dfdx with Adam) only changes how fast it
//! mixes, never what it samples.
//!
//! - [`net`]: the networks as plain f64 weights ([`Networks`]);
//! - [`dynamics`]: the augmented leapfrog, its inverse, the proposal and its acceptance;
//! - [`train`]: the networks as dfdx modules, the loss of the paper, Adam, save and load;
//! - [`L2hmc`]: the kernel as a [`Sampler`], so [`crate::sampler::run`] drives a trained kernel
//!   like any other sampler.

pub mod dynamics;
mod modules;
pub mod net;
mod settings;
pub mod train;

pub use dynamics::{propose, propose_with_step_size, Proposal, State};
pub use net::{Net, Networks};
pub use train::{load_networks, TrainDevice, TrainSettings, TrainStats, Trainer};

use crate::target::Target;
use super::{Chain, Phase, Sampler, SamplerError};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use std::sync::Arc;

/// The L2HMC kernel with fixed (e.g. trained) networks. One transition: draw `v ~ N(0, I)` and
/// `d ~ U{±1}`, propose M augmented leapfrog steps in direction d, accept with
/// `min(1, e^{H − H′ + log J})`. Warmup iterations are ordinary transitions (nothing adapts; the
/// networks were trained beforehand).
#[derive(Clone, Debug)]
pub struct L2hmc {
    /// The networks, step size and masks.
    pub networks: Arc<Networks>,
    /// Each transition uses the step size ε·(1 + j·u), u ~ U(−1, 1), for this j in [0, 1)
    /// (0: the trained ε). A trained kernel can turn some coordinates by a whole number of
    /// periods per trajectory, so that they barely move; jittering ε breaks that, as it does for
    /// HMC (Neal 2011, "MCMC using Hamiltonian dynamics"), and keeps the kernel exact (ε is drawn independently of the state).
    pub step_jitter: f64,
}

impl L2hmc {
    /// The kernel of `networks`, with the trained step size.
    pub fn new(networks: Networks) -> Self {
        Self { networks: Arc::new(networks), step_jitter: 0.0 }
    }

    /// The same kernel with the step size jittered by ±`step_jitter` (relative) per transition.
    pub fn with_step_jitter(self, step_jitter: f64) -> Self {
        Self { step_jitter, ..self }
    }
}

/// Names of L2HMC's per-draw statistics (`direction__` is the sampled d).
pub const STAT_NAMES: [&str; 6] = ["accept_stat__", "stepsize__", "n_leapfrog__", "divergent__", "energy__", "direction__"];

/// One L2HMC transition from `z` (momentum, direction and, when `step_jitter > 0`, the step size
/// ε·(1 + step_jitter·u) drawn from `rng`); returns the new state (with the momentum of the
/// proposal when accepted) and the statistics in [`STAT_NAMES`] order.
pub fn transition<R: Rng>(nets: &Networks, step_jitter: f64, target: &dyn Target, rng: &mut R, z: &State) -> Result<(State, Vec<f64>), SamplerError> {
    let mut start = z.clone();
    start.v.iter_mut().for_each(|v| *v = rng.sample(StandardNormal));
    let forward: bool = rng.gen();
    let eps = if step_jitter > 0.0 { nets.step_size() * (1.0 + step_jitter * rng.gen_range(-1.0..1.0)) } else { nets.step_size() };
    let p = propose_with_step_size(nets, eps, target, &start, forward)?;
    let accepted = rng.gen::<f64>() < p.accept_prob;
    let out = if accepted { p.state } else { start };
    let stats = vec![p.accept_prob, eps, nets.n_steps as f64, f64::from(u8::from(p.divergent)), out.hamiltonian(), if forward { 1.0 } else { -1.0 }];
    Ok((out, stats))
}

struct L2hmcChain<'t> {
    target: &'t dyn Target,
    nets: Arc<Networks>,
    step_jitter: f64,
    z: State,
}

impl Chain for L2hmcChain<'_> {
    fn step(&mut self, rng: &mut ChaCha8Rng, _phase: Phase) -> Result<Vec<f64>, SamplerError> {
        let (z, stats) = transition(&self.nets, self.step_jitter, self.target, rng, &self.z)?;
        self.z = z;
        Ok(stats)
    }
    fn position(&self) -> &[f64] {
        &self.z.x
    }
    fn log_density(&self) -> f64 {
        self.z.lp
    }
    fn stat_names(&self) -> Vec<&'static str> {
        STAT_NAMES.to_vec()
    }
    fn step_size(&self) -> f64 {
        self.nets.step_size()
    }
    fn inv_metric(&self) -> Vec<f64> {
        vec![1.0; self.z.x.len()]
    }
}

impl Sampler for L2hmc {
    fn name(&self) -> &'static str {
        "l2hmc"
    }
    fn validate(&self) -> Result<(), SamplerError> {
        if !(0.0..1.0).contains(&self.step_jitter) {
            return Err(SamplerError::Setting { name: "step_jitter", detail: format!("must be in [0, 1), got {}", self.step_jitter) });
        }
        self.networks.validate()
    }
    fn settings(&self) -> Vec<(String, String)> {
        let n = &self.networks;
        vec![("n_steps".into(), n.n_steps.to_string()), ("hidden".into(), n.v_net.hidden.to_string()), ("mask_seed".into(), n.mask_seed.to_string()), ("step_jitter".into(), self.step_jitter.to_string())]
    }
    fn start<'t>(&self, target: &'t dyn Target, position: Vec<f64>, _warmup: usize, _rng: &mut ChaCha8Rng) -> Result<Box<dyn Chain + 't>, SamplerError> {
        if target.dim() != self.networks.dim() {
            return Err(SamplerError::Setting { name: "networks", detail: format!("trained for dimension {}, the target has {}", self.networks.dim(), target.dim()) });
        }
        let d = position.len();
        let z = State::new(target, position, vec![0.0; d])?;
        Ok(Box::new(L2hmcChain { target, nets: self.networks.clone(), step_jitter: self.step_jitter, z }))
    }
}
