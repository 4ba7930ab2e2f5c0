//! The cost per member of a population gradient through a batched [`snell::nn::Mlp`]: the
//! 1-50-50-1 tanh network at the Langevin workflow's 50 points as a `#[model]` (`regression_net`, row (a) of
//! `network_benchmark`), `model.evaluate(&Native, theta, None, EvalOptions::default())` on P
//! members at once, for P = 1, 10, 100, 1000. Both kernels run in the same binary, alternating
//! within every round so that both see the same load: `MlpKernel::Dense` (the default: each
//! member's layers as `matrixmultiply` products, hand-written reverse pass) and
//! `MlpKernel::DfdxBatched` (dfdx's batched matmul and tape, four members at a time, the earlier
//! implementation). Prints µs per member gradient (best of the rounds), each relative to P = 1
//! of the same kernel, and dense / dfdx; checks first that both give the same densities and
//! gradients.
//!
//! `cargo run --release --example mlp_batch_bench` (about ten seconds; `--rounds N`, default 5,
//! `--seconds S` per measurement, default 0.2, `--only P` for one population size, `--dense-only`
//! without the dfdx kernel)

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use snell::nn::{Activation, Mlp, MlpKernel, WeightPrior};
use snell::backend::Native;
use snell::model::EvalOptions;
use snell::prelude::*;
use snell_examples::netbench::{regression_data, RegressionNet};
use std::time::Instant;

const SIZES: [usize; 4] = [1, 10, 100, 1000];

fn arg(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// µs per member of one population gradient of `model` at `theta` (P rows), timed over at least
/// `seconds` and two evaluations.
fn per_member(model: &RegressionNet, theta: &[f64], p: usize, seconds: f64) -> f64 {
    let start = Instant::now();
    let mut calls = 0;
    while calls < 2 || start.elapsed().as_secs_f64() < seconds {
        let e = model.evaluate(&Native, theta, None, EvalOptions::default()).expect("the model evaluates");
        assert!(e.log_density.len() == p && e.log_density.iter().all(|v| v.is_finite()));
        calls += 1;
    }
    start.elapsed().as_secs_f64() * 1e6 / (calls * p) as f64
}

fn main() -> Result<(), ModelError> {
    let (rounds, seconds) = (arg("--rounds", 5.0) as usize, arg("--seconds", 0.2));
    let (x, y) = regression_data();
    let dense = Mlp::new(&[1, 50, 50, 1], Activation::Tanh, WeightPrior::isotropic(1.0))?;
    let dfdx = dense.clone().with_kernel(MlpKernel::DfdxBatched);
    let models = [RegressionNet::new(&dense, &x, &y)?, RegressionNet::new(&dfdx, &x, &y)?];
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let theta: Vec<f64> = (0..*SIZES.last().unwrap())
        .flat_map(|_| {
            let mut q = dense.random_weights(&mut rng);
            q.push(0.0);
            q
        })
        .collect();
    let d = dense.len() + 1;

    // the kernels agree
    let check = &theta[..10 * d];
    let (a, b) = (models[0].evaluate(&Native, check, None, EvalOptions::default())?, models[1].evaluate(&Native, check, None, EvalOptions::default())?);
    let rel = |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(u, v)| (u - v).abs() / (1.0 + v.abs())).fold(0.0, f64::max);
    println!("dense against dfdx at P = 10: log density {:.1e}, gradient {:.1e} (largest relative difference)", rel(&a.log_density, &b.log_density), rel(a.grad.as_deref().unwrap_or(&[]), b.grad.as_deref().unwrap_or(&[])));

    // best[kernel][size], alternating the kernels within every round
    let mut best = [[f64::INFINITY; SIZES.len()]; 2];
    // `--only P`: that population size alone; `--dense-only`: without the dfdx kernel (profiling)
    let only = arg("--only", 0.0) as usize;
    let dense_only = std::env::args().any(|a| a == "--dense-only");
    for _ in 0..rounds {
        for (s, &p) in SIZES.iter().enumerate() {
            for (k, model) in models.iter().enumerate() {
                if (only > 0 && p != only) || (dense_only && k > 0) {
                    continue;
                }
                best[k][s] = best[k][s].min(per_member(model, &theta[..p * d], p, seconds));
            }
        }
    }
    println!("µs per member gradient, 1-50-50-1 at 50 points, best of {rounds} rounds of {seconds} s");
    println!("{:>6} {:>10} {:>9} {:>10} {:>9} {:>12}", "P", "dense", "/ P = 1", "dfdx", "/ P = 1", "dense / dfdx");
    for (s, &p) in SIZES.iter().enumerate().filter(|(_, &p)| only == 0 || p == only) {
        let (a, b) = (best[0][s], best[1][s]);
        // relative to P = 1 where it ran (not with `--only`)
        let to_one = |v: f64, one: f64| if one.is_finite() { format!("{:.2}", v / one) } else { "-".into() };
        println!("{p:>6} {a:>10.1} {:>9} {b:>10.1} {:>9} {:>12.2}", to_one(a, best[0][0]), to_one(b, best[1][0]), a / b);
    }
    Ok(())
}
