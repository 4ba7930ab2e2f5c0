//! [`ModuleFunction`]: a built dfdx module at fixed inputs as a [`HostFunction`](crate::backend::HostFunction)
//! of its flat weights — the way a network runs inside a `#[model]`, for real-valued inputs
//! (`(n, I)` rows) and for token ids (`(windows, S)` windows) alike.

use super::{load, tensor_sizes, walk, DfdxElem, FlattenGrads, NetworkModule, SequenceModule};
use crate::backend::{TensorForms, TensorFunction};
use dfdx::nn::tensor_collection::{RecursiveWalker, TensorCollection, TensorOptions, TensorVisitor, ViewTensorRef};
use dfdx::nn::{Module, ZeroGrads};
use dfdx::tensor::Cpu;
use dfdx::prelude::{Const, GatherTo, OwnedTape, PutTape, ReshapeTo, SelectTo, SplitTape, SumTo, Tensor, Trace, TryStack};
use dfdx::shapes::{HasShape, Shape, Unit};
use dfdx::tensor::{Storage, TensorFromVec};
use dfdx::tensor_ops::{Backward, Device};
use std::marker::PhantomData;
use std::rc::Rc;
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
    /// The same function on the dfdx backends' own devices ([`ModuleRows`]).
    forms: TensorForms,
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
        Self { name, template, dev: dev.clone(), x, out_len, n_weights, kept: Default::default(), forms: TensorForms::default() }
    }

    /// The function with its forms on the dfdx backends' devices, which those backends run
    /// instead of this host form.
    pub fn with_forms(mut self, forms: TensorForms) -> Self {
        self.forms = forms;
        self
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
    fn tensor_forms(&self) -> Option<&TensorForms> {
        Some(&self.forms)
    }
}

/// A network's module on dfdx's CPU in f64 (the template a network holds) whose same layers on
/// device `D` in `E` are a module with inputs `X` of unit `T` and outputs `Y`. [`assemble`]
/// converts the template there with each trainable tensor taken from a source of pieces (a row of
/// weights), so no module is built, and no initial weights drawn, on the device: dfdx draws those
/// on the host, which for a transformer would cost more than its evaluation.
///
/// [`assemble`]: DeviceModule::assemble
pub trait DeviceModule<X: Shape, T: Unit, Y: Shape, E: DfdxElem, D: Device<E> + Storage<T>>: TensorCollection<f64, Cpu> {
    /// The module on `D` in `E`.
    type Module: TapedModule<X, T, Y, E, D>;
    /// The template's layers on `dev`, trainable tensor after trainable tensor (in [`flatten`]'s
    /// order) from `pieces`, any other tensor copied from the template.
    fn assemble<P: Pieces<E, D>>(&self, dev: &D, pieces: &mut P) -> Self::Module;
}

/// The trainable tensors of a module being assembled on a device, in order.
pub trait Pieces<E: DfdxElem, D: Device<E>> {
    /// The next trainable tensor, of shape `shape`.
    fn next<S: Shape>(&mut self, shape: S) -> Tensor<S, E, D>;
}

impl<M, X, T, Y, E, D> DeviceModule<X, T, Y, E, D> for M
where
    M: TensorCollection<f64, Cpu>,
    M::To<E, D>: TapedModule<X, T, Y, E, D>,
    X: Shape,
    T: Unit,
    Y: Shape,
    E: DfdxElem,
    D: Device<E> + Storage<T>,
{
    type Module = M::To<E, D>;
    fn assemble<P: Pieces<E, D>>(&self, dev: &D, pieces: &mut P) -> Self::Module {
        let mut visitor = Assemble { dev, pieces, _e: PhantomData };
        match M::iter_tensors(&mut RecursiveWalker { m: self, f: &mut visitor }) {
            Ok(Some(module)) => module,
            // the visitor returns every tensor and never fails
            Ok(None) | Err(_) => unreachable!("assembling a module gives every tensor"),
        }
    }
}

/// Converts a template's tensors to device `D` in `E`: trainable ones from the pieces, the others
/// by value.
struct Assemble<'a, P, E, D> {
    dev: &'a D,
    pieces: &'a mut P,
    _e: PhantomData<E>,
}

impl<E: DfdxElem, D: Device<E>, P: Pieces<E, D>> TensorVisitor<f64, Cpu> for Assemble<'_, P, E, D> {
    type Viewer = ViewTensorRef;
    type Err = std::convert::Infallible;
    type E2 = E;
    type D2 = D;
    fn visit<S: Shape>(&mut self, opts: TensorOptions<S, f64, Cpu>, t: &Tensor<S, f64, Cpu>) -> Result<Option<Tensor<S, E, D>>, Self::Err> {
        Ok(Some(if opts.do_gradient_update {
            self.pieces.next(*t.shape())
        } else {
            self.dev.tensor_from_vec(t.as_vec().into_iter().map(E::of_f64).collect(), *t.shape())
        }))
    }
}

/// A dfdx module (the template `M`, converted to the evaluation's device) at fixed inputs as a
/// function of its flat weights written in dfdx operations on the device of the evaluation: for
/// each row of weights, the row is selected and cut into the module's tensors by index, the
/// module is assembled from those tensors, and its forward pass runs on the evaluation's tape.
/// dfdx identifies a tensor by its id and a module's layers use their tensors by id, so the
/// layers' reverse pass adds into the pieces' gradients, and the gathers' and the selection's
/// reverse passes carry them to the weights — the whole population's gradient stays on the
/// device. One module pass per population member: a dfdx 0.13 module has no batched form over
/// sets of its weights. (Both selection and gather add their gradients; dfdx 0.13's slice would
/// assign them.)
pub(crate) struct ModuleRows<M, X: Shape, T: Unit, Y, E, D: Storage<T>> {
    template: Arc<M>,
    inputs: Rc<dyn Fn(&D) -> Tensor<X, T, D>>,
    sizes: Vec<usize>,
    out_len: usize,
    _out: PhantomData<fn() -> (Y, E)>,
}

/// One row of weights (`(K,)`, on the tape) cut into a module's trainable tensors by index,
/// recording the gathers on the tape.
struct GatherPieces<'a, E: DfdxElem, D: Device<E>> {
    row: Tensor<(usize,), E, D>,
    idx: &'a [Tensor<(usize,), usize, D>],
    next: usize,
    tape: Option<OwnedTape<E, D>>,
}

impl<E: DfdxElem, D: Device<E>> Pieces<E, D> for GatherPieces<'_, E, D> {
    fn next<S: Shape>(&mut self, shape: S) -> Tensor<S, E, D> {
        let tape = self.tape.take().unwrap_or_default();
        let piece = self.row.clone().put_tape(tape).gather::<(usize,), (usize,)>(self.idx[self.next].clone()).reshape_like(&shape);
        self.next += 1;
        let (piece, tape) = piece.split_tape();
        self.tape = Some(tape);
        piece
    }
}

impl<M, X, T, Y, E, D> TensorFunction<E, D> for ModuleRows<M, X, T, Y, E, D>
where
    X: Shape,
    T: Unit,
    Y: Shape,
    E: DfdxElem,
    D: Device<E> + Storage<T> + TensorFromVec<usize>,
    M: DeviceModule<X, T, Y, E, D>,
{
    fn forward(&self, dev: &D, w: Tensor<(usize, usize), E, D, OwnedTape<E, D>>) -> Tensor<(usize, usize), E, D, OwnedTape<E, D>> {
        let (w, mut tape) = w.split_tape();
        let (p, k) = *w.shape();
        let x = (self.inputs)(dev);
        let mut at = 0;
        let idx: Vec<Tensor<(usize,), usize, D>> = self
            .sizes
            .iter()
            .map(|&n| {
                at += n;
                dev.tensor_from_vec((at - n..at).collect(), (n,))
            })
            .collect();
        let mut outs = Vec::with_capacity(p);
        for r in 0..p {
            // one row is the weights themselves (a reshape keeps dfdx's id: no copy, no op)
            let row = w.clone().put_tape(tape);
            let (row, t) = if p == 1 { row.reshape_like(&(k,)).split_tape() } else { row.select(dev.tensor_from_vec(vec![r], ())).split_tape() };
            let mut pieces = GatherPieces { row, idx: &idx, next: 0, tape: Some(t) };
            let module = self.template.assemble(dev, &mut pieces);
            let y = module.forward(x.clone().put_tape(pieces.tape.take().unwrap_or_default()));
            let (y, t) = y.reshape_like(&(self.out_len,)).split_tape();
            tape = t;
            outs.push(y);
        }
        let mut tapes = std::iter::once(tape).chain(std::iter::repeat_with(OwnedTape::default));
        outs.into_iter().map(|y| y.put_tape(tapes.next().unwrap_or_default())).collect::<Vec<_>>().stack()
    }
}

/// The form on dfdx device `D` in `E` of the network `template` at the inputs `x` (row-major
/// `(n, I)`).
fn dense_rows<M, const I: usize, const O: usize, E, D>(template: &Arc<M>, x: &Rc<Vec<f64>>) -> Rc<dyn TensorFunction<E, D>>
where
    E: DfdxElem,
    D: super::NetworkDevice<E>,
    M: DeviceModule<(usize, Const<I>), E, (usize, Const<O>), E, D> + 'static,
{
    let n = x.len() / I;
    let xs = Rc::clone(x);
    let inputs = move |dev: &D| dev.tensor_from_vec(xs.iter().map(|&v| E::of_f64(v)).collect(), (n, Const::<I>));
    Rc::new(ModuleRows::<M, _, E, (usize, Const<O>), E, D> { template: Arc::clone(template), inputs: Rc::new(inputs), sizes: tensor_sizes(template.as_ref()), out_len: n * O, _out: PhantomData })
}

/// The form on dfdx device `D` in `E` of the sequence model `template` at `tokens` (row-major
/// `(windows, seq)`).
fn token_rows<M, const V: usize, E, D>(template: &Arc<M>, tokens: &Rc<Vec<usize>>, seq: usize) -> Rc<dyn TensorFunction<E, D>>
where
    E: DfdxElem,
    D: super::NetworkDevice<E>,
    M: DeviceModule<(usize, usize), usize, (usize, usize, Const<V>), E, D> + 'static,
{
    let windows = tokens.len() / seq.max(1);
    let out_len = tokens.len() * V;
    let t = Rc::clone(tokens);
    let inputs = move |dev: &D| dev.tensor_from_vec(t.to_vec(), (windows, seq));
    Rc::new(ModuleRows::<M, _, usize, (usize, usize, Const<V>), E, D> { template: Arc::clone(template), inputs: Rc::new(inputs), sizes: tensor_sizes(template.as_ref()), out_len, _out: PhantomData })
}

/// The forms of the network `template` at inputs `x` on every dfdx backend snell has: the CPU in
/// f64 and f32, and CUDA in both with the `cuda` feature.
pub fn dense_forms<M: super::DenseTemplate<I, O>, const I: usize, const O: usize>(template: &Arc<M>, x: &[f64]) -> TensorForms {
    let x = Rc::new(x.to_vec());
    let forms = TensorForms::default().with(dense_rows::<M, I, O, f64, Cpu>(template, &x)).with(dense_rows::<M, I, O, f32, Cpu>(template, &x));
    #[cfg(feature = "cuda")]
    let forms = forms.with(dense_rows::<M, I, O, f64, dfdx::tensor::Cuda>(template, &x)).with(dense_rows::<M, I, O, f32, dfdx::tensor::Cuda>(template, &x));
    forms
}

/// The forms of the sequence model `template` at `tokens` (windows of `seq`) on every dfdx backend.
pub fn token_forms<M: super::TokenTemplate<V>, const V: usize>(template: &Arc<M>, tokens: &[usize], seq: usize) -> TensorForms {
    let t = Rc::new(tokens.to_vec());
    let forms = TensorForms::default().with(token_rows::<M, V, f64, Cpu>(template, &t, seq)).with(token_rows::<M, V, f32, Cpu>(template, &t, seq));
    #[cfg(feature = "cuda")]
    let forms = forms.with(token_rows::<M, V, f64, dfdx::tensor::Cuda>(template, &t, seq)).with(token_rows::<M, V, f32, dfdx::tensor::Cuda>(template, &t, seq));
    forms
}

opaque_debug!(impl[M, X: Shape, T: Unit, Y: Shape, E: DfdxElem, D: Device<E> + Storage<T>] ModuleFunction<M, X, T, Y, E, D>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::HostFunction;
    use dfdx::nn::builders::{Embedding, Linear, Tanh, TransformerEncoder};
    use dfdx::nn::BuildOnDevice;

    /// The dfdx form run on its own tape: outputs of every row, and the gradient of
    /// `Σ g · f(w) + ½ Σ w²`, the second term recorded after the form (the weights read again
    /// by the rest of a model), so the gradient is the form's vector–Jacobian product plus `w`.
    fn run_form(form: &Rc<dyn TensorFunction<f64, Cpu>>, w: &[f64], rows: usize, g: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let dev = Cpu::default();
        let k = w.len() / rows;
        let wt = dev.tensor_from_vec(w.to_vec(), (rows, k));
        let (y, tape) = form.forward(&dev, wt.clone().put_tape(OwnedTape::default())).split_tape();
        let values = y.as_vec();
        let out = y.shape().1;
        let seed = dev.tensor_from_vec(g.to_vec(), (rows, out));
        let (fit, tape) = (y.put_tape(tape) * seed).sum::<(), _>().split_tape();
        let square = (wt.clone().put_tape(tape).square().sum::<(), _>() * 0.5) + fit;
        let grads = square.backward();
        let grad = grads.get(&wt).as_vec().iter().zip(w).map(|(g, w)| g - w).collect();
        (values, grad)
    }

    fn assert_close(a: &[f64], b: &[f64], what: &str) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= 1e-10 * (1.0 + y.abs()), "{what}[{i}]: {x} against {y}");
        }
    }

    /// Weights and output seeds that differ from row to row.
    fn wave(n: usize, f: f64) -> Vec<f64> {
        (0..n).map(|i| ((i as f64 + 1.0) * f).sin() * 0.5).collect()
    }

    #[test]
    fn a_networks_dfdx_form_equals_its_host_form_row_by_row() {
        type Net = (Linear<2, 3>, Tanh, Linear<3, 2>);
        let dev = Cpu::default();
        let template = Arc::new(<Net as BuildOnDevice<Cpu, f64>>::build_on_device(&dev));
        let x = wave(4 * 2, 0.7);
        let host = DenseFunction::<_, 2, 2, f64, Cpu>::dense(String::new(), Arc::clone(&template), &dev, &x).with_forms(dense_forms::<_, 2, 2>(&template, &x));
        let form = host.tensor_forms().and_then(|f| f.get::<Rc<dyn TensorFunction<f64, Cpu>>>()).expect("a form on dfdx's CPU in f64");
        assert!(host.tensor_forms().and_then(|f| f.get::<Rc<dyn TensorFunction<f32, Cpu>>>()).is_some(), "and in f32");
        let rows = 3;
        let w = wave(rows * host.in_cols(), 0.37);
        let g = wave(rows * host.out_cols(), 1.3);
        let (values, grad) = run_form(form, &w, rows, &g);
        assert_close(&values, &host.forward(&w, rows), "outputs");
        assert_close(&grad, &host.vjp(&w, rows, &g), "gradients");
    }

    #[test]
    fn a_sequence_models_dfdx_form_equals_its_host_form_row_by_row() {
        type Net = (Embedding<5, 4>, TransformerEncoder<4, 2, 6, 1>, Linear<4, 5>);
        let dev = Cpu::default();
        let template = Arc::new(<Net as BuildOnDevice<Cpu, f64>>::build_on_device(&dev));
        let tokens = vec![0, 3, 1, 4, 2, 2];
        let host = TokenFunction::<_, 5, f64, Cpu>::tokens(String::new(), Arc::clone(&template), &dev, tokens.clone(), 3).with_forms(token_forms::<_, 5>(&template, &tokens, 3));
        let form = host.tensor_forms().and_then(|f| f.get::<Rc<dyn TensorFunction<f64, Cpu>>>()).expect("a form on dfdx's CPU in f64");
        let rows = 2;
        let w = wave(rows * host.in_cols(), 0.23);
        let g = wave(rows * host.out_cols(), 0.9);
        let (values, grad) = run_form(form, &w, rows, &g);
        assert_close(&values, &host.forward(&w, rows), "logits");
        assert_close(&grad, &host.vjp(&w, rows, &g), "gradients");
    }
}
