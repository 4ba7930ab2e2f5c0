//! [`Nutpie`]: NUTS as nutpie runs it, through [nuts-rs](https://docs.rs/nuts-rs) (the maintained
//! Rust core of nutpie, PyMC's fast sampler), behind snell's [`Sampler`] interface.
//!
//! Next to snell's own [`Nuts`](super::nuts::Nuts) (Stan's windowed warmup, so that results line up
//! with CmdStan's), this is the faster choice measured on the peer models: nutpie's adaptation fits
//! the diagonal mass matrix from draws *and* gradients and needs fewer gradient evaluations per
//! effective draw (see the README's table). The transition and its adaptation are nuts-rs's; snell
//! supplies the log density, the seeds and the output.
//!
//! Randomness: each chain's nuts-rs generator is seeded from the chain's own ChaCha stream, so the
//! same seed gives the same draws whatever the number of threads.

use crate::target::Target;
use super::{Chain, Phase, Sampler, SamplerError};
use crate::error::ModelError;
use nuts_rs::rand::SeedableRng as _;
use nuts_rs::{Chain as _, CpuLogpFunc, CpuMath, CpuMathError, DiagNutsSettings, HasDims, LogpError, Settings, Storable as _, Value};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// NUTS with nutpie's adaptation (nuts-rs), diagonal mass matrix.
#[derive(Clone, Debug)]
pub struct Nutpie {
    /// Maximum tree depth (10).
    pub max_depth: usize,
    /// Target mean acceptance of the step-size adaptation (0.8).
    pub target_accept: f64,
    /// Energy error above which a leapfrog step counts as divergent (1000).
    pub max_energy_error: f64,
}

impl Default for Nutpie {
    fn default() -> Self {
        Self { max_depth: 10, target_accept: 0.8, max_energy_error: 1000.0 }
    }
}

/// The statistics of every draw, CmdStan's names.
const STATS: [&str; 6] = ["accept_stat__", "stepsize__", "treedepth__", "n_leapfrog__", "divergent__", "energy__"];

impl Sampler for Nutpie {
    fn name(&self) -> &'static str {
        "nutpie"
    }
    fn validate(&self) -> Result<(), SamplerError> {
        if !(self.target_accept > 0.0 && self.target_accept < 1.0) {
            return Err(SamplerError::Setting { name: "target_accept", detail: format!("{} is not in (0, 1)", self.target_accept) });
        }
        if self.max_depth == 0 || self.max_depth > 30 {
            return Err(SamplerError::Setting { name: "max_depth", detail: format!("{} is not in 1..=30", self.max_depth) });
        }
        if !(self.max_energy_error > 0.0) {
            return Err(SamplerError::Setting { name: "max_energy_error", detail: format!("{} must be positive", self.max_energy_error) });
        }
        Ok(())
    }
    fn settings(&self) -> Vec<(String, String)> {
        vec![
            ("engine".into(), "nuts".into()),
            ("adaptation".into(), "nutpie".into()),
            ("max_depth".into(), self.max_depth.to_string()),
            ("metric".into(), "diag_e".into()),
            ("delta".into(), self.target_accept.to_string()),
        ]
    }
    fn start<'t>(&self, target: &'t dyn Target, position: Vec<f64>, warmup: usize, rng: &mut ChaCha8Rng) -> Result<Box<dyn Chain + 't>, SamplerError> {
        self.validate()?;
        let mut settings = DiagNutsSettings::default();
        settings.num_tune = warmup as u64;
        settings.maxdepth = self.max_depth as u64;
        settings.max_energy_error = self.max_energy_error;
        settings.adapt_options.step_size_settings.target_accept = self.target_accept;
        settings.adapt_options.mass_matrix_options.store_mass_matrix = true;
        let failure = Arc::new(Mutex::new(None));
        let density = Density { target, failure: failure.clone() };
        let mut seed_rng = nuts_rs::rand::rngs::StdRng::seed_from_u64(rng.gen());
        let mut chain = settings.new_chain(0, CpuMath::new(density), &mut seed_rng).map_err(engine)?;
        let set = chain.set_position(&position);
        model_failure(&failure)?;
        set.map_err(|e| bad_start(target, &position, e))?;
        let d = position.len();
        Ok(Box::new(NutpieChain { chain: Box::new(chain), failure, position, lp: f64::NAN, step_size: f64::NAN, inv_metric: vec![1.0; d] }))
    }
}

/// The model error that stopped nuts-rs, if one did: reported as it is rather than as text.
fn model_failure(failure: &Mutex<Option<ModelError>>) -> Result<(), SamplerError> {
    match failure.lock().ok().and_then(|mut f| f.take()) {
        Some(e) => Err(SamplerError::Model(e)),
        None => Ok(()),
    }
}

/// nuts-rs refuses to start where a coordinate of the gradient is zero (its metric starts from
/// `1/|∇|`): say which coordinates, and the usual cause.
fn bad_start(target: &dyn Target, position: &[f64], e: impl std::fmt::Display) -> SamplerError {
    let mut grad = vec![0.0; position.len()];
    if target.logp_grad(position, &mut grad).is_err() {
        return engine(e);
    }
    let names = target.names();
    let zero: Vec<String> = grad
        .iter()
        .enumerate()
        .filter(|(_, g)| **g == 0.0 || !g.is_finite())
        .map(|(i, _)| if names.len() == grad.len() { names[i].clone() } else { format!("coordinate {}", i + 1) })
        .collect();
    if zero.is_empty() {
        return engine(e);
    }
    SamplerError::Engine {
        detail: format!("nutpie cannot start where the gradient of {} is zero: the log density does not depend on it there. A parameter with a flat prior and no likelihood makes the posterior improper; otherwise start elsewhere (RunConfig::init) or use NUTS", zero.join(", ")),
    }
}

fn engine(e: impl std::fmt::Display) -> SamplerError {
    let text = format!("{e:#}");
    // anyhow appends a backtrace when one was captured: keep the message
    let text = text.split("\n\nStack backtrace").next().unwrap_or_default();
    SamplerError::Engine { detail: format!("nuts-rs: {text}") }
}

type Engine<'t> = <DiagNutsSettings as Settings>::Chain<CpuMath<Density<'t>>>;

struct NutpieChain<'t> {
    chain: Box<Engine<'t>>,
    failure: Arc<Mutex<Option<ModelError>>>,
    position: Vec<f64>,
    lp: f64,
    step_size: f64,
    inv_metric: Vec<f64>,
}

fn scalar(v: &Option<Value>) -> Option<f64> {
    match v.as_ref()? {
        Value::ScalarF64(x) => Some(*x),
        Value::ScalarF32(x) => Some(*x as f64),
        Value::ScalarU64(x) => Some(*x as f64),
        Value::ScalarI64(x) => Some(*x as f64),
        Value::ScalarBool(b) => Some(*b as u8 as f64),
        _ => None,
    }
}

impl Chain for NutpieChain<'_> {
    fn step(&mut self, _rng: &mut ChaCha8Rng, _phase: Phase) -> Result<Vec<f64>, SamplerError> {
        // nuts-rs counts its own tuning draws (`num_tune` = the run's warmup), in step with `phase`.
        let drawn = self.chain.expanded_draw();
        model_failure(&self.failure)?;
        let (position, _, mut stats, _progress) = drawn.map_err(engine)?;
        self.position = position.into_vec();
        // The statistics' dimension descriptor is built from the chain's `Math` (its type is not exported).
        let dims = From::from(&*self.chain.math());
        let values: HashMap<&str, Option<Value>> = stats.get_all(&dims).into_iter().collect();
        let get = |name: &str| values.get(name).and_then(scalar).unwrap_or(f64::NAN);
        self.lp = get("logp");
        self.step_size = get("step_size");
        if let Some(Some(Value::F64(stds))) = values.get("mass_matrix_inv") {
            // nuts-rs stores the scales of its diagonal transformation; the inverse metric is their square.
            self.inv_metric = stds.iter().map(|s| s * s).collect();
        }
        let divergent = values.get("diverging").and_then(scalar).unwrap_or(0.0);
        Ok(vec![get("mean_tree_accept"), self.step_size, get("depth"), get("n_steps"), divergent, get("energy")])
    }
    fn position(&self) -> &[f64] {
        &self.position
    }
    fn log_density(&self) -> f64 {
        self.lp
    }
    fn stat_names(&self) -> Vec<&'static str> {
        STATS.to_vec()
    }
    fn step_size(&self) -> f64 {
        self.step_size
    }
    fn inv_metric(&self) -> Vec<f64> {
        self.inv_metric.clone()
    }
}

/// A failed evaluation seen by nuts-rs: non-finite values are recoverable (a divergence), model
/// errors stop the chain and are reported as they are.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Failed(String, bool);

impl LogpError for Failed {
    fn is_recoverable(&self) -> bool {
        self.1
    }
}

/// A snell target seen by nuts-rs.
struct Density<'t> {
    target: &'t dyn Target,
    failure: Arc<Mutex<Option<ModelError>>>,
}

impl HasDims for Density<'_> {
    fn dim_sizes(&self) -> HashMap<String, u64> {
        [("unconstrained_parameter".to_string(), self.target.dim() as u64)].into_iter().collect()
    }
}

impl CpuLogpFunc for Density<'_> {
    type LogpError = Failed;
    type ExpandedVector = Vec<f64>;
    type FlowParameters = ();

    fn dim(&self) -> usize {
        self.target.dim()
    }
    fn logp(&mut self, position: &[f64], grad: &mut [f64]) -> Result<f64, Failed> {
        match self.target.logp_grad(position, grad) {
            Ok(lp) if lp.is_finite() && grad.iter().all(|g| g.is_finite()) => Ok(lp),
            Ok(lp) => Err(Failed(format!("non-finite log density or gradient (log density {lp})"), true)),
            Err(e) => {
                let msg = e.to_string();
                if let Ok(mut f) = self.failure.lock() {
                    *f = Some(e);
                }
                Err(Failed(msg, false))
            }
        }
    }
    fn expand_vector<R: nuts_rs::rand::Rng + ?Sized>(&mut self, _rng: &mut R, position: &[f64]) -> Result<Vec<f64>, CpuMathError> {
        Ok(position.to_vec())
    }
}
