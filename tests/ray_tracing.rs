//! The Ray Tracing Sampler, tested: kick invariants (ζ-form
//! against the reference atan2 form), reversibility of the integrators, Snell bookkeeping,
//! invariance of N(0, I) from exact draws (with a power check), the reference acceptance rates on
//! Gaussians, the signs of the bias without Metropolis (Fig. 5), recovery of an ill-scaled
//! correlated Gaussian with warmup, settings errors.

mod common;
use common::{check_invariance, exact_inits, std_normal};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use snell::sampler::ray_tracing::{integrate, kick, kick_atan2, kick_turning, Integrator, RayState, RayTracing};
use snell::sampler::{run, RunConfig, SamplerError};
use snell::target::FnDensity;
use snell_examples::targets::quartic;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// Angle between two vectors, stable near 0 and π.
fn angle(a: &[f64], b: &[f64]) -> f64 {
    let (na, nb) = (norm(a), norm(b));
    let d: f64 = a.iter().zip(b).map(|(x, y)| (x / na - y / nb).powi(2)).sum::<f64>().sqrt();
    let s: f64 = a.iter().zip(b).map(|(x, y)| (x / na + y / nb).powi(2)).sum::<f64>().sqrt();
    2.0 * d.atan2(s)
}

fn normal_vec(rng: &mut ChaCha8Rng, d: usize) -> Vec<f64> {
    (0..d).map(|_| StandardNormal.sample(rng)).collect()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(1e-300)
}

#[test]
fn kick_invariants_and_agreement_with_the_atan2_form() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for &d in &[2usize, 3, 7, 1000] {
        for trial in 0..50 {
            let v = normal_vec(&mut rng, d);
            let g: Vec<f64> = normal_vec(&mut rng, d).iter().map(|x| x * (0.1 + trial as f64 * 0.2)).collect();
            let (l, gn) = (norm(&v), norm(&g));
            // δ = l·G·h/(D−1) on a log grid from 0.001 to 3
            let delta = 0.001 * 3000f64.powf(trial as f64 / 49.0);
            let h = delta * (d as f64 - 1.0) / (l * gn);
            let ti = angle(&v, &g);
            let mut vz = v.clone();
            let pz = kick(&mut vz, &g, h, d);
            let mut va = v.clone();
            let pa = kick_atan2(&mut va, &g, h, d);
            let tf = angle(&vz, &g);
            // the reported turning is the angle between v before and after, θ_i − θ_f
            let mut vt = v.clone();
            let (_, turned) = kick_turning(&mut vt, &g, h, d);
            assert!((turned - angle(&v, &vz)).abs() < 1e-10 && (turned - (ti - tf)).abs() < 1e-10, "D {d}: turned {turned} vs {} and θi − θf {}", angle(&v, &vz), ti - tf);
            assert!(rel(norm(&vz), l) < 1e-13, "D {d}: |v| {} → {}", l, norm(&vz));
            // tan(θf/2) = tan(θi/2)·e^{−δ}, as angles (measured angles carry ~1e-16 absolute error)
            let expected = 2.0 * ((ti / 2.0).tan() * (-delta).exp()).atan();
            assert!((tf - expected).abs() < 1e-12 + 1e-10 * expected, "D {d}: θf {tf} vs {expected}");
            assert!(rel(pz, pa) < 1e-10, "D {d}: dlnL_pred ζ {pz} vs atan2 {pa}");
            if tf > 1e-4 {
                assert!(rel(pz, (d as f64 - 1.0) * (ti.sin() / tf.sin()).ln()) < 1e-8, "D {d}: Snell");
            }
            let diff = vz.iter().zip(&va).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
            assert!(diff < 1e-12 * l, "D {d}: directions differ by {diff}");
            // v stays in the plane of v and g: no component outside it
            let e: Vec<f64> = g.iter().map(|x| x / gn).collect();
            let u: Vec<f64> = v.iter().map(|x| x / l).collect();
            let ue = dot(&u, &e);
            let perp: Vec<f64> = u.iter().zip(&e).map(|(u, e)| u - ue * e).collect();
            let pn = norm(&perp);
            let out: f64 = vz.iter().enumerate().map(|(i, x)| x - dot(&vz, &e) * e[i] - dot(&vz, &perp) / (pn * pn) * perp[i]).map(|x| x * x).sum::<f64>().sqrt();
            assert!(out < 1e-10 * l, "D {d}: left the plane by {out}");
        }
    }
}

#[test]
fn kick_edge_cases() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let d = 7;
    let g = normal_vec(&mut rng, d);
    let v = normal_vec(&mut rng, d);
    let (l, gn) = (norm(&v), norm(&g));
    // h = 0: identity
    let mut w = v.clone();
    assert_eq!(kick(&mut w, &g, 0.0, d), 0.0);
    assert!(w.iter().zip(&v).all(|(a, b)| (a - b).abs() < 1e-15));
    // G = 0: no kick, no prediction
    let mut w = v.clone();
    assert_eq!(kick(&mut w, &vec![0.0; d], 0.3, d), 0.0);
    assert_eq!(w, v);
    // parallel and antiparallel: no rotation, dlnL_pred = ±l·G·h (as the atan2 code's branch)
    let h = 0.4;
    for sign in [1.0, -1.0] {
        let par: Vec<f64> = g.iter().map(|x| sign * 1.7 * x).collect();
        let lp = norm(&par);
        let mut w = par.clone();
        let p = kick(&mut w, &g, h, d);
        assert!(rel(p, sign * lp * gn * h) < 1e-12, "sign {sign}: {p} vs {}", sign * lp * gn * h);
        assert!(w.iter().zip(&par).all(|(a, b)| (a - b).abs() < 1e-12 * lp));
    }
    // antiparallel with a huge δ: the ζ² underflow must not give −∞
    let anti: Vec<f64> = g.iter().map(|x| -x).collect();
    let mut w = anti.clone();
    let big = 1e6;
    let p = kick(&mut w, &g, big, d);
    assert!(rel(p, -gn * gn * big) < 1e-12, "antiparallel, huge δ: {p}");
    // huge gradient: no overflow, |v| kept, v turned onto g; the atan2 form cannot do this
    let huge: Vec<f64> = g.iter().map(|x| x * 1e300).collect(); // |g|² overflows
    let mut w = v.clone();
    let p = kick(&mut w, &huge, 1.0, d);
    assert!(p.is_finite() && p > 0.0, "dlnL_pred {p}");
    assert!(rel(norm(&w), l) < 1e-13);
    assert!(angle(&w, &g) < 1e-8, "angle to g {}", angle(&w, &g));
    // non-finite gradient: NaN prediction (a divergence for the caller), v untouched
    let mut w = v.clone();
    let mut bad = g.clone();
    bad[0] = f64::INFINITY;
    assert!(kick(&mut w, &bad, 0.1, d).is_nan());
    assert_eq!(w, v);
    // kicks in a fixed field compose: K(h1)∘K(h2) = K(h1+h2), predictions add
    let (h1, h2) = (0.13, 0.29);
    let mut a = v.clone();
    let p1 = kick(&mut a, &g, h1, d);
    let p2 = kick(&mut a, &g, h2, d);
    let mut b = v.clone();
    let p12 = kick(&mut b, &g, h1 + h2, d);
    assert!(rel(p1 + p2, p12) < 1e-12, "{} vs {p12}", p1 + p2);
    assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-12 * l));
}


#[test]
fn integrators_are_reversible() {
    let d = 50;
    let target = quartic(d);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for integ in [Integrator::Dkd, Integrator::Kdk, Integrator::Omelyan] {
        let x0 = normal_vec(&mut rng, d);
        let v0 = normal_vec(&mut rng, d);
        let mut s = RayState::new(&target, x0.clone(), v0.clone()).unwrap();
        let fwd = integrate(&target, &mut s, 0.1, 25, integ, 0.0, &mut rng).unwrap();
        assert!(!fwd.non_finite);
        let moved = s.x.iter().zip(&x0).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
        assert!(moved > 1.0, "{integ:?} hardly moved: {moved}");
        s.v.iter_mut().for_each(|v| *v = -*v);
        let back = integrate(&target, &mut s, 0.1, 25, integ, 0.0, &mut rng).unwrap();
        let dx = s.x.iter().zip(&x0).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        let dv = s.v.iter().zip(&v0).map(|(a, b)| (a + b).abs()).fold(0.0, f64::max);
        assert!(dx < 1e-10 && dv < 1e-10, "{integ:?}: |Δx| {dx}, |Δv| {dv}");
        assert!((fwd.dlnl_pred + back.dlnl_pred).abs() < 1e-10 * fwd.dlnl_pred.abs().max(1.0), "{integ:?}: dlnL_pred {} then {}", fwd.dlnl_pred, back.dlnl_pred);
        let per_step = if integ == Integrator::Omelyan { 2 } else { 1 };
        assert_eq!(fwd.n_grad, 25 * per_step + usize::from(integ == Integrator::Dkd));
    }
}

#[test]
fn predicted_change_tracks_a_linear_log_density() {
    // ln L = gᵀx: Σ dlnL_pred → ln L(x_N) − ln L(x₀) as dt → 0 (Snell bookkeeping)
    let d = 6;
    let gv: Vec<f64> = (0..d).map(|i| 0.3 + 0.2 * i as f64).collect();
    let gc = gv.clone();
    let target = FnDensity::new(d, move |q: &[f64], g: &mut [f64]| {
        g.copy_from_slice(&gc);
        dot(q, &gc)
    });
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let x0 = vec![0.0; d];
    let mut s = RayState::new(&target, x0, normal_vec(&mut rng, d)).unwrap();
    let lp0 = s.lp;
    let info = integrate(&target, &mut s, 1e-3, 3000, Integrator::Dkd, 0.0, &mut rng).unwrap();
    let actual = s.lp - lp0;
    assert!(actual.abs() > 1.0, "the ray must go somewhere: {actual}");
    assert!(rel(info.dlnl_pred, actual) < 1e-6, "predicted {} actual {actual}", info.dlnl_pred);
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn leaves_a_100d_standard_normal_invariant() {
    let (d, chains) = (100, 64);
    let target = std_normal(d);
    let settings = [
        ("dkd", RayTracing::default()),
        ("kdk", RayTracing { integrator: Integrator::Kdk, ..Default::default() }),
        ("omelyan", RayTracing { integrator: Integrator::Omelyan, step_size: 0.5, n_steps: Some(3), ..Default::default() }),
        ("rdkd", RayTracing { integrator: Integrator::Rdkd, ..Default::default() }),
        // §1.16 item 5: partial refresh, persistent v negated on rejection
        ("partial refresh", RayTracing { step_size: 0.3, n_steps: Some(10), full_refresh: false, refresh_rate: 1.0, ..Default::default() }),
    ];
    for (k, (name, rt)) in settings.iter().enumerate() {
        let cfg = RunConfig { chains, warmup: 0, draws: 20, seed: 10 + k as u64, init: Some(exact_inits(chains, d, 100 + k as u64)) };
        let draws = run(rt, &target, &cfg).unwrap();
        assert_eq!(draws.sampler, "ray_tracing");
        check_invariance(&draws, d);
        assert_eq!(draws.divergences(), 0, "{name}");
        let acc = mean(&draws.stat("accept_stat__").unwrap().concat());
        assert!(acc > 0.5, "{name}: acceptance {acc}");
    }
}

#[test]
fn a_biased_kernel_fails_the_invariance_check() {
    // the same check on a density with variance 1.2: the check must notice
    let d = 100;
    let target = FnDensity::new(d, |q: &[f64], g: &mut [f64]| {
        g.iter_mut().zip(q).for_each(|(g, q)| *g = -q / 1.2);
        -0.5 * q.iter().map(|x| x * x).sum::<f64>() / 1.2
    });
    let cfg = RunConfig { chains: 64, warmup: 0, draws: 20, seed: 10, init: Some(exact_inits(64, d, 100)) };
    let draws = run(&RayTracing::default(), &target, &cfg).unwrap();
    let r = std::panic::catch_unwind(|| check_invariance(&draws, d));
    assert!(r.is_err(), "the invariance check passed a sampler of the wrong distribution");
}

#[test]
fn gaussian_acceptance_rates_match_the_reference() {
    // §1.16 item 4 (Table 1 settings, DKD, full refresh, Metropolis), started from exact draws.
    // (D, dt, steps, reference acceptance, chains, draws)
    // In high D the acceptance of a chain depends on its slowly moving radius, so those cases need
    // many chains (D = 10⁴ with 8 chains × 60 draws gave 0.80, with 32 × 100 0.73).
    let cases = [(2usize, 0.71, 2usize, 0.922, 16usize, 250usize), (10, 0.71, 2, 0.862, 16, 250), (100, 0.52, 3, 0.768, 16, 250), (1000, 0.26, 6, 0.828, 32, 100), (10_000, 0.17, 10, 0.74, 32, 100)];
    for (k, &(d, dt, n_steps, reference, chains, n)) in cases.iter().enumerate() {
        let target = std_normal(d);
        let cfg = RunConfig { chains, warmup: 0, draws: n, seed: 20 + k as u64, init: Some(exact_inits(chains, d, 200 + k as u64)) };
        let draws = run(&RayTracing::new(dt, n_steps), &target, &cfg).unwrap();
        let acc = mean(&draws.stat("accept_stat__").unwrap().concat());
        let per_chain: Vec<f64> = draws.stat("accept_stat__").unwrap().iter().map(|c| mean(c)).collect();
        let se = (per_chain.iter().map(|a| (a - acc).powi(2)).sum::<f64>() / (chains * (chains - 1)) as f64).sqrt();
        eprintln!("D = {d}: mean acceptance {acc:.4} ± {se:.4} (reference {reference})");
        assert!((acc - reference).abs() < 0.03, "D = {d}: mean acceptance {acc} vs {reference}");
        // and −ln L keeps mean D/2, sd √(D/2): check the pooled mean of −ln L
        let nlp: Vec<f64> = draws.chains.iter().flat_map(|c| c.lp.iter().map(|x| -x)).collect();
        let m = mean(&nlp);
        let se = (d as f64 / 2.0).sqrt() / (chains as f64).sqrt();
        assert!((m - d as f64 / 2.0).abs() < 5.0 * se, "D = {d}: mean −ln L {m}");
    }
}

#[test]
fn without_metropolis_kdk_runs_cold_and_dkd_hot() {
    // §1.16 item 6 / Fig. 5: D = 10⁴, dt = 0.25, 6 steps, full refresh; −ln L has mean 5000 and
    // sd 70.7 under the target. KDK ≈ D/2 + 25…30, DKD ≈ D/2 − 50; both return to D/2 with MH.
    let d = 10_000;
    let target = std_normal(d);
    let chains = 16;
    let mut results = vec![];
    for (k, (integ, metropolis)) in [(Integrator::Kdk, false), (Integrator::Dkd, false), (Integrator::Kdk, true), (Integrator::Dkd, true)].into_iter().enumerate() {
        let rt = RayTracing { integrator: integ, metropolis, ..RayTracing::new(0.25, 6) };
        // no warmup (it would adapt dt): the first 20 draws are discarded as burn-in instead
        let cfg = RunConfig { chains, warmup: 0, draws: 60, seed: 30 + k as u64, init: Some(exact_inits(chains, d, 300 + k as u64)) };
        let draws = run(&rt, &target, &cfg).unwrap();
        // per-chain means of −ln L − D/2 over draws 20..60 (the first 20 are burn-in)
        let per_chain: Vec<f64> = draws.chains.iter().map(|c| -mean(&c.lp[20..]) - d as f64 / 2.0).collect();
        let m = mean(&per_chain);
        let se = (per_chain.iter().map(|a| (a - m).powi(2)).sum::<f64>() / (chains * (chains - 1)) as f64).sqrt();
        eprintln!("{integ:?} metropolis {metropolis}: mean −ln L − D/2 = {m:.1} ± {se:.1}");
        results.push((m, se));
    }
    let (kdk, dkd) = (results[0].0, results[1].0);
    assert!((10.0..45.0).contains(&kdk), "KDK without MH: {kdk}");
    assert!((-70.0..-30.0).contains(&dkd), "DKD without MH: {dkd}");
    for &(m, se) in &results[2..] {
        assert!(se < 10.0 && m.abs() < 4.0 * se, "with MH: {m} ± {se}");
    }
}

#[test]
fn recovers_an_ill_scaled_correlated_gaussian_with_warmup() {
    // D = 10, sds 0.5 … 2 (log grid), correlation 0.5 within pairs (0,1), (2,3), …; mean 1 … 10
    let d = 10;
    let sd: Vec<f64> = (0..d).map(|i| 0.5 * 4f64.powf(i as f64 / (d - 1) as f64)).collect();
    let mu: Vec<f64> = (0..d).map(|i| 1.0 + i as f64).collect();
    let rho = 0.5;
    let (s2, m2) = (sd.clone(), mu.clone());
    let target = FnDensity::new(d, move |q: &[f64], g: &mut [f64]| {
        let mut lp = 0.0;
        for p in 0..d / 2 {
            let (i, j) = (2 * p, 2 * p + 1);
            let (a, b) = ((q[i] - m2[i]) / s2[i], (q[j] - m2[j]) / s2[j]);
            let k = 1.0 / (1.0 - rho * rho);
            lp -= 0.5 * k * (a * a - 2.0 * rho * a * b + b * b);
            g[i] = -k * (a - rho * b) / s2[i];
            g[j] = -k * (b - rho * a) / s2[j];
        }
        lp
    });
    // the defaults, and the arc chosen per chain in warmup
    for rt in [RayTracing::default(), RayTracing { tune_arc: true, ..RayTracing::default() }] {
        check_correlated_gaussian(&rt, &target, &mu, &sd);
    }
}

fn check_correlated_gaussian(rt: &RayTracing, target: &(dyn snell::target::Target + Sync), mu: &[f64], sd: &[f64]) {
    let d = mu.len();
    let draws = run(rt, target, &RunConfig { chains: 4, warmup: 1000, draws: 1000, seed: 40, init: None }).unwrap();
    // each chain sweeps one arc after warmup: the setting's, or twice it when the arc is chosen
    for (c, steps) in draws.stat("n_steps__").unwrap().iter().enumerate() {
        let dt = draws.chains[c].step_size;
        let arcs: Vec<f64> = if rt.tune_arc { vec![rt.arc, 2.0 * rt.arc] } else { vec![rt.arc] };
        assert!(arcs.iter().any(|arc| steps.iter().all(|&n| n == (arc / dt).ceil())), "chain {c}: steps {:?} for step {dt}", &steps[..5]);
    }
    let acc = mean(&draws.stat("accept_stat__").unwrap().concat());
    eprintln!("adapted dt {:?}, mean acceptance {acc:.3}", draws.chains.iter().map(|c| c.step_size).collect::<Vec<_>>());
    // the averaged step of a short last window lands above the target acceptance, as NUTS's does
    assert!(acc > rt.target_accept - 0.05 && acc < rt.target_accept + 0.12, "mean acceptance {acc}");
    assert_eq!(draws.divergences(), 0);
    let s = draws.summary();
    for i in 0..d {
        let r = s.row(&format!("x.{}", i + 1)).unwrap();
        assert!((r.mean - mu[i]).abs() < 4.0 * r.mcse_mean, "{}: mean {} vs {} (mcse {})", r.name, r.mean, mu[i], r.mcse_mean);
        assert!((r.sd / sd[i] - 1.0).abs() < 0.1, "{}: sd {} vs {}", r.name, r.sd, sd[i]);
    }
}

#[test]
fn bad_settings_are_errors() {
    let target = std_normal(3);
    let cfg = RunConfig { chains: 1, warmup: 10, draws: 10, ..Default::default() };
    let err = |rt: RayTracing| run(&rt, &target, &cfg).unwrap_err();
    assert!(matches!(err(RayTracing { step_size: 0.0, ..Default::default() }), SamplerError::Setting { name: "step_size", .. }));
    assert!(matches!(err(RayTracing { step_size: -1.0, ..Default::default() }), SamplerError::Setting { name: "step_size", .. }));
    assert!(matches!(err(RayTracing { n_steps: Some(0), ..Default::default() }), SamplerError::Setting { name: "n_steps", .. }));
    assert!(matches!(err(RayTracing { full_refresh: false, ..Default::default() }), SamplerError::Setting { name: "refresh_rate", .. }));
    assert!(matches!(err(RayTracing { refresh_rate: -1.0, ..Default::default() }), SamplerError::Setting { name: "refresh_rate", .. }));
    assert!(matches!(err(RayTracing { target_accept: 1.0, ..Default::default() }), SamplerError::Setting { name: "target_accept", .. }));
    // D = 1: the method is undefined, and says so
    let one = std_normal(1);
    match run(&RayTracing::default(), &one, &cfg).unwrap_err() {
        SamplerError::Setting { name: "dimension", detail } => assert!(detail.contains("D ≥ 2"), "{detail}"),
        e => panic!("unexpected error {e}"),
    }
}

#[test]
fn non_finite_density_rejects_and_counts_a_divergence() {
    // a wall at x₁ = 1.5: outside it the log density is −∞
    let target = FnDensity::new(2, |q: &[f64], g: &mut [f64]| {
        g[0] = -q[0];
        g[1] = -q[1];
        if q[0] > 1.5 {
            f64::NEG_INFINITY
        } else {
            -0.5 * (q[0] * q[0] + q[1] * q[1])
        }
    });
    let draws = run(&RayTracing::new(0.5, 4), &target, &RunConfig { chains: 2, warmup: 0, draws: 500, seed: 50, init: Some(vec![vec![0.0, 0.0]]) }).unwrap();
    assert!(draws.divergences() > 0);
    assert!(draws.chains.iter().all(|c| c.lp.iter().all(|lp| lp.is_finite())));
    assert!(draws.param("x.1").unwrap().concat().iter().all(|x| *x <= 1.5));
}


#[test]
fn warmup_tunes_dt_from_a_bad_start_and_then_freezes_it() {
    let d = 100;
    let target = std_normal(d);
    for (k, dt0) in [0.01, 3.0].into_iter().enumerate() {
        // the paper's sampler: no metric windows restart the step's averaging
        let rt = RayTracing::new(dt0, 5);
        let draws = run(&rt, &target, &RunConfig { chains: 4, warmup: 500, draws: 300, seed: 60 + k as u64, init: None }).unwrap();
        let acc = mean(&draws.stat("accept_stat__").unwrap().concat());
        let steps = draws.stat("stepsize__").unwrap();
        eprintln!("dt₀ {dt0}: adapted {:?}, acceptance {acc:.3}", draws.chains.iter().map(|c| c.step_size).collect::<Vec<_>>());
        assert!((acc - rt.target_accept).abs() < 0.05, "dt₀ {dt0}: acceptance {acc}");
        for (c, s) in draws.chains.iter().zip(&steps) {
            assert!(s.iter().all(|x| *x == c.step_size), "dt changed after warmup");
            assert!((0.3..0.8).contains(&c.step_size), "dt₀ {dt0}: adapted dt {}", c.step_size);
        }
    }
}

#[test]
fn same_seed_same_draws_whatever_the_thread_count() {
    let target = quartic(5);
    let rt = RayTracing { integrator: Integrator::Rdkd, full_refresh: false, refresh_rate: 1.0, ..Default::default() };
    let cfg = RunConfig { chains: 4, warmup: 100, draws: 50, seed: 11, init: None };
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(|| run(&rt, &target, &cfg).unwrap());
    let three = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap().install(|| run(&rt, &target, &cfg).unwrap());
    assert_eq!(one, three);
    let other = run(&rt, &target, &RunConfig { seed: 12, ..cfg }).unwrap();
    assert_ne!(one.chains[0].values, other.chains[0].values);
}

#[test]
fn the_measured_change_of_direction_per_step_is_dt_on_the_unit_gaussian() {
    // the step size reads as ⟨Δφ⟩: on N(0, I) a step of dt turns the ray by about dt radians
    let d = 1000;
    let target = std_normal(d);
    for (k, dt) in [0.05, 0.2].into_iter().enumerate() {
        let cfg = RunConfig { chains: 4, warmup: 0, draws: 30, seed: 90 + k as u64, init: Some(exact_inits(4, d, 900 + k as u64)) };
        for rt in [RayTracing::new(dt, 8), RayTracing { integrator: Integrator::Omelyan, ..RayTracing::new(dt, 8) }] {
            let draws = run(&rt, &target, &cfg).unwrap();
            let dphi = mean(&draws.stat("dphi__").unwrap().concat());
            eprintln!("{:?}, dt {dt}: mean change of direction per step {dphi:.4}", rt.integrator);
            assert!((dphi / dt - 1.0).abs() < 0.05, "{:?}, dt {dt}: ⟨Δφ⟩ {dphi}", rt.integrator);
        }
    }
}
