//! Row-wise tensor operations of the device ray tracer: norms and dot products per row, the
//! functions dfdx 0.13 lacks (`expm1`, `ln1p`, `atan2`) composed from its ops, and the ζ-form kick
//! of Behroozi (2025, Algorithm 1) applied to every row at once.
//!
//! A row is one chain: `(P, D)` matrices hold positions, velocities and gradients, `(P,)` vectors
//! the per-chain scalars, `(P,)` boolean masks the per-chain choices.

use crate::backend::DfdxElem;
use dfdx::prelude::{Axis, BroadcastTo, ChooseFrom, SumTo, Tensor, TryGe, TryGt, TryLt};
use dfdx::shapes::HasShape;
use dfdx::tensor_ops::Device;

/// `(P, D)`: one row per chain.
pub type Rows<E, D> = Tensor<(usize, usize), E, D>;
/// `(P,)`: one value per chain.
pub type Column<E, D> = Tensor<(usize,), E, D>;
/// `(P,)`: one flag per chain.
pub(crate) type Mask<D> = Tensor<(usize,), bool, D>;

pub(crate) fn c<E: DfdxElem>(x: f64) -> E {
    E::of_f64(x)
}

/// `Σ_j m[i, j]` per row.
pub(crate) fn row_sum<E: DfdxElem, D: Device<E>>(m: Rows<E, D>) -> Column<E, D> {
    m.sum::<(usize,), Axis<1>>()
}

/// `Σ_j a[i, j]·b[i, j]` per row.
pub(crate) fn row_dot<E: DfdxElem, D: Device<E>>(a: &Rows<E, D>, b: &Rows<E, D>) -> Column<E, D> {
    row_sum(a.clone() * b.clone())
}

/// `|m[i, ·]|` per row.
pub(crate) fn row_norm<E: DfdxElem, D: Device<E>>(m: &Rows<E, D>) -> Column<E, D> {
    row_sum(m.clone().square()).sqrt()
}

/// A per-row value repeated along the row: `(P,) -> (P, D)`.
pub(crate) fn spread<E: DfdxElem, D: Device<E>>(v: Column<E, D>, d: usize) -> Rows<E, D> {
    let p = v.shape().0;
    v.broadcast_like::<_, Axis<1>>(&(p, d))
}

/// Finite (neither ±∞ nor NaN).
pub(crate) fn finite<E: DfdxElem, D: Device<E>>(v: &Column<E, D>) -> Mask<D> {
    v.lt(c::<E>(f64::INFINITY)) & v.gt(c::<E>(f64::NEG_INFINITY))
}

/// `p` copies of `x`, made on the device (a memset and a scalar add: dfdx's `ones_like` copies
/// from the host on CUDA).
pub(crate) fn full<E: DfdxElem, D: Device<E>>(dev: &D, p: usize, x: f64) -> Column<E, D> {
    dev.zeros_like(&(p,)) + c::<E>(x)
}

pub(crate) fn zeros<E: DfdxElem, D: Device<E>>(dev: &D, p: usize) -> Column<E, D> {
    dev.zeros_like(&(p,))
}

/// `eˣ − 1` without cancellation for small `|x|` (Taylor to x⁷ below 10⁻², where the rest is
/// below 10⁻¹⁹ relative).
pub(crate) fn expm1<E: DfdxElem, D: Device<E>>(x: &Column<E, D>) -> Column<E, D> {
    let mut s = x.clone() * c::<E>(1.0 / 7.0) + c::<E>(1.0);
    for k in (2..=6).rev() {
        s = s * x.clone() * c::<E>(1.0 / k as f64) + c::<E>(1.0);
    }
    let series = s * x.clone();
    let small = x.clone().abs().lt(c::<E>(1e-2));
    small.clone().choose(series, x.clone().exp() - c::<E>(1.0))
}

/// `ln(1 + y)` accurate for small `|y|` (Goldberg's `ln(u)·y/(u − 1)`, `u = 1 + y`).
pub(crate) fn ln1p<E: DfdxElem, D: Device<E>>(y: &Column<E, D>) -> Column<E, D> {
    let u = y.clone() + c::<E>(1.0);
    let du = u.clone() - c::<E>(1.0);
    let exact = du.clone().abs().lt(c::<E>(f64::MIN_POSITIVE));
    let safe = exact.clone().choose(full(y.device(), y.shape().0, 1.0), du);
    exact.clone().choose(y.clone(), u.ln() * y.clone() / safe)
}

/// `atan t` for `t ∈ [0, 1]`: two half-angle reductions `t ← t / (1 + √(1 + t²))` bring `t` below
/// `tan(π/16) ≈ 0.2`, where the odd series to `t¹⁷` is exact to rounding.
fn atan_unit<E: DfdxElem, D: Device<E>>(t: Column<E, D>) -> Column<E, D> {
    let mut t = t;
    for _ in 0..2 {
        t = t.clone() / ((t.clone().square() + c::<E>(1.0)).sqrt() + c::<E>(1.0));
    }
    let t2 = t.clone().square();
    let mut s = t2.clone() * c::<E>(-1.0 / 17.0) + c::<E>(1.0 / 15.0);
    for k in (0..7).rev() {
        let coef = if k % 2 == 0 { 1.0 } else { -1.0 } / (2 * k + 1) as f64;
        s = s * t2.clone() + c::<E>(coef);
    }
    s * t * c::<E>(4.0)
}

/// `atan2(y, x) ∈ [0, π]` for `y ≥ 0` (0 where `x = y = 0`), through the half angle:
/// `2·atan(y / (r + x))` for `x ≥ 0`, `π − 2·atan(y / (r − x))` for `x < 0`, `r = √(x² + y²)`;
/// both arguments stay in `[0, 1]`.
pub(crate) fn atan2_upper<E: DfdxElem, D: Device<E>>(y: &Column<E, D>, x: &Column<E, D>) -> Column<E, D> {
    let r = (x.clone().square() + y.clone().square()).sqrt();
    let right = x.ge(c::<E>(0.0));
    let denom = right.clone().choose(r.clone() + x.clone(), r.clone() - x.clone());
    let zero = !r.gt(c::<E>(0.0));
    let denom = zero.clone().choose(full(x.device(), x.shape().0, 1.0), denom);
    let half = atan_unit(y.clone() / denom) * c::<E>(2.0);
    let angle = right.clone().choose(half.clone(), half.negate() + c::<E>(std::f64::consts::PI));
    zero.clone().choose(zeros(x.device(), x.shape().0), angle)
}

/// What a kick of all rows did.
pub(crate) struct Kicked<E: DfdxElem, D: Device<E>> {
    /// The rotated velocities (rows that cannot turn unchanged; undefined for a non-finite
    /// gradient, where the ray stops).
    pub v: Rows<E, D>,
    /// `dlnL_pred` per row (NaN for a non-finite gradient).
    pub pred: Column<E, D>,
    /// The angle by which each row's direction turned.
    pub turned: Column<E, D>,
}

/// The ζ-form kick (§1.4) of every row of `v` towards the gradient rows `g` (with norms `gn`) for a
/// duration `h` in dimension `dim`: the same map as [`crate::sampler::ray_tracing::kick_turning`]
/// on each row. Rows with `|v| = 0` or `|g| = 0` keep `v` and predict 0; a non-finite `|g|`
/// predicts NaN.
pub(crate) fn kick<E: DfdxElem, D: Device<E>>(v: &Rows<E, D>, g: &Rows<E, D>, gn: &Column<E, D>, h: f64, dim: usize) -> Kicked<E, D> {
    let (p, d) = *v.shape();
    let dev = v.device().clone();
    let one = full::<E, D>(&dev, p, 1.0);
    let l = row_norm(v);
    let g_finite = finite(gn);
    let moving = g_finite.clone() & l.gt(c::<E>(0.0)) & gn.gt(c::<E>(0.0));
    let (l, gn) = (moving.clone().choose(l, one.clone()), moving.clone().choose(gn.clone(), one.clone()));
    let dm1 = (dim as f64 - 1.0).max(1.0);
    let cos = (row_dot(v, g) / (l.clone() * gn.clone())).clamp(-1.0, 1.0);
    let delta = l.clone() * gn.clone() * c::<E>(h / dm1);
    let zeta = delta.clone().negate().exp();
    let one_m_zeta = expm1(&delta.clone().negate()).negate();
    let one_m_c = cos.clone().negate() + c::<E>(1.0);
    // u_new ∝ A·e + B·u
    let a = one_m_zeta * (cos.clone() + c::<E>(1.0) + zeta.clone() * one_m_c.clone());
    let b = zeta.clone() * c::<E>(2.0);
    // A·e + B·u = (A·c + B)·u + A·sin θ_i·e⊥: its norm from the two components, so that the
    // new velocity costs one pass over the rows, v_new = α·g + β·v
    let sin_i = (cos.clone().square().negate() + c::<E>(1.0)).clamp(0.0, 1.0).sqrt();
    let (along, across) = (a.clone() * cos.clone() + b.clone(), a.clone() * sin_i);
    let wn = (along.clone().square() + across.clone().square()).sqrt();
    let scalable = moving.clone() & finite(&wn) & wn.gt(c::<E>(0.0));
    let scale = l.clone() / scalable.clone().choose(wn, one.clone());
    let alpha = scalable.clone().choose(scale.clone() * a / gn, zeros(&dev, p));
    let beta = scalable.choose(scale * b / l, one.clone());
    let v_out = spread(alpha, d) * g.clone() + spread(beta, d) * v.clone();
    // u·u_new ∝ A·c + B, |u × u_new| ∝ A·sin θ_i
    let turned = atan2_upper(&across, &along);
    // ln(s/2), s = (1+c) + (1−c)ζ² = 2 − (1−c)(1−ζ²)
    let m = one_m_c.clone() * expm1(&(delta.clone() * c::<E>(-2.0))).negate() * c::<E>(0.5);
    let near = ln1p(&m.clone().negate());
    let s = cos.clone() + c::<E>(1.0) + one_m_c.clone() * zeta.square();
    let far = s.gt(c::<E>(0.0)).choose(s.clone().ln() - c::<E>(std::f64::consts::LN_2), (one_m_c * c::<E>(0.5)).ln() - delta.clone() * c::<E>(2.0));
    let log_half_s = m.lt(c::<E>(0.5)).choose(near, far);
    let pred = (delta + log_half_s) * c::<E>(dm1);
    let zero = zeros::<E, D>(&dev, p);
    let nan = full::<E, D>(&dev, p, f64::NAN);
    let pred = moving.clone().choose(pred, g_finite.clone().choose(zero.clone(), nan));
    let turned = moving.clone().choose(turned, zero);
    Kicked { v: v_out, pred, turned }
}

/// A per-row flag repeated along the row (any element type's device).
pub(crate) fn spread_mask<E: DfdxElem, D: Device<E>>(m: &Mask<D>, d: usize) -> Tensor<(usize, usize), bool, D> {
    let p = m.shape().0;
    m.clone().broadcast_like::<_, Axis<1>>(&(p, d))
}
