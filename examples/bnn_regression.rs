//! Bayesian neural net regression, as in the Langevin/SMC neural-net workflow: 50 points of
//! y = 4 sin(x − 2) + sin(8x − 2) − 4x² + N(0, 0.5²) on x ∈ [0, 1], a 1-50-50-1 net (2,701
//! weights and biases, activation 1 + tanh) with N(0, 1) priors on every weight and a Gamma(1, 1)
//! prior on the noise σ, written as a `#[model]` whose network is a `snell::nn::Mlp`
//! (`src/bnn.rs`). Three fits:
//!
//! 1. BAOAB from the MAP point (Adam): a burn-in with high friction and a large mass, then a
//!    production run; predictions kept every 100 steps;
//! 2. SMC with adaptive tempering (MALA moves), with its log evidence;
//! 3. SMC with geometric annealing of the likelihood power (20 stages), with its log evidence;
//! 4. SMC with data annealing (one observation per stage), with its log evidence;
//!
//! then model comparison: the log evidence (adaptive SMC) of 1-H-H-1 nets for H = 5, 20, 50.
//! Prints the numbers and writes the credible bands to `output/bnn_*.svg`.
//!
//! Run with `cargo run --release --example bnn_regression` (a few minutes on 2 cores; pass
//! `--full` for 4× the particles and steps).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use snell::sampler::langevin::Baoab;
use snell::sampler::map::{find_map, Adam};
use snell::sampler::smc::{run_smc, Schedule, Smc, SmcOutput};
use snell::sampler::{chain_rng, Phase, Sampler};
use snell::target::Target;
use snell::nn::Mlp;
use snell::Matrix;
use snell_examples::bnn::{seed_net, toy_data, truth, Bnn};
use snell_examples::plot::Plot;
use std::time::Instant;

/// Independent SMC runs (for the standard error of ln Z).
const RUNS: usize = 4;
/// MALA moves per SMC stage.
const MOVES: usize = 50;

/// Points of the prediction grid.
const GRID: usize = 60;

fn grid() -> Vec<f64> {
    (0..GRID).map(|i| -0.1 + 1.2 * i as f64 / (GRID - 1) as f64).collect()
}

/// The `p`-quantile of `values` with `weights` (normalised).
fn weighted_quantile(values: &[f64], weights: &[f64], p: f64) -> f64 {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    for &i in &idx {
        acc += weights[i] / total;
        if acc >= p {
            return values[i];
        }
    }
    values[idx[idx.len() - 1]]
}

/// A curve `(x, y)` and a band `(x, lower, upper)`.
type Curve = Vec<(f64, f64)>;
type Band = Vec<(f64, f64, f64)>;

/// Posterior mean and 90% band of f(x) on the grid, from predictions `(draws, GRID)` with weights.
fn band(preds: &[Vec<f64>], weights: &[f64]) -> (Curve, Band) {
    let xs = grid();
    let total: f64 = weights.iter().sum();
    let mut mean = Vec::new();
    let mut b = Vec::new();
    for (k, &x) in xs.iter().enumerate() {
        let v: Vec<f64> = preds.iter().map(|p| p[k]).collect();
        mean.push((x, v.iter().zip(weights).map(|(v, w)| v * w).sum::<f64>() / total));
        b.push((x, weighted_quantile(&v, weights, 0.05), weighted_quantile(&v, weights, 0.95)));
    }
    (mean, b)
}

/// Mean squared error of the posterior mean against the noiseless curve on [0, 1].
fn rmse_truth(mean: &[(f64, f64)]) -> f64 {
    let inside: Vec<f64> = mean.iter().filter(|(x, _)| (0.0..=1.0).contains(x)).map(|(x, m)| (m - truth(*x)).powi(2)).collect();
    (inside.iter().sum::<f64>() / inside.len() as f64).sqrt()
}

fn figure(title: &str, path: &str, data: &(Matrix, Vec<f64>), mean: Curve, b: Band) {
    let truth_line: Vec<(f64, f64)> = grid().into_iter().map(|x| (x, truth(x))).collect();
    Plot::new(title)
        .labels("x", "y")
        .y_range(-8.0, 4.0)
        .band("90% credible band of f(x)", b)
        .line("posterior mean", mean)
        .line("truth", truth_line)
        .points("data", data.0.data().iter().cloned().zip(data.1.iter().cloned()).collect())
        .save(path)
        .unwrap_or_else(|e| eprintln!("{e}"));
}

fn smc_fit(model: &Bnn, schedule: Schedule, particles: usize, moves: usize, seed: u64) -> (SmcOutput, f64) {
    let t = Instant::now();
    let smc = Smc { particles, schedule, moves, runs: RUNS, seed, ..Default::default() };
    let out = run_smc(&smc, model).expect("SMC");
    (out, t.elapsed().as_secs_f64())
}

fn smc_predictions(net: &Mlp, model: &Bnn, out: &SmcOutput) -> (Vec<Vec<f64>>, Vec<f64>) {
    let d = model.dim();
    let mut preds = Vec::new();
    for run in &out.runs {
        for j in 0..run.log_weights.len() {
            preds.push(predict(net, &run.particles[j * d..(j + 1) * d]));
        }
    }
    (preds, out.weights())
}

/// The network's outputs on the grid for the unconstrained parameters `[ln σ, w…]`.
fn predict(net: &Mlp, q: &[f64]) -> Vec<f64> {
    let xs = grid();
    net.predict(&q[1..], &Matrix::new(xs.len(), 1, xs).expect("a column")).expect("weights of the net")
}

fn report_smc(what: &str, out: &SmcOutput, secs: f64) {
    let stages = &out.runs[0].stages;
    let resampled = stages.iter().filter(|s| s.resampled).count();
    let acc = stages.iter().map(|s| s.acceptance).sum::<f64>() / stages.len() as f64;
    println!(
        "{what}: ln Z = {:.1} ± {:.1} (runs: {:?}); {} stages, {resampled} resampled, mean move acceptance {acc:.2}, final ESS {:.0}; {secs:.0} s",
        out.log_evidence,
        out.log_evidence_se,
        out.runs.iter().map(|r| (r.log_evidence * 10.0).round() / 10.0).collect::<Vec<_>>(),
        stages.len(),
        out.ess()
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--full");
    let scale = if full { 4 } else { 1 };
    std::fs::create_dir_all("output").ok();
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let data = toy_data(50, &mut rng);
    let mlp = seed_net(&[50, 50], 1.0).unwrap();
    let net = Bnn::new(&mlp, &data.0, &data.1, 1.0).unwrap();
    println!("1-50-50-1 net: {} weights and biases + ln σ; 50 observations", mlp.len());

    // 1. MAP, then the workflow's unadjusted BAOAB: burn-in (γ = 100, m = 10), production (γ = 10, m = 1)
    let t = Instant::now();
    let init = net.prior_draw(&mut rng).unwrap();
    let map = find_map(&net, &init, &Adam { learning_rate: 1e-2, max_steps: 3000, ..Default::default() }).unwrap();
    let map_sigma = map.point[0].exp();
    println!("MAP (Adam, {} steps): log density {:.1}, σ = {map_sigma:.3}; {:.1} s", map.steps, map.log_density, t.elapsed().as_secs_f64());
    let baoab = Baoab::workflow();
    let (burn, prod, thin) = (5000 * scale, 20_000 * scale, 100);
    let t = Instant::now();
    let mut crng = chain_rng(1, 0);
    let mut chain = baoab.start(&net, map.point.clone(), burn, &mut crng).unwrap();
    let mut divergent = 0;
    for iter in 0..burn {
        let s = chain.step(&mut crng, Phase::Warmup { iter, total: burn }).unwrap();
        divergent += (s[1] != 0.0) as usize;
    }
    let (mut preds, mut sigmas) = (Vec::new(), Vec::new());
    for i in 0..prod {
        let s = chain.step(&mut crng, Phase::Sampling).unwrap();
        divergent += (s[1] != 0.0) as usize;
        if i % thin == thin - 1 {
            preds.push(predict(&mlp, chain.position()));
            sigmas.push(chain.position()[0].exp());
        }
    }
    let (mean, b) = band(&preds, &vec![1.0; preds.len()]);
    let sigma_mean = sigmas.iter().sum::<f64>() / sigmas.len() as f64;
    println!(
        "BAOAB: {burn} burn-in + {prod} production steps (dt 1e-3), {} kept, {divergent} divergent; posterior mean σ = {sigma_mean:.3}, RMSE of the mean curve to the truth {:.3}; {:.0} s",
        preds.len(),
        rmse_truth(&mean),
        t.elapsed().as_secs_f64()
    );
    figure("BNN 1-50-50-1, BAOAB", "output/bnn_baoab.svg", &data, mean, b);

    // 2.–4. SMC: adaptive tempering, geometric annealing, data annealing
    let particles = 48 * scale;
    let fits = [
        ("adaptive tempering", "adaptive", Schedule::Adaptive { target_ess: 0.5 }),
        ("geometric annealing, 20 stages", "geometric", Schedule::Geometric { stages: 20 }),
        ("data annealing", "data", Schedule::Data { batch: 1 }),
    ];
    let mut adaptive = None;
    for (seed, (what, file, schedule)) in fits.into_iter().enumerate() {
        let (out, secs) = smc_fit(&net, schedule, particles, MOVES, 2 + seed as u64);
        report_smc(&format!("SMC {what} ({particles} particles × {RUNS} runs, {MOVES} MALA moves)"), &out, secs);
        let (preds, w) = smc_predictions(&mlp, &net, &out);
        let (mean, b) = band(&preds, &w);
        println!("  posterior mean σ = {:.3}, RMSE of the mean curve to the truth {:.3}", out.weighted_mean("sigma").unwrap(), rmse_truth(&mean));
        figure(&format!("BNN 1-50-50-1, SMC {what}"), &format!("output/bnn_smc_{file}.svg"), &data, mean, b);
        adaptive.get_or_insert(out);
    }
    let adaptive = adaptive.expect("the adaptive fit ran first");

    // model comparison by the evidence
    println!("log evidence by width (adaptive SMC, {particles} particles × {RUNS} runs):");
    for h in [5, 20, 50] {
        let out = if h == 50 {
            adaptive.clone()
        } else {
            let mlp = seed_net(&[h, h], 1.0).unwrap();
            smc_fit(&Bnn::new(&mlp, &data.0, &data.1, 1.0).unwrap(), Schedule::Adaptive { target_ess: 0.5 }, particles, MOVES, 4).0
        };
        println!("  1-{h}-{h}-1: ln Z = {:.1} ± {:.1}", out.log_evidence, out.log_evidence_se);
    }
    println!("figures: output/bnn_baoab.svg, output/bnn_smc_{{adaptive,geometric,data}}.svg");
}
