//! [`DeviceDensity`]: a log density evaluated for a whole population on a dfdx device, and
//! [`DeviceGaussian`], a diagonal Gaussian written in device ops.

use super::ops::{row_sum, Column, Rows};
use crate::backend::DfdxElem;
use crate::sampler::SamplerError;
use dfdx::prelude::{Axis, BroadcastTo, Tensor};
use dfdx::shapes::HasShape;
use dfdx::tensor_ops::Device;

/// One value per row `(P,)` (`ln p`) and its gradient rows `(P, D)`.
pub type LogpGrad<E, D> = (Column<E, D>, Rows<E, D>);

/// A log density whose population evaluation runs on a dfdx device `D` in element type `E`:
/// `(P, D)` positions in, `ln p` per row `(P,)` and its gradient `(P, D)` out, all on the device.
/// This is what lets the device ray tracer keep every chain's state there.
pub trait DeviceDensity<E: DfdxElem, D: Device<E>> {
    /// The dimension.
    fn dim(&self) -> usize;
    /// The device the density's data live on.
    fn device(&self) -> &D;
    /// `ln p` and `∇ ln p` of every row of `x`. Rows must be independent (row `i` of the outputs
    /// depends on row `i` of `x` only). Non-finite values are allowed (the sampler rejects them).
    fn logp_grad(&self, x: &Rows<E, D>) -> Result<LogpGrad<E, D>, SamplerError>;
    /// Number of observations N when the likelihood is a sum over observations that
    /// [`logp_grad_batches`](Self::logp_grad_batches) can evaluate on subsets (default `None`:
    /// no minibatches).
    fn n_obs(&self) -> Option<usize> {
        None
    }
    /// The minibatch estimate `ln prior + (N / B_r) · Σ_{i ∈ batches[r]} ln p(y_i | x_r)` of every
    /// row `r` of `x`, and its gradient rows: row `r` sees its own batch (`batches` has one per
    /// row, each non-empty, indices below N). The default refuses: the density has no
    /// minibatches.
    fn logp_grad_batches(&self, x: &Rows<E, D>, batches: &[Vec<usize>]) -> Result<LogpGrad<E, D>, SamplerError> {
        let _ = (x, batches);
        Err(no_minibatches())
    }
    /// Names of the values a draw records (default `x.1 … x.D`).
    fn names(&self) -> Vec<String> {
        (1..=self.dim()).map(|i| format!("x.{i}")).collect()
    }
    /// An initial point drawn from a chain's stream (default: Stan's uniform(−2, 2)).
    fn init(&self, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
        use rand::Rng;
        (0..self.dim()).map(|_| rng.gen_range(-2.0..2.0)).collect()
    }
    /// The recorded values of an unconstrained point (default: the point itself).
    fn constrain(&self, q: &[f64]) -> Vec<f64> {
        q.to_vec()
    }
    /// Whether recorded value `j` depends on coordinate `j` alone, as
    /// [`constrain_coordinate`](Self::constrain_coordinate) computes it (default: true when the
    /// values are the coordinates, `constrain` being the default). This lets the sampler record a
    /// chosen subset of values ([`DeviceRayTracing::recording`](super::DeviceRayTracing::recording))
    /// by copying only those coordinates to the host.
    fn coordinatewise(&self) -> bool {
        false
    }
    /// Recorded value `j` from coordinate `j`, for a [`coordinatewise`](Self::coordinatewise)
    /// density (default: the coordinate itself).
    fn constrain_coordinate(&self, j: usize, x: f64) -> f64 {
        let _ = j;
        x
    }
}

/// The error of a minibatch request to a density without observations.
pub(crate) fn no_minibatches() -> SamplerError {
    SamplerError::Setting { name: "minibatch", detail: "minibatches need a device density indexed by observation (DeviceDensity::n_obs and logp_grad_batches): a DeviceModel of a #[model(observations(x, y))], or a NetworkRegression, NetworkClassifier or NetworkSequenceModel".into() }
}

/// `N(mean, diag(1/precision))` on a device: `ln p = −½ Σ_j precision_j (x_j − mean_j)²` (without
/// the normalising constant).
pub struct DeviceGaussian<E: DfdxElem, D: Device<E>> {
    dev: D,
    mean: Tensor<(usize,), E, D>,
    /// `−precision`: the gradient is one product.
    neg_precision: Tensor<(usize,), E, D>,
}

impl<E: DfdxElem, D: Device<E>> DeviceGaussian<E, D> {
    /// The Gaussian with the given mean and diagonal precision (positive, finite) on `dev`.
    pub fn new(dev: D, mean: &[f64], precision: &[f64]) -> Result<Self, SamplerError> {
        if mean.len() != precision.len() || mean.is_empty() {
            return Err(SamplerError::Setting { name: "precision", detail: format!("{} precisions for a mean of length {} (at least one needed)", precision.len(), mean.len()) });
        }
        if let Some(p) = precision.iter().find(|p| !(**p > 0.0 && p.is_finite())) {
            return Err(SamplerError::Setting { name: "precision", detail: format!("must be positive and finite, got {p}") });
        }
        if let Some(m) = mean.iter().find(|m| !m.is_finite()) {
            return Err(SamplerError::Setting { name: "mean", detail: format!("must be finite, got {m}") });
        }
        let mean = super::upload_column(&dev, mean);
        let neg_precision = super::upload_column(&dev, &precision.iter().map(|p| -p).collect::<Vec<_>>());
        Ok(Self { dev, mean, neg_precision })
    }
}

impl<E: DfdxElem, D: Device<E>> DeviceDensity<E, D> for DeviceGaussian<E, D> {
    fn dim(&self) -> usize {
        self.mean.shape().0
    }
    fn device(&self) -> &D {
        &self.dev
    }
    fn coordinatewise(&self) -> bool {
        true
    }
    fn logp_grad(&self, x: &Rows<E, D>) -> Result<LogpGrad<E, D>, SamplerError> {
        let shape = *x.shape();
        super::check_dim(shape.1, self.dim())?;
        let diff = x.clone() - self.mean.clone().broadcast_like::<_, Axis<0>>(&shape);
        let grad = diff.clone() * self.neg_precision.clone().broadcast_like::<_, Axis<0>>(&shape);
        let lp = row_sum(grad.clone() * diff) * E::of_f64(0.5);
        Ok((lp, grad))
    }
}

opaque_debug!(impl[E: DfdxElem, D: Device<E>] DeviceGaussian<E, D>);
