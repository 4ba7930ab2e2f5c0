//! NUTS against reference posteriors from posteriordb (stan-dev/posteriordb, BSD-3; the files are
//! read from `$SNELL_POSTERIORDB` or `../shared/reference/posteriordb`, and the checks say they are
//! skipped where neither exists). Each model is the Stan program written in the snell
//! language — same priors, constraints and likelihood — sampled with 4 chains × (1000 warmup + 1000
//! draws) and a fixed seed. For every parameter the reference reports we require
//!
//! - `|mean − ref mean| < 4·sqrt(mcse_ref² + mcse_snell²) + 0.05·ref sd`,
//! - sd within 15% of the reference sd,
//! - R-hat < 1.01.
//!
//! The centred eight schools (the funnel) must *report* divergences. Two more checks run on a
//! correlated 2-d Gaussian: the diagonal and the dense metric must both recover it, and the dense
//! metric must need fewer leapfrog steps.
//!
//! Stan's improper flat priors (a parameter without a `~` statement) are `sample!(Flat())`.
//!
//! `cargo test --release --test posteriordb -- --nocapture` prints a table per model.

use snell::prelude::*;
use snell_examples::posteriordb::*;
use snell::sampler::nuts::Nuts;
use snell::sampler::nutpie::Nutpie;
use snell::sampler::{run, Draws, RunConfig, Sampler};
use snell::target::FnDensity;
use std::time::Instant;

// ---- references and the comparison -------------------------------------------------------------




fn config(seed: u64) -> RunConfig {
    RunConfig { chains: 4, warmup: 1000, draws: 1000, seed, init: None }
}

/// Samples `target` with `sampler` (4 × (1000 + 1000)), timing the run.
fn sample<S: Sampler, T: snell::target::Target + Sync>(what: &str, sampler: &S, target: &T, seed: u64) -> Draws {
    let t = Instant::now();
    let draws = run(sampler, target, &config(seed)).unwrap_or_else(|e| panic!("{what}: {e}"));
    println!("{what}: sampled in {:.1} s", t.elapsed().as_secs_f64());
    draws
}

// ---- eight schools -------------------------------------------------------------------------------


#[test]
fn eight_schools_noncentered_matches_the_reference() {
    if !references_available() {
        return;
    }
    let r = reference("eight_schools-eight_schools_noncentered");
    let m = EightSchoolsNoncentered::new(&reals(&r["data"]["y"]), &reals(&r["data"]["sigma"])).unwrap();
    let draws = sample("eight_schools_noncentered", &Nuts::default(), &m, 1);
    assert_matches_reference("eight_schools_noncentered", &r, &draws);
}

/// The same reference with NUTS as nutpie adapts it (nuts-rs).
#[test]
fn eight_schools_noncentered_matches_the_reference_with_nutpie() {
    if !references_available() {
        return;
    }
    let r = reference("eight_schools-eight_schools_noncentered");
    let m = EightSchoolsNoncentered::new(&reals(&r["data"]["y"]), &reals(&r["data"]["sigma"])).unwrap();
    let draws = sample("eight_schools_noncentered (nutpie)", &Nutpie::default(), &m, 1);
    assert_matches_reference("eight_schools_noncentered (nutpie)", &r, &draws);
}

/// The funnel: NUTS cannot explore the neck, and it must say so.
#[test]
fn eight_schools_centered_reports_divergences() {
    if !references_available() {
        return;
    }
    let r = reference("eight_schools-eight_schools_centered");
    let m = EightSchoolsCentered::new(&reals(&r["data"]["y"]), &reals(&r["data"]["sigma"])).unwrap();
    let draws = sample("eight_schools_centered", &Nuts::default(), &m, 1);
    let warnings = draws.warnings();
    println!("eight_schools_centered: {} divergences", draws.divergences());
    for w in &warnings {
        println!("  warning: {w}");
    }
    assert!(draws.divergences() > 0, "the centred eight schools gave no divergences");
    assert!(warnings.iter().any(|w| w.contains("divergent")), "no warning mentions divergent transitions: {warnings:?}");
}

// ---- arK: autoregression of order K ------------------------------------------------------------


#[test]
fn ark_matches_the_reference() {
    if !references_available() {
        return;
    }
    let r = reference("arK-arK");
    let k = r["data"]["K"].as_u64().unwrap() as usize;
    let m = ArK::new(&reals(&r["data"]["y"]), k).unwrap();
    let draws = sample("arK", &Nuts::default(), &m, 1);
    assert_matches_reference("arK", &r, &draws);
}

// ---- kidiq: linear regression with flat priors on the coefficients -----------------------------


#[test]
fn kidiq_momhsiq_matches_the_reference() {
    if !references_available() {
        return;
    }
    let r = reference("kidiq-kidscore_momhsiq");
    let d = &r["data"];
    let m = KidscoreMomhsiq::new(&reals(&d["kid_score"]), &reals(&d["mom_iq"]), &reals(&d["mom_hs"])).unwrap();
    let draws = sample("kidiq_momhsiq", &Nuts::default(), &m, 1);
    assert_matches_reference("kidiq_momhsiq", &r, &draws);
    let draws = sample("kidiq_momhsiq (nutpie)", &Nutpie::default(), &m, 2);
    assert_matches_reference("kidiq_momhsiq (nutpie)", &r, &draws);
}

// ---- low_dim_gauss_mix: two-component mixture, ordered locations -------------------------------


#[test]
fn low_dim_gauss_mix_matches_the_reference() {
    if !references_available() {
        return;
    }
    let r = reference("low_dim_gauss_mix-low_dim_gauss_mix");
    let m = LowDimGaussMix::new(&reals(&r["data"]["y"])).unwrap();
    let draws = sample("low_dim_gauss_mix", &Nuts::default(), &m, 1);
    assert_matches_reference("low_dim_gauss_mix", &r, &draws);
}

// ---- sblrc-blr: Bayesian linear regression -----------------------------------------------------


#[test]
fn sblrc_blr_matches_the_reference() {
    if !references_available() {
        return;
    }
    let r = reference("sblrc-blr");
    let rows: Vec<Vec<f64>> = r["data"]["X"].as_array().unwrap().iter().map(reals).collect();
    let m = Blr::new(&Matrix::from_rows(&rows).unwrap(), &reals(&r["data"]["y"])).unwrap();
    let draws = sample("sblrc-blr", &Nuts::default(), &m, 1);
    assert_matches_reference("sblrc-blr", &r, &draws);
}

// ---- garch11: volatility recursion, an upper bound that is a parameter -------------------------


/// The scan in `garch11` gives Stan's log density: differences of snell's log density between
/// points equal those of Stan's program (its loop written out here, with the Jacobians of
/// `lower = 0`, `(0, 1)` and `(0, 1 − alpha1)`).
#[test]
fn garch11_scan_is_the_stan_recursion() {
    if !references_available() {
        return;
    }
    let r = reference("garch-garch11");
    let (y, sigma1) = (reals(&r["data"]["y"]), r["data"]["sigma1"].as_f64().unwrap());
    let m = Garch11::new(&y, sigma1).unwrap();
    let stan = |q: &[f64]| {
        let p = m.constrain(q).unwrap();
        let mut sigma = vec![sigma1; y.len()];
        for t in 1..y.len() {
            sigma[t] = (p.alpha0 + p.alpha1 * (y[t - 1] - p.mu).powi(2) + p.beta1 * sigma[t - 1].powi(2)).sqrt();
        }
        let lik: f64 = y.iter().zip(&sigma).map(|(y, s)| -0.5 * ((y - p.mu) / s).powi(2) - s.ln()).sum();
        let logit_jac = |u: f64| -u.abs() - 2.0 * (-u.abs()).exp().ln_1p(); // ln σ(u)(1 − σ(u))
        lik + q[1] + logit_jac(q[2]) + (1.0 - p.alpha1).ln() + logit_jac(q[3])
    };
    let points = [[5.0, 0.3, 0.2, -0.5], [4.8, -0.2, 1.0, 0.7], [5.2, 1.0, -1.5, 2.0], [5.05, 0.4, 0.3, 0.0]];
    for q in &points[1..] {
        let got = m.log_density(q).unwrap() - m.log_density(&points[0]).unwrap();
        let want = stan(q) - stan(&points[0]);
        assert!((got - want).abs() < 1e-9 * (1.0 + want.abs()), "at {q:?}: snell {got}, Stan's loop {want}");
    }
}

#[test]
fn garch11_matches_the_reference() {
    if !references_available() {
        return;
    }
    let r = reference("garch-garch11");
    let m = Garch11::new(&reals(&r["data"]["y"]), r["data"]["sigma1"].as_f64().unwrap()).unwrap();
    let draws = sample("garch11", &Nuts::default(), &m, 1);
    assert_matches_reference("garch11", &r, &draws);
}

// ---- wells: logistic regression with interactions, N = 3020 ------------------------------------



#[test]
fn wells_dae_inter_matches_the_reference() {
    if !references_available() {
        return;
    }
    let r = reference("wells_data-wells_dae_inter_model");
    let m = WellsDaeInter::new(&ints(&r["data"]["switched"]), &wells_design(&r["data"])).unwrap();
    let draws = sample("wells_dae_inter", &Nuts::default(), &m, 1);
    assert_matches_reference("wells_dae_inter", &r, &draws);
}

// ---- a correlated 2-d Gaussian: diagonal against dense metric ----------------------------------

/// sds 1 and 10, correlation 0.95.
const SD: [f64; 2] = [1.0, 10.0];
const RHO: f64 = 0.95;

fn correlated_gaussian() -> FnDensity<impl Fn(&[f64], &mut [f64]) -> f64 + Sync> {
    // precision of Σ = [[s1², ρ s1 s2], [ρ s1 s2, s2²]]
    let (s1, s2) = (SD[0], SD[1]);
    let det = s1 * s1 * s2 * s2 * (1.0 - RHO * RHO);
    let p = [s2 * s2 / det, -RHO * s1 * s2 / det, s1 * s1 / det];
    FnDensity::new(2, move |q: &[f64], g: &mut [f64]| {
        g[0] = -(p[0] * q[0] + p[1] * q[1]);
        g[1] = -(p[1] * q[0] + p[2] * q[1]);
        0.5 * (q[0] * g[0] + q[1] * g[1])
    })
}

/// Means within 4 MCSE + 0.02 sd, sds within 10%; returns the mean number of leapfrog steps.
fn check_correlated(what: &str, draws: &Draws) -> f64 {
    let summary = draws.summary();
    let mut failures = Vec::new();
    println!("\n{what}: {} divergences", draws.divergences());
    println!("  {:<6} {:>8} {:>10} {:>10} {:>8} {:>8} {:>7}", "name", "mean", "tolerance", "sd", "true sd", "R-hat", "ESS");
    for (j, name) in draws.names.iter().enumerate() {
        let row = summary.row(name).unwrap();
        let tol = 4.0 * row.mcse_mean + 0.02 * SD[j];
        println!("  {:<6} {:>8.4} {:>10.4} {:>10.4} {:>8.1} {:>8.4} {:>7.0}", name, row.mean, tol, row.sd, SD[j], row.rhat, row.ess_bulk);
        if !(row.mean.abs() < tol) {
            failures.push(format!("{name}: mean {} (tolerance {tol})", row.mean));
        }
        if !((row.sd / SD[j] - 1.0).abs() < 0.10) {
            failures.push(format!("{name}: sd {} vs {}", row.sd, SD[j]));
        }
    }
    let (x, y): (Vec<f64>, Vec<f64>) = (draws.param(&draws.names[0]).unwrap().concat(), draws.param(&draws.names[1]).unwrap().concat());
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum::<f64>() / (n - 1.0);
    let corr = cov / (summary.row(&draws.names[0]).unwrap().sd * summary.row(&draws.names[1]).unwrap().sd);
    let leapfrog = draws.stat("n_leapfrog__").unwrap().concat();
    let mean_leapfrog = leapfrog.iter().sum::<f64>() / leapfrog.len() as f64;
    println!("  correlation {corr:.4} (true {RHO}), mean leapfrog steps {mean_leapfrog:.2}");
    assert!(failures.is_empty(), "{what}: {}", failures.join("; "));
    mean_leapfrog
}

#[test]
fn correlated_gaussian_diagonal_and_dense_metric() {
    let target = correlated_gaussian();
    let diag = sample("correlated 2-d Gaussian, diagonal metric", &Nuts::default(), &target, 7);
    let dense = sample("correlated 2-d Gaussian, dense metric", &Nuts::dense(), &target, 7);
    let steps_diag = check_correlated("diagonal metric", &diag);
    let steps_dense = check_correlated("dense metric", &dense);
    assert!(steps_dense < steps_diag, "the dense metric took {steps_dense:.2} leapfrog steps per draw, the diagonal {steps_diag:.2}");
}

// ---- gp_pois_regr: a Gaussian process through its Cholesky factor ------------------------------

#[test]
fn gp_pois_regr_matches_the_reference() {
    if !references_available() {
        return;
    }
    let r = reference("gp_pois_regr-gp_pois_regr");
    let m = GpPoisRegr::new(&reals(&r["data"]["x"]), &ints(&r["data"]["k"])).unwrap();
    // the gradient through the factorisation against finite differences
    let d = m.dim();
    for q in [vec![0.3; d], (0..d).map(|i| ((i as f64) * 0.7).sin()).collect::<Vec<_>>()] {
        let (_, g) = m.log_density_and_grad(&q).unwrap();
        let h = 1e-6;
        for i in 0..d {
            let (mut a, mut b) = (q.clone(), q.clone());
            a[i] += h;
            b[i] -= h;
            let fd = (m.log_density(&a).unwrap() - m.log_density(&b).unwrap()) / (2.0 * h);
            assert!((g[i] - fd).abs() < 1e-5 * fd.abs().max(1.0), "∂/∂q{i}: {} vs {fd}", g[i]);
        }
    }
    let draws = sample("gp_pois_regr", &Nuts::default(), &m, 1);
    assert_matches_reference("gp_pois_regr", &r, &draws);
}
