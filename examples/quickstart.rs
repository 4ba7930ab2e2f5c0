//! Eight schools (non-centred), the "hello world" of hierarchical models: build the model, look at
//! its log density and gradient, fit it with NUTS (4 chains, 1000 warmup + 1000 draws), print a
//! stansummary-style table with its warnings, and write one CmdStan CSV per chain to `output/`.
//!
//! Run with `cargo run --release --example quickstart`.

use snell::output::CsvWriter;
use snell::prelude::*;
use snell::sampler::{nuts::Nuts, run_observed, Progress, RunConfig};

/// Rubin's eight schools: treatment effects `y` with known standard errors `sigma`.
#[model]
fn eight_schools(y: &[f64], sigma: &[f64]) {
    let mu = sample!(Normal(0.0, 5.0));
    let tau = sample!(HalfCauchy(5.0)); // positive: sampled as ln(tau), Jacobian added
    let theta_raw = sample!([y.len()] ~ Normal(0.0, 1.0));
    let theta = deterministic!(mu + tau * theta_raw); // recorded with every draw, like Stan's transformed parameters
    observe!(y ~ Normal(theta, sigma));
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let y = [28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0];
    let sigma = [15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0];
    let model = EightSchools::new(&y, &sigma)?;

    println!("eight schools: {} unconstrained parameters", model.dim());
    println!("parameters: {}", model.param_names().join(", "));

    // A point on the unconstrained scale: mu = 1, ln(tau) = 0.5, theta_raw = 0.1 … 0.8
    let theta: Vec<f64> = [1.0, 0.5].into_iter().chain((1..=8).map(|i| i as f64 / 10.0)).collect();
    let (lp, grad) = model.log_density_and_grad(&theta)?;
    println!("log density at {theta:?}: {lp:.6}");
    println!("gradient: {:?}", grad.iter().map(|g| format!("{g:.4}")).collect::<Vec<_>>());
    let p: EightSchoolsParams = model.constrain(&theta)?;
    println!("constrained: mu = {:.3}, tau = {:.3}, theta_raw = {:?}\n", p.mu, p.tau, p.theta_raw);

    // NUTS with Stan's defaults: 4 chains × (1000 warmup + 1000 draws), target acceptance 0.8.
    let config = RunConfig { chains: 4, warmup: 1000, draws: 1000, seed: 2024, init: None };
    let csv = CsvWriter::new("output", "eight_schools", "eight_schools");
    let progress = Progress::new(config.chains);
    let start = std::time::Instant::now();
    let draws = run_observed(&Nuts::default(), &model, &config, &[&progress, &csv])?;
    println!("sampled in {:.2?}\n", start.elapsed());
    println!("{}", draws.summary());
    for w in draws.warnings() {
        println!("warning: {w}");
    }
    println!("\nCmdStan CSV files: {}", csv.paths(config.chains).iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
    Ok(())
}
