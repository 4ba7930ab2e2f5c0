//! The banana (Haario et al.'s twisted Gaussian): x₁ ~ N(0, 10²), x₂ | x₁ ~ N(b·(x₁² − 100), 1)
//! with b = 0.03 — a curved ridge on which random-walk proposals crawl and Hamiltonian or ray
//! trajectories bend along. Random-walk Metropolis, static HMC, NUTS and ray tracing sample it
//! with the same budget of iterations; for each the table gives the moments against the exact
//! ones, the minimum bulk ESS, ESS per 1000 density/gradient evaluations and ESS per second, and
//! a scatter of the draws over exact draws is written to `output/banana_<sampler>.svg`.
//!
//! `cargo run --release --example banana`

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use snell::sampler::hmc::Hmc;
use snell::sampler::nuts::Nuts;
use snell::sampler::ray_tracing::RayTracing;
use snell::sampler::rwm::RandomWalkMetropolis;
use snell::sampler::{run, Draws, RunConfig, Sampler};
use snell::target::FnDensity;
use snell_examples::counting::Counting;
use snell_examples::plot::Plot;
use std::time::Instant;

const B: f64 = 0.03;

fn banana() -> FnDensity<impl Fn(&[f64], &mut [f64]) -> f64 + Sync> {
    FnDensity::new(2, |q: &[f64], g: &mut [f64]| {
        let r = q[1] - B * (q[0] * q[0] - 100.0);
        g[0] = -q[0] / 100.0 + r * 2.0 * B * q[0];
        g[1] = -r;
        -q[0] * q[0] / 200.0 - 0.5 * r * r
    })
}

/// Exact draws, for the picture and the reference moments.
fn exact(n: usize) -> Vec<(f64, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    (0..n)
        .map(|_| {
            let (a, b): (f64, f64) = (StandardNormal.sample(&mut rng), StandardNormal.sample(&mut rng));
            let x1 = 10.0 * a;
            (x1, B * (x1 * x1 - 100.0) + b)
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cfg = RunConfig { chains: 4, warmup: 2000, draws: 20000, seed: 3, init: None };
    // exact moments: E x₁ = 0, sd x₁ = 10; E x₂ = 0, Var x₂ = b²·Var(x₁²) + 1 = b²·2·10⁴ + 1
    let sd2 = (B * B * 2.0 * 1e4 + 1.0_f64).sqrt();
    println!("banana, b = {B}: exact mean (0, 0), sd (10, {sd2:.3}); 4 chains × ({} warmup + {} draws)\n", cfg.warmup, cfg.draws);
    println!("{:<14} {:>8} {:>8} {:>8} {:>8} {:>9} {:>12} {:>9} {:>7}", "sampler", "mean x1", "sd x1", "mean x2", "sd x2", "min ESS", "ESS/1k grads", "ESS/s", "R-hat");
    let truth = exact(2000);
    compare("rwm", &RandomWalkMetropolis::default(), &cfg, &truth)?;
    compare("hmc (20 steps)", &Hmc::new(20), &cfg, &truth)?;
    compare("nuts", &Nuts::default(), &cfg, &truth)?;
    compare("ray tracing", &RayTracing::default(), &cfg, &truth)?;
    println!("\nfigures: output/banana_{{rwm,hmc,nuts,ray_tracing}}.svg");
    Ok(())
}

fn compare<S: Sampler>(label: &str, sampler: &S, cfg: &RunConfig, truth: &[(f64, f64)]) -> Result<(), Box<dyn std::error::Error>> {
    let target = banana();
    let counting = Counting::new(&target);
    let t = Instant::now();
    let draws: Draws = run(sampler, &counting, cfg)?;
    let secs = t.elapsed().as_secs_f64();
    let s = draws.summary();
    let rows = &s.rows()[1..];
    let ess = rows.iter().map(|r| r.ess_bulk).fold(f64::INFINITY, f64::min);
    let rhat = rows.iter().map(|r| r.rhat).fold(0.0, f64::max);
    println!(
        "{label:<14} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {ess:>9.0} {:>12.2} {:>9.0} {rhat:>7.3} {:>6}",
        rows[0].mean,
        rows[0].sd,
        rows[1].mean,
        rows[1].sd,
        1000.0 * ess / counting.calls() as f64,
        ess / secs,
        draws.divergences()
    );
    let pts: Vec<(f64, f64)> = draws.chains[0].values.chunks(2).take(2000).map(|v| (v[0], v[1])).collect();
    let file = label.split(' ').next().unwrap_or(label).replace("ray", "ray_tracing");
    Plot::new(&format!("banana: {label}, 2000 draws of chain 1 over 2000 exact draws"))
        .labels("x1", "x2")
        .x_range(-35.0, 35.0)
        .y_range(-8.0, 30.0)
        .points("exact", truth.to_vec())
        .points(label, pts)
        .save(format!("output/banana_{file}.svg"))?;
    Ok(())
}
