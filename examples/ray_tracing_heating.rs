//! Heating under stochastic gradients (the ray-tracing paper's §2.11.3 and Figs. 8–9): a Bayesian
//! linear regression (20 coefficients, N = 1000, exact Gaussian posterior) and a small Bayesian
//! neural net (1–10–1 tanh MLP, N = 1000) sampled with minibatch gradients of several batch sizes
//! by ray tracing and by static HMC (same step, same trajectory length, same batches, no
//! Metropolis test), and by SGLD (constant step ε = dt², the scale of one leapfrog step, with as
//! many gradient evaluations). Reported: the posterior variance ratio against full-batch sampling
//! (regression: against the exact posterior, averaged over coefficients; network: the variance of
//! its predictions at five inputs against an exact-gradient ray-tracing run with the Metropolis
//! test). A ratio above 1 is heating, below 1 cooling.
//!
//! `cargo run --release --example ray_tracing_heating` (about two minutes) writes
//! `output/ray_tracing_heating_regression.svg` and `output/ray_tracing_heating_mlp.svg`.

use snell::sampler::ray_tracing::{Integrator, MinibatchSettings, RayTracing, Weighting};
use snell::sampler::sgld::{Sgld, StepSchedule};
use snell::sampler::{run, Draws, Order, RunConfig};
use snell::target::Target;
use snell_examples::mlp::Mlp;
use snell_examples::plot::Plot;
use snell_examples::regression::Regression;

const BATCHES: [usize; 4] = [10, 50, 200, 1000];

/// The three samplers compared.
#[derive(Clone, Copy)]
enum Kind {
    Rays,
    Hmc,
    Sgld,
}

const KINDS: [(&str, Kind); 3] = [("ray tracing", Kind::Rays), ("static HMC", Kind::Hmc), ("SGLD", Kind::Sgld)];

/// Minibatch ray tracing, static HMC (the HMC weighting with KDK = leapfrog) without the test, or
/// SGLD with ε = dt² and `n_steps` times the iterations (the same number of gradients).
fn sample(kind: Kind, target: &(dyn Target + Sync), dt: f64, n_steps: usize, batch: usize, cfg: RunConfig) -> Draws {
    let rt = RayTracing { metropolis: false, minibatch: Some(MinibatchSettings::new(batch)), ..RayTracing::new(dt, n_steps) };
    match kind {
        Kind::Rays => run(&rt, target, &cfg),
        Kind::Hmc => run(&RayTracing { weighting: Weighting::Hmc, integrator: Integrator::Kdk, ..rt }, target, &cfg),
        Kind::Sgld => {
            let sgld = Sgld { batch_size: batch, order: Order::Shuffled, schedule: StepSchedule::Constant(dt * dt) };
            run(&sgld, target, &RunConfig { warmup: cfg.warmup * n_steps, draws: cfg.draws * n_steps, ..cfg })
        }
    }
    .unwrap()
}

fn variance(v: &[f64]) -> f64 {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
}

/// Prints one row and returns the ratio (NaN when the chain diverged).
fn row(model: &str, name: &str, batch: usize, ratio: f64, shift: f64) -> f64 {
    let ratio = if ratio.is_finite() && ratio < 1e6 { ratio } else { f64::NAN };
    if ratio.is_nan() {
        println!("{model:<12} {name:<13} {batch:>6}   diverged (no friction: the noise pumps energy into the momentum)");
    } else {
        println!("{model:<12} {name:<13} {batch:>6} {ratio:>12.3} {shift:>14.2}");
    }
    ratio
}

fn regression() -> Vec<(String, Vec<(f64, f64)>)> {
    let data = Regression::simulate(1000, 20, 7);
    let m = data.model().unwrap();
    // dt ≈ 0.15 × the posterior sd (0.03); 10 steps are a quarter of HMC's orbit period (20 would
    // be half of it, where HMC maps x − x̂ to −(x − x̂) and hardly mixes) and π/2 of the rays' arc
    let (dt, steps) = (0.005, 10);
    let init = Some(vec![data.mean.clone()]);
    let mut curves = vec![];
    for (name, kind) in KINDS {
        let mut curve = vec![];
        for &b in &BATCHES {
            let draws = sample(kind, &m, dt, steps, b, RunConfig { chains: 4, warmup: 300, draws: 2000, seed: 1, init: init.clone() });
            let s = draws.summary();
            let k = data.mean.len();
            let rows: Vec<_> = (0..k).map(|i| s.row(&format!("beta.{}", i + 1)).unwrap().clone()).collect();
            let ratio = rows.iter().zip(&data.sd).map(|(r, sd)| (r.sd / sd).powi(2)).sum::<f64>() / k as f64;
            let shift = rows.iter().zip(data.mean.iter().zip(&data.sd)).map(|(r, (m, sd))| ((r.mean - m) / sd).abs()).fold(0.0, f64::max);
            let ratio = row("regression", name, b, ratio, shift);
            if ratio.is_finite() {
                curve.push(((b as f64).log10(), ratio.log10()));
            }
        }
        curves.push((name.to_string(), curve));
    }
    curves
}

/// Predictions of every draw at `xs`, per input.
fn predictions(net: &Mlp, draws: &Draws, xs: &[f64]) -> Vec<Vec<f64>> {
    let d = net.dim();
    xs.iter().map(|&x| draws.chains.iter().flat_map(|c| c.values.chunks(d).map(|q| net.predict(q, x)).collect::<Vec<_>>()).collect()).collect()
}

fn mlp() -> Vec<(String, Vec<(f64, f64)>)> {
    let net = Mlp::simulate(10, 0.3, 1000, 11);
    let xs = [-1.5, -0.75, 0.0, 0.75, 1.5];
    // the full-batch reference: exact gradients, Metropolis test, dt tuned in warmup
    let reference = run(&RayTracing { n_steps: Some(10), ..RayTracing::default() }, &net, &RunConfig { chains: 4, warmup: 1500, draws: 2000, seed: 2, init: None }).unwrap();
    let dt = reference.chains.iter().map(|c| c.step_size).sum::<f64>() / 4.0;
    let ref_var: Vec<f64> = predictions(&net, &reference, &xs).iter().map(|p| variance(p)).collect();
    let acc = reference.stat("accept_stat__").unwrap().concat().iter().sum::<f64>() / 8000.0;
    println!("\nnetwork reference (exact gradients, Metropolis): dt {dt:.2e}, acceptance {acc:.3}, prediction sds {:?}", ref_var.iter().map(|v| format!("{:.4}", v.sqrt())).collect::<Vec<_>>());
    // every minibatch chain starts where a reference chain ended (no burn-in from a random start)
    let starts: Vec<Vec<f64>> = reference.chains.iter().map(|c| c.values[c.values.len() - net.dim()..].to_vec()).collect();
    let mut curves = vec![];
    for (name, kind) in KINDS {
        let mut curve = vec![];
        for &b in &BATCHES {
            let draws = sample(kind, &net, dt, 10, b, RunConfig { chains: 4, warmup: 200, draws: 2000, seed: 3, init: Some(starts.clone()) });
            let preds = predictions(&net, &draws, &xs);
            let ratio = preds.iter().zip(&ref_var).map(|(p, v)| variance(p) / v).sum::<f64>() / xs.len() as f64;
            let ref_means: Vec<f64> = predictions(&net, &reference, &xs).iter().map(|p| p.iter().sum::<f64>() / p.len() as f64).collect();
            let shift = preds.iter().zip(ref_means.iter().zip(&ref_var)).map(|(p, (m, v))| ((p.iter().sum::<f64>() / p.len() as f64 - m) / v.sqrt()).abs()).fold(0.0, f64::max);
            let ratio = row("network", name, b, ratio, shift);
            if ratio.is_finite() {
                curve.push(((b as f64).log10(), ratio.log10()));
            }
        }
        curves.push((name.to_string(), curve));
    }
    curves
}

fn plot(title: &str, curves: Vec<(String, Vec<(f64, f64)>)>, path: &str) {
    let mut p = Plot::new(title).labels("log₁₀ batch size (N = 1000)", "log₁₀ (posterior variance / full-batch variance)");
    for (name, c) in curves {
        p = p.line(&name, c.clone()).points("", c);
    }
    p = p.line("no heating", vec![(1.0, 0.0), (3.0, 0.0)]);
    p.save(path).unwrap();
}

fn main() {
    println!("{:<12} {:<13} {:>6} {:>12} {:>14}", "model", "sampler", "batch", "var ratio", "max |Δmean|/sd");
    let reg = regression();
    let net = mlp();
    plot("Heating under minibatch gradients: linear regression (K = 20)", reg, "output/ray_tracing_heating_regression.svg");
    plot("Heating under minibatch gradients: 1–10–1 tanh network", net, "output/ray_tracing_heating_mlp.svg");
    println!("\nwrote output/ray_tracing_heating_regression.svg, output/ray_tracing_heating_mlp.svg");
}
