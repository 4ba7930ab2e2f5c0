//! Thinning: the recorded draws are exactly every k-th transition of the same chain, the counts of
//! the skipped transitions are kept, and a zero interval is a settings error.

use snell::sampler::{hmc::Hmc, run, RunConfig, SamplerError, Thin};
use snell::target::FnDensity;

fn gaussian() -> FnDensity<impl Fn(&[f64], &mut [f64]) -> f64 + Sync> {
    FnDensity::new(3, |q, g| {
        let mut lp = 0.0;
        for i in 0..3 {
            let s2 = (i + 1) as f64;
            g[i] = -q[i] / s2;
            lp -= 0.5 * q[i] * q[i] / s2;
        }
        lp
    })
}

#[test]
fn thinned_draws_are_every_kth_transition() {
    let target = gaussian();
    let (k, n) = (4, 50);
    let cfg = RunConfig { chains: 2, warmup: 100, draws: n, seed: 9, init: None };
    let thinned = run(&Thin::new(Hmc::new(6), k), &target, &cfg).unwrap();
    let full = run(&Hmc::new(6), &target, &RunConfig { draws: n * k, ..cfg.clone() }).unwrap();
    assert!(full.stat_names.iter().any(|s| s == "n_leapfrog__"), "{:?}", full.stat_names);
    for (t, f) in thinned.chains.iter().zip(&full.chains) {
        assert_eq!(t.values.len(), n * 3);
        for j in 0..n {
            assert_eq!(&t.values[j * 3..j * 3 + 3], &f.values[((j + 1) * k - 1) * 3..((j + 1) * k) * 3], "draw {j}");
        }
    }
    let sum_t: f64 = thinned.stat("n_leapfrog__").unwrap().iter().flatten().sum();
    let sum_f: f64 = full.stat("n_leapfrog__").unwrap().iter().flatten().sum();
    assert_eq!(sum_t, sum_f, "leapfrog steps of the skipped transitions are counted");
    assert!(thinned.settings.iter().any(|(k, v)| k == "thin" && v == "4"));
}

#[test]
fn a_zero_interval_is_a_settings_error() {
    let target = gaussian();
    let err = run(&Thin::new(Hmc::new(6), 0), &target, &RunConfig::default()).unwrap_err();
    assert!(matches!(err, SamplerError::Setting { name: "every", .. }), "{err}");
}
