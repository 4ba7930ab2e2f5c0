//! The No-U-Turn Sampler as Stan implements it (Betancourt 2017): multinomial sampling of the
//! trajectory with a bias towards the last doubling, the generalized no-U-turn criterion checked on
//! every subtree and across subtree boundaries, divergence when the energy error exceeds a
//! threshold. [`transition`] is one NUTS step with fixed step size and metric; [`Nuts`] adds
//! Stan's windowed warmup around it.

use super::adapt::{WindowedAdaptation, WindowedSettings};
use super::metric::Metric;
use super::phase_space::{Point, TransitionParams};
use crate::target::Target;
use super::{Chain, Phase, Sampler, SamplerError};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// What one transition did.
#[derive(Clone, Debug, Default)]
pub struct Info {
    /// Mean Metropolis acceptance probability over the trajectory (Stan's `accept_stat__`).
    pub accept_stat: f64,
    /// Depth of the final tree.
    pub depth: usize,
    /// Leapfrog steps taken.
    pub n_leapfrog: usize,
    /// Whether the trajectory diverged.
    pub divergent: bool,
    /// Hamiltonian at the new point.
    pub energy: f64,
}

fn log_sum_exp(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn criterion(p_sharp_minus: &[f64], p_sharp_plus: &[f64], rho: &[f64]) -> bool {
    dot(p_sharp_plus, rho) > 0.0 && dot(p_sharp_minus, rho) > 0.0
}

fn add(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

struct Tree<'a> {
    target: &'a dyn Target,
    params: &'a TransitionParams,
    h0: f64,
    n_leapfrog: usize,
    sum_metro_prob: f64,
    divergent: bool,
    scratch: Vec<f64>,
}

/// The momenta and velocities at the two ends of a subtree.
struct Ends {
    p_beg: Vec<f64>,
    p_end: Vec<f64>,
    v_beg: Vec<f64>,
    v_end: Vec<f64>,
}

impl Tree<'_> {
    fn velocity(&self, p: &[f64]) -> Vec<f64> {
        let mut v = vec![0.0; p.len()];
        self.params.metric.velocity(p, &mut v);
        v
    }

    /// Builds a subtree of `2^depth` steps from `z` in direction `sign`; returns whether it is
    /// valid, with its proposal, summed momentum `rho`, ends and log weight.
    fn build<R: Rng>(&mut self, rng: &mut R, z: &mut Point, depth: usize, sign: f64, rho: &mut [f64], log_w: &mut f64) -> Result<(bool, Point, Ends), SamplerError> {
        if depth == 0 {
            z.leapfrog(self.target, &self.params.metric, sign * self.params.step_size, &mut self.scratch)?;
            self.n_leapfrog += 1;
            let h = z.hamiltonian(&self.params.metric);
            if h - self.h0 > self.params.max_energy_error {
                self.divergent = true;
            }
            let delta = self.h0 - h;
            *log_w = log_sum_exp(*log_w, delta);
            self.sum_metro_prob += if delta > 0.0 { 1.0 } else { delta.exp() };
            for (r, p) in rho.iter_mut().zip(&z.p) {
                *r += p;
            }
            let v = self.velocity(&z.p);
            let ends = Ends { p_beg: z.p.clone(), p_end: z.p.clone(), v_beg: v.clone(), v_end: v };
            return Ok((!self.divergent, z.clone(), ends));
        }
        let d = z.q.len();
        let mut rho_left = vec![0.0; d];
        let mut log_w_left = f64::NEG_INFINITY;
        let (valid, propose_left, left) = self.build(rng, z, depth - 1, sign, &mut rho_left, &mut log_w_left)?;
        if !valid {
            return Ok((false, propose_left, left));
        }
        let mut rho_right = vec![0.0; d];
        let mut log_w_right = f64::NEG_INFINITY;
        let (valid, propose_right, right) = self.build(rng, z, depth - 1, sign, &mut rho_right, &mut log_w_right)?;
        let ends = Ends { p_beg: left.p_beg.clone(), p_end: right.p_end.clone(), v_beg: left.v_beg.clone(), v_end: right.v_end.clone() };
        if !valid {
            return Ok((false, propose_left, ends));
        }
        let log_w_subtree = log_sum_exp(log_w_left, log_w_right);
        *log_w = log_sum_exp(*log_w, log_w_subtree);
        // multinomial sampling between the halves
        let propose = if log_w_right > log_w_subtree || rng.gen::<f64>() < (log_w_right - log_w_subtree).exp() { propose_right } else { propose_left };
        let rho_subtree = add(&rho_left, &rho_right);
        for (r, s) in rho.iter_mut().zip(&rho_subtree) {
            *r += s;
        }
        let mut persist = criterion(&left.v_beg, &right.v_end, &rho_subtree);
        persist &= criterion(&left.v_beg, &right.v_beg, &add(&rho_left, &right.p_beg));
        persist &= criterion(&left.v_end, &right.v_end, &add(&rho_right, &left.p_end));
        Ok((persist, propose, ends))
    }
}

/// One NUTS transition from `z` (whose momentum is redrawn).
pub fn transition<R: Rng>(target: &dyn Target, rng: &mut R, z: &Point, params: &TransitionParams) -> Result<(Point, Info), SamplerError> {
    let d = z.q.len();
    let mut z0 = z.clone();
    params.metric.sample_momentum(rng, &mut z0.p);
    let h0 = z0.hamiltonian(&params.metric);
    let mut tree = Tree { target, params, h0, n_leapfrog: 0, sum_metro_prob: 0.0, divergent: false, scratch: vec![0.0; d] };

    let v0 = tree.velocity(&z0.p);
    let (mut z_fwd, mut z_bck) = (z0.clone(), z0.clone());
    let mut sample = z0.clone();
    let (mut p_fwd_bck, mut p_bck_fwd) = (z0.p.clone(), z0.p.clone());
    let (mut v_fwd_bck, mut v_fwd_fwd, mut v_bck_fwd, mut v_bck_bck) = (v0.clone(), v0.clone(), v0.clone(), v0);
    let mut rho = z0.p.clone();
    let mut log_w = 0.0;
    let mut depth = 0;

    while depth < params.max_depth {
        let mut rho_fwd = vec![0.0; d];
        let mut rho_bck = vec![0.0; d];
        let mut log_w_subtree = f64::NEG_INFINITY;
        let (valid, propose) = if rng.gen::<f64>() > 0.5 {
            rho_bck.clone_from(&rho);
            p_bck_fwd.clone_from(&p_fwd_bck);
            v_bck_fwd.clone_from(&v_fwd_bck);
            let (valid, propose, ends) = tree.build(rng, &mut z_fwd, depth, 1.0, &mut rho_fwd, &mut log_w_subtree)?;
            p_fwd_bck = ends.p_beg;
            v_fwd_bck = ends.v_beg;
            v_fwd_fwd = ends.v_end;
            (valid, propose)
        } else {
            rho_fwd.clone_from(&rho);
            p_fwd_bck.clone_from(&p_bck_fwd);
            v_fwd_bck.clone_from(&v_bck_fwd);
            let (valid, propose, ends) = tree.build(rng, &mut z_bck, depth, -1.0, &mut rho_bck, &mut log_w_subtree)?;
            p_bck_fwd = ends.p_beg;
            v_bck_fwd = ends.v_beg;
            v_bck_bck = ends.v_end;
            (valid, propose)
        };
        if !valid {
            break;
        }
        depth += 1;
        // biased progressive sampling: favour the new subtree
        if log_w_subtree > log_w || rng.gen::<f64>() < (log_w_subtree - log_w).exp() {
            sample = propose;
        }
        log_w = log_sum_exp(log_w, log_w_subtree);
        rho = add(&rho_bck, &rho_fwd);
        let mut persist = criterion(&v_bck_bck, &v_fwd_fwd, &rho);
        persist &= criterion(&v_bck_bck, &v_fwd_bck, &add(&rho_bck, &p_fwd_bck));
        persist &= criterion(&v_bck_fwd, &v_fwd_fwd, &add(&rho_fwd, &p_bck_fwd));
        if !persist {
            break;
        }
    }
    let n = tree.n_leapfrog.max(1);
    let info = Info {
        accept_stat: tree.sum_metro_prob / n as f64,
        depth,
        n_leapfrog: tree.n_leapfrog,
        divergent: tree.divergent,
        energy: sample.hamiltonian(&params.metric),
    };
    Ok((sample, info))
}

/// NUTS with Stan's windowed warmup (dual-averaging step size, diagonal or dense metric in doubling
/// windows).
#[derive(Clone, Debug)]
pub struct Nuts {
    /// Maximum tree depth (default 10).
    pub max_depth: usize,
    /// Energy error that marks a divergence (default 1000).
    pub max_energy_error: f64,
    /// Warmup settings: target acceptance, windows, dense metric.
    pub adapt: WindowedSettings,
    /// Step size: where warmup starts (default 1, then Stan's heuristic and dual averaging adapt
    /// it), or used as given without warmup — the `step_size` of every sampler.
    pub step_size: f64,
    /// Initial inverse metric (default the identity): with `step_size` and no warmup this
    /// resumes a run from its adapted state, e.g. as read back from a CmdStan CSV.
    pub init_metric: Option<Metric>,
}

impl Default for Nuts {
    fn default() -> Self {
        Self { max_depth: 10, max_energy_error: 1000.0, adapt: WindowedSettings::default(), step_size: 1.0, init_metric: None }
    }
}

impl Nuts {
    /// NUTS that continues with an adapted step size and inverse metric (run it with no warmup).
    pub fn resume(step_size: f64, metric: Metric) -> Self {
        Self { step_size, init_metric: Some(metric), ..Default::default() }
    }

    /// NUTS with a dense metric.
    pub fn dense() -> Self {
        Self { adapt: WindowedSettings { dense: true, ..Default::default() }, ..Default::default() }
    }
}

struct NutsChain<'t> {
    target: &'t dyn Target,
    z: Point,
    params: TransitionParams,
    adapt: WindowedAdaptation,
}

const NUTS_STATS: [&str; 6] = ["accept_stat__", "stepsize__", "treedepth__", "n_leapfrog__", "divergent__", "energy__"];

impl Chain for NutsChain<'_> {
    fn step(&mut self, rng: &mut ChaCha8Rng, phase: Phase) -> Result<Vec<f64>, SamplerError> {
        let used_step = self.params.step_size;
        let (z, info) = transition(self.target, rng, &self.z, &self.params)?;
        self.z = z;
        if let Phase::Warmup { .. } = phase {
            self.adapt.update(self.target, rng, &mut self.z, &mut self.params, info.accept_stat)?;
        }
        Ok(vec![info.accept_stat, used_step, info.depth as f64, info.n_leapfrog as f64, f64::from(u8::from(info.divergent)), info.energy])
    }
    fn position(&self) -> &[f64] {
        &self.z.q
    }
    fn log_density(&self) -> f64 {
        self.z.lp
    }
    fn stat_names(&self) -> Vec<&'static str> {
        NUTS_STATS.to_vec()
    }
    fn step_size(&self) -> f64 {
        self.params.step_size
    }
    fn inv_metric(&self) -> Vec<f64> {
        self.params.metric.to_vec()
    }
}

impl Sampler for Nuts {
    fn name(&self) -> &'static str {
        "nuts"
    }
    fn validate(&self) -> Result<(), SamplerError> {
        if self.max_depth == 0 || self.max_depth > 30 {
            return Err(SamplerError::Setting { name: "max_depth", detail: format!("must be in 1..=30, got {}", self.max_depth) });
        }
        if !(self.step_size > 0.0 && self.step_size.is_finite()) {
            return Err(SamplerError::Setting { name: "step_size", detail: format!("must be positive, got {}", self.step_size) });
        }
        if !(self.max_energy_error > 0.0) {
            return Err(SamplerError::Setting { name: "max_energy_error", detail: format!("must be positive, got {}", self.max_energy_error) });
        }
        if let Some(m) = &self.init_metric {
            m.check().map_err(|detail| SamplerError::Setting { name: "init_metric", detail })?;
        }
        self.adapt.validate()
    }
    fn settings(&self) -> Vec<(String, String)> {
        vec![
            ("engine".into(), "nuts".into()),
            ("max_depth".into(), self.max_depth.to_string()),
            ("metric".into(), if self.adapt.dense { "dense_e" } else { "diag_e" }.into()),
            ("delta".into(), self.adapt.target_accept.to_string()),
        ]
    }
    fn start<'t>(&self, target: &'t dyn Target, position: Vec<f64>, warmup: usize, rng: &mut ChaCha8Rng) -> Result<Box<dyn Chain + 't>, SamplerError> {
        let d = position.len();
        let mut z = Point::new(target, position)?;
        let metric = match &self.init_metric {
            Some(m) if m.dim() == d => m.clone(),
            Some(m) => return Err(SamplerError::Setting { name: "init_metric", detail: format!("has dimension {}, the target {d}", m.dim()) }),
            None => Metric::unit(d),
        };
        let mut params = TransitionParams { step_size: self.step_size, metric, max_depth: self.max_depth, max_energy_error: self.max_energy_error };
        let adapt = WindowedAdaptation::begin(self.adapt.clone(), warmup, target, rng, &mut z, &mut params)?;
        Ok(Box::new(NutsChain { target, z, params, adapt }))
    }
}
