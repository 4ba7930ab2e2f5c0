//! The ray tracing sampler with its state on a dfdx device, tested on dfdx's `Cpu` device: one
//! deterministic trajectory against the host integrator (f64, to rounding), invariance of a 100-d
//! standard Gaussian and of an ill-conditioned diagonal Gaussian from exact draws (with power
//! checks: a wrong target, and a big step without the Metropolis test, must fail), warmup of the
//! shared step size, f32, reproducibility and settings errors.

mod common;
use common::exact_inits;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use snell::sampler::ray_tracing::device::{DeviceDensity, DeviceGaussian, DeviceRayTracing, DeviceRays, LogpGrad, Rows};
use snell::nn::Cpu;
use snell::sampler::ray_tracing::{integrate, Integrator, RayState, RayTracing};
use snell::sampler::{Draws, RunConfig, SamplerError};
use snell::target::FnDensity;

/// The host twin of `DeviceGaussian`: the same operations in the same order.
fn host_gaussian(mean: Vec<f64>, prec: Vec<f64>) -> FnDensity<impl Fn(&[f64], &mut [f64]) -> f64 + Sync> {
    FnDensity::new(mean.len(), move |q: &[f64], g: &mut [f64]| {
        let mut lp = 0.0;
        for i in 0..q.len() {
            let diff = q[i] - mean[i];
            g[i] = diff * -prec[i];
            lp += g[i] * diff;
        }
        lp * 0.5
    })
}

fn normals(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| StandardNormal.sample(rng)).collect()
}

fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs() / x.abs().max(y.abs()).max(1.0)).fold(0.0, f64::max)
}

#[test]
fn one_trajectory_matches_the_host_integrator() {
    let (d, p) = (40, 3);
    let mean: Vec<f64> = (0..d).map(|i| 0.1 * i as f64 - 1.0).collect();
    let prec: Vec<f64> = (0..d).map(|i| 10f64.powf(-1.0 + 2.0 * i as f64 / (d - 1) as f64)).collect();
    let host = host_gaussian(mean.clone(), prec.clone());
    let dev = DeviceGaussian::<f64, Cpu>::new(Cpu::default(), &mean, &prec).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for integrator in [Integrator::Dkd, Integrator::Kdk, Integrator::Omelyan] {
        let (x0, v0) = (normals(&mut rng, p * d), normals(&mut rng, p * d));
        let mut rays = DeviceRays::new(&dev, &x0, &v0).unwrap();
        let traj = rays.integrate(&dev, 0.1, 25, integrator, 0.0, &mut rng).unwrap();
        let (x, v, lp, pred, n_grad) = (rays.positions(), rays.velocities(), rays.log_densities(), traj.dlnl_pred(), traj.n_grad());
        assert!(traj.non_finite().iter().all(|b| !b));
        for r in 0..p {
            let rows = r * d..(r + 1) * d;
            let mut s = RayState::new(&host, x0[rows.clone()].to_vec(), v0[rows.clone()].to_vec()).unwrap();
            let info = integrate(&host, &mut s, 0.1, 25, integrator, 0.0, &mut rng).unwrap();
            let moved = s.x.iter().zip(&x0[rows.clone()]).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
            assert!(moved > 1.0, "{integrator:?}: the ray hardly moved ({moved})");
            let (ex, ev) = (max_rel(&x[rows.clone()], &s.x), max_rel(&v[rows.clone()], &s.v));
            assert!(ex < 1e-11 && ev < 1e-11, "{integrator:?} ray {r}: positions differ by {ex}, velocities by {ev}");
            assert!(max_rel(&[lp[r], pred[r]], &[s.lp, info.dlnl_pred]) < 1e-11, "{integrator:?} ray {r}: lp {} vs {}, dlnL_pred {} vs {}", lp[r], s.lp, pred[r], info.dlnl_pred);
            assert_eq!(n_grad[r], info.n_grad as f64, "{integrator:?}: gradient count");
        }
    }
}

#[test]
fn edge_cases_of_the_kick_match_the_host() {
    // rays that cannot turn: at rest, at the mode (zero gradient, KDK kicks there first), moving
    // exactly away from and towards the mode of an isotropic Gaussian (v ∥ g)
    let d = 20;
    let (mean, prec) = (vec![0.3; d], vec![1.5; d]);
    let host = host_gaussian(mean.clone(), prec.clone());
    let dev = DeviceGaussian::<f64, Cpu>::new(Cpu::default(), &mean, &prec).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let e: Vec<f64> = normals(&mut rng, d);
    let ne = e.iter().map(|x| x * x).sum::<f64>().sqrt();
    let e: Vec<f64> = e.iter().map(|x| x / ne).collect();
    let along = |t: f64| -> Vec<f64> { mean.iter().zip(&e).map(|(m, e)| m + t * e).collect() };
    let rows: Vec<(Vec<f64>, Vec<f64>)> = vec![
        (normals(&mut rng, d), vec![0.0; d]),
        (mean.clone(), normals(&mut rng, d)),
        (along(2.0), e.iter().map(|x| 1.7 * x).collect()),
        (along(2.0), e.iter().map(|x| -1.7 * x).collect()),
    ];
    let (x0, v0): (Vec<f64>, Vec<f64>) = (rows.iter().flat_map(|r| r.0.clone()).collect(), rows.iter().flat_map(|r| r.1.clone()).collect());
    for integrator in [Integrator::Kdk, Integrator::Dkd] {
        let mut rays = DeviceRays::new(&dev, &x0, &v0).unwrap();
        let traj = rays.integrate(&dev, 0.2, 3, integrator, 0.0, &mut rng).unwrap();
        let (x, v, pred) = (rays.positions(), rays.velocities(), traj.dlnl_pred());
        for (r, (xr, vr)) in rows.iter().enumerate() {
            let mut s = RayState::new(&host, xr.clone(), vr.clone()).unwrap();
            let info = integrate(&host, &mut s, 0.2, 3, integrator, 0.0, &mut rng).unwrap();
            let span = r * d..(r + 1) * d;
            assert!(max_rel(&x[span.clone()], &s.x) < 1e-12 && max_rel(&v[span.clone()], &s.v) < 1e-12, "{integrator:?} row {r}: x {:?} vs {:?}", &x[span.clone()][..3], &s.x[..3]);
            assert!(max_rel(&[pred[r]], &[info.dlnl_pred]) < 1e-12, "{integrator:?} row {r}: dlnL_pred {} vs {}", pred[r], info.dlnl_pred);
        }
        assert_eq!(pred[0], 0.0, "a ray at rest predicts no change");
    }
}

/// Standardised final states `(x − mean)/sd` of every chain: exact independent N(0, 1) draws if
/// the kernel leaves the target invariant. Checks the pooled mean and variance and each
/// coordinate's mean and variance over the chains; returns the pooled variance.
fn check_invariance(draws: &Draws, mean: &[f64], sd: &[f64]) -> f64 {
    let d = mean.len();
    let z: Vec<Vec<f64>> = draws.chains.iter().map(|c| c.values[c.values.len() - d..].iter().zip(mean).zip(sd).map(|((x, m), s)| (x - m) / s).collect()).collect();
    let all: Vec<f64> = z.concat();
    let n = all.len() as f64;
    let m = all.iter().sum::<f64>() / n;
    let var = all.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    assert!(m.abs() < 4.0 / n.sqrt() + 1e-3, "pooled mean {m}");
    assert!((var - 1.0).abs() < 4.0 * (2.0 / n).sqrt() + 1e-3, "pooled variance {var}");
    let p = z.len() as f64;
    for j in 0..d {
        let col: Vec<f64> = z.iter().map(|r| r[j]).collect();
        let mj = col.iter().sum::<f64>() / p;
        let vj = col.iter().map(|x| x * x).sum::<f64>() / p;
        // 4.5 standard errors per coordinate: 100 coordinates are checked at once
        assert!(mj.abs() < 4.5 / p.sqrt(), "x.{}: mean {mj}", j + 1);
        assert!((vj - 1.0).abs() < 4.5 * (2.0 / p).sqrt(), "x.{}: variance {vj}", j + 1);
    }
    var
}

fn exact_draws(chains: usize, mean: &[f64], sd: &[f64], seed: u64) -> Vec<Vec<f64>> {
    exact_inits(chains, mean.len(), seed).into_iter().map(|z| z.iter().zip(mean).zip(sd).map(|((z, m), s)| m + s * z).collect()).collect()
}

fn mean_stat(draws: &Draws, name: &str) -> f64 {
    let all = draws.stat(name).unwrap().concat();
    all.iter().sum::<f64>() / all.len() as f64
}

#[test]
fn leaves_a_100d_standard_normal_invariant() {
    let (d, chains) = (100, 64);
    let (mean, sd) = (vec![0.0; d], vec![1.0; d]);
    let settings = [
        ("dkd", RayTracing::default()),
        ("omelyan", RayTracing { integrator: Integrator::Omelyan, step_size: 0.5, n_steps: 3, ..Default::default() }),
        ("rdkd", RayTracing { integrator: Integrator::Rdkd, ..Default::default() }),
        ("partial refresh", RayTracing { step_size: 0.3, n_steps: 10, full_refresh: false, refresh_rate: 1.0, ..Default::default() }),
    ];
    for (k, (name, rt)) in settings.into_iter().enumerate() {
        let target = DeviceGaussian::<f64, Cpu>::new(Cpu::seed_from_u64(k as u64), &mean, &vec![1.0; d]).unwrap();
        let cfg = RunConfig { chains, warmup: 0, draws: 20, seed: 10 + k as u64, init: Some(exact_draws(chains, &mean, &sd, 100 + k as u64)) };
        let draws = DeviceRayTracing::new(rt).run(&target, &cfg).unwrap();
        assert_eq!(draws.chains.len(), chains);
        assert_eq!(draws.n_draws(), 20);
        check_invariance(&draws, &mean, &sd);
        assert_eq!(draws.divergences(), 0, "{name}");
        let acc = mean_stat(&draws, "accept_stat__");
        assert!(acc > 0.5, "{name}: acceptance {acc}");
    }
}

#[test]
fn leaves_an_ill_conditioned_gaussian_invariant_and_the_checks_have_power() {
    // sd from 0.1 to 10 (condition number 10⁴), mean away from 0
    let (d, chains) = (100, 64);
    let sd: Vec<f64> = (0..d).map(|i| 10f64.powf(-1.0 + 2.0 * i as f64 / (d - 1) as f64)).collect();
    let mean: Vec<f64> = (0..d).map(|i| (i as f64 * 0.7).sin()).collect();
    let prec: Vec<f64> = sd.iter().map(|s| 1.0 / (s * s)).collect();
    let target = DeviceGaussian::<f64, Cpu>::new(Cpu::seed_from_u64(3), &mean, &prec).unwrap();
    let inits = exact_draws(chains, &mean, &sd, 7);
    let cfg = RunConfig { chains, warmup: 0, draws: 15, seed: 5, init: Some(inits.clone()) };
    // a step that turns the narrowest coordinates by ≈ 0.3 rad
    let rt = RayTracing { step_size: 0.03, n_steps: 8, ..Default::default() };
    let draws = DeviceRayTracing::new(rt.clone()).run(&target, &cfg).unwrap();
    check_invariance(&draws, &mean, &sd);
    let acc = mean_stat(&draws, "accept_stat__");
    assert!(acc > 0.5, "acceptance {acc}");
    // power 1: a density with 1.3 times the variances, checked against the true moments
    let wide = DeviceGaussian::<f64, Cpu>::new(Cpu::seed_from_u64(3), &mean, &prec.iter().map(|p| p / 1.3).collect::<Vec<_>>()).unwrap();
    let wrong = DeviceRayTracing::new(rt.clone()).run(&wide, &cfg).unwrap();
    assert!(std::panic::catch_unwind(|| check_invariance(&wrong, &mean, &sd)).is_err(), "the check passed draws of a wrong density");
    // power 2: a big step is exact with the Metropolis test and biased without it
    let big = RayTracing { step_size: 0.3, n_steps: 8, ..Default::default() };
    let tested = DeviceRayTracing::new(big.clone()).run(&target, &cfg).unwrap();
    check_invariance(&tested, &mean, &sd);
    let untested = DeviceRayTracing::new(RayTracing { metropolis: false, ..big }).run(&target, &cfg).unwrap();
    let r = std::panic::catch_unwind(|| check_invariance(&untested, &mean, &sd));
    assert!(r.is_err(), "skipping the Metropolis test at dt = 0.3 went unnoticed");
}

#[test]
fn warmup_tunes_the_shared_step_and_draws_work_with_the_summaries() {
    let d = 50;
    let target = DeviceGaussian::<f64, Cpu>::new(Cpu::seed_from_u64(9), &vec![1.0; d], &vec![4.0; d]).unwrap();
    // from a step 20 times too small; dual averaging's final average overshoots the target
    // acceptance on this Gaussian after short warmups (the host sampler too: 0.83 after 500)
    let rt = RayTracing { step_size: 0.02, ..Default::default() };
    let draws = DeviceRayTracing::new(rt.clone()).run(&target, &RunConfig { chains: 16, warmup: 2000, draws: 200, seed: 2, init: None }).unwrap();
    let acc = mean_stat(&draws, "accept_stat__");
    let dt = draws.chains[0].step_size;
    eprintln!("adapted dt {dt}, acceptance {acc:.3}");
    assert!((acc - rt.target_accept).abs() < 0.05, "acceptance {acc}");
    assert!(draws.chains.iter().all(|c| c.step_size == dt));
    assert!(draws.stat("stepsize__").unwrap().concat().iter().all(|s| *s == dt));
    // the host sampler's statistics, in its order
    assert_eq!(draws.stat_names, ["accept_stat__", "stepsize__", "n_steps__", "n_grad__", "divergent__", "dlnL_pred__", "dlnL_err__", "dphi__"]);
    assert!(draws.stat("n_grad__").unwrap().concat().iter().all(|n| *n == 6.0));
    let s = draws.summary();
    for i in 0..d {
        let r = s.row(&format!("x.{}", i + 1)).unwrap();
        assert!((r.mean - 1.0).abs() < 4.0 * r.mcse_mean + 0.01, "{}: mean {} (mcse {})", r.name, r.mean, r.mcse_mean);
        assert!((r.sd / 0.5 - 1.0).abs() < 0.1, "{}: sd {}", r.name, r.sd);
    }
}

#[test]
fn draws_written_as_cmdstan_csv_read_back() {
    use snell::output::{read_cmdstan_csv, CsvWriter};
    let dir = std::env::temp_dir().join(format!("snell-device-csv-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let target = DeviceGaussian::<f64, Cpu>::new(Cpu::seed_from_u64(1), &[0.5; 6], &[2.0; 6]).unwrap();
    let csv = CsvWriter::new(&dir, "gaussian", "gaussian");
    let cfg = RunConfig { chains: 3, warmup: 40, draws: 25, seed: 6, init: None };
    let draws = DeviceRayTracing::new(RayTracing::default()).run_observed(&target, &cfg, &[&csv]).unwrap();
    let read = read_cmdstan_csv(&csv.paths(cfg.chains)).unwrap();
    assert_eq!(read.names, draws.names);
    assert_eq!(read.stat_names, draws.stat_names);
    for (r, d) in read.chains.iter().zip(&draws.chains) {
        assert_eq!(r.lp, d.lp);
        assert_eq!(r.stats, d.stats);
        assert_eq!(r.values, d.values);
        assert_eq!(r.step_size, d.step_size);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn runs_in_f32() {
    let (d, chains) = (100, 64);
    let (mean, sd) = (vec![0.0; d], vec![1.0; d]);
    let target = DeviceGaussian::<f32, Cpu>::new(Cpu::seed_from_u64(4), &mean, &vec![1.0; d]).unwrap();
    let cfg = RunConfig { chains, warmup: 0, draws: 20, seed: 4, init: Some(exact_draws(chains, &mean, &sd, 40)) };
    let draws = DeviceRayTracing::new(RayTracing::default()).run(&target, &cfg).unwrap();
    check_invariance(&draws, &mean, &sd);
    assert!(mean_stat(&draws, "accept_stat__") > 0.5);
}

#[test]
fn same_seeds_same_draws() {
    let d = 10;
    let make = |seed| DeviceGaussian::<f64, Cpu>::new(Cpu::seed_from_u64(seed), &vec![0.0; d], &vec![1.0; d]).unwrap();
    let sampler = DeviceRayTracing { settings: RayTracing { integrator: Integrator::Rdkd, full_refresh: false, refresh_rate: 1.0, ..Default::default() }, thin: 2, record: None };
    let cfg = RunConfig { chains: 4, warmup: 50, draws: 30, seed: 11, init: None };
    let one = sampler.run(&make(1), &cfg).unwrap();
    let two = sampler.run(&make(1), &cfg).unwrap();
    assert_eq!(one, two);
    assert_eq!(one.n_draws(), 30);
    // the random numbers come from the run's seed, not from the device's
    let other_device = sampler.run(&make(2), &cfg).unwrap();
    assert_eq!(one, other_device);
    // whatever the thread count
    let single = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(|| sampler.run(&make(1), &cfg).unwrap());
    assert_eq!(one, single);
    let other_init = sampler.run(&make(1), &RunConfig { seed: 12, ..cfg }).unwrap();
    assert_ne!(one.chains[0].values, other_init.chains[0].values);
    assert_ne!(one.chains[0].values, one.chains[1].values, "chains must not share a stream");
}

#[test]
fn bad_settings_are_errors() {
    let target = DeviceGaussian::<f64, Cpu>::new(Cpu::default(), &[0.0; 3], &[1.0; 3]).unwrap();
    let cfg = RunConfig { chains: 2, warmup: 5, draws: 5, ..Default::default() };
    let err = |s: DeviceRayTracing, cfg: &RunConfig| s.run(&target, cfg).unwrap_err();
    let setting = |e: SamplerError| match e {
        SamplerError::Setting { name, .. } => name,
        e => panic!("unexpected error {e}"),
    };
    let rt = |rt: RayTracing| DeviceRayTracing::new(rt);
    assert_eq!(setting(err(rt(RayTracing { step_size: 0.0, ..Default::default() }), &cfg)), "step_size");
    assert_eq!(setting(err(rt(RayTracing { step_size: -0.5, ..Default::default() }), &cfg)), "step_size");
    assert_eq!(setting(err(rt(RayTracing { n_steps: 0, ..Default::default() }), &cfg)), "n_steps");
    assert_eq!(setting(err(rt(RayTracing { metric: true, ..Default::default() }), &cfg)), "metric");
    assert_eq!(setting(err(DeviceRayTracing { thin: 0, ..rt(RayTracing::default()) }, &cfg)), "thin");
    assert_eq!(setting(err(rt(RayTracing::default()), &RunConfig { chains: 0, ..cfg.clone() })), "chains");
    assert_eq!(setting(err(rt(RayTracing::default()), &RunConfig { init: Some(vec![vec![0.0; 4]]), ..cfg.clone() })), "init");
    assert_eq!(setting(err(rt(RayTracing::default()), &RunConfig { init: Some(vec![vec![0.0; 3]; 3]), ..cfg.clone() })), "init");
    // D = 1 is undefined for ray tracing
    let one = DeviceGaussian::<f64, Cpu>::new(Cpu::default(), &[0.0], &[1.0]).unwrap();
    assert_eq!(setting(DeviceRayTracing::new(RayTracing::default()).run(&one, &cfg).unwrap_err()), "dimension");
    // positions of the wrong dimension, mismatched velocities, bad precisions
    assert_eq!(setting(DeviceRays::new(&target, &[0.0; 4], &[0.0; 4]).err().unwrap()), "x");
    assert_eq!(setting(DeviceRays::new(&target, &[0.0; 6], &[0.0; 3]).err().unwrap()), "v");
    assert_eq!(setting(DeviceGaussian::<f64, Cpu>::new(Cpu::default(), &[0.0; 3], &[1.0, 0.0, 1.0]).err().unwrap()), "precision");
    assert_eq!(setting(DeviceGaussian::<f64, Cpu>::new(Cpu::default(), &[0.0; 3], &[1.0; 2]).err().unwrap()), "precision");
}

mod network {
    use super::*;
    use snell::nn::layers::{Linear, Tanh};
    use snell::nn::{NetworkRegression, Noise, WeightPrior};
    use snell::target::Target;
    use snell::Matrix;

    type Net = (Linear<1, 8>, Tanh, Linear<8, 1>);

    fn regression(noise: Noise) -> NetworkRegression<Net, 1> {
        let xs: Vec<f64> = (0..30).map(|i| -3.0 + 6.0 * i as f64 / 29.0).collect();
        let ys: Vec<f64> = xs.iter().map(|x| x.sin() + 0.1 * (7.0 * x).cos()).collect();
        NetworkRegression::new(Cpu::seed_from_u64(0), &Matrix::new(30, 1, xs).unwrap(), &ys, WeightPrior::isotropic(1.5), noise).unwrap()
    }

    #[test]
    fn the_device_evaluation_of_a_network_equals_the_host_one() {
        for noise in [Noise::Fixed(0.3), Noise::Gamma { shape: 2.0, rate: 10.0 }] {
            let target = regression(noise);
            let host: &dyn Target = &target; // the same network as every host sampler sees it
            let d = host.dim();
            let mut rng = ChaCha8Rng::seed_from_u64(8);
            let mut q: Vec<f64> = (0..4).flat_map(|_| host.init(&mut rng)).collect();
            let jitter = normals(&mut rng, q.len());
            q.iter_mut().zip(jitter).for_each(|(w, z)| *w += 0.3 * z);
            let rays = DeviceRays::new(&target, &q, &vec![0.0; q.len()]).unwrap();
            let (lp, grad) = (rays.log_densities(), rays.gradients());
            for r in 0..4 {
                let mut g = vec![0.0; d];
                let want = host.logp_grad(&q[r * d..(r + 1) * d], &mut g).unwrap();
                assert!(max_rel(&[lp[r]], &[want]) < 1e-12, "{noise:?}: lp {} vs {want}", lp[r]);
                let e = max_rel(&grad[r * d..(r + 1) * d], &g);
                assert!(e < 1e-12, "{noise:?}: gradients differ by {e}");
            }
        }
    }

    #[test]
    fn the_device_sampler_runs_a_network_regression() {
        let target = regression(Noise::Gamma { shape: 2.0, rate: 10.0 });
        let rt = RayTracing { step_size: 0.05, n_steps: 10, ..Default::default() };
        let draws = DeviceRayTracing::new(rt).run(&target, &RunConfig { chains: 8, warmup: 150, draws: 50, seed: 3, init: None }).unwrap();
        assert_eq!(draws.names.last().unwrap(), "sigma");
        let acc = mean_stat(&draws, "accept_stat__");
        let sigma = draws.mean("sigma").unwrap();
        eprintln!("acceptance {acc:.3}, dt {}, mean sigma {sigma:.3}", draws.chains[0].step_size);
        assert!((acc - 0.75).abs() < 0.1, "acceptance {acc}");
        // the data's noise is the 0.1·cos(7x) term the 8-unit network cannot follow: σ ≈ 0.07
        assert!(sigma > 0.02 && sigma < 0.3, "mean sigma {sigma}");
    }
}

/// A hand-written device density: N(0, I) cut off at `x.1 > 1.5` (log density −∞ there).
struct Walled(Cpu, usize);

impl DeviceDensity<f64, Cpu> for Walled {
    fn dim(&self) -> usize {
        self.1
    }
    fn device(&self) -> &Cpu {
        &self.0
    }
    fn logp_grad(&self, x: &Rows<f64, Cpu>) -> Result<LogpGrad<f64, Cpu>, SamplerError> {
        use dfdx::prelude::*;
        let (p, _) = *x.shape();
        let lp = x.clone().square().sum::<(usize,), Axis<1>>() * -0.5;
        let first = x.clone().slice((0..p, 0..1)).reshape_like(&(p,));
        let outside = first.gt(1.5);
        let lp = outside.choose(self.0.ones_like(&(p,)) * f64::NEG_INFINITY, lp);
        Ok((lp, x.clone().negate()))
    }
}

#[test]
fn non_finite_densities_are_rejected_and_counted() {
    let target = Walled(Cpu::seed_from_u64(5), 4);
    let draws = DeviceRayTracing::new(RayTracing::new(0.5, 4)).run(&target, &RunConfig { chains: 8, warmup: 0, draws: 300, seed: 50, init: Some(vec![vec![0.0; 4]]) }).unwrap();
    assert!(draws.divergences() > 0);
    assert!(draws.chains.iter().all(|c| c.lp.iter().all(|lp| lp.is_finite())));
    assert!(draws.param("x.1").unwrap().concat().iter().all(|x| *x <= 1.5));
    let accepted_at_wall = draws.stat("accept_stat__").unwrap().concat().iter().zip(draws.stat("divergent__").unwrap().concat()).all(|(a, d)| d == 0.0 || *a == 0.0);
    assert!(accepted_at_wall, "a trajectory through the wall had a positive acceptance");
}

#[test]
fn the_noise_is_standard_normal_and_uniform_and_chunks_are_independent() {
    use snell::sampler::ray_tracing::device::Noise;
    let dev = Cpu::default();
    let mut noise = Noise::new(3);
    let (p, d) = (40, 25_000); // 10⁶ numbers: 31 chunks
    let z = noise.normals::<f64, _>(&dev, p, d).as_vec();
    let n = z.len() as f64;
    let mean = z.iter().sum::<f64>() / n;
    let var = z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let kurt = z.iter().map(|v| (v - mean).powi(4)).sum::<f64>() / n / (var * var);
    assert!(mean.abs() < 4.0 / n.sqrt(), "mean {mean}");
    assert!((var - 1.0).abs() < 4.0 * (2.0 / n).sqrt(), "variance {var}");
    assert!((kurt - 3.0).abs() < 4.0 * (96.0 / n).sqrt(), "kurtosis {kurt}");
    // neighbouring chunks (2¹⁵ numbers each) are not copies or shifts of each other
    let chunk = 1 << 15;
    let corr = (0..chunk).map(|i| z[i] * z[chunk + i]).sum::<f64>() / chunk as f64;
    assert!(corr.abs() < 4.0 / (chunk as f64).sqrt(), "correlation of chunks 0 and 1: {corr}");
    // the next request draws other numbers; uniforms lie in [0, 1) with mean 1/2
    let z2 = noise.normals::<f64, _>(&dev, p, d).as_vec();
    assert_ne!(z[..10], z2[..10]);
    let u = noise.uniforms::<f64, _>(&dev, 100_000).as_vec();
    assert!(u.iter().all(|u| (0.0..1.0).contains(u)));
    let mu = u.iter().sum::<f64>() / u.len() as f64;
    assert!((mu - 0.5).abs() < 4.0 * (1.0 / 12.0f64 / u.len() as f64).sqrt(), "uniform mean {mu}");
    // the same seed, the same numbers
    assert_eq!(Noise::new(3).normals::<f64, _>(&dev, p, d).as_vec(), z);
}
