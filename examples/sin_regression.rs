//! Sparse noisy sin(x): 20 points, noise sd 0.1, x in [−3, 3]. Four posteriors side by side, each
//! with its 90% predictive band of the mean function written as an SVG under `output/`:
//!
//! - closed-form Bayesian linear regression on cubic features (its exact posterior predictive);
//! - a Bayesian neural network, 1-20-1 tanh, weights ~ Normal(0, 1) (the `#[model]` of
//!   `src/sin_net.rs`, an `Mlp`), sampled by NUTS;
//! - the same network sampled by ray tracing with its defaults;
//! - the same network fitted by mean-field variational inference.
//!
//! It prints the mean band width inside the data range and outside it: VI's bands are visibly
//! narrower than the samplers' (mean-field VI under-covers a correlated posterior).
//!
//! `cargo run --release --example sin_regression`

use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use snell::diagnostics::{ess_bulk, rhat};
use snell::nn::{Bands, Mlp};
use snell::prelude::*;
use snell::sampler::{nuts::Nuts, ray_tracing::RayTracing, run, Draws, RunConfig};
use snell::vi::MeanFieldVi;
use snell_examples::plot::Plot;
use snell_examples::sin_net::{sin_data, sin_network, SinNet, NOISE};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // the data and the model of src/sin_net.rs
    let (x, ys) = sin_data();
    let xs: Vec<f64> = (0..x.rows()).map(|i| x.get(i, 0)).collect();
    let grid: Vec<f64> = (0..121).map(|i| -5.0 + 10.0 * i as f64 / 120.0).collect();
    let x_grid = Matrix::new(grid.len(), 1, grid.clone())?;
    let mlp = sin_network(20);
    let model = SinNet::new(&mlp, &x, &ys)?;
    let probs = [0.05, 0.95];
    let q = vec![0.1; model.dim()];
    let t = Instant::now();
    for _ in 0..1000 {
        model.log_density_and_grad(&q)?;
    }
    println!("{} weights; 20 observations; {:.1} µs per gradient (Native, f64)", model.dim(), t.elapsed().as_secs_f64() * 1e3);
    println!("90% bands of the mean function on [−5, 5]\n");
    println!("{:<28} {:>8} {:>12} {:>12}", "method", "time s", "width |x|<3", "width |x|>3");

    let blr = linear_regression_bands(&xs, &ys, &grid);
    report("linear regression (exact)", 0.0, &blr, &grid);
    plot("linear regression on x, x², x³ (exact)", "sin_regression_blr", &blr, &grid, &xs, &ys)?;

    let mut init_rng = ChaCha8Rng::seed_from_u64(5);
    let inits: Vec<Vec<f64>> = (0..4).map(|_| mlp.random_weights(&mut init_rng)).collect();
    let cfg = RunConfig { chains: 4, warmup: 500, draws: 500, seed: 1, init: Some(inits) };
    let t = Instant::now();
    let nuts = run(&Nuts::default(), &model, &cfg)?;
    let bands = mlp.predictive_bands(&nuts, "w", &x_grid, &probs, 32)?;
    report("network, NUTS", t.elapsed().as_secs_f64(), &bands, &grid);
    plot("1-20-1 network, NUTS", "sin_regression_nuts", &bands, &grid, &xs, &ys)?;
    diagnostics(&mlp, &nuts)?;

    let t = Instant::now();
    // ray tracing with its defaults (the warmup metric, a start at the mode, a 1.5-radian arc)
    let rays = run(&RayTracing::default(), &model, &RunConfig { warmup: 1000, draws: 1000, ..cfg.clone() })?;
    let bands = mlp.predictive_bands(&rays, "w", &x_grid, &probs, 32)?;
    report("network, ray tracing", t.elapsed().as_secs_f64(), &bands, &grid);
    plot("1-20-1 network, ray tracing", "sin_regression_ray_tracing", &bands, &grid, &xs, &ys)?;
    diagnostics(&mlp, &rays)?;

    let t = Instant::now();
    let fit = MeanFieldVi { iterations: 20_000, ..Default::default() }.fit(&model, 3)?;
    let vi = fit.draws(&model, 4, 1000, 4)?;
    let bands = mlp.predictive_bands(&vi, "w", &x_grid, &probs, 32)?;
    report("network, mean-field VI", t.elapsed().as_secs_f64(), &bands, &grid);
    plot("1-20-1 network, mean-field VI", "sin_regression_vi", &bands, &grid, &xs, &ys)?;
    println!("    ELBO {:.2}", fit.elbo());
    println!("\nfigures: output/sin_regression_{{blr,nuts,ray_tracing,vi}}.svg");
    Ok(())
}

/// Mean band widths inside and outside the data range.
fn report(what: &str, secs: f64, b: &Bands, grid: &[f64]) {
    let width = |inside: bool| {
        let w: Vec<f64> = grid.iter().enumerate().filter(|(_, x)| (x.abs() < 3.0) == inside).map(|(j, _)| b.quantiles[1][j] - b.quantiles[0][j]).collect();
        w.iter().sum::<f64>() / w.len() as f64
    };
    println!("{what:<28} {secs:>8.2} {:>12.3} {:>12.3}", width(true), width(false));
}

/// Convergence judged where it matters: R-hat and bulk ESS of the network's output at a few inputs
/// (the weights themselves are not identified — sign and permutation symmetries).
fn diagnostics(net: &Mlp, d: &Draws) -> Result<(), Box<dyn std::error::Error>> {
    let mut line = String::from("    f(x) at");
    for x0 in [-4.0, 0.0, 2.0] {
        let at = Matrix::new(1, 1, vec![x0])?;
        let k = d.names.len();
        let chains: Vec<Vec<f64>> = d.chains.iter().map(|c| c.values.chunks(k).map(|w| net.predict(w, &at).map(|f| f[0])).collect::<Result<_, _>>()).collect::<Result<_, _>>()?;
        let views: Vec<&[f64]> = chains.iter().map(|c| c.as_slice()).collect();
        line += &format!("  x = {x0}: R-hat {:.3}, ESS {:.0};", rhat(&views), ess_bulk(&views));
    }
    println!("{line} {} divergent", d.divergences());
    Ok(())
}

/// The exact posterior predictive of the mean function for linear regression on (1, x, x², x³),
/// coefficients ~ Normal(0, 1), known noise.
fn linear_regression_bands(xs: &[f64], ys: &[f64], grid: &[f64]) -> Bands {
    let features = |x: f64| [1.0, x, x * x, x * x * x];
    let phi = DMatrix::from_fn(xs.len(), 4, |i, j| features(xs[i])[j]);
    let precision = phi.transpose() * &phi / (NOISE * NOISE) + DMatrix::identity(4, 4);
    let cov = precision.try_inverse().expect("positive definite");
    let mean = &cov * phi.transpose() * DVector::from_column_slice(ys) / (NOISE * NOISE);
    let z = 1.6448536269514722; // 95% normal quantile
    let mut b = Bands { probs: vec![0.05, 0.95], mean: Vec::new(), quantiles: vec![Vec::new(), Vec::new()] };
    for &x in grid {
        let f = DVector::from_column_slice(&features(x));
        let (m, v) = (f.dot(&mean), (f.transpose() * &cov * &f)[(0, 0)]);
        b.mean.push(m);
        b.quantiles[0].push(m - z * v.sqrt());
        b.quantiles[1].push(m + z * v.sqrt());
    }
    b
}

fn plot(title: &str, file: &str, b: &Bands, grid: &[f64], xs: &[f64], ys: &[f64]) -> Result<(), Box<dyn std::error::Error>> {
    Plot::new(title)
        .labels("x", "f(x)")
        .y_range(-3.0, 3.0)
        .band("90% band", grid.iter().enumerate().map(|(j, &x)| (x, b.quantiles[0][j].max(-3.0), b.quantiles[1][j].min(3.0))).collect())
        .line("posterior mean", grid.iter().zip(&b.mean).map(|(&x, &m)| (x, m.clamp(-3.0, 3.0))).collect())
        .line("sin x", grid.iter().map(|&x| (x, x.sin())).collect())
        .points("data", xs.iter().copied().zip(ys.iter().copied()).collect())
        .save(format!("output/{file}.svg"))?;
    Ok(())
}
