//! Langevin kernels and the MAP optimiser: BAOAB samples a Gaussian exactly in position at any stable step while its end-of-step
//! kinetic temperature is biased by −dt²/4, so the bias measured at two step sizes scales as dt²;
//! BAOAB as a sampler (burn-in then production) recovers a Gaussian and the Langevin workflow's Beta–Binomial
//! validation posterior (mean 6/52); MALA removes the bias of the
//! unadjusted Langevin step (variance 1, where SGLD with the same step and full batches gives the
//! theoretical 4/3) and its warmup reaches acceptance 0.574; SGLD on minibatches centres on the
//! posterior mean; Adam finds the closed-form mode; bad settings are errors.

mod common;
use common::{exact_inits, std_normal};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use snell::prelude::*;
use snell::sampler::langevin::{baoab_step, Baoab, LangevinParams};
use snell::sampler::mala::Mala;
use snell::sampler::map::{find_map, Adam};
use snell::sampler::phase_space::Point;
use snell::sampler::sgld::{Sgld, StepSchedule};
use snell::sampler::{run, Order, RunConfig, SamplerError};

/// Mean and batch-means standard error of a long autocorrelated series.
fn mean_bm(x: &[f64], batch: usize) -> (f64, f64) {
    let means: Vec<f64> = x.chunks_exact(batch).map(|c| c.iter().sum::<f64>() / batch as f64).collect();
    let k = means.len() as f64;
    let m = means.iter().sum::<f64>() / k;
    (m, (means.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (k - 1.0) / k).sqrt())
}

/// Position variance and end-of-step ⟨p²⟩/m of BAOAB on N(0, 1) (with their standard errors).
fn baoab_moments(dt: f64, steps: usize, seed: u64) -> ((f64, f64), (f64, f64)) {
    let target = std_normal(1);
    let params = LangevinParams { step_size: dt, gamma: 1.0, mass: 1.0, beta: 1.0 };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut z = Point::new(&target, vec![0.3]).unwrap();
    params.draw_momentum(&mut rng, &mut z.p);
    let (mut q2, mut p2) = (Vec::with_capacity(steps), Vec::with_capacity(steps));
    for i in 0..steps + 1000 {
        assert!(!baoab_step(&target, &mut rng, &mut z, &params).unwrap());
        if i >= 1000 {
            q2.push(z.q[0] * z.q[0]);
            p2.push(z.p[0] * z.p[0]);
        }
    }
    (mean_bm(&q2, 2000), mean_bm(&p2, 2000))
}

#[test]
fn baoab_is_exact_in_position_and_second_order_in_momentum_on_a_gaussian() {
    let mut bias = Vec::new();
    for (dt, seed) in [(0.5, 1), (1.0, 2)] {
        let ((vq, se_q), (vp, se_p)) = baoab_moments(dt, 400_000, seed);
        assert!((vq - 1.0).abs() < 4.0 * se_q, "dt {dt}: Var(q) = {vq} ± {se_q}, want 1 exactly");
        let want = 1.0 - dt * dt / 4.0;
        assert!((vp - want).abs() < 4.0 * se_p, "dt {dt}: <p²> = {vp} ± {se_p}, want {want}");
        assert!((1.0 - vp) > 6.0 * se_p, "dt {dt}: the momentum bias must be measurable");
        bias.push((1.0 - vp, se_p));
    }
    // doubling dt multiplies the bias by 4 (O(dt²)), not 2 (O(dt))
    let ratio = bias[1].0 / bias[0].0;
    let se = ratio * ((bias[0].1 / bias[0].0).powi(2) + (bias[1].1 / bias[1].0).powi(2)).sqrt();
    assert!((ratio - 4.0).abs() < 4.0 * se && (ratio - 2.0).abs() > 4.0 * se, "bias ratio {ratio} ± {se}");
}

/// `π(x) ∝ exp(−x⁴/4)`: far from Gaussian, so that a step of 1 biases an unadjusted integrator.
/// `E[x²] = 2 Γ(3/4) / Γ(1/4)`.
const QUARTIC_X2: f64 = 0.675_978_240_067_284_8;

#[test]
fn metropolized_baoab_leaves_a_non_gaussian_target_invariant_at_a_large_step() {
    let quartic = snell::target::FnDensity::new(1, |q, g| {
        g[0] = -q[0].powi(3);
        -0.25 * q[0].powi(4)
    });
    // no warmup: step 1 and a unit mass, kept throughout; 16 chains from scattered starts
    let init: Vec<Vec<f64>> = (0..16).map(|c| vec![-1.5 + 0.2 * c as f64]).collect();
    let cfg = RunConfig { chains: 16, warmup: 0, draws: 3000, seed: 3, init: Some(init) };
    let draws = run(&Baoab { draw_time: 2.0, ..Baoab::default() }, &quartic, &cfg).unwrap();
    let x2: Vec<f64> = draws.chains.iter().flat_map(|c| c.values.iter().map(|x| x * x)).collect();
    let s = snell::diagnostics::Summary::new(&["x2"], &draws.chains.iter().map(|c| c.values.iter().map(|x| x * x).collect::<Vec<_>>()).collect::<Vec<_>>());
    let row = s.row("x2").unwrap();
    assert!((row.mean - QUARTIC_X2).abs() < 4.0 * row.mcse_mean, "E[x²] = {} ± {}, exact {QUARTIC_X2}", row.mean, row.mcse_mean);
    assert!(row.mcse_mean < 0.01, "the check has power: MCSE {}", row.mcse_mean);
    let accept = draws.stat("accept_stat__").unwrap().concat();
    let mean_accept = accept.iter().sum::<f64>() / accept.len() as f64;
    assert!(mean_accept < 0.97, "a step of 1 is rejected often enough to matter: acceptance {mean_accept}");
    assert_eq!(x2.len(), 16 * 3000);
    // the unadjusted integrator at the same step escapes to infinity (the quartic's forces grow
    // faster than a fixed step can follow); nothing rejects its steps
    let unadjusted = run(&Baoab::constant(LangevinParams { step_size: 1.0, gamma: 1.0, mass: 1.0, beta: 1.0 }), &quartic, &RunConfig { init: Some(vec![vec![0.0]; 16]), ..cfg }).unwrap();
    let largest = unadjusted.chains.iter().flat_map(|c| c.values.iter()).fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(largest > 1e6, "unadjusted BAOAB at step 1 stayed within {largest}");
}

/// Unadjusted BAOAB's draws carry, as `accept_stat__`, the acceptance a Metropolis test on each
/// step's shadow work would have had, and its warning says it: near 100% where the step's bias in
/// E[x²] is within Monte Carlo error, clearly lower where the bias is many standard errors. The
/// target `π(x) ∝ exp(−√(1 + x²))` has bounded forces, so even large steps stay stable (a
/// Gaussian would not do: BAOAB is exact in position there).
#[test]
fn unadjusted_baoab_says_by_how_much_its_step_biases_the_draws() {
    let hyperbolic = snell::target::FnDensity::new(1, |q, g| {
        let r = (1.0 + q[0] * q[0]).sqrt();
        g[0] = -q[0] / r;
        -r
    });
    // E[x²] by the trapezoid rule on [−80, 80] (the tails beyond weigh e⁻⁸⁰)
    let (mut z, mut m2) = (0.0, 0.0);
    for k in -800_000..=800_000 {
        let x = k as f64 * 1e-4;
        let w = (-(1.0 + x * x).sqrt()).exp();
        z += w;
        m2 += w * x * x;
    }
    let exact = m2 / z;
    let init: Vec<Vec<f64>> = (0..16).map(|c| vec![-1.5 + 0.2 * c as f64]).collect();
    // low friction: BAOAB's position error is smallest at high friction
    let cfg = RunConfig { chains: 16, warmup: 0, draws: 8000, seed: 5, init: Some(init) };
    let mut seen = Vec::new();
    for dt in [0.2, 1.9] {
        let draws = run(&Baoab::constant(LangevinParams { step_size: dt, gamma: 0.2, mass: 1.0, beta: 1.0 }), &hyperbolic, &cfg).unwrap();
        let s = snell::diagnostics::Summary::new(&["x2"], &draws.chains.iter().map(|c| c.values.iter().map(|x| x * x).collect::<Vec<_>>()).collect::<Vec<_>>());
        let row = s.row("x2").unwrap();
        let accept = draws.stat("accept_stat__").unwrap().concat();
        let accept = accept.iter().sum::<f64>() / accept.len() as f64;
        let said = format!("would have accepted {:.1}% of these transitions", 100.0 * accept);
        assert!(draws.warnings().iter().any(|w| w.contains(&said)), "step {dt}: no `{said}` in {:?}", draws.warnings());
        seen.push((dt, accept, (row.mean - exact) / row.mcse_mean, row.mcse_mean));
    }
    let [(_, small_accept, small_z, small_mcse), (_, large_accept, large_z, _)] = seen[..] else { unreachable!() };
    assert!(small_z.abs() < 4.0 && small_mcse < 0.1 * exact, "step 0.2: E[x²] off by {small_z} MCSE (MCSE {small_mcse}, exact {exact}): {seen:?}");
    assert!(small_accept > 0.99, "step 0.2: {seen:?}");
    assert!(large_z.abs() > 4.0, "step 1.9 must be visibly biased: {seen:?}");
    assert!(large_accept < small_accept - 0.05, "the acceptance falls with the bias: {seen:?}");
}

#[test]
fn mala_says_when_its_draws_are_strongly_autocorrelated() {
    // an elongated Gaussian (sds 1 and 30) with no warmup to learn its scales
    let elongated = snell::target::FnDensity::new(2, |q, g| {
        g[0] = -q[0];
        g[1] = -q[1] / 900.0;
        -0.5 * (q[0] * q[0] + q[1] * q[1] / 900.0)
    });
    let cfg = RunConfig { chains: 2, warmup: 0, draws: 500, seed: 2, init: Some(vec![vec![0.0, 0.0]; 2]) };
    let slow = run(&Mala::default(), &elongated, &cfg).unwrap();
    assert!(slow.warnings().iter().any(|w| w.contains("strongly autocorrelated")), "{:?}", slow.warnings());
    // a standard normal after warmup mixes well enough not to be flagged
    let easy = run(&Mala::default(), &std_normal(1), &RunConfig { warmup: 500, draws: 1000, init: None, ..cfg }).unwrap();
    assert!(!easy.warnings().iter().any(|w| w.contains("strongly autocorrelated")), "{:?}", easy.warnings());
}

#[model]
fn regression(x: &[f64], y: &[f64]) {
    let a = sample!(Normal(0.0, 5.0));
    let b = sample!(Normal(0.0, 5.0));
    let sigma = sample!(HalfNormal(1.0));
    observe!(y ~ Normal(a + b * x, sigma));
}

#[test]
fn baoab_with_its_defaults_matches_nuts_on_a_regression() {
    let x: Vec<f64> = (0..30).map(|i| i as f64 / 29.0 - 0.5).collect();
    let y: Vec<f64> = x.iter().enumerate().map(|(i, x)| 0.5 - 1.5 * x + 0.3 * ((i * 7) as f64).sin()).collect();
    let m = Regression::new(&x, &y).unwrap();
    let cfg = RunConfig { chains: 4, warmup: 1000, draws: 1000, seed: 11, init: None };
    let baoab = run(&Baoab::default(), &m, &cfg).unwrap();
    let nuts = run(&snell::sampler::nuts::Nuts::default(), &m, &RunConfig { draws: 3000, ..cfg.clone() }).unwrap();
    assert!(baoab.warnings().is_empty(), "{:?}", baoab.warnings());
    let (sb, sn) = (baoab.summary(), nuts.summary());
    for name in ["a", "b", "sigma"] {
        let (rb, rn) = (sb.row(name).unwrap(), sn.row(name).unwrap());
        let se = (rb.mcse_mean.powi(2) + rn.mcse_mean.powi(2)).sqrt();
        assert!((rb.mean - rn.mean).abs() < 4.0 * se, "{name}: BAOAB {} vs NUTS {} (± {se})", rb.mean, rn.mean);
        assert!((rb.sd / rn.sd - 1.0).abs() < 0.1, "{name}: sd {} vs {}", rb.sd, rn.sd);
        assert!(rb.rhat < 1.01, "{name}: R-hat {}", rb.rhat);
    }
}

#[test]
fn baoab_sampler_with_burn_in_and_production_recovers_a_gaussian() {
    let d = 3;
    let target = std_normal(d);
    let sampler = Baoab::unadjusted(LangevinParams { step_size: 0.2, gamma: 10.0, mass: 10.0, beta: 1.0 }, LangevinParams { step_size: 0.4, gamma: 1.0, mass: 1.0, beta: 1.0 });
    let cfg = RunConfig { chains: 4, warmup: 500, draws: 5000, seed: 3, init: Some(vec![vec![3.0; d]]) };
    let draws = run(&sampler, &target, &cfg).unwrap();
    assert_eq!(draws.divergences(), 0);
    let summary = draws.summary();
    for i in 1..=d {
        let r = summary.row(&format!("x.{i}")).unwrap();
        assert!(r.mean.abs() < 4.0 * r.mcse_mean + 0.01, "x.{i}: mean {} ± {}", r.mean, r.mcse_mean);
        assert!((r.sd - 1.0).abs() < 4.0 * r.mcse_sd + 0.01, "x.{i}: sd {} ± {}", r.sd, r.mcse_sd);
    }
    // temperature β = 4 samples π⁴ = N(0, 1/4)
    let hot = LangevinParams { beta: 4.0, ..sampler.unadjusted.unwrap().production };
    let draws = run(&Baoab::constant(hot), &target, &RunConfig { warmup: 200, ..cfg }).unwrap();
    let r = draws.summary().row("x.1").unwrap().clone();
    assert!((r.sd - 0.5).abs() < 4.0 * r.mcse_sd + 0.01, "β = 4: sd {} ± {}", r.sd, r.mcse_sd);
}

#[test]
fn mala_removes_the_unadjusted_langevin_bias_and_adapts_to_its_target_acceptance() {
    // warmup 0: the initial ε = 1, τ = ε²/2 = 0.5 on N(0, 1), where the unadjusted step has Var 4/3
    let target = std_normal(1);
    let cfg = RunConfig { chains: 4, warmup: 0, draws: 20_000, seed: 4, init: Some(exact_inits(4, 1, 5)) };
    let draws = run(&Mala::default(), &target, &cfg).unwrap();
    let r = draws.summary().row("x.1").unwrap().clone();
    assert!((r.sd * r.sd - 1.0).abs() < 4.0 * 2.0 * r.mcse_sd + 0.01, "MALA variance {} (sd ± {})", r.sd * r.sd, r.mcse_sd);
    // SGLD with constant ε = 2τ = 1 on the full batch is that unadjusted step: Var = s²/(1 − ε/4s²)
    let y: Vec<f64> = vec![0.0; 1];
    let model = Flat1::new(&y).unwrap();
    let sgld = Sgld { batch_size: 1, order: Order::Sequential, schedule: StepSchedule::Constant(1.0) };
    let draws = run(&sgld, &model, &cfg).unwrap();
    let r = draws.summary().row("mu").unwrap().clone();
    assert!((r.sd * r.sd - 4.0 / 3.0).abs() < 4.0 * 2.0 * r.sd * r.mcse_sd + 0.01, "ULA variance {} (sd ± {}), want 4/3", r.sd * r.sd, r.mcse_sd);
    assert!(r.sd * r.sd - 1.0 > 0.2, "power: the unadjusted step is visibly biased");
    // and its warning says by how much: the variance inflation 1/(1 − ε/4) = 4/3 of this step
    let said = draws.warnings().into_iter().find(|w| w.contains("inflates a Gaussian posterior's variance")).unwrap_or_else(|| panic!("{:?}", draws.warnings()));
    let pct: f64 = said.split('%').next().and_then(|t| t.rsplit(' ').next()).and_then(|t| t.parse().ok()).unwrap_or_else(|| panic!("{said}"));
    // the stated inflation moves with the measured variance v by d/dv = −1/2 at v = 4/3: within
    // 4 MCSE of v (2·sd·MCSE of the sd), and half a percent of slack
    let tolerance = 100.0 * 0.5 * 4.0 * 2.0 * r.sd * r.mcse_sd + 0.5;
    assert!((pct - 100.0 / 3.0).abs() < tolerance, "stated inflation {pct}% vs 33.3% (± {tolerance:.1}): {said}");
    // warmup: dual averaging tunes towards 0.574 on a 10-dimensional Gaussian. The step size kept
    // is the dual average, below the last iterates, so sampling accepts more than the target (as
    // Stan's does): 0.66–0.78 over seeds 0–11, never near 0.5 or 1.
    let target = std_normal(10);
    let cfg = RunConfig { chains: 2, warmup: 1000, draws: 1000, seed: 6, init: None };
    let draws = run(&Mala::default(), &target, &cfg).unwrap();
    let acc: Vec<f64> = draws.stat("accept_stat__").unwrap().into_iter().flatten().collect();
    let mean_acc = acc.iter().sum::<f64>() / acc.len() as f64;
    assert!(mean_acc > 0.574 - 0.06 && mean_acc < 0.574 + 0.25, "acceptance after warmup {mean_acc}");
    common::check_invariance(&run(&Mala::default(), &target, &RunConfig { chains: 400, warmup: 0, draws: 5, seed: 7, init: Some(exact_inits(400, 10, 8)) }).unwrap(), 10);
}

/// `mu ~ N(0, 1)`, one observation with zero weight: the posterior is N(0, 1), indexed by
/// observation so SGLD can run on it.
#[model(observations(y))]
fn flat1(y: &[f64]) {
    let mu = sample!(Normal(0.0, 1.0));
    factor!(0.0 * (y[0] - mu));
}

/// `mu ~ N(0, 10²)`, `y_i ~ N(mu, 1)`: the posterior is normal with closed-form moments.
#[model(observations(y))]
fn gauss_mean(y: &[f64]) {
    let mu = sample!(Normal(0.0, 10.0));
    observe!(y ~ Normal(mu, 1.0));
}

fn gauss_data() -> (Vec<f64>, f64, f64) {
    let y: Vec<f64> = (0..100).map(|i| 1.5 + ((i * 37 % 100) as f64 / 100.0 - 0.5) * 2.0).collect();
    let prec = 100.0 + 0.01;
    let mean = y.iter().sum::<f64>() / prec;
    (y, mean, 1.0 / prec)
}

#[test]
fn sgld_on_minibatches_centres_on_the_posterior_mean() {
    let (y, mean, var) = gauss_data();
    let model = GaussMean::new(&y).unwrap();
    let sgld = Sgld { batch_size: 10, order: Order::Shuffled, schedule: StepSchedule::Polynomial { a: var, b: 10.0, gamma: 0.55 } };
    let cfg = RunConfig { chains: 4, warmup: 1000, draws: 10_000, seed: 9, init: None };
    let draws = run(&sgld, &model, &cfg).unwrap();
    let r = draws.summary().row("mu").unwrap().clone();
    assert!((r.mean - mean).abs() < 4.0 * r.mcse_mean + 0.1 * var.sqrt(), "SGLD mean {} ± {} vs {mean}", r.mean, r.mcse_mean);
    // the decreasing steps leave a small excess spread (measured +6%)
    assert!((r.sd / var.sqrt() - 1.0).abs() < 0.15, "SGLD sd {} vs {}", r.sd, var.sqrt());
    let steps: Vec<f64> = draws.stat("stepsize__").unwrap()[0].clone();
    assert!(steps[0] > steps[steps.len() - 1], "decreasing steps");
    // SGLD needs minibatches: a hand-written density without them is an error
    assert!(matches!(run(&sgld, &std_normal(1), &cfg), Err(SamplerError::Setting { name: "target", .. })));
}

#[test]
fn adam_finds_the_closed_form_mode_and_starts_a_sampler() {
    let (y, mean, var) = gauss_data();
    let model = GaussMean::new(&y).unwrap();
    let map = find_map(&model, &[-5.0], &Adam { learning_rate: 0.1, ..Default::default() }).unwrap();
    assert!(map.converged, "{map:?}");
    assert!((map.point[0] - mean).abs() < 1e-6, "mode {} vs {mean}", map.point[0]);
    let cfg = RunConfig { chains: 2, warmup: 200, draws: 2000, seed: 10, init: Some(vec![map.point.clone()]) };
    let draws = run(&Mala::default(), &model, &cfg).unwrap();
    let r = draws.summary().row("mu").unwrap().clone();
    assert!((r.mean - mean).abs() < 4.0 * r.mcse_mean && (r.sd - var.sqrt()).abs() < 4.0 * r.mcse_sd + 0.005);
}

#[test]
fn bad_langevin_settings_are_errors() {
    let target = std_normal(2);
    let cfg = RunConfig { chains: 1, warmup: 10, draws: 10, seed: 0, init: None };
    let ok = LangevinParams { step_size: 0.1, gamma: 1.0, mass: 1.0, beta: 1.0 };
    for (bad, name) in [(LangevinParams { step_size: 0.0, ..ok }, "step_size"), (LangevinParams { gamma: -1.0, ..ok }, "gamma"), (LangevinParams { mass: f64::NAN, ..ok }, "mass"), (LangevinParams { beta: 0.0, ..ok }, "beta")] {
        assert!(matches!(run(&Baoab::unadjusted(ok, bad), &target, &cfg), Err(SamplerError::Setting { name: n, .. }) if n == name));
    }
    let sgld = Sgld { batch_size: 0, order: Order::Shuffled, schedule: StepSchedule::Constant(0.1) };
    assert!(matches!(run(&sgld, &target, &cfg), Err(SamplerError::Setting { name: "batch_size", .. })));
    let sgld = Sgld { batch_size: 1, order: Order::Shuffled, schedule: StepSchedule::Constant(-0.1) };
    assert!(matches!(run(&sgld, &target, &cfg), Err(SamplerError::Setting { name: "schedule", .. })));
    assert!(matches!(find_map(&target, &[0.0], &Adam::default()), Err(SamplerError::Setting { name: "init", .. })));
    // a density that becomes −∞ far out: BAOAB steps there are undone and counted
    let wall = snell::target::FnDensity::new(1, |q: &[f64], g: &mut [f64]| {
        g[0] = -q[0];
        if q[0].abs() > 1.0 { f64::NEG_INFINITY } else { -0.5 * q[0] * q[0] }
    });
    let draws = run(&Baoab::constant(LangevinParams { step_size: 0.5, ..ok }), &wall, &RunConfig { chains: 1, warmup: 0, draws: 2000, seed: 1, init: Some(vec![vec![0.0]]) }).unwrap();
    assert!(draws.divergences() > 0);
    assert!(draws.param("x.1").unwrap()[0].iter().all(|x| x.abs() <= 1.0));
}

/// The Langevin workflow's validation: 5 successes in 50 trials with a Beta(1, 1) prior, posterior Beta(6, 46).
#[model]
fn beta_binomial(k: &[f64], n: &[f64]) {
    let p = sample!(Beta(1.0, 1.0));
    observe!(k ~ BinomialLogit(n, (p / (1.0 - p)).ln()));
}

#[test]
fn baoab_recovers_the_beta_binomial_posterior_mean() {
    let model = BetaBinomial::new(&[5.0], &[50.0]).unwrap();
    let sampler = Baoab::unadjusted(LangevinParams { step_size: 0.05, gamma: 10.0, mass: 10.0, beta: 1.0 }, LangevinParams { step_size: 0.1, gamma: 1.0, mass: 1.0, beta: 1.0 });
    let cfg = RunConfig { chains: 4, warmup: 1000, draws: 20_000, seed: 11, init: None };
    let draws = run(&sampler, &model, &cfg).unwrap();
    let r = draws.summary().row("p").unwrap().clone();
    let exact_mean = 6.0 / 52.0;
    let exact_sd = (6.0f64 * 46.0 / (52.0 * 52.0 * 53.0)).sqrt();
    assert!((r.mean - exact_mean).abs() < 4.0 * r.mcse_mean + 0.002, "mean {} ± {} vs {exact_mean}", r.mean, r.mcse_mean);
    assert!((r.sd - exact_sd).abs() < 4.0 * r.mcse_sd + 0.002, "sd {} ± {} vs {exact_sd}", r.sd, r.mcse_sd);
}
