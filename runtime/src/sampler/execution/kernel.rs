//! [`Kernel`]: a sampler whose transition is written once against [`Rows`], so that it runs in
//! every execution.

use super::{Chains, Rows};
use crate::sampler::{Sampler, SamplerError};
use rand_chacha::ChaCha8Rng;

/// A sampler whose chains run in any execution: its transition is written against [`Rows`]
/// (fixed-length trajectories: HMC, MALA, ray tracing, BAOAB, L2HMC, random-walk Metropolis, SGLD). [`Sampler::start_group`] of a kernel is `start_rows`
/// on host vectors; [`run_device`](super::run_device) calls it with dfdx tensors.
pub trait Kernel: Sampler {
    /// Starts the chains at `positions` (one per row of `rows`), chain `r` drawing from `rngs[r]`.
    fn start_rows<'a, A: Rows + 'a>(&self, rows: A, positions: Vec<Vec<f64>>, warmup: usize, rngs: &mut [ChaCha8Rng]) -> Result<Box<dyn Chains + 'a>, SamplerError>;
}
