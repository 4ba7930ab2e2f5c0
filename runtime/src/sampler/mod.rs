//! Samplers and the machinery they share.
//!
//! Every sampler is a [`Sampler`]: a recipe that starts a group of [`Chains`] (one chain, or all
//! chains of a run in lockstep; see [`execution`]). Chains take one transition at a time, in one
//! of two phases: warmup (the transition's parameters, e.g. step size and metric,
//! adapt) and sampling (they are frozen). The transition itself and the adaptation are separate
//! pieces (as in BlackJAX's kernels and adaptation routines): [`nuts::transition`] knows nothing of
//! adaptation, [`adapt::WindowedAdaptation`] knows nothing of trees.
//!
//! [`run`] drives `chains × (warmup + draws)` for any sampler, one chain per thread (or all in
//! [`Lockstep`]), with one independent random stream per chain derived from one seed, and returns
//! [`Draws`]; [`run_device`] drives the same chains of a [`Kernel`] on a dfdx device.

pub mod adapt;
pub mod checks;
pub(crate) mod driver;
mod progress;
mod draws;
pub mod hmc;
pub mod langevin;
pub mod map;
pub mod mala;
pub mod l2hmc;
pub mod metric;
pub mod minibatch;
pub mod nuts;
pub mod obabo;
#[cfg(feature = "nuts-rs")]
pub mod nutpie;
pub mod phase_space;
pub mod execution;
pub mod ray_tracing;
pub mod rwm;
mod select;
pub mod sgld;
pub mod smc;
mod thin;
pub(crate) mod threads;

pub use driver::{chain_rng, run, run_observed, ChainStart, Observer, RunConfig, MAX_CHAINS};
pub(crate) use driver::initial_point;
pub use draws::{ChainDraws, Draws};
pub use execution::{run_device, run_device_observed, Chains, Kernel, Lockstep, Single};
pub use minibatch::{Batches, Order};
pub use progress::Progress;
pub use select::Select;
pub use thin::Thin;

use crate::error::ModelError;
use crate::target::Target;
use rand_chacha::ChaCha8Rng;

/// Errors of samplers and of the driver.
/// New kinds of error may be added: match with a `_` arm.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SamplerError {
    /// A setting is out of range.
    #[error("invalid sampler setting `{name}`: {detail}")]
    Setting {
        /// The setting.
        name: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// No initial point with a finite log density and gradient was found.
    #[error("chain {chain}: no initial point with a finite log density after {tries} tries ({detail})")]
    Init {
        /// The chain.
        chain: usize,
        /// Points tried.
        tries: usize,
        /// The last failure.
        detail: String,
    },
    /// The model could not be evaluated.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// An external sampling engine (nuts-rs) failed.
    #[error("{detail}")]
    Engine {
        /// What the engine reported.
        detail: String,
    },
    /// Output could not be written or read.
    #[error("{path}: {detail}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        detail: String,
        /// The operating system's error, where one caused it (its kind tells a missing file from a
        /// permission problem).
        #[source]
        source: Option<IoSource>,
    },
}

/// The [`std::io::Error`] behind a [`SamplerError::Io`], shared so that the error stays `Clone`;
/// two are equal when their kinds and messages are.
#[derive(Clone, Debug)]
pub struct IoSource(pub std::sync::Arc<std::io::Error>);

impl IoSource {
    /// The I/O error.
    pub fn error(&self) -> &std::io::Error {
        &self.0
    }
}

impl PartialEq for IoSource {
    fn eq(&self, other: &Self) -> bool {
        self.0.kind() == other.0.kind() && self.0.to_string() == other.0.to_string()
    }
}

impl std::fmt::Display for IoSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for IoSource {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

impl SamplerError {
    /// An [`Io`](SamplerError::Io) error about `path` without an operating-system cause.
    pub fn io(path: impl Into<String>, detail: impl Into<String>) -> Self {
        SamplerError::Io { path: path.into(), detail: detail.into(), source: None }
    }

    /// An [`Io`](SamplerError::Io) error about `path` caused by `e`, kept as its source.
    pub fn from_io(path: impl Into<String>, e: std::io::Error) -> Self {
        SamplerError::Io { path: path.into(), detail: e.to_string(), source: Some(IoSource(std::sync::Arc::new(e))) }
    }
}

/// Which phase a transition belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Warmup iteration `iter` of `total`: parameters adapt.
    Warmup {
        /// 0-based iteration.
        iter: usize,
        /// Number of warmup iterations.
        total: usize,
    },
    /// Sampling: parameters are fixed.
    Sampling,
}

/// One chain of a sampler. A chain stays on the thread that started it (so engines with
/// thread-local state, such as nuts-rs's, fit), which is all the driver needs.
pub trait Chain {
    /// One transition; returns the per-draw statistics (in [`Chain::stat_names`] order).
    fn step(&mut self, rng: &mut ChaCha8Rng, phase: Phase) -> Result<Vec<f64>, SamplerError>;
    /// The current unconstrained position.
    fn position(&self) -> &[f64];
    /// The log density at the current position.
    fn log_density(&self) -> f64;
    /// Names of the statistics, CmdStan style (`accept_stat__`, `stepsize__`, …).
    fn stat_names(&self) -> Vec<&'static str>;
    /// The adapted step size (for output headers).
    fn step_size(&self) -> f64;
    /// The adapted inverse metric (diagonal, or a dense matrix row-major).
    fn inv_metric(&self) -> Vec<f64>;
}

/// A sampling algorithm with its settings.
///
/// The driver starts chains through [`start_group`](Sampler::start_group). A sampler whose chains
/// move one at a time implements [`start`](Sampler::start) and gets the group of one for free; a
/// fixed-length-trajectory kernel (HMC, MALA, ray tracing, BAOAB, L2HMC, random-walk Metropolis, SGLD) implements `start_group` for any number of chains,
/// which is what lets [`Lockstep`] run all chains on one population evaluation.
pub trait Sampler: Sync {
    /// The name written to output headers (e.g. `"nuts"`).
    fn name(&self) -> &'static str;
    /// Checks the settings.
    fn validate(&self) -> Result<(), SamplerError>;
    /// Settings as `key = value` pairs for output headers.
    fn settings(&self) -> Vec<(String, String)>;
    /// Starts one chain at `position` (which has a finite log density). The default refuses: the
    /// sampler starts its chains through [`start_group`](Sampler::start_group).
    fn start<'t>(&self, target: &'t dyn Target, position: Vec<f64>, warmup: usize, rng: &mut ChaCha8Rng) -> Result<Box<dyn Chain + 't>, SamplerError> {
        let _ = (target, position, warmup, rng);
        Err(SamplerError::Setting { name: "execution", detail: format!("{} starts its chains as a group (Sampler::start_group)", self.name()) })
    }
    /// Starts the chains at `positions` (one per chain, each with a finite log density), chain
    /// `r` drawing from `rngs[r]`. By default one chain through [`start`](Sampler::start); more
    /// than one is refused, naming the execution.
    fn start_group<'t>(&self, target: &'t dyn Target, mut positions: Vec<Vec<f64>>, warmup: usize, rngs: &mut [ChaCha8Rng]) -> Result<Box<dyn Chains + 't>, SamplerError> {
        if positions.len() != 1 {
            return Err(lockstep_refused(self.name()));
        }
        Ok(Box::new(Single(self.start(target, positions.remove(0), warmup, &mut rngs[0])?)))
    }
    /// Whether the driver runs all chains as one group ([`Lockstep`]) rather than one chain per
    /// thread (the default).
    fn lockstep(&self) -> bool {
        false
    }
}

/// The error of a sampler asked to run chains in lockstep that moves one chain at a time.
pub(crate) fn lockstep_refused(name: &str) -> SamplerError {
    SamplerError::Setting { name: "execution", detail: format!("{name} runs one chain per thread: its trajectories differ in length from chain to chain, so its chains cannot move in lockstep (HMC, MALA, ray tracing, BAOAB, L2HMC, random-walk Metropolis and SGLD can)") }
}
