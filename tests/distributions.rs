//! Every distribution of snell against independent references:
//!
//! * (a) log densities against statrs 0.16 (`ln_pdf` / `ln_pmf`) or hand-written formulas
//!   (half-normal, half-Cauchy), with parameters given as data vectors, as folded constants and as
//!   model parameters;
//! * (b) gradients in the value and in every parameter against central finite differences, at
//!   seeded random points (and the same points evaluated as one population);
//! * (c) invalid parameters that depend on model parameters give `−∞` (never NaN, never a panic, a
//!   finite gradient), and invalid constants, invalid data parameters and observed data outside the
//!   support are errors of `new`.

mod common;

use common::*;
use nalgebra::DVector;
use snell::model::{default_backend, EvalOptions};
use snell::prelude::*;
use statrs::distribution::{self as sd, Continuous, Discrete};

const REL: f64 = 1e-10;

// ==== reference densities from statrs ===========================================================

fn st_normal(x: f64, mu: f64, s: f64) -> f64 {
    sd::Normal::new(mu, s).unwrap().ln_pdf(x)
}
fn st_student_t(x: f64, nu: f64, mu: f64, s: f64) -> f64 {
    sd::StudentsT::new(mu, s, nu).unwrap().ln_pdf(x)
}
fn st_cauchy(x: f64, mu: f64, s: f64) -> f64 {
    sd::Cauchy::new(mu, s).unwrap().ln_pdf(x)
}
fn st_laplace(x: f64, mu: f64, b: f64) -> f64 {
    sd::Laplace::new(mu, b).unwrap().ln_pdf(x)
}
fn st_exponential(x: f64, rate: f64) -> f64 {
    sd::Exp::new(rate).unwrap().ln_pdf(x)
}
fn st_gamma(x: f64, shape: f64, rate: f64) -> f64 {
    sd::Gamma::new(shape, rate).unwrap().ln_pdf(x)
}
fn st_inverse_gamma(x: f64, shape: f64, scale: f64) -> f64 {
    sd::InverseGamma::new(shape, scale).unwrap().ln_pdf(x)
}
fn st_log_normal(x: f64, mu: f64, s: f64) -> f64 {
    sd::LogNormal::new(mu, s).unwrap().ln_pdf(x)
}
fn st_beta(x: f64, a: f64, b: f64) -> f64 {
    sd::Beta::new(a, b).unwrap().ln_pdf(x)
}
fn st_uniform(x: f64, lo: f64, hi: f64) -> f64 {
    sd::Uniform::new(lo, hi).unwrap().ln_pdf(x)
}
fn st_bernoulli(k: f64, p: f64) -> f64 {
    sd::Bernoulli::new(p).unwrap().ln_pmf(k as u64)
}
fn st_binomial(k: f64, n: f64, p: f64) -> f64 {
    sd::Binomial::new(p, n as u64).unwrap().ln_pmf(k as u64)
}
fn st_poisson(k: f64, rate: f64) -> f64 {
    sd::Poisson::new(rate).unwrap().ln_pmf(k as u64)
}
fn st_categorical_logit(k: usize, logits: &[f64]) -> f64 {
    let p: Vec<f64> = logits.iter().map(|l| l.exp()).collect();
    sd::Categorical::new(&p).unwrap().ln_pmf(k as u64)
}
fn st_dirichlet(x: &[f64], alpha: &[f64]) -> f64 {
    sd::Dirichlet::new(alpha.to_vec()).unwrap().ln_pdf(&DVector::from_vec(x.to_vec()))
}
/// Multivariate normal with covariance `L Lᵀ`.
fn st_mvn(x: &[f64], mu: &[f64], l: &Matrix) -> f64 {
    let k = l.rows();
    let mut cov = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..k {
            cov[i * k + j] = (0..k).map(|m| l.get(i, m) * l.get(j, m)).sum();
        }
    }
    sd::MultivariateNormal::new(mu.to_vec(), cov).unwrap().ln_pdf(&DVector::from_vec(x.to_vec()))
}

/// Pointwise log likelihood of a model without parameters, checked against `want` and against the
/// total log likelihood.
#[track_caller]
fn check_pointwise<M: Model>(m: &M, want: &[f64], what: &str) {
    assert_eq!(m.dim(), 0);
    let got = m.log_likelihood_pointwise(&[]).unwrap();
    assert_all_close(&got, want, REL, what);
    assert_close(m.log_likelihood(&[]).unwrap(), want.iter().sum(), REL, &format!("{what}: total"));
}

// ==== (a) log densities with data parameters ======================================================

#[model]
fn normal_data(x: &[f64], mu: &[f64], sigma: &[f64]) {
    observe!(x ~ Normal(mu, sigma));
}
#[model]
fn half_normal_data(x: &[f64], sigma: &[f64]) {
    observe!(x ~ HalfNormal(sigma));
}
#[model]
fn student_t_data(x: &[f64], nu: &[f64], mu: &[f64], sigma: &[f64]) {
    observe!(x ~ StudentT(nu, mu, sigma));
}
#[model]
fn cauchy_data(x: &[f64], mu: &[f64], sigma: &[f64]) {
    observe!(x ~ Cauchy(mu, sigma));
}
#[model]
fn half_cauchy_data(x: &[f64], sigma: &[f64]) {
    observe!(x ~ HalfCauchy(sigma));
}
#[model]
fn laplace_data(x: &[f64], mu: &[f64], b: &[f64]) {
    observe!(x ~ Laplace(mu, b));
}
#[model]
fn exponential_data(x: &[f64], rate: &[f64]) {
    observe!(x ~ Exponential(rate));
}
#[model]
fn gamma_data(x: &[f64], shape: &[f64], rate: &[f64]) {
    observe!(x ~ Gamma(shape, rate));
}
#[model]
fn inverse_gamma_data(x: &[f64], shape: &[f64], scale: &[f64]) {
    observe!(x ~ InverseGamma(shape, scale));
}
#[model]
fn log_normal_data(x: &[f64], mu: &[f64], sigma: &[f64]) {
    observe!(x ~ LogNormal(mu, sigma));
}
#[model]
fn beta_data(x: &[f64], a: &[f64], b: &[f64]) {
    observe!(x ~ Beta(a, b));
}
#[model]
fn uniform_data(x: &[f64], lo: &[f64], hi: &[f64]) {
    observe!(x ~ Uniform(lo, hi));
}
#[model]
fn bernoulli_data(k: &[f64], p: &[f64]) {
    observe!(k ~ Bernoulli(p));
}
#[model]
fn bernoulli_logit_data(k: &[f64], logit: &[f64]) {
    observe!(k ~ BernoulliLogit(logit));
}
#[model]
fn binomial_logit_data(k: &[f64], n: &[f64], logit: &[f64]) {
    observe!(k ~ BinomialLogit(n, logit));
}
#[model]
fn poisson_data(k: &[f64], rate: &[f64]) {
    observe!(k ~ Poisson(rate));
}
#[model]
fn poisson_log_data(k: &[f64], log_rate: &[f64]) {
    observe!(k ~ PoissonLog(log_rate));
}
#[model]
fn categorical_logit_data(k: &[usize], logits: &[f64]) {
    observe!(k ~ CategoricalLogit(logits));
}
#[model]
fn dirichlet_data(x: &[f64], alpha: &[f64]) {
    observe!(x ~ Dirichlet(alpha));
}
#[model]
fn mvn_data(x: &[f64], mu: &[f64], l: &Matrix) {
    observe!(x ~ MultivariateNormal(mu, l));
}
/// Integer-typed data and a scalar count argument.
#[model]
fn integer_data(k: &[i64], y: &[usize], n: i64) {
    observe!(k ~ Poisson(3.5));
    observe!(y ~ BinomialLogit(n, -0.4));
}

const N: usize = 40;

fn draws(seed: u64, ranges: &[(f64, f64)]) -> Vec<Vec<f64>> {
    let mut g = rng(seed);
    ranges.iter().map(|&(lo, hi)| uniform(&mut g, N, lo, hi)).collect()
}

#[test]
fn normal_log_density() {
    let v = draws(1, &[(-6.0, 6.0), (-3.0, 3.0), (0.05, 4.0)]);
    let m = NormalData::new(&v[0], &v[1], &v[2]).unwrap();
    let want: Vec<f64> = (0..N).map(|i| st_normal(v[0][i], v[1][i], v[2][i])).collect();
    check_pointwise(&m, &want, "Normal");
}

#[test]
fn half_normal_log_density() {
    let v = draws(2, &[(0.0, 6.0), (0.05, 4.0)]);
    let m = HalfNormalData::new(&v[0], &v[1]).unwrap();
    let want: Vec<f64> = (0..N).map(|i| ln_half_normal(v[0][i], v[1][i])).collect();
    check_pointwise(&m, &want, "HalfNormal");
    // the boundary x = 0 is in the support
    let m = HalfNormalData::new(&[0.0], &[1.5]).unwrap();
    check_pointwise(&m, &[ln_half_normal(0.0, 1.5)], "HalfNormal at 0");
}

#[test]
fn student_t_log_density() {
    let v = draws(3, &[(-8.0, 8.0), (0.3, 30.0), (-3.0, 3.0), (0.05, 4.0)]);
    let m = StudentTData::new(&v[0], &v[1], &v[2], &v[3]).unwrap();
    let want: Vec<f64> = (0..N).map(|i| st_student_t(v[0][i], v[1][i], v[2][i], v[3][i])).collect();
    check_pointwise(&m, &want, "StudentT");
}

#[test]
fn cauchy_log_density() {
    let v = draws(4, &[(-20.0, 20.0), (-3.0, 3.0), (0.05, 4.0)]);
    let m = CauchyData::new(&v[0], &v[1], &v[2]).unwrap();
    let want: Vec<f64> = (0..N).map(|i| st_cauchy(v[0][i], v[1][i], v[2][i])).collect();
    check_pointwise(&m, &want, "Cauchy");
}

#[test]
fn half_cauchy_log_density() {
    let v = draws(5, &[(0.0, 20.0), (0.05, 4.0)]);
    let m = HalfCauchyData::new(&v[0], &v[1]).unwrap();
    let want: Vec<f64> = (0..N).map(|i| ln_half_cauchy(v[0][i], v[1][i])).collect();
    check_pointwise(&m, &want, "HalfCauchy");
}

#[test]
fn laplace_log_density() {
    let v = draws(6, &[(-6.0, 6.0), (-3.0, 3.0), (0.05, 4.0)]);
    let m = LaplaceData::new(&v[0], &v[1], &v[2]).unwrap();
    let want: Vec<f64> = (0..N).map(|i| st_laplace(v[0][i], v[1][i], v[2][i])).collect();
    check_pointwise(&m, &want, "Laplace");
}

#[test]
fn exponential_log_density() {
    let v = draws(7, &[(0.0, 8.0), (0.05, 5.0)]);
    let m = ExponentialData::new(&v[0], &v[1]).unwrap();
    let want: Vec<f64> = (0..N).map(|i| st_exponential(v[0][i], v[1][i])).collect();
    check_pointwise(&m, &want, "Exponential");
}

#[test]
fn gamma_log_density() {
    let v = draws(8, &[(0.01, 10.0), (0.2, 12.0), (0.05, 5.0)]);
    let m = GammaData::new(&v[0], &v[1], &v[2]).unwrap();
    let want: Vec<f64> = (0..N).map(|i| st_gamma(v[0][i], v[1][i], v[2][i])).collect();
    check_pointwise(&m, &want, "Gamma");
}

#[test]
fn inverse_gamma_log_density() {
    let v = draws(9, &[(0.1, 6.0), (0.5, 8.0), (0.2, 5.0)]);
    let m = InverseGammaData::new(&v[0], &v[1], &v[2]).unwrap();
    let want: Vec<f64> = (0..N).map(|i| st_inverse_gamma(v[0][i], v[1][i], v[2][i])).collect();
    check_pointwise(&m, &want, "InverseGamma");
}

#[test]
fn log_normal_log_density() {
    let v = draws(10, &[(0.01, 10.0), (-2.0, 2.0), (0.05, 3.0)]);
    let m = LogNormalData::new(&v[0], &v[1], &v[2]).unwrap();
    let want: Vec<f64> = (0..N).map(|i| st_log_normal(v[0][i], v[1][i], v[2][i])).collect();
    check_pointwise(&m, &want, "LogNormal");
}

#[test]
fn beta_log_density() {
    let v = draws(11, &[(0.005, 0.995), (0.2, 10.0), (0.2, 10.0)]);
    let m = BetaData::new(&v[0], &v[1], &v[2]).unwrap();
    let want: Vec<f64> = (0..N).map(|i| st_beta(v[0][i], v[1][i], v[2][i])).collect();
    check_pointwise(&m, &want, "Beta");
}

#[test]
fn uniform_log_density() {
    let v = draws(12, &[(-3.0, 0.0), (0.0, 1.0), (0.1, 5.0)]);
    let lo = &v[0];
    let hi: Vec<f64> = (0..N).map(|i| lo[i] + v[2][i]).collect();
    let x: Vec<f64> = (0..N).map(|i| lo[i] + v[1][i] * v[2][i]).collect();
    let m = UniformData::new(&x, lo, &hi).unwrap();
    let want: Vec<f64> = (0..N).map(|i| st_uniform(x[i], lo[i], hi[i])).collect();
    check_pointwise(&m, &want, "Uniform");
}

#[test]
fn bernoulli_log_mass() {
    let v = draws(13, &[(0.0, 1.0), (0.01, 0.99)]);
    let k: Vec<f64> = v[0].iter().map(|&u| if u < 0.5 { 0.0 } else { 1.0 }).collect();
    let m = BernoulliData::new(&k, &v[1]).unwrap();
    let want: Vec<f64> = (0..N).map(|i| st_bernoulli(k[i], v[1][i])).collect();
    check_pointwise(&m, &want, "Bernoulli");
    // p at the ends of [0, 1] is valid
    let m = BernoulliData::new(&[0.0, 1.0, 1.0, 0.0], &[0.0, 1.0, 0.3, 0.3]).unwrap();
    check_pointwise(&m, &[0.0, 0.0, 0.3f64.ln(), 0.7f64.ln()], "Bernoulli at the ends");
}

#[test]
fn bernoulli_logit_log_mass() {
    let v = draws(14, &[(0.0, 1.0), (-4.0, 4.0)]);
    let k: Vec<f64> = v[0].iter().map(|&u| if u < 0.5 { 0.0 } else { 1.0 }).collect();
    let m = BernoulliLogitData::new(&k, &v[1]).unwrap();
    let want: Vec<f64> = (0..N).map(|i| st_bernoulli(k[i], sigmoid(v[1][i]))).collect();
    check_pointwise(&m, &want, "BernoulliLogit");
}

#[test]
fn binomial_logit_log_mass() {
    let v = draws(15, &[(0.0, 1.0), (0.0, 1.0), (-3.0, 3.0)]);
    let n: Vec<f64> = v[0].iter().map(|&u| (u * 30.0).floor()).collect();
    let k: Vec<f64> = (0..N).map(|i| (v[1][i] * (n[i] + 1.0)).floor()).collect();
    let m = BinomialLogitData::new(&k, &n, &v[2]).unwrap();
    let want: Vec<f64> = (0..N).map(|i| st_binomial(k[i], n[i], sigmoid(v[2][i]))).collect();
    check_pointwise(&m, &want, "BinomialLogit");
}

#[test]
fn poisson_log_mass() {
    let v = draws(16, &[(0.0, 25.0), (0.05, 20.0)]);
    let k: Vec<f64> = v[0].iter().map(|u| u.floor()).collect();
    let m = PoissonData::new(&k, &v[1]).unwrap();
    let want: Vec<f64> = (0..N).map(|i| st_poisson(k[i], v[1][i])).collect();
    check_pointwise(&m, &want, "Poisson");
}

#[test]
fn poisson_log_log_mass() {
    let v = draws(17, &[(0.0, 25.0), (-2.0, 3.0)]);
    let k: Vec<f64> = v[0].iter().map(|u| u.floor()).collect();
    let m = PoissonLogData::new(&k, &v[1]).unwrap();
    let want: Vec<f64> = (0..N).map(|i| st_poisson(k[i], v[1][i].exp())).collect();
    check_pointwise(&m, &want, "PoissonLog");
}

#[test]
fn integer_typed_data() {
    let k = [0i64, 3, 7, 1];
    let y = [0usize, 5, 2];
    let m = IntegerData::new(&k, &y, 6).unwrap();
    let mut want: Vec<f64> = k.iter().map(|&k| st_poisson(k as f64, 3.5)).collect();
    want.extend(y.iter().map(|&y| st_binomial(y as f64, 6.0, sigmoid(-0.4))));
    check_pointwise(&m, &want, "Poisson and BinomialLogit of integer data");
}

#[test]
fn categorical_logit_log_mass() {
    let mut g = rng(18);
    for k in [2usize, 3, 6] {
        let logits = uniform(&mut g, k, -3.0, 3.0);
        let labels: Vec<usize> = (0..25).map(|i| (i * 7 + 3) % k).collect();
        let m = CategoricalLogitData::new(&labels, &logits).unwrap();
        let want: Vec<f64> = labels.iter().map(|&l| st_categorical_logit(l, &logits)).collect();
        check_pointwise(&m, &want, &format!("CategoricalLogit (K = {k})"));
    }
}

#[test]
fn dirichlet_log_density() {
    let mut g = rng(19);
    for k in [2usize, 3, 5] {
        for _ in 0..5 {
            let alpha = uniform(&mut g, k, 0.3, 6.0);
            let w = uniform(&mut g, k, 0.05, 1.0);
            let total: f64 = w.iter().sum();
            let x: Vec<f64> = w.iter().map(|w| w / total).collect();
            let m = DirichletData::new(&x, &alpha).unwrap();
            check_pointwise(&m, &[st_dirichlet(&x, &alpha)], &format!("Dirichlet (K = {k})"));
        }
    }
}

#[test]
fn multivariate_normal_log_density() {
    let mut g = rng(20);
    let l = chol3();
    for _ in 0..8 {
        let x = uniform(&mut g, 3, -3.0, 3.0);
        let mu = uniform(&mut g, 3, -1.0, 1.0);
        let m = MvnData::new(&x, &mu, &l).unwrap();
        check_pointwise(&m, &[st_mvn(&x, &mu, &l)], "MultivariateNormal");
    }
    // a scalar mean broadcasts over the dimension
    let x = [0.3, -1.2, 2.0];
    let m = MvnData::new(&x, &[0.5], &l).unwrap();
    check_pointwise(&m, &[st_mvn(&x, &[0.5; 3], &l)], "MultivariateNormal with a scalar mean");
}

// ==== (a) log densities with constant parameters (folded on the host) ===============================

#[model]
fn constant_params(x: &[f64], pos: &[f64], unit: &[f64], k: &[f64], b: &[f64]) {
    observe!(x ~ Normal(0.5, 1.5));
    observe!(x ~ StudentT(3.5, -0.2, 0.7));
    observe!(x ~ Cauchy(0.1, 2.0));
    observe!(x ~ Laplace(-0.3, 0.8));
    observe!(pos ~ HalfNormal(1.7));
    observe!(pos ~ HalfCauchy(0.9));
    observe!(pos ~ Exponential(1.3));
    observe!(pos ~ Gamma(2.5, 1.5));
    observe!(pos ~ InverseGamma(3.0, 2.0));
    observe!(pos ~ LogNormal(0.2, 0.6));
    observe!(unit ~ Beta(2.0, 3.5));
    observe!(unit ~ Uniform(0.0, 1.0));
    observe!(k ~ Poisson(2.5));
    observe!(k ~ PoissonLog(0.3));
    observe!(k ~ BinomialLogit(10, 0.4));
    observe!(b ~ Bernoulli(0.35));
    observe!(b ~ BernoulliLogit(-0.8));
    observe!(x ~ MultivariateNormal(0.25, &Matrix::from_rows(&[[0.9, 0.0, 0.0, 0.0], [0.1, 1.2, 0.0, 0.0], [0.0, -0.3, 0.7, 0.0], [0.2, 0.2, 0.2, 1.0]]).unwrap()));
    observe!(unit ~ Dirichlet(&[1.5, 2.0, 0.8, 3.0]));
}

#[test]
fn constant_parameters() {
    let x = [-1.3, 0.2, 0.9, 4.0];
    let pos = [0.1, 1.0, 2.5, 7.0];
    let unit = [0.1, 0.2, 0.3, 0.4];
    let k = [0.0, 1.0, 4.0, 10.0];
    let b = [0.0, 1.0, 1.0];
    let m = ConstantParams::new(&x, &pos, &unit, &k, &b).unwrap();
    let mut want = Vec::new();
    want.extend(x.iter().map(|&x| st_normal(x, 0.5, 1.5)));
    want.extend(x.iter().map(|&x| st_student_t(x, 3.5, -0.2, 0.7)));
    want.extend(x.iter().map(|&x| st_cauchy(x, 0.1, 2.0)));
    want.extend(x.iter().map(|&x| st_laplace(x, -0.3, 0.8)));
    want.extend(pos.iter().map(|&x| ln_half_normal(x, 1.7)));
    want.extend(pos.iter().map(|&x| ln_half_cauchy(x, 0.9)));
    want.extend(pos.iter().map(|&x| st_exponential(x, 1.3)));
    want.extend(pos.iter().map(|&x| st_gamma(x, 2.5, 1.5)));
    want.extend(pos.iter().map(|&x| st_inverse_gamma(x, 3.0, 2.0)));
    want.extend(pos.iter().map(|&x| st_log_normal(x, 0.2, 0.6)));
    want.extend(unit.iter().map(|&x| st_beta(x, 2.0, 3.5)));
    want.extend(unit.iter().map(|_| 0.0));
    want.extend(k.iter().map(|&k| st_poisson(k, 2.5)));
    want.extend(k.iter().map(|&k| st_poisson(k, 0.3f64.exp())));
    want.extend(k.iter().map(|&k| st_binomial(k, 10.0, sigmoid(0.4))));
    want.extend(b.iter().map(|&b| st_bernoulli(b, 0.35)));
    want.extend(b.iter().map(|&b| st_bernoulli(b, sigmoid(-0.8))));
    let l = Matrix::from_rows(&[[0.9, 0.0, 0.0, 0.0], [0.1, 1.2, 0.0, 0.0], [0.0, -0.3, 0.7, 0.0], [0.2, 0.2, 0.2, 1.0]]).unwrap();
    want.push(st_mvn(&x, &[0.25; 4], &l));
    want.push(st_dirichlet(&unit, &[1.5, 2.0, 0.8, 3.0]));
    check_pointwise(&m, &want, "constant parameters");
}

// ==== (a) + (b): value and parameters as model parameters ========================================

/// Checks the parts of the log density against `reference(θ) = (log prior, log Jacobian, log
/// likelihood)` and the gradient against finite differences, at `n` random points.
#[track_caller]
fn check_model<M: Model>(m: &M, seed: u64, n: usize, r: f64, reference: impl Fn(&[f64]) -> (f64, f64, f64), what: &str) {
    let points = random_points(seed, n, m.dim(), r);
    for theta in &points {
        let (prior, jac, lik) = reference(theta);
        let e = m.evaluate(&default_backend(), theta, None, EvalOptions { grad: false, ..Default::default() }).unwrap();
        let at = format!("{what} at θ = {theta:?}");
        assert_close(e.log_prior[0], prior, REL, &format!("{at}: log prior"));
        assert_close(e.log_jacobian[0], jac, REL, &format!("{at}: log Jacobian"));
        assert_close(e.log_likelihood[0], lik, REL, &format!("{at}: log likelihood"));
        assert_close(e.log_density[0], prior + jac + lik, REL, &format!("{at}: log density"));
        assert_close(m.log_prior(theta).unwrap(), prior, REL, &format!("{at}: log_prior()"));
        assert_close(m.log_likelihood(theta).unwrap(), lik, REL, &format!("{at}: log_likelihood()"));
    }
    check_grad(m, &points, what);
}

#[model]
fn normal_params() {
    let mu = sample!(Normal(0.0, 3.0));
    let sigma = sample!(HalfNormal(2.0));
    let v = sample!(Normal(mu, sigma));
}

#[test]
fn normal_gradient() {
    let m = NormalParams::new().unwrap();
    check_model(&m, 101, 8, 1.5, |t| {
        let (mu, s, v) = (t[0], t[1].exp(), t[2]);
        (st_normal(mu, 0.0, 3.0) + ln_half_normal(s, 2.0) + st_normal(v, mu, s), t[1], 0.0)
    }, "Normal");
}

#[model]
fn half_normal_params() {
    let sigma = sample!(HalfNormal(2.0));
    let v = sample!(HalfNormal(sigma));
}

#[test]
fn half_normal_gradient() {
    let m = HalfNormalParams::new().unwrap();
    check_model(&m, 102, 8, 1.5, |t| {
        let (s, v) = (t[0].exp(), t[1].exp());
        (ln_half_normal(s, 2.0) + ln_half_normal(v, s), t[0] + t[1], 0.0)
    }, "HalfNormal");
}

#[model]
fn student_t_params() {
    let nu = sample!(HalfNormal(5.0));
    let mu = sample!(Normal(0.0, 3.0));
    let sigma = sample!(HalfNormal(2.0));
    let v = sample!(StudentT(nu, mu, sigma));
}

#[test]
fn student_t_gradient() {
    let m = StudentTParams::new().unwrap();
    check_model(&m, 103, 8, 1.5, |t| {
        let (nu, mu, s, v) = (t[0].exp(), t[1], t[2].exp(), t[3]);
        (ln_half_normal(nu, 5.0) + st_normal(mu, 0.0, 3.0) + ln_half_normal(s, 2.0) + st_student_t(v, nu, mu, s), t[0] + t[2], 0.0)
    }, "StudentT");
}

#[model]
fn cauchy_params() {
    let mu = sample!(Normal(0.0, 3.0));
    let sigma = sample!(HalfNormal(2.0));
    let v = sample!(Cauchy(mu, sigma));
}

#[test]
fn cauchy_gradient() {
    let m = CauchyParams::new().unwrap();
    check_model(&m, 104, 8, 2.0, |t| {
        let (mu, s, v) = (t[0], t[1].exp(), t[2]);
        (st_normal(mu, 0.0, 3.0) + ln_half_normal(s, 2.0) + st_cauchy(v, mu, s), t[1], 0.0)
    }, "Cauchy");
}

#[model]
fn half_cauchy_params() {
    let sigma = sample!(HalfCauchy(2.0));
    let v = sample!(HalfCauchy(sigma));
}

#[test]
fn half_cauchy_gradient() {
    let m = HalfCauchyParams::new().unwrap();
    check_model(&m, 105, 8, 2.0, |t| {
        let (s, v) = (t[0].exp(), t[1].exp());
        (ln_half_cauchy(s, 2.0) + ln_half_cauchy(v, s), t[0] + t[1], 0.0)
    }, "HalfCauchy");
}

#[model]
fn laplace_params() {
    let mu = sample!(Normal(0.0, 3.0));
    let b = sample!(HalfNormal(2.0));
    let v = sample!(Laplace(mu, b));
}

#[test]
fn laplace_gradient() {
    let m = LaplaceParams::new().unwrap();
    // (|v − mu| is not differentiable at v = mu; random points are far from it)
    check_model(&m, 106, 8, 2.0, |t| {
        let (mu, b, v) = (t[0], t[1].exp(), t[2]);
        assert!((v - mu).abs() > 1e-3);
        (st_normal(mu, 0.0, 3.0) + ln_half_normal(b, 2.0) + st_laplace(v, mu, b), t[1], 0.0)
    }, "Laplace");
}

#[model]
fn exponential_params() {
    let rate = sample!(Exponential(0.5));
    let v = sample!(Exponential(rate));
}

#[test]
fn exponential_gradient() {
    let m = ExponentialParams::new().unwrap();
    check_model(&m, 107, 8, 1.5, |t| {
        let (r, v) = (t[0].exp(), t[1].exp());
        (st_exponential(r, 0.5) + st_exponential(v, r), t[0] + t[1], 0.0)
    }, "Exponential");
}

#[model]
fn gamma_params() {
    let shape = sample!(Gamma(2.0, 0.5));
    let rate = sample!(HalfNormal(2.0));
    let v = sample!(Gamma(shape, rate));
}

#[test]
fn gamma_gradient() {
    let m = GammaParams::new().unwrap();
    check_model(&m, 108, 8, 1.5, |t| {
        let (a, b, v) = (t[0].exp(), t[1].exp(), t[2].exp());
        (st_gamma(a, 2.0, 0.5) + ln_half_normal(b, 2.0) + st_gamma(v, a, b), t[0] + t[1] + t[2], 0.0)
    }, "Gamma");
}

#[model]
fn inverse_gamma_params() {
    let shape = sample!(InverseGamma(3.0, 2.0));
    let scale = sample!(LogNormal(0.0, 1.0));
    let v = sample!(InverseGamma(shape, scale));
}

#[test]
fn inverse_gamma_gradient() {
    let m = InverseGammaParams::new().unwrap();
    check_model(&m, 109, 8, 1.5, |t| {
        let (a, b, v) = (t[0].exp(), t[1].exp(), t[2].exp());
        (st_inverse_gamma(a, 3.0, 2.0) + st_log_normal(b, 0.0, 1.0) + st_inverse_gamma(v, a, b), t[0] + t[1] + t[2], 0.0)
    }, "InverseGamma");
}

#[model]
fn log_normal_params() {
    let mu = sample!(Normal(0.0, 1.0));
    let sigma = sample!(HalfNormal(1.0));
    let v = sample!(LogNormal(mu, sigma));
}

#[test]
fn log_normal_gradient() {
    let m = LogNormalParams::new().unwrap();
    check_model(&m, 110, 8, 1.5, |t| {
        let (mu, s, v) = (t[0], t[1].exp(), t[2].exp());
        (st_normal(mu, 0.0, 1.0) + ln_half_normal(s, 1.0) + st_log_normal(v, mu, s), t[1] + t[2], 0.0)
    }, "LogNormal");
}

#[model]
fn beta_params() {
    let a = sample!(HalfNormal(3.0));
    let b = sample!(HalfCauchy(3.0));
    let v = sample!(Beta(a, b));
}

#[test]
fn beta_gradient() {
    let m = BetaParams::new().unwrap();
    check_model(&m, 111, 8, 1.5, |t| {
        let (a, b, v) = (t[0].exp(), t[1].exp(), sigmoid(t[2]));
        (ln_half_normal(a, 3.0) + ln_half_cauchy(b, 3.0) + st_beta(v, a, b), t[0] + t[1] + ln_dsigmoid(t[2]), 0.0)
    }, "Beta");
}

#[model]
fn uniform_params() {
    let lo = sample!(Normal(0.0, 1.0));
    let width = sample!(HalfNormal(1.0));
    let v = sample!(Uniform(lo, lo + width));
}

#[test]
fn uniform_gradient() {
    let m = UniformParams::new().unwrap();
    check_model(&m, 112, 8, 1.5, |t| {
        let (lo, w) = (t[0], t[1].exp());
        let v = lo + w * sigmoid(t[2]);
        (st_normal(lo, 0.0, 1.0) + ln_half_normal(w, 1.0) + st_uniform(v, lo, lo + w), t[1] + w.ln() + ln_dsigmoid(t[2]), 0.0)
    }, "Uniform");
}

#[model]
fn bernoulli_params(k: &[f64]) {
    let p = sample!(Beta(2.0, 3.0));
    observe!(k ~ Bernoulli(p));
}

#[test]
fn bernoulli_gradient() {
    let k = [1.0, 0.0, 0.0, 1.0, 1.0];
    let m = BernoulliParams::new(&k).unwrap();
    check_model(&m, 113, 8, 2.0, |t| {
        let p = sigmoid(t[0]);
        (st_beta(p, 2.0, 3.0), ln_dsigmoid(t[0]), k.iter().map(|&k| st_bernoulli(k, p)).sum())
    }, "Bernoulli");
}

#[model]
fn bernoulli_logit_params(k: &[f64]) {
    let a = sample!(Normal(0.0, 2.0));
    let b = sample!([k.len()] ~ Normal(0.0, 1.0));
    observe!(k ~ BernoulliLogit(a + b));
}

#[test]
fn bernoulli_logit_gradient() {
    let k = [1.0, 0.0, 0.0, 1.0];
    let m = BernoulliLogitParams::new(&k).unwrap();
    check_model(&m, 114, 8, 2.5, |t| {
        let prior = st_normal(t[0], 0.0, 2.0) + t[1..].iter().map(|&b| st_normal(b, 0.0, 1.0)).sum::<f64>();
        (prior, 0.0, (0..4).map(|i| st_bernoulli(k[i], sigmoid(t[0] + t[1 + i]))).sum())
    }, "BernoulliLogit");
}

#[model]
fn binomial_logit_params(k: &[f64], n: &[f64]) {
    let eta = sample!([k.len()] ~ Normal(0.0, 2.0));
    observe!(k ~ BinomialLogit(n, eta));
}

#[test]
fn binomial_logit_gradient() {
    let (k, n) = ([0.0, 3.0, 7.0, 12.0], [5.0, 3.0, 10.0, 20.0]);
    let m = BinomialLogitParams::new(&k, &n).unwrap();
    check_model(&m, 115, 8, 2.5, |t| {
        let prior = t.iter().map(|&e| st_normal(e, 0.0, 2.0)).sum();
        (prior, 0.0, (0..4).map(|i| st_binomial(k[i], n[i], sigmoid(t[i]))).sum())
    }, "BinomialLogit");
}

#[model]
fn poisson_params(k: &[f64]) {
    let rate = sample!(Gamma(3.0, 1.0));
    observe!(k ~ Poisson(rate));
}

#[test]
fn poisson_gradient() {
    let k = [0.0, 2.0, 5.0, 1.0, 11.0];
    let m = PoissonParams::new(&k).unwrap();
    check_model(&m, 116, 8, 2.0, |t| {
        let r = t[0].exp();
        (st_gamma(r, 3.0, 1.0), t[0], k.iter().map(|&k| st_poisson(k, r)).sum())
    }, "Poisson");
}

#[model]
fn poisson_log_params(k: &[f64]) {
    let log_rate = sample!([k.len()] ~ Normal(1.0, 1.0));
    observe!(k ~ PoissonLog(log_rate));
}

#[test]
fn poisson_log_gradient() {
    let k = [0.0, 2.0, 5.0, 1.0, 11.0];
    let m = PoissonLogParams::new(&k).unwrap();
    check_model(&m, 117, 8, 2.0, |t| {
        let prior = t.iter().map(|&l| st_normal(l, 1.0, 1.0)).sum();
        (prior, 0.0, (0..5).map(|i| st_poisson(k[i], t[i].exp())).sum())
    }, "PoissonLog");
}

#[model]
fn categorical_logit_params(k: &[usize]) {
    let logits = sample!([4] ~ Normal(0.0, 1.0));
    observe!(k ~ CategoricalLogit(logits));
}

#[test]
fn categorical_logit_gradient() {
    let k = [0usize, 3, 3, 1, 2, 3, 0];
    let m = CategoricalLogitParams::new(&k).unwrap();
    check_model(&m, 118, 8, 2.0, |t| {
        let prior = t.iter().map(|&l| st_normal(l, 0.0, 1.0)).sum();
        (prior, 0.0, k.iter().map(|&k| st_categorical_logit(k, t)).sum())
    }, "CategoricalLogit");
}

#[model]
fn dirichlet_params() {
    let alpha = sample!([3] ~ HalfNormal(3.0));
    let p = sample!(Dirichlet(alpha));
}

#[test]
fn dirichlet_gradient() {
    let m = DirichletParams::new().unwrap();
    assert_eq!(m.dim(), 5);
    check_model(&m, 119, 8, 1.5, |t| {
        let alpha: Vec<f64> = t[..3].iter().map(|a| a.exp()).collect();
        let p = stick_breaking(&t[3..]);
        // the simplex's log-Jacobian: ln |det| of the map to its first K − 1 coordinates
        let (_, jac) = fd_jacobian(|y| stick_breaking(y)[..2].to_vec(), &t[3..], 1e-6);
        let simplex_jac = log_abs_det(&jac, 2);
        let prior = alpha.iter().map(|&a| ln_half_normal(a, 3.0)).sum::<f64>() + st_dirichlet(&p, &alpha);
        let got_jac = m.evaluate(&default_backend(), t, None, EvalOptions::default()).unwrap().log_jacobian[0];
        assert_close(got_jac, t[..3].iter().sum::<f64>() + simplex_jac, 1e-7, "Dirichlet: log Jacobian vs finite differences");
        (prior, got_jac, 0.0)
    }, "Dirichlet");
}

#[model]
fn mvn_params(l: &Matrix) {
    let mu = sample!([3] ~ Normal(0.0, 2.0));
    let v = sample!(MultivariateNormal(mu, l));
}

#[test]
fn multivariate_normal_gradient() {
    let l = chol3();
    let m = MvnParams::new(&l).unwrap();
    check_model(&m, 120, 8, 2.0, |t| {
        let prior = t[..3].iter().map(|&x| st_normal(x, 0.0, 2.0)).sum::<f64>() + st_mvn(&t[3..], &t[..3], &l);
        (prior, 0.0, 0.0)
    }, "MultivariateNormal");
}

/// Observed data with parameters: the data broadcast against scalar parameters.
#[model]
fn observed_params(x: &[f64], pos: &[f64], unit: &[f64]) {
    let mu = sample!(Normal(0.0, 1.0));
    let s = sample!(HalfNormal(2.0));
    let nu = sample!(HalfNormal(5.0));
    let a = sample!(HalfNormal(3.0));
    let b = sample!(HalfNormal(3.0));
    observe!(x ~ Normal(mu, s));
    observe!(x ~ StudentT(nu, mu, s));
    observe!(x ~ Cauchy(mu, s));
    observe!(x ~ Laplace(mu, s));
    observe!(pos ~ HalfNormal(s));
    observe!(pos ~ HalfCauchy(s));
    observe!(pos ~ Exponential(a));
    observe!(pos ~ Gamma(a, b));
    observe!(pos ~ InverseGamma(a, b));
    observe!(pos ~ LogNormal(mu, s));
    observe!(unit ~ Beta(a, b));
    observe!(unit ~ Dirichlet(concat(&[a, b, a * b])));
}

#[test]
fn observed_data_gradient() {
    let x = [-1.3, 0.2, 0.9, 4.0];
    let pos = [0.1, 1.0, 2.5];
    let unit = [0.2, 0.5, 0.3];
    let m = ObservedParams::new(&x, &pos, &unit).unwrap();
    let points = random_points(121, 8, 5, 1.2);
    for t in &points {
        let (mu, s, nu, a, b) = (t[0], t[1].exp(), t[2].exp(), t[3].exp(), t[4].exp());
        let mut want = Vec::new();
        want.extend(x.iter().map(|&x| st_normal(x, mu, s)));
        want.extend(x.iter().map(|&x| st_student_t(x, nu, mu, s)));
        want.extend(x.iter().map(|&x| st_cauchy(x, mu, s)));
        want.extend(x.iter().map(|&x| st_laplace(x, mu, s)));
        want.extend(pos.iter().map(|&x| ln_half_normal(x, s)));
        want.extend(pos.iter().map(|&x| ln_half_cauchy(x, s)));
        want.extend(pos.iter().map(|&x| st_exponential(x, a)));
        want.extend(pos.iter().map(|&x| st_gamma(x, a, b)));
        want.extend(pos.iter().map(|&x| st_inverse_gamma(x, a, b)));
        want.extend(pos.iter().map(|&x| st_log_normal(x, mu, s)));
        want.extend(unit.iter().map(|&x| st_beta(x, a, b)));
        want.push(st_dirichlet(&unit, &[a, b, a * b]));
        let got = m.log_likelihood_pointwise(t).unwrap();
        assert_all_close(&got, &want, REL, &format!("observed data at θ = {t:?}"));
        assert_close(m.log_likelihood(t).unwrap(), want.iter().sum(), REL, "observed data: total");
    }
    check_grad(&m, &points, "observed data");
}

// ==== (c) invalid parameters that depend on model parameters give −∞ ================================

/// At each point of `bad`: the log density and the part `part` ("prior" or "likelihood") are −∞,
/// never NaN, and the gradient is finite. At each point of `good`: the part equals the reference.
/// Then all points as one population: invalid members do not spill into valid ones.
#[track_caller]
fn check_invalid<M: Model>(m: &M, part: &str, bad: &[Vec<f64>], good: &[(Vec<f64>, f64)], what: &str) {
    let eval = |t: &[f64]| m.evaluate(&default_backend(), t, None, EvalOptions::default()).unwrap();
    let part_of = |e: &snell::model::Evaluation| if part == "prior" { e.log_prior[0] } else { e.log_likelihood[0] };
    for t in bad {
        let e = eval(t);
        assert_eq!(e.log_density[0], f64::NEG_INFINITY, "{what}: log density at the invalid θ = {t:?}");
        assert_eq!(part_of(&e), f64::NEG_INFINITY, "{what}: log {part} at the invalid θ = {t:?} (NaN is not −∞)");
        assert!(e.grad.as_ref().unwrap().iter().all(|g| g.is_finite()), "{what}: gradient {:?} at the invalid θ = {t:?}", e.grad);
        assert_eq!(m.log_density(t).unwrap(), f64::NEG_INFINITY, "{what}: log_density() at θ = {t:?}");
    }
    for (t, want) in good {
        let e = eval(t);
        assert_close(part_of(&e), *want, REL, &format!("{what}: log {part} at the valid θ = {t:?}"));
        assert!(e.grad.as_ref().unwrap().iter().all(|g| g.is_finite()));
    }
    let all: Vec<&Vec<f64>> = good.iter().map(|(t, _)| t).chain(bad).collect();
    let flat: Vec<f64> = all.iter().flat_map(|t| t.iter().cloned()).collect();
    let (lps, grads) = m.log_density_and_grad_batch(&flat).unwrap();
    let d = m.dim();
    for (i, t) in all.iter().enumerate() {
        let (lp, g) = m.log_density_and_grad(t).unwrap();
        assert!(lps[i] == lp || (lps[i] - lp).abs() <= 1e-12 * lp.abs().max(1.0), "{what}: population member {i}: {} vs {lp}", lps[i]);
        assert!(grads[i * d..(i + 1) * d].iter().zip(&g).all(|(a, b)| (a - b).abs() <= 1e-12 * b.abs().max(1.0)), "{what}: population gradient {i}");
    }
}

fn p(v: &[f64]) -> Vec<f64> {
    v.to_vec()
}

const XS: [f64; 3] = [0.3, 1.2, 2.5];
const US: [f64; 3] = [0.2, 0.5, 0.9];

#[model]
fn normal_free(x: &[f64]) {
    let mu = sample!(Normal(0.0, 1.0));
    let s = sample!(Normal(0.0, 1.0));
    observe!(x ~ Normal(mu, s));
}

#[test]
fn normal_invalid_scale() {
    let m = NormalFree::new(&XS).unwrap();
    let good = vec![(p(&[0.3, 0.7]), XS.iter().map(|&x| st_normal(x, 0.3, 0.7)).sum())];
    check_invalid(&m, "likelihood", &[p(&[0.0, -0.5]), p(&[0.3, 0.0]), p(&[1.0, -1e-300]), p(&[0.0, -3.0])], &good, "Normal");
}

#[model]
fn half_normal_free(x: &[f64]) {
    let s = sample!(Normal(0.0, 1.0));
    observe!(x ~ HalfNormal(s));
}

#[test]
fn half_normal_invalid_scale() {
    let m = HalfNormalFree::new(&XS).unwrap();
    let good = vec![(p(&[0.8]), XS.iter().map(|&x| ln_half_normal(x, 0.8)).sum())];
    check_invalid(&m, "likelihood", &[p(&[-0.5]), p(&[0.0])], &good, "HalfNormal");
}

#[model]
fn student_t_free(x: &[f64]) {
    let nu = sample!(Normal(0.0, 1.0));
    let mu = sample!(Normal(0.0, 1.0));
    let s = sample!(Normal(0.0, 1.0));
    observe!(x ~ StudentT(nu, mu, s));
}

#[test]
fn student_t_invalid_parameters() {
    let m = StudentTFree::new(&XS).unwrap();
    let good = vec![(p(&[2.5, 0.1, 0.9]), XS.iter().map(|&x| st_student_t(x, 2.5, 0.1, 0.9)).sum())];
    let bad = [p(&[-1.0, 0.0, 1.0]), p(&[0.0, 0.0, 1.0]), p(&[2.0, 0.0, -1.0]), p(&[2.0, 0.0, 0.0]), p(&[-2.0, 0.0, -2.0]), p(&[-0.5, 0.0, 1.0])];
    check_invalid(&m, "likelihood", &bad, &good, "StudentT");
}

#[model]
fn cauchy_free(x: &[f64]) {
    let mu = sample!(Normal(0.0, 1.0));
    let s = sample!(Normal(0.0, 1.0));
    observe!(x ~ Cauchy(mu, s));
}

#[test]
fn cauchy_invalid_scale() {
    let m = CauchyFree::new(&XS).unwrap();
    let good = vec![(p(&[0.3, 1.7]), XS.iter().map(|&x| st_cauchy(x, 0.3, 1.7)).sum())];
    check_invalid(&m, "likelihood", &[p(&[0.0, -0.5]), p(&[0.3, 0.0])], &good, "Cauchy");
}

#[model]
fn half_cauchy_free(x: &[f64]) {
    let s = sample!(Normal(0.0, 1.0));
    observe!(x ~ HalfCauchy(s));
}

#[test]
fn half_cauchy_invalid_scale() {
    let m = HalfCauchyFree::new(&XS).unwrap();
    let good = vec![(p(&[1.1]), XS.iter().map(|&x| ln_half_cauchy(x, 1.1)).sum())];
    check_invalid(&m, "likelihood", &[p(&[-0.5]), p(&[0.0])], &good, "HalfCauchy");
}

#[model]
fn laplace_free(x: &[f64]) {
    let mu = sample!(Normal(0.0, 1.0));
    let b = sample!(Normal(0.0, 1.0));
    observe!(x ~ Laplace(mu, b));
}

#[test]
fn laplace_invalid_scale() {
    let m = LaplaceFree::new(&XS).unwrap();
    let good = vec![(p(&[-0.3, 0.6]), XS.iter().map(|&x| st_laplace(x, -0.3, 0.6)).sum())];
    check_invalid(&m, "likelihood", &[p(&[0.0, -0.5]), p(&[0.3, 0.0])], &good, "Laplace");
}

#[model]
fn exponential_free(x: &[f64]) {
    let r = sample!(Normal(0.0, 1.0));
    observe!(x ~ Exponential(r));
}

#[test]
fn exponential_invalid_rate() {
    let m = ExponentialFree::new(&XS).unwrap();
    let good = vec![(p(&[1.4]), XS.iter().map(|&x| st_exponential(x, 1.4)).sum())];
    check_invalid(&m, "likelihood", &[p(&[-0.5]), p(&[0.0])], &good, "Exponential");
}

#[model]
fn gamma_free(x: &[f64]) {
    let a = sample!(Normal(0.0, 1.0));
    let b = sample!(Normal(0.0, 1.0));
    observe!(x ~ Gamma(a, b));
}

#[test]
fn gamma_invalid_parameters() {
    let m = GammaFree::new(&XS).unwrap();
    let good = vec![(p(&[2.2, 0.8]), XS.iter().map(|&x| st_gamma(x, 2.2, 0.8)).sum())];
    let bad = [p(&[-0.5, 1.0]), p(&[0.0, 1.0]), p(&[-2.0, 1.0]), p(&[1.0, -0.5]), p(&[1.0, 0.0]), p(&[-1.5, -1.5]), p(&[0.0, 0.0])];
    check_invalid(&m, "likelihood", &bad, &good, "Gamma");
}

#[model]
fn inverse_gamma_free(x: &[f64]) {
    let a = sample!(Normal(0.0, 1.0));
    let b = sample!(Normal(0.0, 1.0));
    observe!(x ~ InverseGamma(a, b));
}

#[test]
fn inverse_gamma_invalid_parameters() {
    let m = InverseGammaFree::new(&XS).unwrap();
    let good = vec![(p(&[2.2, 0.8]), XS.iter().map(|&x| st_inverse_gamma(x, 2.2, 0.8)).sum())];
    let bad = [p(&[-0.5, 1.0]), p(&[0.0, 1.0]), p(&[-3.0, 1.0]), p(&[1.0, -0.5]), p(&[1.0, 0.0]), p(&[-1.5, -1.5])];
    check_invalid(&m, "likelihood", &bad, &good, "InverseGamma");
}

#[model]
fn log_normal_free(x: &[f64]) {
    let mu = sample!(Normal(0.0, 1.0));
    let s = sample!(Normal(0.0, 1.0));
    observe!(x ~ LogNormal(mu, s));
}

#[test]
fn log_normal_invalid_scale() {
    let m = LogNormalFree::new(&XS).unwrap();
    let good = vec![(p(&[0.2, 0.9]), XS.iter().map(|&x| st_log_normal(x, 0.2, 0.9)).sum())];
    check_invalid(&m, "likelihood", &[p(&[0.0, -0.5]), p(&[0.3, 0.0])], &good, "LogNormal");
}

#[model]
fn beta_free(x: &[f64]) {
    let a = sample!(Normal(0.0, 1.0));
    let b = sample!(Normal(0.0, 1.0));
    observe!(x ~ Beta(a, b));
}

#[test]
fn beta_invalid_shapes() {
    let m = BetaFree::new(&US).unwrap();
    let good = vec![(p(&[2.2, 0.8]), US.iter().map(|&x| st_beta(x, 2.2, 0.8)).sum())];
    let bad = [p(&[-0.5, 1.0]), p(&[0.0, 1.0]), p(&[1.0, -0.5]), p(&[1.0, 0.0]), p(&[-1.5, -1.5]), p(&[-0.5, 0.5]), p(&[0.0, 0.0])];
    check_invalid(&m, "likelihood", &bad, &good, "Beta");
}

#[model]
fn uniform_free(x: &[f64]) {
    let lo = sample!(Normal(0.0, 1.0));
    let hi = sample!(Normal(0.0, 1.0));
    observe!(x ~ Uniform(lo, hi));
}

#[test]
fn uniform_invalid_bounds() {
    let m = UniformFree::new(&XS).unwrap();
    let good = vec![(p(&[-1.0, 3.0]), 3.0 * st_uniform(1.0, -1.0, 3.0))];
    // bounds in the wrong order, and data outside the bounds
    let bad = [p(&[3.0, -1.0]), p(&[0.5, 3.0]), p(&[-1.0, 2.0]), p(&[2.6, 2.6]), p(&[0.0, 0.0])];
    check_invalid(&m, "likelihood", &bad, &good, "Uniform");
}

#[model]
fn bernoulli_free(k: &[f64]) {
    let p = sample!(Normal(0.5, 1.0));
    observe!(k ~ Bernoulli(p));
}

#[test]
fn bernoulli_invalid_probability() {
    let m = BernoulliFree::new(&[1.0, 0.0, 1.0]).unwrap();
    let good = vec![(p(&[0.3]), 2.0 * 0.3f64.ln() + 0.7f64.ln())];
    check_invalid(&m, "likelihood", &[p(&[-0.2]), p(&[1.5]), p(&[1.0 + 1e-12]), p(&[-3.0])], &good, "Bernoulli");
}

#[model]
fn poisson_free(k: &[f64]) {
    let r = sample!(Normal(0.0, 1.0));
    observe!(k ~ Poisson(r));
}

#[test]
fn poisson_invalid_rate() {
    let m = PoissonFree::new(&[0.0, 3.0, 1.0]).unwrap();
    let good = vec![(p(&[1.7]), [0.0, 3.0, 1.0].iter().map(|&k| st_poisson(k, 1.7)).sum())];
    check_invalid(&m, "likelihood", &[p(&[-0.5]), p(&[0.0])], &good, "Poisson");
}

#[model]
fn dirichlet_free(x: &[f64]) {
    let alpha = sample!([3] ~ Normal(1.0, 1.0));
    observe!(x ~ Dirichlet(alpha));
}

#[test]
fn dirichlet_invalid_concentration() {
    let m = DirichletFree::new(&US.map(|u| u / 1.6)).unwrap();
    let x = US.map(|u| u / 1.6);
    let good = vec![(p(&[0.5, 2.0, 1.5]), st_dirichlet(&x, &[0.5, 2.0, 1.5]))];
    // one or all concentrations invalid, including sums of α where ln Γ(Σα) is infinite or NaN
    let bad = [
        p(&[-0.5, 1.0, 2.0]),
        p(&[0.0, 1.0, 2.0]),
        p(&[1.0, 1.0, -2.0]),
        p(&[-1.0, -1.0, -1.0]),
        p(&[-1.0, 0.5, 0.5]),
        p(&[-0.3, -0.2, 0.0]),
        p(&[-2.5, 0.5, 0.5]),
    ];
    check_invalid(&m, "likelihood", &bad, &good, "Dirichlet");
}

/// An invalid parameter of a prior (`sample!` with a scale that can go negative).
#[model]
fn prior_free() {
    let s = sample!(Normal(0.0, 1.0));
    let v = sample!(Gamma(2.0, s));
    let w = sample!(Normal(0.0, s));
}

#[test]
fn prior_invalid_scale() {
    let m = PriorFree::new().unwrap();
    let good = vec![(p(&[0.7, 0.2, -0.4]), st_normal(0.7, 0.0, 1.0) + st_gamma(0.2f64.exp(), 2.0, 0.7) + st_normal(-0.4, 0.0, 0.7))];
    check_invalid(&m, "prior", &[p(&[-0.5, 0.0, 0.0]), p(&[0.0, 0.0, 0.0]), p(&[-2.0, 1.0, 1.0])], &good, "prior with a free scale");
}

/// Explicit bounds wider than the distribution's support: values outside the support have
/// density 0, also on the boundary where the support is open.
#[model]
fn wide_bounds() {
    let a = sample!(Exponential(1.0), lower = -1.0);
    let b = sample!(Beta(2.0, 2.0), lower = -0.5, upper = 1.5);
    let c = sample!(Gamma(2.0, 1.0), lower = -1.0);
    let d = sample!(LogNormal(0.0, 1.0), lower = -1.0);
    let e = sample!(HalfNormal(1.0), lower = -1.0);
    let f = sample!(InverseGamma(2.0, 1.0), lower = -1.0);
}

#[test]
fn values_outside_the_support() {
    let m = WideBounds::new().unwrap();
    // constrained values: a, c, d, e, f = −1 + eʸ (0 at y = 0), b = −0.5 + 2σ(y)
    let lower = |y: f64| -1.0 + y.exp();
    let reference = |t: &[f64]| {
        st_exponential(lower(t[0]), 1.0)
            + st_beta(-0.5 + 2.0 * sigmoid(t[1]), 2.0, 2.0)
            + st_gamma(lower(t[2]), 2.0, 1.0)
            + st_log_normal(lower(t[3]), 0.0, 1.0)
            + ln_half_normal(lower(t[4]), 1.0)
            + st_inverse_gamma(lower(t[5]), 2.0, 1.0)
    };
    let inside = p(&[0.5, 0.3, 0.4, 0.2, 0.6, 0.1]);
    // Exponential and HalfNormal include 0 in their support
    let at_zero = p(&[0.0, 0.3, 0.4, 0.2, 0.0, 0.1]);
    let good = vec![(inside.clone(), reference(&inside)), (at_zero.clone(), reference(&at_zero))];
    let bad = [
        p(&[-0.5, 0.3, 0.4, 0.2, 0.6, 0.1]),
        p(&[0.5, -2.0, 0.4, 0.2, 0.6, 0.1]),
        p(&[0.5, 2.0, 0.4, 0.2, 0.6, 0.1]),
        p(&[0.5, 0.3, -0.4, 0.2, 0.6, 0.1]),
        p(&[0.5, 0.3, 0.4, -0.2, 0.6, 0.1]),
        p(&[0.5, 0.3, 0.4, 0.2, -0.6, 0.1]),
        p(&[0.5, 0.3, 0.4, 0.2, 0.6, -0.1]),
        // Gamma, LogNormal and InverseGamma at 0, the boundary of their open support
        p(&[0.5, 0.3, 0.0, 0.2, 0.6, 0.1]),
        p(&[0.5, 0.3, 0.4, 0.0, 0.6, 0.1]),
        p(&[0.5, 0.3, 0.4, 0.2, 0.6, 0.0]),
        p(&[0.0; 6]),
    ];
    check_invalid(&m, "prior", &bad, &good, "explicit bounds");
}

// ==== (c) invalid constants, invalid data parameters and data outside the support are errors ======

#[model]
fn constant_bad_scale(x: &[f64]) {
    observe!(x ~ Normal(0.0, -1.0));
}
#[model]
fn constant_bad_prior() {
    let mu = sample!(Normal(0.0, 0.0));
}
#[model]
fn constant_bad_shape(x: &[f64]) {
    observe!(x ~ Gamma(-2.0, 1.0));
}
#[model]
fn constant_bad_probability(k: &[f64]) {
    observe!(k ~ Bernoulli(1.5));
}
#[model]
fn constant_bad_uniform(x: &[f64]) {
    observe!(x ~ Uniform(2.0, 1.0));
}
#[model]
fn constant_bad_trials(k: &[f64]) {
    observe!(k ~ BinomialLogit(2.5, 0.0));
}
#[model]
fn constant_nan(x: &[f64]) {
    observe!(x ~ Normal(f64::NAN, 1.0));
}
#[model]
fn constant_infinite_scale(x: &[f64]) {
    observe!(x ~ Normal(0.0, f64::INFINITY));
}

#[test]
fn invalid_constants_are_errors() {
    assert_err!(ConstantBadScale::new(&[1.0]), ModelError::InvalidParameter { .. });
    assert_err!(ConstantBadPrior::new(), ModelError::InvalidParameter { .. });
    assert_err!(ConstantBadShape::new(&[1.0]), ModelError::InvalidParameter { .. });
    assert_err!(ConstantBadProbability::new(&[1.0]), ModelError::InvalidParameter { .. });
    assert_err!(ConstantBadUniform::new(&[1.5]), ModelError::InvalidParameter { .. });
    assert_err!(ConstantBadTrials::new(&[1.0]), ModelError::InvalidParameter { .. });
    assert_err!(ConstantNan::new(&[1.0]), ModelError::InvalidParameter { .. });
    assert_err!(ConstantInfiniteScale::new(&[1.0]), ModelError::InvalidParameter { .. });
}

#[test]
fn invalid_data_parameters_are_errors() {
    let x = [0.5, 1.0];
    let good = [1.0, 2.0];
    for bad in [[1.0, -1.0], [0.0, 1.0]] {
        assert_err!(NormalData::new(&x, &good, &bad), ModelError::InvalidParameter { .. });
        assert_err!(HalfNormalData::new(&x, &bad), ModelError::InvalidParameter { .. });
        assert_err!(StudentTData::new(&x, &bad, &good, &good), ModelError::InvalidParameter { .. });
        assert_err!(StudentTData::new(&x, &good, &good, &bad), ModelError::InvalidParameter { .. });
        assert_err!(CauchyData::new(&x, &good, &bad), ModelError::InvalidParameter { .. });
        assert_err!(HalfCauchyData::new(&x, &bad), ModelError::InvalidParameter { .. });
        assert_err!(LaplaceData::new(&x, &good, &bad), ModelError::InvalidParameter { .. });
        assert_err!(ExponentialData::new(&x, &bad), ModelError::InvalidParameter { .. });
        assert_err!(GammaData::new(&x, &bad, &good), ModelError::InvalidParameter { .. });
        assert_err!(GammaData::new(&x, &good, &bad), ModelError::InvalidParameter { .. });
        assert_err!(InverseGammaData::new(&x, &bad, &good), ModelError::InvalidParameter { .. });
        assert_err!(InverseGammaData::new(&x, &good, &bad), ModelError::InvalidParameter { .. });
        assert_err!(LogNormalData::new(&x, &good, &bad), ModelError::InvalidParameter { .. });
        assert_err!(BetaData::new(&[0.5, 0.5], &bad, &good), ModelError::InvalidParameter { .. });
        assert_err!(BetaData::new(&[0.5, 0.5], &good, &bad), ModelError::InvalidParameter { .. });
        assert_err!(PoissonData::new(&[1.0, 2.0], &bad), ModelError::InvalidParameter { .. });
        assert_err!(DirichletData::new(&[0.5, 0.5], &bad), ModelError::InvalidParameter { .. });
    }
    assert_err!(BernoulliData::new(&[1.0, 0.0], &[0.5, 1.1]), ModelError::InvalidParameter { .. });
    assert_err!(BernoulliData::new(&[1.0, 0.0], &[-0.1, 0.5]), ModelError::InvalidParameter { .. });
    assert_err!(UniformData::new(&[0.5, 0.5], &[0.0, 1.0], &[1.0, 1.0]), ModelError::InvalidParameter { .. });
    assert_err!(UniformData::new(&[0.5, 0.5], &[0.0, 2.0], &[1.0, 1.0]), ModelError::InvalidParameter { .. });
    assert_err!(BinomialLogitData::new(&[1.0], &[-1.0], &[0.0]), ModelError::InvalidParameter { .. });
    assert_err!(BinomialLogitData::new(&[1.0], &[3.5], &[0.0]), ModelError::InvalidParameter { .. });
    // vector parameters of multivariate distributions
    assert_err!(DirichletData::new(&[1.0], &[2.0]), ModelError::InvalidParameter { .. });
    assert_err!(CategoricalLogitData::new(&[0], &[0.3]), ModelError::InvalidParameter { .. });
    let l = chol3();
    assert_err!(MvnData::new(&[0.0; 3], &[0.0; 2], &l), ModelError::InvalidParameter { .. });
    let upper = Matrix::from_rows(&[[1.0, 0.5], [0.0, 1.0]]).unwrap();
    assert_err!(MvnData::new(&[0.0; 2], &[0.0; 2], &upper), ModelError::InvalidParameter { .. });
    let zero_diag = Matrix::from_rows(&[[1.0, 0.0], [0.5, 0.0]]).unwrap();
    assert_err!(MvnData::new(&[0.0; 2], &[0.0; 2], &zero_diag), ModelError::InvalidParameter { .. });
    let neg_diag = Matrix::from_rows(&[[-1.0, 0.0], [0.5, 1.0]]).unwrap();
    assert_err!(MvnData::new(&[0.0; 2], &[0.0; 2], &neg_diag), ModelError::InvalidParameter { .. });
    let not_square = Matrix::from_rows(&[[1.0, 0.0, 0.0], [0.5, 1.0, 0.0]]).unwrap();
    assert_err!(MvnData::new(&[0.0; 2], &[0.0; 2], &not_square), ModelError::InvalidParameter { .. });
}

#[test]
fn data_outside_the_support_are_errors() {
    use ModelError::OutOfSupport as O;
    assert_err!(PoissonData::new(&[1.0, -1.0], &[2.0]), O { .. });
    assert_err!(PoissonData::new(&[1.5], &[2.0]), O { .. });
    assert_err!(PoissonLogData::new(&[-2.0], &[0.0]), O { .. });
    assert_err!(BernoulliData::new(&[2.0], &[0.5]), O { .. });
    assert_err!(BernoulliData::new(&[0.5], &[0.5]), O { .. });
    assert_err!(BernoulliLogitData::new(&[-1.0], &[0.0]), O { .. });
    assert_err!(BinomialLogitData::new(&[6.0], &[5.0], &[0.0]), O { .. });
    assert_err!(BinomialLogitData::new(&[-1.0], &[5.0], &[0.0]), O { .. });
    assert_err!(BinomialLogitData::new(&[2.5], &[5.0], &[0.0]), O { .. });
    assert_err!(CategoricalLogitData::new(&[0, 3], &[0.1, 0.2, 0.3]), O { .. });
    assert_err!(HalfNormalData::new(&[-0.1], &[1.0]), O { .. });
    assert_err!(HalfCauchyData::new(&[-0.1], &[1.0]), O { .. });
    assert_err!(ExponentialData::new(&[-0.1], &[1.0]), O { .. });
    assert_err!(GammaData::new(&[0.0], &[1.0], &[1.0]), O { .. });
    assert_err!(GammaData::new(&[-1.0], &[1.0], &[1.0]), O { .. });
    assert_err!(InverseGammaData::new(&[0.0], &[1.0], &[1.0]), O { .. });
    assert_err!(LogNormalData::new(&[-1.0], &[1.0], &[1.0]), O { .. });
    assert_err!(BetaData::new(&[1.5], &[1.0], &[1.0]), O { .. });
    assert_err!(BetaData::new(&[-0.5], &[1.0], &[1.0]), O { .. });
    assert_err!(UniformData::new(&[2.5], &[0.0], &[2.0]), O { .. });
    assert_err!(UniformData::new(&[-0.5], &[0.0], &[2.0]), O { .. });
    assert_err!(DirichletData::new(&[0.5, 0.6], &[1.0, 1.0]), O { .. });
    assert_err!(DirichletData::new(&[1.0, 0.0], &[1.0, 1.0]), O { .. });
    assert_err!(DirichletData::new(&[0.2, 0.3, 0.5], &[1.0, 1.0]), O { .. });
    assert_err!(MvnData::new(&[0.0; 2], &[0.0; 3], &chol3()), O { .. });
}

#[test]
fn non_finite_data_are_errors() {
    use ModelError::Data as D;
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert_err!(NormalData::new(&[0.0, bad], &[0.0], &[1.0]), D { .. });
        assert_err!(NormalData::new(&[0.0], &[bad], &[1.0]), D { .. });
        assert_err!(NormalData::new(&[0.0], &[0.0], &[bad]), D { .. });
        assert_err!(PoissonData::new(&[bad], &[1.0]), D { .. });
        assert_err!(BernoulliData::new(&[bad], &[0.5]), D { .. });
        assert_err!(GammaData::new(&[bad], &[1.0], &[1.0]), D { .. });
        assert_err!(CategoricalLogitData::new(&[0], &[0.0, bad]), D { .. });
        assert_err!(DirichletData::new(&[0.5, 0.5], &[1.0, bad]), D { .. });
        assert_err!(MvnData::new(&[0.0; 3], &[0.0; 3], &Matrix::from_rows(&[[1.0, 0.0, 0.0], [bad, 1.0, 0.0], [0.0, 0.0, 1.0]]).unwrap()), D { .. });
        assert_err!(NormalFree::new(&[1.0, bad]), D { .. });
    }
}
