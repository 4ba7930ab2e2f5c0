//! Three ways to execute the same chains.
//!
//! A sampler's transition is written once, as a kernel over a population of chains ([`Rows`]):
//! positions, momenta and gradients as `(P, D)` arrays, per-chain scalars on the host. The driver
//! ([`run`](crate::sampler::run)) then executes the chains
//!
//! - **one per thread** (the default): a group of one chain per thread, host vectors;
//! - **in lockstep** ([`Lockstep`]): all chains as one group on one thread, so that every step
//!   is one population evaluation `(P, D)` of the target, which costs far less per point than P
//!   separate evaluations on small models;
//! - **on a device** ([`run_device`]): all chains as one group whose arrays are dfdx tensors on a
//!   device (`Cpu`, or `Cuda` behind the `cuda` feature), evaluated there by the target
//!   ([`Target::logp_grad_device`]: any `#[model]` through the dfdx backend).
//!
//! Chain `c` draws from stream `c` of the run's seed in every execution, in the same order, so
//! threads and lockstep give bit-identical draws and the device the same draws up to its
//! arithmetic (equal within 1e-9 on dfdx's `Cpu` in f64). Observers, warmup and the assembly of
//! [`Draws`](crate::sampler::Draws) live once, in the driver.

mod chains;
mod device;
mod host;
mod kernel;
mod rows;

pub use chains::{Chains, Single};
pub(crate) use chains::is_divergent;
pub use device::{run_device, run_device_observed};
pub(crate) use device::DeviceRows;
pub use kernel::Kernel;
pub use host::HostRows;
pub use rows::Rows;
pub(crate) use rows::normals;

use super::{Sampler, SamplerError};
use crate::target::Target;
use rand_chacha::ChaCha8Rng;

/// Runs `sampler`'s chains in lockstep: all chains as one group on one thread, every step one
/// population evaluation of the target. The draws are those of the sampler run one chain per
/// thread (bit for bit); samplers whose trajectories differ in length from chain to chain (NUTS)
/// are refused before the run.
///
/// ```
/// use snell::sampler::{hmc::Hmc, run, Lockstep, RunConfig};
/// use snell::target::FnDensity;
/// let target = FnDensity::new(2, |q, g| { g[0] = -q[0]; g[1] = -q[1]; -0.5 * (q[0] * q[0] + q[1] * q[1]) });
/// let cfg = RunConfig { chains: 4, warmup: 100, draws: 100, seed: 1, init: None };
/// let lockstep = run(&Lockstep(Hmc::new(5)), &target, &cfg).unwrap();
/// assert_eq!(lockstep.chains, run(&Hmc::new(5), &target, &cfg).unwrap().chains);
/// ```
#[derive(Clone, Debug)]
pub struct Lockstep<S>(pub S);

impl<S: Sampler> Sampler for Lockstep<S> {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn validate(&self) -> Result<(), SamplerError> {
        self.0.validate()
    }
    fn settings(&self) -> Vec<(String, String)> {
        let mut s = self.0.settings();
        s.push(("execution".into(), "lockstep".into()));
        s
    }
    fn start_group<'t>(&self, target: &'t dyn Target, positions: Vec<Vec<f64>>, warmup: usize, rngs: &mut [ChaCha8Rng]) -> Result<Box<dyn Chains + 't>, SamplerError> {
        self.0.start_group(target, positions, warmup, rngs)
    }
    fn lockstep(&self) -> bool {
        true
    }
}
