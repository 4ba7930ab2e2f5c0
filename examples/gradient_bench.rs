//! How fast is a log density gradient? The models of the peer comparison (eight schools, linear and
//! logistic regression with N = 1000, D = 10, a hierarchical normal with gather) on the dfdx backend
//! (CPU, f64) and on the pure-Rust `Native` backend, one member at a time and as a population: µs
//! per gradient on each, measured in the same run, and their ratio.
//!
//! `cargo run --release --example gradient_bench`

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use snell::backend::{Backend, Cpu64, Native};
use snell::model::EvalOptions;
use snell::prelude::*;
use snell_examples::peers::PeerModels;
use std::time::Instant;

/// µs per gradient of one round of evaluations of `model` on `backend` at `theta` (P members).
fn round<B: Backend>(backend: &B, model: &impl Model, theta: &[f64], p: usize) -> f64 {
    let mut reps = 0usize;
    let t = Instant::now();
    while t.elapsed().as_secs_f64() < 0.1 {
        model.evaluate(backend, theta, None, EvalOptions::default()).expect("evaluation");
        reps += 1;
    }
    t.elapsed().as_secs_f64() / (reps * p) as f64 * 1e6
}

fn bench(name: &str, model: &impl Model, p: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let theta: Vec<f64> = (0..p).flat_map(|_| model.init(&mut rng)).collect();
    // Both backends must agree before their speeds mean anything.
    let a = model.evaluate(&Cpu64::default(), &theta, None, EvalOptions::default()).expect("evaluation");
    let b = model.evaluate(&Native, &theta, None, EvalOptions::default()).expect("evaluation");
    let diff = a.log_density.iter().zip(&b.log_density).map(|(x, y)| (x - y).abs() / x.abs().max(1.0)).fold(0.0, f64::max);
    assert!(diff < 1e-10, "{name}: the backends disagree by {diff:e}");
    // Rounds of the two backends alternate, and each keeps its best round, so that other load on
    // the machine disturbs the comparison less.
    let (mut dfdx, mut native) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..5 {
        dfdx = dfdx.min(round(&Cpu64::default(), model, &theta, p));
        native = native.min(round(&Native, model, &theta, p));
    }
    println!("{name:<34} P = {p:>4}  {dfdx:>9.2}  {native:>9.2}  {:>7.1}x  {:>10.0}", dfdx / native, 1e6 / native);
}

fn main() -> Result<(), ModelError> {
    let peers = PeerModels::generate(20240611)?;
    let (es, lin, lr, hier) = (&peers.eight_schools, &peers.linear_regression, &peers.logistic_regression, &peers.hierarchical_normal);
    println!("{:<34} {:>8}  {:>9}  {:>9}  {:>8}  {:>10}", "µs per gradient", "", "dfdx", "native", "speedup", "native/s");
    for p in [1, 16, 256] {
        bench("eight schools (D = 10)", es, p);
    }
    for p in [1, 16, 64] {
        bench("linear regression N = 1000, D = 12", lin, p);
    }
    for p in [1, 16, 64] {
        bench("logistic N = 1000, D = 11", lr, p);
    }
    for p in [1, 16, 256] {
        bench(&format!("hierarchical, 30 groups, D = {}", hier.dim()), hier, p);
    }
    Ok(())
}
