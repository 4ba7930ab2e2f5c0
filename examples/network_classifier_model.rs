//! Classifiers and token models written in the model language: a `#[model]` with a `Network`
//! and `CategoricalLogitRows`, and one with a `SequenceNetwork` (embedding, transformer block,
//! vocabulary head) over token windows.
//!
//! 1. The cost of one gradient of each on the default `Native` backend (the module on dfdx's CPU
//!    device, its reverse pass spliced into the tape) and on dfdx's `Cpu64` backend (the module on
//!    the backend's own tape, as on a GPU), after checking that both give the same log density
//!    and gradient.
//! 2. The classifier model sampled by ray tracing on three Gaussian classes in 4 dimensions
//!    (150 training points): the held-out accuracy of the posterior predictive class
//!    probabilities, beside the Bayes classifier's (the true class densities) and the rate of the
//!    most frequent class, and their reliability diagram (`output/network_classifier_reliability.svg`)
//!    with the expected calibration error.
//!
//! `cargo run --release --example network_classifier_model`

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use snell::nn::layers::{Embedding, Linear, Tanh, TransformerEncoder};
use snell::nn::{Network, SequenceNetwork, WeightPrior};
use snell::prelude::*;
use snell::sampler::{ray_tracing::RayTracing, run, RunConfig};
use snell::backend::Cpu64;
use snell::model::EvalOptions;
use snell_examples::plot::Plot;
use std::time::Instant;

type Classes = (Linear<4, 8>, Tanh, Linear<8, 3>);
type Tokens = (Embedding<64, 16>, TransformerEncoder<16, 2, 32, 1>, Linear<16, 64>);

#[model(observations(x, labels))]
fn classifier(net: &Network<Classes, 4, 3>, x: &Matrix, labels: &[usize]) {
    let w = sample!([net.len()] ~ Normal(0.0, net.prior_sd()));
    observe!(labels ~ CategoricalLogitRows(net.forward(w, x), 3));
}

#[model(observations(inputs, next))]
fn lm(net: &SequenceNetwork<Tokens, 64>, inputs: &[Vec<usize>], next: &[Vec<usize>]) {
    let w = sample!([net.len()] ~ Normal(0.0, net.prior_sd()));
    observe!(next ~ CategoricalLogitRows(net.forward(w, inputs), 64));
}

/// `n` points of three Gaussian classes (centres at distance 2 along three axes, sd 1).
fn blobs(n: usize, rng: &mut ChaCha8Rng) -> (Matrix, Vec<usize>) {
    let mut x = Vec::with_capacity(4 * n);
    let labels: Vec<usize> = (0..n).map(|_| rng.gen_range(0..3)).collect();
    for &l in &labels {
        for j in 0..4 {
            let centre = if j == l { 2.0 } else { 0.0 };
            x.push(centre + rng.sample::<f64, _>(StandardNormal));
        }
    }
    (Matrix::new(n, 4, x).expect("n × 4"), labels)
}

/// µs per call of `f`, over at least 0.3 s.
fn micros(mut f: impl FnMut()) -> f64 {
    f();
    let (t, mut reps) = (Instant::now(), 0);
    while t.elapsed().as_secs_f64() < 0.3 {
        f();
        reps += 1;
    }
    t.elapsed().as_secs_f64() / reps as f64 * 1e6
}

/// Times the model's gradient at `q` on `Native` and on dfdx's `Cpu64`, once both agree there.
fn compare(name: &str, model: &impl Model, q: &[f64]) -> Result<(), Box<dyn std::error::Error>> {
    let (lp, grad) = model.log_density_and_grad(q)?;
    let on_dfdx = |q: &[f64]| model.evaluate(&Cpu64::default(), q, None, EvalOptions::default());
    let e = on_dfdx(q)?;
    let g = e.grad.unwrap_or_default();
    let err = grad.iter().zip(&g).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    if (lp - e.log_density[0]).abs() > 1e-9 * lp.abs().max(1.0) || err > 1e-9 * g.iter().map(|v| v.abs()).fold(1.0, f64::max) {
        return Err(format!("{name}: Native ({lp}) and dfdx ({}) disagree (gradient max |diff| {err:e})", e.log_density[0]).into());
    }
    let native = micros(|| drop(model.log_density_and_grad(q)));
    let dfdx = micros(|| drop(on_dfdx(q)));
    println!("{name:<44} {:>6} {native:>10.0} {dfdx:>10.0} {:>7.2}x", q.len(), dfdx / native);
    Ok(())
}

/// The reliability diagram of the predictive probabilities `probs` (rows of 3) at `path`: test
/// points binned by the probability of their predicted class, each bin's mean probability against
/// its accuracy. Returns the expected calibration error (the points' share-weighted mean of
/// |accuracy − probability| over the bins).
fn reliability(probs: &[f64], predicted: &[usize], labels: &[usize], path: &str) -> f64 {
    let bins = 10;
    let mut sums = vec![(0.0, 0.0, 0usize); bins];
    for ((p, &c), &l) in probs.chunks(3).zip(predicted).zip(labels) {
        let b = ((p[c] * bins as f64) as usize).min(bins - 1);
        sums[b].0 += p[c];
        sums[b].1 += f64::from(u8::from(c == l));
        sums[b].2 += 1;
    }
    let points: Vec<(f64, f64)> = sums.iter().filter(|s| s.2 > 0).map(|s| (s.0 / s.2 as f64, s.1 / s.2 as f64)).collect();
    let ece = sums.iter().map(|s| (s.1 - s.0).abs()).sum::<f64>() / labels.len() as f64;
    std::fs::create_dir_all("output").ok();
    Plot::new("classifier #[model], ray tracing: held-out reliability")
        .labels("predictive probability of the predicted class", "accuracy")
        .x_range(0.3, 1.0)
        .y_range(0.0, 1.0)
        .line("calibrated", vec![(0.3, 0.3), (1.0, 1.0)])
        .points("bins of 0.1", points)
        .save(path)
        .unwrap_or_else(|e| eprintln!("{e}"));
    ece
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    println!("{:<44} {:>6} {:>10} {:>10} {:>8}", "µs per gradient (CPU, f64)", "dim", "Native", "dfdx Cpu64", "ratio");

    let (x, labels) = blobs(1000, &mut rng);
    let prior = WeightPrior::isotropic(1.0);
    let net = Network::<Classes, 4, 3>::new(prior.clone())?;
    let model = Classifier::new(&net, &x, &labels)?;
    compare("classifier 4-8-3, 1,000 points", &model, net.initial_weights())?;

    let stream: Vec<usize> = (0..16 * 16 + 1).map(|_| rng.gen_range(0..64)).collect();
    let inputs: Vec<Vec<usize>> = (0..16).map(|i| stream[16 * i..16 * i + 16].to_vec()).collect();
    let next: Vec<Vec<usize>> = (0..16).map(|i| stream[16 * i + 1..16 * i + 17].to_vec()).collect();
    let seq_net = SequenceNetwork::<Tokens, 64>::new(prior.clone())?;
    let lm_model = Lm::new(&seq_net, &inputs, &next)?;
    compare("token model V 64, width 16, 16 windows of 16", &lm_model, seq_net.initial_weights())?;

    // posterior predictive accuracy of the classifier model on held-out points
    let (x, labels) = blobs(150, &mut rng);
    let (x_test, labels_test) = blobs(1000, &mut rng);
    let model = Classifier::new(&net, &x, &labels)?;
    let config = RunConfig { chains: 4, warmup: 500, draws: 500, seed: 1, init: Some(vec![net.initial_weights().to_vec()]) };
    let t = Instant::now();
    let draws = run(&RayTracing::default(), &model, &config)?;
    let secs = t.elapsed().as_secs_f64();
    let at = draws.names.iter().position(|n| n == "w.1").ok_or("no w.1 in the draws")?;
    let width = draws.names.len();
    let mut probs = vec![0.0; 3 * x_test.rows()];
    let mut count = 0;
    for chain in &draws.chains {
        for row in chain.values.chunks(width) {
            let logits = net.predict(&row[at..at + net.len()], &x_test)?;
            for (p, l) in probs.chunks_mut(3).zip(logits.chunks(3)) {
                let m = l.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = l.iter().map(|v| (v - m).exp()).sum();
                p.iter_mut().zip(l).for_each(|(p, v)| *p += (v - m).exp() / z);
            }
            count += 1;
        }
    }
    probs.iter_mut().for_each(|p| *p /= count as f64);
    let predicted: Vec<usize> = probs.chunks(3).map(|p| (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(0)).collect();
    let correct = predicted.iter().zip(&labels_test).filter(|(p, l)| p == l).count();
    let ece = reliability(&probs, &predicted, &labels_test, "output/network_classifier_reliability.svg");
    // the Bayes classifier of these classes (equal weights, unit covariance) picks the largest of
    // the first three coordinates
    let bayes = (0..x_test.rows()).filter(|&i| (0..3).max_by(|&a, &b| x_test.get(i, a).total_cmp(&x_test.get(i, b))) == Some(labels_test[i])).count();
    let majority = (0..3).map(|c| labels_test.iter().filter(|&&l| l == c).count()).max().unwrap_or(0);
    let w1 = draws.param("w.1").ok_or("no w.1 in the draws")?;
    let ess = snell::diagnostics::ess_bulk(&w1.iter().map(Vec::as_slice).collect::<Vec<_>>());
    println!(
        "\nray tracing, 4 chains x 500 draws ({secs:.1} s, {count} draws; ESS of w.1 {ess:.0}): held-out accuracy {:.3} ({} test points; the Bayes classifier {:.3}, the most frequent class {:.3}); expected calibration error {ece:.3}",
        correct as f64 / x_test.rows() as f64,
        x_test.rows(),
        bayes as f64 / x_test.rows() as f64,
        majority as f64 / x_test.rows() as f64
    );
    println!("figure: output/network_classifier_reliability.svg");
    Ok(())
}
