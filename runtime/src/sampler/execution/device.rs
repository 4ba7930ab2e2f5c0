//! The device execution: every chain's position, momentum and gradient in dfdx tensors, the
//! target evaluating them there ([`Target::logp_grad_device`]), the kernel the same as on the host.

use super::{Kernel, Rows};
use crate::backend::device::{download, row_dot, row_sum, spread, spread_mask, upload, upload_column};
use crate::backend::{DeviceMatrix as Matrix, Dfdx, DfdxElem, PointDevice};
use crate::error::ModelError;
use crate::sampler::driver::{chain_rng, initial_point, Run};
use crate::sampler::metric::Metric;
use crate::sampler::{Draws, Observer, RunConfig, SamplerError};
use crate::target::Target;
use dfdx::prelude::{ChooseFrom, TryGt};
use dfdx::shapes::HasShape;
use rand_chacha::ChaCha8Rng;

/// Runs `sampler`'s chains on a device: all `cfg.chains` chains in lockstep, their `(P, D)` state
/// in dfdx tensors on `backend`'s device in its element type, every step one population
/// evaluation of `target` there ([`Target::logp_grad_device`]: a `#[model]` evaluates through the
/// dfdx backend of that device). Chain `c` draws from stream `c` of `cfg.seed` as in
/// [`run`](crate::sampler::run), so the draws are those of the host executions up to the device's
/// arithmetic (within 1e-9 on dfdx's `Cpu` in f64).
///
/// Warmup adapts each chain on the host (its step size, and its metric from the chain's draws):
/// per warmup iteration the positions travel device → host; the device applies diagonal metrics
/// only (a dense one is refused, naming the setting). Each transition's positions come to the
/// host for the draw; wrap the target in [`Select`](crate::sampler::Select) to record some of its
/// values only.
///
/// ```
/// use snell::prelude::*;
/// use snell::sampler::{hmc::Hmc, run_device, RunConfig};
/// #[model]
/// fn normal_mean(y: &[f64]) {
///     let mu = sample!(Normal(0.0, 10.0));
///     let sigma = sample!(HalfNormal(2.0));
///     observe!(y ~ Normal(mu, sigma));
/// }
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let model = NormalMean::new(&[0.3, -0.2, 0.9])?;
/// let cfg = RunConfig { chains: 4, warmup: 100, draws: 100, seed: 1, init: None };
/// let draws = run_device(&Hmc::new(5), &model, &Cpu64::default(), &cfg)?;
/// assert_eq!(draws.chains.len(), 4);
/// # Ok(()) }
/// ```
pub fn run_device<K: Kernel, E: DfdxElem, D: PointDevice<E>>(sampler: &K, target: &dyn Target, backend: &Dfdx<E, D>, cfg: &RunConfig) -> Result<Draws, SamplerError> {
    run_device_observed(sampler, target, backend, cfg, &[])
}

/// [`run_device`], telling `observers` about every transition.
pub fn run_device_observed<K: Kernel, E: DfdxElem, D: PointDevice<E>>(sampler: &K, target: &dyn Target, backend: &Dfdx<E, D>, cfg: &RunConfig, observers: &[&dyn Observer]) -> Result<Draws, SamplerError> {
    sampler.validate()?;
    let names = target.names();
    cfg.validate(target.dim(), names.len())?;
    let mut settings = sampler.settings();
    settings.push(("execution".into(), "device".into()));
    let mut rngs: Vec<ChaCha8Rng> = (0..cfg.chains).map(|c| chain_rng(cfg.seed, c)).collect();
    let positions = (0..cfg.chains).map(|c| initial_point(target, cfg, c, &mut rngs[c])).collect::<Result<Vec<_>, _>>()?;
    let rows = DeviceRows::new(target, backend.device().clone(), cfg.chains);
    let mut group = sampler.start_rows(rows, positions, cfg.warmup, &mut rngs)?;
    let values = |q: &[f64]| target.output_values(q).map_err(SamplerError::from);
    let run = Run { sampler: sampler.name(), settings: &settings, cfg, names: &names, values: &values, observers };
    let chains = run.drive(&mut *group, 0, &mut rngs)?;
    Ok(run.draws(vec![chains]))
}

/// A target seen from the host through its evaluation on a device: what the kernels evaluate
/// one point at a time (warmup's step-size search) gets the device's arithmetic too.
struct DeviceView<'a, E, D> {
    target: &'a dyn Target,
    dev: D,
    _e: std::marker::PhantomData<E>,
}

impl<E: DfdxElem, D: PointDevice<E>> Target for DeviceView<'_, E, D> {
    fn dim(&self) -> usize {
        self.target.dim()
    }
    fn logp_grad_batch(&self, q: &[f64], lp: &mut [f64], grad: &mut [f64]) -> Result<(), ModelError> {
        let p = crate::target::check_population(self.dim(), q, lp, grad)?;
        let (l, g) = self.target.logp_grad_device(&D::wrap(upload(&self.dev, q, p, self.dim())))?;
        lp.copy_from_slice(&l);
        grad.copy_from_slice(&g.to_host());
        Ok(())
    }
    fn names(&self) -> Vec<String> {
        self.target.names()
    }
    fn output_values(&self, q: &[f64]) -> Result<Vec<f64>, ModelError> {
        self.target.output_values(q)
    }
    fn init(&self, rng: &mut ChaCha8Rng) -> Vec<f64> {
        self.target.init(rng)
    }
    fn observations(&self) -> Option<usize> {
        self.target.observations()
    }
}

/// `(P, D)` arrays as tensors on a dfdx device, evaluated there by a [`Target`].
pub(crate) struct DeviceRows<'a, E, D> {
    view: DeviceView<'a, E, D>,
    p: usize,
}

impl<'a, E: DfdxElem, D: PointDevice<E>> DeviceRows<'a, E, D> {
    /// `p` rows on `dev`, evaluated by `target`.
    pub(crate) fn new(target: &'a dyn Target, dev: D, p: usize) -> Self {
        Self { view: DeviceView { target, dev, _e: std::marker::PhantomData }, p }
    }

    fn dev(&self) -> &D {
        &self.view.dev
    }
    fn mask(&self, m: &[bool]) -> dfdx::prelude::Tensor<(usize, usize), bool, D> {
        let ones: Vec<f64> = m.iter().map(|&b| f64::from(u8::from(b))).collect();
        spread_mask::<E, D>(&upload_column::<E, D>(self.dev(), &ones).gt(E::of_f64(0.5)), self.dim())
    }
}

impl<E: DfdxElem, D: PointDevice<E>> Rows for DeviceRows<'_, E, D> {
    type Array = Matrix<E, D>;
    type Metric = Matrix<E, D>;

    fn len(&self) -> usize {
        self.p
    }
    fn dim(&self) -> usize {
        self.view.target.dim()
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
        let (lp, grad) = self.view.target.logp_grad_device(&D::wrap(q.clone()))?;
        self.checked(lp, grad)
    }
    fn observations(&self) -> Option<usize> {
        self.view.target.observations()
    }
    /// Rows without a batch are evaluated on observation 0 (the target takes one batch per row).
    fn evaluate_minibatch(&self, q: &Matrix<E, D>, batches: &[Option<&[usize]>]) -> Result<(Vec<f64>, Matrix<E, D>), SamplerError> {
        let batches: Vec<&[usize]> = batches.iter().map(|b| b.unwrap_or(&[0])).collect();
        let (lp, grad) = self.view.target.logp_grad_minibatch_device(&D::wrap(q.clone()), &batches)?;
        self.checked(lp, grad)
    }
    fn host_target(&self) -> &dyn Target {
        &self.view
    }
}

impl<E: DfdxElem, D: PointDevice<E>> DeviceRows<'_, E, D> {
    /// The gradient as this execution's tensor, and the log densities, `−∞` where a row's log
    /// density or gradient is not finite.
    fn checked(&self, lp: Vec<f64>, grad: crate::backend::DevicePoints) -> Result<(Vec<f64>, Matrix<E, D>), SamplerError> {
        let grad = D::unwrap(&grad).cloned().ok_or_else(|| ModelError::Unsupported { what: "device evaluation", detail: "the target returned its gradients on another device or in another element type than its points".into() })?;
        if lp.len() != self.p || grad.shape() != &(self.p, self.dim()) {
            return Err(ModelError::Dimension { what: "log densities and gradient rows of the device evaluation".into(), expected: self.p, got: lp.len() }.into());
        }
        // 0·g is 0 where g is finite and NaN elsewhere: one value per row says whether it all is
        let check = download(&row_sum(grad.clone() * E::of_f64(0.0)));
        let lp = lp.into_iter().zip(check).map(|(l, c)| if l.is_finite() && c.is_finite() { l } else { f64::NEG_INFINITY }).collect();
        Ok((lp, grad))
    }
}

/// The error of a dense metric on the device.
fn dense_refused() -> SamplerError {
    SamplerError::Setting { name: "dense", detail: "the device execution applies diagonal metrics only: adapt a diagonal metric (dense = false)".into() }
}
