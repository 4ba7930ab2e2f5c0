//! Ray tracing (defaults: DKD, a 1.5-radian arc per trajectory, Metropolis test, dt tuned by dual
//! averaging, the warmup metric, each chain started at the mode; then the paper's sampler: five
//! steps, unit metric, no mode start; then that with the warmup metric) against NUTS (diagonal metric) on the posteriordb reference models: gradient evaluations,
//! minimum bulk ESS over the parameters, ESS per 1000 gradients and ESS per second, and whether
//! the draws pass the reference check of `tests/posteriordb.rs` (means within
//! 4·sqrt(mcse_ref² + mcse²) + 0.05·sd, sds within 15%, R-hat < 1.01). Both samplers run 4 chains ×
//! (1000 warmup + 1000 draws) with the same seed; gradients and seconds include warmup.
//!
//! `cargo run --release --example ray_tracing_vs_nuts` (about a minute on 2 cores).

use snell::sampler::nuts::Nuts;
use snell::sampler::ray_tracing::RayTracing;
use snell::sampler::{run, RunConfig, Sampler};
use snell::target::Target;
use snell_examples::counting::Counting;
use snell_examples::posteriordb::*;
use std::time::Instant;

fn bench<S: Sampler, T: Target + Sync>(model: &str, name: &str, sampler: &S, target: &T, reference: &serde_json::Value) {
    let counting = Counting::new(target);
    let cfg = RunConfig { chains: 4, warmup: 1000, draws: 1000, seed: 1, init: None };
    let t = Instant::now();
    let draws = run(sampler, &counting, &cfg).expect("sampling");
    let wall = t.elapsed().as_secs_f64();
    let min_ess = draws.summary().rows().iter().skip(1).map(|r| r.ess_bulk).fold(f64::INFINITY, f64::min);
    let grads = counting.calls() as f64;
    // the comparison's table is for the tests; here only its verdict
    let (_, failed) = check_reference(model, reference, &draws);
    println!(
        "{model:<20} {name:<14} {:>9.0}k {wall:>7.2} {min_ess:>8.0} {:>10.2} {:>9.0} {:>5}  {}",
        grads / 1e3,
        1000.0 * min_ess / grads,
        min_ess / wall,
        draws.divergences(),
        if failed.is_empty() { "ok".to_string() } else { format!("{} failed: {}", failed.len(), failed[0]) }
    );
}

fn both<T: Target + Sync>(model: &str, target: &T, reference: &serde_json::Value) {
    bench(model, "NUTS", &Nuts::default(), target, reference);
    bench(model, "ray tracing", &RayTracing::default(), target, reference);
    // the paper's sampler (five steps, no metric, no mode start), and with the metric
    bench(model, "rt paper", &RayTracing::new(0.3, 5), target, reference);
    bench(model, "rt + metric", &RayTracing { metric: true, ..RayTracing::new(0.3, 5) }, target, reference);
}

fn main() {
    println!("{:<20} {:<14} {:>10} {:>7} {:>8} {:>10} {:>9} {:>5}  reference check", "model", "sampler", "gradients", "wall s", "min ESS", "ESS/1000g", "ESS/s", "div");
    if !references_available() {
        return;
    }
    let r = reference("eight_schools-eight_schools_noncentered");
    both("eight_schools_nc", &EightSchoolsNoncentered::new(&reals(&r["data"]["y"]), &reals(&r["data"]["sigma"])).unwrap(), &r);
    let r = reference("arK-arK");
    both("arK", &ArK::new(&reals(&r["data"]["y"]), r["data"]["K"].as_u64().unwrap_or(5) as usize).unwrap(), &r);
    let r = reference("garch-garch11");
    both("garch11", &Garch11::new(&reals(&r["data"]["y"]), r["data"]["sigma1"].as_f64().unwrap_or(0.0)).unwrap(), &r);
    let r = reference("low_dim_gauss_mix-low_dim_gauss_mix");
    both("low_dim_gauss_mix", &LowDimGaussMix::new(&reals(&r["data"]["y"])).unwrap(), &r);
    let r = reference("kidiq-kidscore_momhsiq");
    let d = &r["data"];
    both("kidiq_momhsiq", &KidscoreMomhsiq::new(&reals(&d["kid_score"]), &reals(&d["mom_iq"]), &reals(&d["mom_hs"])).unwrap(), &r);
    let r = reference("sblrc-blr");
    let rows: Vec<Vec<f64>> = r["data"]["X"].as_array().unwrap().iter().map(reals).collect();
    both("sblrc-blr", &Blr::new(&snell::Matrix::from_rows(&rows).unwrap(), &reals(&r["data"]["y"])).unwrap(), &r);
    let r = reference("wells_data-wells_dae_inter_model");
    both("wells_dae_inter", &WellsDaeInter::new(&ints(&r["data"]["switched"]), &wells_design(&r["data"])).unwrap(), &r);
    let r = reference("radon_mn-radon_hierarchical_intercept_noncentered");
    both("radon", &radon(&r).unwrap(), &r);
    let r = reference("gp_pois_regr-gp_pois_regr");
    both("gp_pois_regr", &GpPoisRegr::new(&reals(&r["data"]["x"]), &ints(&r["data"]["k"])).unwrap(), &r);
}
