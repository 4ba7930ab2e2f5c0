//! Ray tracing on Bayesian neural networks: steps and gradient evaluations per second, peak memory
//! and the time per step against the physical floors (bytes moved / 3 TB/s, FLOPs / 67 TFLOP/s —
//! an H100 in f32), beside the paper's PyTorch code on an H100 (per step):
//!
//! - (a) the 1-50-50-1 regression net on the Langevin workflow's 50 points, many chains (peer: 7,352 ms — it
//!   runs 1,000 chains one after another);
//! - (b) an MLP 784-1000-1000-10 on synthetic data, minibatch 256 (peer: 10.1 ms);
//! - (c) a GPT-2-small-shaped model (peer: 193.5 ms for 124M parameters, sequence 256);
//! - (d) GPT-2-XL-shaped (1.5B; peer 941 ms): only with `--cuda --xl`, in the device execution
//!   (48 blocks, width 1600, sequence 256; about 1.6B parameters with an untied head, 6.5 GB per
//!   f32 copy: the state, gradient and module copy need several, and the host holds the prior's
//!   scales and the starting point in f64). Never run here (no GPU).
//!
//! Every network is a `#[model]`: (a) as a dfdx module (`Network`) and as a batched `Mlp`, (b) a
//! `Network` classifier, (c) and (d) `SequenceNetwork` token models, all with N(0, 1) weights.
//! By default (c) runs at a CPU size (2 blocks, width 64, sequence 64); `--full` runs the
//! GPT-2-small shape (12 blocks, width 768, vocabulary 50,257, sequence 256; about 163M
//! parameters with an untied head — minutes per step on 2 cores). `--chains N` sets (a)'s chains
//! in threads (8 by default); `--lockstep N` the chains of (a)'s `Mlp` row (1,000 by default),
//! whose chains move in lockstep on one population evaluation per step. `ms/step` is one step of
//! one chain for threaded rows and one step of all chains for the lockstep and device rows (the
//! peer's 7,352 ms is one step of its 1,000 chains). Threaded rows run on the host in f64.
//!
//! Every row also runs in the device execution (`snell::sampler::run_device`), which keeps every
//! chain's state in dfdx tensors in f32 on one thread, the model evaluated there (a `Network`
//! once per chain on the device's own tape, an `Mlp` as one batched matrix product per layer),
//! with minibatches drawn per chain: on dfdx's CPU device here, and with `--cuda` (built with
//! `--features cuda`, see `scripts/build-cuda.sh`) on CUDA device 0, where `dev MiB` is the
//! device memory in use after the row.
//!
//! The attention blocks are dfdx's `TransformerEncoder` (dfdx 0.13 has no causal mask), so (c)
//! has the shape and cost of a decoder but is not a language model of the tokens' order.
//!
//! `cargo run --release --example network_benchmark`

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use snell::nn::layers::{Embedding, Linear, ReLU, Tanh, TransformerEncoder};
use snell::nn::{Activation, Network, SequenceNetwork, WeightPrior};
use snell::prelude::*;
use snell::sampler::ray_tracing::{MinibatchSettings, RayTracing};
use snell_examples::netbench::{regression_data, Bench, RegressionNet, Row};

type Regression = (Linear<1, 50>, Tanh, Linear<50, 50>, Tanh, Linear<50, 1>);
type Mlp = (Linear<784, 1000>, ReLU, Linear<1000, 1000>, ReLU, Linear<1000, 10>);
type GptCpuLayers = (Embedding<512, 64>, TransformerEncoder<64, 4, 256, 2>, Linear<64, 512>);
type Gpt2SmallLayers = (Embedding<50257, 768>, TransformerEncoder<768, 12, 3072, 12>, Linear<768, 50257>);
type Gpt2XlLayers = (Embedding<50257, 1600>, TransformerEncoder<1600, 25, 6400, 48>, Linear<1600, 50257>);

/// Row (a): the 1-50-50-1 net as a dfdx module, N(0, 1) weights and a Gamma(2, 1) noise scale.
#[model(observations(x, y))]
fn regression_module(net: &Network<Regression, 1, 1>, x: &Matrix, y: &[f64]) {
    let w = sample!([net.len()] ~ Normal(0.0, 1.0));
    let sigma = sample!(Gamma(2.0, 1.0));
    observe!(y ~ Normal(net.forward(w, x), sigma));
}

/// Row (b): the classifier, N(0, 1) weights.
#[model(observations(x, labels))]
fn classifier(net: &Network<Mlp, 784, 10>, x: &Matrix, labels: &[usize]) {
    let w = sample!([net.len()] ~ Normal(0.0, 1.0));
    observe!(labels ~ CategoricalLogitRows(net.forward(w, x), 10));
}

/// Rows (c) and (d): next-token models, N(0, 1) weights (a scalar sd: no per-weight vector of a
/// billion scales to move).
macro_rules! token_model {
    ($name:ident, $net:ty, $v:literal) => {
        #[model(observations(inputs, next))]
        fn $name(net: &SequenceNetwork<$net, $v>, inputs: &[Vec<usize>], next: &[Vec<usize>]) {
            let w = sample!([net.len()] ~ Normal(0.0, 1.0));
            observe!(next ~ CategoricalLogitRows(net.forward(w, inputs), $v));
        }
    };
}
token_model!(gpt_cpu, GptCpuLayers, 512);
token_model!(gpt2_small, Gpt2SmallLayers, 50257);
token_model!(gpt2_xl, Gpt2XlLayers, 50257);

/// Synthetic classification data: uniform inputs labelled by a random linear teacher.
fn mlp_data(n: usize) -> (Matrix, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(784);
    let teacher: Vec<f64> = (0..784 * 10).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let x: Vec<f64> = (0..n * 784).map(|_| rng.gen_range(0.0..1.0)).collect();
    let labels = x
        .chunks(784)
        .map(|row| (0..10).map(|k| (k, row.iter().zip(&teacher[k * 784..]).map(|(a, b)| a * b).sum::<f64>())).max_by(|a, b| a.1.total_cmp(&b.1)).map_or(0, |m| m.0))
        .collect();
    (Matrix::new(n, 784, x).expect("n × 784"), labels)
}

/// `windows` windows of `seq` random tokens below `vocab`, and the tokens that follow each.
fn windows(windows: usize, seq: usize, vocab: usize) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
    let mut rng = ChaCha8Rng::seed_from_u64(256);
    let tokens: Vec<usize> = (0..windows * seq + 1).map(|_| rng.gen_range(0..vocab)).collect();
    ((0..windows).map(|i| tokens[i * seq..(i + 1) * seq].to_vec()).collect(), (0..windows).map(|i| tokens[i * seq + 1..(i + 1) * seq + 1].to_vec()).collect())
}

/// Ray tracing as the paper runs networks: minibatch gradients, no Metropolis test, the default
/// step `dt = 0.001·sqrt(1000/D)`.
fn minibatch_rays(d: usize, batch: usize, n_steps: usize) -> RayTracing {
    RayTracing { metropolis: false, minibatch: Some(MinibatchSettings::new(batch)), ..RayTracing::new(0.001 * (1000.0 / d as f64).sqrt(), n_steps) }
}

macro_rules! benchmark {
    ($full:expr, $xl:expr, $chains:expr, $lockstep:expr, $device:expr, $device_label:expr, $device_mib:expr) => {{
        let on_device = || snell::backend::Dfdx::<f32, _>::new($device);
        println!("{}", Row::header());
        let (x, y) = regression_data();
        let net = Network::<Regression, 1, 1>::new(WeightPrior::isotropic(1.0))?;
        let reg = RegressionModule::new(&net, &x, &y)?;
        let d = reg.dim();
        let exact = RayTracing::new(0.001 * (1000.0 / d as f64).sqrt(), 10);
        let row = Bench { name: "(a) 1-50-50-1, 50 points", sampler: exact.clone(), chains: $chains, trajectories: 20, flops_per_grad: 6.0 * d as f64 * 50.0, bytes_per_param: 8.0, peer_ms: Some(7352.0) }.run(&reg, 1)?;
        println!("{row}");
        // the same posterior with a batched MLP, all chains in lockstep (f64)
        let mlp = snell::nn::Mlp::new(&[1, 50, 50, 1], Activation::Tanh, WeightPrior::isotropic(1.0))?;
        let model = RegressionNet::new(&mlp, &x, &y)?;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let inits: Vec<Vec<f64>> = (0..$lockstep).map(|_| { let mut q = mlp.random_weights(&mut rng); q.push(0.0); q }).collect();
        let row = Bench { name: "(a) Mlp, lockstep, f64", sampler: exact, chains: $lockstep, trajectories: 4, flops_per_grad: 6.0 * d as f64 * 50.0, bytes_per_param: 8.0, peer_ms: Some(7352.0) }.run_lockstep(&model, 1, Some(inits))?;
        println!("{row}");
        // the dfdx module with every chain's state on the device (f32): one module pass per chain
        let rays = RayTracing::new(0.001 * (1000.0 / d as f64).sqrt(), 10);
        let mut row = Bench { name: &format!("(a) device execution, {}", $device_label), sampler: rays, chains: $lockstep, trajectories: 4, flops_per_grad: 6.0 * d as f64 * 50.0, bytes_per_param: 4.0, peer_ms: Some(7352.0) }.run_device(&reg, &on_device(), 1)?;
        row.device_mib = $device_mib();
        println!("{row}");
        // and the Mlp on the device (f32): the 1,000 weight rows are one batched product per
        // layer, the backend's own ops
        let rays = RayTracing::new(0.001 * (1000.0 / d as f64).sqrt(), 10);
        let mut row = Bench { name: &format!("(a) Mlp, {}", $device_label), sampler: rays, chains: $lockstep, trajectories: 4, flops_per_grad: 6.0 * d as f64 * 50.0, bytes_per_param: 4.0, peer_ms: Some(7352.0) }.run_device(&model, &on_device(), 1)?;
        row.device_mib = $device_mib();
        println!("{row}");

        let (x, labels) = mlp_data(4096);
        let net = Network::<Mlp, 784, 10>::new(WeightPrior::isotropic(1.0))?;
        let clf = Classifier::new(&net, &x, &labels)?;
        let d = clf.dim();
        let row = Bench { name: "(b) MLP 784-1000-1000-10, batch 256", sampler: minibatch_rays(d, 256, 5), chains: 1, trajectories: 2, flops_per_grad: 6.0 * d as f64 * 256.0, bytes_per_param: 8.0, peer_ms: Some(10.1) }.run(&clf, 2)?;
        println!("{row}");
        let mut row = Bench { name: &format!("(b) device execution, {}", $device_label), sampler: minibatch_rays(d, 256, 5), chains: 1, trajectories: 2, flops_per_grad: 6.0 * d as f64 * 256.0, bytes_per_param: 4.0, peer_ms: Some(10.1) }.run_device(&clf, &on_device(), 2)?;
        row.device_mib = $device_mib();
        println!("{row}");
        drop(net);

        if $full {
            let seq = 256;
            let (inputs, next) = windows(4, seq, 50257);
            let net = SequenceNetwork::<Gpt2SmallLayers, 50257>::new(WeightPrior::isotropic(1.0))?;
            let gpt = Gpt2Small::new(&net, &inputs, &next)?;
            let d = gpt.dim();
            let bench = Bench { name: "(c) GPT-2-small shape, seq 256", sampler: minibatch_rays(d, 1, 2), chains: 1, trajectories: 1, flops_per_grad: 6.0 * d as f64 * seq as f64, bytes_per_param: 8.0, peer_ms: Some(193.5) };
            println!("{}", bench.run(&gpt, 3)?);
            let mut row = Bench { name: &format!("(c) device execution, {}", $device_label), bytes_per_param: 4.0, ..bench }.run_device(&gpt, &on_device(), 3)?;
            row.device_mib = $device_mib();
            println!("{row}");
        } else {
            let seq = 64;
            let (inputs, next) = windows(64, seq, 512);
            let net = SequenceNetwork::<GptCpuLayers, 512>::new(WeightPrior::isotropic(1.0))?;
            let gpt = GptCpu::new(&net, &inputs, &next)?;
            let d = gpt.dim();
            let bench = Bench { name: "(c) 2 blocks × 64 wide, seq 64, b 4", sampler: minibatch_rays(d, 4, 5), chains: 1, trajectories: 2, flops_per_grad: 6.0 * d as f64 * 4.0 * seq as f64, bytes_per_param: 8.0, peer_ms: None };
            println!("{}", bench.run(&gpt, 3)?);
            let mut row = Bench { name: &format!("(c) device execution, {}", $device_label), bytes_per_param: 4.0, ..bench }.run_device(&gpt, &on_device(), 3)?;
            row.device_mib = $device_mib();
            println!("{row}");
        }
        if $xl {
            let seq = 256;
            let (inputs, next) = windows(2, seq, 50257);
            let net = SequenceNetwork::<Gpt2XlLayers, 50257>::new(WeightPrior::isotropic(1.0))?;
            let gpt = Gpt2Xl::new(&net, &inputs, &next)?;
            let d = gpt.dim();
            let mut row = Bench { name: &format!("(d) GPT-2-XL shape, {}", $device_label), sampler: minibatch_rays(d, 1, 2), chains: 1, trajectories: 1, flops_per_grad: 6.0 * d as f64 * seq as f64, bytes_per_param: 4.0, peer_ms: Some(941.0) }.run_device(&gpt, &on_device(), 4)?;
            row.device_mib = $device_mib();
            println!("{row}");
        } else {
            println!("{:<36} not run: `--cuda --xl` runs it in the device execution (see the doc comment)", "(d) GPT-2-XL shape");
        }
    }};
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let full = args.iter().any(|a| a == "--full");
    let chains = args.iter().position(|a| a == "--chains").and_then(|i| args.get(i + 1)).and_then(|c| c.parse().ok()).unwrap_or(8);
    println!("ray tracing on networks ({} threads: host rows f64, device rows f32); floors: bytes / 3 TB/s and FLOPs / 67 TFLOP/s (an H100)\n", rayon::current_num_threads());
    let lockstep = args.iter().position(|a| a == "--lockstep").and_then(|i| args.get(i + 1)).and_then(|c| c.parse().ok()).unwrap_or(1000);
    let cuda = args.iter().any(|a| a == "--cuda");
    let xl = args.iter().any(|a| a == "--xl");
    if cuda {
        #[cfg(feature = "cuda")]
        {
            let dev = snell::nn::Cuda::try_build(0, 1).map_err(|e| format!("CUDA device 0: {e:?}"))?;
            let in_use = || snell::backend::cuda_memory_in_use().map(|b| b as f64 / (1024.0 * 1024.0));
            benchmark!(full, xl, chains, lockstep, dev.clone(), "CUDA, f32", in_use);
            return Ok(());
        }
        #[cfg(not(feature = "cuda"))]
        return Err("--cuda needs the cuda feature (scripts/build-cuda.sh --release --features cuda --example network_benchmark)".into());
    }
    if xl {
        return Err("--xl needs --cuda: GPT-2-XL's weights, state and gradients take tens of GB".into());
    }
    benchmark!(full, false, chains, lockstep, snell::nn::Cpu::default(), "CPU, f32", || None);
    Ok(())
}
