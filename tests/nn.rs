//! dfdx networks as parameters: the flat-vector ↔ tensor mapping, the weight prior's checks, and
//! SMC's evidence of a network without hidden layers, which is Bayesian linear regression with a
//! closed-form evidence.

mod common;
use nalgebra::{DMatrix, DVector};
use snell::nn::layers::{Linear, Tanh};
use snell::nn::{flatten, load, BuildOnDevice, Cpu, Network, WeightPrior};
use snell::prelude::*;

type Small = (Linear<2, 4>, Tanh, Linear<4, 1>);

fn data(n: usize) -> (Matrix, Vec<f64>) {
    common::linear_network_data(n)
}

#[test]
fn weights_map_onto_the_tensors_in_dfdx_order() {
    // Linear<2, 1>: weight (1 × 2) then bias: f(x) = w1·x1 + w2·x2 + b
    let (x, _) = data(5);
    let net = Network::<Linear<2, 1>, 2, 1>::new(WeightPrior::isotropic(1.0)).unwrap();
    assert_eq!(net.len(), 3);
    let f = net.predict(&[0.7, -1.2, 0.25], &x).unwrap();
    for i in 0..5 {
        let want = 0.7 * x.get(i, 0) - 1.2 * x.get(i, 1) + 0.25;
        assert!((f[i] - want).abs() < 1e-12, "row {i}: {} vs {want}", f[i]);
    }
    // and back: the weights written are the weights read
    let small = Network::<Small, 2, 1>::new(WeightPrior::isotropic(1.0)).unwrap();
    assert_eq!(small.len(), 2 * 4 + 4 + 4 + 1);
    assert_eq!(small.tensor_sizes(), [8, 4, 4, 1]);
    let w: Vec<f64> = (0..small.len()).map(|i| (i as f64 * 0.61).sin()).collect();
    let mut module = <Small as BuildOnDevice<Cpu, f64>>::build_on_device(&Cpu::default());
    assert_eq!(flatten(&module).len(), w.len());
    load(&mut module, &w);
    assert_eq!(flatten(&module), w);
}

#[test]
fn the_weight_prior_is_checked() {
    let new = |p: WeightPrior| Network::<Small, 2, 1>::new(p).err();
    assert!(matches!(new(WeightPrior::per_tensor(vec![1.0; 3])), Some(ModelError::Data { name, .. }) if name == "prior"), "one sd per tensor");
    assert!(matches!(new(WeightPrior::isotropic(-1.0)), Some(ModelError::Data { name, .. }) if name == "prior"));
    assert!(matches!(new(WeightPrior::isotropic(f64::NAN)), Some(ModelError::Data { name, .. }) if name == "prior"));
    let net = Network::<Small, 2, 1>::new(WeightPrior::per_tensor(vec![1.0, 0.5, 2.0, 1.5])).unwrap();
    assert_eq!(&net.prior_sd()[7..9], [1.0, 0.5]);
    assert_eq!(net.prior_sd()[16], 1.5);
}

#[model(observations(x, y))]
fn linear_net(net: &Network<Linear<2, 1>, 2, 1>, x: &Matrix, y: &[f64]) {
    let w = sample!([net.len()] ~ Normal(0.0, net.prior_sd()));
    observe!(y ~ Normal(net.forward(w, x), 0.4));
}

#[test]
fn smc_on_a_linear_network_recovers_the_bayesian_linear_regression_evidence() {
    // the network without hidden layers is Bayesian linear regression: its evidence is
    // ln N(y; 0, σ² I + s0² X̃ X̃ᵀ) with X̃ = [x, 1]
    use snell::sampler::smc::{run_smc, Smc};
    let (x, y) = data(20);
    let (sigma, s0) = (0.4, 2.0);
    let net = Network::<Linear<2, 1>, 2, 1>::new(WeightPrior::isotropic(s0)).unwrap();
    let m = LinearNet::new(&net, &x, &y).unwrap();
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
