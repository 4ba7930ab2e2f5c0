//! Simulation-based calibration: NUTS passes on a normal model with unknown mean and scale, and a
//! sampler that returns every position shifted fails.

use rand_chacha::ChaCha8Rng;
use snell::prelude::*;
use snell::sampler::nuts::Nuts;
use snell::sampler::{Chain, Phase, Sampler, SamplerError};
use snell::target::Target;
use snell::sbc::{sbc, SbcConfig, SbcReport};

#[model]
fn normal_mean(y: &[f64]) {
    let mu = sample!(Normal(0.0, 1.0));
    let sigma = sample!(HalfNormal(1.0));
    observe!(y ~ Normal(mu, sigma));
}

/// 200 replications of small fits: 1 chain × (200 warmup + 400 draws), thinned by 4 → L = 100.
fn config(seed: u64) -> SbcConfig {
    SbcConfig { replications: 200, chains: 1, warmup: 200, draws: 400, thin: 4, seed, bins: 10 }
}

fn calibrate<S: Sampler>(sampler: &S, seed: u64) -> SbcReport {
    // 10 observations: the data only fix the shape of the simulated data
    let model = NormalMean::new(&[0.0; 10]).unwrap();
    let report = sbc(&model, |sim| NormalMean::new(sim.get("y").unwrap()), sampler, &config(seed)).unwrap();
    println!("{report}");
    report
}

#[test]
fn nuts_is_calibrated_on_a_normal_model() {
    let report = calibrate(&Nuts::default(), 11);
    assert_eq!(report.posterior_draws, 100);
    assert_eq!(report.params.len(), 2);
    for p in &report.params {
        assert_eq!(p.ranks.len(), 200);
        assert!(p.ranks.iter().all(|&k| k <= 100));
    }
    for (name, p) in report.p_values() {
        assert!(p > 0.01, "{name}: p = {p}");
    }
    assert!(report.passes(0.01));
}

/// NUTS whose chains report every position with `mu` (the first unconstrained coordinate) shifted
/// by `shift`: a sampler that is wrong in a way that the draws alone would not reveal.
struct Shifted {
    inner: Nuts,
    shift: f64,
}

struct ShiftedChain<'t> {
    inner: Box<dyn Chain + 't>,
    shift: f64,
    position: Vec<f64>,
}

impl ShiftedChain<'_> {
    fn update(&mut self) {
        self.position = self.inner.position().to_vec();
        self.position[0] += self.shift;
    }
}

impl Chain for ShiftedChain<'_> {
    fn step(&mut self, rng: &mut ChaCha8Rng, phase: Phase) -> Result<Vec<f64>, SamplerError> {
        let stats = self.inner.step(rng, phase)?;
        self.update();
        Ok(stats)
    }
    fn position(&self) -> &[f64] {
        &self.position
    }
    fn log_density(&self) -> f64 {
        self.inner.log_density()
    }
    fn stat_names(&self) -> Vec<&'static str> {
        self.inner.stat_names()
    }
    fn step_size(&self) -> f64 {
        self.inner.step_size()
    }
    fn inv_metric(&self) -> Vec<f64> {
        self.inner.inv_metric()
    }
}

impl Sampler for Shifted {
    fn name(&self) -> &'static str {
        "shifted-nuts"
    }
    fn validate(&self) -> Result<(), SamplerError> {
        self.inner.validate()
    }
    fn settings(&self) -> Vec<(String, String)> {
        self.inner.settings()
    }
    fn start<'t>(&self, target: &'t dyn Target, position: Vec<f64>, warmup: usize, rng: &mut ChaCha8Rng) -> Result<Box<dyn Chain + 't>, SamplerError> {
        let mut chain = ShiftedChain { inner: self.inner.start(target, position, warmup, rng)?, shift: self.shift, position: Vec::new() };
        chain.update();
        Ok(Box::new(chain))
    }
}

#[test]
fn a_shifted_sampler_fails_calibration() {
    // the posterior sd of mu is about 0.25 here: a shift of 0.3 is about one posterior sd
    let report = calibrate(&Shifted { inner: Nuts::default(), shift: 0.3 }, 11);
    let mu = report.param("mu").unwrap().p_value;
    assert!(mu < 0.01, "mu: p = {mu}");
    assert!(!report.passes(0.01));
}
