//! [`NetworkRegression`] as a [`DeviceDensity`]: the population's weights stay on the network's
//! device; the prior, the Gaussian likelihood and their gradients are tensor ops there.

use super::density::{DeviceDensity, LogpGrad};
use super::ops::{c, row_sum, spread, Rows};
use crate::backend::network::{LocalBuilder, LocalDevice};
use crate::backend::DfdxElem;
use crate::nn::{NetworkRegression, Noise, HALF_LN_2PI};
use crate::sampler::SamplerError;
use dfdx::prelude::{Axis, BroadcastTo, ReshapeTo, TryConcatAlong};
use dfdx::shapes::HasShape;

/// `ln p(w, σ | y) = ln N(w; 0, diag(sd²)) + Σ_i ln N(y_i; f_w(x_i), σ)` (with `ln σ`'s Gamma prior
/// and Jacobian when the noise is learned), the same density as the host evaluation. Each row's
/// network pass is one forward and reverse pass of the dfdx module on the device.
impl<B, const I: usize, E, D> DeviceDensity<E, D> for NetworkRegression<B, I, E, D>
where
    E: DfdxElem,
    D: LocalDevice<E>,
    B: LocalBuilder<I, 1, E, D>,
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
        self.constrain_point(q).unwrap_or_else(|_| q.to_vec())
    }
    fn logp_grad(&self, q: &Rows<E, D>) -> Result<LogpGrad<E, D>, SamplerError> {
        let (p, d) = *q.shape();
        super::check_dim(d, self.param_names().len())?;
        let (net, sd, inv_var, noise) = self.device_parts();
        let k = sd.len();
        let n = net.n_obs() as f64;
        let w = if d == k { q.clone() } else { q.clone().slice((0..p, 0..k)) };
        let (sse, g_sse) = net.loss_grad_rows(&w);
        let inv_var = inv_var.clone().broadcast_like::<_, Axis<0>>(&(p, k));
        let prior_const: f64 = -sd.iter().map(|s| s.ln() + HALF_LN_2PI).sum::<f64>();
        let g_prior = (w.clone() * inv_var).negate();
        let log_prior = row_sum(g_prior.clone() * w) * c::<E>(0.5) + c::<E>(prior_const);
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
}
