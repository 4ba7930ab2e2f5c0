//! [`Real`], the differentiable value that model code computes with.
//!
//! A `Real` is a small `Copy` handle: either a constant folded on the host, or a node of the current
//! evaluation (a `(rows, cols)` tensor on the backend, `rows` = 1 for values shared by the whole
//! population and `P` for values with one row per population member). Arithmetic broadcasts like
//! NumPy over those two axes; constants, data slices and other `Real`s may stand on either side of an
//! operator, and a value may be used any number of times. Gradients are recorded by the evaluation's
//! [`Ctx`]; model code never sees a tape.

use crate::backend::{Backend, Binary, Scalar, Unary};
use crate::ctx::Ctx;
use crate::special;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// A differentiable scalar or vector (per population member), or a host constant.
pub struct Real<'c, B: Backend> {
    pub(crate) ctx: &'c Ctx<B>,
    pub(crate) v: Inner,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Inner {
    /// A constant, the same for every member and every element.
    C(f64),
    /// Node `id` of the evaluation.
    N(usize),
}

impl<'c, B: Backend> Clone for Real<'c, B> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<'c, B: Backend> Copy for Real<'c, B> {}

impl<'c, B: Backend> std::fmt::Debug for Real<'c, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.v {
            Inner::C(c) => write!(f, "Real({c})"),
            Inner::N(id) => {
                let (r, c) = self.ctx.node_shape(id);
                write!(f, "Real(node {id}, {r}x{c})")
            }
        }
    }
}

impl<'c, B: Backend> Real<'c, B> {
    pub(crate) fn new(ctx: &'c Ctx<B>, v: Inner) -> Self {
        Self { ctx, v }
    }

    /// A constant in the evaluation of `ctx`.
    pub fn constant(ctx: &'c Ctx<B>, c: f64) -> Self {
        Self::new(ctx, Inner::C(c))
    }

    /// The evaluation this value belongs to.
    pub fn ctx(&self) -> &'c Ctx<B> {
        self.ctx
    }

    /// `(rows, cols)`: rows is 1 (shared) or the population size; cols is the vector length.
    pub fn shape(&self) -> (usize, usize) {
        match self.v {
            Inner::C(_) => (1, 1),
            Inner::N(id) => self.ctx.node_shape(id),
        }
    }

    /// Length of the vector (1 for scalars).
    pub fn len(&self) -> usize {
        self.shape().1
    }

    /// Always false: a `Real` holds at least one element.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The constant value, if this is a host constant.
    pub fn as_const(&self) -> Option<f64> {
        match self.v {
            Inner::C(c) => Some(c),
            Inner::N(_) => None,
        }
    }

    /// Values on the host, row-major `(rows, cols)`.
    pub fn to_host(&self) -> Vec<f64> {
        match self.v {
            Inner::C(c) => vec![c],
            Inner::N(id) => self.ctx.node_host(id),
        }
    }

    fn unary(self, op: Unary, f: fn(f64) -> f64) -> Self {
        match self.v {
            Inner::C(c) => Self::constant(self.ctx, f(c)),
            Inner::N(id) => self.ctx.op_unary(op, id),
        }
    }

    fn map(self, f: fn(f64) -> f64, df: fn(f64) -> f64) -> Self {
        match self.v {
            Inner::C(c) => Self::constant(self.ctx, f(c)),
            Inner::N(id) => self.ctx.op_map(id, f, df),
        }
    }

    fn scalar(self, op: Scalar) -> Self {
        self.ctx.op_scalar(op, self)
    }

    /// `eˣ`
    pub fn exp(self) -> Self {
        self.unary(Unary::Exp, f64::exp)
    }
    /// Natural logarithm.
    pub fn ln(self) -> Self {
        self.unary(Unary::Ln, f64::ln)
    }
    /// `ln(1 + x)`, accurate near 0.
    pub fn ln_1p(self) -> Self {
        self.map(f64::ln_1p, |x| 1.0 / (1.0 + x))
    }
    /// `eˣ − 1`, accurate near 0.
    pub fn exp_m1(self) -> Self {
        self.map(f64::exp_m1, f64::exp)
    }
    /// Square root.
    pub fn sqrt(self) -> Self {
        self.unary(Unary::Sqrt, f64::sqrt)
    }
    /// `x²`
    pub fn square(self) -> Self {
        self.unary(Unary::Square, |x| x * x)
    }
    /// `|x|`
    pub fn abs(self) -> Self {
        self.unary(Unary::Abs, f64::abs)
    }
    /// `xᵖ` for a constant power.
    pub fn powf(self, p: f64) -> Self {
        match self.v {
            Inner::C(c) => Self::constant(self.ctx, c.powf(p)),
            _ => self.scalar(Scalar::Powf(p)),
        }
    }
    /// `1 / x`
    pub fn recip(self) -> Self {
        1.0 / self
    }
    /// Hyperbolic tangent.
    pub fn tanh(self) -> Self {
        self.unary(Unary::Tanh, f64::tanh)
    }
    /// Sine.
    pub fn sin(self) -> Self {
        self.unary(Unary::Sin, f64::sin)
    }
    /// Cosine.
    pub fn cos(self) -> Self {
        self.unary(Unary::Cos, f64::cos)
    }
    /// `max(0, x)`, the rectifier.
    pub fn relu(self) -> Self {
        self.unary(Unary::Relu, |v| v.max(0.0))
    }
    /// Logistic sigmoid `1 / (1 + e⁻ˣ)`.
    pub fn sigmoid(self) -> Self {
        self.unary(Unary::Sigmoid, special::sigmoid)
    }
    /// `ln(1 + eˣ)`, stable for large |x|.
    pub fn softplus(self) -> Self {
        self.map(special::softplus, special::sigmoid)
    }
    /// `ln σ(x) = −softplus(−x)`.
    pub fn log_sigmoid(self) -> Self {
        self.map(special::log_sigmoid, |x| special::sigmoid(-x))
    }
    /// `ln Γ(x)` for `x > 0` (its derivative is the digamma function).
    pub fn lgamma(self) -> Self {
        self.map(special::lgamma, special::digamma)
    }
    /// The digamma function ψ(x) (the gradient through it is not propagated).
    pub fn digamma(self) -> Self {
        self.map(special::digamma, |_| 0.0)
    }

    /// Sum of the elements of a vector (per population member).
    pub fn sum(self) -> Self {
        match self.v {
            Inner::C(_) => self,
            Inner::N(id) => self.ctx.op_sum(id),
        }
    }
    /// Mean of the elements of a vector.
    pub fn mean(self) -> Self {
        let n = self.len() as f64;
        self.sum() * (1.0 / n)
    }
    /// `ln Σ exp(xᵢ)` over the elements, computed stably.
    pub fn log_sum_exp(self) -> Self {
        match self.v {
            Inner::C(_) => self,
            Inner::N(id) => self.ctx.op_logsumexp(id),
        }
    }
    /// Inner product `Σ xᵢ yᵢ`.
    pub fn dot(self, other: impl IntoReal<'c, B>) -> Self {
        (self * other.into_real(self.ctx)).sum()
    }
    /// Element `i` (0-based) of a vector.
    pub fn at(self, i: usize) -> Self {
        self.ctx.op_slice(self, i, i + 1)
    }
    /// Elements `start..end` of a vector.
    pub fn slice(self, start: usize, end: usize) -> Self {
        self.ctx.op_slice(self, start, end)
    }
    /// Elements `idx[0], idx[1], …` (indices may repeat): e.g. group effects per observation.
    pub fn gather(self, idx: &[usize]) -> Self {
        self.ctx.op_gather(self, idx)
    }
    /// Vector times a data matrix: `(·, K) × (K, N) → (·, N)`.
    pub fn matmul(self, m: &crate::data::Matrix) -> Self {
        self.ctx.op_matmul(self, m, false)
    }
}

/// Joins scalars and vectors into one vector (per population member).
pub fn concat<'c, B: Backend>(parts: &[Real<'c, B>]) -> Real<'c, B> {
    parts[0].ctx.op_concat(parts)
}

/// Anything that can stand where a [`Real`] is expected: numbers, data slices and `Real`s.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a value of a model",
    label = "expected a number, a data argument or a value of the model",
    note = "values are numbers (`f64`, integers), slices and `Vec`s of them, `&Matrix`, or the `Real`s that `sample!` and arithmetic on them give"
)]
pub trait IntoReal<'c, B: Backend> {
    /// The value as a `Real` of the evaluation `ctx`.
    fn into_real(self, ctx: &'c Ctx<B>) -> Real<'c, B>;
}

impl<'c, B: Backend> IntoReal<'c, B> for Real<'c, B> {
    fn into_real(self, _: &'c Ctx<B>) -> Real<'c, B> {
        self
    }
}
impl<'c, B: Backend> IntoReal<'c, B> for &Real<'c, B> {
    fn into_real(self, _: &'c Ctx<B>) -> Real<'c, B> {
        *self
    }
}
macro_rules! into_real_number {
    ($($t:ty),*) => {$(
        impl<'c, B: Backend> IntoReal<'c, B> for $t {
            fn into_real(self, ctx: &'c Ctx<B>) -> Real<'c, B> {
                Real::constant(ctx, self as f64)
            }
        }
        impl<'c, B: Backend> IntoReal<'c, B> for &$t {
            fn into_real(self, ctx: &'c Ctx<B>) -> Real<'c, B> {
                Real::constant(ctx, *self as f64)
            }
        }
    )*};
}
into_real_number!(f64, f32, i32, i64, u32, u64, usize);

macro_rules! into_real_slice {
    ($($t:ty),*) => {$(
        impl<'c, B: Backend> IntoReal<'c, B> for &[$t] {
            fn into_real(self, ctx: &'c Ctx<B>) -> Real<'c, B> {
                ctx.data(self.iter().map(|&v| v as f64).collect())
            }
        }
        impl<'c, B: Backend> IntoReal<'c, B> for &Vec<$t> {
            fn into_real(self, ctx: &'c Ctx<B>) -> Real<'c, B> {
                self.as_slice().into_real(ctx)
            }
        }
        impl<'c, B: Backend, const N: usize> IntoReal<'c, B> for &[$t; N] {
            fn into_real(self, ctx: &'c Ctx<B>) -> Real<'c, B> {
                self.as_slice().into_real(ctx)
            }
        }
    )*};
}
into_real_slice!(f64, f32, i32, i64, u32, u64, usize);

/// Rows of integers (token windows, labels per window) flattened row by row: the labels of
/// `CategoricalLogitRows` over a sequence network's `(windows, S, V)` logits.
impl<'c, B: Backend> IntoReal<'c, B> for &[Vec<usize>] {
    fn into_real(self, ctx: &'c Ctx<B>) -> Real<'c, B> {
        ctx.data(self.iter().flatten().map(|&v| v as f64).collect())
    }
}
impl<'c, B: Backend> IntoReal<'c, B> for &Vec<Vec<usize>> {
    fn into_real(self, ctx: &'c Ctx<B>) -> Real<'c, B> {
        self.as_slice().into_real(ctx)
    }
}

impl<'c, B: Backend> IntoReal<'c, B> for &[bool] {
    fn into_real(self, ctx: &'c Ctx<B>) -> Real<'c, B> {
        ctx.data(self.iter().map(|&v| if v { 1.0 } else { 0.0 }).collect())
    }
}
impl<'c, B: Backend> IntoReal<'c, B> for bool {
    fn into_real(self, ctx: &'c Ctx<B>) -> Real<'c, B> {
        Real::constant(ctx, if self { 1.0 } else { 0.0 })
    }
}

// ---- operators: Real ∘ Real, Real ∘ number/data, number/data ∘ Real --------------------------

macro_rules! binary_ops {
    ($($Trait:ident $method:ident $op:expr;)*) => {$(
        impl<'c, B: Backend, R: IntoReal<'c, B>> $Trait<R> for Real<'c, B> {
            type Output = Real<'c, B>;
            fn $method(self, rhs: R) -> Real<'c, B> {
                let rhs = rhs.into_real(self.ctx);
                self.ctx.op_binary($op, self, rhs)
            }
        }
        impl<'c, B: Backend, R: IntoReal<'c, B>> $Trait<R> for &Real<'c, B> {
            type Output = Real<'c, B>;
            fn $method(self, rhs: R) -> Real<'c, B> {
                (*self).$method(rhs)
            }
        }
        // One float and one integer type on the left, so that literals (`1.0 - x`, `2 * x`) infer.
        binary_ops!(@lhs $Trait $method $op; f64, i32);
        binary_ops!(@lhs_ref $Trait $method $op; [f64], [f32], [i32], [i64], [usize], Vec<f64>, Vec<f32>, Vec<i32>, Vec<i64>, Vec<usize>);
    )*};
    (@lhs $Trait:ident $method:ident $op:expr; $($t:ty),*) => {$(
        impl<'c, B: Backend> $Trait<Real<'c, B>> for $t {
            type Output = Real<'c, B>;
            fn $method(self, rhs: Real<'c, B>) -> Real<'c, B> {
                let lhs = self.into_real(rhs.ctx);
                rhs.ctx.op_binary($op, lhs, rhs)
            }
        }
        impl<'c, B: Backend> $Trait<&Real<'c, B>> for $t {
            type Output = Real<'c, B>;
            fn $method(self, rhs: &Real<'c, B>) -> Real<'c, B> {
                self.$method(*rhs)
            }
        }
    )*};
    (@lhs_ref $Trait:ident $method:ident $op:expr; $($t:ty),*) => {$(
        impl<'a, 'c, B: Backend> $Trait<Real<'c, B>> for &'a $t {
            type Output = Real<'c, B>;
            fn $method(self, rhs: Real<'c, B>) -> Real<'c, B> {
                let lhs = self.into_real(rhs.ctx);
                rhs.ctx.op_binary($op, lhs, rhs)
            }
        }
        impl<'a, 'c, B: Backend> $Trait<&Real<'c, B>> for &'a $t {
            type Output = Real<'c, B>;
            fn $method(self, rhs: &Real<'c, B>) -> Real<'c, B> {
                self.$method(*rhs)
            }
        }
    )*};
}
binary_ops! {
    Add add Binary::Add;
    Sub sub Binary::Sub;
    Mul mul Binary::Mul;
    Div div Binary::Div;
}

impl<'c, B: Backend> Neg for Real<'c, B> {
    type Output = Real<'c, B>;
    fn neg(self) -> Real<'c, B> {
        self.unary(Unary::Neg, |x| -x)
    }
}
impl<'c, B: Backend> Neg for &Real<'c, B> {
    type Output = Real<'c, B>;
    fn neg(self) -> Real<'c, B> {
        -*self
    }
}

impl<'c, B: Backend> std::iter::Sum for Real<'c, B> {
    /// Sums an iterator of `Real`s element-wise. An empty iterator has no evaluation to attach a
    /// zero to: it panics, which the evaluation reports as [`ModelError::Panicked`](crate::ModelError::Panicked).
    fn sum<I: Iterator<Item = Self>>(mut iter: I) -> Self {
        let first = iter.next().expect("sum of an empty iterator of Real");
        iter.fold(first, |a, b| a + b)
    }
}
