//! The one error type that model construction and evaluation return.

/// What went wrong building or evaluating a model. Every message names the model's own variables.
/// New kinds of error may be added: match with a `_` arm.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// Two values that must have equal or broadcastable lengths do not.
    #[error("shape mismatch in {site}: {detail}")]
    Shape {
        /// Where: a parameter, an observed expression or the model.
        site: String,
        /// What is wrong.
        detail: String,
    },
    /// A data argument has an invalid value (NaN, infinite, negative count…).
    #[error("invalid data in `{name}`: {detail}")]
    Data {
        /// The data argument.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// Observed data lie outside the support of their distribution.
    #[error("observed `{site}` is outside the support of {dist}: {detail}")]
    OutOfSupport {
        /// Where: a parameter, an observed expression or the model.
        site: String,
        /// The distribution's name.
        dist: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A distribution parameter that does not depend on parameters is invalid (e.g. a negative scale).
    #[error("invalid parameter of {dist} in `{site}`: {detail}")]
    InvalidParameter {
        /// Where: a parameter, an observed expression or the model.
        site: String,
        /// The distribution's name.
        dist: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A parameter vector of the wrong length was passed in.
    #[error("expected {expected} values ({what}), got {got}")]
    Dimension {
        /// What was counted.
        what: String,
        /// How many were expected.
        expected: usize,
        /// How many were given.
        got: usize,
    },
    /// A parameter has a distribution that cannot be sampled with gradients.
    #[error("parameter `{site}` has the discrete distribution {dist}; discrete parameters must be marginalised out")]
    Discrete {
        /// Where: a parameter, an observed expression or the model.
        site: String,
        /// The distribution's name.
        dist: &'static str,
    },
    /// The log density is NaN at a point where it should be defined.
    #[error("the log density is not a number{where_}")]
    NotANumber {
        /// Where it happened.
        where_: String,
    },
    /// A constrained value given by the user is outside its parameter's support.
    #[error("value of `{site}` is outside its support: {detail}")]
    Constraint {
        /// Where: a parameter, an observed expression or the model.
        site: String,
        /// What is wrong.
        detail: String,
    },
    /// Random draws from the prior failed (e.g. a truncation that rejects nearly everything).
    #[error("cannot draw `{site}`: {detail}")]
    Draw {
        /// Where: a parameter, an observed expression or the model.
        site: String,
        /// What is wrong.
        detail: String,
    },
    /// The model's own code panicked while it ran (an index out of range, the sum of an empty
    /// vector of `Real`s, …): caught and reported, the evaluation's other results dropped.
    #[error("the model panicked in {site}: {message}")]
    Panicked {
        /// Where: the code after the last `sample!`/`observe!` that ran, or the model.
        site: String,
        /// The panic's message.
        message: String,
    },
    /// The target does not offer a capability a sampler asked of it (minibatches, prior draws, …).
    #[error("{what} not available: {detail}")]
    Unsupported {
        /// The capability.
        what: &'static str,
        /// Why, and what would offer it.
        detail: String,
    },
}

/// `Result` with [`ModelError`].
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
