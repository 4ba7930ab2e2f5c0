//! Runs `chains × (warmup + draws)` of any [`Sampler`] in parallel. Chain `c` draws from its own
//! ChaCha stream (`seed`, stream `c`), so the same seed gives the same draws whatever the number of
//! threads.

use super::draws::{ChainDraws, Draws};
use crate::target::Target;
use super::execution::{is_divergent, Chains};
use super::{Phase, Sampler, SamplerError};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// How many chains and iterations, and the seed.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Number of chains (4).
    pub chains: usize,
    /// Warmup iterations per chain (1000).
    pub warmup: usize,
    /// Draws kept per chain after warmup (1000).
    pub draws: usize,
    /// The one seed; chain `c` uses stream `c` of it.
    pub seed: u64,
    /// Initial unconstrained points: one for every chain, or one per chain; `None` draws
    /// uniform(−2, 2) per chain (up to 100 tries for a finite log density, as Stan).
    pub init: Option<Vec<Vec<f64>>>,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self { chains: 4, warmup: 1000, draws: 1000, seed: 0, init: None }
    }
}

/// The most chains one run takes: far beyond any use, and small enough that per-chain state
/// cannot overflow an allocation.
pub const MAX_CHAINS: usize = 1 << 24;

impl RunConfig {
    /// Checks the run before it starts, for a target of dimension `dim` that records `values`
    /// values per draw: at least one chain (and at most [`MAX_CHAINS`]), a target with parameters,
    /// and draws that fit in memory (`chains × draws × (values + statistics)` numbers). Every
    /// execution (threads, lockstep, device) calls it, so all refuse the same configurations.
    pub fn validate(&self, dim: usize, values: usize) -> Result<(), SamplerError> {
        let bad = |name, detail: String| Err(SamplerError::Setting { name, detail });
        if self.chains == 0 {
            return bad("chains", "must be at least 1".into());
        }
        if self.chains > MAX_CHAINS {
            return bad("chains", format!("{} is more than the {MAX_CHAINS} one run takes", self.chains));
        }
        if dim == 0 {
            return bad("dimension", "the model has no parameters to sample (to draw data from a model without parameters, use `Model::simulate`)".into());
        }
        if self.warmup.checked_add(self.draws).is_none() {
            return bad("draws", format!("warmup {} + draws {} overflows", self.warmup, self.draws));
        }
        // one f64 for lp__, the values and up to 16 statistics per draw
        let bytes = self.chains.checked_mul(self.draws).and_then(|n| n.checked_mul(values.saturating_add(17))).and_then(|n| n.checked_mul(8));
        if bytes.is_none_or(|b| b > isize::MAX as usize) {
            return bad("draws", format!("{} chains × {} draws × {values} values cannot be held in memory", self.chains, self.draws));
        }
        Ok(())
    }
}

/// The random stream of chain `chain`.
pub fn chain_rng(seed: u64, chain: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(chain as u64);
    rng
}

/// Stan's initialisation: up to 100 tries for a point with finite log density and gradient.
pub(crate) fn initial_point(target: &dyn Target, cfg: &RunConfig, chain: usize, rng: &mut ChaCha8Rng) -> Result<Vec<f64>, SamplerError> {
    let d = target.dim();
    let mut grad = vec![0.0; d];
    let tries = if cfg.init.is_some() { 1 } else { 100 };
    let mut detail = String::new();
    for _ in 0..tries {
        let q = match &cfg.init {
            Some(qs) if qs.len() == 1 => qs[0].clone(),
            Some(qs) if qs.len() == cfg.chains => qs[chain].clone(),
            Some(qs) => return Err(SamplerError::Setting { name: "init", detail: format!("{} initial points for {} chains: give one, or one per chain", qs.len(), cfg.chains) }),
            None => target.init(rng),
        };
        if q.len() != d {
            return Err(SamplerError::Setting { name: "init", detail: format!("has {} values, the model has dimension {d}", q.len()) });
        }
        match target.logp_grad(&q, &mut grad) {
            Ok(lp) if lp.is_finite() && grad.iter().all(|g| g.is_finite()) => return Ok(q),
            Ok(lp) => detail = format!("log density {lp} at {q:?}"),
            Err(e) => detail = e.to_string(),
        }
    }
    Err(SamplerError::Init { chain, tries, detail })
}

/// What observers are told when a chain starts.
#[derive(Clone, Debug)]
pub struct ChainStart<'a> {
    /// The chain.
    pub chain: usize,
    /// The sampler's name and settings (`key = value`).
    pub sampler: &'a str,
    /// The sampler's settings.
    pub settings: &'a [(String, String)],
    /// The run's configuration.
    pub config: &'a RunConfig,
    /// Names of the constrained values.
    pub names: &'a [String],
    /// Names of the per-draw statistics.
    pub stat_names: &'a [&'a str],
}

/// Watches a run as it happens: progress bars, CSV files written while sampling. Called from the
/// chains' threads; implementations synchronise per chain.
pub trait Observer: Sync {
    /// A chain starts (after its initial point and step size are found).
    fn start_chain(&self, _start: &ChainStart<'_>) -> Result<(), SamplerError> {
        Ok(())
    }
    /// Warmup of `chain` ended with this step size and inverse metric.
    fn adapted(&self, _chain: usize, _step_size: f64, _inv_metric: &[f64]) -> Result<(), SamplerError> {
        Ok(())
    }
    /// One transition of `chain`; `values` are constrained (empty for warmup iterations).
    fn draw(&self, _chain: usize, _phase: Phase, _lp: f64, _stats: &[f64], _values: &[f64], _divergent: bool) -> Result<(), SamplerError> {
        Ok(())
    }
    /// `chain` finished: seconds spent in warmup and in sampling.
    fn end_chain(&self, _chain: usize, _warmup_secs: f64, _sampling_secs: f64) -> Result<(), SamplerError> {
        Ok(())
    }
}

/// Runs `sampler` on `target`: one thread per chain, or all chains in lockstep for a
/// [`Lockstep`](crate::sampler::Lockstep) sampler. The threads share the target, so it must be
/// `Sync`; [`run_device`](crate::sampler::run_device) takes any target.
pub fn run<S: Sampler>(sampler: &S, target: &(dyn Target + Sync), cfg: &RunConfig) -> Result<Draws, SamplerError> {
    run_observed(sampler, target, cfg, &[])
}

/// Runs `sampler` on `target`, telling `observers` about every transition.
pub fn run_observed<S: Sampler>(sampler: &S, target: &(dyn Target + Sync), cfg: &RunConfig, observers: &[&dyn Observer]) -> Result<Draws, SamplerError> {
    sampler.validate()?;
    let names = target.names();
    cfg.validate(target.dim(), names.len())?;
    let settings = sampler.settings();
    let values = |q: &[f64]| target.output_values(q).map_err(SamplerError::from);
    let run = Run { sampler: sampler.name(), settings: &settings, cfg, names: &names, values: &values, observers };
    let groups: Vec<Result<Vec<(ChainDraws, Vec<&'static str>)>, SamplerError>> = super::threads::install(|| {
        if sampler.lockstep() {
            let mut rngs: Vec<ChaCha8Rng> = (0..cfg.chains).map(|c| chain_rng(cfg.seed, c)).collect();
            let starts = (0..cfg.chains).map(|c| initial_point(target, cfg, c, &mut rngs[c])).collect::<Result<Vec<_>, _>>();
            vec![starts.and_then(|q0| {
                let mut group = sampler.start_group(target, q0, cfg.warmup, &mut rngs)?;
                run.drive(&mut *group, 0, &mut rngs)
            })]
        } else {
            (0..cfg.chains)
                .into_par_iter()
                .map(|c| {
                    let mut rng = [chain_rng(cfg.seed, c)];
                    let q0 = initial_point(target, cfg, c, &mut rng[0])?;
                    let mut group = sampler.start_group(target, vec![q0], cfg.warmup, &mut rng)?;
                    run.drive(&mut *group, c, &mut rng)
                })
                .collect()
        }
    });
    Ok(run.draws(groups.into_iter().collect::<Result<Vec<_>, _>>()?))
}

/// What every execution's chains share: the sampler's name and settings, the run, the recorded
/// values and the observers. [`Run::drive`] is the one loop of warmup, sampling and recording.
pub(crate) struct Run<'a, V: ?Sized> {
    pub sampler: &'static str,
    pub settings: &'a [(String, String)],
    pub cfg: &'a RunConfig,
    pub names: &'a [String],
    /// The recorded values of a position.
    pub values: &'a V,
    pub observers: &'a [&'a dyn Observer],
}

impl<V: Fn(&[f64]) -> Result<Vec<f64>, SamplerError> + ?Sized> Run<'_, V> {
    /// The run's [`Draws`] from its groups' chains, in chain order.
    pub(crate) fn draws(&self, groups: Vec<Vec<(ChainDraws, Vec<&'static str>)>>) -> Draws {
        let mut draws = Draws { names: self.names.to_vec(), sampler: self.sampler.to_string(), warmup: self.cfg.warmup, settings: self.settings.to_vec(), ..Default::default() };
        for (c, stat_names) in groups.into_iter().flatten() {
            draws.stat_names = stat_names.iter().map(|s| s.to_string()).collect();
            draws.chains.push(c);
        }
        draws
    }

    /// Runs the chains of `group` (chains `first ..` of the run, drawing from `rngs`) through
    /// warmup and sampling; returns each chain's draws and the statistics' names.
    pub(crate) fn drive(&self, group: &mut dyn Chains, first: usize, rngs: &mut [ChaCha8Rng]) -> Result<Vec<(ChainDraws, Vec<&'static str>)>, SamplerError> {
        let (cfg, observers) = (self.cfg, self.observers);
        let n = group.len();
        let stat_names = group.stat_names();
        for r in 0..n {
            let start = ChainStart { chain: first + r, sampler: self.sampler, settings: self.settings, config: cfg, names: self.names, stat_names: &stat_names };
            for o in observers {
                o.start_chain(&start)?;
            }
        }
        let t = std::time::Instant::now();
        for iter in 0..cfg.warmup {
            let phase = Phase::Warmup { iter, total: cfg.warmup };
            let stats = group.step(rngs, phase)?;
            if !observers.is_empty() {
                let lp = group.log_densities();
                for (r, s) in stats.iter().enumerate() {
                    for o in observers {
                        o.draw(first + r, phase, lp[r], s, &[], is_divergent(&stat_names, s))?;
                    }
                }
            }
        }
        let warmup_secs = t.elapsed().as_secs_f64();
        let mut out: Vec<ChainDraws> = (0..n).map(|r| ChainDraws { step_size: group.step_size(r), inv_metric: group.inv_metric(r), ..Default::default() }).collect();
        for (r, c) in out.iter().enumerate() {
            for o in observers {
                o.adapted(first + r, c.step_size, &c.inv_metric)?;
            }
        }
        let t = std::time::Instant::now();
        for _ in 0..cfg.draws {
            let stats = group.step(rngs, Phase::Sampling)?;
            let (positions, lp) = (group.positions(), group.log_densities());
            for (r, s) in stats.iter().enumerate() {
                let values = (self.values)(&positions[r])?;
                for o in observers {
                    o.draw(first + r, Phase::Sampling, lp[r], s, &values, is_divergent(&stat_names, s))?;
                }
                let c = &mut out[r];
                c.lp.push(lp[r]);
                c.stats.extend_from_slice(s);
                c.values.extend(values);
            }
        }
        let sampling_secs = t.elapsed().as_secs_f64();
        for r in 0..n {
            for o in observers {
                o.end_chain(first + r, warmup_secs, sampling_secs)?;
            }
        }
        Ok(out.into_iter().map(|c| (c, stat_names.clone())).collect())
    }
}
