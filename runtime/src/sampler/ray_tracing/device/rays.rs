//! [`DeviceRays`]: P rays whose positions, velocities, log densities and gradients live in tensors
//! on a dfdx device, and the integration of one trajectory for all of them in lockstep
//! (the drift, integrators and refreshes of [`crate::sampler::ray_tracing`]), every operation a tensor op on the device.

use super::density::{DeviceDensity, LogpGrad};
use super::ops::{finite, full, kick, row_norm, zeros, Column, Mask, Rows};
use crate::backend::DfdxElem;
use crate::sampler::ray_tracing::{Integrator, OMELYAN_LAMBDA};
use crate::sampler::SamplerError;
use dfdx::prelude::{ChooseFrom, Tensor};
use dfdx::shapes::HasShape;
use dfdx::tensor_ops::Device;
use rand::Rng;

/// The element types the device ray tracer runs in: f32 and f64. (Its random numbers come from
/// [`Noise`](super::Noise), drawn on the host from the run's seed.)
pub trait DeviceFloat: DfdxElem + Send {}

impl DeviceFloat for f32 {}
impl DeviceFloat for f64 {}

/// `(P, D)` host values (row-major) as a device tensor.
pub(crate) fn upload<E: DfdxElem, D: Device<E>>(dev: &D, values: &[f64], p: usize, d: usize) -> Rows<E, D> {
    dev.tensor_from_vec(values.iter().map(|&v| E::of_f64(v)).collect(), (p, d))
}

/// Host values as a `(n,)` device tensor.
pub(crate) fn upload_column<E: DfdxElem, D: Device<E>>(dev: &D, values: &[f64]) -> Column<E, D> {
    dev.tensor_from_vec(values.iter().map(|&v| E::of_f64(v)).collect(), (values.len(),))
}

/// A device tensor's values on the host, as f64 (row-major).
pub(crate) fn download<S: dfdx::shapes::Shape, E: DfdxElem, D: Device<E>>(t: &Tensor<S, E, D>) -> Vec<f64> {
    t.as_vec().into_iter().map(DfdxElem::as_f64).collect()
}

/// One point per ray: position `x` and velocity `v` (`(P, D)`), `ln p(x)` (`(P,)`), its gradient
/// and the gradient's norm, all on the device.
pub struct DeviceRays<E: DfdxElem, D: Device<E>> {
    pub(crate) x: Rows<E, D>,
    pub(crate) v: Rows<E, D>,
    pub(crate) lp: Column<E, D>,
    pub(crate) grad: Rows<E, D>,
    pub(crate) gn: Column<E, D>,
}

impl<E: DfdxElem, D: Device<E>> Clone for DeviceRays<E, D> {
    fn clone(&self) -> Self {
        Self { x: self.x.clone(), v: self.v.clone(), lp: self.lp.clone(), grad: self.grad.clone(), gn: self.gn.clone() }
    }
}

/// What one trajectory did, per ray, on the device.
pub struct DeviceTrajectory<E: DfdxElem, D: Device<E>> {
    /// Σ `dlnL_pred` over the kicks (up to a non-finite value).
    pub(crate) pred: Column<E, D>,
    /// Gradient evaluations.
    pub(crate) n_grad: Column<E, D>,
    /// Σ of the angles the kicks turned the velocity by.
    pub(crate) turning: Column<E, D>,
    /// No non-finite density, gradient or prediction was met.
    pub(crate) alive: Mask<D>,
}

impl<E: DfdxElem, D: Device<E>> DeviceTrajectory<E, D> {
    /// Σ `dlnL_pred` per ray (copied to the host).
    pub fn dlnl_pred(&self) -> Vec<f64> {
        download(&self.pred)
    }
    /// Gradient evaluations per ray (copied to the host).
    pub fn n_grad(&self) -> Vec<f64> {
        download(&self.n_grad)
    }
    /// Whether each ray met a non-finite value (copied to the host).
    pub fn non_finite(&self) -> Vec<bool> {
        self.alive.as_vec().into_iter().map(|a| !a).collect()
    }
}

impl<E: DfdxElem, D: Device<E>> DeviceRays<E, D> {
    /// Rays at the rows of `x` with velocities `v` (both row-major `(P, D)` on the host, copied to
    /// the device once); evaluates the density there.
    pub fn new<T: DeviceDensity<E, D>>(target: &T, x: &[f64], v: &[f64]) -> Result<Self, SamplerError> {
        let d = target.dim();
        if d == 0 || x.len() % d != 0 || x.is_empty() {
            return Err(SamplerError::Setting { name: "x", detail: format!("{} values are not a positive number of rows of dimension {d}", x.len()) });
        }
        if v.len() != x.len() {
            return Err(SamplerError::Setting { name: "v", detail: format!("{} velocity values for {} positions", v.len(), x.len()) });
        }
        let p = x.len() / d;
        let dev = target.device();
        Self::at(target, upload(dev, x, p, d), upload(dev, v, p, d))
    }

    /// Rays at device positions `x` with velocities `v`; evaluates the density.
    pub(crate) fn at<T: DeviceDensity<E, D>>(target: &T, x: Rows<E, D>, v: Rows<E, D>) -> Result<Self, SamplerError> {
        Self::evaluated(&mut |x: &Rows<E, D>| target.logp_grad(x), x, v)
    }

    /// Rays at device positions `x` with velocities `v`, evaluated by `eval`.
    pub(crate) fn evaluated(eval: &mut impl FnMut(&Rows<E, D>) -> Result<LogpGrad<E, D>, SamplerError>, x: Rows<E, D>, v: Rows<E, D>) -> Result<Self, SamplerError> {
        let (lp, grad) = eval(&x)?;
        let gn = row_norm(&grad);
        Ok(Self { x, v, lp, grad, gn })
    }

    /// The number of rays.
    pub fn len(&self) -> usize {
        self.x.shape().0
    }
    /// Whether there are no rays.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Positions, row-major `(P, D)` (copied to the host).
    pub fn positions(&self) -> Vec<f64> {
        download(&self.x)
    }
    /// Velocities, row-major `(P, D)` (copied to the host).
    pub fn velocities(&self) -> Vec<f64> {
        download(&self.v)
    }
    /// `∇ ln p`, row-major `(P, D)` (copied to the host).
    pub fn gradients(&self) -> Vec<f64> {
        download(&self.grad)
    }
    /// `ln p` per ray (copied to the host).
    pub fn log_densities(&self) -> Vec<f64> {
        download(&self.lp)
    }

    /// Integrates `n_steps` steps of size `step_size` for every ray in place (the host
    /// [`integrate`](crate::sampler::ray_tracing::integrate) on each row): with `refresh_rate >
    /// 0`, partial refreshes O(dt/2) Φ O(dt) … Φ O(dt/2) with normals from a
    /// [`Noise`](super::Noise) seeded from `rng`.
    /// A ray that meets a non-finite value stops there: its later steps count nothing (gradients,
    /// predictions, turning) and its end point is undefined (the Metropolis test rejects it).
    /// [`Integrator::Rdkd`] picks DKD or KDK per step from `rng`, the same choice for every ray.
    pub fn integrate<T: DeviceDensity<E, D>, R: Rng>(&mut self, target: &T, dt: f64, n_steps: usize, integrator: Integrator, refresh_rate: f64, rng: &mut R) -> Result<DeviceTrajectory<E, D>, SamplerError>
    where
        E: DeviceFloat,
    {
        let mut noise = super::noise::Noise::new(rng.gen());
        self.integrate_with(&mut |x: &Rows<E, D>| target.logp_grad(x), dt, n_steps, integrator, refresh_rate, rng, &mut noise)
    }

    /// [`integrate`](Self::integrate) with the density evaluated by `eval` (e.g. on the next
    /// minibatch of each ray at every call) and the partial refreshes' normals from `noise`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn integrate_with<F, R: Rng>(&mut self, eval: &mut F, dt: f64, n_steps: usize, integrator: Integrator, refresh_rate: f64, rng: &mut R, noise: &mut super::noise::Noise) -> Result<DeviceTrajectory<E, D>, SamplerError>
    where
        E: DeviceFloat,
        F: FnMut(&Rows<E, D>) -> Result<LogpGrad<E, D>, SamplerError>,
    {
        let p = self.len();
        let dev = self.x.device().clone();
        let mut it = Integration { rays: self, eval, noise, dirty: false, pred: zeros(&dev, p), n_grad: zeros(&dev, p), turning: zeros(&dev, p), alive: full::<E, D>(&dev, p, 1.0).gt(E::of_f64(0.0)) };
        for j in 0..n_steps {
            if refresh_rate > 0.0 {
                it.refresh(refresh_rate, if j == 0 { 0.5 * dt } else { dt });
            }
            let step = match integrator {
                Integrator::Rdkd if rng.gen::<bool>() => Integrator::Dkd,
                Integrator::Rdkd => Integrator::Kdk,
                i => i,
            };
            match step {
                Integrator::Dkd | Integrator::Rdkd => {
                    it.drift(0.5 * dt);
                    it.kick(dt)?;
                    it.drift(0.5 * dt);
                }
                Integrator::Kdk => {
                    it.kick(0.5 * dt)?;
                    it.drift(dt);
                    it.kick(0.5 * dt)?;
                }
                Integrator::Omelyan => {
                    let l = OMELYAN_LAMBDA;
                    it.kick(l * dt)?;
                    it.drift(0.5 * dt);
                    it.kick((1.0 - 2.0 * l) * dt)?;
                    it.drift(0.5 * dt);
                    it.kick(l * dt)?;
                }
            }
        }
        if refresh_rate > 0.0 {
            it.refresh(refresh_rate, 0.5 * dt);
        }
        it.evaluate()?;
        Ok(DeviceTrajectory { pred: it.pred, n_grad: it.n_grad, turning: it.turning, alive: it.alive })
    }
}

use dfdx::prelude::TryGt;

struct Integration<'a, E: DfdxElem, D: Device<E>, F> {
    rays: &'a mut DeviceRays<E, D>,
    eval: &'a mut F,
    noise: &'a mut super::noise::Noise,
    dirty: bool,
    pred: Column<E, D>,
    n_grad: Column<E, D>,
    turning: Column<E, D>,
    alive: Mask<D>,
}

impl<E: DeviceFloat, D: Device<E>, F: FnMut(&Rows<E, D>) -> Result<LogpGrad<E, D>, SamplerError>> Integration<'_, E, D, F> {
    fn dim(&self) -> usize {
        self.rays.x.shape().1
    }
    fn drift(&mut self, h: f64) {
        // a stopped ray keeps moving here: it is rejected at the end, whatever its position
        let r = &mut *self.rays;
        r.x = r.x.clone() + r.v.clone() * E::of_f64(h);
        self.dirty = true;
    }
    fn evaluate(&mut self) -> Result<(), SamplerError> {
        if !self.dirty {
            return Ok(());
        }
        let r = &mut *self.rays;
        (r.lp, r.grad) = (self.eval)(&r.x)?;
        r.gn = row_norm(&r.grad);
        let p = r.lp.shape().0;
        let dev = r.lp.device().clone();
        self.n_grad = self.n_grad.clone() + self.alive.clone().choose(full(&dev, p, 1.0), zeros(&dev, p));
        self.alive = self.alive.clone() & finite(&r.lp) & finite(&r.gn);
        self.dirty = false;
        Ok(())
    }
    fn kick(&mut self, h: f64) -> Result<(), SamplerError> {
        self.evaluate()?;
        let d = self.dim();
        let r = &mut *self.rays;
        let k = kick(&r.v, &r.grad, &r.gn, h, d);
        let zero = zeros(r.v.device(), r.v.shape().0);
        r.v = k.v;
        self.turning = self.turning.clone() + self.alive.clone().choose(k.turned, zero.clone());
        let ok = self.alive.clone() & finite(&k.pred);
        self.pred = self.pred.clone() + ok.clone().choose(k.pred, zero);
        self.alive = ok;
        Ok(())
    }
    fn refresh(&mut self, rate: f64, tau: f64) {
        let f = (-(rate * tau).abs()).exp();
        let s = (1.0 - f * f).sqrt();
        let r = &mut *self.rays;
        let (p, d) = *r.v.shape();
        r.v = r.v.clone() * E::of_f64(f) + self.noise.normals(r.v.device(), p, d) * E::of_f64(s);
    }
}

opaque_debug!(impl[E: DfdxElem, D: Device<E>] DeviceRays<E, D>);
opaque_debug!(impl[E: DfdxElem, D: Device<E>] DeviceTrajectory<E, D>);
