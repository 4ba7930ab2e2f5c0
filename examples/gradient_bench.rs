//! How fast is a log density gradient? The models of the peer comparison (eight schools, linear and
//! logistic regression with N = 1000, D = 10, a hierarchical normal with gather) on the dfdx backend
//! (CPU, f64) and on the pure-Rust `Native` backend, one member at a time and as a population: µs
//! per gradient on each, measured in the same run, and their ratio.
//!
//! `cargo run --release --example gradient_bench`

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use snell::backend::{Backend, Cpu64, Native};
use snell::model::EvalOptions;
use snell::prelude::*;
use std::time::Instant;

#[model]
fn eight_schools(y: &[f64], sigma: &[f64]) {
    let mu = sample!(Normal(0.0, 5.0));
    let tau = sample!(HalfCauchy(5.0));
    let theta_raw = sample!([y.len()] ~ Normal(0.0, 1.0));
    observe!(y ~ Normal(mu + tau * theta_raw, sigma));
}

#[model]
fn linear_regression(x: &Matrix, y: &[f64]) {
    let alpha = sample!(Normal(0.0, 10.0));
    let beta = sample!([x.cols()] ~ Normal(0.0, 2.5));
    let sigma = sample!(HalfNormal(5.0));
    observe!(y ~ Normal(alpha + x.matvec(beta), sigma));
}

#[model]
fn logistic(x: &Matrix, y: &[f64]) {
    let alpha = sample!(Normal(0.0, 2.5));
    let beta = sample!([x.cols()] ~ Normal(0.0, 2.5));
    observe!(y ~ BernoulliLogit(alpha + x.matvec(beta)));
}

#[model]
fn hierarchical_normal(y: &[f64], group: &[usize], n_groups: usize) {
    let mu = sample!(Normal(0.0, 5.0));
    let tau = sample!(HalfNormal(2.5));
    let eta = sample!([n_groups] ~ Normal(0.0, 1.0));
    let sigma = sample!(HalfNormal(2.5));
    observe!(y ~ Normal((mu + tau * eta).gather(group), sigma));
}

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

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    StandardNormal.sample(rng)
}

fn main() -> Result<(), ModelError> {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let y = [28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0];
    let sigma = [15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0];
    let es = EightSchools::new(&y, &sigma)?;

    let (n, k) = (1000, 10);
    let x: Vec<f64> = (0..n * k).map(|_| normal(&mut rng)).collect();
    let beta: Vec<f64> = (0..k).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let yr: Vec<f64> = (0..n).map(|i| 0.5 + (0..k).map(|j| x[i * k + j] * beta[j]).sum::<f64>() + normal(&mut rng)).collect();
    let lin = LinearRegression::new(&Matrix::new(n, k, x.clone())?, &yr)?;
    let yl: Vec<f64> = (0..n).map(|i| f64::from(u8::from(rng.gen_bool(0.3 + 0.4 * f64::from(u8::from(x[i * k] > 0.0)))))).collect();
    let lr = Logistic::new(&Matrix::new(n, k, x)?, &yl)?;

    let groups = 30;
    let (mut yh, mut group) = (Vec::new(), Vec::new());
    for g in 0..groups {
        let effect = 1.0 + 2.0 * normal(&mut rng);
        for _ in 0..rng.gen_range(2..=15) {
            yh.push(effect + 3.0 * normal(&mut rng));
            group.push(g);
        }
    }
    let hier = HierarchicalNormal::new(&yh, &group, groups)?;

    println!("{:<34} {:>8}  {:>9}  {:>9}  {:>8}  {:>10}", "µs per gradient", "", "dfdx", "native", "speedup", "native/s");
    for p in [1, 16, 256] {
        bench("eight schools (D = 10)", &es, p);
    }
    for p in [1, 16, 64] {
        bench("linear regression N = 1000, D = 12", &lin, p);
    }
    for p in [1, 16, 64] {
        bench("logistic N = 1000, D = 11", &lr, p);
    }
    for p in [1, 16, 256] {
        bench(&format!("hierarchical N = {}, D = {}", yh.len(), hier.dim()), &hier, p);
    }
    Ok(())
}
