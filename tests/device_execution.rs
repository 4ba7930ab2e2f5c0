//! The device execution beyond its equality with the host ones (`tests/executions.rs`), on
//! dfdx's `Cpu` device: ray tracing leaves an ill-conditioned Gaussian invariant from exact draws
//! (with power checks: a wrong target, and a big step without the Metropolis test, must fail), in
//! f64 and in f32; the draws reach observers (CmdStan CSV read back); the same seed gives the same
//! draws whatever the thread count; non-finite densities are rejected and counted.

mod common;
use common::exact_inits;

use snell::backend::{Cpu32, Cpu64};
use snell::sampler::hmc::Hmc;
use snell::sampler::ray_tracing::{Integrator, RayTracing};
use snell::sampler::{run_device, run_device_observed, Draws, RunConfig, SamplerError};
use snell::target::FnDensity;

/// `N(mean, diag(1/prec))`.
fn gaussian(mean: Vec<f64>, prec: Vec<f64>) -> FnDensity<impl Fn(&[f64], &mut [f64]) -> f64 + Sync> {
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

/// Standardised final states `(x − mean)/sd` of every chain: exact independent N(0, 1) draws if
/// the kernel leaves the target invariant. Checks the pooled mean and variance and each
/// coordinate's mean and variance over the chains.
fn check_invariance(draws: &Draws, mean: &[f64], sd: &[f64]) {
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
}

fn exact_draws(chains: usize, mean: &[f64], sd: &[f64], seed: u64) -> Vec<Vec<f64>> {
    exact_inits(chains, mean.len(), seed).into_iter().map(|z| z.iter().zip(mean).zip(sd).map(|((z, m), s)| m + s * z).collect()).collect()
}

fn mean_stat(draws: &Draws, name: &str) -> f64 {
    let all = draws.stat(name).unwrap().concat();
    all.iter().sum::<f64>() / all.len() as f64
}

#[test]
fn ray_tracing_on_the_device_leaves_an_ill_conditioned_gaussian_invariant_and_the_checks_have_power() {
    // sd from 0.1 to 10 (condition number 10⁴), mean away from 0
    let (d, chains) = (100, 64);
    let sd: Vec<f64> = (0..d).map(|i| 10f64.powf(-1.0 + 2.0 * i as f64 / (d - 1) as f64)).collect();
    let mean: Vec<f64> = (0..d).map(|i| (i as f64 * 0.7).sin()).collect();
    let prec: Vec<f64> = sd.iter().map(|s| 1.0 / (s * s)).collect();
    let target = gaussian(mean.clone(), prec.clone());
    let cfg = RunConfig { chains, warmup: 0, draws: 15, seed: 5, init: Some(exact_draws(chains, &mean, &sd, 7)) };
    // a step that turns the narrowest coordinates by ≈ 0.3 rad
    let rt = RayTracing { step_size: 0.03, n_steps: Some(8), ..Default::default() };
    let draws = run_device(&rt, &target, &Cpu64::default(), &cfg).unwrap();
    check_invariance(&draws, &mean, &sd);
    let acc = mean_stat(&draws, "accept_stat__");
    assert!(acc > 0.5, "acceptance {acc}");
    // power 1: a density with 1.3 times the variances, checked against the true moments
    let wide = gaussian(mean.clone(), prec.iter().map(|p| p / 1.3).collect());
    let wrong = run_device(&rt, &wide, &Cpu64::default(), &cfg).unwrap();
    assert!(std::panic::catch_unwind(|| check_invariance(&wrong, &mean, &sd)).is_err(), "the check passed draws of a wrong density");
    // power 2: a big step is exact with the Metropolis test and biased without it
    let big = RayTracing { step_size: 0.3, n_steps: Some(8), ..Default::default() };
    check_invariance(&run_device(&big, &target, &Cpu64::default(), &cfg).unwrap(), &mean, &sd);
    let untested = run_device(&RayTracing { metropolis: false, ..big }, &target, &Cpu64::default(), &cfg).unwrap();
    assert!(std::panic::catch_unwind(|| check_invariance(&untested, &mean, &sd)).is_err(), "skipping the Metropolis test at dt = 0.3 went unnoticed");
}

#[test]
fn the_device_runs_in_f32() {
    let (d, chains) = (100, 64);
    let (mean, sd) = (vec![0.0; d], vec![1.0; d]);
    let target = gaussian(mean.clone(), vec![1.0; d]);
    let cfg = RunConfig { chains, warmup: 0, draws: 20, seed: 4, init: Some(exact_draws(chains, &mean, &sd, 40)) };
    for integrator in [Integrator::Dkd, Integrator::Omelyan] {
        let draws = run_device(&RayTracing { integrator, ..Default::default() }, &target, &Cpu32::default(), &cfg).unwrap();
        check_invariance(&draws, &mean, &sd);
        assert!(mean_stat(&draws, "accept_stat__") > 0.5, "{integrator:?}");
    }
    let draws = run_device(&Hmc::new(10), &target, &Cpu32::default(), &cfg).unwrap();
    check_invariance(&draws, &mean, &sd);
}

#[test]
fn draws_on_the_device_written_as_cmdstan_csv_read_back() {
    use snell::output::{read_cmdstan_csv, CsvWriter};
    let dir = std::env::temp_dir().join(format!("snell-device-csv-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let target = gaussian(vec![0.5; 6], vec![2.0; 6]);
    let csv = CsvWriter::new(&dir, "gaussian", "gaussian");
    let cfg = RunConfig { chains: 3, warmup: 40, draws: 25, seed: 6, init: None };
    let draws = run_device_observed(&RayTracing::default(), &target, &Cpu64::default(), &cfg, &[&csv]).unwrap();
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
fn the_same_seed_gives_the_same_draws_on_the_device_whatever_the_thread_count() {
    let target = gaussian(vec![0.0; 10], vec![1.0; 10]);
    let rt = RayTracing { integrator: Integrator::Rdkd, full_refresh: false, refresh_rate: 1.0, ..Default::default() };
    let cfg = RunConfig { chains: 4, warmup: 50, draws: 30, seed: 11, init: None };
    let one = run_device(&rt, &target, &Cpu64::default(), &cfg).unwrap();
    assert_eq!(one, run_device(&rt, &target, &Cpu64::default(), &cfg).unwrap());
    let single = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(|| run_device(&rt, &target, &Cpu64::default(), &cfg).unwrap());
    assert_eq!(one, single);
    let other = run_device(&rt, &target, &Cpu64::default(), &RunConfig { seed: 12, ..cfg }).unwrap();
    assert_ne!(one.chains[0].values, other.chains[0].values);
    assert_ne!(one.chains[0].values, one.chains[1].values, "chains must not share a stream");
}

#[test]
fn non_finite_densities_on_the_device_are_rejected_and_counted() {
    // N(0, I) cut off at x.1 > 1.5 (log density −∞ there)
    let walled = FnDensity::new(4, |q: &[f64], g: &mut [f64]| {
        g.iter_mut().zip(q).for_each(|(g, q)| *g = -q);
        if q[0] > 1.5 { f64::NEG_INFINITY } else { -0.5 * q.iter().map(|q| q * q).sum::<f64>() }
    });
    let cfg = RunConfig { chains: 8, warmup: 0, draws: 300, seed: 50, init: Some(vec![vec![0.0; 4]]) };
    let draws = run_device(&RayTracing::new(0.5, 4), &walled, &Cpu64::default(), &cfg).unwrap();
    assert!(draws.divergences() > 0);
    assert!(draws.chains.iter().all(|c| c.lp.iter().all(|lp| lp.is_finite())));
    assert!(draws.param("x.1").unwrap().concat().iter().all(|x| *x <= 1.5));
    let accepted_at_wall = draws.stat("accept_stat__").unwrap().concat().iter().zip(draws.stat("divergent__").unwrap().concat()).all(|(a, d)| d == 0.0 || *a == 0.0);
    assert!(accepted_at_wall, "a trajectory through the wall had a positive acceptance");
    // settings are checked before the run, as on the host
    let e = run_device(&RayTracing { step_size: 0.0, ..Default::default() }, &walled, &Cpu64::default(), &cfg).unwrap_err();
    assert!(matches!(e, SamplerError::Setting { name: "step_size", .. }), "{e}");
}
