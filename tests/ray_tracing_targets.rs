//! The Ray Tracing Sampler on harder targets (issue #4, item 6): invariance from exact draws of an
//! ill-conditioned 100-d Gaussian with the adapted step size, barrier crossing on the 2-D mixture
//! of the paper's Figure 1 (both modes visited in the right proportion, per-mode moments), and
//! recovery of posteriordb reference posteriors with the Metropolis test on (the rule of
//! `tests/posteriordb.rs`).
//!
//! `cargo test --release --test ray_tracing_targets -- --nocapture` prints the numbers.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use snell::diagnostics::{ess_mean, mcse_mean};
use snell::sampler::ray_tracing::RayTracing;
use snell::sampler::{run, RunConfig};
use snell::target::FnDensity;
use snell_examples::posteriordb::*;

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Standard deviations of the ill-conditioned Gaussian: variances log-spaced 1e-2 … 1e2.
fn ill_sds(d: usize) -> Vec<f64> {
    (0..d).map(|i| 10f64.powf(-1.0 + 2.0 * i as f64 / (d - 1) as f64)).collect()
}

#[test]
fn leaves_an_ill_conditioned_100d_gaussian_invariant_with_the_adapted_step() {
    let d = 100;
    let sd = ill_sds(d);
    let s2 = sd.clone();
    let target = FnDensity::new(d, move |q: &[f64], g: &mut [f64]| {
        let mut lp = 0.0;
        for i in 0..q.len() {
            let z = q[i] / s2[i];
            lp -= 0.5 * z * z;
            g[i] = -z / s2[i];
        }
        lp
    });
    // the paper's sampler (no metric): the step size a warmup finds on this target
    let rt = RayTracing::new(0.3, 5);
    let warm = run(&rt, &target, &RunConfig { chains: 2, warmup: 400, draws: 1, seed: 70, init: None }).unwrap();
    let dt = mean(&warm.chains.iter().map(|c| c.step_size).collect::<Vec<_>>());
    eprintln!("adapted dt {:?}", warm.chains.iter().map(|c| c.step_size).collect::<Vec<_>>());
    // many short chains from exact draws with that step, no warmup
    let chains = 64;
    let mut rng = ChaCha8Rng::seed_from_u64(71);
    let inits: Vec<Vec<f64>> = (0..chains).map(|_| sd.iter().map(|s| { let z: f64 = StandardNormal.sample(&mut rng); s * z }).collect()).collect();
    let draws = run(&RayTracing { step_size: dt, ..rt }, &target, &RunConfig { chains, warmup: 0, draws: 40, seed: 72, init: Some(inits) }).unwrap();
    let acc = mean(&draws.stat("accept_stat__").unwrap().concat());
    eprintln!("acceptance {acc:.3}, {} divergences", draws.divergences());
    assert!(acc > 0.5, "acceptance {acc}");
    assert_eq!(draws.divergences(), 0);
    // standardised final states z = x/σ are exact N(0, 1) draws if the kernel is invariant;
    // check them pooled over the smallest, middle and largest scales, and over all coordinates
    let last: Vec<Vec<f64>> = draws.chains.iter().map(|c| c.values[c.values.len() - d..].iter().zip(&sd).map(|(x, s)| x / s).collect()).collect();
    for (what, range) in [("smallest sds", 0..20), ("middle sds", 40..60), ("largest sds", 80..100), ("all", 0..100)] {
        let z: Vec<f64> = last.iter().flat_map(|c| c[range.clone()].to_vec()).collect();
        let n = z.len() as f64;
        let m = mean(&z);
        let var = z.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
        eprintln!("{what}: mean {m:.4}, variance {var:.4} ({n} values)");
        assert!(m.abs() < 4.0 / n.sqrt(), "{what}: mean {m}");
        assert!((var - 1.0).abs() < 4.0 * (2.0 / n).sqrt(), "{what}: variance {var}");
    }
    // and the small scales really moved: their lag-40 correlation with the start is small
    let z0: Vec<f64> = draws.chains.iter().map(|c| c.values[0] / sd[0]).collect();
    let zn: Vec<f64> = last.iter().map(|c| c[0]).collect();
    let corr = z0.iter().zip(&zn).map(|(a, b)| a * b).sum::<f64>() / chains as f64;
    assert!(corr.abs() < 0.5, "x.1 hardly moved: correlation {corr}");
}

/// The 2-D mixture of the paper's Figure 1: L(x) = [φ(x₁−2) + φ(x₁+2)]·φ(x₂).
fn mixture() -> FnDensity<impl Fn(&[f64], &mut [f64]) -> f64 + Sync> {
    snell_examples::targets::figure1_mixture()
}

#[test]
fn crosses_the_barrier_of_the_2d_mixture_in_the_right_proportion() {
    let target = mixture();
    let draws = run(&RayTracing::default(), &target, &RunConfig { chains: 16, warmup: 300, draws: 1500, seed: 80, init: Some(vec![vec![2.0, 0.0]]) }).unwrap();
    let x1 = draws.param("x.1").unwrap();
    let x2 = draws.param("x.2").unwrap();
    let right: Vec<Vec<f64>> = x1.iter().map(|c| c.iter().map(|x| f64::from(u8::from(*x > 0.0))).collect()).collect();
    let views: Vec<&[f64]> = right.iter().map(|c| c.as_slice()).collect();
    let frac = mean(&right.concat());
    let se = mcse_mean(&views);
    let crossings: Vec<usize> = right.iter().map(|c| c.windows(2).filter(|w| w[0] != w[1]).count()).collect();
    eprintln!("fraction x₁ > 0: {frac:.4} ± {se:.4} (ESS {:.0}); crossings per chain {crossings:?}", ess_mean(&views));
    // not vacuous: every chain crosses often and the MCSE is small
    assert!(crossings.iter().all(|&k| k >= 50), "too few crossings: {crossings:?}");
    assert!(se < 0.03, "MCSE of the fraction {se}");
    assert!((frac - 0.5).abs() < 4.0 * se, "fraction {frac} ± {se}");
    // per-mode moments: x₁ | x₁ > 0 has mean 2(2Φ(2)−1) + 2φ(2) and second moment 5; x₂ is N(0, 1)
    let phi2 = (-2.0f64).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let cdf2 = 0.977_249_868_051_820_8;
    let m1 = 2.0 * (2.0 * cdf2 - 1.0) + 2.0 * phi2;
    let sd1 = (5.0 - m1 * m1).sqrt();
    for (side, sign) in [("x₁ > 0", 1.0), ("x₁ < 0", -1.0)] {
        // per-chain means of the mode's draws; their spread gives the standard error
        let per_chain = |f: &dyn Fn(f64, f64) -> f64| -> (f64, f64) {
            let ms: Vec<f64> = x1.iter().zip(&x2).map(|(a, b)| mean(&a.iter().zip(b).filter(|(x, _)| sign * **x > 0.0).map(|(x, y)| f(*x, *y)).collect::<Vec<_>>())).collect();
            let m = mean(&ms);
            (m, (ms.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (ms.len() * (ms.len() - 1)) as f64).sqrt())
        };
        let (mx, sx) = per_chain(&|x, _| sign * x);
        let (vx, svx) = per_chain(&|x, _| (sign * x - m1).powi(2));
        let (my, sy) = per_chain(&|_, y| y);
        let (vy, svy) = per_chain(&|_, y| y * y);
        eprintln!("{side}: E|x₁| {mx:.4} ± {sx:.4} (exact {m1:.4}), var x₁ {vx:.4} ± {svx:.4} (exact {:.4}), E x₂ {my:.4} ± {sy:.4}, E x₂² {vy:.4} ± {svy:.4}", sd1 * sd1);
        // 4 standard errors (from 16 chains) + a small slack
        assert!((mx - m1).abs() < 4.0 * sx + 0.02, "{side}: E|x₁| {mx}");
        assert!((vx - sd1 * sd1).abs() < 4.0 * svx + 0.03, "{side}: var x₁ {vx}");
        assert!(my.abs() < 4.0 * sy + 0.02, "{side}: E x₂ {my}");
        assert!((vy - 1.0).abs() < 4.0 * svy + 0.03, "{side}: E x₂² {vy}");
    }
}

/// Ray tracing with the Metropolis test (defaults, dt from warmup), 4 × (`warmup` + `n`).
fn sample_rt<T: snell::target::Target + Sync>(what: &str, target: &T, warmup: usize, n: usize, seed: u64) -> snell::sampler::Draws {
    sample_with(&RayTracing::default(), what, target, warmup, n, seed)
}

fn sample_with<T: snell::target::Target + Sync>(rt: &RayTracing, what: &str, target: &T, warmup: usize, n: usize, seed: u64) -> snell::sampler::Draws {
    let t = std::time::Instant::now();
    let draws = run(rt, target, &RunConfig { chains: 4, warmup, draws: n, seed, init: None }).unwrap_or_else(|e| panic!("{what}: {e}"));
    let acc = mean(&draws.stat("accept_stat__").unwrap().concat());
    println!("{what}: sampled in {:.1} s, dt {:?}, acceptance {acc:.3}", t.elapsed().as_secs_f64(), draws.chains.iter().map(|c| c.step_size).collect::<Vec<_>>());
    draws
}

#[test]
fn recovers_eight_schools_noncentered() {
    if !references_available() {
        return;
    }
    let r = reference("eight_schools-eight_schools_noncentered");
    let m = EightSchoolsNoncentered::new(&reals(&r["data"]["y"]), &reals(&r["data"]["sigma"])).unwrap();
    assert_matches_reference("ray tracing: eight_schools_noncentered", &r, &sample_rt("eight_schools_noncentered", &m, 1000, 4000, 1));
}

#[test]
fn recovers_low_dim_gauss_mix() {
    if !references_available() {
        return;
    }
    let r = reference("low_dim_gauss_mix-low_dim_gauss_mix");
    let m = LowDimGaussMix::new(&reals(&r["data"]["y"])).unwrap();
    assert_matches_reference("ray tracing: low_dim_gauss_mix", &r, &sample_rt("low_dim_gauss_mix", &m, 3000, 2000, 1));
}

#[test]
fn recovers_ark() {
    if !references_available() {
        return;
    }
    let r = reference("arK-arK");
    let m = ArK::new(&reals(&r["data"]["y"]), r["data"]["K"].as_u64().unwrap() as usize).unwrap();
    assert_matches_reference("ray tracing: arK", &r, &sample_rt("arK", &m, 1000, 6000, 1));
}

#[test]
fn recovers_garch11() {
    if !references_available() {
        return;
    }
    let r = reference("garch-garch11");
    let m = Garch11::new(&reals(&r["data"]["y"]), r["data"]["sigma1"].as_f64().unwrap()).unwrap();
    assert_matches_reference("ray tracing: garch11", &r, &sample_rt("garch11", &m, 1000, 2000, 1));
}

// ---- with a metric estimated in warmup ----------------------------------------------------------

/// Scales from 0.01 to 100: the adapted metric must follow them and the moments must be right.
#[test]
fn a_warmup_metric_whitens_an_ill_conditioned_gaussian() {
    let d = 10;
    let var: Vec<f64> = (0..d).map(|i| 10f64.powf(-2.0 + 4.0 * i as f64 / (d - 1) as f64)).collect();
    let v = var.clone();
    let target = FnDensity::new(d, move |q: &[f64], g: &mut [f64]| {
        let mut lp = 0.0;
        for i in 0..q.len() {
            g[i] = -q[i] / v[i];
            lp -= 0.5 * q[i] * q[i] / v[i];
        }
        lp
    });
    let draws = sample_rt("ill-conditioned Gaussian, metric", &target, 1000, 2000, 4);
    for c in &draws.chains {
        for i in 0..d {
            let ratio = c.inv_metric[i] / var[i];
            assert!((0.6..1.6).contains(&ratio), "coordinate {i}: metric {} for variance {}", c.inv_metric[i], var[i]);
        }
    }
    let s = draws.summary();
    for (row, v) in s.rows()[1..].iter().zip(&var) {
        assert!(row.mean.abs() < 4.0 * row.mcse_mean + 0.02 * v.sqrt(), "{}: mean {} (mcse {})", row.name, row.mean, row.mcse_mean);
        assert!((row.sd / v.sqrt() - 1.0).abs() < 0.1, "{}: sd {} for {}", row.name, row.sd, v.sqrt());
        assert!(row.rhat < 1.01, "{}: R-hat {}", row.name, row.rhat);
    }
    // the unit metric mixes the largest scale far worse with the same budget
    let unit = sample_with(&RayTracing { metric: false, ..RayTracing::default() }, "ill-conditioned Gaussian, unit metric", &target, 1000, 2000, 4);
    let ess = |d: &snell::sampler::Draws| d.summary().rows()[d.names.len()].ess_bulk;
    assert!(ess(&draws) > 3.0 * ess(&unit), "ESS of the widest coordinate: metric {} vs unit {}", ess(&draws), ess(&unit));
}

// ---- badly scaled regressions: the defaults (a metric, a start at the mode, a fixed arc) ---------

#[test]
fn recovers_kidiq_with_a_metric_from_the_mode() {
    if !references_available() {
        return;
    }
    let r = reference("kidiq-kidscore_momhsiq");
    let d = &r["data"];
    let m = KidscoreMomhsiq::new(&reals(&d["kid_score"]), &reals(&d["mom_iq"]), &reals(&d["mom_hs"])).unwrap();
    assert_matches_reference("ray tracing: kidiq", &r, &sample_with(&RayTracing::default(), "kidiq", &m, 1000, 1000, 1));
}

#[test]
fn recovers_sblrc_blr_with_a_metric_from_the_mode() {
    if !references_available() {
        return;
    }
    let r = reference("sblrc-blr");
    let rows: Vec<Vec<f64>> = r["data"]["X"].as_array().unwrap().iter().map(reals).collect();
    let m = Blr::new(&snell::Matrix::from_rows(&rows).unwrap(), &reals(&r["data"]["y"])).unwrap();
    assert_matches_reference("ray tracing: sblrc-blr", &r, &sample_with(&RayTracing::default(), "sblrc-blr", &m, 1000, 1000, 1));
    // the power of the check: from uniform(−2, 2), the paper's sampler (five steps, no metric,
    // no mode start) never gets there
    let stuck = sample_with(&RayTracing::new(0.3, 5), "sblrc-blr, the paper's settings", &m, 1000, 1000, 1);
    assert!(!check_reference("sblrc-blr", &r, &stuck).1.is_empty());
}

#[test]
fn start_at_mode_and_metric_are_refused_with_minibatches() {
    let minibatched = RayTracing::minibatched(snell::sampler::ray_tracing::MinibatchSettings::new(4));
    assert!(snell::sampler::Sampler::validate(&minibatched).is_ok());
    let rt = RayTracing { start_at_mode: true, ..minibatched.clone() };
    assert!(matches!(snell::sampler::Sampler::validate(&rt), Err(snell::sampler::SamplerError::Setting { name: "start_at_mode", .. })));
    let rt = RayTracing { metric: true, ..minibatched };
    assert!(matches!(snell::sampler::Sampler::validate(&rt), Err(snell::sampler::SamplerError::Setting { name: "metric", .. })));
}

// ---- a small network regression: the defaults against NUTS --------------------------------------

mod network {
    use super::*;
    use snell::prelude::*;
    use snell::sampler::nuts::Nuts;
    use snell_examples::sin_net::{self, sin_data, sin_network, test_points, Predictive, SinNet};

    /// A 1-8-1 tanh network on 20 noisy points of sin(x) (25 weights, a multimodal posterior):
    /// ray tracing with its defaults gives the predictive means and sds of NUTS at five points
    /// inside and outside the data, within their Monte Carlo errors.
    #[test]
    fn ray_tracing_with_defaults_agrees_with_nuts_on_a_small_network() {
        let (x, y) = sin_data();
        let net = sin_network(8);
        let model = SinNet::new(&net, &x, &y).unwrap();
        let test_x = Matrix::new(5, 1, vec![-4.0, -2.0, 0.0, 1.5, 3.5]).unwrap();
        let cfg = RunConfig { chains: 4, warmup: 1000, draws: 1000, seed: 3, init: None };
        let reference = Predictive::of(&net, &run(&Nuts::default(), &model, &RunConfig { draws: 2000, ..cfg.clone() }).unwrap(), &test_x).unwrap();
        let rays = Predictive::of(&net, &run(&RayTracing::default(), &model, &cfg).unwrap(), &test_x).unwrap();
        for i in 0..5 {
            eprintln!("x = {}: NUTS {:.4} ± {:.4} (sd {:.4}), rays {:.4} ± {:.4} (sd {:.4}, R-hat {:.3})", rays.x[i], reference.mean[i], reference.mcse[i], reference.sd[i], rays.mean[i], rays.mcse[i], rays.sd[i], rays.rhat[i]);
        }
        let bad = rays.disagreements(&reference, 0.15, 1.02);
        assert!(bad.is_empty(), "{bad:#?}");
    }

    /// The 1-20-1 network (61 weights), the case the sampler is for: ray tracing with its defaults
    /// against the stored reference of a long NUTS run (`examples/network_reference.rs`) at 50
    /// test points on [−5, 5] (the data cover [−3, 3]): every predictive mean within 4 combined
    /// MCSE, every sd within 10%, every R-hat ≤ 1.01.
    #[test]
    fn ray_tracing_with_defaults_matches_the_stored_reference_of_the_1_20_1_network() {
        let reference = sin_net::reference(20).unwrap();
        let (x, y) = sin_data();
        let net = sin_network(20);
        let model = SinNet::new(&net, &x, &y).unwrap();
        let cfg = RunConfig { chains: 4, warmup: 1000, draws: 1000, seed: 3, init: None };
        let rays = Predictive::of(&net, &run(&RayTracing::default(), &model, &cfg).unwrap(), &test_points()).unwrap();
        let worst = |f: &dyn Fn(usize) -> f64| (0..50).map(f).fold(0.0, f64::max);
        eprintln!(
            "1-20-1 at 50 points: R-hat ≤ {:.4}, means within {:.2} combined MCSE, sds within {:.1}%, bulk ESS ≥ {:.0}",
            worst(&|i| rays.rhat[i]),
            worst(&|i| (rays.mean[i] - reference.mean[i]).abs() / (rays.mcse[i].powi(2) + reference.mcse[i].powi(2)).sqrt()),
            100.0 * worst(&|i| (rays.sd[i] / reference.sd[i] - 1.0).abs()),
            rays.ess.iter().cloned().fold(f64::INFINITY, f64::min)
        );
        let bad = rays.disagreements(&reference, 0.10, 1.01);
        assert!(bad.is_empty(), "{bad:#?}");
        // the check has power: the posterior of a narrower network (1-8-1) on the same data
        // predicts differently where the data are sparse
        let narrow = sin_network(8);
        let other = SinNet::new(&narrow, &x, &y).unwrap();
        let draws = run(&RayTracing::default(), &other, &RunConfig { warmup: 500, draws: 500, ..cfg }).unwrap();
        let moved = Predictive::of(&narrow, &draws, &test_points()).unwrap().disagreements(&reference, 0.10, f64::INFINITY);
        assert!(moved.len() >= 5, "the 1-8-1 posterior passes for the 1-20-1 one: {moved:#?}");
    }
}
