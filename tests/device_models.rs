//! Any `#[model]` on a dfdx device. The dfdx backend gives the log densities and gradients of
//! `Native` (1e-10), networks inside the model included (their reverse pass added to dfdx's tape),
//! and a model evaluates points held on dfdx's `Cpu` device as on the host; the device execution's
//! ray tracing draws pass the closed-form posterior of a network regression (eight schools' reference
//! on the device: `tests/executions.rs`). Host samplers run a model
//! evaluated on dfdx too (`Model::on_backend`): NUTS passes the eight-schools reference there, SMC its
//! closed-form evidence (`tests/smc.rs`).

mod common;

use dfdx::tensor::TensorFromVec;
use snell::backend::{Cpu32, Cpu64};
use snell::model::EvalOptions;
use snell::nn::layers::{Linear, Tanh};
use snell::nn::{Activation, Mlp, Network, WeightPrior};
use snell::prelude::*;
use snell::backend::DevicePoints;
use snell::nn::Cpu;
use snell::sampler::ray_tracing::RayTracing;
use snell::sampler::nuts::Nuts;
use snell::sampler::{run, run_device, RunConfig};
use snell_examples::posteriordb::{assert_matches_reference, reals, reference, references_available, EightSchoolsNoncentered};

type Small = (Linear<2, 4>, Tanh, Linear<4, 1>);

fn data(n: usize) -> (Matrix, Vec<f64>) {
    common::linear_network_data(n)
}

#[model(observations(x, y))]
fn module_net(net: &Network<Small, 2, 1>, x: &Matrix, y: &[f64]) {
    let s = sample!(HalfNormal(1.0));
    let z = sample!([net.len()] ~ Normal(0.0, 1.0));
    let sigma = sample!(HalfNormal(0.5));
    observe!(y ~ Normal(net.forward(s * z, x), sigma));
}

#[model(observations(x, y))]
fn mlp_net(net: &Mlp, x: &Matrix, y: &[f64]) {
    let s = sample!(HalfNormal(1.0));
    let z = sample!([net.len()] ~ Normal(0.0, 1.0));
    let sigma = sample!(HalfNormal(0.5));
    observe!(y ~ Normal(net.forward(s * z, x), sigma));
}

/// Two outputs per row: `y` holds them row by row.
#[model]
fn mlp_two_outputs(net: &Mlp, x: &Matrix, y: &[f64]) {
    let w = sample!([net.len()] ~ Normal(0.0, 1.0));
    observe!(y ~ Normal(net.forward(w, x), 0.5));
}

#[model(observations(x, y))]
fn linear_net(net: &Network<Linear<2, 1>, 2, 1>, x: &Matrix, y: &[f64]) {
    let w = sample!([net.len()] ~ Normal(0.0, 2.0));
    observe!(y ~ Normal(net.forward(w, x), 0.4));
}

/// Eight schools with the data written here, for the checks that need no reference posterior.
fn schools() -> snell_examples::peers::EightSchools {
    snell_examples::peers::EightSchools::new(&[28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0], &[15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0]).unwrap()
}

fn eight_schools() -> EightSchoolsNoncentered {
    let r = reference("eight_schools-eight_schools_noncentered");
    EightSchoolsNoncentered::new(&reals(&r["data"]["y"]), &reals(&r["data"]["sigma"])).unwrap()
}

/// `P` points of dimension `d`, spread over (−0.8, 0.8).
fn points<M: Model>(m: &M, p: usize) -> Vec<f64> {
    let d = m.dim();
    (0..p * d).map(|i| ((i as f64 + 1.0) * 0.61).sin() * 0.8).collect()
}

/// The dfdx `Cpu64` evaluation (all data and a minibatch) against `Native`'s.
fn dfdx_equals_native<M: Model>(m: &M, what: &str) {
    let theta = points(m, 5);
    let (lp, grad) = m.log_density_and_grad_batch(&theta).unwrap();
    let e = m.evaluate(&Cpu64::default(), &theta, None, EvalOptions::default()).unwrap();
    common::assert_all_close(&e.log_density, &lp, 1e-10, &format!("{what}: log densities"));
    common::assert_all_close(e.grad.as_deref().unwrap(), &grad, 1e-10, &format!("{what}: gradients"));
    if m.n_obs().is_some() {
        let d = m.dim();
        let batch = [0, 3, 4];
        for r in 0..5 {
            let q = &theta[r * d..(r + 1) * d];
            let (lp, g) = m.log_density_and_grad_minibatch(q, &batch).unwrap();
            let e = m.evaluate(&Cpu64::default(), q, Some(&batch), EvalOptions::default()).unwrap();
            common::assert_all_close(&e.log_density, &[lp], 1e-10, &format!("{what}: minibatch log density"));
            common::assert_all_close(e.grad.as_deref().unwrap(), &g, 1e-10, &format!("{what}: minibatch gradient"));
        }
    }
}

#[test]
fn dfdx_gradients_equal_native_ones_with_networks_inside_the_model() {
    let (x, y) = data(9);
    dfdx_equals_native(&schools(), "eight schools");
    let net = Network::<Small, 2, 1>::new(WeightPrior::isotropic(1.0)).unwrap();
    dfdx_equals_native(&ModuleNet::new(&net, &x, &y).unwrap(), "dfdx module network");
    for act in [Activation::Tanh, Activation::ReLU, Activation::OnePlusTanh] {
        let mlp = Mlp::new(&[2, 4, 3, 1], act, WeightPrior::isotropic(1.0)).unwrap();
        dfdx_equals_native(&MlpNet::new(&mlp, &x, &y).unwrap(), &format!("Mlp ({act:?})"));
    }
    let two = Mlp::new(&[2, 3, 2], Activation::Sigmoid, WeightPrior::isotropic(1.0)).unwrap();
    let y2: Vec<f64> = y.iter().flat_map(|&v| [v, 0.5 * v]).collect();
    dfdx_equals_native(&MlpTwoOutputs::new(&two, &x, &y2).unwrap(), "Mlp with two outputs");
    // f32 follows within its rounding
    let mlp = Mlp::new(&[2, 4, 1], Activation::Tanh, WeightPrior::isotropic(1.0)).unwrap();
    let m = MlpNet::new(&mlp, &x, &y).unwrap();
    let theta = points(&m, 3);
    let (lp, grad) = m.log_density_and_grad_batch(&theta).unwrap();
    let e = m.evaluate(&Cpu32::default(), &theta, None, EvalOptions::default()).unwrap();
    common::assert_all_close(&e.log_density, &lp, 1e-4, "Mlp in f32: log densities");
    common::assert_all_close(e.grad.as_deref().unwrap(), &grad, 1e-3, "Mlp in f32: gradients");
}

/// On `Native`, the backend's own operations (what an `Mlp` runs on dfdx) and the host kernels
/// give the same densities and gradients.
#[test]
fn an_mlp_of_backend_operations_equals_its_host_kernels() {
    use snell::nn::MlpKernel;
    let (x, y) = data(9);
    for act in [Activation::Tanh, Activation::ReLU, Activation::Sigmoid, Activation::OnePlusTanh] {
        let dense = Mlp::new(&[2, 5, 3, 1], act, WeightPrior::isotropic(1.0)).unwrap();
        let ops = dense.clone().with_kernel(MlpKernel::BackendOps);
        let (a, b) = (MlpNet::new(&dense, &x, &y).unwrap(), MlpNet::new(&ops, &x, &y).unwrap());
        let theta = points(&a, 4);
        let (lp, grad) = a.log_density_and_grad_batch(&theta).unwrap();
        let (lp2, grad2) = b.log_density_and_grad_batch(&theta).unwrap();
        common::assert_all_close(&lp2, &lp, 1e-10, &format!("{act:?}: log densities"));
        common::assert_all_close(&grad2, &grad, 1e-10, &format!("{act:?}: gradients"));
        let (g1, g2) = (a.log_density_and_grad_minibatch(&theta[..a.dim()], &[1, 4]).unwrap(), b.log_density_and_grad_minibatch(&theta[..a.dim()], &[1, 4]).unwrap());
        common::assert_all_close(&g2.1, &g1.1, 1e-10, &format!("{act:?}: minibatch gradients"));
    }
    // a weight vector of the wrong length is a model error, not a panic
    #[model]
    fn short(net: &Mlp, x: &Matrix) {
        let w = sample!([3] ~ Normal(0.0, 1.0));
        factor!(net.forward(w, x).sum());
    }
    let ops = Mlp::new(&[2, 3, 1], Activation::Tanh, WeightPrior::isotropic(1.0)).unwrap().with_kernel(MlpKernel::BackendOps);
    let err = match Short::new(&ops, &x) {
        Ok(m) => m.log_density(&[0.1, 0.2, 0.3]).unwrap_err().to_string(),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("takes 13 values"), "{err}");
}

/// A model's evaluation of points on dfdx's `Cpu` device: every row and every row's own
/// minibatch equal the host evaluation.
fn device_rows_equal_host<M: Model>(m: &M, what: &str) {
    let (p, d) = (4, m.dim());
    let theta = points(m, p);
    let x = DevicePoints::CpuF64(Cpu::default().tensor_from_vec(theta.clone(), (p, d)));
    let (lp, grad) = m.logp_grad_device(&x).unwrap();
    assert!(matches!(grad, DevicePoints::CpuF64(_)), "{what}: the gradient stays on the points' device");
    let (mut want_lp, mut want_grad) = (vec![0.0; p], vec![0.0; p * d]);
    m.logp_grad_batch(&theta, &mut want_lp, &mut want_grad).unwrap();
    common::assert_all_close(&lp, &want_lp, 1e-10, &format!("{what}: device log densities"));
    common::assert_all_close(&grad.to_host(), &want_grad, 1e-10, &format!("{what}: device gradients"));
    if let Some(n) = m.observations() {
        let batches: Vec<Vec<usize>> = (0..p).map(|r| vec![r % n, (r + 2) % n]).collect();
        let refs: Vec<&[usize]> = batches.iter().map(Vec::as_slice).collect();
        let (lpb, gradb) = m.logp_grad_minibatch_device(&x, &refs).unwrap();
        let gradb = gradb.to_host();
        for r in 0..p {
            let mut g = vec![0.0; d];
            let want = m.logp_grad_minibatch(&theta[r * d..(r + 1) * d], &batches[r], &mut g).unwrap();
            common::assert_all_close(&[lpb[r]], &[want], 1e-10, &format!("{what}: row {r} minibatch"));
            common::assert_all_close(&gradb[r * d..(r + 1) * d], &g, 1e-10, &format!("{what}: row {r} minibatch gradient"));
        }
        assert!(m.logp_grad_minibatch_device(&x, &refs[..2]).is_err(), "{what}: one batch per row");
    } else {
        assert!(m.logp_grad_minibatch_device(&x, &[&[0][..]; 4]).is_err(), "{what}: no minibatches without observations");
    }
    // points of another dimension are an error, not a panic
    let wrong = DevicePoints::CpuF64(Cpu::default().tensor_from_vec(vec![0.0; 2 * (d + 1)], (2, d + 1)));
    assert!(m.logp_grad_device(&wrong).is_err(), "{what}: points of the wrong dimension");
}

#[test]
fn a_model_on_the_device_evaluates_as_on_the_host() {
    let (x, y) = data(9);
    device_rows_equal_host(&schools(), "eight schools");
    let net = Network::<Small, 2, 1>::new(WeightPrior::isotropic(1.0)).unwrap();
    device_rows_equal_host(&ModuleNet::new(&net, &x, &y).unwrap(), "dfdx module network");
    let mlp = Mlp::new(&[2, 4, 1], Activation::Tanh, WeightPrior::isotropic(1.0)).unwrap();
    device_rows_equal_host(&MlpNet::new(&mlp, &x, &y).unwrap(), "Mlp");
}

#[test]
fn a_network_regression_on_the_device_has_the_closed_form_posterior() {
    let (x, y) = data(30);
    let net = Network::<Linear<2, 1>, 2, 1>::new(WeightPrior::isotropic(2.0)).unwrap();
    let m = LinearNet::new(&net, &x, &y).unwrap();
    let cfg = RunConfig { chains: 16, warmup: 500, draws: 1000, seed: 4, init: None };
    let draws = run_device(&RayTracing::default(), &m, &Cpu64::default(), &cfg).unwrap();
    common::assert_linear_network_posterior(&draws, &x, &y, 0.4, 2.0);
}

#[test]
fn nuts_on_a_model_evaluated_by_dfdx_passes_its_reference() {
    if !references_available() {
        return;
    }
    let r = reference("eight_schools-eight_schools_noncentered");
    let m = eight_schools();
    let on_dfdx = m.on_backend(Cpu64::default());
    // the same log density and gradient as the default backend, through the one sampler interface
    let q = points(&m, 1);
    let (mut g1, mut g2) = (vec![0.0; q.len()], vec![0.0; q.len()]);
    let (a, b) = (m.logp_grad(&q, &mut g1).unwrap(), on_dfdx.logp_grad(&q, &mut g2).unwrap());
    common::assert_all_close(&[b], &[a], 1e-10, "log density on dfdx");
    common::assert_all_close(&g2, &g1, 1e-10, "gradient on dfdx");
    let cfg = RunConfig { chains: 4, warmup: 1000, draws: 1000, seed: 5, init: None };
    let draws = run(&Nuts::default(), &on_dfdx, &cfg).unwrap();
    assert_matches_reference("NUTS on dfdx: eight_schools_noncentered", &r, &draws);
}

#[test]
fn values_that_do_not_fill_the_points_are_a_dimension_error() {
    assert!(matches!(DevicePoints::from_host::<f64, _>(&Cpu::default(), &[1.0, 2.0, 3.0], 2), Err(ModelError::Dimension { .. })));
    let x = DevicePoints::from_host::<f64, _>(&Cpu::default(), &[1.0, 2.0, 3.0, 4.0], 2).unwrap();
    assert_eq!(x.shape(), (2, 2));
    assert!(matches!(x.like(&[0.0; 3]), Err(ModelError::Dimension { .. })));
    assert_eq!(x.like(&[5.0, 6.0, 7.0, 8.0]).unwrap().to_host(), [5.0, 6.0, 7.0, 8.0]);
}
