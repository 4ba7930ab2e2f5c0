//! The augmented leapfrog of L2HMC (Levy, Hoffman & Sohl-Dickstein 2018, eq. 4–6 and App. A) in
//! f64, with its exact log-Jacobian: the networks run per chain on the host, the gradients of a
//! group of chains are one population evaluation per step.
//!
//! Conventions (Levy, Hoffman & Sohl-Dickstein 2018, eq. 4–6 and App. A): the first position sub-update
//! moves the coordinates where `m = 1` and sees `m̄ ⊙ x`, the second moves `m̄` and sees `m ⊙ x`;
//! the position network sees the already updated momentum `v₁` (needed for invertibility); the
//! backward step is the exact inverse of the forward step with the same `t` and runs `t = M−1…0`.
//! With S = Q = T = 0 a forward step is the standard leapfrog and its log-Jacobian is 0.

use super::net::Networks;
use crate::sampler::execution::{HostRows, Rows};
use crate::sampler::SamplerError;
use crate::target::Target;

/// A point of the augmented state with its log density and gradient.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// Position x.
    pub x: Vec<f64>,
    /// Momentum v.
    pub v: Vec<f64>,
    /// `ln π(x)` (= −U(x)).
    pub lp: f64,
    /// `∇ ln π(x)` (= −∇U(x)).
    pub grad: Vec<f64>,
}

impl State {
    /// The state at `x` with momentum `v`, evaluating the target.
    pub fn new(target: &dyn Target, x: Vec<f64>, v: Vec<f64>) -> Result<Self, SamplerError> {
        let mut grad = vec![0.0; x.len()];
        let lp = target.logp_grad(&x, &mut grad)?;
        Ok(Self { x, v, lp, grad })
    }

    /// H = U(x) + ½|v|².
    pub fn hamiltonian(&self) -> f64 {
        -self.lp + 0.5 * self.v.iter().map(|v| v * v).sum::<f64>()
    }

    fn finite(&self) -> bool {
        self.lp.is_finite() && self.grad.iter().chain(&self.x).chain(&self.v).all(|g| g.is_finite())
    }
}

/// The time encoding τ(t) = (cos 2πt/M, sin 2πt/M).
pub fn time_encoding(t: usize, n_steps: usize) -> [f64; 2] {
    let a = 2.0 * std::f64::consts::PI * t as f64 / n_steps as f64;
    [a.cos(), a.sin()]
}

/// Scratch space of one chain.
struct Work {
    out: Vec<f64>,
    masked: Vec<f64>,
    grad_u: Vec<f64>,
}

impl Work {
    fn new(n: usize) -> Self {
        Self { out: vec![0.0; 3 * n], masked: vec![0.0; n], grad_u: vec![0.0; n] }
    }
}

/// Momentum update `v ← v ⊙ e^{½εS} − ½ε(∇U ⊙ e^{εQ} + T)` (or its inverse when `inverse`);
/// returns its log-Jacobian ±½ε ΣS.
fn kick(nets: &Networks, eps: f64, s: &mut State, tau: [f64; 2], inverse: bool, w: &mut Work) -> f64 {
    let n = s.x.len();
    w.grad_u.iter_mut().zip(&s.grad).for_each(|(u, g)| *u = -g);
    nets.v_net.eval(&s.x, &w.grad_u, tau, &mut w.out);
    let (sv, rest) = w.out.split_at(n);
    let (qv, tv) = rest.split_at(n);
    for i in 0..n {
        let force = w.grad_u[i] * (eps * qv[i]).exp() + tv[i];
        s.v[i] = if inverse { (s.v[i] + 0.5 * eps * force) * (-0.5 * eps * sv[i]).exp() } else { s.v[i] * (0.5 * eps * sv[i]).exp() - 0.5 * eps * force };
    }
    let lj = 0.5 * eps * sv.iter().sum::<f64>();
    if inverse {
        -lj
    } else {
        lj
    }
}

/// Position update of the coordinates where `mask == moved` from the network's view of the others
/// (`x ⊙ [mask ≠ moved]`): `x ← x ⊙ e^{εS} + ε(v ⊙ e^{εQ} + T)` or its inverse; returns its
/// log-Jacobian ±ε Σ_moved S.
fn drift(nets: &Networks, eps: f64, s: &mut State, mask: &[f64], moved: f64, tau: [f64; 2], inverse: bool, w: &mut Work) -> f64 {
    let n = s.x.len();
    for i in 0..n {
        w.masked[i] = if mask[i] == moved { 0.0 } else { s.x[i] };
    }
    nets.x_net.eval(&s.v, &w.masked, tau, &mut w.out);
    let (sx, rest) = w.out.split_at(n);
    let (qx, tx) = rest.split_at(n);
    let mut lj = 0.0;
    for i in (0..n).filter(|&i| mask[i] == moved) {
        let shift = eps * (s.v[i] * (eps * qx[i]).exp() + tx[i]);
        s.x[i] = if inverse { (s.x[i] - shift) * (-eps * sx[i]).exp() } else { s.x[i] * (eps * sx[i]).exp() + shift };
        lj += eps * sx[i];
    }
    if inverse {
        -lj
    } else {
        lj
    }
}

fn evaluate(target: &dyn Target, s: &mut State) -> Result<(), SamplerError> {
    s.lp = target.logp_grad(&s.x, &mut s.grad)?;
    Ok(())
}

/// One forward step (d = +1) with time index `t`; returns its log-Jacobian.
pub fn forward_step(nets: &Networks, target: &dyn Target, s: &mut State, t: usize) -> Result<f64, SamplerError> {
    let mut w = Work::new(s.x.len());
    forward(nets, nets.step_size(), target, s, t, &mut w)
}

/// One backward step (d = −1, the inverse of [`forward_step`] with the same `t`); returns its
/// log-Jacobian.
pub fn backward_step(nets: &Networks, target: &dyn Target, s: &mut State, t: usize) -> Result<f64, SamplerError> {
    let mut w = Work::new(s.x.len());
    backward(nets, nets.step_size(), target, s, t, &mut w)
}

/// The updates of one step before its gradient evaluation: the first kick and both drifts
/// (forward, or their inverses in reverse order when `inverse`); returns their log-Jacobian.
fn before_evaluation(nets: &Networks, eps: f64, s: &mut State, t: usize, inverse: bool, w: &mut Work) -> f64 {
    let tau = time_encoding(t, nets.n_steps);
    let m = &nets.masks[t];
    let (first, second) = if inverse { (0.0, 1.0) } else { (1.0, 0.0) };
    let mut lj = kick(nets, eps, s, tau, inverse, w);
    lj += drift(nets, eps, s, m, first, tau, inverse, w);
    lj + drift(nets, eps, s, m, second, tau, inverse, w)
}

/// The last kick of a step, after its gradient evaluation; returns its log-Jacobian.
fn after_evaluation(nets: &Networks, eps: f64, s: &mut State, t: usize, inverse: bool, w: &mut Work) -> f64 {
    kick(nets, eps, s, time_encoding(t, nets.n_steps), inverse, w)
}

fn forward(nets: &Networks, eps: f64, target: &dyn Target, s: &mut State, t: usize, w: &mut Work) -> Result<f64, SamplerError> {
    let lj = before_evaluation(nets, eps, s, t, false, w);
    evaluate(target, s)?;
    Ok(lj + after_evaluation(nets, eps, s, t, false, w))
}

fn backward(nets: &Networks, eps: f64, target: &dyn Target, s: &mut State, t: usize, w: &mut Work) -> Result<f64, SamplerError> {
    let lj = before_evaluation(nets, eps, s, t, true, w);
    evaluate(target, s)?;
    Ok(lj + after_evaluation(nets, eps, s, t, true, w))
}

/// What one proposal did.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    /// The proposed state (after M steps).
    pub state: State,
    /// Total log-Jacobian of the M steps.
    pub log_jacobian: f64,
    /// `min(1, exp(H − H′ + log J))`, 0 when anything along the way was not finite.
    pub accept_prob: f64,
    /// Whether a non-finite value ended the trajectory.
    pub divergent: bool,
}

/// The proposal `L_θ ξ` from `start`: M forward steps when `forward`, else M backward steps
/// (`t = M−1…0`), with the Metropolis–Hastings acceptance probability. Costs M gradients.
pub fn propose(nets: &Networks, target: &dyn Target, start: &State, forward_dir: bool) -> Result<Proposal, SamplerError> {
    propose_with_step_size(nets, nets.step_size(), target, start, forward_dir)
}

/// [`propose`] with the step size `eps` in place of the trained one. For any `eps` drawn
/// independently of the state the transition stays exact: the networks' outputs are scaled by
/// `eps` as in training, so the map is still the composition of invertible updates whose
/// log-Jacobian enters the test.
pub fn propose_with_step_size(nets: &Networks, eps: f64, target: &dyn Target, start: &State, forward_dir: bool) -> Result<Proposal, SamplerError> {
    Ok(proposals(nets, &[eps], &HostRows::new(target, 1), std::slice::from_ref(start), &[forward_dir])?.remove(0))
}

/// The proposals of P chains at once, chain `r` from `starts[r]` with step size `eps[r]` in
/// direction `forward[r]`: the networks run per chain on the host, the gradients of all chains
/// still moving are one population evaluation of `rows` per step, so the kernel runs in every
/// execution (threads, lockstep, device) and gives the same proposals in each.
pub(crate) fn proposals<A: Rows>(nets: &Networks, eps: &[f64], rows: &A, starts: &[State], forward: &[bool]) -> Result<Vec<Proposal>, SamplerError> {
    let (p, d) = (starts.len(), rows.dim());
    let mut s = starts.to_vec();
    let mut w = Work::new(d);
    let mut log_jacobian = vec![0.0; p];
    let mut moving = vec![true; p];
    for k in 0..nets.n_steps {
        let t: Vec<usize> = forward.iter().map(|f| if *f { k } else { nets.n_steps - 1 - k }).collect();
        for r in (0..p).filter(|&r| moving[r]) {
            log_jacobian[r] += before_evaluation(nets, eps[r], &mut s[r], t[r], !forward[r], &mut w);
        }
        let x: Vec<f64> = s.iter().flat_map(|s| s.x.iter().copied()).collect();
        let (lp, grad) = rows.evaluate(&rows.upload(&x), &moving)?;
        let grad = rows.download(&grad);
        for r in 0..p {
            if !moving[r] {
                continue;
            }
            s[r].lp = lp[r];
            s[r].grad.copy_from_slice(&grad[r * d..(r + 1) * d]);
            log_jacobian[r] += after_evaluation(nets, eps[r], &mut s[r], t[r], !forward[r], &mut w);
            moving[r] = s[r].finite() && log_jacobian[r].is_finite();
        }
    }
    Ok(s
        .into_iter()
        .zip(starts)
        .zip(log_jacobian)
        .zip(moving)
        .map(|(((state, start), log_jacobian), finished)| {
            let divergent = !finished;
            let log_a = start.hamiltonian() - state.hamiltonian() + log_jacobian;
            let accept_prob = if divergent || !log_a.is_finite() { 0.0 } else { log_a.min(0.0).exp() };
            Proposal { state, log_jacobian, accept_prob, divergent }
        })
        .collect())
}
