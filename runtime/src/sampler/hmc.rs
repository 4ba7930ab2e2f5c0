//! Static HMC: a fixed number of leapfrog steps and a Metropolis test, the simple special case of
//! [`super::nuts`]; tuned by the same windowed warmup.

use super::adapt::{begin_rows, metrics, update_rows, WindowedAdaptation, WindowedSettings};
use super::phase_space::{Point, Points, TransitionParams};
use crate::target::Target;
use super::execution::{Chains, HostRows, Kernel, Rows};
use super::{Phase, Sampler, SamplerError};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// What one HMC transition did.
#[derive(Clone, Debug)]
pub struct HmcInfo {
    /// Metropolis acceptance probability `min(1, e^{−ΔH})`.
    pub accept_prob: f64,
    /// Whether the proposal was accepted.
    pub accepted: bool,
    /// Whether the energy error exceeded the divergence threshold.
    pub divergent: bool,
    /// Hamiltonian at the new point.
    pub energy: f64,
}

/// One HMC transition of `n_steps` leapfrog steps from `z` (momentum redrawn): the kernel that
/// every execution runs, for one point on the host.
pub fn transition<R: Rng>(target: &dyn Target, rng: &mut R, z: &Point, params: &TransitionParams, n_steps: usize) -> Result<(Point, HmcInfo), SamplerError> {
    let rows = HostRows::new(target, 1);
    let metric = rows.metric(std::slice::from_ref(&params.metric))?;
    let mut state = Points { q: z.q.clone(), lp: vec![z.lp], grad: z.grad.clone() };
    let info = trajectories(&rows, &mut state, std::slice::from_ref(params), &metric, n_steps, std::slice::from_mut(rng))?.remove(0);
    let out = if info.accepted { Point { q: state.q, p: z.p.clone(), lp: state.lp[0], grad: state.grad } } else { z.clone() };
    Ok((out, info))
}

/// One HMC transition of every chain of `state`: momenta drawn from each chain's stream and
/// metric, `n_steps` leapfrog steps with each chain's step size (a chain whose energy error
/// exceeds its `max_energy_error` stops there, divergent), and a Metropolis test per chain.
/// Written once against [`Rows`], so threads, lockstep and devices run this same code.
pub(crate) fn trajectories<A: Rows, R: Rng>(rows: &A, state: &mut Points<A::Array>, params: &[TransitionParams], metric: &A::Metric, n_steps: usize, rngs: &mut [R]) -> Result<Vec<HmcInfo>, SamplerError> {
    let p = rows.len();
    let mut mom = draw_momenta(rows, params, None, rngs);
    let hamiltonian = |lp: &[f64], mom: &A::Array| hamiltonian(rows, metric, lp, mom);
    let h0 = hamiltonian(&state.lp, &mom);
    let (mut q, mut lp, mut grad) = (state.q.clone(), state.lp.clone(), state.grad.clone());
    let mut h = h0.clone();
    let (mut active, mut divergent) = (vec![true; p], vec![false; p]);
    let steps = |active: &[bool], f: f64| -> Vec<f64> { params.iter().zip(active).map(|(m, a)| if *a { f * m.step_size } else { 0.0 }).collect() };
    for _ in 0..n_steps {
        rows.axpy(&mut mom, &steps(&active, 0.5), &grad);
        let v = rows.velocity(metric, &mom);
        rows.axpy(&mut q, &steps(&active, 1.0), &v);
        let (lp_new, grad_new) = rows.evaluate(&q, &active)?;
        if active.iter().all(|a| *a) {
            grad = grad_new;
        } else {
            rows.select(&active, &mut grad, &grad_new);
        }
        for r in (0..p).filter(|&r| active[r]) {
            lp[r] = lp_new[r];
        }
        // no second half kick where the density is not finite: the trajectory ends there
        let kick: Vec<bool> = active.iter().zip(&lp).map(|(a, l)| *a && l.is_finite()).collect();
        rows.axpy(&mut mom, &steps(&kick, 0.5), &grad);
        h = hamiltonian(&lp, &mom);
        for r in 0..p {
            if active[r] && h[r] - h0[r] > params[r].max_energy_error {
                divergent[r] = true;
                active[r] = false;
            }
        }
        if !active.contains(&true) {
            break;
        }
    }
    let mut info = Vec::with_capacity(p);
    for r in 0..p {
        let accept_prob = if divergent[r] { 0.0 } else { (h0[r] - h[r]).exp().min(1.0) };
        let accepted = rngs[r].gen::<f64>() < accept_prob;
        info.push(HmcInfo { accept_prob, accepted, divergent: divergent[r], energy: if accepted { h[r] } else { h0[r] } });
    }
    let take: Vec<bool> = info.iter().map(|i| i.accepted).collect();
    state.take(rows, &take, &q, &lp, &grad);
    Ok(info)
}

/// `ξ ~ N(0, M)` for every chain (or the chains of `only`; zero for the others), from its stream
/// and metric: the momenta of HMC and of the Metropolized BAOAB.
pub(crate) fn draw_momenta<A: Rows, R: Rng>(rows: &A, params: &[TransitionParams], only: Option<&[bool]>, rngs: &mut [R]) -> A::Array {
    let d = rows.dim();
    let mut xi = vec![0.0; rows.len() * d];
    for (r, ((m, row), rng)) in params.iter().zip(xi.chunks_mut(d.max(1))).zip(rngs.iter_mut()).enumerate() {
        if only.is_none_or(|a| a[r]) {
            m.metric.sample_momentum(rng, row);
        }
    }
    rows.upload(&xi)
}

/// `H = −ln π(q) + ½ pᵀ M⁻¹ p` per chain; NaN (a density or momentum gone wrong) counts as +∞, an
/// energy error that rejects.
pub(crate) fn hamiltonian<A: Rows>(rows: &A, metric: &A::Metric, lp: &[f64], p: &A::Array) -> Vec<f64> {
    let k = rows.row_dot(p, &rows.velocity(metric, p));
    lp.iter().zip(k).map(|(l, k)| { let h = -l + 0.5 * k; if h.is_nan() { f64::INFINITY } else { h } }).collect()
}

/// Static HMC with `n_steps` leapfrog steps per transition.
#[derive(Clone, Debug)]
pub struct Hmc {
    /// Leapfrog steps per transition.
    pub n_steps: usize,
    /// Energy error that marks a divergence (1000).
    pub max_energy_error: f64,
    /// Warmup settings (step size towards the target acceptance, metric).
    pub adapt: WindowedSettings,
}

impl Hmc {
    /// HMC with `n_steps` leapfrog steps and default warmup.
    pub fn new(n_steps: usize) -> Self {
        Self { n_steps, max_energy_error: 1000.0, adapt: WindowedSettings { target_accept: 0.65, ..Default::default() } }
    }
}

/// Names of HMC's per-draw statistics.
pub(crate) const STAT_NAMES: [&str; 5] = ["accept_stat__", "stepsize__", "n_leapfrog__", "divergent__", "energy__"];

/// HMC's chains: the kernel over [`Rows`] with each chain's windowed warmup.
pub(crate) struct HmcChains<A: Rows> {
    rows: A,
    state: Points<A::Array>,
    params: Vec<TransitionParams>,
    adapt: Vec<WindowedAdaptation>,
    metric: A::Metric,
    n_steps: usize,
}

impl<A: Rows> HmcChains<A> {
    pub(crate) fn start(hmc: &Hmc, rows: A, positions: Vec<Vec<f64>>, warmup: usize, rngs: &mut [ChaCha8Rng]) -> Result<Self, SamplerError> {
        let (state, params, adapt) = begin_rows(&rows, positions, &hmc.adapt, hmc.max_energy_error, warmup, rngs)?;
        let metric = metrics(&rows, &params)?;
        Ok(Self { rows, state, params, adapt, metric, n_steps: hmc.n_steps })
    }
}

impl<A: Rows> Chains for HmcChains<A> {
    super::adapt::tuned_chains_accessors!(state);
    fn step(&mut self, rngs: &mut [ChaCha8Rng], phase: Phase) -> Result<Vec<Vec<f64>>, SamplerError> {
        let used: Vec<f64> = self.params.iter().map(|m| m.step_size).collect();
        let info = trajectories(&self.rows, &mut self.state, &self.params, &self.metric, self.n_steps, rngs)?;
        if let Phase::Warmup { .. } = phase {
            let accept: Vec<f64> = info.iter().map(|i| i.accept_prob).collect();
            update_rows(&self.rows, &self.state, &mut self.params, &mut self.adapt, &accept, rngs)?;
            self.metric = metrics(&self.rows, &self.params)?;
        }
        Ok(info.iter().zip(used).map(|(i, eps)| vec![i.accept_prob, eps, self.n_steps as f64, f64::from(u8::from(i.divergent)), i.energy]).collect())
    }
}

impl Kernel for Hmc {
    fn start_rows<'a, A: Rows + 'a>(&self, rows: A, positions: Vec<Vec<f64>>, warmup: usize, rngs: &mut [ChaCha8Rng]) -> Result<Box<dyn Chains + 'a>, SamplerError> {
        Ok(Box::new(HmcChains::start(self, rows, positions, warmup, rngs)?))
    }
}

impl Sampler for Hmc {
    fn name(&self) -> &'static str {
        "hmc"
    }
    fn validate(&self) -> Result<(), SamplerError> {
        if self.n_steps == 0 {
            return Err(SamplerError::Setting { name: "n_steps", detail: "must be at least 1".into() });
        }
        self.adapt.validate()
    }
    fn settings(&self) -> Vec<(String, String)> {
        vec![("engine".into(), "static".into()), ("n_steps".into(), self.n_steps.to_string()), ("metric".into(), if self.adapt.dense { "dense_e" } else { "diag_e" }.into())]
    }
    fn start_group<'t>(&self, target: &'t dyn Target, positions: Vec<Vec<f64>>, warmup: usize, rngs: &mut [ChaCha8Rng]) -> Result<Box<dyn Chains + 't>, SamplerError> {
        let rows = HostRows::new(target, positions.len());
        self.start_rows(rows, positions, warmup, rngs)
    }

}
