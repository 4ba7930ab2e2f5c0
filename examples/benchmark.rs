//! NUTS on the models of the peer comparison (peers.md) and on the posteriordb reference models
//! (including the heavy ones the tests leave out: radon, diamonds): wall time, µs per gradient,
//! gradient evaluations per second, minimum bulk ESS and ESS per second, printed beside what NumPyro
//! and nutpie achieve on a 2-core machine like ours where that is known.
//!
//! `cargo run --release --example benchmark` (4 chains × 1000 warmup + 1000 draws, float64).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal as RNormal, StandardNormal};
use snell::model::LogDensity;
use snell::prelude::*;
use snell::sampler::{nuts::Nuts, run, RunConfig, Target};
use snell_examples::posteriordb::*;
use std::sync::atomic::{AtomicUsize, Ordering};
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
fn logistic_regression(x: &Matrix, y: &[f64]) {
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

/// Counts gradient evaluations of a target.
struct Counting<'a, T> {
    inner: &'a T,
    calls: AtomicUsize,
}

impl<T: Target> Target for Counting<'_, T> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn logp_grad(&self, q: &[f64], grad: &mut [f64]) -> Result<f64, ModelError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.logp_grad(q, grad)
    }
    fn names(&self) -> Vec<String> {
        self.inner.names()
    }
    fn constrain(&self, q: &[f64]) -> Result<Vec<f64>, ModelError> {
        self.inner.constrain(q)
    }
}

/// µs per log density + gradient, one thread.
fn micros_per_gradient<M: Model>(m: &M) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let q = m.init(&mut rng);
    let mut g = vec![0.0; LogDensity::dim(m)];
    let (mut n, t) = (0usize, Instant::now());
    while t.elapsed().as_secs_f64() < 0.5 {
        Target::logp_grad(m, &q, &mut g).expect("gradient");
        n += 1;
    }
    t.elapsed().as_secs_f64() / n as f64 * 1e6
}

/// (model, sampler, wall s, min bulk ESS, ESS/s, grad evals/s, µs per gradient) of the peers.
const PEERS: &[(&str, &str, f64, f64, f64, f64, f64)] = &[
    ("eight_schools", "NumPyro", 0.157, 2350.0, 14660.0, 465e3, 0.047),
    ("eight_schools", "nutpie", 0.073, 2347.0, 32210.0, 765e3, 0.88),
    ("linear_regression", "NumPyro", 0.290, 7893.0, 24970.0, 189e3, 6.1),
    ("linear_regression", "nutpie", 0.222, 5314.0, 23910.0, 201e3, 7.9),
    ("logistic_regression", "NumPyro", 0.738, 3076.0, 4184.0, 113e3, 11.0),
    ("logistic_regression", "nutpie", 1.425, 3893.0, 2579.0, 45e3, 33.7),
    ("hierarchical_normal", "NumPyro", 0.480, 852.0, 1927.0, 332e3, 1.42),
    ("hierarchical_normal", "nutpie", 0.124, 576.0, 4613.0, 560e3, 2.10),
];

fn bench<M: Model>(name: &str, m: &M) {
    let counting = Counting { inner: m, calls: AtomicUsize::new(0) };
    let cfg = RunConfig { chains: 4, warmup: 1000, draws: 1000, seed: 1, init: None };
    let t = Instant::now();
    let draws = run(&Nuts::default(), &counting, &cfg).expect("sampling");
    let wall = t.elapsed().as_secs_f64();
    let summary = draws.summary();
    let min_ess = summary.rows().iter().skip(1).map(|r| r.ess_bulk).fold(f64::INFINITY, f64::min);
    let grads = counting.calls.load(Ordering::Relaxed) as f64;
    println!(
        "{name:<20} {:<8} {wall:>7.3} {min_ess:>8.0} {:>9.0} {:>9.0}k {:>8.2}  ({} divergent)",
        "snell",
        min_ess / wall,
        grads / wall / 1e3,
        micros_per_gradient(m),
        draws.divergences()
    );
    for p in PEERS.iter().filter(|p| p.0 == name) {
        println!("{:<20} {:<8} {:>7.3} {:>8.0} {:>9.0} {:>9.0}k {:>8.2}", "", p.1, p.2, p.3, p.4, p.5 / 1e3, p.6);
    }
}

fn main() -> Result<(), ModelError> {
    let mut rng = ChaCha8Rng::seed_from_u64(20240611);
    println!("{:<20} {:<8} {:>7} {:>8} {:>9} {:>10} {:>8}", "model", "sampler", "wall s", "min ESS", "ESS/s", "grads/s", "µs/grad");

    let es = EightSchools::new(&[28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0], &[15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])?;
    bench("eight_schools", &es);

    let (n, k) = (1000, 10);
    let x: Vec<f64> = (0..n * k).map(|_| StandardNormal.sample(&mut rng)).collect();
    let beta: Vec<f64> = (0..k).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let noise = RNormal::new(0.0, 1.0).expect("normal");
    let y: Vec<f64> = (0..n).map(|i| 0.5 + (0..k).map(|j| x[i * k + j] * beta[j]).sum::<f64>() + noise.sample(&mut rng)).collect();
    bench("linear_regression", &LinearRegression::new(&Matrix::new(n, k, x)?, &y)?);

    // AR(0.5)-correlated features, two null effects
    let mut x = vec![0.0; n * k];
    for i in 0..n {
        for j in 0..k {
            let e: f64 = StandardNormal.sample(&mut rng);
            x[i * k + j] = if j == 0 { e } else { 0.5 * x[i * k + j - 1] + (0.75f64).sqrt() * e };
        }
    }
    let beta: Vec<f64> = (0..k).map(|j| if j < 2 { 0.0 } else { rng.gen_range(-1.0..1.0) }).collect();
    let y: Vec<f64> = (0..n)
        .map(|i| {
            let eta = -0.3 + (0..k).map(|j| x[i * k + j] * beta[j]).sum::<f64>();
            f64::from(u8::from(rng.gen_bool(1.0 / (1.0 + (-eta).exp()))))
        })
        .collect();
    bench("logistic_regression", &LogisticRegression::new(&Matrix::new(n, k, x)?, &y)?);

    let groups = 30;
    let sizes: Vec<usize> = (0..groups).map(|_| rng.gen_range(2..=15)).collect();
    let effects: Vec<f64> = (0..groups).map(|_| 1.0 + 2.0 * { let z: f64 = StandardNormal.sample(&mut rng); z }).collect();
    let (mut y, mut group) = (Vec::new(), Vec::new());
    for (g, &s) in sizes.iter().enumerate() {
        for _ in 0..s {
            y.push(effects[g] + 3.0 * { let z: f64 = StandardNormal.sample(&mut rng); z });
            group.push(g);
        }
    }
    bench("hierarchical_normal", &HierarchicalNormal::new(&y, &group, groups)?);

    println!("\nposteriordb reference models");
    let r = reference("arK-arK");
    bench("arK", &ArK::new(&reals(&r["data"]["y"]), r["data"]["K"].as_u64().unwrap_or(5) as usize)?);
    let d = &reference("kidiq-kidscore_momhsiq")["data"];
    bench("kidiq_momhsiq", &KidscoreMomhsiq::new(&reals(&d["kid_score"]), &reals(&d["mom_iq"]), &reals(&d["mom_hs"]))?);
    bench("low_dim_gauss_mix", &LowDimGaussMix::new(&reals(&reference("low_dim_gauss_mix-low_dim_gauss_mix")["data"]["y"]))?);
    let d = &reference("garch-garch11")["data"];
    bench("garch11", &Garch11::new(&reals(&d["y"]), d["sigma1"].as_f64().unwrap_or(0.0))?);
    let d = &reference("wells_data-wells_dae_inter_model")["data"];
    bench("wells_dae_inter", &WellsDaeInter::new(&ints(&d["switched"]), &wells_design(d))?);
    bench("radon", &radon(&reference("radon_mn-radon_hierarchical_intercept_noncentered"))?);
    if std::env::args().any(|a| a == "--diamonds") {
        // minutes: 5000 × 24 design, tree depth saturates with a diagonal metric
        bench("diamonds", &diamonds(&reference("diamonds-diamonds"))?);
    } else {
        println!("(diamonds: pass --diamonds; it takes minutes)");
    }
    Ok(())
}
