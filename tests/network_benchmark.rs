//! The network benchmark's machinery at toy sizes, so that CI exercises what
//! `examples/network_benchmark.rs` runs at full size: ray tracing with exact and minibatch
//! gradients on a regression net, a classifier and a sequence model, timed and counted.

use snell::nn::layers::{Embedding, Linear, ReLU, Tanh, TransformerEncoder};
use snell::nn::{Activation, Mlp, Network, SequenceNetwork, WeightPrior};
use snell::prelude::*;
use snell::sampler::ray_tracing::{MinibatchSettings, RayTracing};
use snell_examples::netbench::{Bench, RegressionNet, Row};

#[model(observations(x, y))]
fn regression(net: &Network<(Linear<1, 8>, Tanh, Linear<8, 1>), 1, 1>, x: &Matrix, y: &[f64]) {
    let w = sample!([net.len()] ~ Normal(0.0, 1.0));
    let sigma = sample!(Gamma(2.0, 1.0));
    observe!(y ~ Normal(net.forward(w, x), sigma));
}

#[model(observations(x, labels))]
fn classifier(net: &Network<(Linear<4, 6>, ReLU, Linear<6, 3>), 4, 3>, x: &Matrix, labels: &[usize]) {
    let w = sample!([net.len()] ~ Normal(0.0, 1.0));
    observe!(labels ~ CategoricalLogitRows(net.forward(w, x), 3));
}

type Tiny = (Embedding<16, 8>, TransformerEncoder<8, 2, 16, 1>, Linear<8, 16>);

#[model(observations(inputs, next))]
fn token_model(net: &SequenceNetwork<Tiny, 16>, inputs: &[Vec<usize>], next: &[Vec<usize>]) {
    let w = sample!([net.len()] ~ Normal(0.0, 1.0));
    observe!(next ~ CategoricalLogitRows(net.forward(w, inputs), 16));
}

fn check(row: &Row) {
    println!("{row}");
    assert!(row.steps_per_s > 0.0 && row.steps_per_s.is_finite());
    // a trajectory of n steps takes n + 1 gradients with DKD (the last position's), minibatch or not
    assert!(row.grads_per_s >= row.steps_per_s * 0.99, "{} grads/s for {} steps/s", row.grads_per_s, row.steps_per_s);
    assert!(row.floor_bandwidth_ms > 0.0 && row.floor_flops_ms > 0.0 && row.peak_mib > 0.0);
}

#[test]
fn benchmark_rows_for_three_kinds_of_network() {
    println!("{}", Row::header());
    let x = Matrix::new(16, 1, (0..16).map(|i| i as f64 / 15.0).collect()).unwrap();
    let y: Vec<f64> = (0..16).map(|i| (i as f64 / 3.0).sin()).collect();
    let net = Network::new(WeightPrior::isotropic(1.0)).unwrap();
    let reg = Regression::new(&net, &x, &y).unwrap();
    let rays = RayTracing { step_size: 0.05, n_steps: Some(4), ..Default::default() };
    let row = Bench { name: "regression", sampler: rays.clone(), chains: 2, trajectories: 5, flops_per_grad: 6.0 * reg.dim() as f64 * 16.0, bytes_per_param: 4.0, peer_ms: None }.run(&reg, 1).unwrap();
    check(&row);

    // the same network in the model language, its chains in lockstep on one batched evaluation
    let mlp = Mlp::new(&[1, 8, 1], Activation::Tanh, WeightPrior::isotropic(1.0)).unwrap();
    let model = RegressionNet::new(&mlp, &x, &y).unwrap();
    let row = Bench { name: "regression, #[model], lockstep", sampler: rays, chains: 6, trajectories: 3, flops_per_grad: 6.0 * mlp.len() as f64 * 16.0, bytes_per_param: 8.0, peer_ms: None }.run_lockstep(&model, 1, None).unwrap();
    check(&row);
    assert_eq!(row.params, mlp.len() + 1);

    // and with every chain's state on dfdx's CPU device
    let rays = RayTracing { step_size: 0.05, n_steps: Some(4), ..Default::default() };
    let bench = Bench { name: "regression, device execution", sampler: rays, chains: 6, trajectories: 3, flops_per_grad: 6.0 * reg.dim() as f64 * 16.0, bytes_per_param: 4.0, peer_ms: None };
    check(&bench.run_device(&reg, &snell::backend::Cpu32::default(), 1).unwrap());
    // the #[model] with its Mlp on the device: the floors count all six chains of a lockstep step
    let row = Bench { name: "regression, #[model] on the device", ..bench }.run_device(&model, &snell::backend::Cpu32::default(), 1).unwrap();
    check(&row);
    assert!((row.floor_flops_ms - 6.0 * 6.0 * 26.0 * 16.0 / snell_examples::netbench::FLOOR_FLOPS * 1e3).abs() < 1e-12);

    let x = Matrix::new(32, 4, (0..128).map(|i| ((i * 7) % 13) as f64 / 13.0).collect()).unwrap();
    let labels: Vec<usize> = (0..32).map(|i| i % 3).collect();
    let net = Network::new(WeightPrior::isotropic(1.0)).unwrap();
    let clf = Classifier::new(&net, &x, &labels).unwrap();
    let rays = RayTracing { metropolis: false, minibatch: Some(MinibatchSettings::new(8)), ..RayTracing::new(0.01, 3) };
    let bench = Bench { name: "classifier, batch 8", sampler: rays, chains: 1, trajectories: 4, flops_per_grad: 6.0 * clf.dim() as f64 * 8.0, bytes_per_param: 4.0, peer_ms: Some(1.0) };
    check(&bench.run(&clf, 2).unwrap());
    // the device execution with minibatches, two chains on their own batches
    check(&Bench { name: "classifier, device execution", chains: 2, ..bench }.run_device(&clf, &snell::backend::Cpu32::default(), 2).unwrap());

    let tokens: Vec<usize> = (0..65).map(|i| (i * 3) % 16).collect();
    let inputs: Vec<Vec<usize>> = tokens[..64].chunks(8).map(|w| w.to_vec()).collect();
    let next: Vec<Vec<usize>> = tokens[1..].chunks(8).map(|w| w.to_vec()).collect();
    let net = SequenceNetwork::<Tiny, 16>::new(WeightPrior::isotropic(1.0)).unwrap();
    let seq = TokenModel::new(&net, &inputs, &next).unwrap();
    let rays = RayTracing { metropolis: false, minibatch: Some(MinibatchSettings::new(2)), ..RayTracing::new(0.01, 2) };
    let bench = Bench { name: "sequence model, 2 windows", sampler: rays, chains: 1, trajectories: 3, flops_per_grad: 6.0 * seq.dim() as f64 * 16.0, bytes_per_param: 4.0, peer_ms: None };
    check(&bench.run(&seq, 3).unwrap());
    check(&Bench { name: "sequence model, device execution", ..bench }.run_device(&seq, &snell::backend::Cpu32::default(), 3).unwrap());
}
