//! The network targets of [`crate::nn`] on a dfdx device: the population's weights stay on the
//! network's device; the prior, the likelihood and their gradients are tensor ops there, on all
//! observations or on one minibatch per row. This is their
//! [`Target::logp_grad_device`](crate::target::Target::logp_grad_device).

use super::module::{NetworkBuilder, NetworkDevice, SequenceBuilder};
use super::{NetworkClassifier, NetworkRegression, NetworkSequenceModel, Noise, HALF_LN_2PI};
use crate::backend::device::{c, check_dim, download, row_sum, spread, upload_column};
use crate::backend::{DeviceColumn, DeviceMatrix, DevicePoints, DfdxElem, LogpGrad, PointDevice};
use crate::error::ModelError;
use crate::target::{logp_grad_device_via_host, minibatch_device_via_host, Target};
use dfdx::prelude::{Axis, BroadcastTo, ReshapeTo, TryConcatAlong};
use dfdx::shapes::HasShape;

/// The isotropic-per-weight Gaussian prior `w ~ N(0, diag(sd²))` on a device: `1/sd²` of every
/// weight held there once, so each evaluation is two element-wise products and a row sum.
pub(crate) struct DevicePrior<E: DfdxElem, D: NetworkDevice<E>> {
    inv_var: DeviceColumn<E, D>,
    /// `−Σ (ln sd + ½ ln 2π)`.
    constant: f64,
}

impl<E: DfdxElem, D: NetworkDevice<E>> DevicePrior<E, D> {
    /// The prior of weights with standard deviations `sd`, on `dev`.
    pub(crate) fn new(dev: &D, sd: &[f64]) -> Self {
        let inv_var = upload_column(dev, &sd.iter().map(|s| 1.0 / (s * s)).collect::<Vec<_>>());
        Self { inv_var, constant: -sd.iter().map(|s| s.ln() + HALF_LN_2PI).sum::<f64>() }
    }


    /// `ln prior` of every row of `w` (`(P, K)`) and its gradient rows `−w / sd²`.
    fn log_prior_grad(&self, w: &DeviceMatrix<E, D>) -> LogpGrad<E, D> {
        let shape = *w.shape();
        let grad = (w.clone() * self.inv_var.clone().broadcast_like::<_, Axis<0>>(&shape)).negate();
        (row_sum(grad.clone() * w.clone()) * c::<E>(0.5) + c::<E>(self.constant), grad)
    }
}

/// `batches`, if given, holds one non-empty batch per row with indices below `n`.
fn check_batches(batches: Option<&[Vec<usize>]>, rows: usize, n: usize) -> Result<(), ModelError> {
    let Some(batches) = batches else { return Ok(()) };
    crate::target::check_batch_count(batches.len(), rows)?;
    batches.iter().try_for_each(|b| super::check_batch(b, n))
}

/// The device evaluation of a network target `target` whose tensor form is `eval` (points and,
/// for minibatches, one batch per row): used where the points live on the target's kind of device
/// in its element type, without a copy; points elsewhere are evaluated through the host.
pub(crate) fn on_device<T: Target + ?Sized, E: DfdxElem, D: PointDevice<E>>(target: &T, q: &DevicePoints, batches: Option<&[&[usize]]>, eval: impl FnOnce(&DeviceMatrix<E, D>, Option<&[Vec<usize>]>) -> Result<LogpGrad<E, D>, ModelError>) -> Result<(Vec<f64>, DevicePoints), ModelError> {
    match (D::unwrap(q), batches) {
        (Some(w), b) => {
            let b: Option<Vec<Vec<usize>>> = b.map(|b| b.iter().map(|r| r.to_vec()).collect());
            let (lp, grad) = eval(w, b.as_deref())?;
            Ok((download(&lp), D::wrap(grad)))
        }
        (None, None) => logp_grad_device_via_host(target, q),
        (None, Some(b)) => minibatch_device_via_host(target, q, b),
    }
}

/// The two device methods of a network target's `impl Target`, over its inherent `device_eval`.
macro_rules! device_methods {
    () => {
        fn logp_grad_device(&self, q: &$crate::backend::DevicePoints) -> Result<(Vec<f64>, $crate::backend::DevicePoints), ModelError> {
            $crate::nn::device::on_device(self, q, None, |w, b| self.device_eval(w, b))
        }
        fn logp_grad_minibatch_device(&self, q: &$crate::backend::DevicePoints, batches: &[&[usize]]) -> Result<(Vec<f64>, $crate::backend::DevicePoints), ModelError> {
            $crate::nn::device::on_device(self, q, Some(batches), |w, b| self.device_eval(w, b))
        }
    };
}
pub(crate) use device_methods;

/// `ln N(w; 0, diag(sd²)) + Σ_i ln N(y_i; f_w(x_i), σ)` of every row of `q` (weights, then `ln σ`
/// when the noise is learned, with its Gamma prior and Jacobian), from the rows' squared errors
/// `sse_rows` (scaled by `N / B_r` on minibatches, so every term below is the full-data one): the
/// same density as the host `NetworkRegression`.
fn gaussian_eval<E: DfdxElem, D: NetworkDevice<E>>(q: &DeviceMatrix<E, D>, k: usize, n: usize, prior: &DevicePrior<E, D>, noise: Noise, batches: Option<&[Vec<usize>]>, sse_rows: impl FnOnce(&DeviceMatrix<E, D>) -> Result<LogpGrad<E, D>, ModelError>) -> Result<LogpGrad<E, D>, ModelError> {
    let (p, d) = *q.shape();
    check_dim(d, k + usize::from(matches!(noise, Noise::Gamma { .. })))?;
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

/// `ln N(w; 0, diag(sd²)) − Σ_i CE_i(w)` for a network whose likelihood is a categorical
/// cross-entropy `loss_rows` (the classifier's, the sequence model's), on the device.
fn categorical_eval<E: DfdxElem, D: NetworkDevice<E>>(q: &DeviceMatrix<E, D>, k: usize, n: usize, prior: &DevicePrior<E, D>, batches: Option<&[Vec<usize>]>, loss_rows: impl FnOnce(&DeviceMatrix<E, D>) -> LogpGrad<E, D>) -> Result<LogpGrad<E, D>, ModelError> {
    let (p, d) = *q.shape();
    check_dim(d, k)?;
    check_batches(batches, p, n)?;
    let (ce, g_ce) = loss_rows(q);
    let (log_prior, g_prior) = prior.log_prior_grad(q);
    Ok((log_prior - ce, g_prior - g_ce))
}

impl<B, const I: usize, E: DfdxElem, D: NetworkDevice<E>> NetworkRegression<B, I, E, D>
where
    B: NetworkBuilder<I, 1, E, D>,
{
    /// One dfdx module pass per row.
    pub(crate) fn device_eval(&self, q: &DeviceMatrix<E, D>, batches: Option<&[Vec<usize>]>) -> Result<LogpGrad<E, D>, ModelError> {
        let (net, prior, noise) = self.device_parts();
        gaussian_eval(q, self.n_weights(), net.n_obs(), prior, noise, batches, |w| Ok(net.loss_grad_rows(w, batches)))
    }
}

impl<B, const I: usize, const K: usize, E: DfdxElem, D: NetworkDevice<E>> NetworkClassifier<B, I, K, E, D>
where
    B: NetworkBuilder<I, K, E, D>,
{
    /// One dfdx module pass per row.
    pub(crate) fn device_eval(&self, q: &DeviceMatrix<E, D>, batches: Option<&[Vec<usize>]>) -> Result<LogpGrad<E, D>, ModelError> {
        let (net, prior) = self.device_parts();
        categorical_eval(q, self.n_weights(), net.n_obs(), prior, batches, |w| net.loss_grad_rows(w, batches))
    }
}

impl<B, const V: usize, E: DfdxElem, D: NetworkDevice<E>> NetworkSequenceModel<B, V, E, D>
where
    B: SequenceBuilder<V, E, D>,
{
    /// One dfdx module pass per row.
    pub(crate) fn device_eval(&self, q: &DeviceMatrix<E, D>, batches: Option<&[Vec<usize>]>) -> Result<LogpGrad<E, D>, ModelError> {
        let (net, prior) = self.device_parts();
        categorical_eval(q, self.n_weights(), net.n_obs(), prior, batches, |w| net.loss_grad_rows(w, batches))
    }
}
