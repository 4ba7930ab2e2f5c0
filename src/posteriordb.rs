//! The posteriordb reference posteriors written in the snell language: the models, and loaders
//! that build them from the reference files' data. Used by the validation tests
//! (`tests/posteriordb.rs` and others) and the benchmark (`examples/benchmark.rs`).
//!
//! The reference files (posteriordb's data and reference draws' summaries) are not part of this
//! repository: they are read from the directory named by `SNELL_POSTERIORDB`, or else from
//! `../shared/reference/posteriordb` beside the checkout. Where neither exists the tests that need
//! them say so and pass without checking ([`references_available`]).

use serde_json::Value;
use snell::prelude::*;
use snell::sampler::Draws;
use std::path::PathBuf;

/// The environment variable that names a directory of posteriordb reference files
/// (`<posterior>.json`, e.g. `eight_schools-eight_schools_noncentered.json`).
pub const REFERENCE_DIR_VAR: &str = "SNELL_POSTERIORDB";

/// The directory of the reference files: `$SNELL_POSTERIORDB`, else
/// `../shared/reference/posteriordb` beside the checkout; `None` when neither exists.
pub fn reference_dir() -> Option<PathBuf> {
    let named = std::env::var_os(REFERENCE_DIR_VAR).map(PathBuf::from);
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/posteriordb");
    named.into_iter().chain([beside]).find(|d| d.is_dir())
}

/// Whether the reference files can be read. When they cannot, prints why the calling check is
/// skipped, so that a run without them passes and says what it left out.
pub fn references_available() -> bool {
    let found = reference_dir().is_some();
    if !found {
        println!("skipped: no posteriordb reference files (set {REFERENCE_DIR_VAR} to their directory, or place them in ../shared/reference/posteriordb)");
    }
    found
}

/// The reference file `<file>.json` of [`reference_dir`]. Panics, naming what is missing, where
/// there is none: call [`references_available`] first.
pub fn reference(file: &str) -> Value {
    let dir = reference_dir().unwrap_or_else(|| panic!("no posteriordb reference files: set {REFERENCE_DIR_VAR} or place them in ../shared/reference/posteriordb"));
    let path = dir.join(format!("{file}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A JSON array of numbers.
pub fn reals(v: &Value) -> Vec<f64> {
    v.as_array().expect("an array").iter().map(|x| x.as_f64().expect("a number")).collect()
}

/// A JSON array of integers.
pub fn ints(v: &Value) -> Vec<i64> {
    v.as_array().expect("an array").iter().map(|x| x.as_i64().expect("an integer")).collect()
}

/// [`check_reference`], printing its table.
pub fn compare_with_reference(what: &str, reference: &Value, draws: &Draws) -> Vec<String> {
    let (table, failures) = check_reference(what, reference, draws);
    print!("{table}");
    failures
}

/// Compares every parameter of the reference with the draws; returns a printable table and the
/// failed checks: `|mean − ref mean| < 4·sqrt(mcse_ref² + mcse²) + 0.05·ref sd`, sd within 15% of
/// the reference, R-hat < 1.01. `Stan name[i]` is looked up as snell's `name.i` (or, failing that,
/// in lower case).
pub fn check_reference(what: &str, reference: &Value, draws: &Draws) -> (String, Vec<String>) {
    use std::fmt::Write;
    let mut out = String::new();
    let summary = draws.summary();
    // Parameters the reference derived from its draws carry no ESS; their reference MCSE is then
    // taken as sd/sqrt(draws), the draws being (checked to be) nearly independent.
    let n_ref = reference["reference"]["n_draws_total"].as_f64().unwrap_or(10_000.0);
    let params = reference["parameters"].as_object().expect("parameters");
    let mut failures = Vec::new();
    let mut max_z: f64 = 0.0;
    // gradients per draw: NUTS and HMC count leapfrog steps, ray tracing gradient evaluations
    let grads = draws.stat("n_leapfrog__").or_else(|| draws.stat("n_grad__")).unwrap_or_default().concat();
    let _ = writeln!(
        out,
        "\n{what}: {} divergences of {}, {:.1} gradients per draw",
        draws.divergences(),
        draws.n_draws() * draws.chains.len(),
        grads.iter().sum::<f64>() / grads.len().max(1) as f64
    );
    for w in draws.warnings() {
        let _ = writeln!(out, "  warning: {w}");
    }
    let _ = writeln!(
        out,
        "  {:<15} {:>11} {:>11} {:>10} {:>6} {:>10} {:>10} {:>6} {:>7} {:>6}",
        "parameter", "ref mean", "snell mean", "tolerance", "z", "ref sd", "snell sd", "sd %", "R-hat", "ESS"
    );
    for (name, p) in params {
        // Rust's snake case: Stan's `Intercept` is snell's `intercept`
        let snell_name = name.replace('[', ".").replace(']', "");
        let Some(row) = summary.row(&snell_name).or_else(|| summary.row(&snell_name.to_lowercase())) else {
            failures.push(format!("{name}: not in the draws (names: {:?})", draws.names));
            continue;
        };
        let ref_mean = p["mean"].as_f64().unwrap();
        let ref_sd = p["sd"].as_f64().unwrap();
        let mcse_ref = p["mcse_mean"].as_f64().unwrap_or(ref_sd / n_ref.sqrt());
        let se = (mcse_ref * mcse_ref + row.mcse_mean * row.mcse_mean).sqrt();
        let tol = 4.0 * se + 0.05 * ref_sd;
        let diff = row.mean - ref_mean;
        let z = diff / se;
        max_z = max_z.max(z.abs());
        let sd_rel = row.sd / ref_sd - 1.0;
        let _ = writeln!(
            out,
            "  {:<15} {:>11.5} {:>11.5} {:>10.2e} {:>6.2} {:>10.4} {:>10.4} {:>+5.1}% {:>7.4} {:>6.0}",
            name,
            ref_mean,
            row.mean,
            tol,
            z,
            ref_sd,
            row.sd,
            100.0 * sd_rel,
            row.rhat,
            row.ess_bulk
        );
        if !(diff.abs() < tol) {
            failures.push(format!("{name}: mean {} vs reference {ref_mean}: |diff| {:.3e} ≥ tolerance {tol:.3e} (z = {z:.2})", row.mean, diff.abs()));
        }
        if !(sd_rel.abs() < 0.15) {
            failures.push(format!("{name}: sd {} vs reference {ref_sd} ({:+.1}%, allowed ±15%)", row.sd, 100.0 * sd_rel));
        }
        if !(row.rhat < 1.01) {
            failures.push(format!("{name}: R-hat {} ≥ 1.01", row.rhat));
        }
    }
    let _ = writeln!(out, "  max |z| = {max_z:.2}");
    (out, failures)
}

/// [`compare_with_reference`], panicking with the list of failed checks.
#[track_caller]
pub fn assert_matches_reference(what: &str, reference: &Value, draws: &Draws) {
    let failures = compare_with_reference(what, reference, draws);
    assert!(failures.is_empty(), "{what}: {} failed checks:\n  {}", failures.len(), failures.join("\n  "));
}

/// Stan's transformed data: centred and scaled predictors and their interactions.
pub fn wells_design(d: &Value) -> Matrix {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (dist, arsenic, educ) = (reals(&d["dist"]), reals(&d["arsenic"]), reals(&d["educ"]));
    let (md, ma, me) = (mean(&dist), mean(&arsenic), mean(&educ));
    let rows: Vec<Vec<f64>> = (0..dist.len())
        .map(|i| {
            let c_dist100 = (dist[i] - md) / 100.0;
            let c_arsenic = arsenic[i] - ma;
            let c_educ4 = (educ[i] - me) / 4.0;
            vec![c_dist100, c_arsenic, c_educ4, c_dist100 * c_arsenic, c_dist100 * c_educ4, c_arsenic * c_educ4]
        })
        .collect();
    Matrix::from_rows(&rows).unwrap()
}

#[model]
pub fn eight_schools_noncentered(y: &[f64], sigma: &[f64]) {
    let theta_trans = sample!([y.len()] ~ Normal(0.0, 1.0));
    let mu = sample!(Normal(0.0, 5.0));
    let tau = sample!(HalfCauchy(5.0)); // cauchy(0, 5) on real<lower=0>
    let theta = deterministic!(theta_trans * tau + mu); // Stan's transformed parameter
    observe!(y ~ Normal(theta, sigma));
}

#[model]
pub fn eight_schools_centered(y: &[f64], sigma: &[f64]) {
    let mu = sample!(Normal(0.0, 5.0));
    let tau = sample!(HalfCauchy(5.0));
    let theta = sample!([y.len()] ~ Normal(mu, tau));
    observe!(y ~ Normal(theta, sigma));
}

#[model]
pub fn ar_k(y: &[f64], k: usize) {
    let alpha = sample!(Normal(0.0, 10.0));
    let beta = sample!([k] ~ Normal(0.0, 10.0));
    let sigma = sample!(HalfCauchy(2.5));
    // mu[t] = alpha + Σ_k beta[k]·y[t−k] for t = K+1..T (1-based), all t at once
    let t = y.len();
    let mut mu = alpha;
    for j in 0..k {
        mu = mu + beta.at(j) * &y[k - 1 - j..t - 1 - j];
    }
    observe!(&y[k..] ~ Normal(mu, sigma));
}

#[model]
pub fn kidscore_momhsiq(kid_score: &[f64], mom_iq: &[f64], mom_hs: &[f64]) {
    let beta = sample!([3] ~ Flat());
    let sigma = sample!(HalfCauchy(2.5));
    observe!(kid_score ~ Normal(beta.at(0) + beta.at(1) * mom_hs + beta.at(2) * mom_iq, sigma));
}

#[model]
pub fn low_dim_gauss_mix(y: &[f64]) {
    let mu = sample!([2] ~ Normal(0.0, 2.0), ordered);
    let sigma = sample!([2] ~ HalfNormal(2.0)); // normal(0, 2) on real<lower=0>
    let theta = sample!(Beta(5.0, 5.0));
    // log_mix(theta, a, b) = ln(e^a + e^b) with the weights folded in, = a + softplus(b − a)
    let a = theta.ln() + log_prob!(y ~ Normal(mu.at(0), sigma.at(0)));
    let b = (1.0 - theta).ln() + log_prob!(y ~ Normal(mu.at(1), sigma.at(1)));
    factor!(a + (b - a).softplus());
}

#[model]
pub fn blr(x: &Matrix, y: &[f64]) {
    let beta = sample!([x.cols()] ~ Normal(0.0, 10.0));
    let sigma = sample!(HalfNormal(10.0)); // normal_lpdf(sigma | 0, 10) on real<lower=0>
    observe!(y ~ Normal(x.matvec(beta), sigma));
}

#[model]
pub fn garch11(y: &[f64], sigma1: f64) {
    let mu = sample!(Flat());
    let alpha0 = sample!(Flat(), lower = 0.0);
    let alpha1 = sample!(Uniform(0.0, 1.0)); // flat on (0, 1)
    let beta1 = sample!(Uniform(0.0, 1.0), lower = 0.0, upper = 1.0 - alpha1); // flat on (0, 1 − alpha1)
    // Stan: sigma[1] = sigma1, sigma[t]² = alpha0 + alpha1·(y[t−1] − mu)² + beta1·sigma[t−1]².
    // The recursion s[i] = c[i] + beta1·s[i−1] (s = sigma[2..T]², c[i] = alpha0 + alpha1·(y[i] − mu)²,
    // c[0] also carrying beta1·sigma1²) is evaluated as a prefix scan in ⌈log₂ T⌉ vector steps,
    // s[i] = Σ_j beta1^j c[i−j], instead of T scalar steps: the same values (checked against the
    // loop in `garch11_scan_is_the_stan_recursion`), a tenth of the operations.
    let t = y.len();
    let c = alpha0 + alpha1 * (&y[..t - 1] - mu).square();
    let n = t - 1;
    let mut s = concat(&[c.at(0) + beta1 * (sigma1 * sigma1), c.slice(1, n)]);
    let mut b = beta1; // beta1^(2^k)
    let mut shift = 1;
    while shift < n {
        s = concat(&[s.slice(0, shift), s.slice(shift, n) + b * s.slice(0, n - shift)]);
        b = b * b;
        shift *= 2;
    }
    observe!(y[0] ~ Normal(mu, sigma1));
    observe!(&y[1..] ~ Normal(mu, s.sqrt()));
}

#[model]
pub fn wells_dae_inter(switched: &[i64], x: &Matrix) {
    let alpha = sample!(Flat());
    let beta = sample!([x.cols()] ~ Flat());
    observe!(switched ~ BernoulliLogit(alpha + x.matvec(beta)));
}

/// Radon in Minnesota homes: varying intercepts by county (non-centred), N = 919, 90 parameters.
#[model]
pub fn radon_hierarchical_intercept_noncentered(log_radon: &[f64], county_idx: &[usize], log_uppm: &[f64], floor_measure: &[f64], j: usize) {
    let alpha_raw = sample!([j] ~ Normal(0.0, 1.0));
    let beta = sample!([2] ~ Normal(0.0, 10.0));
    let mu_alpha = sample!(Normal(0.0, 10.0));
    let sigma_alpha = sample!(HalfNormal(1.0));
    let sigma_y = sample!(HalfNormal(1.0));
    let alpha = deterministic!(mu_alpha + sigma_alpha * alpha_raw);
    let mu = alpha.gather(county_idx) + log_uppm * beta.at(0) + floor_measure * beta.at(1);
    observe!(log_radon ~ Normal(mu, sigma_y));
}

/// Builds the radon model from its reference file (county indices become 0-based).
pub fn radon(r: &Value) -> Result<RadonHierarchicalInterceptNoncentered, ModelError> {
    let d = &r["data"];
    let county: Vec<usize> = ints(&d["county_idx"]).iter().map(|&c| (c - 1) as usize).collect();
    let j = d["J"].as_u64().unwrap_or(0) as usize;
    RadonHierarchicalInterceptNoncentered::new(&reals(&d["log_radon"]), &county, &reals(&d["log_uppm"]), &reals(&d["floor_measure"]), j)
}

/// Diamond prices (brms): 24 strongly correlated centred predictors, N = 5000 — NUTS with a
/// diagonal metric saturates its tree depth here.
#[model]
pub fn diamonds_model(y: &[f64], xc: &Matrix) {
    let b = sample!([xc.cols()] ~ Normal(0.0, 1.0));
    let intercept = sample!(StudentT(3.0, 8.0, 10.0));
    // Stan: student_t(3, 0, 10) truncated to sigma > 0 (the lccdf term is a constant)
    let sigma = sample!(StudentT(3.0, 0.0, 10.0), lower = 0.0);
    observe!(y ~ Normal(intercept + xc.matvec(b), sigma));
}

/// Builds the diamonds model: Stan's transformed data (columns 2..K of X, centred).
pub fn diamonds(r: &Value) -> Result<DiamondsModel, ModelError> {
    let d = &r["data"];
    let rows: Vec<Vec<f64>> = d["X"].as_array().map(|a| a.iter().map(reals).collect()).unwrap_or_default();
    let k = rows.first().map_or(0, |r| r.len());
    let n = rows.len() as f64;
    let means: Vec<f64> = (1..k).map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n).collect();
    let xc: Vec<Vec<f64>> = rows.iter().map(|r| (1..k).map(|j| r[j] - means[j - 1]).collect()).collect();
    DiamondsModel::new(&reals(&d["Y"]), &Matrix::from_rows(&xc)?)
}

/// posteriordb `gp_pois_regr`: a latent Gaussian process with a Poisson likelihood, non-centred
/// through the Cholesky factor of its squared-exponential covariance.
#[model]
pub fn gp_pois_regr(x: &[f64], k: &[i64]) {
    let rho = sample!(Gamma(25.0, 4.0));
    let alpha = sample!(HalfNormal(2.0)); // normal(0, 2) on real<lower=0>
    let f_tilde = sample!([x.len()] ~ Normal(0.0, 1.0));
    let f = deterministic!(snell::gp::exp_quad_cholesky(x, alpha, rho, f_tilde, 1e-10));
    observe!(k ~ PoissonLog(f));
}
