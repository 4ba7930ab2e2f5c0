//! Probability distributions: log densities on [`Real`]s, supports, random draws.
//!
//! A distribution is written like a function call, `Normal(mu, sigma)`: each name below is a tuple
//! struct whose fields may be numbers, data slices or [`Real`]s, broadcasting element-wise.
//! Parametrisations follow Stan (`Gamma(shape, rate)`, `StudentT(nu, mu, sigma)`, …). Invalid
//! parameters give a log density of `−∞` (or a [`ModelError`](crate::ModelError) when they are data or constants).
//! Labels of `CategoricalLogit` and `CategoricalLogitRows` are 0-based, as indices are in Rust.

mod categorical_rows;
mod check;
mod draw;
mod log_prob;

use crate::backend::Backend;
use crate::ctx::Ctx;
use crate::data::Matrix;
use crate::value::{IntoReal, Real};
use std::rc::Rc;

/// Every distribution snell knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// See [`Normal`].
    Normal,
    /// See [`HalfNormal`].
    HalfNormal,
    /// See [`StudentT`].
    StudentT,
    /// See [`Cauchy`].
    Cauchy,
    /// See [`HalfCauchy`].
    HalfCauchy,
    /// See [`Laplace`].
    Laplace,
    /// See [`Exponential`].
    Exponential,
    /// See [`Gamma`].
    Gamma,
    /// See [`InverseGamma`].
    InverseGamma,
    /// See [`LogNormal`].
    LogNormal,
    /// See [`Beta`].
    Beta,
    /// See [`Uniform`].
    Uniform,
    /// See [`Bernoulli`].
    Bernoulli,
    /// See [`BernoulliLogit`].
    BernoulliLogit,
    /// See [`BinomialLogit`].
    BinomialLogit,
    /// See [`Poisson`].
    Poisson,
    /// See [`PoissonLog`].
    PoissonLog,
    /// See [`CategoricalLogit`].
    CategoricalLogit,
    /// See [`CategoricalLogitRows`].
    CategoricalLogitRows,
    /// See [`Dirichlet`].
    Dirichlet,
    /// See [`Flat`].
    Flat,
    /// See [`MultivariateNormal`].
    MultivariateNormal,
}

/// What a distribution parameter must satisfy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArgKind {
    Real,
    Positive,
    Probability,
    Count,
}

impl Family {
    /// The name as written in models.
    pub fn name(self) -> &'static str {
        match self {
            Family::Normal => "Normal",
            Family::HalfNormal => "HalfNormal",
            Family::StudentT => "StudentT",
            Family::Cauchy => "Cauchy",
            Family::HalfCauchy => "HalfCauchy",
            Family::Laplace => "Laplace",
            Family::Exponential => "Exponential",
            Family::Gamma => "Gamma",
            Family::InverseGamma => "InverseGamma",
            Family::LogNormal => "LogNormal",
            Family::Beta => "Beta",
            Family::Uniform => "Uniform",
            Family::Bernoulli => "Bernoulli",
            Family::BernoulliLogit => "BernoulliLogit",
            Family::BinomialLogit => "BinomialLogit",
            Family::Poisson => "Poisson",
            Family::PoissonLog => "PoissonLog",
            Family::CategoricalLogit => "CategoricalLogit",
            Family::CategoricalLogitRows => "CategoricalLogitRows",
            Family::Dirichlet => "Dirichlet",
            Family::Flat => "Flat",
            Family::MultivariateNormal => "MultivariateNormal",
        }
    }

    /// Names and requirements of the parameters, in order.
    pub(crate) fn args(self) -> &'static [(&'static str, ArgKind)] {
        use ArgKind::*;
        match self {
            Family::Normal | Family::LogNormal => &[("mu", Real), ("sigma", Positive)],
            Family::Cauchy => &[("mu", Real), ("sigma", Positive)],
            Family::Laplace => &[("mu", Real), ("b", Positive)],
            Family::HalfNormal | Family::HalfCauchy => &[("sigma", Positive)],
            Family::StudentT => &[("nu", Positive), ("mu", Real), ("sigma", Positive)],
            Family::Exponential => &[("rate", Positive)],
            Family::Gamma => &[("shape", Positive), ("rate", Positive)],
            Family::InverseGamma => &[("shape", Positive), ("scale", Positive)],
            Family::Beta => &[("a", Positive), ("b", Positive)],
            Family::Uniform => &[("lower", Real), ("upper", Real)],
            Family::Bernoulli => &[("p", Probability)],
            Family::BernoulliLogit => &[("logit", Real)],
            Family::BinomialLogit => &[("n", Count), ("logit", Real)],
            Family::Poisson => &[("rate", Positive)],
            Family::PoissonLog => &[("log_rate", Real)],
            Family::CategoricalLogit => &[("logits", Real)],
            Family::CategoricalLogitRows => &[("logits", Real), ("classes", Count)],
            Family::Dirichlet => &[("alpha", Positive)],
            Family::Flat => &[],
            Family::MultivariateNormal => &[("mu", Real)],
        }
    }

    /// Whether values are integers (such a distribution can be observed, not sampled).
    pub fn is_discrete(self) -> bool {
        matches!(
            self,
            Family::Bernoulli | Family::BernoulliLogit | Family::BinomialLogit | Family::Poisson | Family::PoissonLog
                | Family::CategoricalLogit
                | Family::CategoricalLogitRows
        )
    }
}

/// Where a parameter lives; picks its unconstraining transform.
pub enum Support<'c, B: Backend> {
    /// The real line (or the whole of ℝᴷ).
    Real,
    /// `(a, ∞)`
    Lower(Real<'c, B>),
    /// `(−∞, b)`
    Upper(Real<'c, B>),
    /// `(a, b)`
    Interval(Real<'c, B>, Real<'c, B>),
    /// Positive vectors summing to 1.
    Simplex,
    /// Increasing vectors (e.g. the locations of mixture components, cut points).
    Ordered,
    /// Increasing vectors of positive values (e.g. the scales of ordered components).
    PositiveOrdered,
    /// Integers: observable, not sampleable.
    Discrete,
}

/// A distribution with its parameters resolved to values of an evaluation.
pub struct Dist<'c, B: Backend> {
    pub(crate) family: Family,
    pub(crate) args: Vec<Real<'c, B>>,
    /// The Cholesky factor of a multivariate normal.
    pub(crate) chol: Option<Rc<Matrix>>,
    pub(crate) ctx: &'c Ctx<B>,
}

impl<'c, B: Backend> Dist<'c, B> {
    /// The family's name.
    pub fn name(&self) -> &'static str {
        self.family.name()
    }

    /// The support of the values.
    pub fn support(&self) -> Support<'c, B> {
        let zero = Real::constant(self.ctx, 0.0);
        let one = Real::constant(self.ctx, 1.0);
        match self.family {
            Family::Normal | Family::StudentT | Family::Cauchy | Family::Laplace | Family::MultivariateNormal | Family::Flat => Support::Real,
            Family::HalfNormal | Family::HalfCauchy | Family::Exponential | Family::Gamma | Family::InverseGamma | Family::LogNormal => {
                Support::Lower(zero)
            }
            Family::Beta => Support::Interval(zero, one),
            Family::Uniform => Support::Interval(self.args[0], self.args[1]),
            Family::Dirichlet => Support::Simplex,
            f if f.is_discrete() => Support::Discrete,
            _ => unreachable!(),
        }
    }

    /// Length of one draw for multivariate distributions; `None` for element-wise ones.
    pub fn event_len(&self) -> Option<usize> {
        match self.family {
            Family::Dirichlet => Some(self.args[0].len()),
            Family::MultivariateNormal => Some(self.chol.as_ref().map_or(self.args[0].len(), |l| l.rows()).max(self.args[0].len())),
            _ => None,
        }
    }

    /// Number of values a draw has when the observed value has `len` elements.
    pub(crate) fn broadcast_len(&self, len: usize) -> usize {
        match self.event_len() {
            Some(k) => k,
            None if matches!(self.family, Family::CategoricalLogit | Family::CategoricalLogitRows) => len,
            None => self.args.iter().map(|a| a.len()).chain(std::iter::once(len)).max().unwrap_or(1),
        }
    }
}

/// Converts a distribution as written (`Normal(mu, 1.0)`) into a [`Dist`] of an evaluation.
pub trait IntoDist<'c, B: Backend> {
    /// Resolves the parameters in `ctx`.
    fn into_dist(self, ctx: &'c Ctx<B>) -> Dist<'c, B>;
}

impl<'c, B: Backend> IntoDist<'c, B> for Dist<'c, B> {
    fn into_dist(self, _: &'c Ctx<B>) -> Dist<'c, B> {
        self
    }
}

macro_rules! distributions {
    ($($(#[$doc:meta])* $name:ident ( $($arg:ident),* );)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug)]
        pub struct $name<$($arg),*>($(pub $arg),*);

        #[allow(non_snake_case)]
        impl<'c, B: Backend, $($arg: IntoReal<'c, B>),*> IntoDist<'c, B> for $name<$($arg),*> {
            fn into_dist(self, ctx: &'c Ctx<B>) -> Dist<'c, B> {
                let $name($($arg),*) = self;
                Dist { family: Family::$name, args: vec![$($arg.into_real(ctx)),*], chol: None, ctx }
            }
        }
    )*};
}

distributions! {
    /// Normal with mean `mu` and standard deviation `sigma`.
    Normal(M, S);
    /// Normal(0, sigma) folded onto `[0, ∞)`.
    HalfNormal(S);
    /// Student's t with `nu` degrees of freedom, location `mu`, scale `sigma`.
    StudentT(N, M, S);
    /// Cauchy with location `mu` and scale `sigma`.
    Cauchy(M, S);
    /// Cauchy(0, sigma) folded onto `[0, ∞)`.
    HalfCauchy(S);
    /// Laplace (double exponential) with location `mu` and scale `b`.
    Laplace(M, S);
    /// Exponential with rate `rate`.
    Exponential(R);
    /// Gamma with shape `alpha` and rate `beta`.
    Gamma(A, R);
    /// Inverse gamma with shape `alpha` and scale `beta`.
    InverseGamma(A, S);
    /// Log-normal: `ln x ~ Normal(mu, sigma)`.
    LogNormal(M, S);
    /// Beta with shapes `a`, `b`.
    Beta(A, C);
    /// Uniform on `(lower, upper)`.
    Uniform(L, U);
    /// Bernoulli with probability `p` of a 1.
    Bernoulli(P);
    /// Bernoulli with log-odds `logit`.
    BernoulliLogit(L);
    /// Binomial with `n` trials and log-odds `logit`.
    BinomialLogit(N, L);
    /// Poisson with rate `rate`.
    Poisson(R);
    /// Poisson with log-rate `log_rate`.
    PoissonLog(L);
    /// Categorical over `0..K` with unnormalised log-probabilities `logits` (a vector of length K),
    /// shared by every label.
    CategoricalLogit(L);
    /// Categorical over `0..K` with one logit vector per label: label `i` has the logits
    /// `logits[i·K .. (i + 1)·K]`, i.e. row `i` of an `(n, K)` matrix of logits laid out row by
    /// row, as a network with `K` outputs returns them (`net.forward(w, x)` at `n` rows, or a
    /// sequence network's `(windows, positions, V)` logits). `classes` is `K`, a constant.
    ///
    /// ```
    /// use snell::prelude::*;
    ///
    /// // multinomial logistic regression: 2 features, 3 classes, one row of logits per label
    /// #[model]
    /// fn softmax_regression(x: &Matrix, labels: &[usize]) {
    ///     let beta = sample!([6] ~ Normal(0.0, 1.0));                   // (2, 3), row-major
    ///     let logits = concat(&(0..x.rows()).map(|i| {
    ///         let xi: &[f64] = x.row(i);
    ///         concat(&(0..3).map(|k| beta.gather(&[k, 3 + k]).dot(xi)).collect::<Vec<_>>())
    ///     }).collect::<Vec<_>>());
    ///     observe!(labels ~ CategoricalLogitRows(logits, 3));
    /// }
    ///
    /// # fn main() -> Result<(), ModelError> {
    /// let x = Matrix::new(3, 2, vec![1.0, 0.5, -0.3, 2.0, 0.0, -1.0])?;
    /// let model = SoftmaxRegression::new(&x, &[0, 2, 1])?;
    /// let (lp, grad) = model.log_density_and_grad(&[0.1; 6])?;
    /// assert!(lp.is_finite() && grad.len() == 6);
    /// // a label must be below the number of classes
    /// assert!(SoftmaxRegression::new(&x, &[0, 3, 1]).is_err());
    /// # Ok(()) }
    /// ```
    ///
    /// The logits' length must be a multiple of `K` and there must be one label per row; both,
    /// and labels outside `0..K`, are errors when the model is built.
    CategoricalLogitRows(L, K);
    /// Dirichlet with concentrations `alpha` (a vector of length K): a simplex of length K.
    Dirichlet(A);
}

/// The improper uniform density on the real line (Stan's parameters without a prior statement):
/// `sample!(Flat())`, or with bounds, `sample!(Flat(), lower = 0.0)`. The posterior must be proper;
/// prior draws and simulation are not possible.
#[derive(Clone, Copy, Debug, Default)]
pub struct Flat();

impl<'c, B: Backend> IntoDist<'c, B> for Flat {
    fn into_dist(self, ctx: &'c Ctx<B>) -> Dist<'c, B> {
        Dist { family: Family::Flat, args: vec![], chol: None, ctx }
    }
}

/// Multivariate normal with mean `mu` (length K) and the lower Cholesky factor `L` (K × K data
/// matrix) of its covariance `L Lᵀ`.
#[derive(Clone, Copy, Debug)]
pub struct MultivariateNormal<M, L>(pub M, pub L);

impl<'c, B: Backend, M: IntoReal<'c, B>> IntoDist<'c, B> for MultivariateNormal<M, &Matrix> {
    fn into_dist(self, ctx: &'c Ctx<B>) -> Dist<'c, B> {
        Dist { family: Family::MultivariateNormal, args: vec![self.0.into_real(ctx)], chol: Some(Rc::new(self.1.clone())), ctx }
    }
}

opaque_debug!(impl['c, B: Backend] Support<'c, B>);
opaque_debug!(impl['c, B: Backend] Dist<'c, B>);
