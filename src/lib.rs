//! Examples, integration tests and benchmarks of snell live in this package (`examples/`,
//! `tests/`); the library itself is the `snell` crate in `runtime/`. The modules here are the
//! pieces several examples and tests share.

pub mod bnn;
pub mod counting;
pub mod energy_targets;
pub mod l2hmc_study;
pub mod l2hmc_train;
pub mod mlp;
pub mod netbench;
pub mod peers;
pub mod plot;
pub mod posteriordb;
pub mod regression;
pub mod sin_net;
pub mod targets;
