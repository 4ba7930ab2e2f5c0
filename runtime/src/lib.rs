//! # snell
//!
//! Bayesian inference in Rust. Write a model as an ordinary function with `sample!` (a parameter
//! and its prior) and `observe!` (data and their likelihood), put `#[model]` on it, and get a struct
//! with a differentiable log density, evaluated for a whole population of parameter vectors at once,
//! on any [`backend::Backend`]: snell's native CPU backend (the default) or
//! [dfdx](https://docs.rs/dfdx) (CPU, and CUDA behind the `cuda` feature).
//!
//! - the model language: [`#[model]`](macro@model), [`sample!`], [`observe!`], [`deterministic!`], [`factor!`],
//!   [`log_prob!`]; values are [`Real`]s, distributions are in [`dist`];
//! - what a model offers: [`Model`] (log densities, constraining, prior draws, simulation), and
//!   [`Target`], the one interface every sampler consumes;
//! - samplers: [`sampler`] (NUTS, HMC, the driver), [`diagnostics`], [`output`] (CmdStan CSV),
//!   [`sbc`] (simulation-based calibration), [`vi`] (mean-field variational inference, the
//!   baseline), [`optim`] (Adam).
//!
//! See the README for a walk-through.

#![warn(missing_docs)]
#![warn(missing_debug_implementations)]
// `!(x > 0.0)` is used on purpose: it is true for NaN, which must count as invalid.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

extern crate self as snell;

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
mod readme {}

/// `Debug` for types whose fields (tensors, networks, closures, trait objects) print nothing
/// useful: the type's name with its parameters, e.g. `snell::backend::Dfdx<f64, dfdx::…::Cpu> { .. }`.
/// `opaque_debug!(impl[E, D: Device<E>] Type<E, D>)`: the generics of the `impl` in brackets.
macro_rules! opaque_debug {
    (impl[$($g:tt)*] $t:ty) => {
        impl<$($g)*> ::std::fmt::Debug for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{} {{ .. }}", ::std::any::type_name::<Self>())
            }
        }
    };
}

pub mod backend;
pub mod ctx;
pub mod data;
pub mod diagnostics;
pub mod dist;
pub mod error;
pub mod gp;
pub mod model;
pub mod nn;
pub mod optim;
pub mod output;
mod range;
pub mod sampler;
pub mod sbc;
pub mod target;
pub mod special;
mod transform;
pub mod value;
pub mod vi;

pub use ctx::{Ctx, Order};
pub use data::Matrix;
pub use error::ModelError;
pub use model::{Layout, Model, Simulation};
pub use target::Target;
pub use snell_macros::model;
pub use value::{concat, IntoReal, Real};

/// Everything a model file needs: `use snell::prelude::*;`.
pub mod prelude {
    pub use crate::backend::{Backend, Cpu32, Cpu64};
    pub use crate::data::Matrix;
    pub use crate::dist::*;
    pub use crate::error::ModelError;
    pub use crate::model::{Model, Simulation};
    pub use crate::target::Target;
    pub use crate::value::{concat, IntoReal, Real};
    pub use crate::{deterministic, factor, log_prob, observe, sample};
    pub use snell_macros::model;
}

/// Declares a parameter with its prior: `let mu = sample!(Normal(0.0, 1.0));`,
/// `let theta = sample!([n] ~ Normal(0.0, 1.0));`, `let s = sample!(Normal(0.0, 1.0), lower = 0.0);`.
///
/// Only meaningful inside a function marked `#[model]`, which rewrites it.
#[macro_export]
macro_rules! sample {
    ($($t:tt)*) => {
        ::core::compile_error!("`sample!` can only be used inside a function marked `#[model]`")
    };
}

/// States an observation with its likelihood: `observe!(y ~ Normal(mu, sigma));`.
///
/// Only meaningful inside a function marked `#[model]`, which rewrites it.
#[macro_export]
macro_rules! observe {
    ($($t:tt)*) => {
        ::core::compile_error!("`observe!` can only be used inside a function marked `#[model]`")
    };
}

/// Adds a term to the log density by hand (Stan's `target +=`): `factor!(-0.5 * x.square());`.
///
/// Only meaningful inside a function marked `#[model]`, which rewrites it.
#[macro_export]
macro_rules! factor {
    ($($t:tt)*) => {
        ::core::compile_error!("`factor!` can only be used inside a function marked `#[model]`")
    };
}

/// The element-wise log density of a value: `let lp = log_prob!(y ~ Normal(mu, sigma));` (Stan's
/// `normal_lpdf`), for likelihoods written by hand, e.g. mixtures with `log_sum_exp`.
///
/// Only meaningful inside a function marked `#[model]`, which rewrites it.
#[macro_export]
macro_rules! log_prob {
    ($($t:tt)*) => {
        ::core::compile_error!("`log_prob!` can only be used inside a function marked `#[model]`")
    };
}

/// Records a function of the parameters with every draw (Stan's transformed parameters and
/// generated quantities, PyMC's `Deterministic`): `let theta = deterministic!(mu + tau * z);`.
///
/// Only meaningful inside a function marked `#[model]`, which rewrites it.
#[macro_export]
macro_rules! deterministic {
    ($($t:tt)*) => {
        ::core::compile_error!("`deterministic!` can only be used inside a function marked `#[model]`")
    };
}

#[doc(hidden)]
pub mod __private {
    pub use crate::data::{Check, Subset};
    pub use crate::model::{check_observations, discover, length, FlatField, Length};
}
