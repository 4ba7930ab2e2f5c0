//! Generalised ray tracing (Behroozi 2025, §2.7 and §2.9): the special cases reduce to their known
//! algorithms — with the HMC weighting a trajectory is the leapfrog trajectory step for step and
//! the chain is static HMC's chain draw for draw; with the Metropolis weighting the chain is a
//! random-walk Metropolis chain with the same random numbers — and weighted rays (tempering,
//! microcanonical, a user weight) sample `L/W`, report `ln W`, and give `L`'s moments reweighted.

mod common;
use common::{check_invariance, exact_inits, std_normal};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use snell::target::Target;
use snell::sampler::hmc;
use snell::sampler::metric::Metric;
use snell::sampler::phase_space::{Point, TransitionParams};
use snell::sampler::ray_tracing::{integrate_weighted, transition, Integrator, RayState, RayTracing, Weighting};
use snell::sampler::{run, Lockstep, RunConfig, SamplerError};
use std::sync::Arc;
use snell_examples::targets::quartic;


fn normals(rng: &mut ChaCha8Rng, d: usize) -> Vec<f64> {
    (0..d).map(|_| rng.sample(StandardNormal)).collect()
}

fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs() / x.abs().max(y.abs()).max(1.0)).fold(0.0, f64::max)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn hmc_weighting_is_the_leapfrog_trajectory_step_for_step() {
    let d = 20;
    let target = quartic(d);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (x0, p0) = (normals(&mut rng, d), normals(&mut rng, d));
    let eps = 0.15;
    let metric = Metric::unit(d);
    let mut z = Point::new(&target, x0.clone()).unwrap();
    z.p = p0.clone();
    let h0 = z.hamiltonian(&metric);
    let mut s = RayState::weighted(&target, &Weighting::Hmc, x0.clone(), p0).unwrap();
    let mut scratch = vec![0.0; d];
    let mut pred = 0.0;
    let mut worst: f64 = 0.0;
    for step in 0..40 {
        z.leapfrog(&target, &metric, eps, &mut scratch).unwrap();
        pred += integrate_weighted(&target, &Weighting::Hmc, &mut s, eps, 1, Integrator::Kdk, 0.0, &mut rng).unwrap().dlnl_pred;
        let err = max_rel(&z.q, &s.x).max(max_rel(&z.p, &s.v)).max(max_rel(&[z.lp], &[s.lp]));
        assert!(err < 1e-13, "step {step}: leapfrog and the HMC-weighted ray differ by {err:e}");
        worst = worst.max(err);
    }
    let moved = max_rel(&z.q, &x0);
    assert!(moved > 0.5, "the trajectory hardly moved ({moved})");
    // Σ dlnL_pred is the change of kinetic energy, so ln α = ΔlnL − ΔK = −ΔH
    let ln_alpha = s.lp - RayState::new(&target, x0, vec![0.0; d]).unwrap().lp - pred;
    let dh = z.hamiltonian(&metric) - h0;
    assert!((ln_alpha + dh).abs() < 1e-10 * (1.0 + dh.abs()), "ln α {ln_alpha} vs −ΔH {}", -dh);
    eprintln!("40 leapfrog steps: largest relative difference {worst:e}, ΔH {dh:.3e}");
}

#[test]
fn hmc_weighting_gives_static_hmc_draws() {
    // the same random numbers: momentum ~ N(0, I) per trajectory, one uniform for the test
    let d = 10;
    let target = quartic(d);
    let (eps, steps) = (0.3, 7);
    let rt = RayTracing { weighting: Weighting::Hmc, integrator: Integrator::Kdk, ..RayTracing::new(eps, steps) };
    let params = TransitionParams { step_size: eps, metric: Metric::unit(d), max_depth: 0, max_energy_error: 1000.0 };
    let x0: Vec<f64> = (0..d).map(|i| 0.1 * i as f64 - 0.4).collect();
    let (mut r1, mut r2) = (ChaCha8Rng::seed_from_u64(2), ChaCha8Rng::seed_from_u64(2));
    let mut s = RayState::weighted(&target, &Weighting::Hmc, x0.clone(), vec![0.0; d]).unwrap();
    let mut z = Point::new(&target, x0).unwrap();
    let (mut accepted, mut rejected) = (0, 0);
    for k in 0..300 {
        let (s1, info) = transition(&target, &mut r1, &s, &rt, eps).unwrap();
        let (z1, hinfo) = hmc::transition(&target, &mut r2, &z, &params, steps).unwrap();
        assert_eq!(info.accepted, hinfo.accepted, "draw {k}: acceptance decisions differ");
        assert!((info.accept_prob - hinfo.accept_prob).abs() < 1e-9, "draw {k}: acceptance {} vs {}", info.accept_prob, hinfo.accept_prob);
        let err = max_rel(&s1.x, &z1.q);
        assert!(err < 1e-12, "draw {k}: positions differ by {err:e}");
        if info.accepted {
            accepted += 1
        } else {
            rejected += 1
        }
        (s, z) = (s1, z1);
    }
    eprintln!("HMC weighting vs static HMC: 300 identical draws, {accepted} accepted, {rejected} rejected");
    assert!(accepted > 100 && rejected > 5, "both branches must be exercised: {accepted} accepted, {rejected} rejected");
}

#[test]
fn metropolis_weighting_is_random_walk_metropolis() {
    let d = 5;
    let target = quartic(d);
    let scale = 0.6;
    let rt = RayTracing { weighting: Weighting::Metropolis, ..RayTracing::new(scale, 1) };
    let logp = |x: &[f64]| {
        let mut g = vec![0.0; d];
        target.logp_grad(x, &mut g).unwrap()
    };
    let x0 = vec![0.5; d];
    let (mut r1, mut r2) = (ChaCha8Rng::seed_from_u64(3), ChaCha8Rng::seed_from_u64(3));
    let mut s = RayState::weighted(&target, &Weighting::Metropolis, x0.clone(), vec![0.0; d]).unwrap();
    // the textbook chain: x' = x + scale·ξ, accept with min(1, π(x')/π(x))
    let (mut x, mut lp) = (x0.clone(), logp(&x0));
    let mut accepted = 0;
    for k in 0..2000 {
        let (s1, info) = transition(&target, &mut r1, &s, &rt, scale).unwrap();
        let xi = normals(&mut r2, d);
        let y: Vec<f64> = x.iter().zip(&xi).map(|(a, b)| a + scale * b).collect();
        let lpy = logp(&y);
        let a = (lpy - lp).min(0.0).exp();
        let take = r2.gen::<f64>() < a;
        if take {
            (x, lp) = (y, lpy);
            accepted += 1;
        }
        assert_eq!(info.accepted, take, "draw {k}");
        assert!((info.accept_prob - a).abs() < 1e-12, "draw {k}: acceptance {} vs {a}", info.accept_prob);
        assert_eq!(info.n_grad, 1, "one density evaluation per proposal");
        let err = max_rel(&s1.x, &x);
        assert!(err < 1e-12, "draw {k}: positions differ by {err:e}");
        assert!((s1.lp + s1.ln_w - lp).abs() < 1e-12 * (1.0 + lp.abs()), "draw {k}: ln L of the draw");
        s = s1;
    }
    eprintln!("Metropolis weighting vs random-walk Metropolis: 2000 identical draws, acceptance {:.3}", accepted as f64 / 2000.0);
    assert!((200..1800).contains(&accepted));
}

#[test]
fn metropolis_and_hmc_weightings_leave_a_gaussian_invariant() {
    let (d, chains) = (20, 64);
    let target = std_normal(d);
    for (k, rt) in [RayTracing { weighting: Weighting::Metropolis, ..RayTracing::new(0.4, 1) }, RayTracing { weighting: Weighting::Hmc, ..RayTracing::new(0.3, 5) }].into_iter().enumerate() {
        let cfg = RunConfig { chains, warmup: 0, draws: 30, seed: 40 + k as u64, init: Some(exact_inits(chains, d, 400 + k as u64)) };
        let draws = run(&rt, &target, &cfg).unwrap();
        check_invariance(&draws, d);
        let acc = mean(&draws.stat("accept_stat__").unwrap().concat());
        eprintln!("{:?}: acceptance {acc:.3}", rt.weighting);
        assert!(acc > 0.2, "{:?}: acceptance {acc}", rt.weighting);
        assert!(!draws.stat_names.iter().any(|s| s == "log_weight__"), "selection, not weights");
    }
}

/// Draws of the chains' final states scaled to unit variance under `L/W = N(0, var·I)`, checked as
/// exact N(0, 1) draws; returns (per-chain |x|²/D, log weight) of the final states.
fn check_weighted(name: &str, rt: &RayTracing, d: usize, var: f64, seed: u64) -> Vec<(f64, f64)> {
    let chains = 1000;
    let target = std_normal(d);
    let inits: Vec<Vec<f64>> = exact_inits(chains, d, seed).into_iter().map(|x| x.iter().map(|v| v * var.sqrt()).collect()).collect();
    let draws = run(rt, &target, &RunConfig { chains, warmup: 0, draws: 20, seed: seed + 1, init: Some(inits) }).unwrap();
    assert_eq!(draws.stat_names.last().map(String::as_str), Some("log_weight__"), "{name}");
    let lw = draws.stat("log_weight__").unwrap();
    // lp__ is ln L, not ln L − ln W
    for (c, w) in draws.chains.iter().zip(&lw) {
        let x = &c.values[c.values.len() - d..];
        let lnl = -0.5 * x.iter().map(|v| v * v).sum::<f64>();
        assert!((c.lp[c.lp.len() - 1] - lnl).abs() < 1e-9 * (1.0 + lnl.abs()), "{name}: lp__ {} vs ln L {lnl}", c.lp[c.lp.len() - 1]);
        assert!(w.iter().all(|v| v.is_finite()));
    }
    let mut scaled = draws.clone();
    scaled.chains.iter_mut().for_each(|c| c.values.iter_mut().for_each(|v| *v /= var.sqrt()));
    check_invariance(&scaled, d);
    let acc = mean(&draws.stat("accept_stat__").unwrap().concat());
    eprintln!("{name}: acceptance {acc:.3}");
    draws.chains.iter().zip(&lw).map(|(c, w)| (c.values[c.values.len() - d..].iter().map(|v| v * v).sum::<f64>() / d as f64, w[w.len() - 1])).collect()
}

/// The self-normalised importance estimate `Σ w f / Σ w` and its delta-method standard error.
fn weighted_mean(fw: &[(f64, f64)]) -> (f64, f64) {
    let m = fw.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = fw.iter().map(|p| (p.1 - m).exp()).collect();
    let sw: f64 = w.iter().sum();
    let est = fw.iter().zip(&w).map(|(p, w)| w * p.0).sum::<f64>() / sw;
    let var = fw.iter().zip(&w).map(|(p, w)| (w * (p.0 - est)).powi(2)).sum::<f64>() / (sw * sw);
    (est, var.sqrt())
}

#[test]
fn weighted_rays_sample_l_over_w_and_reweight_to_l() {
    let d = 10;
    // microcanonical W = L^{1/D}: the rays sample L^{(D−1)/D} = N(0, D/(D−1))
    let micro = RayTracing { weighting: Weighting::Microcanonical, ..RayTracing::default() };
    let fw = check_weighted("microcanonical", &micro, d, d as f64 / (d - 1) as f64, 50);
    for (f, lw) in &fw {
        assert!((lw - (-0.5 * f * d as f64) / d as f64).abs() < 1e-9, "log_weight__ must be ln L / D");
    }
    // tempering W = L^{1/2}: the rays sample N(0, 2)
    let tempered = RayTracing { weighting: Weighting::Power(0.5), ..RayTracing::default() };
    let fw2 = check_weighted("power 1/2", &tempered, d, 2.0, 60);
    // a user weight ln W = −x²/4 (the same target as the power 1/2, written by hand)
    let custom = RayTracing {
        weighting: Weighting::Custom(Arc::new(|q: &[f64], g: &mut [f64]| {
            g.iter_mut().zip(q).for_each(|(g, q)| *g = -0.5 * q);
            -0.25 * q.iter().map(|x| x * x).sum::<f64>()
        })),
        ..RayTracing::default()
    };
    let fw3 = check_weighted("custom", &custom, d, 2.0, 70);
    // reweighted to L: E|x|²/D = 1 (unweighted it is the variance of L/W)
    for (name, fw, var) in [("microcanonical", &fw, d as f64 / (d - 1) as f64), ("power 1/2", &fw2, 2.0), ("custom", &fw3, 2.0)] {
        let (est, se) = weighted_mean(fw);
        let raw = mean(&fw.iter().map(|p| p.0).collect::<Vec<_>>());
        eprintln!("{name}: weighted E|x|²/D {est:.4} ± {se:.4}, unweighted {raw:.4} (L/W: {var:.4})");
        assert!((est - 1.0).abs() < 4.0 * se, "{name}: weighted E|x|²/D {est} ± {se}");
        assert!(se < 0.05, "{name}: standard error {se}");
    }
}

#[test]
fn weighting_settings_errors() {
    let target = std_normal(3);
    let cfg = RunConfig { chains: 1, warmup: 5, draws: 5, ..Default::default() };
    for a in [1.0, -0.1, f64::NAN] {
        let rt = RayTracing { weighting: Weighting::Power(a), ..Default::default() };
        assert!(matches!(run(&rt, &target, &cfg), Err(SamplerError::Setting { name: "weighting", .. })), "Power({a})");
    }
    // weightings run in lockstep too, with the draws of one chain per thread
    let rt = RayTracing { weighting: Weighting::Hmc, ..Default::default() };
    assert_eq!(run(&Lockstep(rt.clone()), &target, &cfg).unwrap().chains, run(&rt, &target, &cfg).unwrap().chains);
    // HMC and Metropolis weightings need no D ≥ 2 (no Snell kick); the others do
    let one = std_normal(1);
    assert!(run(&RayTracing { weighting: Weighting::Hmc, ..Default::default() }, &one, &cfg).is_ok());
    assert!(run(&RayTracing { weighting: Weighting::Metropolis, ..Default::default() }, &one, &cfg).is_ok());
    assert!(matches!(run(&RayTracing { weighting: Weighting::Microcanonical, ..Default::default() }, &one, &cfg), Err(SamplerError::Setting { name: "dimension", .. })));
    // the header names the weighting
    let draws = run(&RayTracing { weighting: Weighting::Microcanonical, ..Default::default() }, &target, &cfg).unwrap();
    assert!(draws.settings.contains(&("weighting".to_string(), "microcanonical".to_string())));
}
