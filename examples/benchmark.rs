//! NUTS (snell's, with Stan's warmup, and nuts-rs's with nutpie's adaptation, `s/nutpie`) on the models of the peer comparison (peers.md) and on the posteriordb reference models
//! (including the heavy ones the tests leave out: radon, diamonds): wall time, µs per gradient,
//! gradient evaluations per second, minimum bulk ESS and ESS per second, printed beside what NumPyro
//! and nutpie achieve on a 2-core machine like ours where that is known.
//!
//! `cargo run --release --example benchmark` (4 chains × 1000 warmup + 1000 draws, float64).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use snell::prelude::*;
use snell::sampler::hmc::Hmc;
use snell::sampler::ray_tracing::RayTracing;
use snell::sampler::nutpie::Nutpie;
use snell::sampler::{nuts::Nuts, run, Lockstep, RunConfig, Sampler};
use snell_examples::counting::Counting;
use snell_examples::peers::PeerModels;
use snell_examples::posteriordb::*;
use std::time::Instant;

/// µs per log density + gradient, one thread.
fn micros_per_gradient<M: Model>(m: &M) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let q = m.init(&mut rng);
    let mut g = vec![0.0; m.dim()];
    let (mut n, t) = (0usize, Instant::now());
    while t.elapsed().as_secs_f64() < 0.5 {
        m.logp_grad(&q, &mut g).expect("gradient");
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

/// One sampler on one model: a row of the table.
fn bench_row<S: Sampler, M: Model>(name: &str, label: &str, sampler: &S, m: &M) {
    let counting = Counting::new(m);
    let cfg = RunConfig { chains: 4, warmup: 1000, draws: 1000, seed: 1, init: None };
    let t = Instant::now();
    let draws = run(sampler, &counting, &cfg).expect("sampling");
    let wall = t.elapsed().as_secs_f64();
    let summary = draws.summary();
    let min_ess = summary.rows().iter().skip(1).map(|r| r.ess_bulk).fold(f64::INFINITY, f64::min);
    let grads = counting.calls() as f64;
    println!(
        "{name:<20} {label:<8} {wall:>7.3} {min_ess:>8.0} {:>9.0} {:>9.0}k {:>8.2}  ({} divergent, {:.0} gradients per draw)",
        min_ess / wall,
        grads / wall / 1e3,
        micros_per_gradient(m),
        draws.divergences(),
        grads / (cfg.chains * (cfg.warmup + cfg.draws)) as f64,
    );
}

/// snell's NUTS (Stan's warmup) and NUTS with nutpie's adaptation (nuts-rs) on the same gradients,
/// then the peers' figures.
fn bench<M: Model>(name: &str, m: &M) {
    bench_row(name, "snell", &Nuts::default(), m);
    bench_row("", "s/nutpie", &Nutpie::default(), m);
    for p in PEERS.iter().filter(|p| p.0 == name) {
        println!("{:<20} {:<8} {:>7.3} {:>8.0} {:>9.0} {:>9.0}k {:>8.2}", "", p.1, p.2, p.3, p.4, p.5 / 1e3, p.6);
    }
}

/// The same static-HMC run (identical draws) with chains in threads and in lockstep on one batched
/// evaluation per leapfrog step.
fn threads_vs_lockstep<M: Model >(name: &str, m: &M, chains: usize) {
    let cfg = RunConfig { chains, warmup: 1000, draws: 1000, seed: 1, init: None };
    let hmc = Hmc::new(10);
    let t = Instant::now();
    let a = run(&hmc, m, &cfg).expect("sampling");
    let threads = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let b = run(&Lockstep(hmc.clone()), m, &cfg).expect("sampling");
    let lockstep = t.elapsed().as_secs_f64();
    assert_eq!(a.chains, b.chains, "{name}: the two executions must give the same draws");
    let rt = RayTracing::default();
    let t = Instant::now();
    let a = run(&rt, m, &cfg).expect("sampling");
    let rt_threads = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let b = run(&Lockstep(rt.clone()), m, &cfg).expect("sampling");
    let rt_lockstep = t.elapsed().as_secs_f64();
    assert_eq!(a.chains, b.chains, "{name}: the two drivers must give the same draws");
    println!(
        "{name:<20} {chains:>3} chains  HMC threads {threads:>6.3} s, lockstep {lockstep:>6.3} s ({:.1}x)   ray tracing threads {rt_threads:>6.3} s, lockstep {rt_lockstep:>6.3} s ({:.1}x)",
        threads / lockstep,
        rt_threads / rt_lockstep
    );
}

fn main() -> Result<(), ModelError> {
    println!("{:<20} {:<8} {:>7} {:>8} {:>9} {:>10} {:>8}", "model", "sampler", "wall s", "min ESS", "ESS/s", "grads/s", "µs/grad");

    let peers = PeerModels::generate(20240611)?;
    bench("eight_schools", &peers.eight_schools);
    bench("linear_regression", &peers.linear_regression);
    bench("logistic_regression", &peers.logistic_regression);
    bench("hierarchical_normal", &peers.hierarchical_normal);

    println!("\nstatic HMC (10 steps) and ray tracing (defaults), chains in 2 threads against chains in lockstep on one batched evaluation (same draws)");
    for chains in [4, 16] {
        threads_vs_lockstep("eight_schools", &peers.eight_schools, chains);
        threads_vs_lockstep("hierarchical_normal", &peers.hierarchical_normal, chains);
    }

    println!("\nposteriordb reference models");
    if !references_available() {
        return Ok(());
    }
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
