//! snell's ray-tracing and HMC integrators reproduce trajectories of the paper's own JAX code
//! (PyPI `raytrace_jax` 0.0.2) to rounding: same (x₀, v₀, dt), DKD steps, no refresh; every
//! position along the way, the final velocity and the accumulated `dlnL_pred` (ray tracing: the
//! reference's atan2 kick against snell's ζ-form; HMC: the kinetic-energy change). The data are
//! written by `tests/data/make_raytrace_jax_trajectories.py`.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use snell::sampler::ray_tracing::{integrate_weighted, Integrator, RayState, Weighting};
use snell::target::FnDensity;
use snell_examples::targets::{figure1_mixture, quartic};

fn reals(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn gaussian(d: usize) -> FnDensity<impl Fn(&[f64], &mut [f64]) -> f64 + Sync> {
    let sd: Vec<f64> = (0..d).map(|i| 0.5 * 4f64.powf(i as f64 / (d - 1) as f64)).collect();
    FnDensity::new(d, move |q: &[f64], g: &mut [f64]| {
        let mut lp = 0.0;
        for i in 0..q.len() {
            lp -= 0.5 * (q[i] / sd[i]).powi(2);
            g[i] = -q[i] / (sd[i] * sd[i]);
        }
        lp
    })
}


/// Largest |a − b| / max(1, |b|).
fn err(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs() / y.abs().max(1.0)).fold(0.0, f64::max)
}

fn check(case: &Value, target: &dyn snell::target::Target) -> f64 {
    let name = case["name"].as_str().unwrap();
    let weighting = if case["kind"] == "hmc" { Weighting::Hmc } else { Weighting::Unit };
    let dt = case["dt"].as_f64().unwrap();
    let xs: Vec<Vec<f64>> = case["xs"].as_array().unwrap().iter().map(reals).collect();
    let mut s = RayState::weighted(target, &weighting, reals(&case["x0"]), reals(&case["v0"])).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0); // not used: no refresh, no random integrator
    let mut pred = 0.0;
    let mut worst: f64 = 0.0;
    for (k, want) in xs.iter().enumerate() {
        pred += integrate_weighted(target, &weighting, &mut s, dt, 1, Integrator::Dkd, 0.0, &mut rng).unwrap().dlnl_pred;
        let e = err(&s.x, want);
        assert!(e < 1e-12, "{name}, step {}: positions differ by {e:e}\n  snell {:?}\n  jax   {want:?}", k + 1, s.x);
        worst = worst.max(e);
    }
    let ev = err(&s.v, &reals(&case["v_final"]));
    let want_pred = case["dlnl_pred"].as_f64().unwrap();
    let ep = (pred - want_pred).abs() / want_pred.abs().max(1.0);
    let el = (s.lp - case["lnl_final"].as_f64().unwrap()).abs() / s.lp.abs().max(1.0);
    assert!(ev < 1e-12 && ep < 1e-12 && el < 1e-12, "{name}: final velocity {ev:e}, dlnL_pred {pred} vs {want_pred} ({ep:e}), ln L {el:e}");
    // the trajectory went somewhere
    let moved = err(&s.x, &reals(&case["x0"]));
    assert!(moved > 0.3, "{name}: moved only {moved}");
    eprintln!("{name}: {} steps, largest relative difference {:.1e} (positions), {ev:.1e} (velocity), {ep:.1e} (dlnL_pred)", xs.len(), worst);
    worst.max(ev).max(ep)
}

#[test]
fn integrators_reproduce_the_reference_jax_trajectories() {
    let path = format!("{}/tests/data/raytrace_jax_trajectories.json", env!("CARGO_MANIFEST_DIR"));
    let data: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let cases = data["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for case in cases {
        let d = case["x0"].as_array().unwrap().len();
        match case["target"].as_str().unwrap() {
            "gaussian" => check(case, &gaussian(d)),
            "quartic" => check(case, &quartic(d)),
            "mixture" => check(case, &figure1_mixture()),
            t => panic!("unknown target {t}"),
        };
    }
}
