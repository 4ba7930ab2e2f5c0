//! Stan's warmup, as the specification's tests list it: window boundaries, adapted metric against
//! known variances, tree depth and acceptance after adaptation on a 100-d normal, and a dense metric
//! on a correlated target.

mod common;
use snell::sampler::adapt::{WindowedAdaptation, WindowedSettings};
use snell::sampler::nuts::Nuts;
use snell::sampler::{run, RunConfig};
use snell::target::FnDensity;

#[test]
fn window_boundaries_match_stan() {
    let w = |n| WindowedAdaptation::new(WindowedSettings::default(), n, 1).metric_windows();
    assert_eq!(w(1000), [(75, 99), (100, 149), (150, 249), (250, 449), (450, 949)]);
    assert_eq!(w(500), [(75, 99), (100, 149), (150, 249), (250, 449)]);
    assert_eq!(w(150), [(75, 99)]);
    // short warmups use 15% / 75% / 10%
    assert_eq!(w(100), [(15, 89)]);
    assert!(w(10).is_empty());
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn adapted_diagonal_metric_recovers_the_variances() {
    // variances 10⁻² … 10² on a log grid
    let d = 9;
    let var: Vec<f64> = (0..d).map(|i| 10f64.powf(-2.0 + 4.0 * i as f64 / (d - 1) as f64)).collect();
    let target = common::diag_gaussian(var.clone());
    let draws = run(&Nuts::default(), &target, &RunConfig { chains: 4, warmup: 1000, draws: 200, seed: 7, init: None }).unwrap();
    for c in &draws.chains {
        for i in 0..d {
            let ratio = c.inv_metric[i] / var[i];
            assert!((0.75..1.33).contains(&ratio), "coordinate {i}: adapted {} vs true {}", c.inv_metric[i], var[i]);
        }
    }
}

#[test]
fn standard_normal_100d_tree_depth_and_acceptance_after_adaptation() {
    let d = 100;
    let target = FnDensity::new(d, |q: &[f64], g: &mut [f64]| {
        g.iter_mut().zip(q).for_each(|(g, q)| *g = -q);
        -0.5 * q.iter().map(|x| x * x).sum::<f64>()
    });
    let draws = run(&Nuts::default(), &target, &RunConfig { chains: 2, warmup: 1000, draws: 500, seed: 8, init: None }).unwrap();
    let depth: Vec<f64> = draws.stat("treedepth__").unwrap().concat();
    let accept: Vec<f64> = draws.stat("accept_stat__").unwrap().concat();
    assert!((3.0..=5.0).contains(&mean(&depth)), "mean tree depth {}", mean(&depth));
    assert!((mean(&accept) - 0.8).abs() < 0.08, "mean acceptance {}", mean(&accept));
    let s = draws.summary();
    for r in s.rows().iter().skip(1) {
        assert!(r.mean.abs() < 4.0 * r.mcse_mean + 0.01, "{}: mean {} mcse {}", r.name, r.mean, r.mcse_mean);
        assert!((r.sd - 1.0).abs() < 0.12, "{}: sd {}", r.name, r.sd);
    }
}
