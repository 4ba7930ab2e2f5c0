//! The ray tracing sampler with every chain's state on a dfdx device (`run_device`), next to the
//! host lockstep execution (`run(&Lockstep(rt), …)`, f64 `Vec`s, one batched evaluation per step)
//! in the same run, with the same settings: a 10,000-dimensional standard Gaussian (the paper's
//! Table 1 step, dt = 0.17, 10 DKD steps; a hand-written target, evaluated on the host in both),
//! eight schools as a `#[model]` (on the device it evaluates through the dfdx backend there, on
//! the host on `Native`), and a Bayesian network regression (a `#[model]` over a 1-20-1 tanh
//! dfdx module, learned noise) whose weights live on the device. Prints, per
//! execution, leapfrog steps/s and gradients/s (summed over chains), ESS/s (mean bulk ESS of the
//! first 100 coordinates per second of the run) and the device/host ratios, and draws the
//! histogram of x.1 from both against the exact N(0, 1).
//!
//! `cargo run --release --example ray_tracing_device [-- --chains 64 --dim 10000 --f32]` runs
//! the device execution on dfdx's `Cpu` device (about 40 s on 2 cores). Built with
//! `--features cuda` (see `scripts/build-cuda.sh`), `--cuda` runs it on CUDA device 0.
//! Writes `output/ray_tracing_device.svg`.

use snell::diagnostics::ess_bulk;
use snell_examples::posteriordb::EightSchoolsNoncentered;
use snell::nn::layers::{Linear, Tanh};
use snell::nn::{Network, WeightPrior};
use snell::backend::{Dfdx, DfdxElem, HostGradients, PointDevice};
use snell::nn::Cpu;
use snell::sampler::ray_tracing::RayTracing;
use snell::sampler::{run, run_device, Draws, Lockstep, RunConfig};
use snell::target::{FnDensity, Target};
use snell::prelude::*;
use snell_examples::plot::Plot;
use std::time::Instant;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// Steps/s, gradients/s and ESS/s of one run that took `secs`.
fn rates(draws: &Draws, cfg: &RunConfig, secs: f64) -> [f64; 3] {
    let trajectories = (cfg.chains * (cfg.warmup + cfg.draws)) as f64;
    let grads = draws.stat("n_grad__").unwrap().concat();
    let per_trajectory = grads.iter().sum::<f64>() / grads.len() as f64;
    let k = draws.names.len().min(100);
    let ess: f64 = draws.names[..k].iter().map(|n| {
        let chains = draws.param(n).unwrap();
        ess_bulk(&chains.iter().map(|c| c.as_slice()).collect::<Vec<_>>())
    }).sum::<f64>() / k as f64;
    let steps = draws.stat("n_steps__").unwrap().concat();
    let steps_per_trajectory = steps.iter().sum::<f64>() / steps.len() as f64;
    [trajectories * steps_per_trajectory / secs, trajectories * per_trajectory / secs, ess / secs]
}

fn acceptance(draws: &Draws) -> f64 {
    let a = draws.stat("accept_stat__").unwrap().concat();
    a.iter().sum::<f64>() / a.len() as f64
}

/// Runs both executions, prints their rates and ratios; returns (device, host) draws.
fn compare<E: DfdxElem, D: PointDevice<E>>(name: &str, device: &dyn Target, backend: &Dfdx<E, D>, host: &(dyn Target + Sync), rt: &RayTracing, cfg: &RunConfig) -> (Draws, Draws) {
    let t = Instant::now();
    let dev = run_device(rt, device, backend, cfg).unwrap();
    let dev_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let hst = run(&Lockstep(rt.clone()), host, cfg).unwrap();
    let host_secs = t.elapsed().as_secs_f64();
    let (d, h) = (rates(&dev, cfg, dev_secs), rates(&hst, cfg, host_secs));
    println!("{name}: {} chains, {} warmup + {} draws, dt₀ {}, steps {}", cfg.chains, cfg.warmup, cfg.draws, rt.step_size, rt.n_steps.map_or(format!("⌈{}/dt⌉", rt.arc), |n| n.to_string()));
    println!("  {:<14} {:>8} {:>8} {:>12} {:>14} {:>10} {:>8}", "execution", "seconds", "accept", "steps/s", "gradients/s", "ESS/s", "dt");
    for (label, draws, secs, r) in [("device", &dev, dev_secs, d), ("host lockstep", &hst, host_secs, h)] {
        let dt = draws.chains.iter().map(|c| c.step_size).sum::<f64>() / draws.chains.len() as f64;
        println!("  {label:<14} {secs:>8.2} {:>8.3} {:>12.0} {:>14.0} {:>10.2} {dt:>8.4}", acceptance(draws), r[0], r[1], r[2]);
    }
    println!("  device / host: steps/s {:.2}, gradients/s {:.2}, ESS/s {:.2}", d[0] / h[0], d[1] / h[1], d[2] / h[2]);
    (dev, hst)
}

type Net = (Linear<1, 20>, Tanh, Linear<20, 1>);

/// `y ~ N(f(x; w), σ)`, N(0, 1) weights, σ ~ Gamma(2, 10).
#[model(observations(x, y))]
fn regression(net: &Network<Net, 1, 1>, x: &Matrix, y: &[f64]) {
    let w = sample!([net.len()] ~ Normal(0.0, 1.0));
    let sigma = sample!(Gamma(2.0, 10.0));
    observe!(y ~ Normal(net.forward(w, x), sigma));
}


fn main() {
    let (chains, dim) = (arg("--chains", 64), arg("--dim", 10_000));
    let seed = 7;
    #[cfg(feature = "cuda")]
    if flag("--cuda") {
        let dev = snell::nn::Cuda::try_build(0, seed).expect("CUDA device 0");
        if flag("--f32") {
            both::<f32, _>(dev, chains, dim, "cuda f32")
        } else {
            both::<f64, _>(dev, chains, dim, "cuda f64")
        }
        return;
    }
    #[cfg(not(feature = "cuda"))]
    if flag("--cuda") {
        eprintln!("--cuda needs the cuda feature (scripts/build-cuda.sh --release --features cuda --example ray_tracing_device)");
        std::process::exit(2);
    }
    let dev = Cpu::seed_from_u64(seed);
    if flag("--f32") {
        both::<f32, _>(dev, chains, dim, "cpu f32")
    } else {
        both::<f64, _>(dev, chains, dim, "cpu f64")
    }
}

/// The Gaussian on `dev`, then the models on `dev` beside the host (CPU, f64) lockstep.
fn both<E: DfdxElem, D: PointDevice<E> + HostGradients<E>>(dev: D, chains: usize, dim: usize, label: &str) {
    println!("device: dfdx {label}\n");
    let backend = Dfdx::<E, D>::new(dev.clone());
    let gaussian = FnDensity::new(dim, |q: &[f64], g: &mut [f64]| {
        g.iter_mut().zip(q).for_each(|(g, q)| *g = -q);
        -0.5 * q.iter().map(|x| x * x).sum::<f64>()
    });
    let rt = RayTracing::new(0.17, 10);
    let cfg = RunConfig { chains, warmup: 50, draws: 50, seed: 1, init: None };
    let (dev_draws, host_draws) = compare(&format!("standard Gaussian, D = {dim}"), &gaussian, &backend, &gaussian, &rt, &cfg);
    println!();

    // y = sin(x) + noise at 100 points
    let xs: Vec<f64> = (0..100).map(|i| -3.0 + 6.0 * i as f64 / 99.0).collect();
    let ys: Vec<f64> = xs.iter().enumerate().map(|(i, x)| x.sin() + 0.1 * ((i * 7919 % 100) as f64 / 50.0 - 1.0)).collect();
    let x = Matrix::new(100, 1, xs).unwrap();
    let net = Network::<Net, 1, 1>::new(WeightPrior::isotropic(1.0)).unwrap();
    let model = Regression::new(&net, &x, &ys).unwrap();
    let rt = RayTracing::new(0.02, 20);
    let cfg = RunConfig { chains: chains.min(16), warmup: 200, draws: 100, seed: 2, init: None };
    println!("network model on the device ({label}), host lockstep on Native (f64):");
    let (net_dev, net_host) = compare("network regression 1-20-1 tanh (61 weights + sigma), 100 points", &model, &backend, &model, &rt, &cfg);
    println!("  posterior mean sigma: device {:.4}, host {:.4}", net_dev.mean("sigma").unwrap(), net_host.mean("sigma").unwrap());
    println!();

    let schools = EightSchoolsNoncentered::new(&[28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0], &[15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0]).unwrap();
    let cfg = RunConfig { chains, warmup: 500, draws: 500, seed: 3, init: None };
    println!("eight schools as a #[model] on the device ({label}), host lockstep on Native (f64):");
    let (sch_dev, sch_host) = compare("eight schools, non-centred (10 parameters)", &schools, &backend, &schools, &RayTracing::default(), &cfg);
    println!("  posterior mean tau: device {:.3}, host {:.3}", sch_dev.mean("tau").unwrap(), sch_host.mean("tau").unwrap());

    let x1 = |d: &Draws| d.param("x.1").unwrap().concat();
    let pdf: Vec<(f64, f64)> = (0..=200).map(|i| -4.0 + 8.0 * i as f64 / 200.0).map(|x| (x, (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt())).collect();
    Plot::new(&format!("x.1 of the {dim}-d standard Gaussian, {chains} chains"))
        .labels("x.1", "density")
        .histogram(&format!("device ({label})"), x1(&dev_draws), 30)
        .histogram("host lockstep", x1(&host_draws), 30)
        .line("exact N(0, 1)", pdf)
        .save("output/ray_tracing_device.svg")
        .unwrap();
    println!("\nwrote output/ray_tracing_device.svg");
}
