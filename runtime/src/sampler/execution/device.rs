//! The device execution: every chain's position, momentum and gradient in dfdx tensors, the
//! target a [`DeviceDensity`], the kernel the same as on the host.

use super::{Kernel, Rows};
use crate::backend::DfdxElem;
use crate::error::ModelError;
use crate::sampler::driver::{chain_rng, initial_point, Run};
use crate::sampler::metric::Metric;
use crate::sampler::ray_tracing::device::ops::{row_dot, row_sum, spread, spread_mask, Rows as Matrix};
use crate::sampler::ray_tracing::device::{download, upload, upload_column, DeviceDensity};
use crate::sampler::{Draws, Observer, RunConfig, SamplerError};
use crate::target::Target;
use dfdx::prelude::{ChooseFrom, TryGt};
use dfdx::tensor_ops::Device;
use rand_chacha::ChaCha8Rng;

/// Runs `sampler`'s chains on a device: all `cfg.chains` chains in lockstep, their `(P, D)` state
/// in dfdx tensors on `density`'s device, every step one population evaluation of `density`
/// there. Chain `c` draws from stream `c` of `cfg.seed` as in [`run`](crate::sampler::run), so the
/// draws are those of the host executions up to the device's arithmetic (within 1e-9 on dfdx's
/// `Cpu` in f64).
///
/// Warmup adapts each chain on the host (its step size, and its metric from the chain's draws):
/// per warmup iteration the positions travel device → host; the device applies diagonal metrics
/// only (a dense one is refused, naming the setting).
///
/// ```
/// use snell::prelude::*;
/// use snell::nn::Cpu;
/// use snell::sampler::{hmc::Hmc, run_device, RunConfig};
/// use snell::sampler::ray_tracing::device::DeviceModel;
/// #[model]
/// fn normal_mean(y: &[f64]) {
///     let mu = sample!(Normal(0.0, 10.0));
///     let sigma = sample!(HalfNormal(2.0));
///     observe!(y ~ Normal(mu, sigma));
/// }
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let model = NormalMean::new(&[0.3, -0.2, 0.9])?;
/// let on_cpu = DeviceModel::<_, f64, Cpu>::new(&model, Cpu::default());
/// let cfg = RunConfig { chains: 4, warmup: 100, draws: 100, seed: 1, init: None };
/// let draws = run_device(&Hmc::new(5), &on_cpu, &cfg)?;
/// assert_eq!(draws.chains.len(), 4);
/// # Ok(()) }
/// ```
pub fn run_device<K: Kernel, E: DfdxElem, D: Device<E>>(sampler: &K, density: &dyn DeviceDensity<E, D>, cfg: &RunConfig) -> Result<Draws, SamplerError> {
    run_device_observed(sampler, density, cfg, &[])
}

/// [`run_device`], telling `observers` about every transition.
pub fn run_device_observed<K: Kernel, E: DfdxElem, D: Device<E>>(sampler: &K, density: &dyn DeviceDensity<E, D>, cfg: &RunConfig, observers: &[&dyn Observer]) -> Result<Draws, SamplerError> {
    sampler.validate()?;
    let names = density.names();
    cfg.validate(density.dim(), names.len())?;
    let mut settings = sampler.settings();
    settings.push(("execution".into(), "device".into()));
    let view = HostView { density };
    let mut rngs: Vec<ChaCha8Rng> = (0..cfg.chains).map(|c| chain_rng(cfg.seed, c)).collect();
    let positions = (0..cfg.chains).map(|c| initial_point(&view, cfg, c, &mut rngs[c])).collect::<Result<Vec<_>, _>>()?;
    let rows = DeviceRows { view: HostView { density }, p: cfg.chains };
    let mut group = sampler.start_rows(rows, positions, cfg.warmup, &mut rngs)?;
    let values = |q: &[f64]| view.output_values(q).map_err(SamplerError::from);
    let run = Run { sampler: sampler.name(), settings: &settings, cfg, names: &names, values: &values, observers };
    let chains = run.drive(&mut *group, 0, &mut rngs)?;
    Ok(run.draws(vec![chains]))
}

/// A [`DeviceDensity`] seen from the host one point at a time: initial points and warmup's
/// step-size search.
struct HostView<'a, E, D> {
    density: &'a dyn DeviceDensity<E, D>,
}

// SAFETY: a view exists only inside `run_device_observed` (it is not public, and neither is
// `DeviceRows`, which holds one), which runs on the calling thread and starts none: the view is
// never used from two threads. It must be `Sync` only because `Target` is (the threaded driver
// shares targets between threads), and dfdx's CUDA device is not.
unsafe impl<E, D> Sync for HostView<'_, E, D> {}

impl<E: DfdxElem, D: Device<E>> Target for HostView<'_, E, D> {
    fn dim(&self) -> usize {
        self.density.dim()
    }
    fn logp_grad_batch(&self, q: &[f64], lp: &mut [f64], grad: &mut [f64]) -> Result<(), ModelError> {
        let (p, d) = (lp.len(), self.dim());
        let (l, g) = self.density.logp_grad(&upload(self.density.device(), q, p, d)).map_err(|e| ModelError::Unsupported { what: "device evaluation", detail: e.to_string() })?;
        lp.copy_from_slice(&download(&l));
        grad.copy_from_slice(&download(&g));
        Ok(())
    }
    fn names(&self) -> Vec<String> {
        self.density.names()
    }
    fn output_values(&self, q: &[f64]) -> Result<Vec<f64>, ModelError> {
        Ok(self.density.constrain(q))
    }
    fn init(&self, rng: &mut ChaCha8Rng) -> Vec<f64> {
        self.density.init(rng)
    }
}

/// `(P, D)` arrays as tensors on a dfdx device, evaluated by a [`DeviceDensity`] there.
struct DeviceRows<'a, E, D> {
    view: HostView<'a, E, D>,
    p: usize,
}

impl<E: DfdxElem, D: Device<E>> DeviceRows<'_, E, D> {
    fn dev(&self) -> &D {
        self.view.density.device()
    }
    fn mask(&self, m: &[bool]) -> dfdx::prelude::Tensor<(usize, usize), bool, D> {
        let ones: Vec<f64> = m.iter().map(|&b| f64::from(u8::from(b))).collect();
        spread_mask(&upload_column::<E, D>(self.dev(), &ones).gt(E::of_f64(0.5)), self.dim())
    }
}

impl<E: DfdxElem, D: Device<E>> Rows for DeviceRows<'_, E, D> {
    type Array = Matrix<E, D>;
    type Metric = Matrix<E, D>;

    fn len(&self) -> usize {
        self.p
    }
    fn dim(&self) -> usize {
        self.view.density.dim()
    }
    fn upload(&self, values: &[f64]) -> Matrix<E, D> {
        upload(self.dev(), values, self.p, self.dim())
    }
    fn download(&self, a: &Matrix<E, D>) -> Vec<f64> {
        download(a)
    }
    fn axpy(&self, y: &mut Matrix<E, D>, a: &[f64], x: &Matrix<E, D>) {
        let moved = y.clone() + spread(upload_column(self.dev(), a), self.dim()) * x.clone();
        *y = if a.contains(&0.0) {
            let keep: Vec<bool> = a.iter().map(|a| *a != 0.0).collect();
            self.mask(&keep).choose(moved, y.clone())
        } else {
            moved
        };
    }
    fn scale(&self, x: &mut Matrix<E, D>, a: &[f64]) {
        if a.iter().any(|a| *a != 1.0) {
            *x = spread(upload_column(self.dev(), a), self.dim()) * x.clone();
        }
    }
    fn row_dot(&self, a: &Matrix<E, D>, b: &Matrix<E, D>) -> Vec<f64> {
        download(&row_dot(a, b))
    }
    fn select(&self, take: &[bool], a: &mut Matrix<E, D>, b: &Matrix<E, D>) {
        if take.contains(&true) {
            *a = self.mask(take).choose(b.clone(), a.clone());
        }
    }
    fn metric(&self, metrics: &[Metric]) -> Result<Matrix<E, D>, SamplerError> {
        let mut diag = Vec::with_capacity(self.p * self.dim());
        for m in metrics {
            match m {
                Metric::Diag(v) => diag.extend_from_slice(v),
                Metric::Dense { .. } => return Err(dense_refused()),
            }
        }
        Ok(self.upload(&diag))
    }
    fn dense_metrics(&self) -> bool {
        false
    }
    fn velocity(&self, metric: &Matrix<E, D>, p: &Matrix<E, D>) -> Matrix<E, D> {
        metric.clone() * p.clone()
    }
    fn evaluate(&self, q: &Matrix<E, D>, _active: &[bool]) -> Result<(Vec<f64>, Matrix<E, D>), SamplerError> {
        self.checked(self.view.density.logp_grad(q)?)
    }
    fn observations(&self) -> Option<usize> {
        self.view.density.n_obs()
    }
    /// Rows without a batch are evaluated on observation 0 (the density takes one batch per row).
    fn evaluate_minibatch(&self, q: &Matrix<E, D>, batches: &[Option<&[usize]>]) -> Result<(Vec<f64>, Matrix<E, D>), SamplerError> {
        let batches: Vec<Vec<usize>> = batches.iter().map(|b| b.map_or_else(|| vec![0], <[usize]>::to_vec)).collect();
        self.checked(self.view.density.logp_grad_batches(q, &batches)?)
    }
    fn host_target(&self) -> &dyn Target {
        &self.view
    }
}

impl<E: DfdxElem, D: Device<E>> DeviceRows<'_, E, D> {
    /// Log densities on the host, `−∞` where a row's log density or gradient is not finite.
    fn checked(&self, (lp, grad): (dfdx::prelude::Tensor<(usize,), E, D>, Matrix<E, D>)) -> Result<(Vec<f64>, Matrix<E, D>), SamplerError> {
        // 0·g is 0 where g is finite and NaN elsewhere: one value per row says whether it all is
        let check = download(&row_sum(grad.clone() * E::of_f64(0.0)));
        let lp = download(&lp).into_iter().zip(check).map(|(l, c)| if l.is_finite() && c.is_finite() { l } else { f64::NEG_INFINITY }).collect();
        Ok((lp, grad))
    }
}

/// The error of a dense metric on the device.
fn dense_refused() -> SamplerError {
    SamplerError::Setting { name: "dense", detail: "the device execution applies diagonal metrics only: adapt a diagonal metric (dense = false)".into() }
}
