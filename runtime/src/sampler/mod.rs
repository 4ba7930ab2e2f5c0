//! Samplers and the machinery they share.
//!
//! Every sampler is a [`Sampler`]: a recipe that starts [`Chain`]s. A chain takes one transition
//! at a time, in one of two phases: warmup (the transition's parameters, e.g. step size and metric,
//! adapt) and sampling (they are frozen). The transition itself and the adaptation are separate
//! pieces (as in BlackJAX's kernels and adaptation routines): [`nuts::transition`] knows nothing of
//! adaptation, [`adapt::WindowedAdaptation`] knows nothing of trees.
//!
//! [`run`] drives `chains × (warmup + draws)` for any sampler, in parallel, with one independent
//! random stream per chain derived from one seed, and returns [`Draws`].

pub mod adapt;
pub mod checks;
mod driver;
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
#[cfg(feature = "nuts-rs")]
pub mod nutpie;
pub mod phase_space;
pub mod population;
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
pub use minibatch::{Batches, Order};
pub use progress::Progress;
pub use select::Select;
pub use thin::Thin;

use crate::error::ModelError;
use crate::target::Target;
use rand_chacha::ChaCha8Rng;

/// Errors of samplers and of the driver.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
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
    },
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
    /// Whether a draw's statistics mark a divergent transition.
    fn is_divergent(&self, stats: &[f64]) -> bool {
        let names = self.stat_names();
        names.iter().position(|n| *n == "divergent__").is_some_and(|i| stats[i] != 0.0)
    }
}

/// A sampling algorithm with its settings.
pub trait Sampler: Sync {
    /// The name written to output headers (e.g. `"nuts"`).
    fn name(&self) -> &'static str;
    /// Checks the settings.
    fn validate(&self) -> Result<(), SamplerError>;
    /// Settings as `key = value` pairs for output headers.
    fn settings(&self) -> Vec<(String, String)>;
    /// Starts a chain at `position` (which has a finite log density).
    fn start<'t>(&self, target: &'t dyn Target, position: Vec<f64>, warmup: usize, rng: &mut ChaCha8Rng) -> Result<Box<dyn Chain + 't>, SamplerError>;
}
