//! The 10,000-dimensional standard Gaussian of the ray-tracing paper's Figure 5, at a mean change
//! of direction per step ⟨Δφ⟩ = 0.25 (`dt = 0.25`, 6 steps ≈ π/2 of arc per trajectory, full
//! refresh), with KDK and DKD steps, with and without the Metropolis test. Without it the
//! integration error biases the chain (KDK samples the polygon's vertices, outside the true orbit:
//! too low a likelihood; DKD its edge mid-points: too high); with it the exact distribution
//! returns. Prints the mean and sd of `|x|²` (exact: D and √(2D)) and of single coordinates, and
//! draws their histograms against the exact densities.
//!
//! `cargo run --release --example ray_tracing_gaussian_10k` (16 chains from N(0, 4²I), 150
//! burn-in trajectories of which the first 100 without Metropolis, then 200 kept; about 20 s)
//! writes `output/ray_tracing_gaussian_10k_norm.svg` and `output/ray_tracing_gaussian_10k_coordinate.svg`.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use snell::sampler::ray_tracing::{Integrator, RayTracing};
use snell::sampler::{run, RunConfig};
use snell::target::FnDensity;
use snell_examples::plot::Plot;

const D: usize = 10_000;

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    (m, (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt())
}

fn main() {
    let target = FnDensity::new(D, |q: &[f64], g: &mut [f64]| {
        g.iter_mut().zip(q).for_each(|(g, q)| *g = -q);
        -0.5 * q.iter().map(|x| x * x).sum::<f64>()
    });
    let chains = 16;
    let (burn_plain, burn_mh, keep) = (100, 50, 200);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let wide = Normal::new(0.0, 4.0).unwrap();
    let inits: Vec<Vec<f64>> = (0..chains).map(|_| (0..D).map(|_| wide.sample(&mut rng)).collect()).collect();
    let mut norm_plot = Plot::new("|x|² in D = 10⁴, ⟨Δφ⟩ = 0.25").labels("|x|²", "density").size(1000, 650);
    let mut coord_plot = Plot::new("one coordinate (x.1), D = 10⁴, ⟨Δφ⟩ = 0.25").labels("x.1", "density");
    println!("{:<22} {:>10} {:>9} {:>10} {:>8} {:>11}", "integrator", "mean |x|²", "sd", "coord var", "accept", "|x|² − D");
    for (k, (integrator, metropolis)) in [(Integrator::Kdk, false), (Integrator::Dkd, false), (Integrator::Kdk, true), (Integrator::Dkd, true)].into_iter().enumerate() {
        let rt = RayTracing { integrator, metropolis: false, ..RayTracing::new(0.25, 6) };
        // burn-in without the test (as the paper), then with it where it is used; no warmup (it would tune dt)
        let burn = run(&rt, &target, &RunConfig { chains, warmup: 0, draws: burn_plain, seed: 10 + k as u64, init: Some(inits.clone()) }).unwrap();
        let starts: Vec<Vec<f64>> = burn.chains.iter().map(|c| c.values[c.values.len() - D..].to_vec()).collect();
        let rt = RayTracing { metropolis, ..rt };
        let draws = run(&rt, &target, &RunConfig { chains, warmup: 0, draws: burn_mh + keep, seed: 20 + k as u64, init: Some(starts) }).unwrap();
        let norms: Vec<f64> = draws.chains.iter().flat_map(|c| c.lp[burn_mh..].iter().map(|lp| -2.0 * lp)).collect();
        let coord: Vec<f64> = draws.chains.iter().flat_map(|c| c.values.chunks(D).skip(burn_mh).map(|x| x[0])).collect();
        let acc = draws.stat("accept_stat__").unwrap().iter().flat_map(|c| c[burn_mh..].to_vec()).sum::<f64>() / (chains * keep) as f64;
        let (m, s) = mean_sd(&norms);
        let (_, cs) = mean_sd(&coord);
        let name = format!("{integrator:?}, {}", if metropolis { "Metropolis" } else { "no Metropolis" });
        println!("{name:<22} {m:>10.1} {s:>9.1} {:>10.4} {acc:>8.3} {:>+11.1}", cs * cs, m - D as f64);
        norm_plot = norm_plot.histogram(&name, norms, 40);
        if metropolis && integrator == Integrator::Dkd {
            coord_plot = coord_plot.histogram(&name, coord, 40);
        }
    }
    println!("exact: mean |x|² {D}, sd {:.1}; coordinate variance 1 (−ln L = |x|²/2: the paper's Figure 5 plots ln L)", (2.0 * D as f64).sqrt());
    // exact densities: |x|² ≈ N(D, 2D) (χ²_D at D = 10⁴), x.1 ~ N(0, 1)
    let sd = (2.0 * D as f64).sqrt();
    let pdf = |x: f64, m: f64, s: f64| (-0.5 * ((x - m) / s).powi(2)).exp() / (s * (2.0 * std::f64::consts::PI).sqrt());
    norm_plot = norm_plot.line("exact χ²_D", (0..=200).map(|i| D as f64 - 5.0 * sd + 10.0 * sd * i as f64 / 200.0).map(|x| (x, pdf(x, D as f64, sd))).collect());
    coord_plot = coord_plot.line("exact N(0, 1)", (0..=200).map(|i| -4.0 + 8.0 * i as f64 / 200.0).map(|x| (x, pdf(x, 0.0, 1.0))).collect());
    norm_plot.save("output/ray_tracing_gaussian_10k_norm.svg").unwrap();
    coord_plot.save("output/ray_tracing_gaussian_10k_coordinate.svg").unwrap();
    println!("wrote output/ray_tracing_gaussian_10k_norm.svg, output/ray_tracing_gaussian_10k_coordinate.svg");
}
