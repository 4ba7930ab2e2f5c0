//! How fast is a log density gradient? Eight schools (10 parameters) and a logistic regression
//! (N = 1000, D = 10) on the default backend (dfdx, CPU, f64), one member at a time and as a
//! population: µs per gradient and gradient evaluations per second.
//!
//! `cargo run --release --example gradient_bench`

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
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
fn logistic(x: &Matrix, y: &[f64]) {
    let alpha = sample!(Normal(0.0, 2.5));
    let beta = sample!([x.cols()] ~ Normal(0.0, 2.5));
    observe!(y ~ BernoulliLogit(alpha + x.matvec(beta)));
}

fn bench(name: &str, model: &impl Model, p: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let theta: Vec<f64> = (0..p).flat_map(|_| model.init(&mut rng)).collect();
    let mut reps = 0usize;
    let t = Instant::now();
    while t.elapsed().as_secs_f64() < 1.0 {
        model.log_density_and_grad_batch(&theta).expect("evaluation");
        reps += 1;
    }
    let secs = t.elapsed().as_secs_f64();
    let grads = (reps * p) as f64;
    println!("{name:<28} P = {p:>4}  {:>9.2} µs per gradient  {:>10.0} gradients/s", secs / grads * 1e6, grads / secs);
}

fn main() -> Result<(), ModelError> {
    let y = [28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0];
    let sigma = [15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0];
    let es = EightSchools::new(&y, &sigma)?;
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let (n, k) = (1000, 10);
    let x: Vec<f64> = (0..n * k).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let yl: Vec<f64> = (0..n).map(|i| f64::from(u8::from(rng.gen_bool(0.3 + 0.4 * f64::from(u8::from(x[i * k] > 0.0)))))).collect();
    let lr = Logistic::new(&Matrix::new(n, k, x)?, &yl)?;
    for p in [1, 16, 256] {
        bench("eight schools (D = 10)", &es, p);
    }
    for p in [1, 16, 64] {
        bench("logistic N = 1000, D = 11", &lr, p);
    }
    Ok(())
}
