//! snell's ray tracing beside the paper's own code (PyPI `raytrace_jax` 0.0.2, JAX on CPU) on the
//! same targets and settings: standard Gaussians in 10 … 10⁴ dimensions with the paper's Table 1
//! step sizes and the Figure 1 mixture; one chain, DKD, full refresh, Metropolis test, no warmup.
//! Printed: acceptance (fraction of trajectories that moved), the variance of x.1 and the mean
//! coordinate variance (exact 1; the mixture's x.1 variance is 5), mean −ln L (exact D/2), the
//! fraction with x.1 > 0 (exact 0.5) and µs per gradient.
//!
//! Run `scripts/raytrace_jax_comparison.py` first (it writes `output/raytrace_jax.json`, see its
//! docs); then `cargo run --release --example ray_tracing_vs_jax` prints both.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use snell::sampler::ray_tracing::RayTracing;
use snell::sampler::{run, Draws, RunConfig};
use snell::target::{FnDensity, Target};
use snell_examples::targets::figure1_mixture;
use std::time::Instant;

fn std_normal(d: usize) -> FnDensity<impl Fn(&[f64], &mut [f64]) -> f64 + Sync> {
    FnDensity::new(d, |q: &[f64], g: &mut [f64]| {
        g.iter_mut().zip(q).for_each(|(g, q)| *g = -q);
        -0.5 * q.iter().map(|x| x * x).sum::<f64>()
    })
}

fn var(v: &[f64]) -> f64 {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64
}

/// (acceptance, var x.1, mean coordinate variance, mean −ln L, P(x.1 > 0), µs per gradient).
fn measure<T: Target + Sync>(target: &T, dt: f64, steps: usize, n: usize, x0: Vec<f64>) -> [f64; 6] {
    let d = target.dim();
    let cfg = RunConfig { chains: 1, warmup: 0, draws: n, seed: 1, init: Some(vec![x0]) };
    let t = Instant::now();
    let draws: Draws = run(&RayTracing::new(dt, steps), target, &cfg).unwrap();
    let wall = t.elapsed().as_secs_f64();
    let c = &draws.chains[0];
    let rows: Vec<&[f64]> = c.values.chunks(d).collect();
    let moved = rows.windows(2).filter(|w| w[0] != w[1]).count() as f64 / (n - 1) as f64;
    let coord = |j: usize| rows.iter().map(|r| r[j]).collect::<Vec<_>>();
    let x1 = coord(0);
    let mean_var = (0..d).map(|j| var(&coord(j))).sum::<f64>() / d as f64;
    let nlp = -c.lp.iter().sum::<f64>() / n as f64;
    let pos = x1.iter().filter(|x| **x > 0.0).count() as f64 / n as f64;
    [moved, var(&x1), mean_var, nlp, pos, 1e6 * wall / (n * steps) as f64]
}

fn main() {
    let jax: Option<serde_json::Value> = std::fs::read_to_string("output/raytrace_jax.json").ok().and_then(|t| serde_json::from_str(&t).ok());
    if jax.is_none() {
        println!("(no output/raytrace_jax.json: run scripts/raytrace_jax_comparison.py for the JAX column)");
    }
    println!("{:<16} {:<6} {:>7} {:>8} {:>9} {:>10} {:>8} {:>9}", "case", "code", "accept", "var x.1", "mean var", "mean −lnL", "P(x.1>0)", "µs/grad");
    let cases: [(&str, usize, f64, usize, usize); 5] =
        [("gaussian_10", 10, 0.71, 2, 20000), ("gaussian_100", 100, 0.52, 3, 20000), ("gaussian_1000", 1000, 0.26, 6, 5000), ("gaussian_10000", 10_000, 0.17, 10, 2000), ("mixture_2", 2, 0.3, 5, 20000)];
    for (name, d, dt, steps, n) in cases {
        let r = if name.starts_with("gaussian") {
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let x0: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
            measure(&std_normal(d), dt, steps, n, x0)
        } else {
            measure(&figure1_mixture(), dt, steps, n, vec![-2.0, 0.0])
        };
        println!("{name:<16} {:<6} {:>7.3} {:>8.3} {:>9.4} {:>10.2} {:>8.3} {:>9.2}", "snell", r[0], r[1], r[2], r[3], r[4], r[5]);
        if let Some(c) = jax.as_ref().and_then(|j| j["cases"].as_array()?.iter().find(|c| c["name"] == name).cloned()) {
            let f = |k: &str| c[k].as_f64().unwrap_or(f64::NAN);
            println!("{:<16} {:<6} {:>7.3} {:>8.3} {:>9.4} {:>10.2} {:>8.3} {:>9.2}", "", "jax", f("acceptance"), f("var_x1"), f("mean_var"), f("mean_neg_lnl"), f("frac_x1_positive"), f("us_per_gradient"));
        }
    }
}
