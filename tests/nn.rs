//! dfdx networks as parameters: the flat-vector ↔ tensor mapping, gradients against finite
//! differences, minibatch likelihoods that average to the full one over an epoch, data errors, and
//! a posterior check — a network without hidden layers is Bayesian linear regression, whose
//! posterior is known in closed form.

mod common;
use nalgebra::{DMatrix, DVector};
use snell::nn::layers::{Linear, Tanh};
use snell::nn::{flatten, load, BuildOnDevice, Cpu, NetworkClassifier, NetworkRegression, Noise, WeightPrior};
use snell::sampler::{nuts::Nuts, run, Batches, Order, RunConfig};
use snell::target::Target;
use snell::{Matrix, ModelError};

type Small = (Linear<2, 4>, Tanh, Linear<4, 1>);

fn data(n: usize) -> (Matrix, Vec<f64>) {
    let x: Vec<f64> = (0..2 * n).map(|i| ((i as f64) * 0.37).sin() * 1.5).collect();
    let y: Vec<f64> = (0..n).map(|i| x[2 * i] - 0.5 * x[2 * i + 1] + 0.3 * ((i as f64) * 1.3).cos()).collect();
    (Matrix::new(n, 2, x).unwrap(), y)
}

fn small(noise: Noise) -> NetworkRegression<Small, 2> {
    let (x, y) = data(12);
    NetworkRegression::<Small, 2>::new(Default::default(), &x, &y, WeightPrior::per_tensor(vec![1.0, 0.5, 2.0, 1.5]), noise).unwrap()
}

#[test]
fn weights_map_onto_the_tensors_in_dfdx_order() {
    // Linear<2, 1>: weight (1 × 2) then bias: f(x) = w1·x1 + w2·x2 + b
    let (x, y) = data(5);
    let net = NetworkRegression::<Linear<2, 1>, 2>::new(Default::default(), &x, &y, WeightPrior::isotropic(1.0), Noise::Fixed(0.5)).unwrap();
    assert_eq!(net.n_weights(), 3);
    let f = net.predict(&[0.7, -1.2, 0.25], &x).unwrap();
    for i in 0..5 {
        let want = 0.7 * x.get(i, 0) - 1.2 * x.get(i, 1) + 0.25;
        assert!((f[i] - want).abs() < 1e-12, "row {i}: {} vs {want}", f[i]);
    }
    // and back: the weights written are the weights read
    let m = small(Noise::Fixed(0.5));
    assert_eq!(m.n_weights(), 2 * 4 + 4 + 4 + 1);
    let w: Vec<f64> = (0..m.n_weights()).map(|i| (i as f64 * 0.61).sin()).collect();
    let mut module = <Small as BuildOnDevice<Cpu, f64>>::build_on_device(&Cpu::default());
    let before = flatten(&module);
    assert_eq!(before.len(), w.len());
    load(&mut module, &w);
    let flat = flatten(&module);
    assert_eq!(flat, w);
}

#[test]
fn gradients_match_finite_differences() {
    for noise in [Noise::Fixed(0.4), Noise::Gamma { shape: 2.0, rate: 3.0 }] {
        let m = small(noise);
        let d = m.dim();
        for seed in 0..3u64 {
            let q: Vec<f64> = (0..d).map(|i| ((i as f64 + 1.0) * (seed as f64 + 0.7)).sin() * 0.8).collect();
            let mut g = vec![0.0; d];
            m.logp_grad(&q, &mut g).unwrap();
            let fd = common::fd_grad(|p| { let mut s = vec![0.0; d]; m.logp_grad(p, &mut s).unwrap() }, &q, 1e-6);
            common::assert_all_close(&g, &fd, 1e-5, "network gradient");
        }
    }
}

#[test]
fn minibatches_average_to_the_full_log_density_over_an_epoch() {
    let m = small(Noise::Gamma { shape: 2.0, rate: 1.0 });
    let d = m.dim();
    let q: Vec<f64> = (0..d).map(|i| (i as f64 * 0.3).cos() * 0.5).collect();
    let mut g_full = vec![0.0; d];
    let full = m.logp_grad(&q, &mut g_full).unwrap();
    let mut rng = common::rng(4);
    for size in [1, 3, 4, 6] {
        let mut batches = Batches::new(12, size, Order::Shuffled).unwrap();
        let (mut mean, mut g_mean) = (0.0, vec![0.0; d]);
        let k = 12 / size;
        for _ in 0..k {
            let mut g = vec![0.0; d];
            mean += m.logp_grad_minibatch(&q, batches.next(&mut rng), &mut g).unwrap() / k as f64;
            g_mean.iter_mut().zip(&g).for_each(|(a, b)| *a += b / k as f64);
        }
        assert!((mean - full).abs() < 1e-9 * full.abs().max(1.0), "batch {size}: {mean} vs {full}");
        common::assert_all_close(&g_mean, &g_full, 1e-9, "minibatch gradient over an epoch");
    }
    assert!(matches!(m.logp_grad_minibatch(&q, &[12], &mut vec![0.0; d]), Err(ModelError::Data { .. })));
    assert!(matches!(m.logp_grad_minibatch(&q, &[], &mut vec![0.0; d]), Err(ModelError::Data { .. })));
}

#[test]
fn bad_data_and_priors_are_errors() {
    let (x, y) = data(6);
    let new = |x: &Matrix, y: &[f64], p: WeightPrior, n: Noise| NetworkRegression::<Small, 2>::new(Default::default(), x, y, p, n).err();
    assert!(matches!(new(&x, &y[..5], WeightPrior::isotropic(1.0), Noise::Fixed(1.0)), Some(ModelError::Data { name, .. }) if name == "y"));
    let x3 = Matrix::new(6, 3, vec![0.0; 18]).unwrap();
    assert!(matches!(new(&x3, &y, WeightPrior::isotropic(1.0), Noise::Fixed(1.0)), Some(ModelError::Data { name, .. }) if name == "x"));
    assert!(matches!(new(&x, &y, WeightPrior::per_tensor(vec![1.0; 3]), Noise::Fixed(1.0)), Some(ModelError::Data { name, .. }) if name == "prior"));
    assert!(matches!(new(&x, &y, WeightPrior::isotropic(-1.0), Noise::Fixed(1.0)), Some(ModelError::Data { name, .. }) if name == "prior"));
    assert!(matches!(new(&x, &y, WeightPrior::isotropic(1.0), Noise::Fixed(0.0)), Some(ModelError::Data { name, .. }) if name == "noise"));
    assert!(matches!(new(&x, &y, WeightPrior::isotropic(1.0), Noise::Gamma { shape: 0.0, rate: 1.0 }), Some(ModelError::Data { name, .. }) if name == "noise"));
    let mut yn = y.clone();
    yn[2] = f64::NAN;
    assert!(new(&x, &yn, WeightPrior::isotropic(1.0), Noise::Fixed(1.0)).is_some());
    let m = small(Noise::Fixed(1.0));
    assert!(matches!(m.logp_grad(&[0.0; 3], &mut [0.0; 3]), Err(ModelError::Dimension { .. })));
}

#[test]
fn a_linear_network_has_the_bayesian_linear_regression_posterior() {
    let (x, y) = data(30);
    let (sigma, s0) = (0.4, 2.0);
    let m = NetworkRegression::<Linear<2, 1>, 2>::new(Default::default(), &x, &y, WeightPrior::isotropic(s0), Noise::Fixed(sigma)).unwrap();
    // design with a column of ones for the bias; weights in dfdx order (w1, w2, b)
    let draws = run(&Nuts::default(), &m, &RunConfig { chains: 4, warmup: 500, draws: 1000, seed: 8, init: None }).unwrap();
    common::assert_linear_network_posterior(&draws, &x, &y, sigma, s0);
}

type Classifier = (Linear<2, 5>, Tanh, Linear<5, 3>);

fn classifier() -> NetworkClassifier<Classifier, 2, 3> {
    let (x, y) = data(12);
    let labels: Vec<usize> = y.iter().map(|v| if *v < -0.3 { 0 } else if *v < 0.3 { 1 } else { 2 }).collect();
    NetworkClassifier::<Classifier, 2, 3>::new(Default::default(), &x, &labels, WeightPrior::isotropic(1.5)).unwrap()
}

#[test]
fn classifier_gradients_minibatches_and_probabilities() {
    let m = classifier();
    let d = m.dim();
    assert_eq!(d, 2 * 5 + 5 + 5 * 3 + 3);
    let q: Vec<f64> = (0..d).map(|i| ((i as f64 + 0.5) * 0.77).sin()).collect();
    let mut g = vec![0.0; d];
    let full = m.logp_grad(&q, &mut g).unwrap();
    let fd = common::fd_grad(|p| { let mut s = vec![0.0; d]; m.logp_grad(p, &mut s).unwrap() }, &q, 1e-6);
    common::assert_all_close(&g, &fd, 1e-5, "classifier gradient");
    // an epoch of minibatches averages to the full log density
    let mut batches = Batches::new(12, 4, Order::Shuffled).unwrap();
    let mut rng = common::rng(9);
    let mean: f64 = (0..3).map(|_| m.logp_grad_minibatch(&q, batches.next(&mut rng), &mut vec![0.0; d]).unwrap()).sum::<f64>() / 3.0;
    assert!((mean - full).abs() < 1e-9 * full.abs(), "{mean} vs {full}");
    // class probabilities: each row sums to one
    let (x, _) = data(12);
    let p = m.predict_proba(&q, &x).unwrap();
    assert!(p.chunks(3).all(|r| (r.iter().sum::<f64>() - 1.0).abs() < 1e-12));
}

#[test]
fn classifier_labels_are_checked() {
    let (x, _) = data(4);
    let bad = NetworkClassifier::<Classifier, 2, 3>::new(Default::default(), &x, &[0, 1, 3, 2], WeightPrior::isotropic(1.0));
    assert!(matches!(bad, Err(ModelError::Data { name, .. }) if name == "labels"));
    let short = NetworkClassifier::<Classifier, 2, 3>::new(Default::default(), &x, &[0, 1], WeightPrior::isotropic(1.0));
    assert!(matches!(short, Err(ModelError::Data { name, .. }) if name == "labels"));
}

type Tiny = (snell::nn::layers::Embedding<8, 4>, snell::nn::layers::TransformerEncoder<4, 2, 8, 1>, Linear<4, 8>);

#[test]
fn sequence_model_gradients_and_minibatches() {
    let tokens: Vec<usize> = (0..41).map(|i| (i * 5 + i / 3) % 8).collect();
    let m = snell::nn::NetworkSequenceModel::<Tiny, 8, f64>::new(Default::default(), tokens, 5, WeightPrior::isotropic(1.0)).unwrap();
    assert_eq!(m.observations(), Some(8));
    let d = m.dim();
    let q: Vec<f64> = (0..d).map(|i| ((i as f64 + 0.3) * 0.41).sin() * 0.5).collect();
    let mut g = vec![0.0; d];
    let full = m.logp_grad(&q, &mut g).unwrap();
    let fd = common::fd_grad(|p| { let mut s = vec![0.0; d]; m.logp_grad(p, &mut s).unwrap() }, &q, 1e-6);
    common::assert_all_close(&g, &fd, 1e-4, "sequence model gradient");
    let mut batches = Batches::new(8, 2, Order::Shuffled).unwrap();
    let mut rng = common::rng(2);
    let mean: f64 = (0..4).map(|_| m.logp_grad_minibatch(&q, batches.next(&mut rng), &mut vec![0.0; d]).unwrap()).sum::<f64>() / 4.0;
    assert!((mean - full).abs() < 1e-9 * full.abs(), "{mean} vs {full}");
    let bad = snell::nn::NetworkSequenceModel::<Tiny, 8, f64>::new(Default::default(), vec![1, 9, 2, 3, 4, 5, 6], 5, WeightPrior::isotropic(1.0));
    assert!(matches!(bad, Err(ModelError::Data { .. })));
}

#[test]
fn smc_on_a_linear_network_recovers_the_bayesian_linear_regression_evidence() {
    // the network without hidden layers is Bayesian linear regression: its evidence is
    // ln N(y; 0, σ² I + s0² X̃ X̃ᵀ) with X̃ = [x, 1]
    use snell::sampler::smc::{run_smc, Smc};
    let (x, y) = data(20);
    let (sigma, s0) = (0.4, 2.0);
    let m = NetworkRegression::<Linear<2, 1>, 2>::new(Default::default(), &x, &y, WeightPrior::isotropic(s0), Noise::Fixed(sigma)).unwrap();
    let xm = DMatrix::from_fn(20, 3, |i, j| if j < 2 { x.get(i, j) } else { 1.0 });
    let cov = DMatrix::identity(20, 20) * (sigma * sigma) + &xm * xm.transpose() * (s0 * s0);
    let chol = cov.clone().cholesky().unwrap();
    let yv = DVector::from_vec(y.clone());
    let log_det: f64 = 2.0 * chol.l().diagonal().iter().map(|v: &f64| v.ln()).sum::<f64>();
    let exact = -0.5 * (yv.dot(&chol.solve(&yv)) + log_det + 20.0 * (2.0 * std::f64::consts::PI).ln());
    let out = run_smc(&Smc { particles: 500, runs: 6, seed: 3, ..Default::default() }, &m).unwrap();
    println!("ln Z {:.4} ± {:.4}, exact {exact:.4}", out.log_evidence, out.log_evidence_se);
    assert!((out.log_evidence - exact).abs() < 3.0 * out.log_evidence_se + 0.05, "ln Z {} ± {} vs exact {exact}", out.log_evidence, out.log_evidence_se);
    assert!(out.log_evidence_se < 0.2, "standard error {}", out.log_evidence_se);
}
