//! NUTS and static HMC: invariance (start from exact draws, the distribution must not move),
//! reproducibility across thread counts, divergences, settings errors.

mod common;
use common::{check_invariance, check_thread_reproducibility, exact_inits, std_normal};
use snell::sampler::hmc::Hmc;
use snell::sampler::nuts::Nuts;
use snell::sampler::{run, RunConfig, SamplerError};
use snell::target::FnDensity;

#[test]
fn nuts_leaves_a_100d_standard_normal_invariant() {
    let (d, chains) = (100, 64);
    let target = std_normal(d);
    let cfg = RunConfig { chains, warmup: 0, draws: 20, seed: 3, init: Some(exact_inits(chains, d, 4)) };
    let draws = run(&Nuts { step_size: 0.5, ..Default::default() }, &target, &cfg).unwrap();
    check_invariance(&draws, d);
    assert_eq!(draws.divergences(), 0);
}

#[test]
fn hmc_leaves_a_100d_standard_normal_invariant() {
    let (d, chains) = (100, 64);
    let target = std_normal(d);
    let cfg = RunConfig { chains, warmup: 0, draws: 20, seed: 5, init: Some(exact_inits(chains, d, 6)) };
    let mut hmc = Hmc::new(7);
    hmc.adapt.target_accept = 0.65;
    let draws = run(&hmc, &target, &cfg).unwrap();
    check_invariance(&draws, d);
}

#[test]
fn a_biased_kernel_fails_the_invariance_check() {
    // the same check on a density with variance 1.2: the check must notice
    let d = 100;
    let target = FnDensity::new(d, |q: &[f64], g: &mut [f64]| {
        g.iter_mut().zip(q).for_each(|(g, q)| *g = -q / 1.2);
        -0.5 * q.iter().map(|x| x * x).sum::<f64>() / 1.2
    });
    let cfg = RunConfig { chains: 64, warmup: 0, draws: 20, seed: 3, init: Some(exact_inits(64, d, 4)) };
    let draws = run(&Nuts { step_size: 0.5, ..Default::default() }, &target, &cfg).unwrap();
    let r = std::panic::catch_unwind(|| check_invariance(&draws, d));
    assert!(r.is_err(), "the invariance check passed a sampler of the wrong distribution");
}

#[test]
fn same_seed_same_draws_whatever_the_thread_count() {
    check_thread_reproducibility(&Nuts::default());
}

#[test]
fn bad_settings_are_errors() {
    let target = std_normal(2);
    let cfg = RunConfig { chains: 1, warmup: 10, draws: 10, ..Default::default() };
    let bad = Nuts { max_depth: 0, ..Default::default() };
    assert!(matches!(run(&bad, &target, &cfg), Err(SamplerError::Setting { name: "max_depth", .. })));
    let mut bad = Nuts::default();
    bad.adapt.target_accept = 1.5;
    assert!(matches!(run(&bad, &target, &cfg), Err(SamplerError::Setting { name: "target_accept", .. })));
    assert!(matches!(run(&Nuts::default(), &target, &RunConfig { chains: 0, ..cfg.clone() }), Err(SamplerError::Setting { name: "chains", .. })));
    assert!(matches!(run(&Nuts::default(), &target, &RunConfig { init: Some(vec![vec![0.0; 3]]), ..cfg.clone() }), Err(SamplerError::Setting { name: "init", .. })));
    let nowhere = FnDensity::new(2, |_: &[f64], _: &mut [f64]| f64::NEG_INFINITY);
    assert!(matches!(run(&Nuts::default(), &nowhere, &cfg), Err(SamplerError::Init { tries: 100, .. })));
}

#[test]
fn resuming_from_an_adapted_state_keeps_step_size_and_metric() {
    use snell::sampler::metric::Metric;
    let target = FnDensity::new(2, |q: &[f64], g: &mut [f64]| {
        g[0] = -q[0];
        g[1] = -q[1] / 100.0;
        -0.5 * (q[0] * q[0] + q[1] * q[1] / 100.0)
    });
    let cfg = RunConfig { chains: 2, warmup: 500, draws: 100, seed: 21, init: None };
    let first = run(&Nuts::default(), &target, &cfg).unwrap();
    let c = &first.chains[0];
    assert!(c.inv_metric[1] > 20.0 * c.inv_metric[0], "the metric adapted to the scales: {:?}", c.inv_metric);
    let resumed = Nuts::resume(c.step_size, Metric::Diag(c.inv_metric.clone()));
    let again = run(&resumed, &target, &RunConfig { warmup: 0, ..cfg.clone() }).unwrap();
    assert_eq!(again.chains[0].step_size, c.step_size);
    assert_eq!(again.chains[0].inv_metric, c.inv_metric);
    let bad = Nuts::resume(0.1, Metric::Diag(vec![1.0; 3]));
    assert!(matches!(run(&bad, &target, &RunConfig { warmup: 0, ..cfg }), Err(SamplerError::Setting { name: "init_metric", .. })));
}
