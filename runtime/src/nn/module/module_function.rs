//! [`ModuleFunction`]: a built dfdx module at fixed inputs as a [`HostFunction`](crate::backend::HostFunction)
//! of its flat weights — the way a network runs inside a `#[model]`, for real-valued inputs
//! (`(n, I)` rows) and for token ids (`(windows, S)` windows) alike.

use super::{load, tensor_sizes, walk, DfdxElem, FlattenGrads, NetworkModule, SequenceModule};
use dfdx::nn::{Module, ZeroGrads};
use dfdx::prelude::{Const, OwnedTape, SumTo, Tensor, Trace};
use dfdx::shapes::{HasShape, Shape, Unit};
use dfdx::tensor::{Storage, TensorFromVec};
use dfdx::tensor_ops::{Backward, Device};
use std::sync::Arc;

/// What a built dfdx module must offer to run at fixed inputs of shape `X` and unit `T` (`E` for
/// real inputs, `usize` for token ids) with outputs of shape `Y`: a forward pass with and without
/// a tape, gradients, and cheap clones. [`NetworkModule`] and [`SequenceModule`] are the two
/// kinds a model uses.
pub trait TapedModule<X: Shape, T: Unit, Y: Shape, E: DfdxElem, D: Device<E> + Storage<T>>:
    Clone + ZeroGrads<E, D> + Module<Tensor<X, T, D, OwnedTape<E, D>>, Output = Tensor<Y, E, D, OwnedTape<E, D>>> + Module<Tensor<X, T, D>, Output = Tensor<Y, E, D>>
{
}

impl<X: Shape, T: Unit, Y: Shape, E: DfdxElem, D: Device<E> + Storage<T>, M> TapedModule<X, T, Y, E, D> for M where
    M: Clone + ZeroGrads<E, D> + Module<Tensor<X, T, D, OwnedTape<E, D>>, Output = Tensor<Y, E, D, OwnedTape<E, D>>> + Module<Tensor<X, T, D>, Output = Tensor<Y, E, D>>
{
}

/// A dfdx module as a [`HostFunction`](crate::backend::HostFunction) of its flat weights, at
/// fixed inputs `x`: row `p` of the function's input holds weight set `p`, row `p` of its output
/// the module's outputs at `x`, flattened row-major (for a network with `O` outputs at `n` rows,
/// `n · O` values, input row by input row; for a sequence module, `windows · S · V` logits). The
/// reverse pass is dfdx's, seeded with the output gradient; the taped forward pass of
/// `forward_for_vjp` is kept for it.
pub struct ModuleFunction<M, X: Shape, T: Unit, Y: Shape, E: DfdxElem, D: Device<E> + Storage<T>> {
    name: String,
    template: Arc<M>,
    dev: D,
    x: Tensor<X, T, D>,
    out_len: usize,
    n_weights: usize,
    /// The taped forward passes of the last `forward_for_vjp`, for the `vjp` of the same weights.
    kept: std::cell::RefCell<Vec<TapedRow<M, Y, E, D>>>,
}

/// One member's module and its taped outputs, kept from the forward pass for the reverse pass.
struct TapedRow<M, Y: Shape, E: DfdxElem, D: Device<E>> {
    w: Vec<f64>,
    module: M,
    out: Tensor<Y, E, D, OwnedTape<E, D>>,
}

/// A network with `I` inputs and `O` outputs at `n` input rows.
pub type DenseFunction<M, const I: usize, const O: usize, E, D> = ModuleFunction<M, (usize, Const<I>), E, (usize, Const<O>), E, D>;

/// A sequence module over `V` tokens at `windows` windows of `S` token ids.
pub type TokenFunction<M, const V: usize, E, D> = ModuleFunction<M, (usize, usize), usize, (usize, usize, Const<V>), E, D>;

impl<M, const I: usize, const O: usize, E, D> DenseFunction<M, I, O, E, D>
where
    E: DfdxElem,
    D: Device<E>,
    M: NetworkModule<I, O, E, D>,
{
    /// The function of the weights of `template` at the inputs `x` (row-major `(n, I)`).
    pub fn dense(name: String, template: Arc<M>, dev: &D, x: &[f64]) -> Self {
        let n = x.len() / I;
        let xs: Vec<E> = x.iter().map(|&v| E::of_f64(v)).collect();
        Self::new(name, template, dev, dev.tensor_from_vec(xs, (n, Const::<I>)), n * O)
    }
}

impl<M, const V: usize, E, D> TokenFunction<M, V, E, D>
where
    E: DfdxElem,
    D: Device<E> + TensorFromVec<usize>,
    M: SequenceModule<V, E, D>,
{
    /// The function of the weights of `template` at `windows` windows of `seq` token ids
    /// (row-major `(windows, seq)`, each below `V`; the caller has checked them).
    pub fn tokens(name: String, template: Arc<M>, dev: &D, tokens: Vec<usize>, seq: usize) -> Self {
        let windows = tokens.len() / seq.max(1);
        let out_len = tokens.len() * V;
        Self::new(name, template, dev, dev.tensor_from_vec(tokens, (windows, seq)), out_len)
    }
}

impl<M, X: Shape, T: Unit, Y: Shape, E, D> ModuleFunction<M, X, T, Y, E, D>
where
    E: DfdxElem,
    D: Device<E> + Storage<T>,
    M: TapedModule<X, T, Y, E, D>,
{
    /// The function of the weights of `template` at the inputs `x`, whose outputs have `out_len`
    /// values.
    pub fn new(name: String, template: Arc<M>, dev: &D, x: Tensor<X, T, D>, out_len: usize) -> Self {
        let n_weights = tensor_sizes(template.as_ref()).iter().sum();
        Self { name, template, dev: dev.clone(), x, out_len, n_weights, kept: Default::default() }
    }

    fn with_weights(&self, w: &[f64]) -> M {
        let mut m = self.template.as_ref().clone();
        load(&mut m, w);
        m
    }

    /// The taped forward pass of one member.
    fn taped(&self, w: &[f64]) -> TapedRow<M, Y, E, D> {
        let module = self.with_weights(w);
        let grads = module.alloc_grads();
        let out = module.forward(self.x.clone().traced(grads));
        TapedRow { w: w.to_vec(), module, out }
    }
}

impl<M, X: Shape, T: Unit, Y: Shape, E, D> crate::backend::HostFunction for ModuleFunction<M, X, T, Y, E, D>
where
    E: DfdxElem,
    D: Device<E> + Storage<T>,
    M: TapedModule<X, T, Y, E, D>,
{
    fn name(&self) -> String {
        self.name.clone()
    }
    fn in_cols(&self) -> usize {
        self.n_weights
    }
    fn out_cols(&self) -> usize {
        self.out_len
    }
    fn forward(&self, w: &[f64], rows: usize) -> Vec<f64> {
        let mut out = Vec::with_capacity(rows * self.out_len);
        for row in w.chunks_exact(self.n_weights).take(rows) {
            let m = self.with_weights(row);
            let y = m.forward(self.x.clone());
            out.extend(y.as_vec().into_iter().map(DfdxElem::as_f64));
        }
        out
    }
    fn forward_for_vjp(&self, w: &[f64], rows: usize) -> Vec<f64> {
        let mut out = Vec::with_capacity(rows * self.out_len);
        let mut kept = self.kept.borrow_mut();
        kept.clear();
        for row in w.chunks_exact(self.n_weights).take(rows) {
            let taped = self.taped(row);
            out.extend(taped.out.as_vec().into_iter().map(DfdxElem::as_f64));
            kept.push(taped);
        }
        out
    }
    fn vjp(&self, w: &[f64], rows: usize, g: &[f64]) -> Vec<f64> {
        let mut out = Vec::with_capacity(rows * self.n_weights);
        let mut grad = Vec::with_capacity(self.n_weights);
        let mut kept = std::mem::take(&mut *self.kept.borrow_mut()).into_iter();
        for (row, g) in w.chunks_exact(self.n_weights).zip(g.chunks_exact(self.out_len)).take(rows) {
            // the forward pass of these weights, if `forward_for_vjp` just ran it
            let TapedRow { module, out: y, .. } = match kept.next() {
                Some(t) if t.w == row => t,
                _ => self.taped(row),
            };
            let seed: Vec<E> = g.iter().map(|&v| E::of_f64(v)).collect();
            let shape = *y.shape();
            let seed = self.dev.tensor_from_vec(seed, shape);
            let grads = (y * seed).sum::<(), _>().backward();
            grad.clear();
            walk(&module, FlattenGrads { grads: &grads, out: &mut grad });
            out.extend_from_slice(&grad);
        }
        out
    }
}

opaque_debug!(impl[M, X: Shape, T: Unit, Y: Shape, E: DfdxElem, D: Device<E> + Storage<T>] ModuleFunction<M, X, T, Y, E, D>);
