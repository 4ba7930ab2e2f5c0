//! The ray tracing sampler with its state on a dfdx device (CPU, or CUDA behind the `cuda`
//! feature): [`DeviceDensity`] evaluates a population of points there ([`DeviceModel`] makes any
//! `#[model]` one, through the dfdx backend), [`DeviceRays`] holds P rays there and integrates
//! their trajectories in lockstep, [`DeviceRayTracing`] runs chains on them.

mod density;
mod driver;
mod model;
mod noise;
pub(crate) mod ops;
mod rays;

pub use density::{DeviceDensity, DeviceGaussian, LogpGrad};
pub(crate) use density::no_minibatches;
pub use driver::DeviceRayTracing;
pub use model::DeviceModel;
pub use ops::{Column, Rows};
pub use noise::Noise;
pub use rays::{DeviceFloat, DeviceRays, DeviceTrajectory};
pub(crate) use rays::{download, upload, upload_column};

use crate::sampler::SamplerError;

/// A population's dimension against the density's.
pub(crate) fn check_dim(got: usize, want: usize) -> Result<(), SamplerError> {
    if got == want {
        Ok(())
    } else {
        Err(SamplerError::Setting { name: "dimension", detail: format!("points of dimension {got} for a density of dimension {want}") })
    }
}

/// Bytes of CUDA device memory in use (the driver's total minus free) on the current thread's
/// device, or `None` where the driver cannot tell. dfdx keeps freed buffers in its cache rather
/// than returning them to the driver, so after a run this is close to the run's peak.
#[cfg(feature = "cuda")]
pub fn cuda_memory_in_use() -> Option<usize> {
    cudarc::driver::result::mem_get_info().ok().map(|(free, total)| total.saturating_sub(free))
}
