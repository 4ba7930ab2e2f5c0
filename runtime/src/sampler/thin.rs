//! [`Thin`]: keep every k-th transition of a sampler. A large network's draws cost memory and disk
//! per recorded draw; thinning (with [`super::Select`] for a subset of outputs) bounds both while
//! the chain still makes every transition.

use super::execution::{Kernel, Rows};
use super::{Chains, Phase, Sampler, SamplerError};
use crate::target::Target;
use rand_chacha::ChaCha8Rng;

/// Runs `sampler` and records one draw every `every` transitions after warmup (warmup is not
/// thinned: its adaptation sees every iteration, as without the wrapper). A recorded draw carries
/// the statistics of its last transition, except that `n_grad__` and `n_leapfrog__` add up over
/// the `every` transitions and `divergent__` is 1 if any of them diverged, so that counts and
/// warnings stay complete.
///
/// ```
/// use snell::sampler::{hmc::Hmc, run, RunConfig, Thin};
/// use snell::target::FnDensity;
/// let target = FnDensity::new(2, |q, g| { g[0] = -q[0]; g[1] = -q[1]; -0.5 * (q[0] * q[0] + q[1] * q[1]) });
/// let thinned = Thin::new(Hmc::new(5), 10);
/// let draws = run(&thinned, &target, &RunConfig { chains: 1, warmup: 100, draws: 50, seed: 1, init: None }).unwrap();
/// assert_eq!(draws.chains[0].values.len(), 50 * 2);       // 50 draws from 500 transitions
/// ```
#[derive(Clone, Debug)]
pub struct Thin<S> {
    /// The sampler whose transitions are thinned.
    pub sampler: S,
    /// Transitions per recorded draw (at least 1).
    pub every: usize,
}

impl<S: Sampler> Thin<S> {
    /// `sampler`, recording every `every`-th transition.
    pub fn new(sampler: S, every: usize) -> Self {
        Self { sampler, every }
    }
}

impl<S: Sampler> Sampler for Thin<S> {
    fn name(&self) -> &'static str {
        self.sampler.name()
    }
    fn validate(&self) -> Result<(), SamplerError> {
        if self.every == 0 {
            return Err(SamplerError::Setting { name: "every", detail: "thinning keeps one draw every `every` transitions: it must be at least 1".into() });
        }
        self.sampler.validate()
    }
    fn settings(&self) -> Vec<(String, String)> {
        let mut s = self.sampler.settings();
        s.push(("thin".into(), self.every.to_string()));
        s
    }
    fn start_group<'t>(&self, target: &'t dyn Target, positions: Vec<Vec<f64>>, warmup: usize, rngs: &mut [ChaCha8Rng]) -> Result<Box<dyn Chains + 't>, SamplerError> {
        self.validate()?;
        Ok(ThinChains::new(self.sampler.start_group(target, positions, warmup, rngs)?, self.every))
    }
    fn lockstep(&self) -> bool {
        self.sampler.lockstep()
    }
}

/// A thinned kernel is a kernel: `run_device(&Thin::new(kernel, k), …)` records every k-th
/// transition on a device too.
impl<K: Kernel> Kernel for Thin<K> {
    fn start_rows<'a, A: Rows + 'a>(&self, rows: A, positions: Vec<Vec<f64>>, warmup: usize, rngs: &mut [ChaCha8Rng]) -> Result<Box<dyn Chains + 'a>, SamplerError> {
        self.validate()?;
        Ok(ThinChains::new(self.sampler.start_rows(rows, positions, warmup, rngs)?, self.every))
    }
}

struct ThinChains<'t> {
    inner: Box<dyn Chains + 't>,
    every: usize,
    summed: Vec<usize>,
    divergent: Option<usize>,
}

impl<'t> ThinChains<'t> {
    fn new(inner: Box<dyn Chains + 't>, every: usize) -> Box<dyn Chains + 't> {
        let names = inner.stat_names();
        let summed: Vec<usize> = names.iter().enumerate().filter(|(_, n)| matches!(**n, "n_grad__" | "n_leapfrog__")).map(|(i, _)| i).collect();
        let divergent = names.iter().position(|n| *n == "divergent__");
        Box::new(ThinChains { inner, every, summed, divergent })
    }
}

impl Chains for ThinChains<'_> {
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn step(&mut self, rngs: &mut [ChaCha8Rng], phase: Phase) -> Result<Vec<Vec<f64>>, SamplerError> {
        let mut stats = self.inner.step(rngs, phase)?;
        if matches!(phase, Phase::Warmup { .. }) {
            return Ok(stats);
        }
        for _ in 1..self.every {
            let next = self.inner.step(rngs, phase)?;
            for (stats, next) in stats.iter_mut().zip(next) {
                let totals: Vec<f64> = self.summed.iter().map(|&i| stats[i] + next[i]).collect();
                let diverged = self.divergent.is_some_and(|i| stats[i] != 0.0 || next[i] != 0.0);
                *stats = next;
                for (&i, t) in self.summed.iter().zip(totals) {
                    stats[i] = t;
                }
                if let (Some(i), true) = (self.divergent, diverged) {
                    stats[i] = 1.0;
                }
            }
        }
        Ok(stats)
    }
    fn positions(&self) -> Vec<Vec<f64>> {
        self.inner.positions()
    }
    fn log_densities(&self) -> Vec<f64> {
        self.inner.log_densities()
    }
    fn stat_names(&self) -> Vec<&'static str> {
        self.inner.stat_names()
    }
    fn step_size(&self, r: usize) -> f64 {
        self.inner.step_size(r)
    }
    fn inv_metric(&self, r: usize) -> Vec<f64> {
        self.inner.inv_metric(r)
    }
}
