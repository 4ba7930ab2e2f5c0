//! The 2-D Gaussian mixture of the ray-tracing paper's Figure 1,
//! `L(x) = [exp(−½(x₁−2)²) + exp(−½(x₁+2)²)]·exp(−½x₂²)`: a bundle of rays and of HMC orbits from
//! one start point (HMC with the mean kinetic energy, so its orbits are energy-limited while rays
//! travel at constant speed and only bend), and the mode-hopping rates of the two samplers and of
//! NUTS: sign changes of x₁ per 1000 draws and per 1000 gradient evaluations, and the fraction of
//! draws with x₁ > 0 (exactly 0.5).
//!
//! `cargo run --release --example ray_tracing_mixture` writes `output/ray_tracing_mixture_paths.svg`.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use snell::diagnostics::mcse_mean;
use snell::sampler::hmc::Hmc;
use snell::sampler::nuts::Nuts;
use snell::sampler::ray_tracing::{integrate_weighted, Integrator, RayState, RayTracing, Weighting};
use snell::sampler::{run, Draws, RunConfig, Sampler};
use snell_examples::plot::Plot;
use snell_examples::targets::figure1_mixture;

/// Positions of a trajectory of `steps` steps of size `dt` from `x0` with velocity `v0`.
fn path(weighting: &Weighting, x0: &[f64], v0: &[f64], dt: f64, steps: usize) -> Vec<(f64, f64)> {
    let target = figure1_mixture();
    let mut rng = ChaCha8Rng::seed_from_u64(0); // unused: no refresh, no RDKD
    let mut s = RayState::weighted(&target, weighting, x0.to_vec(), v0.to_vec()).unwrap();
    let mut out = vec![(s.x[0], s.x[1])];
    for _ in 0..steps {
        integrate_weighted(&target, weighting, &mut s, dt, 1, Integrator::Kdk, 0.0, &mut rng).unwrap();
        out.push((s.x[0], s.x[1]));
    }
    out
}

/// (sign changes of x₁ per 1000 draws, per 1000 gradients, fraction x₁ > 0, its MCSE).
fn hopping(draws: &Draws, grads_stat: &str) -> (f64, f64, f64, f64) {
    let x1 = draws.param("x.1").unwrap();
    let right: Vec<Vec<f64>> = x1.iter().map(|c| c.iter().map(|x| f64::from(u8::from(*x > 0.0))).collect()).collect();
    let hops: usize = right.iter().map(|c| c.windows(2).filter(|w| w[0] != w[1]).count()).sum();
    let n = right.iter().map(Vec::len).sum::<usize>() as f64;
    let grads: f64 = draws.stat(grads_stat).unwrap().concat().iter().sum();
    let views: Vec<&[f64]> = right.iter().map(|c| c.as_slice()).collect();
    (1000.0 * hops as f64 / n, 1000.0 * hops as f64 / grads, right.concat().iter().sum::<f64>() / n, mcse_mean(&views))
}

fn report<S: Sampler>(name: &str, sampler: &S, grads_stat: &str) {
    let target = figure1_mixture();
    let cfg = RunConfig { chains: 4, warmup: 1000, draws: 5000, seed: 1, init: Some(vec![vec![-2.0, 0.0]]) };
    let draws = run(sampler, &target, &cfg).unwrap();
    let (per_draw, per_grad, frac, se) = hopping(&draws, grads_stat);
    let grads_per_draw = draws.stat(grads_stat).unwrap().concat().iter().sum::<f64>() / (cfg.chains * cfg.draws) as f64;
    println!("{name:<28} {per_draw:>10.1} {per_grad:>10.2} {grads_per_draw:>10.1} {frac:>8.3} ± {se:.3}");
}

fn main() {
    // a bundle of 16 directions from (−2, 0.5), speed √2 (the mean kinetic energy ½|p|² = D/2 = 1)
    let x0 = [-2.0, 0.5];
    let (dt, steps) = (0.02, 400);
    let mut rays = Plot::new("Figure 1 mixture: rays (constant speed) and HMC orbits from one point").labels("x₁", "x₂").x_range(-6.0, 6.0).y_range(-4.0, 4.0).size(1000, 700);
    let mut reached = [0usize; 2];
    // one series per sampler: every path starts at x₀, so each is drawn out and back again
    let mut series: [Vec<(f64, f64)>; 2] = [vec![], vec![]];
    for k in 0..16 {
        let a = 2.0 * std::f64::consts::PI * k as f64 / 16.0;
        let v0 = [2f64.sqrt() * a.cos(), 2f64.sqrt() * a.sin()];
        for (j, w) in [Weighting::Unit, Weighting::Hmc].iter().enumerate() {
            let p = path(w, &x0, &v0, dt, steps);
            reached[j] += usize::from(p.iter().any(|q| q.0 > 0.0));
            series[j].extend(p.iter().chain(p.iter().rev()));
        }
    }
    let [ray_paths, hmc_paths] = series;
    rays = rays.line("ray tracing", ray_paths).line("HMC", hmc_paths);
    rays = rays.points("start", vec![(x0[0], x0[1])]);
    rays.save("output/ray_tracing_mixture_paths.svg").unwrap();
    println!("of 16 directions from ({}, {}) over a path time {:.0}: {} rays and {} HMC orbits cross x₁ = 0", x0[0], x0[1], dt * steps as f64, reached[0], reached[1]);
    println!("(HMC's orbits keep H = −ln L + ½|p|² fixed, so they cannot climb over the barrier when the kinetic energy is below it; rays only bend)");

    println!("\nmode hopping, 4 chains × (1000 warmup + 5000 draws) from (−2, 0), step sizes from warmup");
    println!("{:<28} {:>10} {:>10} {:>10} {:>16}", "sampler", "hops/1000", "hops/1000g", "grads/draw", "P(x₁ > 0) = 0.5");
    report("ray tracing (defaults)", &RayTracing::default(), "n_grad__");
    report("ray tracing (5 steps)", &RayTracing::new(0.3, 5), "n_grad__");
    report("ray tracing (10 steps)", &RayTracing::new(0.3, 10), "n_grad__");
    report("static HMC (5 steps)", &Hmc::new(5), "n_leapfrog__");
    report("static HMC (10 steps)", &Hmc::new(10), "n_leapfrog__");
    report("NUTS", &Nuts::default(), "n_leapfrog__");
    println!("\nwrote output/ray_tracing_mixture_paths.svg");
}
