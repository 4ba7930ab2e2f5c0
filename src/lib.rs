//! Examples, integration tests and benchmarks of snell live in this package (`examples/`,
//! `tests/`); the library itself is the `snell` crate in `runtime/`.

pub mod posteriordb;
pub mod peers;
pub mod plot;
pub mod energy_targets;
pub mod l2hmc_study;
pub mod l2hmc_train;
