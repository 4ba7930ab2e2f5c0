//! Metropolized underdamped Langevin dynamics: [`Baoab`]'s default
//! kernel, exact for the posterior whatever the step.
//!
//! One step is O(ε/2) B(ε/2) A(ε) B(ε/2) O(ε/2) (the OBABO splitting): the O half-steps refresh
//! the momentum partially and exactly, `p ← c p + √(1 − c²) ξ` with `ξ ~ N(0, M)` and
//! `c = e^{−γε/2}`, and leave `N(0, M)` invariant; the leapfrog BAB between them is a reversible,
//! volume-preserving map, and a Metropolis test on its energy error makes it exact. On rejection
//! the momentum is negated (Horowitz 1991's generalised HMC), which the O half-steps then
//! partially forget. BAOAB's own splitting puts the O step between the drifts, where no
//! Metropolis test can correct it; OBABO has the same momentum refresh per step and admits one.
//!
//! The step size ε and the mass `M` (the inverse of the metric, from the posterior's variances)
//! are tuned in warmup by the windowed adaptation NUTS and HMC use, towards a high acceptance
//! (0.9 by default: every rejection reverses the momentum, so rejections cost more here than in
//! HMC). The friction γ is in the time units of the adapted metric, in which the posterior's
//! widest directions have scale ~1. Each draw integrates for `draw_time` time units:
//! `⌈draw_time / ε⌉` steps of one gradient each (at most `max_steps`), so that a small step
//! early in warmup, before the mass fits the posterior's scales, still moves the chain as far as
//! a large one later.
//!
//! The defaults, γ = 0.5 (the momentum kept for about two time units, a third of the slowest
//! oscillation, without the resonance of a fixed HMC trajectory) and two time units per draw,
//! were chosen on seven posteriordb references (`examples/validation.rs`, 4 chains ×
//! 1000 + 1000): with them all seven pass their reference checks, at an ESS per gradient above
//! NUTS's on each. One time unit per draw with γ = 1 failed two of them (an autoregression and a
//! regression with strongly correlated coefficients, R-hat 1.01–1.02); raising the target
//! acceptance to 0.98 instead made the correlated regression worse (its step grew while the
//! chains stuck).
//!
//! Written once against [`Rows`], so threads, lockstep and devices run this same code.

use super::adapt::{begin_rows, metrics, update_rows, WindowedAdaptation};
use super::execution::{Chains, Rows};
// per-draw statistics as HMC's
use super::hmc::{draw_momenta, hamiltonian, STAT_NAMES};
use super::langevin::Baoab;
use super::phase_space::{Points, TransitionParams};
use super::{Phase, SamplerError};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// What one draw (`steps` OBABO steps) of each chain did.
struct StepInfo {
    accept_prob: f64,
    divergent: bool,
    energy: f64,
    steps: usize,
}

/// The Metropolized chains: positions, gradients and log densities, the momenta that persist
/// from step to step, and each chain's step size, metric and warmup.
pub(crate) struct ObaboChains<A: Rows> {
    rows: A,
    state: Points<A::Array>,
    momenta: A::Array,
    params: Vec<TransitionParams>,
    adapt: Vec<WindowedAdaptation>,
    metric: A::Metric,
    friction: f64,
    draw_time: f64,
    max_steps: usize,
}

impl<A: Rows> ObaboChains<A> {
    pub(crate) fn start(baoab: &Baoab, rows: A, positions: Vec<Vec<f64>>, warmup: usize, rngs: &mut [ChaCha8Rng]) -> Result<Self, SamplerError> {
        let (state, params, adapt) = begin_rows(&rows, positions, &baoab.adapt, baoab.max_energy_error, warmup, rngs)?;
        let metric = metrics(&rows, &params)?;
        let momenta = draw_momenta(&rows, &params, None, rngs);
        Ok(Self { rows, state, momenta, params, adapt, metric, friction: baoab.friction, draw_time: baoab.draw_time, max_steps: baoab.max_steps })
    }

    /// Steps of chain `r` in one draw: `⌈draw_time / ε_r⌉`, at least 1 and at most `max_steps`.
    fn steps(&self, r: usize) -> usize {
        let k = (self.draw_time / self.params[r].step_size).ceil();
        if k.is_finite() { (k as usize).clamp(1, self.max_steps) } else { self.max_steps }
    }

    /// One draw of every chain: its own number of OBABO steps. A chain whose steps are done sits
    /// out the others' (no draw from its stream, no change), so that each chain's path is the
    /// same whether it runs alone or beside others.
    fn draw(&mut self, rngs: &mut [ChaCha8Rng]) -> Result<Vec<StepInfo>, SamplerError> {
        let n = self.rows.len();
        let steps: Vec<usize> = (0..n).map(|r| self.steps(r)).collect();
        let longest = steps.iter().copied().max().unwrap_or(0);
        let mut accept = vec![0.0; n];
        let mut divergent = vec![false; n];
        let mut energy = vec![0.0; n];
        for i in 0..longest {
            let active: Vec<bool> = steps.iter().map(|&k| i < k).collect();
            let c: Vec<f64> = self.params.iter().zip(&active).map(|(m, a)| if *a { (-0.5 * self.friction * m.step_size).exp() } else { 1.0 }).collect();
            let s: Vec<f64> = c.iter().map(|c| (1.0 - c * c).sqrt()).collect();
            self.refresh(&c, &s, &active, rngs);
            let (a, div, h) = self.leapfrog(&active, rngs)?;
            for r in (0..n).filter(|&r| active[r]) {
                accept[r] += a[r] / steps[r] as f64;
                divergent[r] |= div[r];
                energy[r] = h[r];
            }
            self.refresh(&c, &s, &active, rngs);
        }
        Ok((0..n).map(|r| StepInfo { accept_prob: accept[r], divergent: divergent[r], energy: energy[r], steps: steps[r] }).collect())
    }

    /// The O half-step of the active chains: `p ← c p + s ξ`, `ξ ~ N(0, M)` from each chain's
    /// stream.
    fn refresh(&mut self, c: &[f64], s: &[f64], active: &[bool], rngs: &mut [ChaCha8Rng]) {
        let fresh = draw_momenta(&self.rows, &self.params, Some(active), rngs);
        self.rows.scale(&mut self.momenta, c);
        self.rows.axpy(&mut self.momenta, s, &fresh);
    }

    /// One leapfrog step of every chain and its Metropolis test; a rejected chain stays where it
    /// was with its momentum negated. Returns the acceptance probabilities, the divergences and
    /// the energies after the step.
    fn leapfrog(&mut self, active: &[bool], rngs: &mut [ChaCha8Rng]) -> Result<(Vec<f64>, Vec<bool>, Vec<f64>), SamplerError> {
        let rows = &self.rows;
        let n = rows.len();
        let eps: Vec<f64> = self.params.iter().zip(active).map(|(m, a)| if *a { m.step_size } else { 0.0 }).collect();
        let half: Vec<f64> = eps.iter().map(|e| 0.5 * e).collect();
        let hamiltonian = |lp: &[f64], p: &A::Array| hamiltonian(rows, &self.metric, lp, p);
        let h0 = hamiltonian(&self.state.lp, &self.momenta);
        let mut p = self.momenta.clone();
        let mut q = self.state.q.clone();
        rows.axpy(&mut p, &half, &self.state.grad);
        rows.axpy(&mut q, &eps, &rows.velocity(&self.metric, &p));
        let (lp, grad) = rows.evaluate(&q, active)?;
        let finite: Vec<f64> = lp.iter().zip(&half).map(|(l, h)| if l.is_finite() { *h } else { 0.0 }).collect();
        rows.axpy(&mut p, &finite, &grad);
        let h1 = hamiltonian(&lp, &p);
        let mut accept = Vec::with_capacity(n);
        let mut divergent = Vec::with_capacity(n);
        let mut take = Vec::with_capacity(n);
        for r in 0..n {
            let (t, a, div) = if active[r] {
                let div = !lp[r].is_finite() || h1[r] - h0[r] > self.params[r].max_energy_error;
                let a = if div { 0.0 } else { (h0[r] - h1[r]).exp().min(1.0) };
                (rngs[r].gen::<f64>() < a, a, div)
            } else {
                (false, 1.0, false)
            };
            take.push(t);
            accept.push(a);
            divergent.push(div);
        }
        self.state.take(rows, &take, &q, &lp, &grad);
        // accepted: the new momentum; rejected: the old one reversed; sitting out: unchanged
        let flip: Vec<f64> = take.iter().zip(active).map(|(t, a)| if *t || !*a { 1.0 } else { -1.0 }).collect();
        rows.scale(&mut self.momenta, &flip);
        rows.select(&take, &mut self.momenta, &p);
        let energy = (0..n).map(|r| if take[r] { h1[r] } else { h0[r] }).collect();
        Ok((accept, divergent, energy))
    }
}


impl<A: Rows> Chains for ObaboChains<A> {
    super::adapt::tuned_chains_accessors!(state);
    fn step(&mut self, rngs: &mut [ChaCha8Rng], phase: Phase) -> Result<Vec<Vec<f64>>, SamplerError> {
        let used: Vec<f64> = self.params.iter().map(|m| m.step_size).collect();
        let info = self.draw(rngs)?;
        if let Phase::Warmup { .. } = phase {
            let before: Vec<Vec<f64>> = self.params.iter().map(|m| m.metric.to_vec()).collect();
            let accept: Vec<f64> = info.iter().map(|i| i.accept_prob).collect();
            update_rows(&self.rows, &self.state, &mut self.params, &mut self.adapt, &accept, rngs)?;
            if self.params.iter().zip(&before).any(|(m, b)| m.metric.to_vec() != *b) {
                // a new mass: momenta from its law
                self.metric = metrics(&self.rows, &self.params)?;
                self.momenta = draw_momenta(&self.rows, &self.params, None, rngs);
            }
        }
        Ok(info.iter().zip(used).map(|(i, eps)| vec![i.accept_prob, eps, i.steps as f64, f64::from(u8::from(i.divergent)), i.energy]).collect())
    }
}
