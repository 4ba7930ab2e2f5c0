//! The network targets of [`crate::nn`] as [`DeviceDensity`]s: the population's weights stay on
//! the network's device; the prior, the likelihood and their gradients are tensor ops there, on
//! all observations or on one minibatch per row.

use crate::sampler::ray_tracing::device::ops::{c, row_sum, spread};
use crate::sampler::ray_tracing::device::{Column, DeviceDensity, LogpGrad, Rows};
use super::module::{LocalBuilder, LocalDevice, LocalSequenceBuilder};
use crate::backend::DfdxElem;
use super::{MlpRegression, NetworkClassifier, NetworkRegression, NetworkSequenceModel, Noise, HALF_LN_2PI};
use crate::sampler::SamplerError;
use dfdx::prelude::{Axis, BroadcastTo, ReshapeTo, TryConcatAlong};
use dfdx::shapes::HasShape;

/// The isotropic-per-weight Gaussian prior `w ~ N(0, diag(sd²))` on a device: `1/sd²` of every
/// weight held there once, so each evaluation is two element-wise products and a row sum.
pub(crate) struct DevicePrior<E: DfdxElem, D: LocalDevice<E>> {
    inv_var: Column<E, D>,
    /// `−Σ (ln sd + ½ ln 2π)`.
    constant: f64,
}

impl<E: DfdxElem, D: LocalDevice<E>> DevicePrior<E, D> {
    /// The prior of weights with standard deviations `sd`, on `dev`.
    pub(crate) fn new(dev: &D, sd: &[f64]) -> Self {
        let inv_var = crate::sampler::ray_tracing::device::upload_column(dev, &sd.iter().map(|s| 1.0 / (s * s)).collect::<Vec<_>>());
        Self { inv_var, constant: -sd.iter().map(|s| s.ln() + HALF_LN_2PI).sum::<f64>() }
    }

    /// `ln prior` of every row of `w` (`(P, K)`) and its gradient rows `−w / sd²`.
    fn log_prior_grad(&self, w: &Rows<E, D>) -> LogpGrad<E, D> {
        let shape = *w.shape();
        let grad = (w.clone() * self.inv_var.clone().broadcast_like::<_, Axis<0>>(&shape)).negate();
        (row_sum(grad.clone() * w.clone()) * c::<E>(0.5) + c::<E>(self.constant), grad)
    }
}

/// `batches`, if given, holds one non-empty batch per row with indices below `n`.
fn check_batches(batches: Option<&[Vec<usize>]>, rows: usize, n: usize) -> Result<(), SamplerError> {
    let Some(batches) = batches else { return Ok(()) };
    let bad = |detail: String| SamplerError::Setting { name: "minibatch", detail };
    if batches.len() != rows {
        return Err(bad(format!("{} batches for {rows} rows: one per row", batches.len())));
    }
    if let Some(b) = batches.iter().find(|b| b.is_empty() || b.iter().any(|&i| i >= n)) {
        return Err(bad(format!("a batch must be non-empty with indices below the {n} observations, got {} indices (largest {:?})", b.len(), b.iter().max())));
    }
    Ok(())
}

/// `ln p(w, σ | y) = ln N(w; 0, diag(sd²)) + Σ_i ln N(y_i; f_w(x_i), σ)` (with `ln σ`'s Gamma prior
/// and Jacobian when the noise is learned), the same density as the host evaluation. Each row's
/// network pass is one forward and reverse pass of the dfdx module on the device.
/// `ln N(w; 0, diag(sd²)) + Σ_i ln N(y_i; f_w(x_i), σ)` of every row of `q` (weights, then `ln σ`
/// when the noise is learned, with its Gamma prior and Jacobian), from the rows' squared errors
/// `sse_rows` (scaled by `N / B_r` on minibatches, so every term below is the full-data one): the
/// same density as the host `NetworkRegression`.
fn gaussian_eval<E: DfdxElem, D: LocalDevice<E>>(q: &Rows<E, D>, k: usize, n: usize, prior: &DevicePrior<E, D>, noise: Noise, batches: Option<&[Vec<usize>]>, sse_rows: impl FnOnce(&Rows<E, D>) -> Result<LogpGrad<E, D>, SamplerError>) -> Result<LogpGrad<E, D>, SamplerError> {
    let (p, d) = *q.shape();
    crate::sampler::ray_tracing::device::check_dim(d, k + usize::from(matches!(noise, Noise::Gamma { .. })))?;
    check_batches(batches, p, n)?;
    let n = n as f64;
    let w = if d == k { q.clone() } else { q.clone().slice((0..p, 0..k)) };
    let (sse, g_sse) = sse_rows(&w)?;
    let (log_prior, g_prior) = prior.log_prior_grad(&w);
    Ok(match noise {
        Noise::Fixed(s) => {
            let lik = sse * c::<E>(-0.5 / (s * s)) + c::<E>(-n * (s.ln() + HALF_LN_2PI));
            (log_prior + lik, g_prior + g_sse * c::<E>(-0.5 / (s * s)))
        }
        Noise::Gamma { shape, rate } => {
            let ln_sigma = q.clone().slice((0..p, k..k + 1)).reshape_like(&(p,));
            let sigma = ln_sigma.clone().exp();
            let inv_s2 = (ln_sigma.clone() * c::<E>(-2.0)).exp();
            let lik = sse.clone() * inv_s2.clone() * c::<E>(-0.5) - (ln_sigma.clone() + c::<E>(HALF_LN_2PI)) * c::<E>(n);
            let sigma_prior = ln_sigma * c::<E>(shape) - sigma.clone() * c::<E>(rate) + c::<E>(shape * rate.ln() - crate::special::lgamma(shape));
            let g_w = g_prior + g_sse * spread(inv_s2.clone() * c::<E>(-0.5), k);
            let g_ls = (sse * inv_s2 - c::<E>(n)) - sigma * c::<E>(rate) + c::<E>(shape);
            let grad = (g_w, g_ls.reshape_like(&(p, 1))).concat_along(Axis::<1>);
            (log_prior + sigma_prior + lik, grad)
        }
    })
}

/// The [`DeviceDensity`] methods of a Gaussian-likelihood network target over
/// `gaussian_eval`, given how its network computes the rows' squared errors (`$sse`:
/// `|net, w, batches| -> Result<LogpGrad>`).
macro_rules! gaussian_device_density {
    ($ty:ty, [$($gen:tt)*], where [$($bounds:tt)*], $constrain:expr, $sse:expr) => {
        impl<$($gen)*> DeviceDensity<E, D> for $ty
        where
            $($bounds)*
        {
            fn dim(&self) -> usize {
                self.param_names().len()
            }
            fn device(&self) -> &D {
                self.device_parts().0.device()
            }
            fn names(&self) -> Vec<String> {
                self.param_names().to_vec()
            }
            fn init(&self, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
                self.init_point(rng)
            }
            fn constrain(&self, q: &[f64]) -> Vec<f64> {
                $constrain(self, q)
            }
            fn coordinatewise(&self) -> bool {
                true
            }
            /// `sigma = exp(ln sigma)` for the last coordinate when the noise is learned.
            fn constrain_coordinate(&self, j: usize, x: f64) -> f64 {
                let (_, _, noise) = self.device_parts();
                if matches!(noise, Noise::Gamma { .. }) && j == self.n_weights() { x.exp() } else { x }
            }
            fn logp_grad(&self, q: &Rows<E, D>) -> Result<LogpGrad<E, D>, SamplerError> {
                let (net, prior, noise) = self.device_parts();
                gaussian_eval(q, self.n_weights(), net.n_obs(), prior, noise, None, |w| $sse(net, w, None))
            }
            fn n_obs(&self) -> Option<usize> {
                Some(self.device_parts().0.n_obs())
            }
            fn logp_grad_batches(&self, q: &Rows<E, D>, batches: &[Vec<usize>]) -> Result<LogpGrad<E, D>, SamplerError> {
                let (net, prior, noise) = self.device_parts();
                gaussian_eval(q, self.n_weights(), net.n_obs(), prior, noise, Some(batches), |w| $sse(net, w, Some(batches)))
            }
        }
    };
}

// one dfdx module pass per row
gaussian_device_density!(
    NetworkRegression<B, I, E, D>, [B, const I: usize, E, D], where [E: DfdxElem, D: LocalDevice<E>, B: LocalBuilder<I, 1, E, D>],
    |t: &NetworkRegression<B, I, E, D>, q: &[f64]| t.constrain_point(q).unwrap_or_else(|_| q.to_vec()),
    |net: &crate::nn::module::DeviceNetwork<B, I, 1, E, D>, w: &Rows<E, D>, b: Option<&[Vec<usize>]>| Ok(net.loss_grad_rows(w, b))
);
// all rows at once: one batched product per layer
gaussian_device_density!(
    MlpRegression<E, D>, [E, D], where [E: DfdxElem, D: LocalDevice<E>],
    |t: &MlpRegression<E, D>, q: &[f64]| t.constrain_point(q),
    |mlp: &super::device_mlp::DeviceMlp<E, D>, w: &Rows<E, D>, b: Option<&[Vec<usize>]>| mlp.sse_rows(w, b)
);

/// `ln N(w; 0, diag(sd²)) − Σ_i CE_i(w)` for a network whose likelihood is a categorical
/// cross-entropy `loss_rows` (the classifier's, the sequence model's), on the device.
fn categorical_eval<E: DfdxElem, D: LocalDevice<E>>(q: &Rows<E, D>, k: usize, n: usize, prior: &DevicePrior<E, D>, batches: Option<&[Vec<usize>]>, loss_rows: impl FnOnce(&Rows<E, D>) -> LogpGrad<E, D>) -> Result<LogpGrad<E, D>, SamplerError> {
    let (p, d) = *q.shape();
    crate::sampler::ray_tracing::device::check_dim(d, k)?;
    check_batches(batches, p, n)?;
    let (ce, g_ce) = loss_rows(q);
    let (log_prior, g_prior) = prior.log_prior_grad(q);
    Ok((log_prior - ce, g_prior - g_ce))
}

/// The device evaluation of a network target with a categorical likelihood: the
/// [`DeviceDensity`] methods over `categorical_eval`.
macro_rules! categorical_device_density {
    ($ty:ty, [$($gen:tt)*], $bound:path) => {
        impl<$($gen)*, E, D> DeviceDensity<E, D> for $ty
        where
            E: DfdxElem,
            D: LocalDevice<E>,
            B: $bound,
        {
            fn dim(&self) -> usize {
                self.n_weights()
            }
            fn device(&self) -> &D {
                self.device_parts().0.device()
            }
            fn init(&self, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
                self.init_point(rng)
            }
            fn names(&self) -> Vec<String> {
                (1..=self.n_weights()).map(|i| format!("w.{i}")).collect()
            }
            fn coordinatewise(&self) -> bool {
                true
            }
            fn logp_grad(&self, q: &Rows<E, D>) -> Result<LogpGrad<E, D>, SamplerError> {
                let (net, prior) = self.device_parts();
                categorical_eval(q, self.n_weights(), net.n_obs(), prior, None, |w| net.loss_grad_rows(w, None))
            }
            fn n_obs(&self) -> Option<usize> {
                Some(self.device_parts().0.n_obs())
            }
            fn logp_grad_batches(&self, q: &Rows<E, D>, batches: &[Vec<usize>]) -> Result<LogpGrad<E, D>, SamplerError> {
                let (net, prior) = self.device_parts();
                categorical_eval(q, self.n_weights(), net.n_obs(), prior, Some(batches), |w| net.loss_grad_rows(w, Some(batches)))
            }
        }
    };
}

categorical_device_density!(NetworkClassifier<B, I, K, E, D>, [B, const I: usize, const K: usize], LocalBuilder<I, K, E, D>);
categorical_device_density!(NetworkSequenceModel<B, V, E, D>, [B, const V: usize], LocalSequenceBuilder<V, E, D>);
