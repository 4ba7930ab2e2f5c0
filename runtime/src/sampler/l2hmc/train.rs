//! Training the L2HMC networks with dfdx (this file and the private module of the networks as
//! dfdx modules are the only parts of the sampler that name dfdx).
//!
//! The networks are dfdx modules ([`Linear`](dfdx::nn::modules::Linear), ReLU, tanh heads, per-dimension log-scales λ_s, λ_q
//! and the log step size), generic over the dfdx device; the sizes are const generics (`N` the
//! target's dimension, `H` the hidden width), as dfdx 0.13's layers are. Each iteration follows
//! Alg. 1 of the paper: a batch of persistent chains (moved by the kernel's own Metropolis test)
//! and, when `burn_in_weight > 0`, a fresh batch from the initial distribution N(0, I) are
//! proposed in a random direction each; the loss
//! `ℓ_λ = λ²/(δA) − δA/λ²` (δ = ‖x − x′‖², A the acceptance probability) is averaged over each
//! batch, the burn-in term weighted by `burn_in_weight`, and **minimised** with Adam.
//!
//! # The training gradient
//! The target is a black box of values and gradients and dfdx has no second-order autodiff, so
//! U(x′) in A enters linearised, `U(x′) ≈ sg(U(x′)) + sg(∇U(x′))·(x′ − sg(x′))` (exact to first
//! order), and ∇U(x) at the trajectory's points (which feeds the networks and the kicks) enters
//! as `sg(∇U(x)) + H(x)·(x − sg(x))` with H from central differences of the gradient
//! ([`TrainSettings::curvature`], the default; exact for quadratic U), or as a constant
//! (stop-gradient) without it. Only the training gradient is approximate: the kernel that samples
//! ([`super::L2hmc`]) is exact for any network.
//!
//! The target is evaluated as one population per step ([`Target::logp_grad_batch`]); the whole batch
//! runs in lockstep.

use super::dynamics::time_encoding;
use super::modules::{tensor, Col, DNet, DNets, Rows, Tp};
use super::net::{masks, Net, Networks};
pub use super::settings::{TrainSettings, TrainStats};
use crate::target::Target;
use crate::sampler::SamplerError;
use dfdx::nn::{LoadFromSafetensors, SaveToSafetensors};
use dfdx::optim::{Adam, Optimizer, OptimizerUpdateError};
use dfdx::prelude::{Axis, Backward, BroadcastTo, Const, OwnedTape, PutTape, Rank0, SplitTape, SumTo, Tensor, Trace};
use dfdx::tensor_ops::{AdamConfig, Device};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use std::path::Path;

/// A batch moving through one trajectory: values on the tape.
struct Batch<const N: usize, D: Device<f64>> {
    x: Rows<N, D>,
    v: Rows<N, D>,
    log_j: Col<D>,
    /// ∇U (tempered) at `x` on the tape: its value, and with [`TrainSettings::curvature`] its
    /// first-order dependence on `x`.
    gu: Rows<N, D>,
    /// The gradient of ln π (tempered) at `x`, as values.
    grad: Vec<f64>,
    lp: Vec<f64>,
}

/// The dfdx devices a [`Trainer`] runs on: the CPU, and CUDA GPUs with the `cuda` feature (a
/// name for the bound, so that code generic over the device need not name dfdx).
pub trait TrainDevice: Device<f64> {}
impl<D: Device<f64>> TrainDevice for D {}

/// The trainer: the networks as dfdx modules on device `D`, Adam, and the persistent chains.
pub struct Trainer<const N: usize, const H: usize, D: Device<f64>> {
    dev: D,
    nets: DNets<N, H, f64, D>,
    opt: Adam<DNets<N, H, f64, D>, f64, D>,
    masks: Vec<Vec<f64>>,
    settings: TrainSettings,
    rng: ChaCha8Rng,
    chains: Vec<f64>,
    iter: usize,
}

/// dfdx on the CPU.
pub type CpuTrainer<const N: usize, const H: usize> = Trainer<N, H, dfdx::tensor::Cpu>;

/// dfdx on a CUDA GPU.
#[cfg(feature = "cuda")]
pub type CudaTrainer<const N: usize, const H: usize> = Trainer<N, H, dfdx::tensor::Cuda>;

impl<const N: usize, const H: usize> Trainer<N, H, dfdx::tensor::Cpu> {
    /// A trainer on the CPU.
    pub fn cpu(init: &Networks, settings: TrainSettings) -> Result<Self, SamplerError> {
        Self::new(dfdx::tensor::Cpu::default(), init, settings)
    }
}

#[cfg(feature = "cuda")]
impl<const N: usize, const H: usize> Trainer<N, H, dfdx::tensor::Cuda> {
    /// A trainer on CUDA GPU `ordinal`.
    pub fn cuda(ordinal: usize, init: &Networks, settings: TrainSettings) -> Result<Self, SamplerError> {
        let dev = dfdx::tensor::Cuda::try_build(ordinal, settings.seed).map_err(|e| SamplerError::Setting { name: "device", detail: format!("CUDA device {ordinal}: {e:?}") })?;
        Self::new(dev, init, settings)
    }
}

fn io_err(path: &Path, e: impl std::fmt::Debug) -> SamplerError {
    SamplerError::io(path.display().to_string(), format!("{e:?}"))
}

impl<const N: usize, const H: usize, D: Device<f64>> Trainer<N, H, D> {
    /// A trainer starting from `init` (e.g. [`Networks::new`]), which must have dimension `N` and
    /// hidden width `H`.
    pub fn new(dev: D, init: &Networks, settings: TrainSettings) -> Result<Self, SamplerError> {
        settings.validate()?;
        init.validate()?;
        if init.dim() != N || init.v_net.hidden != H || init.x_net.hidden != H {
            return Err(SamplerError::Setting { name: "networks", detail: format!("dimension {} and width {}/{} given, the trainer is built for {N} and {H}", init.dim(), init.v_net.hidden, init.x_net.hidden) });
        }
        let nets = DNets { v: DNet::from_net(&dev, &init.v_net), x: DNet::from_net(&dev, &init.x_net), log_eps: tensor(&dev, &[init.log_step_size]), n_steps: init.n_steps, mask_seed: init.mask_seed };
        let opt = Adam::new(&nets, AdamConfig { lr: settings.learning_rate, ..Default::default() });
        let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
        let chains = (0..settings.batch * N).map(|_| rng.sample(StandardNormal)).collect();
        Ok(Self { dev, nets, opt, masks: init.masks.clone(), settings, rng, chains, iter: 0 })
    }

    /// The current networks as plain f64 weights, for [`super::L2hmc`].
    pub fn networks(&self) -> Networks {
        Networks {
            v_net: self.nets.v.to_net(),
            x_net: self.nets.x.to_net(),
            log_step_size: self.nets.log_eps.as_vec()[0],
            n_steps: self.nets.n_steps,
            mask_seed: self.nets.mask_seed,
            masks: self.masks.clone(),
        }
    }

    /// Saves the networks, step size, number of steps and mask seed as safetensors.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), SamplerError> {
        let path = path.as_ref();
        self.nets.save_safetensors(path).map_err(|e| io_err(path, e))
    }

    /// Adam steps taken so far.
    pub fn iterations_done(&self) -> usize {
        self.iter
    }

    /// Runs the remaining `settings.iterations` steps, calling `progress` after each.
    pub fn train<T: Target + ?Sized>(&mut self, target: &T, mut progress: impl FnMut(usize, &TrainStats)) -> Result<Vec<TrainStats>, SamplerError> {
        let mut out = Vec::new();
        while self.iter < self.settings.iterations {
            let s = self.step(target)?;
            progress(self.iter, &s);
            out.push(s);
        }
        Ok(out)
    }

    fn temperature(&self) -> f64 {
        let n = self.settings.iterations.max(2) - 1;
        let f = (self.iter.min(n)) as f64 / n as f64;
        self.settings.anneal_from + (1.0 - self.settings.anneal_from) * f
    }

    fn eval<T: Target + ?Sized>(&self, target: &T, x: &[f64], temp: f64) -> Result<(Vec<f64>, Vec<f64>), SamplerError> {
        let b = x.len() / N;
        let (mut lp, mut grad) = (vec![0.0; b], vec![0.0; b * N]);
        target.logp_grad_batch(x, &mut lp, &mut grad)?;
        lp.iter_mut().for_each(|l| *l /= temp);
        grad.iter_mut().for_each(|g| *g /= temp);
        Ok((lp, grad))
    }

    fn rows<const C: usize>(&self, data: Vec<f64>) -> Rows<C, D> {
        let b = data.len() / C;
        self.dev.tensor_from_vec(data, (b, Const::<C>))
    }

    /// ∇U at the taped positions `x` (values `xv`, gradient of ln π `grad`): a constant, or with
    /// [`TrainSettings::curvature`] `sg(∇U) + H·(x − sg(x))`, H the Hessian of U by central
    /// differences of the gradient (the value is unchanged; the training gradient sees H).
    fn grad_u<T: Target + ?Sized>(&self, tp: &mut Tp<D>, target: &T, x: &Rows<N, D>, xv: Vec<f64>, grad: &[f64], temp: f64) -> Result<Rows<N, D>, SamplerError> {
        let b = grad.len() / N;
        let gu: Rows<N, D> = self.rows(grad.iter().map(|g| -g).collect());
        if !self.settings.curvature {
            return Ok(gu);
        }
        // rows (i, j, ±): x_i ± h e_j
        let mut pts = Vec::with_capacity(2 * N * b * N);
        let mut hs = Vec::with_capacity(N * b);
        for i in 0..b {
            for j in 0..N {
                let h = 1e-5 * xv[i * N + j].abs().max(1.0);
                hs.push(h);
                for sign in [1.0, -1.0] {
                    let mut p = xv[i * N..(i + 1) * N].to_vec();
                    p[j] += sign * h;
                    pts.extend(p);
                }
            }
        }
        let (_, g) = self.eval(target, &pts, temp)?;
        // hess[i, k, j] = ∂²U/∂x_k∂x_j at row i = −(g₊ − g₋)_k / 2h_j
        let mut hess = vec![0.0; b * N * N];
        for i in 0..b {
            for j in 0..N {
                let r = (i * N + j) * 2;
                for k in 0..N {
                    hess[(i * N + k) * N + j] = -(g[r * N + k] - g[(r + 1) * N + k]) / (2.0 * hs[i * N + j]);
                }
            }
        }
        if hess.iter().any(|h| !h.is_finite()) {
            return Ok(gu);
        }
        let hess: Tensor<(usize, Const<N>, Const<N>), f64, D> = self.dev.tensor_from_vec(hess, (b, Const::<N>, Const::<N>));
        let fixed: Rows<N, D> = self.rows(xv);
        let cube = (b, Const::<N>, Const::<N>);
        let dx = tp.op(x, |x| (x - fixed.clone()).broadcast_like::<_, Axis<1>>(&cube));
        let lin = tp.op(&dx, |d| (d * hess.clone()).sum::<(usize, Const<N>), Axis<2>>());
        Ok(tp.op(&lin, |l| l + gu.clone()))
    }

    /// One augmented leapfrog step (or its inverse) of the whole batch on the tape.
    fn leapfrog<T: Target + ?Sized>(&self, tp: &mut Tp<D>, target: &T, z: Batch<N, D>, t: usize, forward: bool, temp: f64) -> Result<Batch<N, D>, SamplerError> {
        let b = z.lp.len();
        let shape = (b, Const::<N>);
        let eps = tp.op(&self.nets.log_eps, |l| l.exp().broadcast_like(&shape));
        let [c, s] = time_encoding(t, self.nets.n_steps);
        let tau: Rows<2, D> = self.rows((0..b).flat_map(|_| [c, s]).collect());
        let mask: Rows<N, D> = self.rows((0..b).flat_map(|_| self.masks[t].iter().copied()).collect());
        let anti: Rows<N, D> = self.rows((0..b).flat_map(|_| self.masks[t].iter().map(|m| 1.0 - m)).collect());
        let sign = if forward { 1.0 } else { -1.0 };
        let kick = |tp: &mut Tp<D>, x: &Rows<N, D>, v: &Rows<N, D>, gu: &Rows<N, D>| {
            let [s, q, tt] = self.nets.v.eval(tp, x, gu, &tau);
            let scale = tp.op(&s, |s| (s * eps.clone() * (0.5 * sign)).exp());
            let eq = tp.op(&q, |q| (q * eps.clone()).exp());
            let f0 = tp.op(&gu, |g| g * eq.clone());
            let force = tp.op(&f0, |f| (f + tt.clone()) * eps.clone() * 0.5);
            let v = if forward { tp.op(v, |v| v * scale.clone() - force.clone()) } else { tp.op(v, |v| (v + force.clone()) * scale.clone()) };
            let lj = tp.op(&s, |s| (s * eps.clone()).sum::<(usize,), Axis<1>>() * (0.5 * sign));
            (v, lj)
        };
        let drift = |tp: &mut Tp<D>, x: &Rows<N, D>, v: &Rows<N, D>, moved: &Rows<N, D>, kept: &Rows<N, D>| {
            let seen = tp.op(x, |x| x * kept.clone());
            let [s, q, tt] = self.nets.x.eval(tp, v, &seen, &tau);
            let eq = tp.op(&q, |q| (q * eps.clone()).exp());
            let sh0 = tp.op(v, |v| v * eq.clone());
            let shift = tp.op(&sh0, |a| (a + tt.clone()) * eps.clone());
            let scale = tp.op(&s, |s| (s * eps.clone() * sign).exp());
            let new = if forward { tp.op(x, |x| x * scale.clone() + shift.clone()) } else { tp.op(x, |x| (x - shift.clone()) * scale.clone()) };
            let new_moved = tp.op(&new, |n| n * moved.clone());
            let x = tp.op(&seen, |k| k + new_moved.clone());
            let lj = tp.op(&s, |s| (s * eps.clone() * moved.clone()).sum::<(usize,), Axis<1>>() * sign);
            (x, lj)
        };
        let (v, lj1) = kick(tp, &z.x, &z.v, &z.gu);
        let (first, second) = if forward { ((&mask, &anti), (&anti, &mask)) } else { ((&anti, &mask), (&mask, &anti)) };
        let (x, lj2) = drift(tp, &z.x, &v, first.0, first.1);
        let (x, lj3) = drift(tp, &x, &v, second.0, second.1);
        let xv = x.as_vec();
        let (lp, grad) = self.eval(target, &xv, temp)?;
        let gu = self.grad_u(tp, target, &x, xv, &grad, temp)?;
        let (v, lj4) = kick(tp, &x, &v, &gu);
        let log_j = tp.op(&z.log_j, |l| l + lj1.clone() + lj2.clone() + lj3.clone() + lj4.clone());
        Ok(Batch { x, v, log_j, gu, grad, lp })
    }

    /// Proposals for the rows `x0, v0` (all in one direction); returns the per-row loss on the
    /// tape and the proposal's positions and acceptance probabilities as values.
    fn proposals<T: Target + ?Sized>(&self, tp: &mut Tp<D>, target: &T, x0: Vec<f64>, v0: Vec<f64>, forward: bool, temp: f64) -> Result<(Col<D>, Vec<f64>, Vec<f64>), SamplerError> {
        let b = x0.len() / N;
        let (lp0, grad0) = self.eval(target, &x0, temp)?;
        let h0: Vec<f64> = (0..b).map(|i| -lp0[i] + 0.5 * v0[i * N..(i + 1) * N].iter().map(|v| v * v).sum::<f64>()).collect();
        let x0t: Rows<N, D> = self.rows(x0);
        let gu0 = self.rows(grad0.iter().map(|g| -g).collect());
        let mut z = Batch { x: x0t.clone(), v: self.rows(v0), log_j: self.dev.zeros_like(&(b,)), gu: gu0, grad: grad0, lp: lp0 };
        let m = self.nets.n_steps;
        for k in 0..m {
            z = self.leapfrog(tp, target, z, if forward { k } else { m - 1 - k }, forward, temp)?;
        }
        let xv = z.x.as_vec();
        // U(x′) ≈ sg(U(x′)) + sg(∇U(x′))·(x′ − sg(x′))
        let gu: Rows<N, D> = self.rows(z.grad.iter().map(|g| -g).collect());
        let c: Col<D> = self.dev.tensor_from_vec((0..b).map(|i| -z.lp[i] + (0..N).map(|j| z.grad[i * N + j] * xv[i * N + j]).sum::<f64>()).collect(), (b,));
        let h0: Col<D> = self.dev.tensor_from_vec(h0, (b,));
        let u = tp.op(&z.x, |x| (x * gu.clone()).sum::<(usize,), Axis<1>>() + c.clone());
        let k = tp.op(&z.v, |v| v.square().sum::<(usize,), Axis<1>>() * 0.5);
        let log_a = tp.op(&z.log_j, |l| l + h0.clone() - u.clone() - k.clone());
        let pos = tp.op(&log_a, |l| l.relu());
        let a = tp.op(&log_a, |l| (l - pos.clone()).exp());
        let delta = tp.op(&z.x, |x| (x - x0t.clone()).square().sum::<(usize,), Axis<1>>());
        let da = tp.op(&delta, |d| d * a.clone() + 1e-4);
        let lam2 = self.settings.scale;
        let neg = tp.op(&da, |d| d * (-1.0 / lam2));
        let loss = tp.op(&da, |d| d.recip() * lam2 + neg.clone());
        Ok((loss, xv, a.as_vec()))
    }

    /// Loss of one batch `x0` (momenta and directions drawn here), summed with weight `w / batch`;
    /// returns it with the proposals' positions and acceptance probabilities in row order.
    fn batch_loss<T: Target + ?Sized>(&mut self, tp: &mut Tp<D>, target: &T, x0: &[f64], w: f64, temp: f64) -> Result<(Tensor<Rank0, f64, D>, Vec<f64>, Vec<f64>), SamplerError> {
        let b = x0.len() / N;
        let v0: Vec<f64> = (0..b * N).map(|_| self.rng.sample(StandardNormal)).collect();
        let dirs: Vec<bool> = (0..b).map(|_| self.rng.gen()).collect();
        let mut total: Tensor<Rank0, f64, D> = self.dev.zeros();
        let (mut xs, mut acc) = (vec![0.0; b * N], vec![0.0; b]);
        for forward in [true, false] {
            let idx: Vec<usize> = (0..b).filter(|&i| dirs[i] == forward).collect();
            if idx.is_empty() {
                continue;
            }
            let pick = |a: &[f64]| idx.iter().flat_map(|&i| a[i * N..(i + 1) * N].iter().copied()).collect::<Vec<f64>>();
            let (loss, xp, ap) = self.proposals(tp, target, pick(x0), pick(&v0), forward, temp)?;
            let part = tp.op(&loss, |l| l.sum::<Rank0, _>() * (w / b as f64));
            total = tp.op(&part, |p| p + total.clone());
            for (k, &i) in idx.iter().enumerate() {
                xs[i * N..(i + 1) * N].copy_from_slice(&xp[k * N..(k + 1) * N]);
                acc[i] = ap[k];
            }
        }
        Ok((total, xs, acc))
    }

    /// The proposals that the loss sees for positions `x0` and momenta `v0` (row-major `(B, N)`),
    /// all in one direction, at temperature 1: their positions and acceptance probabilities. They
    /// equal [`super::propose`] with [`Trainer::networks`] (a check that the two implementations
    /// of the dynamics agree).
    pub fn proposals_of<T: Target + ?Sized>(&self, target: &T, x0: &[f64], v0: &[f64], forward: bool) -> Result<(Vec<f64>, Vec<f64>), SamplerError> {
        if target.dim() != N || x0.len() != v0.len() || x0.len() % N != 0 || x0.is_empty() {
            return Err(SamplerError::Setting { name: "proposals_of", detail: format!("needs a target of dimension {N} and equal, non-empty (B, {N}) positions and momenta") });
        }
        let mut tp = Tp(Some(self.start_tape()));
        let (_, x, a) = self.proposals(&mut tp, target, x0.to_vec(), v0.to_vec(), forward, 1.0)?;
        Ok((x, a))
    }

    /// The loss (mean over the rows) of the proposals from `x0`, `v0` in one direction at
    /// temperature 1, and its gradient as computed for training, in the layout of [`Networks`]
    /// (the masks are copied). Where ∇U is constant the training gradient is exact, which is how
    /// it is checked against finite differences.
    pub fn loss_and_gradient<T: Target + ?Sized>(&self, target: &T, x0: &[f64], v0: &[f64], forward: bool) -> Result<(f64, Networks), SamplerError> {
        if target.dim() != N || x0.len() != v0.len() || x0.len() % N != 0 || x0.is_empty() {
            return Err(SamplerError::Setting { name: "loss_and_gradient", detail: format!("needs a target of dimension {N} and equal, non-empty (B, {N}) positions and momenta") });
        }
        let b = x0.len() / N;
        let mut tp = Tp(Some(self.start_tape()));
        let (rows, _, _) = self.proposals(&mut tp, target, x0.to_vec(), v0.to_vec(), forward, 1.0)?;
        let loss = tp.op(&rows, |l| l.sum::<Rank0, _>() * (1.0 / b as f64));
        let value = loss.as_vec()[0];
        let grads = loss.put_tape(tp.0.take().expect("tape")).backward();
        let g = |t: &DNet<N, H, f64, D>| t.grads_of(&grads);
        let mut out = self.networks();
        out.v_net = g(&self.nets.v);
        out.x_net = g(&self.nets.x);
        out.log_step_size = grads.get(&self.nets.log_eps).as_vec()[0];
        Ok((value, out))
    }

    fn start_tape(&self) -> OwnedTape<f64, D> {
        let z: Tensor<Rank0, f64, D> = self.dev.zeros();
        z.leaky_traced().split_tape().1
    }

    /// One Adam step of Alg. 1; moves the persistent chains by the Metropolis test.
    pub fn step<T: Target + ?Sized>(&mut self, target: &T) -> Result<TrainStats, SamplerError> {
        if target.dim() != N {
            return Err(SamplerError::Setting { name: "target", detail: format!("has dimension {}, the trainer is built for {N}", target.dim()) });
        }
        let temp = self.temperature();
        let mut tp = Tp(Some(self.start_tape()));
        let chains = self.chains.clone();
        let (mut loss, xp, acc) = self.batch_loss(&mut tp, target, &chains, 1.0, temp)?;
        if self.settings.burn_in_weight > 0.0 {
            let fresh: Vec<f64> = (0..self.settings.batch * N).map(|_| self.rng.sample(StandardNormal)).collect();
            let (lq, _, _) = self.batch_loss(&mut tp, target, &fresh, self.settings.burn_in_weight, temp)?;
            loss = tp.op(&loss, |l| l + lq.clone());
        }
        for (i, a) in acc.iter().enumerate() {
            if self.rng.gen::<f64>() < *a {
                self.chains[i * N..(i + 1) * N].copy_from_slice(&xp[i * N..(i + 1) * N]);
            }
        }
        let value = loss.as_vec()[0];
        let skipped = !value.is_finite() || xp.iter().any(|x| !x.is_finite());
        if !skipped {
            self.opt.cfg.lr = self.settings.learning_rate * self.settings.decay.powi((self.iter / self.settings.decay_every) as i32);
            let grads = loss.put_tape(tp.0.take().expect("tape")).backward();
            match self.opt.update(&mut self.nets, &grads) {
                Ok(()) | Err(OptimizerUpdateError::UnusedParams(_)) => {}
                Err(e) => return Err(SamplerError::Setting { name: "device", detail: format!("optimiser update failed: {e:?}") }),
            }
        }
        self.iter += 1;
        let accept = acc.iter().map(|a| if a.is_finite() { *a } else { 0.0 }).sum::<f64>() / acc.len() as f64;
        Ok(TrainStats { loss: value, accept, step_size: self.nets.log_eps.as_vec()[0].exp(), skipped })
    }

    /// Loads a trainer saved by [`Trainer::save`] (continuing with `settings`).
    pub fn load(dev: D, path: impl AsRef<Path>, settings: TrainSettings) -> Result<Self, SamplerError> {
        let path = path.as_ref();
        if !path.is_file() {
            return Err(SamplerError::io(path.display().to_string(), "no such file"));
        }
        let zero = Networks { v_net: Net::zero(N, H), x_net: Net::zero(N, H), log_step_size: 0.0, n_steps: 1, mask_seed: 0, masks: masks(N, 1, 0) };
        let mut t = Self::new(dev, &zero, settings)?;
        t.nets.load_safetensors(path).map_err(|e| io_err(path, e))?;
        if t.nets.n_steps == 0 {
            return Err(io_err(path, "no `n_steps` in the file: not a saved L2HMC kernel"));
        }
        t.masks = masks(N, t.nets.n_steps, t.nets.mask_seed);
        t.opt = Adam::new(&t.nets, AdamConfig { lr: t.settings.learning_rate, ..Default::default() });
        Ok(t)
    }
}

/// Loads the kernel saved by [`Trainer::save`] for dimension `N` and width `H`, ready for
/// [`super::L2hmc::new`].
pub fn load_networks<const N: usize, const H: usize>(path: impl AsRef<Path>) -> Result<Networks, SamplerError> {
    let t = CpuTrainer::<N, H>::load(dfdx::tensor::Cpu::default(), path, TrainSettings::default())?;
    let n = t.networks();
    n.validate()?;
    Ok(n)
}

opaque_debug!(impl[const N: usize, const H: usize, D: Device<f64>] Trainer<N, H, D>);
