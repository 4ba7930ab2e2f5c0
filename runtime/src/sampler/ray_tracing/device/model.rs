//! [`DeviceModel`]: any `#[model]` as a [`DeviceDensity`], evaluated by snell's dfdx backend on the
//! same device as the rays.

use super::density::{DeviceDensity, LogpGrad};
use super::rays::{download, upload, upload_column};
use super::Rows;
use crate::backend::{Dfdx, DfdxElem, HostGradients};
use crate::model::{EvalOptions, Model};
use crate::sampler::SamplerError;
use dfdx::shapes::HasShape;

/// A model run on a dfdx device: its population evaluation is [`Model::evaluate`] on the dfdx
/// backend of that device (`Cpu`, or `Cuda` with the `cuda` feature), so the device ray tracer
/// runs any `#[model]`, networks inside it included (their reverse pass is the network's own,
/// added to dfdx's tape).
///
/// What this costs: the model's evaluation takes and returns host slices, so each evaluation
/// copies the `(P, D)` positions to the host and the log densities and gradients back. On the
/// `Cpu` device these are memory copies; on a GPU they are two transfers per step beside the
/// model's own work there.
///
/// ```
/// use snell::prelude::*;
/// use snell::sampler::ray_tracing::device::{DeviceModel, DeviceRayTracing};
/// use snell::nn::Cpu;
/// use snell::sampler::ray_tracing::RayTracing;
/// use snell::sampler::RunConfig;
/// #[model]
/// fn normal_mean(y: &[f64]) {
///     let mu = sample!(Normal(0.0, 10.0));
///     let sigma = sample!(HalfNormal(2.0));
///     observe!(y ~ Normal(mu, sigma));
/// }
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let model = NormalMean::new(&[0.3, -0.2, 0.9])?;
/// let on_cpu = DeviceModel::<_, f64, Cpu>::new(&model, Cpu::default());
/// let cfg = RunConfig { chains: 8, warmup: 100, draws: 100, seed: 1, init: None };
/// let draws = DeviceRayTracing::new(RayTracing::default()).run(&on_cpu, &cfg)?;
/// assert!(draws.names.iter().any(|n| n == "mu"));
/// # Ok(()) }
/// ```
pub struct DeviceModel<'m, M, E, D> {
    model: &'m M,
    backend: Dfdx<E, D>,
}

impl<'m, M: Model, E: DfdxElem, D: HostGradients<E> + Default> DeviceModel<'m, M, E, D> {
    /// `model` evaluated on `device`.
    pub fn new(model: &'m M, device: D) -> Self {
        Self { model, backend: Dfdx::new(device) }
    }

    fn evaluate(&self, x: &Rows<E, D>, batch: Option<&[usize]>) -> Result<(Vec<f64>, Vec<f64>), SamplerError> {
        let theta = download(x);
        let e = self.model.evaluate(&self.backend, &theta, batch, EvalOptions::default())?;
        Ok((e.log_density, e.grad.unwrap_or_default()))
    }
}

impl<M: Model, E: DfdxElem, D: HostGradients<E> + Default> DeviceDensity<E, D> for DeviceModel<'_, M, E, D> {
    fn dim(&self) -> usize {
        self.model.dim()
    }
    fn device(&self) -> &D {
        self.backend.device()
    }
    fn logp_grad(&self, x: &Rows<E, D>) -> Result<LogpGrad<E, D>, SamplerError> {
        let (p, d) = *x.shape();
        super::check_dim(d, self.model.dim())?;
        let (lp, grad) = self.evaluate(x, None)?;
        Ok((upload_column(self.device(), &lp), upload(self.device(), &grad, p, d)))
    }
    fn n_obs(&self) -> Option<usize> {
        self.model.n_obs()
    }
    /// One evaluation per row, each on its own batch.
    fn logp_grad_batches(&self, x: &Rows<E, D>, batches: &[Vec<usize>]) -> Result<LogpGrad<E, D>, SamplerError> {
        let (p, d) = *x.shape();
        super::check_dim(d, self.model.dim())?;
        if self.model.n_obs().is_none() {
            return Err(super::no_minibatches());
        }
        if batches.len() != p || batches.iter().any(|b| b.is_empty()) {
            return Err(SamplerError::Setting { name: "minibatch", detail: format!("{} batches for {p} rows: one non-empty batch per row is needed", batches.len()) });
        }
        let theta = download(x);
        let (mut lp, mut grad) = (Vec::with_capacity(p), Vec::with_capacity(p * d));
        for (r, batch) in batches.iter().enumerate() {
            self.model.check_batch(batch)?;
            let e = self.model.evaluate(&self.backend, &theta[r * d..(r + 1) * d], Some(batch), EvalOptions::default())?;
            lp.extend(e.log_density);
            grad.extend(e.grad.unwrap_or_default());
        }
        Ok((upload_column(self.device(), &lp), upload(self.device(), &grad, p, d)))
    }
    fn names(&self) -> Vec<String> {
        self.model.names()
    }
    fn init(&self, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
        self.model.init(rng)
    }
    /// The constrained parameters and deterministic quantities; NaN where the point cannot be
    /// constrained (it has no finite density, so the sampler never records it).
    fn constrain(&self, q: &[f64]) -> Vec<f64> {
        self.model.output_values(q).unwrap_or_else(|_| vec![f64::NAN; self.model.names().len()])
    }
}

opaque_debug!(impl['m, M, E, D] DeviceModel<'m, M, E, D>);
