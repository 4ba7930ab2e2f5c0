//! Makes the predictive reference of the 1-20-1 network on the sin data (`src/sin_net.rs`) that
//! the tests hold ray tracing to: NUTS with its defaults, 8 chains × (1000 warmup + 5000 draws),
//! the network's output at 50 test points on [−5, 5], written to
//! `tests/data/sin_net_1_20_1.json` (means, sds, their Monte Carlo errors, R-hat and ESS). Then
//! ray tracing with its defaults, 4 × (1000 + 1000), against it; both with their ESS of f(x) per
//! 1,000 gradients after warmup.
//!
//! `cargo run --release --example network_reference` (about six minutes on two cores)

use snell::sampler::nuts::Nuts;
use snell::sampler::ray_tracing::RayTracing;
use snell::sampler::{run, Draws, RunConfig};
use snell_examples::sin_net::{reference_path, sin_data, sin_network, test_points, Predictive, SinNet};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let hidden = 20;
    let (x, y) = sin_data();
    let net = sin_network(hidden);
    let model = SinNet::new(&net, &x, &y)?;
    let cfg = RunConfig { chains: 8, warmup: 1000, draws: 5000, seed: 2024, init: None };
    let t = Instant::now();
    let draws = run(&Nuts::default(), &model, &cfg)?;
    let secs = t.elapsed().as_secs_f64();
    for w in draws.warnings() {
        println!("warning: {w}");
    }
    let p = Predictive::of(&net, &draws, &test_points())?;
    report("NUTS", secs, &draws, &p);
    let made_by = format!("cargo run --release --example network_reference: NUTS defaults, {} chains × ({} + {}), seed {}", cfg.chains, cfg.warmup, cfg.draws, cfg.seed);
    let path = reference_path(hidden);
    std::fs::write(&path, serde_json::to_string_pretty(&p.to_json(&made_by))?)?;
    println!("written {}", path.display());

    let t = Instant::now();
    let rays = run(&RayTracing::default(), &model, &RunConfig { chains: 4, warmup: 1000, draws: 1000, seed: 3, init: None })?;
    let secs = t.elapsed().as_secs_f64();
    let r = Predictive::of(&net, &rays, &test_points())?;
    report("ray tracing", secs, &rays, &r);
    let off = r.disagreements(&p, 0.10, 1.01);
    println!("ray tracing against the reference: {}", if off.is_empty() { "every mean within 4 MCSE, sd within 10%, R-hat ≤ 1.01".to_string() } else { off.join("; ") });
    Ok(())
}

/// Seconds, worst R-hat, least bulk ESS of f(x) and that ESS per 1,000 gradients after warmup.
fn report(what: &str, secs: f64, draws: &Draws, p: &Predictive) {
    let grads: f64 = draws.stat("n_grad__").or_else(|| draws.stat("n_leapfrog__")).map_or(f64::NAN, |g| g.iter().flatten().sum());
    let rhat = p.rhat.iter().cloned().fold(0.0, f64::max);
    let ess = p.ess.iter().cloned().fold(f64::INFINITY, f64::min);
    println!("{what}: {secs:.0} s; f(x) at 50 points: R-hat ≤ {rhat:.4}, bulk ESS ≥ {ess:.0}, {:.2} per 1,000 gradients ({:.0} gradients per draw)", 1000.0 * ess / grads, grads / (draws.chains.len() * draws.chains[0].lp.len()) as f64);
}
