//! Networks inside `#[model]`: a `Network` passed as data and called on a vector parameter. The
//! model's log density equals the one written out from the network's predictions, its gradient matches finite
//! differences (also through a parameter that scales the weights), population rows equal single
//! evaluations, minibatches average to the full likelihood over an epoch, mistakes are errors, and
//! a network without hidden layers gives the closed-form Bayesian linear regression posterior.

mod common;
use snell::backend::Cpu64;
use snell::model::EvalOptions;
use snell::nn::layers::{Linear, Tanh};
use snell::nn::{Activation, Mlp, MlpKernel, Network, WeightPrior};
use snell::prelude::*;
use snell::sampler::{nutpie::Nutpie, run, Batches, Order, RunConfig};
use snell::target::Target;

type Small = (Linear<2, 4>, Tanh, Linear<4, 1>);

fn data(n: usize) -> (Matrix, Vec<f64>) {
    let x: Vec<f64> = (0..2 * n).map(|i| ((i as f64) * 0.37).sin() * 1.5).collect();
    let y: Vec<f64> = (0..n).map(|i| x[2 * i] - 0.5 * x[2 * i + 1] + 0.3 * ((i as f64) * 1.3).cos()).collect();
    (Matrix::new(n, 2, x).unwrap(), y)
}

#[model(observations(x, y))]
fn fixed_noise(net: &Network<Small, 2, 1>, x: &Matrix, y: &[f64]) {
    let w = sample!([net.len()] ~ Normal(0.0, net.prior_sd()));
    observe!(y ~ Normal(net.forward(w, x), 0.4));
}

#[model(observations(x, y))]
fn scaled(net: &Network<Small, 2, 1>, x: &Matrix, y: &[f64]) {
    let s = sample!(HalfNormal(1.0));
    let z = sample!([net.len()] ~ Normal(0.0, 1.0));
    let sigma = sample!(HalfNormal(0.5));
    observe!(y ~ Normal(net.forward(s * z, x), sigma));
}

fn point(d: usize, k: f64) -> Vec<f64> {
    (0..d).map(|i| ((i as f64 + 1.0) * k).sin() * 0.8).collect()
}

/// `Σ ln N(w; 0, sd) + Σ ln N(y; f_w(x), σ)`, written out from the network's predictions.
fn by_hand(net: &Network<Small, 2, 1>, x: &Matrix, y: &[f64], w: &[f64], sigma: f64) -> f64 {
    let normal = |v: f64, m: f64, s: f64| -0.5 * ((v - m) / s).powi(2) - s.ln() - HALF_LN_2PI;
    let prior: f64 = w.iter().zip(net.prior_sd()).map(|(&v, &s)| normal(v, 0.0, s)).sum();
    let f = net.predict(w, x).unwrap();
    prior + y.iter().zip(&f).map(|(&v, &m)| normal(v, m, sigma)).sum::<f64>()
}

const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

#[test]
fn the_model_equals_its_density_written_by_hand() {
    let (x, y) = data(12);
    let prior = WeightPrior::per_tensor(vec![1.0, 0.5, 2.0, 1.5]);
    let net = Network::<Small, 2, 1>::new(prior).unwrap();
    let model = FixedNoise::new(&net, &x, &y).unwrap();
    assert_eq!(model.dim(), net.len());
    assert_eq!(net.len(), 2 * 4 + 4 + 4 + 1);
    for k in [0.3, 0.7, 1.9] {
        let q = point(model.dim(), k);
        let (lp, grad) = model.log_density_and_grad(&q).unwrap();
        common::assert_close(lp, by_hand(&net, &x, &y, &q, 0.4), 1e-10, "log density against the one written by hand");
        let fd = common::fd_grad(|p| by_hand(&net, &x, &y, p, 0.4), &q, 1e-6);
        common::assert_all_close(&grad, &fd, 1e-5, "gradient against finite differences");
    }
}

#[test]
fn gradients_match_finite_differences_through_a_scale_parameter() {
    let (x, y) = data(10);
    let net = Network::<Small, 2, 1>::new(WeightPrior::isotropic(1.0)).unwrap();
    let model = Scaled::new(&net, &x, &y).unwrap();
    for k in [0.4, 1.1] {
        let q = point(model.dim(), k);
        let (_, grad) = model.log_density_and_grad(&q).unwrap();
        let fd = common::fd_grad(|p| model.log_density(p).unwrap(), &q, 1e-6);
        common::assert_all_close(&grad, &fd, 1e-5, "gradient of the scaled network model");
    }
}

#[test]
fn population_rows_equal_single_evaluations() {
    let (x, y) = data(8);
    let net = Network::<Small, 2, 1>::new(WeightPrior::isotropic(1.0)).unwrap();
    let model = Scaled::new(&net, &x, &y).unwrap();
    let d = model.dim();
    let rows: Vec<Vec<f64>> = (0..5).map(|p| point(d, 0.2 + 0.37 * p as f64)).collect();
    let flat: Vec<f64> = rows.concat();
    let (lps, grads) = model.log_density_and_grad_batch(&flat).unwrap();
    for (p, row) in rows.iter().enumerate() {
        let (lp, g) = model.log_density_and_grad(row).unwrap();
        assert!((lps[p] - lp).abs() < 1e-10 * lp.abs().max(1.0), "member {p}: {} vs {lp}", lps[p]);
        common::assert_all_close(&grads[p * d..(p + 1) * d], &g, 1e-10, "batched gradient");
    }
}

#[test]
fn minibatches_average_to_the_full_log_density_over_an_epoch() {
    let (x, y) = data(12);
    let net = Network::<Small, 2, 1>::new(WeightPrior::isotropic(1.0)).unwrap();
    let model = Scaled::new(&net, &x, &y).unwrap();
    let q = point(model.dim(), 0.9);
    let (full, g_full) = model.log_density_and_grad(&q).unwrap();
    let mut rng = common::rng(3);
    for size in [1, 4, 6] {
        let mut batches = Batches::new(12, size, Order::Shuffled).unwrap();
        let k = 12 / size;
        let (mut mean, mut g_mean) = (0.0, vec![0.0; q.len()]);
        for _ in 0..k {
            let (lp, g) = model.log_density_and_grad_minibatch(&q, batches.next(&mut rng)).unwrap();
            mean += lp / k as f64;
            g_mean.iter_mut().zip(&g).for_each(|(a, b)| *a += b / k as f64);
        }
        assert!((mean - full).abs() < 1e-9 * full.abs(), "batch {size}: {mean} vs {full}");
        common::assert_all_close(&g_mean, &g_full, 1e-9, "minibatch gradient over an epoch");
    }
}

#[test]
fn values_and_gradients_run_on_dfdx() {
    let (x, y) = data(6);
    let net = Network::<Small, 2, 1>::new(WeightPrior::isotropic(1.0)).unwrap();
    let model = Scaled::new(&net, &x, &y).unwrap();
    let q = point(model.dim(), 0.5);
    let want = model.log_density(&q).unwrap();
    let dfdx = Cpu64::default();
    let values = model.evaluate(&dfdx, &q, None, EvalOptions { grad: false, ..Default::default() }).unwrap();
    assert!((values.log_density[0] - want).abs() < 1e-9 * want.abs(), "{} vs {want}", values.log_density[0]);
    // the network's reverse pass joins dfdx's tape
    let (_, grad) = model.log_density_and_grad(&q).unwrap();
    let on_dfdx = model.evaluate(&dfdx, &q, None, EvalOptions::default()).unwrap();
    common::assert_all_close(on_dfdx.grad.as_deref().unwrap(), &grad, 1e-10, "network model gradient on dfdx");
}

#[test]
fn mistakes_are_errors() {
    // inputs with the wrong number of columns are reported when the model is built
    let x3 = Matrix::new(4, 3, vec![0.5; 12]).unwrap();
    let net = Network::<Small, 2, 1>::new(WeightPrior::isotropic(1.0)).unwrap();
    let err = Scaled::new(&net, &x3, &[0.0; 4]).unwrap_err().to_string();
    assert!(err.contains("2 inputs") && err.contains("3 columns"), "{err}");
    // a prior with one sd per tensor must have one per tensor
    assert!(matches!(Network::<Small, 2, 1>::new(WeightPrior::per_tensor(vec![1.0; 3])), Err(ModelError::Data { .. })));
    assert!(Network::<Small, 2, 1>::new(WeightPrior::isotropic(0.0)).is_err());
    // host predictions check their lengths
    assert!(net.predict(&[0.0; 3], &Matrix::new(1, 2, vec![0.0; 2]).unwrap()).is_err());
    let (x, y) = data(4);
    let model = Scaled::new(&net, &x, &y).unwrap();
    assert!(matches!(model.log_density(&[0.0; 3]), Err(ModelError::Dimension { .. })));
}

#[model(observations(x, y))]
fn linear_net(net: &Network<Linear<2, 1>, 2, 1>, x: &Matrix, y: &[f64]) {
    let w = sample!([net.len()] ~ Normal(0.0, 2.0));
    observe!(y ~ Normal(net.forward(w, x), 0.4));
}

#[test]
fn a_linear_network_model_has_the_bayesian_linear_regression_posterior() {
    let (x, y) = data(30);
    let (sigma, s0) = (0.4, 2.0);
    let net = Network::<Linear<2, 1>, 2, 1>::new(WeightPrior::isotropic(s0)).unwrap();
    let model = LinearNet::new(&net, &x, &y).unwrap();
    // the weights in dfdx's order are (w1, w2, b): the design gets a column of ones last
    let f = net.predict(&[0.7, -1.2, 0.25], &x).unwrap();
    assert!((f[0] - (0.7 * x.get(0, 0) - 1.2 * x.get(0, 1) + 0.25)).abs() < 1e-12);
    let draws = run(&Nutpie::default(), &model, &RunConfig { chains: 4, warmup: 500, draws: 1000, seed: 8, init: None }).unwrap();
    common::assert_linear_network_posterior(&draws, &x, &y, sigma, s0);
    // predictive bands from the recorded `w`: the mean is the mean of w1·x1 + w2·x2 + b over the
    // draws, a batch of test points at a time
    let grid = Matrix::new(5, 2, vec![0.0, 0.0, 1.0, -1.0, 2.0, 0.5, -1.5, 1.0, 0.3, 0.3]).unwrap();
    let bands = net.predictive_bands(&draws, "w", &grid, &[0.05, 0.95], 2).unwrap();
    let all: Vec<&[f64]> = draws.chains.iter().flat_map(|c| c.values.chunks(draws.names.len())).collect();
    for j in 0..5 {
        let (a, b) = (grid.get(j, 0), grid.get(j, 1));
        let want = all.iter().map(|w| w[0] * a + w[1] * b + w[2]).sum::<f64>() / all.len() as f64;
        assert!((bands.mean[j] - want).abs() < 1e-10, "point {j}: {} vs {want}", bands.mean[j]);
        assert!(bands.quantiles[0][j] < bands.mean[j] && bands.mean[j] < bands.quantiles[1][j]);
    }
    assert!(net.predictive_bands(&draws, "v", &grid, &[0.5], 2).is_err());
    assert!(net.predictive_bands(&draws, "w", &grid, &[1.5], 2).is_err());
    // an MLP without hidden layers is the same linear map
    let mlp = Mlp::new(&[2, 1], Activation::Tanh, WeightPrior::isotropic(s0)).unwrap();
    assert_eq!(mlp.predictive_bands(&draws, "w", &grid, &[0.05, 0.95], 3).unwrap(), bands);
}

#[model(observations(x, y))]
fn mlp_scaled(net: &Mlp, x: &Matrix, y: &[f64]) {
    let s = sample!(HalfNormal(1.0));
    let z = sample!([net.len()] ~ Normal(0.0, 1.0));
    let sigma = sample!(HalfNormal(0.5));
    observe!(y ~ Normal(net.forward(s * z, x), sigma));
}

#[test]
fn an_mlp_reads_the_weights_as_the_dfdx_module_does_and_batches_the_population() {
    let (x, y) = data(9);
    let net = Network::<Small, 2, 1>::new(WeightPrior::isotropic(1.0)).unwrap();
    let mlp = Mlp::new(&[2, 4, 1], Activation::Tanh, WeightPrior::isotropic(1.0)).unwrap();
    assert_eq!(mlp.len(), net.len());
    assert_eq!(mlp.tensor_sizes(), net.tensor_sizes());
    let a = Scaled::new(&net, &x, &y).unwrap();
    let b = MlpScaled::new(&mlp, &x, &y).unwrap();
    let d = a.dim();
    let rows: Vec<Vec<f64>> = (0..6).map(|p| point(d, 0.3 + 0.29 * p as f64)).collect();
    let (lp_a, g_a) = a.log_density_and_grad_batch(&rows.concat()).unwrap();
    let (lp_b, g_b) = b.log_density_and_grad_batch(&rows.concat()).unwrap();
    common::assert_all_close(&lp_b, &lp_a, 1e-10, "MLP against the dfdx module, log density");
    common::assert_all_close(&g_b, &g_a, 1e-10, "MLP against the dfdx module, gradient");
    // one member at a time gives the same rows
    let (lp, g) = b.log_density_and_grad(&rows[4]).unwrap();
    assert!((lp - lp_b[4]).abs() < 1e-10 * lp.abs());
    common::assert_all_close(&g, &g_b[4 * d..5 * d], 1e-10, "MLP member 4");
}

#[test]
fn mlp_gradients_match_finite_differences_for_every_activation() {
    let (x, y) = data(7);
    for act in [Activation::Tanh, Activation::ReLU, Activation::Sigmoid, Activation::OnePlusTanh] {
        let mlp = Mlp::new(&[2, 5, 3, 1], act, WeightPrior::isotropic(1.0)).unwrap();
        let m = MlpScaled::new(&mlp, &x, &y).unwrap();
        let q = point(m.dim(), 0.61);
        let (_, grad) = m.log_density_and_grad(&q).unwrap();
        let fd = common::fd_grad(|p| m.log_density(p).unwrap(), &q, 1e-6);
        common::assert_all_close(&grad, &fd, 1e-5, &format!("MLP gradient ({act:?})"));
    }
    assert!(Mlp::new(&[3], Activation::Tanh, WeightPrior::isotropic(1.0)).is_err());
    assert!(Mlp::new(&[3, 0, 1], Activation::Tanh, WeightPrior::isotropic(1.0)).is_err());
}

#[test]
fn the_dense_kernel_equals_dfdx_batched_matmul_for_every_activation_and_population_size() {
    let (x, y) = data(11);
    for act in [Activation::Tanh, Activation::ReLU, Activation::Sigmoid, Activation::OnePlusTanh] {
        let dense = Mlp::new(&[2, 6, 5, 1], act, WeightPrior::isotropic(1.0)).unwrap();
        assert_eq!(dense.kernel(), MlpKernel::Dense);
        let dfdx = dense.clone().with_kernel(MlpKernel::DfdxBatched);
        let (a, b) = (MlpScaled::new(&dense, &x, &y).unwrap(), MlpScaled::new(&dfdx, &x, &y).unwrap());
        let d = a.dim();
        // 1, a chunk of dfdx's four, and more than one chunk with a remainder
        for p in [1, 4, 7] {
            let rows: Vec<f64> = (0..p).flat_map(|r| point(d, 0.41 + 0.23 * r as f64)).collect();
            let (lp_a, g_a) = a.log_density_and_grad_batch(&rows).unwrap();
            let (lp_b, g_b) = b.log_density_and_grad_batch(&rows).unwrap();
            common::assert_all_close(&lp_a, &lp_b, 1e-10, &format!("dense against dfdx, log density ({act:?}, P = {p})"));
            common::assert_all_close(&g_a, &g_b, 1e-10, &format!("dense against dfdx, gradient ({act:?}, P = {p})"));
            // the values alone (no taped pass kept) agree with those of the taped pass
            let values = |m: &MlpScaled, grad: bool| m.evaluate(&snell::backend::Native, &rows, None, EvalOptions { grad, ..Default::default() }).unwrap().log_density;
            common::assert_all_close(&values(&a, false), &values(&a, true), 1e-12, "dense values without the gradient");
            common::assert_all_close(&values(&a, false), &values(&b, false), 1e-10, "dense against dfdx, values without the gradient");
        }
        let w = point(dense.len(), 0.77);
        common::assert_all_close(&dense.predict(&w, &x).unwrap(), &dfdx.predict(&w, &x).unwrap(), 1e-12, &format!("predictions ({act:?})"));
    }
}
