//! Generalised ray tracing (Behroozi 2025, §2.7 and §2.9): a sample weight `W(x)` changes the
//! refractive index to `n^{D−1} = L/W`, so the rays sample `L/W` and each draw carries the weight
//! `W(x)`; expectations under `L` are the `W`-weighted averages of the draws. The special cases the
//! paper lists reduce to known samplers:
//!
//! - [`Weighting::Unit`], `W = 1`: plain ray tracing.
//! - [`Weighting::Power`], `W = L^a`: rays sample `L^{1−a}` (tempering at `τ = 1/(1−a)`, Eq. 29–30).
//! - [`Weighting::Microcanonical`], `W = L^{1/D}` (`n = L^{1/D}`): microcanonical HMC's index.
//! - [`Weighting::Hmc`]: `n ∝ |p| = √(2(E + ln L))` with weights `1/|p|` (Eq. 25–26). Bending
//!   with this index is Newton's law, so the kick becomes `p ← p + h·∇ln L` (the speed changes)
//!   and `dlnL_pred` the change of kinetic energy; the Metropolis test is then HMC's
//!   `min(1, e^{−ΔH})`, and with [`super::Integrator::Kdk`] a trajectory is the leapfrog
//!   trajectory step for step (the reference code's `UpdateV_HMC`).
//! - [`Weighting::Metropolis`]: `n = 1` (straight rays) and `W = L` with Metropolis selection on
//!   `W` instead of weighted output: a straight segment `x' = x + n_steps·Δt·v`, `v ~ N(0, I)`,
//!   accepted with `min(1, L(x')/L(x))` — random-walk Metropolis with proposal scale
//!   `n_steps·Δt` (one density evaluation per proposal).

use crate::sampler::SamplerError;
use std::sync::Arc;

/// `ln W(q)` with its gradient written to the second argument.
pub type WeightFn = Arc<dyn Fn(&[f64], &mut [f64]) -> f64 + Send + Sync>;

/// The sample weight `W(x)` of generalised ray tracing (see the module docs).
#[derive(Clone, Default)]
pub enum Weighting {
    /// `W = 1`: plain ray tracing (the default).
    #[default]
    Unit,
    /// `W = L^a`, `0 ≤ a < 1`: the rays sample `L^{1−a}`.
    Power(f64),
    /// `W = L^{1/D}`: microcanonical HMC's refractive index `n = L^{1/D}`.
    Microcanonical,
    /// A user weight: `ln W(q)` and its gradient.
    Custom(WeightFn),
    /// HMC: Newton's kick `p ← p + h·∇ln L`, `dlnL_pred = ΔK`.
    Hmc,
    /// Random-walk Metropolis: straight rays, Metropolis selection on `W = L`.
    Metropolis,
}

impl std::fmt::Debug for Weighting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Weighting::Power(a) => write!(f, "Power({a})"),
            w => f.write_str(w.name()),
        }
    }
}

/// How a weighting moves the velocity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kick {
    /// Snell's law at constant speed (§1.4).
    Snell,
    /// Newton's law: `v ← v + h·g` (HMC).
    Newton,
    /// No bending (`n = 1`): the gradient is not needed inside a trajectory.
    Straight,
}

impl Weighting {
    /// The name written to output headers.
    pub fn name(&self) -> &'static str {
        match self {
            Weighting::Unit => "unit",
            Weighting::Power(_) => "power",
            Weighting::Microcanonical => "microcanonical",
            Weighting::Custom(_) => "custom",
            Weighting::Hmc => "hmc",
            Weighting::Metropolis => "metropolis",
        }
    }

    pub(crate) fn kick(&self) -> Kick {
        match self {
            Weighting::Hmc => Kick::Newton,
            Weighting::Metropolis => Kick::Straight,
            _ => Kick::Snell,
        }
    }

    /// Whether the draws carry weights `W(x)` (reported as `log_weight__`).
    pub fn is_weighted(&self) -> bool {
        matches!(self, Weighting::Power(_) | Weighting::Microcanonical | Weighting::Custom(_))
    }

    /// Whether the Metropolis test also selects on `W` (the random-walk special case).
    pub(crate) fn selects(&self) -> bool {
        matches!(self, Weighting::Metropolis)
    }

    pub(crate) fn validate(&self) -> Result<(), SamplerError> {
        if let Weighting::Power(a) = self {
            if !(*a >= 0.0 && *a < 1.0) {
                return Err(SamplerError::Setting { name: "weighting", detail: format!("Power(a) needs 0 ≤ a < 1 (the rays sample L^(1−a)), got {a}") });
            }
        }
        Ok(())
    }
}
