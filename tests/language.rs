//! The model language: loops, indexing, gather, bounds, factor!, multivariate parameters, integer
//! data — each checked against the log density written out by hand.

use snell::prelude::*;
use std::f64::consts::PI;
use rand::SeedableRng;

fn normal_lpdf(x: f64, mu: f64, s: f64) -> f64 {
    -0.5 * ((x - mu) / s).powi(2) - s.ln() - 0.5 * (2.0 * PI).ln()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-10 * (1.0 + a.abs().max(b.abs()))
}

/// Observations one at a time in a loop, with per-element parameters and data.
#[model]
fn looped(y: &[f64], sigma: &[f64]) {
    let theta = sample!([y.len()] ~ Normal(0.0, 1.0));
    for i in 0..y.len() {
        observe!(y[i] ~ Normal(theta.at(i), sigma[i]));
    }
}

#[test]
fn observe_in_a_loop_equals_the_vectorised_form() {
    let (y, s) = ([1.0, -2.0, 0.5], [1.0, 2.0, 0.5]);
    let m = Looped::new(&y, &s).unwrap();
    let theta = [0.3, -0.1, 0.7];
    let expected: f64 = (0..3).map(|i| normal_lpdf(y[i], theta[i], s[i])).sum();
    assert!(close(m.log_likelihood(&theta).unwrap(), expected));
    let sim = m.simulate(&LoopedParams { theta: theta.to_vec() }, &mut rand::thread_rng()).unwrap();
    assert_eq!(sim.get("y").unwrap().len(), 3);
}

/// Varying intercepts by group (radon style): gather group effects per observation.
#[model]
fn groups(y: &[f64], group: &[usize], n_groups: usize) {
    let mu = sample!(Normal(0.0, 10.0));
    let sigma_a = sample!(HalfNormal(1.0));
    let eta = sample!([n_groups] ~ Normal(0.0, 1.0));
    let a = mu + sigma_a * eta;
    let sigma = sample!(Exponential(1.0));
    observe!(y ~ Normal(a.gather(group), sigma));
}

#[test]
fn gather_by_group_index() {
    let y = [1.0, 2.0, 3.0, 4.0];
    let group = [0, 1, 1, 2];
    let m = Groups::new(&y, &group, 3).unwrap();
    assert_eq!(m.dim(), 6);
    let theta = [0.5, 0.2_f64, 0.1, -0.3, 0.4, -0.2_f64];
    let (mu, sa, sigma) = (0.5, 0.2_f64.exp(), (-0.2_f64).exp());
    let eta = [0.1, -0.3, 0.4];
    let prior = normal_lpdf(mu, 0.0, 10.0)
        + (normal_lpdf(sa, 0.0, 1.0) + 2f64.ln())
        + eta.iter().map(|&e| normal_lpdf(e, 0.0, 1.0)).sum::<f64>()
        + (-sigma);
    let lik: f64 = (0..4).map(|i| normal_lpdf(y[i], mu + sa * eta[group[i]], sigma)).sum();
    assert!(close(m.log_prior(&theta).unwrap(), prior));
    assert!(close(m.log_likelihood(&theta).unwrap(), lik));
    assert!(close(m.log_density(&theta).unwrap(), prior + lik + 0.2 - 0.2));
    assert!(Groups::new(&y, &[0, 1, 1, 3], 3).is_err(), "a group index out of range is an error");
}

/// Bounds that are parameters, `factor!`, arithmetic with data on the left.
#[model]
fn bounded(x: &[f64]) {
    let lo = sample!(Normal(0.0, 1.0));
    let width = sample!(Exponential(1.0));
    let v = sample!(Uniform(-100.0, 100.0), lower = lo, upper = lo + width);
    factor!(-0.5 * (x - v).square().sum());
}

#[test]
fn bounds_may_be_parameters() {
    let m = Bounded::new(&[0.2, 0.4]).unwrap();
    let theta = [0.1, 0.3_f64, -0.5];
    let (lo, w) = (0.1, 0.3_f64.exp());
    let s = 1.0 / (1.0 + 0.5f64.exp());
    let v = lo + w * s;
    let lp = normal_lpdf(lo, 0.0, 1.0) - w + 0.3 + (-(200f64).ln()) + w.ln() + s.ln() + (1.0 - s).ln()
        - 0.5 * ((0.2 - v).powi(2) + (0.4 - v).powi(2));
    assert!(close(m.log_density(&theta).unwrap(), lp), "{} vs {lp}", m.log_density(&theta).unwrap());
    let flat = m.constrain_flat(&theta).unwrap();
    assert!(close(flat[2], v));
    let back = m.unconstrain_flat(&flat).unwrap();
    assert!(back.iter().zip(&theta).all(|(a, b)| (a - b).abs() < 1e-10));
}

/// A simplex parameter and categorical data with 0-based labels.
#[model]
fn mixture_weights(labels: &[usize], alpha: &[f64]) {
    let w = sample!(Dirichlet(alpha));
    observe!(labels ~ CategoricalLogit(w.ln()));
}

#[test]
fn simplex_and_categorical() {
    let m = MixtureWeights::new(&[0, 2, 2, 1], &[1.0, 2.0, 3.0]).unwrap();
    assert_eq!(m.dim(), 2);
    assert_eq!(m.param_names(), ["w.1", "w.2", "w.3"]);
    let p = m.constrain(&[0.3, -0.4]).unwrap();
    assert!((p.w.iter().sum::<f64>() - 1.0).abs() < 1e-14);
    let lik = p.w[0].ln() + 2.0 * p.w[2].ln() + p.w[1].ln();
    assert!(close(m.log_likelihood(&[0.3, -0.4]).unwrap(), lik));
    assert!(MixtureWeights::new(&[0, 3], &[1.0, 2.0, 3.0]).is_err(), "label 3 is out of range for 3 categories");
}

/// A multivariate normal parameter with a data Cholesky factor.
#[model]
fn correlated(l: &Matrix) {
    let _x = sample!(MultivariateNormal([0.0, 0.0].as_slice(), l));
}

#[test]
fn multivariate_normal_parameter() {
    let l = Matrix::from_rows(&[vec![1.0, 0.0], vec![0.6, 0.8]]).unwrap();
    let m = Correlated::new(&l).unwrap();
    assert_eq!(m.param_names(), ["_x.1", "_x.2"]);
    let x = [0.5, -1.0];
    // covariance [[1, .6], [.6, 1]], det 0.64
    let (a, b, c) = (1.0, 0.6, 1.0);
    let det: f64 = a * c - b * b;
    let q = (c * x[0] * x[0] - 2.0 * b * x[0] * x[1] + a * x[1] * x[1]) / det;
    let lp = -0.5 * q - 0.5 * det.ln() - (2.0 * PI).ln();
    assert!(close(m.log_density(&x).unwrap(), lp));
    let bad = Matrix::from_rows(&[vec![1.0, 0.5], vec![0.6, 0.8]]).unwrap();
    assert!(Correlated::new(&bad).is_err(), "not lower triangular");
}

/// Integer data, logistic regression on a design matrix, Poisson counts.
#[model]
fn counts(k: &[i64], exposure: &[f64]) {
    let log_rate = sample!(Normal(0.0, 2.0));
    observe!(k ~ Poisson(exposure * log_rate.exp()));
}

#[test]
fn integer_data_and_data_on_the_left_of_an_operator() {
    let m = Counts::new(&[0, 3, 1], &[1.0, 2.0, 0.5]).unwrap();
    let lr = 0.2_f64;
    let lik: f64 = [(0.0, 1.0), (3.0, 2.0), (1.0, 0.5)]
        .iter()
        .map(|&(k, e): &(f64, f64)| {
            let rate = e * lr.exp();
            k * rate.ln() - rate - statrs::function::gamma::ln_gamma(k + 1.0)
        })
        .sum();
    assert!(close(m.log_likelihood(&[lr]).unwrap(), lik));
    assert!(matches!(Counts::new(&[0, -1, 1], &[1.0, 2.0, 0.5]), Err(ModelError::OutOfSupport { .. })));
}

/// A two-component mixture written by hand with `log_prob!`, with ordered locations.
#[model]
fn mixture(y: &[f64]) {
    let mu = sample!([2] ~ Normal(0.0, 2.0), ordered);
    let sigma = sample!([2] ~ HalfNormal(2.0));
    let theta = sample!(Beta(5.0, 5.0));
    let a = theta.ln() + log_prob!(y ~ Normal(mu.at(0), sigma.at(0)));
    let b = (1.0 - theta).ln() + log_prob!(y ~ Normal(mu.at(1), sigma.at(1)));
    for i in 0..y.len() {
        factor!(concat(&[a.at(i), b.at(i)]).log_sum_exp());
    }
}

#[test]
fn ordered_parameters_and_hand_written_mixtures() {
    let y = [-1.0, 0.5, 2.0];
    let m = Mixture::new(&y).unwrap();
    assert_eq!(m.dim(), 5);
    let theta = [0.3, -0.5, 0.1, -0.2, 0.4];
    let p = m.constrain(&theta).unwrap();
    assert!(close(p.mu[0], 0.3) && close(p.mu[1], 0.3 + (-0.5f64).exp()));
    let (s0, s1) = (0.1f64.exp(), (-0.2f64).exp());
    let w = 1.0 / (1.0 + (-0.4f64).exp());
    let lik: f64 = y
        .iter()
        .map(|&v| (w * normal_lpdf(v, p.mu[0], s0).exp() + (1.0 - w) * normal_lpdf(v, p.mu[1], s1).exp()).ln())
        .sum();
    assert!(close(m.log_likelihood(&theta).unwrap(), lik));
    // Jacobian of the ordered transform: exp(y₂), so ln J gains y₂ = −0.5
    let e = m.evaluate(&snell::model::default_backend(), &theta, None, Default::default()).unwrap();
    let expected_jac = -0.5 + 0.1 - 0.2 + w.ln() + (1.0 - w).ln();
    assert!(close(e.log_jacobian[0], expected_jac), "{} vs {expected_jac}", e.log_jacobian[0]);
    let back = m.unconstrain(&p).unwrap();
    assert!(back.iter().zip(&theta).all(|(a, b)| (a - b).abs() < 1e-12));
    // the ordered transform slices its input twice: gradients on both backends against finite differences
    for backend_is_dfdx in [false, true] {
        let eval = |t: &[f64], grad: bool| {
            let opts = snell::model::EvalOptions { grad, ..Default::default() };
            if backend_is_dfdx { m.evaluate(&Cpu64::default(), t, None, opts) } else { m.evaluate(&snell::model::default_backend(), t, None, opts) }.unwrap()
        };
        let g = eval(&theta, true).grad.unwrap();
        for j in 0..theta.len() {
            let (mut up, mut dn) = (theta, theta);
            up[j] += 1e-6;
            dn[j] -= 1e-6;
            let fd = (eval(&up, false).log_density[0] - eval(&dn, false).log_density[0]) / 2e-6;
            assert!((fd - g[j]).abs() < 1e-5 * (1.0 + fd.abs()), "dfdx: {backend_is_dfdx}, coordinate {j}: {fd} vs {}", g[j]);
        }
    }
    let mut rng = rand::thread_rng();
    for _ in 0..20 {
        let d = m.sample_prior(&mut rng).unwrap();
        assert!(d.mu[0] < d.mu[1]);
    }
}

/// Deterministic quantities are recorded with draws (Stan's transformed parameters).
#[model]
fn recorded(y: &[f64], sigma: &[f64]) {
    let mu = sample!(Normal(0.0, 5.0));
    let tau = sample!(HalfCauchy(5.0));
    let z = sample!([y.len()] ~ Normal(0.0, 1.0));
    let theta = deterministic!(mu + tau * z);
    let _spread = deterministic!(tau.square());
    observe!(y ~ Normal(theta, sigma));
}

#[test]
fn deterministic_quantities_are_recorded_with_draws() {
    use snell::sampler::{nuts::Nuts, run, RunConfig};
use snell::target::Target;
    let m = Recorded::new(&[1.0, 2.0], &[1.0, 1.0]).unwrap();
    assert_eq!(m.param_names(), ["mu", "tau", "z.1", "z.2"]);
    assert_eq!(m.names(), ["mu", "tau", "z.1", "z.2", "theta.1", "theta.2", "_spread"]);
    let q = [0.5, 0.2, -1.0, 1.5];
    let out = m.output_values(&q).unwrap();
    let tau = 0.2f64.exp();
    assert!(close(out[4], 0.5 - tau) && close(out[5], 0.5 + 1.5 * tau) && close(out[6], tau * tau));
    let draws = run(&Nuts::default(), &m, &RunConfig { chains: 1, warmup: 50, draws: 20, seed: 1, init: None }).unwrap();
    let (mu, tau, z1, th1) = (draws.param("mu").unwrap(), draws.param("tau").unwrap(), draws.param("z.1").unwrap(), draws.param("theta.1").unwrap());
    for i in 0..20 {
        assert!(close(th1[0][i], mu[0][i] + tau[0][i] * z1[0][i]));
    }
}

/// Increasing positive scales: `positive_ordered`.
#[model]
fn ordered_scales(y: &[f64]) {
    let s = sample!([3] ~ HalfNormal(2.0), positive_ordered);
    observe!(y ~ Normal(0.0, s.at(2)));
}

#[model]
fn ordered_with_bounds(y: &[f64]) {
    let mu = sample!([2] ~ Normal(0.0, 1.0), lower = 0.0, ordered);
    observe!(y ~ Normal(mu.at(0), 1.0));
}

#[model]
fn ordered_half_normal(y: &[f64]) {
    let mu = sample!([2] ~ HalfNormal(1.0), ordered);
    observe!(y ~ Normal(mu.at(0), 1.0));
}

#[test]
fn positive_ordered_parameters_and_what_ordered_refuses() {
    let m = OrderedScales::new(&[0.5, -1.0]).unwrap();
    let theta = [0.2, -0.4, 0.3];
    let p = m.constrain(&theta).unwrap();
    let x1 = 0.2f64.exp();
    let (x2, x3) = (x1 + (-0.4f64).exp(), x1 + (-0.4f64).exp() + 0.3f64.exp());
    assert!(close(p.s[0], x1) && close(p.s[1], x2) && close(p.s[2], x3), "{:?}", p.s);
    // ln J = Σ y; the prior is three half-normals at the constrained values
    let e = m.evaluate(&snell::model::default_backend(), &theta, None, Default::default()).unwrap();
    assert!(close(e.log_jacobian[0], 0.2 - 0.4 + 0.3), "{}", e.log_jacobian[0]);
    let back = m.unconstrain(&p).unwrap();
    assert!(back.iter().zip(&theta).all(|(a, b)| (a - b).abs() < 1e-12), "{back:?}");
    // prior draws are positive and increasing
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    for _ in 0..20 {
        let d = m.sample_prior(&mut rng).unwrap();
        assert!(d.s[0] > 0.0 && d.s[0] < d.s[1] && d.s[1] < d.s[2], "{:?}", d.s);
    }
    // `ordered` with bounds, or on a bounded distribution, says what to write instead
    for e in [OrderedWithBounds::new(&[0.1]).err(), OrderedHalfNormal::new(&[0.1]).err()] {
        let e = e.expect("refused");
        assert!(matches!(&e, ModelError::InvalidParameter { site, .. } if site == "mu"), "{e}");
        assert!(e.to_string().contains("positive_ordered"), "{e}");
    }
}
