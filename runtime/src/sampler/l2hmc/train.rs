//! Training the L2HMC networks with dfdx: the only part of the sampler that names dfdx.
//!
//! The networks are dfdx modules ([`Linear`], ReLU, tanh heads, per-dimension log-scales λ_s, λ_q
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
//! The target is evaluated as one population per step ([`PopulationTarget`]); the whole batch
//! runs in lockstep.

use super::dynamics::time_encoding;
use super::net::{masks, Net, Networks};
use crate::sampler::population::PopulationTarget;
use crate::sampler::SamplerError;
use dfdx::nn::modules::{Linear, UnbiasedLinear};
use dfdx::nn::{LoadFromSafetensors, Module, ModuleVisitor, SaveToSafetensors, ScalarOptions, TensorCollection, TensorOptions};
use dfdx::optim::{Adam, Optimizer, OptimizerUpdateError};
use dfdx::prelude::{Axis, Backward, BroadcastTo, Const, OwnedTape, PutTape, Rank0, Rank1, Shape, SplitTape, SumTo, Tensor, Trace};
use dfdx::shapes::HasShape;
use dfdx::tensor_ops::{AdamConfig, Device};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use std::path::Path;

/// Settings of the training loop (the paper's toy-task defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainSettings {
    /// Adam steps (5000).
    pub iterations: usize,
    /// Chains per batch, for the persistent batch and for the burn-in batch (200).
    pub batch: usize,
    /// Adam's learning rate (1e-3).
    pub learning_rate: f64,
    /// The learning rate is multiplied by this every `decay_every` steps (0.96, staircase).
    pub decay: f64,
    /// Steps between decays (1000).
    pub decay_every: usize,
    /// λ² of the loss (0.1, the reference code's `scale`).
    pub scale: f64,
    /// λ_b: weight of the burn-in term on chains fresh from N(0, I) (0: mixing only).
    pub burn_in_weight: f64,
    /// Temperature of the energy at the first step, lowered linearly to 1 at the last (1: none).
    /// Used for the mixture of Gaussians, as in the paper.
    pub anneal_from: f64,
    /// Seed of the chains, momenta and directions.
    pub seed: u64,
    /// Whether the training gradient follows ∇U(x) through the trajectory to first order, with
    /// Hessians from central differences of the gradient (2N extra gradient evaluations per point
    /// and step; exact for quadratic U). Without it ∇U(x) is a constant of the training gradient.
    pub curvature: bool,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self { iterations: 5000, batch: 200, learning_rate: 1e-3, decay: 0.96, decay_every: 1000, scale: 0.1, burn_in_weight: 0.0, anneal_from: 1.0, seed: 0, curvature: true }
    }
}

impl TrainSettings {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), SamplerError> {
        let bad = |name: &'static str, detail: String| Err(SamplerError::Setting { name, detail });
        if self.batch == 0 {
            return bad("batch", "must be at least 1".into());
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad("learning_rate", format!("must be positive and finite, got {}", self.learning_rate));
        }
        if !(self.decay > 0.0 && self.decay <= 1.0) || self.decay_every == 0 {
            return bad("decay", format!("needs 0 < decay ≤ 1 and decay_every ≥ 1, got {} and {}", self.decay, self.decay_every));
        }
        if !(self.scale > 0.0 && self.scale.is_finite()) {
            return bad("scale", format!("must be positive and finite, got {}", self.scale));
        }
        if !(self.burn_in_weight >= 0.0 && self.burn_in_weight.is_finite()) {
            return bad("burn_in_weight", format!("must be non-negative and finite, got {}", self.burn_in_weight));
        }
        if !(self.anneal_from >= 1.0 && self.anneal_from.is_finite()) {
            return bad("anneal_from", format!("must be a finite temperature ≥ 1, got {}", self.anneal_from));
        }
        Ok(())
    }
}

/// What one training step did.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainStats {
    /// The loss of the step.
    pub loss: f64,
    /// Mean acceptance probability of the persistent chains' proposals.
    pub accept: f64,
    /// The step size ε after the step.
    pub step_size: f64,
    /// Whether the update was skipped because the loss was not finite.
    pub skipped: bool,
}

/// One network (x-net or v-net) as a dfdx module.
#[derive(Clone, Debug)]
pub struct DNet<const N: usize, const H: usize, E: dfdx::shapes::Dtype, D: dfdx::tensor::Storage<E>> {
    a: Linear<N, H, E, D>,
    b: UnbiasedLinear<N, H, E, D>,
    tau: UnbiasedLinear<2, H, E, D>,
    hidden: Linear<H, H, E, D>,
    s: Linear<H, N, E, D>,
    q: Linear<H, N, E, D>,
    t: Linear<H, N, E, D>,
    log_scale_s: Tensor<Rank1<N>, E, D>,
    log_scale_q: Tensor<Rank1<N>, E, D>,
}

impl<const N: usize, const H: usize, D: Device<f64>> TensorCollection<f64, D> for DNet<N, H, f64, D> {
    type To<E2: dfdx::shapes::Dtype, D2: Device<E2>> = DNet<N, H, E2, D2>;
    fn iter_tensors<V: ModuleVisitor<Self, f64, D>>(visitor: &mut V) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                (Self::module("a", |s| &s.a, |s| &mut s.a), Self::module("b", |s| &s.b, |s| &mut s.b), Self::module("tau", |s| &s.tau, |s| &mut s.tau), Self::module("hidden", |s| &s.hidden, |s| &mut s.hidden)),
                (
                    Self::module("s", |s| &s.s, |s| &mut s.s),
                    Self::module("q", |s| &s.q, |s| &mut s.q),
                    Self::module("t", |s| &s.t, |s| &mut s.t),
                    Self::tensor("log_scale_s", |s| &s.log_scale_s, |s| &mut s.log_scale_s, TensorOptions::reset_to_zeros()),
                    Self::tensor("log_scale_q", |s| &s.log_scale_q, |s| &mut s.log_scale_q, TensorOptions::reset_to_zeros()),
                ),
            ),
            |((a, b, tau, hidden), (s, q, t, log_scale_s, log_scale_q))| DNet { a, b, tau, hidden, s, q, t, log_scale_s, log_scale_q },
        )
    }
}

/// Both networks, the log step size and the kernel's shape, as one dfdx module (what is saved).
#[derive(Clone, Debug)]
pub struct DNets<const N: usize, const H: usize, E: dfdx::shapes::Dtype, D: dfdx::tensor::Storage<E>> {
    v: DNet<N, H, E, D>,
    x: DNet<N, H, E, D>,
    log_eps: Tensor<Rank0, E, D>,
    n_steps: usize,
    mask_seed: u64,
}

impl<const N: usize, const H: usize, D: Device<f64>> TensorCollection<f64, D> for DNets<N, H, f64, D> {
    type To<E2: dfdx::shapes::Dtype, D2: Device<E2>> = DNets<N, H, E2, D2>;
    fn iter_tensors<V: ModuleVisitor<Self, f64, D>>(visitor: &mut V) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::module("v_net", |s| &s.v, |s| &mut s.v),
                Self::module("x_net", |s| &s.x, |s| &mut s.x),
                Self::tensor("log_step_size", |s| &s.log_eps, |s| &mut s.log_eps, TensorOptions::reset_to_zeros()),
                Self::scalar("n_steps", |s| &s.n_steps, |s| &mut s.n_steps, ScalarOptions::from_default(0)),
                Self::scalar("mask_seed", |s| &s.mask_seed, |s| &mut s.mask_seed, ScalarOptions::from_default(0)),
            ),
            |(v, x, log_eps, n_steps, mask_seed)| DNets { v, x, log_eps, n_steps, mask_seed },
        )
    }
}

fn tensor<S: dfdx::shapes::ConstShape, D: Device<f64>>(dev: &D, data: &[f64]) -> Tensor<S, f64, D> {
    let mut t: Tensor<S, f64, D> = dev.zeros();
    t.copy_from(data);
    t
}

impl<const N: usize, const H: usize, D: Device<f64>> DNet<N, H, f64, D> {
    fn from_net(dev: &D, n: &Net) -> Self {
        Self {
            a: Linear { weight: tensor(dev, &n.w_a), bias: tensor(dev, &n.b_a) },
            b: UnbiasedLinear { weight: tensor(dev, &n.w_b) },
            tau: UnbiasedLinear { weight: tensor(dev, &n.w_tau) },
            hidden: Linear { weight: tensor(dev, &n.w_h), bias: tensor(dev, &n.b_h) },
            s: Linear { weight: tensor(dev, &n.w_s), bias: tensor(dev, &n.b_s) },
            q: Linear { weight: tensor(dev, &n.w_q), bias: tensor(dev, &n.b_q) },
            t: Linear { weight: tensor(dev, &n.w_t), bias: tensor(dev, &n.b_t) },
            log_scale_s: tensor(dev, &n.log_scale_s),
            log_scale_q: tensor(dev, &n.log_scale_q),
        }
    }

    fn grads_of(&self, g: &dfdx::tensor::Gradients<f64, D>) -> Net {
        Net {
            dim: N,
            hidden: H,
            w_a: g.get(&self.a.weight).as_vec(),
            b_a: g.get(&self.a.bias).as_vec(),
            w_b: g.get(&self.b.weight).as_vec(),
            w_tau: g.get(&self.tau.weight).as_vec(),
            w_h: g.get(&self.hidden.weight).as_vec(),
            b_h: g.get(&self.hidden.bias).as_vec(),
            w_s: g.get(&self.s.weight).as_vec(),
            b_s: g.get(&self.s.bias).as_vec(),
            w_q: g.get(&self.q.weight).as_vec(),
            b_q: g.get(&self.q.bias).as_vec(),
            w_t: g.get(&self.t.weight).as_vec(),
            b_t: g.get(&self.t.bias).as_vec(),
            log_scale_s: g.get(&self.log_scale_s).as_vec(),
            log_scale_q: g.get(&self.log_scale_q).as_vec(),
        }
    }

    fn to_net(&self) -> Net {
        Net {
            dim: N,
            hidden: H,
            w_a: self.a.weight.as_vec(),
            b_a: self.a.bias.as_vec(),
            w_b: self.b.weight.as_vec(),
            w_tau: self.tau.weight.as_vec(),
            w_h: self.hidden.weight.as_vec(),
            b_h: self.hidden.bias.as_vec(),
            w_s: self.s.weight.as_vec(),
            b_s: self.s.bias.as_vec(),
            w_q: self.q.weight.as_vec(),
            b_q: self.q.bias.as_vec(),
            w_t: self.t.weight.as_vec(),
            b_t: self.t.bias.as_vec(),
            log_scale_s: self.log_scale_s.as_vec(),
            log_scale_q: self.log_scale_q.as_vec(),
        }
    }
}

type Taped<S, D> = Tensor<S, f64, D, OwnedTape<f64, D>>;
type Rows<const C: usize, D> = Tensor<(usize, Const<C>), f64, D>;
type Col<D> = Tensor<(usize,), f64, D>;

/// The one tape of a training step, held beside untaped tensors: every operation puts it on its
/// left operand and takes it back, so any value can be used any number of times and every
/// operation is recorded (an operation between two untaped tensors would not be).
struct Tp<D: Device<f64>>(Option<OwnedTape<f64, D>>);

impl<D: Device<f64>> Tp<D> {
    fn op<S: Shape, S2: Shape>(&mut self, x: &Tensor<S, f64, D>, f: impl FnOnce(Taped<S, D>) -> Taped<S2, D>) -> Tensor<S2, f64, D> {
        let tape = self.0.take().expect("the tape is never nested");
        let (out, tape) = f(x.clone().put_tape(tape)).split_tape();
        self.0 = Some(tape);
        out
    }
}

impl<const N: usize, const H: usize, D: Device<f64>> DNet<N, H, f64, D> {
    /// `(S, Q, T)` of a batch.
    fn eval(&self, tp: &mut Tp<D>, a: &Rows<N, D>, b: &Rows<N, D>, tau: &Rows<2, D>) -> [Rows<N, D>; 3] {
        let shape = *a.shape();
        let hb = tp.op(b, |b| self.b.forward(b));
        let ht = tp.op(tau, |t| self.tau.forward(t));
        let h1 = tp.op(a, |a| (self.a.forward(a) + hb.clone() + ht.clone()).relu());
        let h2 = tp.op(&h1, |h| self.hidden.forward(h).relu());
        let ls = tp.op(&self.log_scale_s, |l| l.exp().broadcast_like(&shape));
        let lq = tp.op(&self.log_scale_q, |l| l.exp().broadcast_like(&shape));
        let s0 = tp.op(&h2, |h| self.s.forward(h).tanh());
        let s = tp.op(&s0, |s| s * ls.clone());
        let q0 = tp.op(&h2, |h| self.q.forward(h).tanh());
        let q = tp.op(&q0, |q| q * lq.clone());
        let t = tp.op(&h2, |h| self.t.forward(h));
        [s, q, t]
    }
}

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
    SamplerError::Io { path: path.display().to_string(), detail: format!("{e:?}") }
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
    pub fn train<T: PopulationTarget>(&mut self, target: &T, mut progress: impl FnMut(usize, &TrainStats)) -> Result<Vec<TrainStats>, SamplerError> {
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

    fn eval<T: PopulationTarget>(&self, target: &T, x: &[f64], temp: f64) -> Result<(Vec<f64>, Vec<f64>), SamplerError> {
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
    fn grad_u<T: PopulationTarget>(&self, tp: &mut Tp<D>, target: &T, x: &Rows<N, D>, xv: Vec<f64>, grad: &[f64], temp: f64) -> Result<Rows<N, D>, SamplerError> {
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
    fn leapfrog<T: PopulationTarget>(&self, tp: &mut Tp<D>, target: &T, z: Batch<N, D>, t: usize, forward: bool, temp: f64) -> Result<Batch<N, D>, SamplerError> {
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
    fn proposals<T: PopulationTarget>(&self, tp: &mut Tp<D>, target: &T, x0: Vec<f64>, v0: Vec<f64>, forward: bool, temp: f64) -> Result<(Col<D>, Vec<f64>, Vec<f64>), SamplerError> {
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
    fn batch_loss<T: PopulationTarget>(&mut self, tp: &mut Tp<D>, target: &T, x0: &[f64], w: f64, temp: f64) -> Result<(Tensor<Rank0, f64, D>, Vec<f64>, Vec<f64>), SamplerError> {
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
    pub fn proposals_of<T: PopulationTarget>(&self, target: &T, x0: &[f64], v0: &[f64], forward: bool) -> Result<(Vec<f64>, Vec<f64>), SamplerError> {
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
    pub fn loss_and_gradient<T: PopulationTarget>(&self, target: &T, x0: &[f64], v0: &[f64], forward: bool) -> Result<(f64, Networks), SamplerError> {
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
    pub fn step<T: PopulationTarget>(&mut self, target: &T) -> Result<TrainStats, SamplerError> {
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
