//! Random-walk Metropolis: the exact mean acceptance on a 1-d Gaussian, invariance from exact draws,
//! warmup reaching its target acceptance and the target's scales, reproducibility, settings.

mod common;
use common::{check_invariance, check_thread_reproducibility, diag_gaussian, exact_inits, std_normal};
use snell::sampler::rwm::RandomWalkMetropolis;
use snell::sampler::{run, RunConfig, SamplerError};

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn mean_acceptance_on_a_unit_gaussian_is_the_closed_form() {
    // D = 1, proposal N(0, σ²): E[α] = (2/π)·atan(2/σ) under the stationary distribution
    let target = std_normal(1);
    for (sigma, seed) in [(0.5, 1), (1.0, 2), (2.4, 3), (5.0, 4)] {
        let rwm = RandomWalkMetropolis { step_size: Some(sigma), ..Default::default() };
        let cfg = RunConfig { chains: 32, warmup: 0, draws: 2000, seed, init: Some(exact_inits(32, 1, seed + 10)) };
        let draws = run(&rwm, &target, &cfg).unwrap();
        let per_chain: Vec<f64> = draws.stat("accept_stat__").unwrap().iter().map(|c| mean(c)).collect();
        let m = mean(&per_chain);
        let se = (per_chain.iter().map(|a| (a - m).powi(2)).sum::<f64>() / (per_chain.len() - 1) as f64 / per_chain.len() as f64).sqrt();
        let exact = 2.0 / std::f64::consts::PI * (2.0 / sigma).atan();
        assert!((m - exact).abs() < 4.0 * se + 1e-3, "σ = {sigma}: mean acceptance {m} vs {exact} (se {se})");
    }
}

#[test]
fn leaves_a_10d_standard_normal_invariant() {
    let (d, chains) = (10, 128);
    let cfg = RunConfig { chains, warmup: 0, draws: 30, seed: 5, init: Some(exact_inits(chains, d, 6)) };
    let draws = run(&RandomWalkMetropolis::default(), &std_normal(d), &cfg).unwrap();
    check_invariance(&draws, d);
}

#[test]
fn warmup_reaches_the_target_acceptance_and_the_scales() {
    let var: Vec<f64> = (0..8).map(|i| 10f64.powf(-1.0 + 2.0 * i as f64 / 7.0)).collect();
    let target = diag_gaussian(var.clone());
    let draws = run(&RandomWalkMetropolis::default(), &target, &RunConfig { chains: 4, warmup: 2000, draws: 2000, seed: 7, init: None }).unwrap();
    let accept = mean(&draws.stat("accept_stat__").unwrap().concat());
    assert!((accept - 0.234).abs() < 0.05, "mean acceptance {accept}");
    for c in &draws.chains {
        for (i, v) in var.iter().enumerate() {
            let ratio = c.inv_metric[i] / v;
            assert!((0.5..2.0).contains(&ratio), "coordinate {i}: proposal variance {} vs {v}", c.inv_metric[i]);
        }
    }
    let s = draws.summary();
    for (row, v) in s.rows()[1..].iter().zip(&var) {
        assert!(row.mean.abs() < 4.0 * row.mcse_mean + 0.02 * v.sqrt(), "{}: mean {}", row.name, row.mean);
    }
}

#[test]
fn reproducible_and_settings_checked() {
    check_thread_reproducibility(&RandomWalkMetropolis::default());
    let cfg = RunConfig { chains: 1, warmup: 10, draws: 10, ..Default::default() };
    let bad = RandomWalkMetropolis { step_size: Some(0.0), ..Default::default() };
    assert!(matches!(run(&bad, &std_normal(2), &cfg), Err(SamplerError::Setting { name: "step_size", .. })));
    let bad = RandomWalkMetropolis { target_accept: Some(1.0), ..Default::default() };
    assert!(matches!(run(&bad, &std_normal(2), &cfg), Err(SamplerError::Setting { name: "target_accept", .. })));
}

#[test]
fn a_models_density_without_gradient_equals_the_one_with() {
    use snell::prelude::*;
    use snell::target::Target;
    #[model]
    fn scale_model(y: &[f64]) {
        let mu = sample!(Normal(0.0, 2.0));
        let tau = sample!(HalfCauchy(1.0));
        observe!(y ~ Normal(mu, tau));
    }
    let m = ScaleModel::new(&[0.4, -1.2, 2.0]).unwrap();
    for q in [[0.1, -0.3], [1.5, 0.7], [-2.0, 1.9]] {
        let mut g = [0.0; 2];
        let with = m.logp_grad(&q, &mut g).unwrap();
        let without = m.logp(&q).unwrap();
        assert!((with - without).abs() < 1e-12 * with.abs().max(1.0), "{with} vs {without}");
    }
}
