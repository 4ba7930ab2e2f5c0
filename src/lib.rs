//! Examples, integration tests and benchmarks of snell live in this package (`examples/`,
//! `tests/`); the library itself is the `snell` crate in `runtime/`.

pub mod counting;
pub mod mlp;
pub mod posteriordb;
pub mod regression;
pub mod peers;
pub mod bnn;
pub mod plot;
pub mod targets;
