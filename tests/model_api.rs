//! The generated model struct: batching, data checks, names, constraining, initialisation, prior
//! draws, simulation, minibatches and the f32 backend.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use snell::model::{default_backend, EvalOptions};
use snell::prelude::*;

const Y: [f64; 8] = [28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0];
const SIGMA: [f64; 8] = [15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0];

#[model]
fn eight_schools(y: &[f64], sigma: &[f64]) {
    let mu = sample!(Normal(0.0, 5.0));
    let tau = sample!(HalfCauchy(5.0));
    let theta_raw = sample!([y.len()] ~ Normal(0.0, 1.0));
    let theta = mu + tau * theta_raw;
    observe!(y ~ Normal(theta, sigma));
}

/// Linear regression with the rows of `x` and `y` indexed by observation.
#[model(observations(x, y))]
fn linreg(x: &Matrix, y: &[f64]) {
    let alpha = sample!(Normal(0.0, 10.0));
    let beta = sample!([x.cols()] ~ Normal(0.0, 2.5));
    let sigma = sample!(HalfNormal(5.0));
    observe!(y ~ Normal(alpha + x.matvec(beta), sigma));
}

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn random_points(model: &impl Model, p: usize, seed: u64) -> Vec<f64> {
    let mut r = rng(seed);
    (0..p).flat_map(|_| model.init(&mut r)).collect()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn batched_evaluation_equals_a_loop_of_single_ones() {
    let m = EightSchools::new(&Y, &SIGMA).unwrap();
    let d = m.dim();
    let p = 7;
    let thetas = random_points(&m, p, 1);
    let (lps, grads) = m.log_density_and_grad_batch(&thetas).unwrap();
    assert_eq!((lps.len(), grads.len()), (p, p * d));
    for i in 0..p {
        let (lp, g) = m.log_density_and_grad(&thetas[i * d..(i + 1) * d]).unwrap();
        assert!(close(lp, lps[i], 1e-12), "member {i}: {lp} vs {}", lps[i]);
        for j in 0..d {
            assert!(close(g[j], grads[i * d + j], 1e-12));
        }
    }
    let plain = m.log_density_batch(&thetas).unwrap();
    for i in 0..p {
        assert!(close(plain[i], lps[i], 1e-12));
    }
}

#[test]
fn gradient_matches_finite_differences() {
    let m = EightSchools::new(&Y, &SIGMA).unwrap();
    let theta = random_points(&m, 1, 2);
    let (_, g) = m.log_density_and_grad(&theta).unwrap();
    for j in 0..theta.len() {
        let h = 1e-5;
        let mut up = theta.clone();
        up[j] += h;
        let mut dn = theta.clone();
        dn[j] -= h;
        let fd = (m.log_density(&up).unwrap() - m.log_density(&dn).unwrap()) / (2.0 * h);
        assert!((fd - g[j]).abs() < 1e-6 * (1.0 + g[j].abs()), "coordinate {j}: {fd} vs {}", g[j]);
    }
}

#[test]
fn names_dimensions_and_parts() {
    let m = EightSchools::new(&Y, &SIGMA).unwrap();
    assert_eq!(m.dim(), 10);
    let names = m.param_names();
    assert_eq!(names[..3], ["mu", "tau", "theta_raw.1"]);
    assert_eq!(names[9], "theta_raw.8");
    let theta = random_points(&m, 1, 3);
    let e = m.evaluate(&default_backend(), &theta, None, EvalOptions { grad: false, ..Default::default() }).unwrap();
    let total = m.log_density(&theta).unwrap();
    assert!(close(total, e.log_prior[0] + e.log_likelihood[0] + e.log_jacobian[0], 1e-12));
    // the only transformed parameter is tau = exp(y): log-Jacobian = y
    assert!(close(e.log_jacobian[0], theta[1], 1e-12));
    let pointwise = m.log_likelihood_pointwise(&theta).unwrap();
    assert_eq!(pointwise.len(), 8);
    assert!(close(pointwise.iter().sum::<f64>(), m.log_likelihood(&theta).unwrap(), 1e-12));
}

#[test]
fn constrain_and_unconstrain_round_trip_with_typed_parameters() {
    let m = EightSchools::new(&Y, &SIGMA).unwrap();
    let theta = random_points(&m, 1, 4);
    let p: EightSchoolsParams = m.constrain(&theta).unwrap();
    assert!(close(p.mu, theta[0], 1e-15));
    assert!(close(p.tau, theta[1].exp(), 1e-14));
    assert_eq!(p.theta_raw.len(), 8);
    let back = m.unconstrain(&p).unwrap();
    for (a, b) in back.iter().zip(&theta) {
        assert!(close(*a, *b, 1e-12));
    }
    let bad = EightSchoolsParams { tau: -1.0, ..p };
    let err = m.unconstrain(&bad).unwrap_err();
    assert!(matches!(err, ModelError::Constraint { ref site, .. } if site == "tau"), "{err}");
}

#[test]
fn wrong_data_gives_errors_that_name_the_problem() {
    let err = EightSchools::new(&Y[..7], &SIGMA).unwrap_err();
    assert!(matches!(err, ModelError::Shape { .. }), "{err}");
    assert!(err.to_string().contains('y'), "{err}");
    let mut bad = SIGMA;
    bad[3] = f64::NAN;
    let err = EightSchools::new(&Y, &bad).unwrap_err();
    assert!(matches!(err, ModelError::Data { ref name, .. } if name == "sigma"), "{err}");
    bad[3] = -2.0;
    let err = EightSchools::new(&Y, &bad).unwrap_err();
    assert!(matches!(err, ModelError::InvalidParameter { dist: "Normal", .. }), "{err}");
    let x = Matrix::new(3, 2, vec![1.0; 6]).unwrap();
    let err = Linreg::new(&x, &[1.0, 2.0]).unwrap_err();
    assert!(matches!(err, ModelError::Data { ref name, .. } if name == "y"), "{err}");
}

#[test]
fn bad_points_are_errors_or_minus_infinity_never_panics() {
    let m = EightSchools::new(&Y, &SIGMA).unwrap();
    assert!(matches!(m.log_density(&[0.0; 3]), Err(ModelError::Dimension { expected: 10, got: 3, .. })));
    assert!(m.log_density_batch(&[0.0; 15]).is_err());
    let mut theta = vec![0.0; 10];
    theta[0] = f64::NAN;
    let (lp, g) = m.log_density_and_grad(&theta).unwrap();
    assert_eq!(lp, f64::NEG_INFINITY);
    assert!(g.iter().all(|v| v.is_finite()));
    theta[0] = 0.0;
    theta[1] = 1e6; // tau = exp(1e6) = inf
    let lp = m.log_density(&theta).unwrap();
    assert!(!lp.is_nan());
}

#[test]
fn init_is_uniform_minus_two_to_two() {
    let m = EightSchools::new(&Y, &SIGMA).unwrap();
    let draws = random_points(&m, 500, 5);
    assert!(draws.iter().all(|v| (-2.0..2.0).contains(v)));
    let mean = draws.iter().sum::<f64>() / draws.len() as f64;
    // sd of the mean of 5000 uniform(-2, 2) draws is 1.155 / sqrt(5000) = 0.016
    assert!(mean.abs() < 0.07, "{mean}");
}

#[test]
fn prior_draws_are_reproducible_and_have_the_prior_moments() {
    let m = EightSchools::new(&Y, &SIGMA).unwrap();
    let a = m.sample_prior(&mut rng(6)).unwrap();
    let b = m.sample_prior(&mut rng(6)).unwrap();
    assert_eq!(a, b);
    let mut r = rng(7);
    let n = 4000;
    let draws: Vec<EightSchoolsParams> = (0..n).map(|_| m.sample_prior(&mut r).unwrap()).collect();
    let mean_mu = draws.iter().map(|p| p.mu).sum::<f64>() / n as f64;
    let sd_mu = (draws.iter().map(|p| (p.mu - mean_mu).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    assert!(mean_mu.abs() < 4.0 * 5.0 / (n as f64).sqrt(), "{mean_mu}");
    assert!((sd_mu - 5.0).abs() < 0.3, "{sd_mu}");
    // HalfCauchy(5): median 5
    let below = draws.iter().filter(|p| p.tau < 5.0).count() as f64 / n as f64;
    assert!((below - 0.5).abs() < 4.0 * 0.5 / (n as f64).sqrt(), "{below}");
    assert!(draws.iter().all(|p| p.tau > 0.0));
}

#[test]
fn simulation_draws_data_from_the_likelihood() {
    let m = EightSchools::new(&Y, &SIGMA).unwrap();
    let params = EightSchoolsParams { mu: 3.0, tau: 0.5, theta_raw: vec![0.0; 8] };
    let mut r = rng(8);
    let n = 2000;
    let mut sum = [0.0; 8];
    let mut sq = [0.0; 8];
    for _ in 0..n {
        let sim = m.simulate(&params, &mut r).unwrap();
        let y = sim.get("y").unwrap();
        assert_eq!(y.len(), 8);
        for j in 0..8 {
            sum[j] += y[j];
            sq[j] += y[j] * y[j];
        }
    }
    for j in 0..8 {
        let mean = sum[j] / n as f64;
        let sd = (sq[j] / n as f64 - mean * mean).sqrt();
        assert!((mean - 3.0).abs() < 4.0 * SIGMA[j] / (n as f64).sqrt(), "school {j}: {mean}");
        assert!((sd / SIGMA[j] - 1.0).abs() < 0.1, "school {j}: {sd}");
    }
    // a prior predictive draw: parameters from the prior, data from the likelihood
    let p = m.sample_prior(&mut r).unwrap();
    let sim = m.simulate(&p, &mut r).unwrap();
    let refit = EightSchools::new(sim.get("y").unwrap(), &SIGMA).unwrap();
    assert_eq!(refit.dim(), 10);
}

fn regression_data(n: usize, k: usize, seed: u64) -> (Matrix, Vec<f64>) {
    use rand::Rng;
    let mut r = rng(seed);
    let x: Vec<f64> = (0..n * k).map(|_| r.gen_range(-1.0..1.0)).collect();
    let y: Vec<f64> = (0..n).map(|i| 1.0 + x[i * k] - 0.5 * x[i * k + 1] + r.gen_range(-0.5..0.5)).collect();
    (Matrix::new(n, k, x).unwrap(), y)
}

#[test]
fn minibatch_likelihood_is_unbiased_over_an_epoch() {
    let (x, y) = regression_data(60, 3, 9);
    let m = Linreg::new(&x, &y).unwrap();
    assert_eq!(m.n_obs(), Some(60));
    let theta = random_points(&m, 1, 10);
    let full = m.log_likelihood(&theta).unwrap();
    let (full_lp, full_grad) = m.log_density_and_grad(&theta).unwrap();
    // an epoch: a permutation split into 6 batches of 10
    let mut perm: Vec<usize> = (0..60).collect();
    perm.reverse();
    let batches: Vec<&[usize]> = perm.chunks(10).collect();
    let mean_ll = batches.iter().map(|b| m.log_likelihood_minibatch(&theta, b).unwrap()).sum::<f64>() / 6.0;
    assert!(close(mean_ll, full, 1e-12), "{mean_ll} vs {full}");
    let mut mean_lp = 0.0;
    let mut mean_grad = vec![0.0; m.dim()];
    for b in &batches {
        let (lp, g) = m.log_density_and_grad_minibatch(&theta, b).unwrap();
        mean_lp += lp / 6.0;
        for (s, v) in mean_grad.iter_mut().zip(g) {
            *s += v / 6.0;
        }
    }
    assert!(close(mean_lp, full_lp, 1e-12));
    for (a, b) in mean_grad.iter().zip(&full_grad) {
        assert!(close(*a, *b, 1e-10), "{a} vs {b}");
    }
    assert!(m.log_likelihood_minibatch(&theta, &[60]).is_err());
    assert!(m.log_likelihood_minibatch(&theta, &[]).is_err());
    let es = EightSchools::new(&Y, &SIGMA).unwrap();
    assert!(es.log_likelihood_minibatch(&vec![0.0; 10], &[0]).is_err());
}

#[test]
fn f32_backend_agrees_with_f64() {
    let m = EightSchools::new(&Y, &SIGMA).unwrap();
    let thetas = random_points(&m, 4, 11);
    let e64 = m.evaluate(&default_backend(), &thetas, None, EvalOptions::default()).unwrap();
    let e32 = m.evaluate(&Cpu32::default(), &thetas, None, EvalOptions::default()).unwrap();
    for (a, b) in e64.log_density.iter().zip(&e32.log_density) {
        assert!(close(*a, *b, 1e-5), "{a} vs {b}");
    }
    for (a, b) in e64.grad.unwrap().iter().zip(e32.grad.unwrap().iter()) {
        assert!((a - b).abs() < 1e-4 * (1.0 + a.abs()), "{a} vs {b}");
    }
}
