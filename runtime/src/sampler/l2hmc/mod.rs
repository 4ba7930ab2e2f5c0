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
//!   like any other sampler, in every execution (threads, lockstep, device).

pub mod dynamics;
mod modules;
pub mod net;
mod settings;
pub mod train;

pub use dynamics::{propose, propose_with_step_size, Proposal, State};
pub use net::{Net, Networks};
pub use train::{load_networks, TrainDevice, TrainSettings, TrainStats, Trainer};

use super::execution::{Chains, HostRows, Kernel, Rows};
use super::{Phase, Sampler, SamplerError};
use crate::target::Target;
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
    let mut z = vec![z.clone()];
    let stats = transitions(nets, step_jitter, &HostRows::new(target, 1), std::slice::from_mut(rng), &mut z)?;
    Ok((z.remove(0), stats.into_iter().next().unwrap_or_default()))
}

/// One transition of every chain of `z`, chain `r` drawing from `rngs[r]`; the proposals' gradients
/// are population evaluations of `rows`. Returns each chain's statistics.
fn transitions<A: Rows, R: Rng>(nets: &Networks, step_jitter: f64, rows: &A, rngs: &mut [R], z: &mut [State]) -> Result<Vec<Vec<f64>>, SamplerError> {
    let mut starts = z.to_vec();
    let (mut forward, mut eps) = (Vec::with_capacity(z.len()), Vec::with_capacity(z.len()));
    for (start, rng) in starts.iter_mut().zip(rngs.iter_mut()) {
        start.v.iter_mut().for_each(|v| *v = rng.sample(StandardNormal));
        forward.push(rng.gen::<bool>());
        eps.push(if step_jitter > 0.0 { nets.step_size() * (1.0 + step_jitter * rng.gen_range(-1.0..1.0)) } else { nets.step_size() });
    }
    let proposals = dynamics::proposals(nets, &eps, rows, &starts, &forward)?;
    let mut stats = Vec::with_capacity(z.len());
    for (r, ((p, start), rng)) in proposals.into_iter().zip(starts).zip(rngs.iter_mut()).enumerate() {
        let accepted = rng.gen::<f64>() < p.accept_prob;
        z[r] = if accepted { p.state } else { start };
        stats.push(vec![p.accept_prob, eps[r], nets.n_steps as f64, f64::from(u8::from(p.divergent)), z[r].hamiltonian(), if forward[r] { 1.0 } else { -1.0 }]);
    }
    Ok(stats)
}

/// L2HMC's chains: the kernel over [`Rows`].
struct L2hmcChains<A> {
    rows: A,
    nets: Arc<Networks>,
    step_jitter: f64,
    z: Vec<State>,
}

impl<A: Rows> Chains for L2hmcChains<A> {
    fn len(&self) -> usize {
        self.z.len()
    }
    fn step(&mut self, rngs: &mut [ChaCha8Rng], _phase: Phase) -> Result<Vec<Vec<f64>>, SamplerError> {
        transitions(&self.nets, self.step_jitter, &self.rows, rngs, &mut self.z)
    }
    fn positions(&self) -> Vec<Vec<f64>> {
        self.z.iter().map(|z| z.x.clone()).collect()
    }
    fn log_densities(&self) -> Vec<f64> {
        self.z.iter().map(|z| z.lp).collect()
    }
    fn stat_names(&self) -> Vec<&'static str> {
        STAT_NAMES.to_vec()
    }
    fn step_size(&self, _r: usize) -> f64 {
        self.nets.step_size()
    }
    fn inv_metric(&self, _r: usize) -> Vec<f64> {
        vec![1.0; self.rows.dim()]
    }
}

impl Kernel for L2hmc {
    fn start_rows<'a, A: Rows + 'a>(&self, rows: A, positions: Vec<Vec<f64>>, _warmup: usize, _rngs: &mut [ChaCha8Rng]) -> Result<Box<dyn Chains + 'a>, SamplerError> {
        if rows.dim() != self.networks.dim() {
            return Err(SamplerError::Setting { name: "networks", detail: format!("trained for dimension {}, the target has {}", self.networks.dim(), rows.dim()) });
        }
        let d = rows.dim();
        let (lp, grad) = rows.evaluate(&rows.upload(&positions.concat()), &vec![true; positions.len()])?;
        let grad = rows.download(&grad);
        let z = positions.into_iter().enumerate().map(|(r, x)| State { x, v: vec![0.0; d], lp: lp[r], grad: grad[r * d..(r + 1) * d].to_vec() }).collect();
        Ok(Box::new(L2hmcChains { rows, nets: self.networks.clone(), step_jitter: self.step_jitter, z }))
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
    fn start_group<'t>(&self, target: &'t dyn Target, positions: Vec<Vec<f64>>, warmup: usize, rngs: &mut [ChaCha8Rng]) -> Result<Box<dyn Chains + 't>, SamplerError> {
        self.start_rows(HostRows::new(target, positions.len()), positions, warmup, rngs)
    }
}
