//! The two networks, the step size and the kernel's shape as dfdx modules
//! ([`TensorCollection`]s: what Adam updates and what is saved as safetensors), their copies to
//! and from the f64 [`Net`]s, and the tape that training evaluates them on.

use super::net::Net;
use dfdx::nn::modules::{Linear, UnbiasedLinear};
use dfdx::nn::{Module, ModuleVisitor, ScalarOptions, TensorCollection, TensorOptions};
use dfdx::prelude::{BroadcastTo, Const, OwnedTape, PutTape, Rank0, Rank1, Shape, SplitTape, Tensor};
use dfdx::shapes::HasShape;
use dfdx::tensor_ops::Device;

/// One network (x-net or v-net) as a dfdx module.
#[derive(Clone, Debug)]
pub(super) struct DNet<const N: usize, const H: usize, E: dfdx::shapes::Dtype, D: dfdx::tensor::Storage<E>> {
    pub(super) a: Linear<N, H, E, D>,
    pub(super) b: UnbiasedLinear<N, H, E, D>,
    pub(super) tau: UnbiasedLinear<2, H, E, D>,
    pub(super) hidden: Linear<H, H, E, D>,
    pub(super) s: Linear<H, N, E, D>,
    pub(super) q: Linear<H, N, E, D>,
    pub(super) t: Linear<H, N, E, D>,
    pub(super) log_scale_s: Tensor<Rank1<N>, E, D>,
    pub(super) log_scale_q: Tensor<Rank1<N>, E, D>,
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
pub(super) struct DNets<const N: usize, const H: usize, E: dfdx::shapes::Dtype, D: dfdx::tensor::Storage<E>> {
    pub(super) v: DNet<N, H, E, D>,
    pub(super) x: DNet<N, H, E, D>,
    pub(super) log_eps: Tensor<Rank0, E, D>,
    pub(super) n_steps: usize,
    pub(super) mask_seed: u64,
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

pub(super) fn tensor<S: dfdx::shapes::ConstShape, D: Device<f64>>(dev: &D, data: &[f64]) -> Tensor<S, f64, D> {
    let mut t: Tensor<S, f64, D> = dev.zeros();
    t.copy_from(data);
    t
}

impl<const N: usize, const H: usize, D: Device<f64>> DNet<N, H, f64, D> {
    pub(super) fn from_net(dev: &D, n: &Net) -> Self {
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

    pub(super) fn grads_of(&self, g: &dfdx::tensor::Gradients<f64, D>) -> Net {
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

    pub(super) fn to_net(&self) -> Net {
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

pub(super) type Taped<S, D> = Tensor<S, f64, D, OwnedTape<f64, D>>;
pub(super) type Rows<const C: usize, D> = Tensor<(usize, Const<C>), f64, D>;
pub(super) type Col<D> = Tensor<(usize,), f64, D>;

/// The one tape of a training step, held beside untaped tensors: every operation puts it on its
/// left operand and takes it back, so any value can be used any number of times and every
/// operation is recorded (an operation between two untaped tensors would not be).
pub(super) struct Tp<D: Device<f64>>(pub(super) Option<OwnedTape<f64, D>>);

impl<D: Device<f64>> Tp<D> {
    pub(super) fn op<S: Shape, S2: Shape>(&mut self, x: &Tensor<S, f64, D>, f: impl FnOnce(Taped<S, D>) -> Taped<S2, D>) -> Tensor<S2, f64, D> {
        let tape = self.0.take().expect("the tape is never nested");
        let (out, tape) = f(x.clone().put_tape(tape)).split_tape();
        self.0 = Some(tape);
        out
    }
}

impl<const N: usize, const H: usize, D: Device<f64>> DNet<N, H, f64, D> {
    /// `(S, Q, T)` of a batch.
    pub(super) fn eval(&self, tp: &mut Tp<D>, a: &Rows<N, D>, b: &Rows<N, D>, tau: &Rows<2, D>) -> [Rows<N, D>; 3] {
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

