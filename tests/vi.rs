//! Mean-field variational inference against closed forms: a conjugate normal model (where the
//! mean-field family holds the exact posterior) and a Bayesian linear regression with a correlated
//! posterior (mean-field means are exact there, variances are 1/diag(precision)).

use nalgebra::{DMatrix, DVector};
use snell::prelude::*;
use snell::vi::MeanFieldVi;
use snell::sampler::SamplerError;

#[model]
fn normal_mean(y: &[f64]) {
    let mu = sample!(Normal(1.0, 2.0));
    observe!(y ~ Normal(mu, 0.5));
}

#[model]
fn linear_regression(x: &Matrix, y: &[f64]) {
    let beta = sample!([x.cols()] ~ Normal(0.0, 1.0));
    observe!(y ~ Normal(x.matvec(beta), 0.7));
}

#[test]
fn recovers_a_conjugate_gaussian_posterior() {
    let y = [0.3, 0.9, 1.7, 0.2, 1.1];
    let m = NormalMean::new(&y).unwrap();
    // exact: precision 1/4 + n/0.25, mean (1/4 · 1 + Σy/0.25) / precision
    let prec = 0.25 + y.len() as f64 / 0.25;
    let mean = (0.25 + y.iter().sum::<f64>() / 0.25) / prec;
    let fit = MeanFieldVi::default().fit(&m, 1).unwrap();
    assert!((fit.mean[0] - mean).abs() < 0.01, "mean {} vs {mean}", fit.mean[0]);
    assert!((fit.sd[0] / prec.powf(-0.5) - 1.0).abs() < 0.03, "sd {} vs {}", fit.sd[0], prec.powf(-0.5));
    // the ELBO at the optimum is the log evidence (q is exact here): ln N(y; 1·1, 4·11ᵀ + 0.25 I)
    let n = y.len();
    let cov = DMatrix::from_fn(n, n, |i, j| 4.0 + if i == j { 0.25 } else { 0.0 });
    let r = DVector::from_iterator(n, y.iter().map(|v| v - 1.0));
    let chol = cov.clone().cholesky().unwrap();
    let log_det = 2.0 * chol.l().diagonal().iter().map(|v: &f64| v.ln()).sum::<f64>();
    let quad = r.dot(&chol.solve(&r));
    let log_z = -0.5 * (quad + log_det + n as f64 * (2.0 * std::f64::consts::PI).ln());
    assert!((fit.elbo() - log_z).abs() < 0.05, "ELBO {} vs log evidence {log_z}", fit.elbo());
    // draws of q in the samplers' type
    let draws = fit.draws(&m, 4, 2000, 3).unwrap();
    let s = draws.summary();
    let row = &s.rows()[1];
    assert_eq!(row.name, "mu");
    assert!((row.mean - mean).abs() < 4.0 * row.mcse_mean + 0.01, "draws' mean {}", row.mean);
    assert!((row.sd / prec.powf(-0.5) - 1.0).abs() < 0.05, "draws' sd {}", row.sd);
}

#[test]
fn mean_field_regression_has_the_exact_mean_and_the_diagonal_precision() {
    // correlated design: the posterior is correlated, q's variances must be 1/diag(precision)
    let n = 40;
    let rows: Vec<Vec<f64>> = (0..n).map(|i| {
        let t = i as f64 / n as f64;
        vec![1.0, t, t * t + 0.1 * (i as f64 * 1.7).sin()]
    }).collect();
    let beta_true = [0.5, -1.0, 2.0];
    let y: Vec<f64> = rows.iter().enumerate().map(|(i, r)| r.iter().zip(&beta_true).map(|(a, b)| a * b).sum::<f64>() + 0.7 * (i as f64 * 2.3).cos()).collect();
    let x = Matrix::from_rows(&rows).unwrap();
    let m = LinearRegression::new(&x, &y).unwrap();
    let xm = DMatrix::from_fn(n, 3, |i, j| rows[i][j]);
    let precision = xm.transpose() * &xm / 0.49 + DMatrix::identity(3, 3);
    let mean = precision.clone().cholesky().unwrap().solve(&(xm.transpose() * DVector::from_vec(y.clone()) / 0.49));
    let fit = MeanFieldVi { iterations: 20_000, ..Default::default() }.fit(&m, 2).unwrap();
    for j in 0..3 {
        let sd_mf = precision[(j, j)].powf(-0.5);
        assert!((fit.mean[j] - mean[j]).abs() < 0.05 * sd_mf + 0.01, "beta.{}: {} vs {}", j + 1, fit.mean[j], mean[j]);
        assert!((fit.sd[j] / sd_mf - 1.0).abs() < 0.05, "beta.{}: sd {} vs 1/sqrt(precision) {sd_mf}", j + 1, fit.sd[j]);
        // and narrower than the true marginal sd, as mean-field must be on a correlated posterior
        let sd_true = precision.clone().try_inverse().unwrap()[(j, j)].sqrt();
        assert!(fit.sd[j] < 0.8 * sd_true, "beta.{}: {} not narrower than {sd_true}", j + 1, fit.sd[j]);
    }
}

#[test]
fn same_seed_same_fit_and_bad_settings_are_errors() {
    let m = NormalMean::new(&[0.1, 0.2]).unwrap();
    let vi = MeanFieldVi { iterations: 500, ..Default::default() };
    assert_eq!(vi.fit(&m, 5).unwrap(), vi.fit(&m, 5).unwrap());
    assert_ne!(vi.fit(&m, 5).unwrap().mean, vi.fit(&m, 6).unwrap().mean);
    for (bad, name) in [
        (MeanFieldVi { iterations: 0, ..Default::default() }, "iterations"),
        (MeanFieldVi { mc_samples: 0, ..Default::default() }, "mc_samples"),
        (MeanFieldVi { learning_rate: -1.0, ..Default::default() }, "learning_rate"),
        (MeanFieldVi { average_fraction: 0.0, ..Default::default() }, "average_fraction"),
    ] {
        assert!(matches!(bad.fit(&m, 1), Err(SamplerError::Setting { name: n, .. }) if n == name), "{name}");
    }
    let fit = vi.fit(&m, 5).unwrap();
    assert!(matches!(fit.draws(&m, 0, 10, 1), Err(SamplerError::Setting { .. })));
    let other = NormalMean::new(&[0.1]).unwrap();
    assert!(fit.draws(&other, 1, 10, 1).is_ok(), "same dimension, other data: fine");
}

#[test]
fn non_finite_draws_are_counted_not_fatal() {
    // a density that is -inf for x > 2: draws of q landing there are rejected and counted
    let t = snell::target::FnDensity::new(1, |q: &[f64], g: &mut [f64]| {
        g[0] = -q[0];
        if q[0] > 2.0 { f64::NEG_INFINITY } else { -0.5 * q[0] * q[0] }
    });
    let fit = MeanFieldVi { iterations: 2000, ..Default::default() }.fit(&t, 3).unwrap();
    assert!(fit.rejected > 0);
    assert!(fit.mean[0].abs() < 0.5 && fit.sd[0] < 1.2, "{:?} {:?}", fit.mean, fit.sd);
}
