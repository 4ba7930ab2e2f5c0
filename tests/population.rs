//! Chains in lockstep on one batched evaluation give the draws of the threaded driver.

use snell::prelude::*;
use snell::sampler::hmc::Hmc;
use snell::sampler::population::run_hmc_population;
use snell::sampler::{run, FnDensity, RunConfig};

#[model]
fn eight_schools(y: &[f64], sigma: &[f64]) {
    let mu = sample!(Normal(0.0, 5.0));
    let tau = sample!(HalfCauchy(5.0));
    let theta_raw = sample!([y.len()] ~ Normal(0.0, 1.0));
    observe!(y ~ Normal(mu + tau * theta_raw, sigma));
}

#[test]
fn lockstep_hmc_equals_threaded_hmc_on_a_model() {
    let m = EightSchools::new(&[28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0], &[15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0]).unwrap();
    let cfg = RunConfig { chains: 4, warmup: 300, draws: 200, seed: 5, init: None };
    let threaded = run(&Hmc::new(8), &m, &cfg).unwrap();
    let lockstep = run_hmc_population(&Hmc::new(8), &m, &cfg).unwrap();
    assert_eq!(threaded, lockstep);
}

#[test]
fn lockstep_hmc_equals_threaded_hmc_with_divergences() {
    // Neal's funnel: divergent trajectories stop early in both drivers
    let target = FnDensity::new(3, |q: &[f64], g: &mut [f64]| {
        let v = q[0];
        let s2 = (v).exp();
        g[0] = -v / 9.0 + 0.5 * (q[1] * q[1] + q[2] * q[2]) / s2 - 1.0;
        g[1] = -q[1] / s2;
        g[2] = -q[2] / s2;
        -v * v / 18.0 - 0.5 * (q[1] * q[1] + q[2] * q[2]) / s2 - v
    });
    let cfg = RunConfig { chains: 3, warmup: 100, draws: 100, seed: 9, init: None };
    let threaded = run(&Hmc::new(10), &target, &cfg).unwrap();
    let lockstep = run_hmc_population(&Hmc::new(10), &target, &cfg).unwrap();
    assert_eq!(threaded, lockstep);
    assert!(threaded.divergences() > 0, "the funnel should produce divergences");
}
