//! [`DeviceRayTracing`]: the ray tracing sampler with every chain's state on a dfdx device.

use super::density::{DeviceDensity, LogpGrad};
use super::noise::Noise;
use super::ops::{finite, full, spread_mask, zeros, Column, Rows};
use super::rays::{download, upload, DeviceFloat, DeviceRays, DeviceTrajectory};
use crate::backend::DfdxElem;
use crate::sampler::adapt::DualAveraging;
use crate::sampler::ray_tracing::{RayTracing, Weighting, STAT_NAMES};
use crate::sampler::minibatch::Batches;
use crate::sampler::{chain_rng, ChainDraws, ChainStart, Draws, Observer, Phase, RunConfig, Sampler, SamplerError};
use dfdx::prelude::{ChooseFrom, GatherTo, SumTo, TryLe, TryLt};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use dfdx::shapes::HasShape;
use dfdx::tensor_ops::Device;

/// The ray tracing sampler (Behroozi 2025) for P chains in lockstep on a dfdx device.
///
/// Positions, velocities, log densities and gradients of all chains stay in device tensors for
/// the whole run: drifts, kicks, refreshes, the Metropolis test of each chain and the choice
/// between its proposal and its start are tensor ops. What comes back to the host is the mean
/// acceptance of each warmup trajectory (one scalar, for the step size) and the recorded draws.
/// The random numbers are drawn on the host (dfdx 0.13 has no device-side generator; its `Cuda`
/// device samples on the CPU too), on all cores ([`Noise`]), and uploaded: one `(P, D)` upload per
/// refresh and `P` uniforms per Metropolis test travel host → device.
///
/// The settings are [`RayTracing`]'s, with plain ray tracing (unit weighting, identity metric,
/// no mode search, the step tuned to the acceptance rate). Unlike the host drivers, all chains
/// share one step size: warmup's dual averaging follows the chains' mean acceptance.
///
/// **Minibatches** ([`RayTracing::minibatch`], for a density with
/// [`DeviceDensity::n_obs`]): every gradient evaluation of chain `c` sees the next batch of its
/// own schedule ([`Batches`], shuffled per epoch from a stream of `cfg.seed` that no other draw
/// uses), so one evaluation of the population is P rows on P batches. As on the host, the
/// Metropolis test is off, `step_size` is used as given, and `reject_above` rejects trajectories whose
/// minibatch `|ΔlnL − Σ dlnL_pred|` exceeds it. Only the batch indices travel host → device.
///
/// [`Integrator::Rdkd`](crate::sampler::ray_tracing::Integrator::Rdkd) picks each step's integrator once for all
/// chains.
///
/// Randomness: initial points come from `cfg.seed`'s per-chain streams (as in
/// [`run`](crate::sampler::run)); velocities and Metropolis uniforms from [`Noise`] streams of
/// `cfg.seed`. The same `cfg` gives the same draws, whatever the thread count or the device's
/// own seed.
#[derive(Clone, Debug)]
pub struct DeviceRayTracing {
    /// The sampler's settings.
    pub settings: RayTracing,
    /// Record every `thin`-th trajectory after warmup (default 1): `cfg.draws` draws are
    /// recorded from `cfg.draws · thin` trajectories. Only recorded draws are copied to the host.
    pub thin: usize,
    /// Record only the values of these names (default `None`: all), for a
    /// [`coordinatewise`](DeviceDensity::coordinatewise) density: only their coordinates are
    /// copied to the host per draw — for networks whose draws would not fit in memory.
    pub record: Option<Vec<String>>,
}

impl DeviceRayTracing {
    /// The device sampler with the given settings, recording every draw.
    pub fn new(settings: RayTracing) -> Self {
        Self { settings, thin: 1, record: None }
    }

    /// The sampler recording only the values named `names` (e.g. `["w.1", "sigma"]`).
    pub fn recording(self, names: &[&str]) -> Self {
        Self { record: Some(names.iter().map(|n| n.to_string()).collect()), ..self }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), SamplerError> {
        let rt = &self.settings;
        rt.validate()?;
        let unsupported = [
            (!matches!(rt.weighting, Weighting::Unit), "weighting", "weightings"),
            (rt.metric, "metric", "a warmup metric"),
            (rt.start_at_mode, "start_at_mode", "a start at the mode"),
            (rt.target_dphi.is_some(), "target_dphi", "a step tuned to ⟨Δφ⟩"),
        ];
        if let Some((_, name, what)) = unsupported.iter().find(|u| u.0) {
            return Err(SamplerError::Setting { name, detail: format!("the device driver runs plain ray tracing with a unit metric: use run (the host driver) for {what}") });
        }
        if self.thin == 0 {
            return Err(SamplerError::Setting { name: "thin", detail: "must be at least 1".into() });
        }
        Ok(())
    }

    /// Runs `cfg.chains` chains on `target`'s device: `cfg.warmup` trajectories tuning the shared
    /// step size, then `cfg.draws` recorded draws per chain.
    pub fn run<E: DeviceFloat, D: Device<E>, T: DeviceDensity<E, D>>(&self, target: &T, cfg: &RunConfig) -> Result<Draws, SamplerError> {
        self.run_observed(target, cfg, &[])
    }

    /// [`run`](Self::run), telling `observers` (e.g. a [`CsvWriter`](crate::output::CsvWriter))
    /// about every chain's start, adaptation, recorded draws and end. Warmup transitions are not
    /// reported: their per-chain statistics never leave the device.
    pub fn run_observed<E: DeviceFloat, D: Device<E>, T: DeviceDensity<E, D>>(&self, target: &T, cfg: &RunConfig, observers: &[&dyn Observer]) -> Result<Draws, SamplerError> {
        self.validate()?;
        let rt = &self.settings;
        let (p, d) = (cfg.chains, target.dim());
        cfg.validate(d, target.names().len())?;
        if d < 2 {
            return Err(SamplerError::Setting { name: "dimension", detail: format!("the ray tracing sampler needs D ≥ 2, got {d}; use HMC or NUTS") });
        }
        let dev = target.device().clone();
        let mut density = Evaluation::new(target, rt, cfg)?;
        let mut noise = Noise::new(cfg.seed);
        let mut s = initial_rays(target, &mut density, &mut noise, cfg)?;
        // the step choice of RDKD, one per step for all chains: a stream no chain uses
        let mut step_rng = chain_rng(cfg.seed, usize::MAX);
        let mut dt = rt.step_size;
        let mut da = DualAveraging::new(rt.target_accept, rt.step_size);
        let mut out: Vec<ChainDraws> = (0..p).map(|_| ChainDraws { step_size: rt.step_size, inv_metric: vec![1.0; d], ..Default::default() }).collect();
        let recorded = Recorded::new(target, self.record.as_deref(), p)?;
        let (names, settings) = (recorded.names(target), self.settings());
        for c in 0..p {
            let start = ChainStart { chain: c, sampler: SAMPLER, settings: &settings, config: cfg, names: &names, stat_names: &STAT_NAMES };
            for o in observers {
                o.start_chain(&start)?;
            }
        }
        let clock = std::time::Instant::now();
        let mut warmup_secs = 0.0;
        if cfg.warmup == 0 {
            adapted(&out, observers)?;
        }
        let total = cfg.warmup + cfg.draws * self.thin;
        for iter in 0..total {
            if rt.full_refresh {
                s.v = noise.normals(&dev, p, d);
            }
            let mut prop = s.clone();
            let traj = prop.integrate_with(&mut |x: &Rows<E, D>| density.eval(x), dt, rt.n_steps, rt.integrator, rt.refresh_rate, &mut step_rng, &mut noise)?;
            let test = metropolis(rt, &s, &prop, &traj, &mut noise);
            let used = dt;
            let keep = spread_mask(&test.accepted, d);
            s = DeviceRays {
                x: keep.clone().choose(prop.x, s.x.clone()),
                v: keep.clone().choose(prop.v, s.v.clone().negate()),
                grad: keep.clone().choose(prop.grad, s.grad.clone()),
                lp: test.accepted.clone().choose(prop.lp, s.lp.clone()),
                gn: test.accepted.clone().choose(prop.gn, s.gn.clone()),
            };
            if iter < cfg.warmup {
                // with minibatches the acceptance is noise: dt is used as given
                if rt.minibatch.is_none() {
                    let mean = download(&test.accept_prob.clone().sum::<(), _>())[0] / p as f64;
                    dt = da.learn(mean);
                    if iter + 1 == cfg.warmup {
                        dt = da.final_step_size();
                        out.iter_mut().for_each(|c| c.step_size = dt);
                    }
                }
            } else if (iter - cfg.warmup + 1) % self.thin == 0 {
                record(target, &recorded, &s, &test, &traj, used, rt.n_steps, &mut out, observers)?;
            }
            if iter + 1 == cfg.warmup {
                warmup_secs = clock.elapsed().as_secs_f64();
                adapted(&out, observers)?;
            }
        }
        let sampling_secs = clock.elapsed().as_secs_f64() - warmup_secs;
        for c in 0..p {
            for o in observers {
                o.end_chain(c, warmup_secs, sampling_secs)?;
            }
        }
        Ok(Draws { names, stat_names: STAT_NAMES.iter().map(|s| s.to_string()).collect(), chains: out, sampler: SAMPLER.into(), warmup: cfg.warmup, settings })
    }

    /// The settings as `key = value` pairs for output headers.
    pub fn settings(&self) -> Vec<(String, String)> {
        self.settings.settings().into_iter().chain([("thin".to_string(), self.thin.to_string())]).collect()
    }
}

/// Tells the observers every chain's adapted step size and (unit) metric.
fn adapted(out: &[ChainDraws], observers: &[&dyn Observer]) -> Result<(), SamplerError> {
    for (c, chain) in out.iter().enumerate() {
        for o in observers {
            o.adapted(c, chain.step_size, &chain.inv_metric)?;
        }
    }
    Ok(())
}

/// The sampler's name in draws and output headers.
const SAMPLER: &str = "ray_tracing_device";

/// The initial points of every chain (`cfg.init`, or [`DeviceDensity::init`] from each chain's stream with
/// up to 100 tries for rows whose density is not finite), on the device.
fn initial_rays<E: DeviceFloat, D: Device<E>, T: DeviceDensity<E, D>>(target: &T, density: &mut Evaluation<'_, T>, noise: &mut Noise, cfg: &RunConfig) -> Result<DeviceRays<E, D>, SamplerError> {
    let (p, d) = (cfg.chains, target.dim());
    let dev = target.device();
    let mut q = Vec::with_capacity(p * d);
    let mut rngs: Vec<_> = (0..p).map(|c| chain_rng(cfg.seed, c)).collect();
    match &cfg.init {
        Some(qs) if qs.len() == 1 || qs.len() == p => {
            for c in 0..p {
                let row = &qs[if qs.len() == 1 { 0 } else { c }];
                if row.len() != d {
                    return Err(SamplerError::Setting { name: "init", detail: format!("has {} values, the model has dimension {d}", row.len()) });
                }
                q.extend_from_slice(row);
            }
        }
        Some(qs) => return Err(SamplerError::Setting { name: "init", detail: format!("{} initial points for {} chains: give one, or one per chain", qs.len(), p) }),
        None => rngs.iter_mut().for_each(|r| q.extend(target.init(r))),
    }
    let tries = if cfg.init.is_some() { 1 } else { 100 };
    for _ in 0..tries {
        let rays = DeviceRays::evaluated(&mut |x: &Rows<E, D>| density.eval(x), upload(dev, &q, p, d), noise.normals(dev, p, d))?;
        let ok = (finite(&rays.lp) & finite(&rays.gn)).as_vec();
        let Some(bad) = ok.iter().position(|o| !o) else { return Ok(rays) };
        if tries == 1 {
            let lp = rays.log_densities()[bad];
            return Err(SamplerError::Init { chain: bad, tries, detail: format!("log density {lp} or its gradient is not finite") });
        }
        for (c, _) in ok.iter().enumerate().filter(|(_, o)| !**o) {
            q[c * d..(c + 1) * d].copy_from_slice(&target.init(&mut rngs[c]));
        }
    }
    Err(SamplerError::Init { chain: 0, tries, detail: "some chains found no point with a finite log density and gradient".into() })
}

/// Which values a draw records: all (`constrain` of the whole position), or the coordinates
/// `coords` of a coordinatewise density, gathered on the device by `idx` (`(P, K)`).
enum Recorded<D: dfdx::tensor::Storage<usize>> {
    All,
    Subset { coords: Vec<usize>, idx: dfdx::prelude::Tensor<(usize, usize), usize, D> },
}

impl<D: dfdx::tensor::Storage<usize>> Recorded<D> {
    fn new<E: DfdxElem, T: DeviceDensity<E, D>>(target: &T, record: Option<&[String]>, p: usize) -> Result<Self, SamplerError>
    where
        D: Device<E>,
    {
        let Some(record) = record else { return Ok(Self::All) };
        let bad = |detail: String| SamplerError::Setting { name: "record", detail };
        if !target.coordinatewise() {
            return Err(bad("recording a subset needs a coordinatewise density (DeviceDensity::coordinatewise)".into()));
        }
        let names = target.names();
        let coords = record
            .iter()
            .map(|r| names.iter().position(|n| n == r).ok_or_else(|| bad(format!("the density has no value `{r}`"))))
            .collect::<Result<Vec<_>, _>>()?;
        if coords.is_empty() {
            return Err(bad("name at least one value to record".into()));
        }
        let k = coords.len();
        let idx = target.device().tensor_from_vec(coords.iter().copied().cycle().take(p * k).collect(), (p, k));
        Ok(Self::Subset { coords, idx })
    }

    fn names<E: DfdxElem, T: DeviceDensity<E, D>>(&self, target: &T) -> Vec<String>
    where
        D: Device<E>,
    {
        let all = target.names();
        match self {
            Self::All => all,
            Self::Subset { coords, .. } => coords.iter().map(|&j| all[j].clone()).collect(),
        }
    }

    /// The recorded values of every chain, copied to the host: a function of the chain.
    fn values<'a, E: DfdxElem, T: DeviceDensity<E, D>>(&'a self, target: &'a T, s: &DeviceRays<E, D>) -> impl Fn(usize) -> Vec<f64> + 'a
    where
        D: Device<E>,
    {
        let (x, width) = match self {
            Self::All => (s.positions(), target.dim()),
            Self::Subset { coords, idx } => {
                let picked: Rows<E, D> = s.x.clone().gather(idx.clone());
                (super::rays::download(&picked), coords.len())
            }
        };
        move |c| {
            let row = &x[c * width..(c + 1) * width];
            match self {
                Self::All => target.constrain(row),
                Self::Subset { coords, .. } => coords.iter().zip(row).map(|(&j, &v)| target.constrain_coordinate(j, v)).collect(),
            }
        }
    }
}

/// How the population's density is evaluated: exactly, or each row on the next batch of its
/// chain's schedule.
struct Evaluation<'a, T> {
    target: &'a T,
    /// One schedule and batch stream per chain, with minibatches.
    schedules: Option<Vec<(Batches, ChaCha8Rng)>>,
}

impl<'a, T> Evaluation<'a, T> {
    fn new<E: DfdxElem, D: Device<E>>(target: &'a T, rt: &RayTracing, cfg: &RunConfig) -> Result<Self, SamplerError>
    where
        T: DeviceDensity<E, D>,
    {
        let Some(m) = &rt.minibatch else { return Ok(Self { target, schedules: None }) };
        let n = target.n_obs().ok_or_else(super::no_minibatches)?;
        let schedules = (0..cfg.chains)
            .map(|c| {
                // a stream of the seed that neither the chains' starts nor the step choice use
                let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
                rng.set_stream(BATCH_STREAMS + c as u64);
                Ok((Batches::new(n, m.batch_size, m.order)?, rng))
            })
            .collect::<Result<_, SamplerError>>()?;
        Ok(Self { target, schedules: Some(schedules) })
    }

    fn eval<E: DfdxElem, D: Device<E>>(&mut self, x: &Rows<E, D>) -> Result<LogpGrad<E, D>, SamplerError>
    where
        T: DeviceDensity<E, D>,
    {
        match &mut self.schedules {
            None => self.target.logp_grad(x),
            Some(s) => {
                let batches: Vec<Vec<usize>> = s.iter_mut().map(|(b, rng)| b.next(rng).to_vec()).collect();
                self.target.logp_grad_batches(x, &batches)
            }
        }
    }
}

/// The first of the random streams of the chains' batch schedules.
const BATCH_STREAMS: u64 = 1 << 62;

/// The Metropolis test of every chain (§1.8), on the device.
struct Tested<E: DfdxElem, D: Device<E>> {
    accept_prob: Column<E, D>,
    ln_alpha: Column<E, D>,
    accepted: super::ops::Mask<D>,
    divergent: super::ops::Mask<D>,
}

fn metropolis<E: DeviceFloat, D: Device<E>>(rt: &RayTracing, s: &DeviceRays<E, D>, prop: &DeviceRays<E, D>, traj: &DeviceTrajectory<E, D>, noise: &mut Noise) -> Tested<E, D> {
    let p = s.lp.shape().0;
    let dev = s.lp.device().clone();
    let ln_alpha = prop.lp.clone() - s.lp.clone() - traj.pred.clone();
    let ln_alpha = traj.alive.clone().choose(ln_alpha, full(&dev, p, f64::NEG_INFINITY)).nans_to(f64::NEG_INFINITY);
    let accept_prob = ln_alpha.clone().minimum(zeros(&dev, p)).exp();
    let divergent = !traj.alive.clone() | ln_alpha.lt(E::of_f64(-rt.max_energy_error));
    let accepted = if rt.metropolis { traj.alive.clone() & noise.uniforms(&dev, p).lt(&accept_prob) } else { traj.alive.clone() };
    // §1.10 (c): with minibatches, reject trajectories whose estimated error is too large
    let accepted = match rt.minibatch.as_ref().and_then(|m| m.reject_above) {
        Some(bound) => accepted & ln_alpha.clone().abs().le(E::of_f64(bound)),
        None => accepted,
    };
    Tested { accept_prob, ln_alpha, accepted, divergent }
}

/// Copies one draw of every chain to the host: positions, log densities and the statistics of
/// [`STAT_NAMES`] (the host sampler's).
#[allow(clippy::too_many_arguments)]
fn record<E: DeviceFloat, D: Device<E>, T: DeviceDensity<E, D>>(target: &T, recorded: &Recorded<D>, s: &DeviceRays<E, D>, test: &Tested<E, D>, traj: &DeviceTrajectory<E, D>, dt: f64, n_steps: usize, out: &mut [ChainDraws], observers: &[&dyn Observer]) -> Result<(), SamplerError> {
    let lp = s.log_densities();
    let values = recorded.values(target, s);
    let (acc, pred, err, n_grad) = (download(&test.accept_prob), traj.dlnl_pred(), download(&test.ln_alpha), traj.n_grad());
    let turning = download(&traj.turning);
    let divergent = test.divergent.as_vec();
    for (c, o) in out.iter_mut().enumerate() {
        let stats = [acc[c], dt, n_steps as f64, n_grad[c], f64::from(u8::from(divergent[c])), pred[c], err[c], turning[c] / n_steps.max(1) as f64];
        let values = values(c);
        for obs in observers {
            obs.draw(c, Phase::Sampling, lp[c], &stats, &values, divergent[c])?;
        }
        o.lp.push(lp[c]);
        o.stats.extend_from_slice(&stats);
        o.values.extend(values);
    }
    Ok(())
}
