//! The ray tracing sampler with stochastic gradients (Behroozi 2025, §2.11.3): a Bayesian
//! linear regression with known noise (`#[model(observations(x, y))]`, exact Gaussian posterior)
//! sampled with minibatch gradients stays close to the exact posterior, and closer than static HMC
//! with the same minibatches and step; on the paper's gradient-noise toy ray tracing heats far less
//! than HMC; every gradient sees a fresh batch from the per-epoch shuffled schedule; the threshold
//! rule rejects; settings errors are `Result` errors.

mod common;

use snell::prelude::*;
use snell::sampler::minibatch::Order;
use snell::sampler::ray_tracing::{Integrator, MinibatchSettings, RayTracing, Weighting};
use snell::sampler::{run, Draws, RunConfig, SamplerError};
use snell::target::{FnDensity, Target};
use snell_examples::regression::{LinregKnownSigma, Regression};
use std::sync::Mutex;

/// The same model without observations marked.
#[model]
fn linreg_plain(x: &Matrix, y: &[f64], sigma: f64) {
    let beta = sample!([x.cols()] ~ Normal(0.0, 10.0));
    observe!(y ~ Normal(x.matvec(beta), sigma));
}

const N: usize = 1000;
const SIGMA: f64 = Regression::SIGMA;

/// K = 20 coefficients, N = 1000 observations, and the exact posterior mean and sds.
fn model() -> (LinregKnownSigma, Vec<f64>, Vec<f64>) {
    let r = Regression::simulate(N, 20, 7);
    (r.model().unwrap(), r.mean, r.sd)
}

/// Minibatch rays: dt ≈ 0.25 × the posterior scale (0.045), 10 steps per trajectory.
fn minibatch_rt(batch_size: usize) -> RayTracing {
    RayTracing { metropolis: false, minibatch: Some(MinibatchSettings::new(batch_size)), ..RayTracing::new(0.01, 10) }
}

fn sample(rt: &RayTracing, m: &LinregKnownSigma, seed: u64) -> Draws {
    run(rt, m, &RunConfig { chains: 4, warmup: 300, draws: 2000, seed, init: None }).unwrap()
}

/// (largest |mean − exact| in MCSE units + sd fraction, sd / exact sd per coefficient).
fn deviations(what: &str, draws: &Draws, mean: &[f64], sd: &[f64]) -> Vec<(f64, f64, f64)> {
    let s = draws.summary();
    (0..mean.len())
        .map(|i| {
            let r = s.row(&format!("beta.{}", i + 1)).unwrap();
            if i < 3 { eprintln!("{what}: beta.{}: mean {:.4} (exact {:.4}, mcse {:.4}), sd {:.4} (exact {:.4}, ratio {:.3}), ESS {:.0}", i + 1, r.mean, mean[i], r.mcse_mean, r.sd, sd[i], r.sd / sd[i], r.ess_bulk); }
            (r.mean - mean[i], r.mcse_mean, r.sd / sd[i])
        })
        .collect()
}

#[test]
fn minibatch_rays_stay_close_to_the_exact_posterior_and_heat_less_than_hmc() {
    // K = 20 coefficients, N = 1000, batches of 50 (5%), dt = 0.01 ≈ 0.3 × the posterior sd, 10
    // steps. The minibatch noise dominates the gradient here (|noise| ≈ 2× |signal|); measured:
    // ray tracing's sds shrink by 14–26% (exact gradients without Metropolis: 2–5%), its means stay
    // within MCSE; static HMC with the same batches and step heats without bound.
    let (m, mean, sd) = model();
    let plain = RayTracing { metropolis: false, ..RayTracing::new(0.01, 10) };
    let exact = deviations("exact gradients, no Metropolis", &sample(&plain, &m, 1), &mean, &sd);
    // a batch of all N observations in order is the exact gradient (plumbing and N/B scaling)
    let all = RayTracing { minibatch: Some(MinibatchSettings { order: Order::Sequential, ..MinibatchSettings::new(N) }), ..plain.clone() };
    let full = deviations("minibatch B = N", &sample(&all, &m, 1), &mean, &sd);
    let rt = deviations("ray tracing, B = 50", &sample(&minibatch_rt(50), &m, 2), &mean, &sd);
    let hmc_rt = RayTracing { weighting: Weighting::Hmc, integrator: Integrator::Kdk, ..minibatch_rt(50) };
    let hmc = deviations("static HMC, B = 50", &sample(&hmc_rt, &m, 3), &mean, &sd);
    for (i, ((e, f), r)) in exact.iter().zip(&full).zip(&rt).enumerate() {
        assert!(e.0.abs() < 4.0 * e.1 + 0.05 * sd[i] && f.0.abs() < 4.0 * f.1 + 0.05 * sd[i], "beta.{}: exact-gradient means off", i + 1);
        // (the exact-gradient run's warmup tunes dt; the minibatch runs use dt = 0.01 as given)
        assert!((e.2 - 1.0).abs() < 0.08 && (f.2 - 1.0).abs() < 0.08, "beta.{}: sd ratios {} (exact) and {} (B = N)", i + 1, e.2, f.2);
        assert!(r.0.abs() < 4.0 * r.1 + 0.1 * sd[i], "beta.{}: minibatch mean off by {} (mcse {})", i + 1, r.0, r.1);
        assert!((0.7..1.1).contains(&r.2), "beta.{}: minibatch sd ratio {}", i + 1, r.2);
        let h = hmc[i].2;
        assert!(h.is_nan() || h >= 2.0, "beta.{}: minibatch HMC sd ratio {h}: expected it to heat", i + 1);
    }
}

/// y_i ~ N(θ₁ + θ₂·t_i, 1) with N(0, 10²) priors, written by hand; records every batch it sees.
struct Recording {
    t: Vec<f64>,
    y: Vec<f64>,
    batches: Mutex<Vec<Vec<usize>>>,
    full_calls: Mutex<usize>,
}

impl Recording {
    fn new(n: usize) -> Self {
        let t: Vec<f64> = (0..n).map(|i| i as f64 / n as f64 - 0.5).collect();
        let y = t.iter().map(|t| 1.0 + 2.0 * t).collect();
        Self { t, y, batches: Mutex::new(vec![]), full_calls: Mutex::new(0) }
    }
    fn eval(&self, q: &[f64], obs: &[usize], scale: f64, grad: &mut [f64]) -> f64 {
        let mut lp = -0.5 * (q[0] * q[0] + q[1] * q[1]) / 100.0;
        grad[0] = -q[0] / 100.0;
        grad[1] = -q[1] / 100.0;
        for &i in obs {
            let r = self.y[i] - q[0] - q[1] * self.t[i];
            lp -= 0.5 * scale * r * r;
            grad[0] += scale * r;
            grad[1] += scale * r * self.t[i];
        }
        lp
    }
}

impl Target for Recording {
    fn dim(&self) -> usize {
        2
    }
    fn logp_grad_batch(&self, q: &[f64], lp: &mut [f64], grad: &mut [f64]) -> Result<(), ModelError> {
        snell::target::logp_grad_rows(self.dim(), q, lp, grad, |q, g| self.logp_grad(q, g))
    }
    fn logp_grad(&self, q: &[f64], grad: &mut [f64]) -> Result<f64, ModelError> {
        *self.full_calls.lock().unwrap() += 1;
        Ok(self.eval(q, &(0..self.y.len()).collect::<Vec<_>>(), 1.0, grad))
    }
    fn names(&self) -> Vec<String> {
        vec!["a".into(), "b".into()]
    }
    fn output_values(&self, q: &[f64]) -> Result<Vec<f64>, ModelError> {
        Ok(q.to_vec())
    }
    fn observations(&self) -> Option<usize> {
        Some(self.y.len())
    }
    fn logp_grad_minibatch(&self, q: &[f64], batch: &[usize], grad: &mut [f64]) -> Result<f64, ModelError> {
        self.batches.lock().unwrap().push(batch.to_vec());
        Ok(self.eval(q, batch, self.y.len() as f64 / batch.len() as f64, grad))
    }
}

#[test]
fn every_gradient_sees_the_next_batch_of_a_shuffled_schedule() {
    let target = Recording::new(10);
    let rt = RayTracing { metropolis: false, minibatch: Some(MinibatchSettings::new(4)), ..RayTracing::new(0.1, 3) };
    let draws = run(&rt, &target, &RunConfig { chains: 1, warmup: 2, draws: 8, seed: 5, init: None }).unwrap();
    let batches = target.batches.lock().unwrap().clone();
    // one full evaluation (the initial point), then only minibatches: one at the start of the
    // chain and one per gradient of every trajectory
    assert_eq!(*target.full_calls.lock().unwrap(), 1);
    let n_grad: f64 = draws.stat("n_grad__").unwrap().concat().iter().sum();
    assert_eq!(batches.len() as f64, 1.0 + n_grad + 2.0 * 4.0, "batches {} vs gradients {n_grad} (+ 2 warmup draws of 4)", batches.len());
    // epochs of sizes 4, 4, 2, each a permutation of the 10 observations, different each epoch
    let epochs: Vec<Vec<usize>> = batches.chunks(3).filter(|c| c.len() == 3).map(|c| c.concat()).collect();
    for (k, e) in epochs.iter().enumerate() {
        let mut s = e.clone();
        s.sort();
        assert_eq!(s, (0..10).collect::<Vec<_>>(), "epoch {k}");
    }
    assert!(batches.chunks(3).all(|c| c.iter().map(Vec::len).collect::<Vec<_>>()[..] == [4, 4, 2][..c.len()]));
    assert!(epochs.windows(2).any(|w| w[0] != w[1]), "the epochs must be reshuffled");
}

#[test]
fn the_threshold_rule_rejects_large_errors() {
    let target = Recording::new(50);
    let run_with = |bound: f64| {
        let rt = RayTracing { metropolis: false, minibatch: Some(MinibatchSettings { reject_above: Some(bound), ..MinibatchSettings::new(5) }), ..RayTracing::new(0.05, 5) };
        let draws = run(&rt, &target, &RunConfig { chains: 1, warmup: 0, draws: 200, seed: 6, init: Some(vec![vec![1.0, 2.0]]) }).unwrap();
        let a = draws.param("a").unwrap().concat();
        a.windows(2).filter(|w| w[0] != w[1]).count()
    };
    let (strict, loose) = (run_with(1e-9), run_with(1e9));
    eprintln!("moves in 200 draws: bound 1e-9 → {strict}, bound 1e9 → {loose}");
    assert_eq!(strict, 0);
    assert_eq!(loose, 199);
}

#[test]
fn same_seed_same_minibatch_draws_whatever_the_thread_count() {
    let (m, _, _) = model();
    let rt = minibatch_rt(50);
    let cfg = RunConfig { chains: 3, warmup: 20, draws: 30, seed: 9, init: None };
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(|| run(&rt, &m, &cfg).unwrap());
    let two = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap().install(|| run(&rt, &m, &cfg).unwrap());
    assert_eq!(one, two);
    assert_ne!(one, run(&rt, &m, &RunConfig { seed: 10, ..cfg }).unwrap());
}

#[test]
fn minibatch_settings_errors() {
    let (m, _, _) = model();
    let cfg = RunConfig { chains: 1, warmup: 5, draws: 5, ..Default::default() };
    let err = |rt: RayTracing, target: &(dyn Target + Sync)| match run(&rt, target, &cfg) {
        Err(SamplerError::Setting { name, detail }) => (name, detail),
        other => panic!("expected a settings error, got {other:?}"),
    };
    assert_eq!(err(minibatch_rt(0), &m).0, "batch_size");
    let (name, detail) = err(minibatch_rt(N + 1), &m);
    assert_eq!(name, "batch_size");
    assert!(detail.contains("1001 for 1000 observations"), "{detail}");
    // the Metropolis test needs exact densities
    assert_eq!(err(RayTracing { metropolis: true, ..minibatch_rt(10) }, &m).0, "metropolis");
    assert_eq!(err(RayTracing { minibatch: Some(MinibatchSettings { reject_above: Some(0.0), ..MinibatchSettings::new(10) }), ..minibatch_rt(10) }, &m).0, "reject_above");
    assert_eq!(err(RayTracing { weighting: Weighting::Microcanonical, ..minibatch_rt(10) }, &m).0, "weighting");
    // a model without observations, and a hand-written density
    let r = Regression::simulate(N, 20, 7);
    let plain = LinregPlain::new(&Matrix::from_rows(&r.rows).unwrap(), &r.y, SIGMA).unwrap();
    let (name, detail) = err(minibatch_rt(10), &plain);
    assert_eq!(name, "minibatch");
    assert!(detail.contains("observations(x, y)"), "{detail}");
    let f = FnDensity::new(2, |q: &[f64], g: &mut [f64]| {
        g.copy_from_slice(q);
        0.0
    });
    assert_eq!(err(minibatch_rt(10), &f).0, "minibatch");
}

/// Median of the true ln L = −½|x|² over the draws of `chains` chains started from exact draws.
fn median_lnl(rt: &RayTracing, d: usize, sigma: f64, chains: usize, seed: u64) -> f64 {
    let target = snell_examples::targets::NoisyGaussian::new(d, sigma);
    let inits = common::exact_inits(chains, d, seed);
    let draws = run(rt, &target, &RunConfig { chains, warmup: 10, draws: 60, seed, init: Some(inits) }).unwrap();
    let mut lnl: Vec<f64> = draws.chains.iter().flat_map(|c| c.values.chunks(d).map(|x| -0.5 * x.iter().map(|v| v * v).sum::<f64>()).collect::<Vec<_>>()).collect();
    lnl.sort_by(f64::total_cmp);
    lnl[lnl.len() / 2]
}

/// §1.16 item 7 (the paper's Eq. 34 toy, here in D = 1000): gradients with noise σ per coordinate,
/// RDKD steps of 0.03, 52 per trajectory, no Metropolis test. Measured shifts of the median ln L
/// against the noise-free run: ray tracing +0.2 (σ = 3) and −1.4 (σ = 10); static HMC −10 (σ = 1)
/// and −92 (σ = 3). The sd of ln L is √(D/2) ≈ 22, the median of 480 draws moves by ~1–2 by chance.
#[test]
fn gradient_noise_heats_rays_far_less_than_hmc() {
    let d = 1000;
    let batches = MinibatchSettings { order: Order::WithReplacement, ..MinibatchSettings::new(1) };
    let rt = RayTracing { integrator: Integrator::Rdkd, metropolis: false, minibatch: Some(batches), ..RayTracing::new(0.03, 52) };
    let hmc = RayTracing { weighting: Weighting::Hmc, ..rt.clone() };
    let (rt0, hmc0) = (median_lnl(&rt, d, 0.0, 8, 1), median_lnl(&hmc, d, 0.0, 8, 1));
    let (rt3, rt10) = (median_lnl(&rt, d, 3.0, 8, 1) - rt0, median_lnl(&rt, d, 10.0, 8, 1) - rt0);
    let (hmc1, hmc3) = (median_lnl(&hmc, d, 1.0, 8, 1) - hmc0, median_lnl(&hmc, d, 3.0, 8, 1) - hmc0);
    eprintln!("Δ median ln L: ray tracing {rt3:+.1} (σ = 3), {rt10:+.1} (σ = 10); static HMC {hmc1:+.1} (σ = 1), {hmc3:+.1} (σ = 3)");
    assert!(hmc3 < -40.0, "the noise must heat HMC (power of the check): {hmc3}");
    assert!(rt3.abs() < 4.0, "ray tracing at σ = 3: {rt3}");
    assert!(rt10.abs() < hmc1.abs(), "ray tracing at σ = 10 ({rt10}) must heat less than HMC at σ = 1 ({hmc1})");
}

// ---- the step tuned to a mean change of direction per step -------------------------------------

fn mean_stat(draws: &Draws, name: &str) -> f64 {
    let v: Vec<f64> = draws.stat(name).unwrap().concat();
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn warmup_tunes_dt_to_a_target_change_of_direction() {
    // the unit Gaussian: ⟨Δφ⟩ ≈ dt, so the tuned dt is the target, and the chain stays exact
    let d = 50;
    let target = FnDensity::new(d, |q, g| {
        g.iter_mut().zip(q).for_each(|(g, q)| *g = -q);
        -0.5 * q.iter().map(|q| q * q).sum::<f64>()
    });
    for want in [0.1, 0.4] {
        // trajectories sweep about π/2, as the paper sizes them
        let n_steps = (std::f64::consts::FRAC_PI_2 / want).round() as usize;
        let rt = RayTracing { target_dphi: Some(want), n_steps: Some(n_steps), ..RayTracing::default() };
        let draws = run(&rt, &target, &RunConfig { chains: 2, warmup: 300, draws: 400, seed: 3, init: None }).unwrap();
        let got = mean_stat(&draws, "dphi__");
        assert!((got / want - 1.0).abs() < 0.1, "target {want}: measured ⟨Δφ⟩ {got}");
        for c in &draws.chains {
            assert!((c.step_size / want - 1.0).abs() < 0.2, "target {want}: dt {}", c.step_size);
        }
        // E x_i² = 1, pooled over the 50 coordinates
        let sq: Vec<f64> = draws.chains.iter().flat_map(|c| c.values.iter().map(|v| v * v)).collect();
        let var = sq.iter().sum::<f64>() / sq.len() as f64;
        assert!((var - 1.0).abs() < 0.08, "target {want}: mean x_i² {var}");
    }
}

#[test]
fn a_target_change_of_direction_tunes_minibatch_rays() {
    let (m, _, _) = model();
    let fixed = minibatch_rt(50);
    let tuned = RayTracing { target_dphi: Some(0.05), ..fixed.clone() };
    let draws = sample(&tuned, &m, 2);
    let got = mean_stat(&draws, "dphi__");
    assert!((got / 0.05 - 1.0).abs() < 0.15, "measured ⟨Δφ⟩ {got}");
    // without the target the step is used as given: the measured turning is elsewhere
    let untuned = mean_stat(&sample(&fixed, &m, 2), "dphi__");
    assert!((untuned / 0.05 - 1.0).abs() > 0.3, "untuned ⟨Δφ⟩ {untuned}");
    for bad in [0.0, -1.0, 4.0, f64::NAN] {
        let rt = RayTracing { target_dphi: Some(bad), ..RayTracing::default() };
        assert!(matches!(snell::sampler::Sampler::validate(&rt), Err(SamplerError::Setting { name: "target_dphi", .. })), "{bad}");
    }
}

#[test]
fn a_target_change_of_direction_with_the_warmup_metric() {
    // scales 0.1 … 10: after the metric whitens them, ⟨Δφ⟩ ≈ dt again, and the target is reached
    let d = 20;
    let sd: Vec<f64> = (0..d).map(|i| 10f64.powf(-1.0 + 2.0 * i as f64 / (d - 1) as f64)).collect();
    let s2 = sd.clone();
    let target = FnDensity::new(d, move |q, g| {
        let mut lp = 0.0;
        for i in 0..q.len() {
            g[i] = -q[i] / (s2[i] * s2[i]);
            lp -= 0.5 * (q[i] / s2[i]).powi(2);
        }
        lp
    });
    let rt = RayTracing { target_dphi: Some(0.2), metric: true, n_steps: Some(8), ..RayTracing::default() };
    let draws = run(&rt, &target, &RunConfig { chains: 2, warmup: 1000, draws: 400, seed: 5, init: None }).unwrap();
    let got = mean_stat(&draws, "dphi__");
    assert!((got / 0.2 - 1.0).abs() < 0.15, "measured ⟨Δφ⟩ {got}");
}
