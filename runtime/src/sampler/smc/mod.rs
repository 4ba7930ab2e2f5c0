//! Sequential Monte Carlo samplers (Del Moral, Doucet & Jasra 2006) over a population of particles
//! moved from the prior to the posterior through a sequence of intermediate targets, with the
//! estimate of the log marginal likelihood (the evidence) as a by-product.
//!
//! Three sequences ([`Schedule`]):
//! - geometric annealing of the likelihood power λ from 0 to 1 in a fixed number of stages,
//! - adaptive tempering: the next λ found by bisection so that the ESS of the new weights hits a
//!   target fraction of N (Jasra et al. 2011; BlackJAX's solver with the sign of its issue #914
//!   fixed: the increment `+δ·ℓ` is the one the weights use),
//! - data annealing: observations added a batch at a time (Ridgeway & Madigan 2003).
//!
//! Every stage: reweight by the incremental likelihood, add `ln Σ_j W_j e^{a_j}` to ln Z, resample
//! when the ESS falls below `ess_frac · N` (always for adaptive tempering, as BlackJAX, because the
//! solver aims the ESS at its target), then move every particle with MALA (or HMC, [`Move`]) steps
//! invariant for the new target. The moves' diagonal preconditioner is the particles' weighted variance and their
//! step τ is scaled after every move by `exp(acceptance − target_accept)`, the acceptance being
//! the population's mean (so the kernel depends on the particle system, not on one particle's path).
//!
//! The standard error of ln Z comes from `runs` independent runs (own random streams): the
//! estimate is `ln` of the mean of the runs' Ẑ (unbiased for Z), its standard error by the delta
//! method `sd(Ẑ_r) / (√R · mean Ẑ_r)`.
//!
//! The moves run the kernels of every execution on the whole population: on the host
//! ([`run_smc`], the runs in parallel threads) or with the particles' positions, momenta and
//! gradients in tensors on a dfdx device ([`run_smc_device`], the runs one after another). The
//! same settings give the same particles in both, up to the device's arithmetic.

mod moves;
mod resampling;
mod summary;

pub use moves::Move;
pub use summary::{ParticleRow, ParticleSummary, MAX_MOVE_ACCEPTANCE, MIN_DISTINCT_FRACTION, MIN_MOVE_ACCEPTANCE, MIN_STAGE_ESS_FRACTION};
use moves::Tempered;
pub use resampling::Resampling;

use super::draws::{ChainDraws, Draws};
use super::driver::chain_rng;
use super::SamplerError;
use super::execution::{DeviceRows, HostRows, Rows};
use super::phase_space::Points;
use crate::backend::{Dfdx, DfdxElem, PointDevice};
use crate::error::ModelError;
use crate::target::Target;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// The sequence of intermediate targets.
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// `stages` reweighting steps at λ_n = (100^{n/stages} − 1)/99, n = 1 … stages: small
    /// increments first, as langevin_neural_nets' `smc_geometric_likelihood`.
    Geometric {
        /// Number of stages (at least 1).
        stages: usize,
    },
    /// Each λ chosen so that the ESS of the new weights is `target_ess · N`.
    Adaptive {
        /// Target ESS fraction in (0, 1), e.g. 0.5.
        target_ess: f64,
    },
    /// Observations added `batch` at a time, in order; the targets are the posteriors of the
    /// observations seen so far.
    Data {
        /// Observations per stage (at least 1).
        batch: usize,
    },
}

/// SMC settings.
#[derive(Clone, Debug)]
pub struct Smc {
    /// Particles per run (1000).
    pub particles: usize,
    /// The sequence of targets (adaptive tempering, target ESS 0.5).
    pub schedule: Schedule,
    /// Resample when the ESS falls below this fraction of the particles (0.5).
    pub ess_frac: f64,
    /// How ancestors are drawn (systematic).
    pub resampling: Resampling,
    /// Moves per particle after every stage (10).
    pub moves: usize,
    /// The kernel of the moves (MALA).
    pub kernel: Move,
    /// Acceptance the moves' step size is steered to (0.574).
    pub target_accept: f64,
    /// Independent runs, for the standard error of ln Z (8). The standard error is estimated
    /// from the spread of the runs, and an estimate from R of them is itself uncertain by about
    /// 1/√(2(R − 1)): 41% with 4 runs, 27% with 8. Eight is the default so that the error bar
    /// is good to about a quarter of itself; the runs share the threads, so on 8 cores they cost
    /// one run's time.
    pub runs: usize,
    /// Run `r` uses stream `r` of this seed.
    pub seed: u64,
}

impl Default for Smc {
    fn default() -> Self {
        Self { particles: 1000, schedule: Schedule::Adaptive { target_ess: 0.5 }, ess_frac: 0.5, resampling: Resampling::Systematic, moves: 10, kernel: Move::Mala, target_accept: 0.574, runs: 8, seed: 0 }
    }
}

/// What one stage did.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    /// The likelihood power after the stage (for data annealing: the fraction of observations seen).
    pub lambda: f64,
    /// Observations in the target after the stage (all of them when tempering).
    pub n_obs: usize,
    /// ESS of the weights after reweighting, before resampling.
    pub ess: f64,
    /// Whether the particles were resampled.
    pub resampled: bool,
    /// Mean acceptance probability of the moves.
    pub acceptance: f64,
    /// Proposals of the moves with a non-finite log density or gradient (rejected).
    pub divergent: usize,
    /// The moves' step τ at the end of the stage (the preconditioner is the particles' variance).
    pub step_size: f64,
    /// `ln Σ_j W_j e^{a_j}`: this stage's term of ln Z.
    pub log_evidence_increment: f64,
}

/// One independent run.
#[derive(Clone, Debug)]
pub struct SmcRun {
    /// ln Ẑ of this run.
    pub log_evidence: f64,
    /// Per-stage statistics.
    pub stages: Vec<Stage>,
    /// Final particles, unconstrained, row-major `(N, D)`.
    pub particles: Vec<f64>,
    /// Their normalised log weights.
    pub log_weights: Vec<f64>,
    /// Gradient evaluations of the run: one per particle where a stage's moves begin, and each
    /// move's (one for MALA, `leapfrog` for HMC) per particle.
    pub gradients: usize,
}

/// The result of [`run_smc`].
#[derive(Clone, Debug)]
pub struct SmcOutput {
    /// The final weighted particles: "chain" r holds run r's particles (constrained values), with
    /// their normalised log weights as the statistic `log_weight__` and the log posterior density
    /// (unconstrained, unnormalised) as `lp__`. Weighted means: [`SmcOutput::weighted_mean`].
    pub draws: Draws,
    /// The runs, with their per-stage statistics.
    pub runs: Vec<SmcRun>,
    /// ln Ẑ: ln of the mean of the runs' evidence estimates.
    pub log_evidence: f64,
    /// Standard error of `log_evidence` from the spread of the runs (NaN with one run).
    pub log_evidence_se: f64,
}

/// Above this, the standard error of ln Ẑ (a first-order expansion in the runs' relative
/// evidences) no longer describes the estimate: its largest value with one dominant run is 1.
const MAX_LOG_EVIDENCE_SE: f64 = 0.5;

impl SmcOutput {
    /// What makes the result untrustworthy, one line per problem: a standard error of ln Ẑ too
    /// large to mean anything (the runs' evidence estimates disagree by nats, one run carrying
    /// nearly all of the mean: too few particles or moves), or none at all (one run); and a
    /// collapsed particle system (a stage's weights on a few particles, moves that accept almost
    /// nothing or almost everything, few distinct particles at the end).
    pub fn warnings(&self) -> Vec<String> {
        let logz: Vec<f64> = self.runs.iter().map(|r| r.log_evidence).collect();
        let spread = logz.iter().cloned().fold(f64::NEG_INFINITY, f64::max) - logz.iter().cloned().fold(f64::INFINITY, f64::min);
        let mut out = Vec::new();
        if self.runs.len() < 2 {
            out.push("one run: ln Z has no standard error (use runs ≥ 2)".to_string());
        } else if !(self.log_evidence_se <= MAX_LOG_EVIDENCE_SE) {
            out.push(format!(
                "the runs' ln Z estimates spread over {spread:.2} nats, so ln Z = {:.3} and its standard error {:.3} are unreliable: use more particles or moves",
                self.log_evidence, self.log_evidence_se
            ));
        }
        out.extend(self.particle_warnings());
        out
    }
    /// Weights of all particles of all runs (each run counts equally), in draw order.
    pub fn weights(&self) -> Vec<f64> {
        let r = self.runs.len() as f64;
        self.runs.iter().flat_map(|run| run.log_weights.iter().map(move |w| w.exp() / r)).collect()
    }
    /// The weighted posterior mean of a value.
    pub fn weighted_mean(&self, name: &str) -> Option<f64> {
        let x: Vec<f64> = self.draws.param(name)?.into_iter().flatten().collect();
        Some(x.iter().zip(self.weights()).map(|(x, w)| x * w).sum())
    }
    /// The weighted posterior covariance of two values.
    pub fn weighted_cov(&self, a: &str, b: &str) -> Option<f64> {
        let (ma, mb) = (self.weighted_mean(a)?, self.weighted_mean(b)?);
        let xa: Vec<f64> = self.draws.param(a)?.into_iter().flatten().collect();
        let xb: Vec<f64> = self.draws.param(b)?.into_iter().flatten().collect();
        Some(xa.iter().zip(&xb).zip(self.weights()).map(|((x, y), w)| w * (x - ma) * (y - mb)).sum())
    }
    /// Kish's effective sample size of the pooled weights.
    pub fn ess(&self) -> f64 {
        let w = self.weights();
        1.0 / w.iter().map(|w| w * w).sum::<f64>()
    }
}

/// `ln Σ e^{x}`, −∞ for an empty or all −∞ input.
pub fn log_sum_exp(x: &[f64]) -> f64 {
    let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + x.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
}

/// `ln ESS` of log weights: `2 ln Σ e^{w} − ln Σ e^{2w}`.
pub fn log_ess(log_w: &[f64]) -> f64 {
    let twice: Vec<f64> = log_w.iter().map(|w| 2.0 * w).collect();
    2.0 * log_sum_exp(log_w) - log_sum_exp(&twice)
}

/// The tempering increment δ ∈ (0, `max`] whose new weights `log_w + δ·ℓ` have ESS `target · N`,
/// by bisection (BlackJAX's dichotomy with the `+` sign): `max` when it already keeps the ESS
/// above target, else the lower end of a bracket `f(a) > 0 > f(b)` narrowed until
/// `f(a) − f(b) ≤ 10⁻⁴` (at most 100 halvings), with `f(δ) = ln ESS − ln(target · N)`.
///
/// Particles with ℓ = −∞ lose their weight at any δ > 0; when fewer than `target · N` survive,
/// the goal becomes 0.999 × the survivors' ESS, so the schedule moves on (and resampling removes
/// them) instead of stalling at δ → 0.
pub fn solve_increment(log_w: &[f64], loglik: &[f64], target: f64, max: f64) -> f64 {
    let survivors: Vec<f64> = log_w.iter().zip(loglik).map(|(w, l)| if l.is_finite() { *w } else { f64::NEG_INFINITY }).collect();
    let goal = (target * log_w.len() as f64).ln().min(log_ess(&survivors) + 0.999f64.ln());
    let f = |delta: f64| {
        let w: Vec<f64> = log_w.iter().zip(loglik).map(|(w, l)| w + increment(delta, *l)).collect();
        let v = log_ess(&w) - goal;
        if v.is_nan() {
            f64::NEG_INFINITY
        } else {
            v
        }
    };
    if f(max) > 0.0 {
        return max;
    }
    let (mut a, mut b) = (0.0, max);
    let (mut fa, mut fb) = (f(a), f(b));
    for _ in 0..100 {
        if fa - fb <= 1e-4 {
            break;
        }
        let mid = 0.5 * (a + b);
        let fm = f(mid);
        if fm > 0.0 {
            (a, fa) = (mid, fm);
        } else {
            (b, fb) = (mid, fm);
        }
    }
    a
}

/// `δ·ℓ`, with `0·(−∞) = 0` and NaN treated as −∞ (a particle with no likelihood gets no weight).
fn increment(delta: f64, l: f64) -> f64 {
    if delta == 0.0 {
        0.0
    } else if l.is_nan() {
        f64::NEG_INFINITY
    } else {
        delta * l
    }
}

impl Smc {
    /// Checks the settings against a target with `n_obs` observations.
    pub fn validate(&self, n_obs: Option<usize>) -> Result<(), SamplerError> {
        let bad = |name, detail: String| Err(SamplerError::Setting { name, detail });
        if self.particles < 2 {
            return bad("particles", format!("{}: at least 2 are needed", self.particles));
        }
        if self.runs == 0 {
            return bad("runs", "must be at least 1".into());
        }
        if !(self.ess_frac > 0.0 && self.ess_frac <= 1.0) {
            return bad("ess_frac", format!("must be in (0, 1], got {}", self.ess_frac));
        }
        if self.kernel == (Move::Hmc { leapfrog: 0 }) {
            return bad("leapfrog", "HMC moves need at least 1 leapfrog step".into());
        }
        if !(self.target_accept > 0.0 && self.target_accept < 1.0) {
            return bad("target_accept", format!("must be in (0, 1), got {}", self.target_accept));
        }
        match self.schedule {
            Schedule::Geometric { stages: 0 } => bad("stages", "must be at least 1".into()),
            Schedule::Adaptive { target_ess } if !(target_ess > 0.0 && target_ess < 1.0) => bad("target_ess", format!("must be in (0, 1), got {target_ess}")),
            Schedule::Data { batch } => match n_obs {
                None => bad("schedule", "data annealing needs a target indexed by observation (e.g. #[model(observations(x, y))])".into()),
                Some(_) if batch == 0 => bad("batch", "must be at least 1".into()),
                Some(_) => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

/// The particle system of one run.
struct Particles {
    n: usize,
    d: usize,
    q: Vec<f64>,
    log_prior: Vec<f64>,
    /// Log likelihood of the observations in the current target (all of them when tempering).
    loglik: Vec<f64>,
    log_w: Vec<f64>,
}

impl Particles {
    fn normalise(&mut self) -> f64 {
        let z = log_sum_exp(&self.log_w);
        self.log_w.iter_mut().for_each(|w| *w -= z);
        z
    }
    fn resample(&mut self, scheme: Resampling, rng: &mut ChaCha8Rng) {
        let w: Vec<f64> = self.log_w.iter().map(|w| w.exp()).collect();
        let idx = scheme.ancestors(rng, &w, self.n);
        let d = self.d;
        self.q = idx.iter().flat_map(|&j| self.q[j * d..(j + 1) * d].to_vec()).collect();
        self.log_prior = idx.iter().map(|&j| self.log_prior[j]).collect();
        self.loglik = idx.iter().map(|&j| self.loglik[j]).collect();
        self.log_w = vec![-(self.n as f64).ln(); self.n];
    }
    /// Weighted variance of each coordinate (floored so the preconditioner stays positive).
    fn variances(&self) -> Vec<f64> {
        let w: Vec<f64> = self.log_w.iter().map(|w| w.exp()).collect();
        (0..self.d)
            .map(|i| {
                let m: f64 = (0..self.n).map(|j| w[j] * self.q[j * self.d + i]).sum();
                let v: f64 = (0..self.n).map(|j| w[j] * (self.q[j * self.d + i] - m).powi(2)).sum();
                v.max(1e-12)
            })
            .collect()
    }
}

/// Moves the particles of one stage: `kernel` on the tempered target, from `points`, with step τ,
/// preconditioner and one stream per particle; returns the mean acceptance and the divergences.
type Mover<'a> = dyn Fn(Move, &dyn Target, &mut Points<Vec<f64>>, f64, &[f64], &mut [ChaCha8Rng]) -> Result<(f64, usize), SamplerError> + 'a;

/// Runs SMC on `target`: `smc.runs` independent runs in parallel.
pub fn run_smc<T: Target + Sync + ?Sized>(smc: &Smc, target: &T) -> Result<SmcOutput, SamplerError> {
    check(smc, target)?;
    let mover = |kernel: Move, t: &dyn Target, points: &mut Points<Vec<f64>>, tau: f64, precond: &[f64], rngs: &mut [ChaCha8Rng]| kernel.apply(&HostRows::new(t, rngs.len()), points, tau, precond, rngs);
    let runs: Vec<SmcRun> = super::threads::install(|| (0..smc.runs).into_par_iter().map(|r| run_one(smc, target, &mover, &mut chain_rng(smc.seed, r))).collect::<Result<_, _>>())?;
    output(smc, target, runs)
}

/// Runs SMC on `target` with the moves' state on `backend`'s device: the particles' positions,
/// momenta and gradients in tensors there for every move, the tempered density evaluated by
/// `target` ([`Target::logp_grad_device`] through its [`logp_parts`](Target::logp_parts): for a
/// `#[model]` on the device's own backend, pass `model.on_backend(backend.clone())`). The
/// `smc.runs` runs go one after another on the calling thread; each gives the particles of the
/// same run of [`run_smc`] up to the device's arithmetic.
///
/// ```
/// use snell::prelude::*;
/// use snell::sampler::smc::{run_smc, run_smc_device, Smc};
/// #[model]
/// fn normal_mean(y: &[f64]) {
///     let mu = sample!(Normal(0.0, 10.0));
///     observe!(y ~ Normal(mu, 1.0));
/// }
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let model = NormalMean::new(&[0.3, -0.2, 0.9])?;
/// let smc = Smc { particles: 64, runs: 2, ..Smc::default() };
/// let on_cpu = model.on_backend(Cpu64::default());
/// let device = run_smc_device(&smc, &on_cpu, &Cpu64::default())?;
/// let host = run_smc(&smc, &on_cpu)?;
/// assert!((device.log_evidence - host.log_evidence).abs() < 1e-9);
/// # Ok(()) }
/// ```
pub fn run_smc_device<E: DfdxElem, D: PointDevice<E>>(smc: &Smc, target: &dyn Target, backend: &Dfdx<E, D>) -> Result<SmcOutput, SamplerError> {
    check(smc, target)?;
    let mover = |kernel: Move, t: &dyn Target, points: &mut Points<Vec<f64>>, tau: f64, precond: &[f64], rngs: &mut [ChaCha8Rng]| {
        let rows = DeviceRows::new(t, backend.device().clone(), rngs.len());
        let mut on = Points { q: rows.upload(&points.q), lp: std::mem::take(&mut points.lp), grad: rows.upload(&points.grad) };
        let moved = kernel.apply(&rows, &mut on, tau, precond, rngs);
        (points.q, points.lp, points.grad) = (rows.download(&on.q), on.lp, rows.download(&on.grad));
        moved
    };
    let runs = (0..smc.runs).map(|r| run_one(smc, target, &mover, &mut chain_rng(smc.seed, r))).collect::<Result<Vec<_>, _>>()?;
    output(smc, target, runs)
}

/// The settings and the target checked before a run.
fn check<T: Target + ?Sized>(smc: &Smc, target: &T) -> Result<(), SamplerError> {
    smc.validate(target.observations())?;
    let d = target.dim();
    if d == 0 {
        return Err(SamplerError::Setting { name: "dimension", detail: "the model has no parameters to sample (to draw data from a model without parameters, use `Model::simulate`)".into() });
    }
    if smc.particles.checked_mul(d).and_then(|n| n.checked_mul(8 * 4)).is_none_or(|b| b > isize::MAX as usize) {
        return Err(SamplerError::Setting { name: "particles", detail: format!("{} particles of dimension {d} cannot be held in memory", smc.particles) });
    }
    Ok(())
}

/// The runs' evidence, its standard error and the particles as draws (one chain per run).
fn output<T: Target + ?Sized>(smc: &Smc, target: &T, runs: Vec<SmcRun>) -> Result<SmcOutput, SamplerError> {
    let logz: Vec<f64> = runs.iter().map(|r| r.log_evidence).collect();
    let nr = logz.len() as f64;
    let log_evidence = log_sum_exp(&logz) - nr.ln();
    let rel: Vec<f64> = logz.iter().map(|l| (l - log_evidence).exp()).collect();
    let log_evidence_se = if logz.len() > 1 { (rel.iter().map(|x| (x - 1.0).powi(2)).sum::<f64>() / (nr - 1.0) / nr).sqrt() } else { f64::NAN };
    let names = target.names();
    let mut draws = Draws { names, stat_names: vec!["log_weight__".into()], sampler: "smc".into(), settings: settings(smc), ..Default::default() };
    for run in &runs {
        let d = target.dim();
        let mut chain = ChainDraws { step_size: run.stages.last().map_or(f64::NAN, |s| s.step_size), ..Default::default() };
        let parts = target.logp_parts(&run.particles, None, 1.0, None)?;
        for j in 0..smc.particles {
            chain.values.extend(target.output_values(&run.particles[j * d..(j + 1) * d])?);
            chain.lp.push(parts.log_prior[j] + parts.log_likelihood[j]);
            chain.stats.push(run.log_weights[j]);
        }
        draws.chains.push(chain);
    }
    Ok(SmcOutput { draws, runs, log_evidence, log_evidence_se })
}

fn settings(smc: &Smc) -> Vec<(String, String)> {
    let schedule = match smc.schedule {
        Schedule::Geometric { stages } => format!("geometric({stages})"),
        Schedule::Adaptive { target_ess } => format!("adaptive({target_ess})"),
        Schedule::Data { batch } => format!("data({batch})"),
    };
    vec![
        ("particles".into(), smc.particles.to_string()),
        ("schedule".into(), schedule),
        ("ess_frac".into(), smc.ess_frac.to_string()),
        ("resampling".into(), format!("{:?}", smc.resampling).to_lowercase()),
        ("moves".into(), smc.moves.to_string()),
        ("kernel".into(), format!("{:?}", smc.kernel).to_lowercase()),
        ("runs".into(), smc.runs.to_string()),
    ]
}

fn model_err(e: ModelError) -> SamplerError {
    SamplerError::Model(e)
}

/// Stages after which a run gives up (adaptive tempering with a degenerate likelihood).
const MAX_STAGES: usize = 100_000;

fn run_one<T: Target + ?Sized>(smc: &Smc, target: &T, mover: &Mover<'_>, rng: &mut ChaCha8Rng) -> Result<SmcRun, SamplerError> {
    let (n, d) = (smc.particles, target.dim());
    let n_total = target.observations().unwrap_or(0);
    let data = matches!(smc.schedule, Schedule::Data { .. });
    let mut q = Vec::with_capacity(n * d);
    for _ in 0..n {
        q.extend(target.prior_draw(rng).map_err(model_err)?);
    }
    // the likelihood in the current target: all data when tempering, none yet for data annealing
    let first = if data { vec![0.0; n] } else { target.logp_parts(&q, None, 0.0, None)?.log_likelihood };
    let log_prior = target.logp_parts(&q, None, 0.0, None)?.log_prior;
    let mut ps = Particles { n, d, q, log_prior, loglik: first, log_w: vec![-(n as f64).ln(); n] };
    let (mut lambda, mut seen, mut logz) = (0.0f64, 0usize, 0.0);
    let mut tau = 0.5 * (d as f64).powf(-1.0 / 3.0);
    let mut stages = Vec::new();
    let mut stage = 0usize;
    let per_move = match smc.kernel {
        Move::Mala => 1,
        Move::Hmc { leapfrog } => leapfrog,
    };
    let mut gradients = 0usize;
    loop {
        stage += 1;
        if stage > MAX_STAGES {
            return Err(SamplerError::Setting { name: "schedule", detail: format!("λ reached only {lambda} after {MAX_STAGES} stages: the likelihood may be degenerate; try fewer particles with ℓ = −∞ or a fixed schedule") });
        }
        // 1. incremental log weights
        let a: Vec<f64> = match smc.schedule {
            Schedule::Geometric { stages: k } => {
                let next = if stage >= k { 1.0 } else { (100f64.powf(stage as f64 / k as f64) - 1.0) / 99.0 };
                let delta = next - lambda;
                lambda = next;
                ps.loglik.iter().map(|l| increment(delta, *l)).collect()
            }
            Schedule::Adaptive { target_ess } => {
                let delta = solve_increment(&ps.log_w, &ps.loglik, target_ess, 1.0 - lambda);
                if delta <= 0.0 {
                    let bad = ps.loglik.iter().filter(|l| !l.is_finite()).count();
                    return Err(SamplerError::Setting { name: "schedule", detail: format!("stage {stage}: adaptive tempering cannot move λ past {lambda}: {bad} of {n} particles have a log likelihood that is not finite, so any increment collapses the weights; check the data (values so large that the likelihood overflows), or use more particles or a fixed schedule") });
                }
                lambda = if delta >= 1.0 - lambda { 1.0 } else { lambda + delta };
                ps.loglik.iter().map(|l| increment(delta, *l)).collect()
            }
            Schedule::Data { batch } => {
                let packet: Vec<usize> = (seen..(seen + batch).min(n_total)).collect();
                seen += packet.len();
                lambda = seen as f64 / n_total as f64;
                let l = target.logp_parts(&ps.q, Some(&packet), 1.0, None)?.log_likelihood;
                l.iter().map(|l| increment(1.0, *l)).collect()
            }
        };
        // 2. evidence increment and new weights
        ps.log_w.iter_mut().zip(&a).for_each(|(w, a)| *w += a);
        let inc = ps.normalise();
        if !inc.is_finite() {
            return Err(SamplerError::Setting { name: "particles", detail: format!("stage {stage}: every particle has zero likelihood weight (ln Σ W e^a = {inc}); use more particles or more stages") });
        }
        logz += inc;
        let ess = log_ess(&ps.log_w).exp();
        // 3. resampling
        let resampled = matches!(smc.schedule, Schedule::Adaptive { .. }) || ess < smc.ess_frac * n as f64;
        if resampled {
            ps.resample(smc.resampling, rng);
        }
        // 4. moves, invariant for prior · likelihood(obs)^weight
        let (obs, weight): (Option<Vec<usize>>, f64) = if data { (Some((0..seen).collect()), 1.0) } else { (None, lambda) };
        let precond = ps.variances();
        let mut grad = vec![0.0; n * d];
        let (mut acc_sum, mut divergent) = (0.0, 0);
        if smc.moves > 0 || data {
            let parts = target.logp_parts(&ps.q, obs.as_deref(), weight, if smc.moves > 0 { Some(&mut grad) } else { None })?;
            ps.loglik = parts.log_likelihood;
        }
        if smc.moves > 0 {
            gradients += n * (1 + smc.moves * per_move);
            let lp: Vec<f64> = ps.log_prior.iter().zip(&ps.loglik).map(|(p, l)| p + weight * l).collect();
            let tempered = Tempered { target, obs: obs.as_deref(), weight };
            let mut points = Points { q: std::mem::take(&mut ps.q), lp, grad };
            for _ in 0..smc.moves {
                let mut rngs: Vec<ChaCha8Rng> = (0..n).map(|_| ChaCha8Rng::seed_from_u64(rng.gen())).collect();
                let (acc, div) = mover(smc.kernel, &tempered, &mut points, tau, &precond, &mut rngs)?;
                acc_sum += acc;
                divergent += div;
                // steer the step towards the target acceptance, from the whole population's acceptance
                tau *= (acc - smc.target_accept).exp();
            }
            ps.q = points.q;
            let parts = target.logp_parts(&ps.q, obs.as_deref(), weight, None)?;
            ps.loglik = parts.log_likelihood;
            for (prior, p) in ps.log_prior.iter_mut().zip(parts.log_prior) {
                if p.is_finite() {
                    *prior = p;
                }
            }
        }
        let acceptance = if smc.moves > 0 { acc_sum / smc.moves as f64 } else { f64::NAN };
        stages.push(Stage { lambda, n_obs: if data { seen } else { n_total }, ess, resampled, acceptance, divergent, step_size: tau, log_evidence_increment: inc });
        let done = if data { seen >= n_total } else { lambda >= 1.0 };
        if done {
            break;
        }
    }
    Ok(SmcRun { log_evidence: logz, stages, particles: ps.q, log_weights: ps.log_w, gradients })
}
