//! The MCMC moves SMC applies to its whole population at once: MALA ([`super::super::mala`]) or
//! HMC with a fixed number of leapfrog steps, both with one batched evaluation per gradient and a
//! Metropolis–Hastings test per particle, so each leaves the current tempered target invariant.

use super::super::mala::{population_step as mala_step, MalaInfo};
use super::super::SamplerError;
use rand::Rng;
use rand_distr::StandardNormal;

/// Which kernel moves the particles between stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Move {
    /// One MALA step per move (the default).
    #[default]
    Mala,
    /// HMC with `leapfrog` steps per move: travels further per gradient than MALA's random walk,
    /// which matters in high dimension.
    Hmc {
        /// Leapfrog steps per move (at least 1; 1 is MALA).
        leapfrog: usize,
    },
}

/// One HMC move of every row of `q` (row-major `(P, D)`): momenta `p ~ N(0, diag(1/precond))`,
/// `leapfrog` steps of size ε = √(2τ) with inverse metric `precond`, then the Metropolis test on
/// the energy. `eval` evaluates a population as in [`super::super::mala::population_step`]. A
/// particle whose trajectory reaches a non-finite log density or gradient stops there, is rejected
/// and marked divergent.
#[allow(clippy::too_many_arguments)]
pub fn hmc_step<R: Rng, F>(q: &mut [f64], lp: &mut [f64], grad: &mut [f64], aux: &mut [f64], tau: f64, precond: &[f64], leapfrog: usize, rng: &mut R, mut eval: F) -> Result<Vec<MalaInfo>, SamplerError>
where
    F: FnMut(&[f64], &mut [f64], &mut [f64], &mut [f64]) -> Result<(), SamplerError>,
{
    let (n, d) = (lp.len(), precond.len());
    let eps = (2.0 * tau).sqrt();
    let mut p: Vec<f64> = (0..n * d).map(|k| rng.sample::<f64, _>(StandardNormal) / precond[k % d].sqrt()).collect();
    let kinetic = |p: &[f64], j: usize| (0..d).map(|i| precond[i] * p[j * d + i] * p[j * d + i]).sum::<f64>() * 0.5;
    let h0: Vec<f64> = (0..n).map(|j| -lp[j] + kinetic(&p, j)).collect();
    let (mut x, mut g, mut l, mut a) = (q.to_vec(), grad.to_vec(), lp.to_vec(), aux.to_vec());
    let mut alive = vec![true; n];
    for _ in 0..leapfrog {
        for k in 0..n * d {
            if alive[k / d] {
                p[k] += 0.5 * eps * g[k];
                x[k] += eps * precond[k % d] * p[k];
            }
        }
        eval(&x, &mut l, &mut g, &mut a)?;
        for j in 0..n {
            if !alive[j] {
                continue;
            }
            let r = j * d..(j + 1) * d;
            if !l[j].is_finite() || g[r.clone()].iter().any(|v| !v.is_finite()) {
                alive[j] = false;
                continue;
            }
            for k in r {
                p[k] += 0.5 * eps * g[k];
            }
        }
    }
    let mut info = vec![MalaInfo::default(); n];
    for j in 0..n {
        let accept_prob = if alive[j] {
            let dh = h0[j] - (-l[j] + kinetic(&p, j));
            if dh.is_nan() {
                0.0
            } else {
                dh.exp().min(1.0)
            }
        } else {
            0.0
        };
        let accepted = rng.gen::<f64>() < accept_prob;
        if accepted {
            let r = j * d..(j + 1) * d;
            q[r.clone()].copy_from_slice(&x[r.clone()]);
            grad[r.clone()].copy_from_slice(&g[r]);
            lp[j] = l[j];
            aux[j] = a[j];
        }
        info[j] = MalaInfo { accept_prob, accepted, divergent: !alive[j] };
    }
    Ok(info)
}

impl Move {
    /// One move of the population.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn step<R: Rng, F>(self, q: &mut [f64], lp: &mut [f64], grad: &mut [f64], aux: &mut [f64], tau: f64, precond: &[f64], rng: &mut R, eval: F) -> Result<Vec<MalaInfo>, SamplerError>
    where
        F: FnMut(&[f64], &mut [f64], &mut [f64], &mut [f64]) -> Result<(), SamplerError>,
    {
        match self {
            Move::Mala => mala_step(q, lp, grad, aux, tau, precond, rng, eval),
            Move::Hmc { leapfrog } => hmc_step(q, lp, grad, aux, tau, precond, leapfrog, rng, eval),
        }
    }
}
