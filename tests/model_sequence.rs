//! Classifiers and token models inside `#[model]`: `CategoricalLogitRows` (one row of logits per
//! label) equals the log-softmax computed by hand, differentiates like finite differences, draws
//! each label from its own row and rejects malformed input; a classifier model over a `Network`
//! and a next-token model over a `SequenceNetwork` equal their densities written out from the
//! networks' predictions (full data and minibatches; gradients against finite differences);
//! population rows equal single evaluations.

mod common;
use snell::backend::Cpu64;
use snell::model::EvalOptions;
use snell::nn::layers::{Embedding, Linear, Tanh, TransformerEncoder};
use snell::nn::{Network, SequenceNetwork, WeightPrior};
use snell::prelude::*;
use snell::sampler::{Batches, Order};
use snell::target::Target;

const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

#[model]
fn rows(labels: &[usize], k: usize, scale: f64) {
    let l = sample!([12] ~ Normal(0.0, 1.0));
    observe!(labels ~ CategoricalLogitRows(l * scale, k));
}

/// The population-batched log densities and gradients of `members` equal single evaluations.
fn assert_population_rows<M: Model>(model: &M, members: &[Vec<f64>], tol: f64) {
    let d = members[0].len();
    let (lps, grads) = model.log_density_and_grad_batch(&members.concat()).unwrap();
    for (p, q) in members.iter().enumerate() {
        let (lp, g) = model.log_density_and_grad(q).unwrap();
        common::assert_close(lps[p], lp, tol, "member's log density");
        common::assert_all_close(&grads[p * d..(p + 1) * d], &g, tol, "member's gradient");
    }
}

fn point(d: usize, k: f64) -> Vec<f64> {
    (0..d).map(|i| ((i as f64 + 1.0) * k).sin() * 0.8).collect()
}

/// `Σᵢ ln softmax(scale · lᵢ)[yᵢ]` plus the standard normal prior of `l`, by hand.
fn by_hand(l: &[f64], labels: &[usize], k: usize, scale: f64) -> f64 {
    let prior: f64 = l.iter().map(|v| -0.5 * v * v - HALF_LN_2PI).sum();
    let lik: f64 = l
        .chunks(k)
        .zip(labels)
        .map(|(row, &y)| {
            let m = row.iter().map(|v| v * scale).fold(f64::NEG_INFINITY, f64::max);
            let lse = m + row.iter().map(|v| (v * scale - m).exp()).sum::<f64>().ln();
            row[y] * scale - lse
        })
        .sum();
    prior + lik
}

/// The gradient of [`by_hand`]: `−l + scale · (onehot(yᵢ) − softmax(scale · lᵢ))` in row `i`.
fn grad_by_hand(l: &[f64], labels: &[usize], k: usize, scale: f64) -> Vec<f64> {
    let mut g: Vec<f64> = l.iter().map(|v| -v).collect();
    for (i, (row, &y)) in l.chunks(k).zip(labels).enumerate() {
        let m = row.iter().map(|v| v * scale).fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = row.iter().map(|v| (v * scale - m).exp()).sum();
        for c in 0..k {
            let onehot = if c == y { 1.0 } else { 0.0 };
            g[i * k + c] += scale * (onehot - (row[c] * scale - m).exp() / z);
        }
    }
    g
}

#[test]
fn per_row_categorical_is_the_log_softmax_of_each_row() {
    let labels = [2, 0, 1, 1];
    for scale in [1.0, 2000.0] {
        // the large scale puts logits near ±1600, where exp overflows without the shift
        let model = Rows::new(&labels, 3, scale).unwrap();
        for k in [0.3, 1.1] {
            let q = point(12, k);
            let (lp, grad) = model.log_density_and_grad(&q).unwrap();
            common::assert_close(lp, by_hand(&q, &labels, 3, scale), 1e-12, "log density");
            common::assert_all_close(&grad, &grad_by_hand(&q, &labels, 3, scale), 1e-10, "gradient by hand");
            if scale == 1.0 {
                let fd = common::fd_grad(|p| model.log_density(p).unwrap(), &q, 1e-6);
                common::assert_all_close(&grad, &fd, 1e-7, "gradient against finite differences");
            }
        }
    }
    // four rows of three, or three rows of four: the same logits read as a different matrix
    let model = Rows::new(&[3, 0, 2], 4, 1.0).unwrap();
    let q = point(12, 0.7);
    common::assert_close(model.log_density(&q).unwrap(), by_hand(&q, &[3, 0, 2], 4, 1.0), 1e-12, "K = 4");
    // the composite runs on dfdx too, gradient included
    let native = model.log_density_and_grad(&q).unwrap();
    let dfdx = model.evaluate(&Cpu64::default(), &q, None, EvalOptions::default()).unwrap();
    common::assert_close(dfdx.log_density[0], native.0, 1e-12, "dfdx log density");
    common::assert_all_close(&dfdx.grad.unwrap(), &native.1, 1e-10, "dfdx gradient");
}

#[test]
fn per_row_categorical_population_rows_and_draws() {
    let labels = [2, 0, 1, 1];
    let model = Rows::new(&labels, 3, 1.0).unwrap();
    let members: Vec<Vec<f64>> = (0..4).map(|p| point(12, 0.2 + 0.45 * p as f64)).collect();
    assert_population_rows(&model, &members, 1e-12);
    // one pointwise log likelihood per label, summing to the likelihood
    let q = &members[1];
    let pointwise = model.log_likelihood_pointwise(q).unwrap();
    assert_eq!(pointwise.len(), 4);
    common::assert_close(pointwise.iter().sum(), model.log_likelihood(q).unwrap(), 1e-12, "pointwise sum");
    common::assert_close(pointwise[0], by_hand(&q[..3], &[2], 3, 1.0) - by_hand(&q[..3], &[], 3, 1.0), 1e-12, "first label");
    // simulated labels come from their own rows: row i puts all its mass on class (2i + 1) mod 3
    let mut l = vec![-30.0; 12];
    for i in 0..4 {
        l[3 * i + (2 * i + 1) % 3] = 30.0;
    }
    let sim = model.simulate(&RowsParams { l }, &mut common::rng(1)).unwrap();
    assert_eq!(sim.values["labels"], vec![1.0, 0.0, 2.0, 1.0]);
}

#[model]
fn learned_classes(labels: &[usize]) {
    let l = sample!([12] ~ Normal(0.0, 1.0));
    let k = sample!(HalfNormal(3.0));
    observe!(labels ~ CategoricalLogitRows(l, k));
}

#[test]
fn per_row_categorical_mistakes_are_errors() {
    // the number of classes is a constant, not a parameter
    let err = LearnedClasses::new(&[0, 1, 2, 0]).unwrap_err();
    assert!(matches!(&err, ModelError::InvalidParameter { .. }) && err.to_string().contains("constant"), "{err}");
    // 12 logits are not rows of 5
    let err = Rows::new(&[0, 1], 5, 1.0).unwrap_err();
    assert!(matches!(&err, ModelError::InvalidParameter { .. }) && err.to_string().contains("multiple of the 5 classes"), "{err}");
    let err = Rows::new(&[0, 1], 0, 1.0).unwrap_err();
    assert!(matches!(&err, ModelError::InvalidParameter { .. }) && err.to_string().contains("positive integer"), "{err}");
    // a label outside 0..K
    let err = Rows::new(&[0, 3, 1, 2], 3, 1.0).unwrap_err();
    assert!(matches!(&err, ModelError::OutOfSupport { .. }) && err.to_string().contains("label in 0..3"), "{err}");
    // one label per row
    let err = Rows::new(&[0, 1, 2], 3, 1.0).unwrap_err();
    assert!(matches!(&err, ModelError::OutOfSupport { .. }) && err.to_string().contains("3 labels for 4 rows"), "{err}");
}

type ClassNet = (Linear<4, 8>, Tanh, Linear<8, 3>);

#[model(observations(x, labels))]
fn classifier(net: &Network<ClassNet, 4, 3>, x: &Matrix, labels: &[usize]) {
    let w = sample!([net.len()] ~ Normal(0.0, net.prior_sd()));
    observe!(labels ~ CategoricalLogitRows(net.forward(w, x), 3));
}

fn classes(n: usize) -> (Matrix, Vec<usize>) {
    let x: Vec<f64> = (0..4 * n).map(|i| ((i as f64) * 0.61).sin() * 1.3).collect();
    let labels = (0..n).map(|i| (((x[4 * i] + x[4 * i + 3]) * 2.0).round().rem_euclid(3.0)) as usize).collect();
    (Matrix::new(n, 4, x).unwrap(), labels)
}

/// `Σ ln N(w; 0, sd)` plus `N / B` times `Σ ln softmax(logits)[label]` over the rows `batch` of
/// `logits` (`k` per row), written out.
fn categorical_by_hand(w: &[f64], sd: &[f64], logits: &[f64], labels: &[usize], k: usize, batch: &[usize]) -> f64 {
    let prior: f64 = w.iter().zip(sd).map(|(v, s)| -0.5 * (v / s).powi(2) - s.ln() - HALF_LN_2PI).sum();
    let rows: Vec<&[f64]> = logits.chunks(k).collect();
    let lik: f64 = batch
        .iter()
        .map(|&i| {
            let m = rows[i].iter().copied().fold(f64::NEG_INFINITY, f64::max);
            rows[i][labels[i]] - m - rows[i].iter().map(|v| (v - m).exp()).sum::<f64>().ln()
        })
        .sum();
    prior + lik * labels.len() as f64 / batch.len() as f64
}

#[test]
fn a_classifier_model_equals_its_density_by_hand() {
    let (x, labels) = classes(15);
    let prior = WeightPrior::per_tensor(vec![1.0, 0.5, 2.0, 1.5]);
    let net = Network::<ClassNet, 4, 3>::new(prior).unwrap();
    let model = Classifier::new(&net, &x, &labels).unwrap();
    let d = net.len();
    assert_eq!(model.dim(), d);
    let all: Vec<usize> = (0..15).collect();
    let hand = |q: &[f64], batch: &[usize]| categorical_by_hand(q, net.prior_sd(), &net.predict(q, &x).unwrap(), &labels, 3, batch);
    for k in [0.3, 0.9] {
        let q = point(d, k);
        let (lp, grad) = model.log_density_and_grad(&q).unwrap();
        common::assert_close(lp, hand(&q, &all), 1e-10, "log density by hand");
        common::assert_all_close(&grad, &common::fd_grad(|p| hand(p, &all), &q, 1e-6), 1e-5, "gradient against finite differences");
        let batch = [4, 0, 11, 7, 7];
        let (lp, grad) = model.log_density_and_grad_minibatch(&q, &batch).unwrap();
        common::assert_close(lp, hand(&q, &batch), 1e-10, "minibatch log density by hand");
        common::assert_all_close(&grad, &common::fd_grad(|p| hand(p, &batch), &q, 1e-6), 1e-5, "minibatch gradient");
    }
    // population rows are single evaluations
    let members: Vec<Vec<f64>> = (0..3).map(|p| point(d, 0.4 + 0.3 * p as f64)).collect();
    assert_population_rows(&model, &members, 1e-10);
    // a minibatch epoch averages to the full log density
    let q = point(d, 0.6);
    let full = model.log_density(&q).unwrap();
    let mut batches = Batches::new(15, 5, Order::Shuffled).unwrap();
    let mut rng = common::rng(4);
    let mean: f64 = (0..3).map(|_| model.log_density_and_grad_minibatch(&q, batches.next(&mut rng)).unwrap().0).sum::<f64>() / 3.0;
    common::assert_close(mean, full, 1e-9, "epoch mean of minibatches");
}

type Tiny = (Embedding<16, 8>, TransformerEncoder<8, 2, 16, 1>, Linear<8, 16>);

#[model(observations(inputs, next))]
fn lm(net: &SequenceNetwork<Tiny, 16>, inputs: &[Vec<usize>], next: &[Vec<usize>]) {
    let w = sample!([net.len()] ~ Normal(0.0, net.prior_sd()));
    observe!(next ~ CategoricalLogitRows(net.forward(w, inputs), 16));
}

/// A stream of 41 tokens, and its 8 windows of 5 with the tokens that follow them.
fn stream() -> (Vec<usize>, Vec<Vec<usize>>, Vec<Vec<usize>>) {
    let tokens: Vec<usize> = (0..41).map(|i| (i * 7 + i / 3 + (i * i) % 5) % 16).collect();
    let inputs = (0..8).map(|i| tokens[5 * i..5 * i + 5].to_vec()).collect();
    let next = (0..8).map(|i| tokens[5 * i + 1..5 * i + 6].to_vec()).collect();
    (tokens, inputs, next)
}

#[test]
fn a_token_model_equals_its_density_by_hand() {
    let (_, inputs, next) = stream();
    let net = SequenceNetwork::<Tiny, 16>::new(WeightPrior::isotropic(0.7)).unwrap();
    let model = Lm::new(&net, &inputs, &next).unwrap();
    let d = net.len();
    assert_eq!(model.dim(), d);
    assert_eq!(snell::Model::n_obs(&model), Some(8));
    let q = point(d, 0.37);
    let labels = next.concat();
    let logits = net.predict(&q, &inputs).unwrap();
    let (lp, _) = model.log_density_and_grad(&q).unwrap();
    common::assert_close(lp, categorical_by_hand(&q, net.prior_sd(), &logits, &labels, 16, &(0..40).collect::<Vec<_>>()), 1e-10, "log density by hand");
    // a minibatch of windows 6, 1, 3 is their 15 positions, scaled by 8 / 3
    let batch = [6, 1, 3];
    let (lp, _) = model.log_density_and_grad_minibatch(&q, &batch).unwrap();
    let positions: Vec<usize> = batch.iter().flat_map(|&w| w * 5..w * 5 + 5).collect();
    let want = categorical_by_hand(&q, net.prior_sd(), &logits, &labels, 16, &positions);
    common::assert_close(lp, want, 1e-10, "minibatch log density by hand");
    // finite differences in one coordinate of the embedding, the attention, the layer norm and the head
    let sizes = net.tensor_sizes();
    let starts: Vec<usize> = sizes.iter().scan(0, |at, &n| { let s = *at; *at += n; Some(s) }).collect();
    let (lp0, grad) = model.log_density_and_grad(&q).unwrap();
    assert!(lp0.is_finite());
    for &i in &[3, starts[1] + 5, starts[9] + 1, d - 2] {
        let h = 1e-5;
        let mut qp = q.clone();
        qp[i] += h;
        let fp = model.log_density(&qp).unwrap();
        qp[i] -= 2.0 * h;
        let fm = model.log_density(&qp).unwrap();
        common::assert_close(grad[i], (fp - fm) / (2.0 * h), 1e-5, &format!("gradient coordinate {i}"));
    }
}

#[test]
fn token_model_population_rows_and_mistakes() {
    let (_, inputs, next) = stream();
    let net = SequenceNetwork::<Tiny, 16>::new(WeightPrior::isotropic(1.0)).unwrap();
    let model = Lm::new(&net, &inputs, &next).unwrap();
    let d = net.len();
    let members: Vec<Vec<f64>> = (0..3).map(|p| point(d, 0.3 + 0.2 * p as f64)).collect();
    assert_population_rows(&model, &members, 1e-10);
    // host logits are the model's: row i·S + j scores next[i][j]
    let logits = net.predict(&members[0], &inputs).unwrap();
    assert_eq!(logits.len(), 8 * 5 * 16);
    let by_hand: f64 = logits
        .chunks(16)
        .zip(next.concat())
        .map(|(row, y)| {
            let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            row[y] - m - row.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
        })
        .sum();
    common::assert_close(model.log_likelihood(&members[0]).unwrap(), by_hand, 1e-10, "likelihood from the host logits");
    // a token outside the vocabulary, ragged windows, labels that do not match the windows
    let mut bad = inputs.clone();
    bad[2][1] = 16;
    let err = Lm::new(&net, &bad, &next).unwrap_err().to_string();
    assert!(err.contains("token 16 (window 2, position 1)"), "{err}");
    let mut ragged = inputs.clone();
    ragged[3].pop();
    let err = Lm::new(&net, &ragged, &next).unwrap_err().to_string();
    assert!(err.contains("window 3 has 4 tokens"), "{err}");
    let mut short = next.clone();
    short[0].pop();
    let err = Lm::new(&net, &inputs, &short).unwrap_err();
    assert!(matches!(&err, ModelError::OutOfSupport { .. }) && err.to_string().contains("39 labels for 40 rows"), "{err}");
    assert!(net.predict(&[0.0; 3], &inputs).is_err());
    assert!(net.predict(&members[0], &[]).is_err());
}

