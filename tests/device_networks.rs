//! Networks inside `#[model]`s on a device: a regression, a classifier and a token model over a
//! dfdx module evaluate a population of weight rows held on the device exactly as their host
//! evaluations do (all observations, and one minibatch per row), and ray tracing with minibatches
//! in the device execution keeps the exact posterior of a Bayesian linear regression (with a
//! check shown to fail on the wrong posterior), reproducibly, with settings errors as `Result`s.

use dfdx::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use snell::nn::layers::{Embedding, Linear, Tanh, TransformerEncoder};
use snell::nn::{Activation, Mlp, Network, SequenceNetwork, WeightPrior};
use snell::backend::{Cpu64, DevicePoints};
use snell::prelude::model;
use snell::target::{FnDensity, Target};
use snell::sampler::ray_tracing::{MinibatchSettings, RayTracing};
use snell::sampler::{run_device, Draws, RunConfig, SamplerError, Select};
use snell::{Matrix, ModelError};

fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs() / (1.0 + y.abs())).fold(0.0, f64::max)
}

/// `rows` points near the target's starting points.
fn points<T: Target>(target: &T, rows: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let q: Vec<f64> = (0..rows).flat_map(|_| target.init(&mut rng)).collect();
    q.into_iter().map(|w| w + 0.2 * rng.sample::<f64, _>(StandardNormal)).collect()
}

/// Row `r`'s batch: a few distinct observations, a different set per row.
fn batches(rows: usize, n: usize, size: usize, seed: u64) -> Vec<Vec<usize>> {
    use rand::seq::SliceRandom;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..rows)
        .map(|_| {
            let mut all: Vec<usize> = (0..n).collect();
            all.shuffle(&mut rng);
            all.truncate(size);
            all
        })
        .collect()
}

/// The device rows (all observations, then each row on its batch) against the host evaluations.
fn check_rows<T: Target>(target: &T, what: &str, tol: f64) {
    let (d, p) = (target.dim(), 3);
    let q = points(target, p, 5);
    let n = target.observations().unwrap();
    let x = DevicePoints::CpuF64(Cpu::default().tensor_from_vec(q.clone(), (p, d)));
    let b = batches(p, n, (n / 3).max(1), 6);
    let refs: Vec<&[usize]> = b.iter().map(Vec::as_slice).collect();
    let (lp, grad) = target.logp_grad_device(&x).unwrap();
    let (lpb, gradb) = target.logp_grad_minibatch_device(&x, &refs).unwrap();
    let (grad, gradb) = (grad.to_host(), gradb.to_host());
    for r in 0..p {
        let row = &q[r * d..(r + 1) * d];
        let mut g = vec![0.0; d];
        let want = target.logp_grad(row, &mut g).unwrap();
        assert!(max_rel(&[lp[r]], &[want]) < tol, "{what}: row {r}: lp {} vs host {want}", lp[r]);
        assert!(max_rel(&grad[r * d..(r + 1) * d], &g) < tol, "{what}: row {r}: gradients differ by {}", max_rel(&grad[r * d..(r + 1) * d], &g));
        let want_b = target.logp_grad_minibatch(row, &b[r], &mut g).unwrap();
        assert!(max_rel(&[lpb[r]], &[want_b]) < tol, "{what}: row {r}: minibatch lp {} vs host {want_b}", lpb[r]);
        assert!(max_rel(&gradb[r * d..(r + 1) * d], &g) < tol, "{what}: row {r}: minibatch gradients differ");
        // the batches differ by row, so the rows' estimates differ from the full density
        assert!((lpb[r] - lp[r]).abs() > 1e-8, "{what}: row {r}: the minibatch estimate equals the full density");
    }
    // batches must be one per row, non-empty, in range
    assert!(matches!(target.logp_grad_minibatch_device(&x, &refs[..2]), Err(ModelError::Dimension { .. })));
    assert!(matches!(target.logp_grad_minibatch_device(&x, &[&[0], &[], &[1]]), Err(ModelError::Data { .. })));
    assert!(matches!(target.logp_grad_minibatch_device(&x, &[&[0], &[n], &[1]]), Err(ModelError::Data { .. })));
    // points of another dimension are an error, not a panic
    let wrong = DevicePoints::CpuF64(Cpu::default().tensor_from_vec(vec![0.0; 2 * (d + 1)], (2, d + 1)));
    assert!(target.logp_grad_device(&wrong).is_err(), "{what}: points of the wrong dimension");
}

fn sin_data(n: usize) -> (Matrix, Vec<f64>) {
    let xs: Vec<f64> = (0..n).map(|i| -3.0 + 6.0 * i as f64 / (n - 1) as f64).collect();
    let ys = xs.iter().map(|x| x.sin() + 0.1 * (7.0 * x).cos()).collect();
    (Matrix::new(n, 1, xs).unwrap(), ys)
}

type Reg = (Linear<1, 8>, Tanh, Linear<8, 1>);

#[model(observations(x, y))]
fn fixed_noise(net: &Network<Reg, 1, 1>, x: &Matrix, y: &[f64]) {
    let w = sample!([net.len()] ~ Normal(0.0, net.prior_sd()));
    observe!(y ~ Normal(net.forward(w, x), 0.3));
}

#[model(observations(x, y))]
fn learned_noise(net: &Network<Reg, 1, 1>, x: &Matrix, y: &[f64]) {
    let w = sample!([net.len()] ~ Normal(0.0, net.prior_sd()));
    let sigma = sample!(Gamma(2.0, 10.0));
    observe!(y ~ Normal(net.forward(w, x), sigma));
}

#[test]
fn regression_rows_and_minibatches_equal_the_host_evaluation() {
    let (x, y) = sin_data(30);
    let net = Network::<Reg, 1, 1>::new(WeightPrior::isotropic(1.5)).unwrap();
    check_rows(&FixedNoise::new(&net, &x, &y).unwrap(), "regression, fixed noise", 1e-10);
    check_rows(&LearnedNoise::new(&net, &x, &y).unwrap(), "regression, learned noise", 1e-10);
}

type Clf = (Linear<4, 8>, Tanh, Linear<8, 3>);

#[model(observations(x, labels))]
fn classifier(net: &Network<Clf, 4, 3>, x: &Matrix, labels: &[usize]) {
    let w = sample!([net.len()] ~ Normal(0.0, net.prior_sd()));
    observe!(labels ~ CategoricalLogitRows(net.forward(w, x), 3));
}

#[test]
fn classifier_rows_and_minibatches_equal_the_host_evaluation() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let n = 40;
    let xs: Vec<f64> = (0..n * 4).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let labels: Vec<usize> = xs.chunks(4).map(|r| if r[0] + r[1] > 0.5 { 2 } else if r[2] > 0.0 { 1 } else { 0 }).collect();
    let net = Network::<Clf, 4, 3>::new(WeightPrior::per_tensor(vec![1.0, 2.0, 1.0, 2.0])).unwrap();
    check_rows(&Classifier::new(&net, &Matrix::new(n, 4, xs).unwrap(), &labels).unwrap(), "classifier", 1e-10);
}

type Lm = (Embedding<16, 8>, TransformerEncoder<8, 2, 16, 1>, Linear<8, 16>);

#[model(observations(inputs, next))]
fn token_model(net: &SequenceNetwork<Lm, 16>, inputs: &[Vec<usize>], next: &[Vec<usize>]) {
    let w = sample!([net.len()] ~ Normal(0.0, net.prior_sd()));
    observe!(next ~ CategoricalLogitRows(net.forward(w, inputs), 16));
}

#[test]
fn sequence_model_rows_and_minibatches_equal_the_host_evaluation() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let tokens: Vec<usize> = (0..6 * 8 + 1).map(|_| rng.gen_range(0..16)).collect();
    let inputs: Vec<Vec<usize>> = (0..6).map(|i| tokens[8 * i..8 * i + 8].to_vec()).collect();
    let next: Vec<Vec<usize>> = (0..6).map(|i| tokens[8 * i + 1..8 * i + 9].to_vec()).collect();
    let net = SequenceNetwork::<Lm, 16>::new(WeightPrior::isotropic(1.0)).unwrap();
    check_rows(&TokenModel::new(&net, &inputs, &next).unwrap(), "sequence model", 1e-10);
}

/// y = 1.5 x₁ − 0.5 x₂ + 0.3 + N(0, 0.5²), N = 400, as a `Linear<2, 1>` network with a N(0, 2²)
/// prior: the exact posterior is Gaussian.
#[model(observations(x, y))]
fn linear_net(net: &Network<Linear<2, 1>, 2, 1>, x: &Matrix, y: &[f64]) {
    let w = sample!([net.len()] ~ Normal(0.0, S0));
    observe!(y ~ Normal(net.forward(w, x), SIGMA));
}

const SIGMA: f64 = 0.5;
const S0: f64 = 2.0;

/// The network and `n` observations of the linear regression.
fn linear_regression(n: usize) -> (Network<Linear<2, 1>, 2, 1>, Matrix, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let xs: Vec<f64> = (0..2 * n).map(|_| rng.sample(StandardNormal)).collect();
    let y = xs.chunks(2).map(|r| 1.5 * r[0] - 0.5 * r[1] + 0.3 + SIGMA * rng.sample::<f64, _>(StandardNormal)).collect::<Vec<_>>();
    (Network::new(WeightPrior::isotropic(S0)).unwrap(), Matrix::new(n, 2, xs).unwrap(), y)
}

/// The exact posterior mean and sds of `(w₁, w₂, b)` given the first `n` observations.
fn exact_posterior(x: &Matrix, y: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    use nalgebra::{DMatrix, DVector};
    let xm = DMatrix::from_fn(n, 3, |i, j| if j < 2 { x.get(i, j) } else { 1.0 });
    let cov = (xm.transpose() * &xm / (SIGMA * SIGMA) + DMatrix::identity(3, 3) / (S0 * S0)).try_inverse().unwrap();
    let mean = &cov * (xm.transpose() * DVector::from_vec(y[..n].to_vec()) / (SIGMA * SIGMA));
    ((0..3).map(|j| mean[j]).collect(), (0..3).map(|j| cov[(j, j)].sqrt()).collect())
}

/// Means within 4·MCSE + 10% of an sd, sds within (0.7, 1.1) of the exact ones — the host
/// minibatch test's tolerances (minibatch rays shrink the sds by a few to 25%).
fn close_to(draws: &Draws, mean: &[f64], sd: &[f64]) -> Result<(), String> {
    let s = draws.summary();
    for j in 0..3 {
        let row = &s.rows()[j + 1];
        eprintln!("{}: mean {:.4} (exact {:.4}, mcse {:.4}), sd ratio {:.3}, ESS {:.0}", row.name, row.mean, mean[j], row.mcse_mean, row.sd / sd[j], row.ess_bulk);
        if (row.mean - mean[j]).abs() > 4.0 * row.mcse_mean + 0.1 * sd[j] {
            return Err(format!("{}: mean {} vs {} (mcse {})", row.name, row.mean, mean[j], row.mcse_mean));
        }
        if !(0.7..1.1).contains(&(row.sd / sd[j])) {
            return Err(format!("{}: sd ratio {}", row.name, row.sd / sd[j]));
        }
    }
    Ok(())
}

fn minibatch_rays(batch: usize) -> RayTracing {
    RayTracing { metropolis: false, minibatch: Some(MinibatchSettings::new(batch)), ..RayTracing::new(0.008, 10) }
}

#[test]
fn minibatch_rays_on_the_device_keep_the_linear_regression_posterior() {
    // B = 40 of N = 400 (10%), dt = 0.008 ≈ 0.3 × the posterior sds (0.025), 10 steps
    let (net, x, y) = linear_regression(400);
    let m = LinearNet::new(&net, &x, &y).unwrap();
    let cfg = RunConfig { chains: 8, warmup: 100, draws: 500, seed: 21, init: None };
    let draws = run_device(&minibatch_rays(40), &m, &Cpu64::default(), &cfg).unwrap();
    assert_eq!(draws.chains[0].step_size, 0.008, "with minibatches dt is used as given");
    let n_grad: f64 = draws.stat("n_grad__").unwrap().iter().flatten().sum();
    assert_eq!(n_grad, (8 * 500 * 11) as f64, "one gradient per step and one at the end");
    let (mean, sd) = exact_posterior(&x, &y, 400);
    close_to(&draws, &mean, &sd).unwrap();
    // power: the same draws are far from the posterior of a quarter of the data
    let (mean_q, sd_q) = exact_posterior(&x, &y, 100);
    assert!(close_to(&draws, &mean_q, &sd_q).is_err(), "the check cannot tell the posterior of N/4 from that of N");
    // same seed, same draws; another seed, other batches and draws
    let short = |seed: u64| {
        let (net, x, y) = linear_regression(400);
        let m = LinearNet::new(&net, &x, &y).unwrap();
        run_device(&minibatch_rays(40), &m, &Cpu64::default(), &RunConfig { warmup: 0, draws: 20, seed, ..cfg.clone() }).unwrap().chains[3].values.clone()
    };
    assert_eq!(short(21), short(21));
    assert_ne!(short(21), short(22));
}

#[test]
fn the_threshold_rule_rejects_on_the_device() {
    let (net, x, y) = linear_regression(400);
    let m = LinearNet::new(&net, &x, &y).unwrap();
    let cfg = RunConfig { chains: 4, warmup: 0, draws: 50, seed: 2, init: None };
    let with = |bound: f64| RayTracing { minibatch: Some(MinibatchSettings { reject_above: Some(bound), ..MinibatchSettings::new(10) }), ..minibatch_rays(10) };
    // a kept trajectory moves the chain: count the changes between consecutive draws
    let moved = |rt: RayTracing| -> usize {
        let d = run_device(&rt, &m, &Cpu64::default(), &cfg).unwrap();
        d.chains.iter().map(|c| c.values.chunks(3).collect::<Vec<_>>().windows(2).filter(|w| w[0] != w[1]).count()).sum()
    };
    assert_eq!(moved(with(1e-9)), 0, "a tiny bound rejects every trajectory");
    assert_eq!(moved(with(1e12)), 4 * 49, "a huge bound keeps every trajectory");
}

#[test]
fn minibatch_settings_errors_on_the_device() {
    let (net, x, y) = linear_regression(50);
    let m = LinearNet::new(&net, &x, &y).unwrap();
    let cfg = RunConfig { chains: 2, warmup: 0, draws: 2, seed: 1, init: None };
    let err = |rt: RayTracing, target: &dyn Target| match run_device(&rt, target, &Cpu64::default(), &cfg).unwrap_err() {
        SamplerError::Setting { name, detail } => (name, detail),
        e => panic!("{e}"),
    };
    assert_eq!(err(RayTracing { metropolis: true, ..minibatch_rays(10) }, &m).0, "metropolis");
    assert_eq!(err(minibatch_rays(51), &m).0, "batch_size");
    // a target without observations has no minibatches
    let gauss = FnDensity::new(3, |q, g| {
        g.iter_mut().zip(q).for_each(|(g, q)| *g = -q);
        -0.5 * q.iter().map(|q| q * q).sum::<f64>()
    });
    assert_eq!(err(minibatch_rays(1), &gauss).0, "minibatch");
}

/// The learned-noise regression of a deeper network, written with an `Mlp` of the same layers.
#[model(observations(x, y))]
fn mlp_regression(net: &Mlp, x: &Matrix, y: &[f64]) {
    let w = sample!([net.len()] ~ Normal(0.0, net.prior_sd()));
    let sigma = sample!(Gamma(2.0, 10.0));
    observe!(y ~ Normal(net.forward(w, x), sigma));
}

type Deep = (Linear<1, 8>, Tanh, Linear<8, 8>, Tanh, Linear<8, 1>);

#[model(observations(x, y))]
fn module_regression(net: &Network<Deep, 1, 1>, x: &Matrix, y: &[f64]) {
    let w = sample!([net.len()] ~ Normal(0.0, net.prior_sd()));
    let sigma = sample!(Gamma(2.0, 10.0));
    observe!(y ~ Normal(net.forward(w, x), sigma));
}

#[test]
fn an_mlp_and_a_dfdx_module_of_the_same_layers_agree_on_the_device() {
    let (x, y) = sin_data(30);
    let prior = WeightPrior::per_tensor(vec![1.0, 2.0, 1.5, 1.0, 0.5, 2.0]);
    let mlp = Mlp::new(&[1, 8, 8, 1], Activation::Tanh, prior.clone()).unwrap();
    let model = MlpRegression::new(&mlp, &x, &y).unwrap();
    let net = Network::<Deep, 1, 1>::new(prior).unwrap();
    let modules = ModuleRegression::new(&net, &x, &y).unwrap();
    assert_eq!(model.dim(), modules.dim());
    let (p, d) = (5, modules.dim());
    let q = points(&modules, p, 9);
    let rows = DevicePoints::CpuF64(Cpu::default().tensor_from_vec(q, (p, d)));
    let b = batches(p, 30, 7, 4);
    let refs: Vec<&[usize]> = b.iter().map(Vec::as_slice).collect();
    for (what, (lp, g), (want_lp, want_g)) in [
        ("all data", model.logp_grad_device(&rows).unwrap(), modules.logp_grad_device(&rows).unwrap()),
        ("minibatches", model.logp_grad_minibatch_device(&rows, &refs).unwrap(), modules.logp_grad_minibatch_device(&rows, &refs).unwrap()),
    ] {
        assert!(matches!(g, DevicePoints::CpuF64(_)), "{what}: the gradient stays on the points' device");
        let (g, want_g) = (g.to_host(), want_g.to_host());
        assert!(max_rel(&lp, &want_lp) < 1e-10, "{what}: {lp:?} vs {want_lp:?}");
        assert!(max_rel(&g, &want_g) < 1e-10, "{what}: gradients differ by {}", max_rel(&g, &want_g));
    }
}

#[test]
fn recording_a_subset_keeps_those_values_of_the_full_draws() {
    let (x, y) = sin_data(30);
    let net = Network::<Reg, 1, 1>::new(WeightPrior::isotropic(1.5)).unwrap();
    let target = LearnedNoise::new(&net, &x, &y).unwrap();
    let cfg = RunConfig { chains: 3, warmup: 10, draws: 8, seed: 4, init: None };
    let rt = RayTracing { step_size: 0.05, n_steps: Some(5), ..Default::default() };
    let full = run_device(&rt, &target, &Cpu64::default(), &cfg).unwrap();
    let some = run_device(&rt, &Select::new(&target, &["sigma", "w.3"]).unwrap(), &Cpu64::default(), &cfg).unwrap();
    assert_eq!(some.names, ["sigma", "w.3"]);
    let d = full.names.len();
    let (s, w3) = (full.names.iter().position(|n| n == "sigma").unwrap(), full.names.iter().position(|n| n == "w.3").unwrap());
    for (a, b) in full.chains.iter().zip(&some.chains) {
        assert_eq!(a.lp, b.lp);
        for (row, kept) in a.values.chunks(d).zip(b.values.chunks(2)) {
            assert_eq!(kept, [row[s], row[w3]]);
        }
    }
    assert!(Select::new(&target, &["tau"]).is_err(), "an unknown name is an error");
}
