//! `snell::diagnostics` against an independent implementation: ArviZ's R-hat, ESS and MCSE and
//! numpy's quantiles of fixed-seed chains, stored once in `tests/data/diagnostics_fixture.json` by
//! `tests/data/make_diagnostics_fixture.py` (the ArviZ version is in the fixture's provenance).
//!
//! snell follows ArviZ's algorithms step by step, so the values agree to rounding (FFT and
//! summation order): the tolerance is far below what would hide a definitional slip. Where snell
//! deliberately follows posterior instead (constant draws, one chain), the test says so and checks
//! the documented behaviour.

use serde::Deserialize;
use snell::diagnostics::{
    ess_bulk, ess_mean, ess_quantile, ess_tail, mcse_mean, mcse_quantile, mcse_sd, quantile, rhat, rhat_bulk,
    rhat_tail, Summary,
};

/// Relative tolerance for everything computed through normal scores, FFTs and sums.
const REL: f64 = 1e-9;

#[derive(Deserialize)]
struct Fixture {
    provenance: Provenance,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Provenance {
    arviz: String,
    quantile_probs: Vec<f64>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    /// `draws[c]`: chain c.
    draws: Vec<Vec<f64>>,
    reference: Reference,
}

/// ArviZ's (and numpy's) values; `None` is NaN (JSON has none).
#[derive(Deserialize)]
struct Reference {
    mean: Option<f64>,
    sd: Option<f64>,
    quantiles: Vec<Option<f64>>,
    rhat: Option<f64>,
    rhat_bulk: Option<f64>,
    rhat_tail: Option<f64>,
    ess_bulk: Option<f64>,
    ess_tail: Option<f64>,
    ess_mean: Option<f64>,
    ess_quantile: Vec<Option<f64>>,
    mcse_mean: Option<f64>,
    mcse_sd: Option<f64>,
    mcse_quantile: Vec<Option<f64>>,
}

fn fixture() -> Fixture {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/diagnostics_fixture.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("diagnostics fixture parses")
}

fn nan(x: Option<f64>) -> f64 {
    x.unwrap_or(f64::NAN)
}

/// `got` equals `want` to `rel` relative error, or both are NaN.
#[track_caller]
fn check(got: f64, want: Option<f64>, rel: f64, what: &str, worst: &mut f64) {
    match want {
        None => assert!(got.is_nan(), "{what}: got {got}, ArviZ NaN"),
        Some(w) => {
            let err = (got - w).abs() / w.abs().max(1e-300);
            let err = if got == w { 0.0 } else { err };
            assert!(err <= rel, "{what}: got {got}, ArviZ {w}, relative error {err:e} > {rel:e}");
            *worst = worst.max(err);
        }
    }
}

fn refs(case: &Case) -> Vec<&[f64]> {
    case.draws.iter().map(Vec::as_slice).collect()
}

#[test]
fn fixture_is_what_it_claims() {
    let f = fixture();
    assert!(f.provenance.arviz.starts_with("0.2"), "{}", f.provenance.arviz);
    assert_eq!(f.provenance.quantile_probs, [0.05, 0.5, 0.95]);
    assert!(f.cases.len() >= 8);
    for case in &f.cases {
        let n = case.draws[0].len();
        assert!(case.draws.iter().all(|c| c.len() == n), "{}", case.name);
    }
}

/// The definitions that snell and ArviZ share, case by case.
#[test]
fn agrees_with_arviz() {
    let f = fixture();
    let mut worst = 0.0_f64;
    for case in f.cases.iter().filter(|c| c.name != "constant") {
        let chains = refs(case);
        let r = &case.reference;
        let name = &case.name;
        let all: Vec<f64> = case.draws.concat();

        let m = all.iter().sum::<f64>() / all.len() as f64;
        let sd = (all.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (all.len() - 1) as f64).sqrt();
        check(m, r.mean, 1e-12, &format!("{name} mean"), &mut 0.0);
        check(sd, r.sd, 1e-12, &format!("{name} sd"), &mut 0.0);
        for (&p, &want) in f.provenance.quantile_probs.iter().zip(&r.quantiles) {
            // numpy's linear quantile, computed the same way: equal to the bit.
            assert_eq!(quantile(&all, p), nan(want), "{name} quantile {p}");
        }

        check(rhat_bulk(&chains), r.rhat_bulk, REL, &format!("{name} rhat_bulk"), &mut worst);
        check(rhat_tail(&chains), r.rhat_tail, REL, &format!("{name} rhat_tail"), &mut worst);
        if chains.len() == 1 {
            // ArviZ's rhat wants two chains; snell, like posterior and CmdStan, splits the one
            // chain and reports max(bulk, tail) of its halves, which ArviZ's own building blocks
            // give as the fixture's rhat_bulk and rhat_tail.
            assert!(r.rhat.is_none(), "{name}: ArviZ gave a one-chain R-hat");
            let want = nan(r.rhat_bulk).max(nan(r.rhat_tail));
            check(rhat(&chains), Some(want), REL, &format!("{name} rhat (one chain)"), &mut worst);
        } else {
            check(rhat(&chains), r.rhat, REL, &format!("{name} rhat"), &mut worst);
        }

        check(ess_bulk(&chains), r.ess_bulk, REL, &format!("{name} ess_bulk"), &mut worst);
        check(ess_tail(&chains), r.ess_tail, REL, &format!("{name} ess_tail"), &mut worst);
        check(ess_mean(&chains), r.ess_mean, REL, &format!("{name} ess_mean"), &mut worst);
        check(mcse_mean(&chains), r.mcse_mean, REL, &format!("{name} mcse_mean"), &mut worst);
        check(mcse_sd(&chains), r.mcse_sd, REL, &format!("{name} mcse_sd"), &mut worst);
        for (i, &p) in f.provenance.quantile_probs.iter().enumerate() {
            check(
                ess_quantile(&chains, p),
                r.ess_quantile[i],
                REL,
                &format!("{name} ess_quantile {p}"),
                &mut worst,
            );
            // Differences of order statistics: exact unless a Beta quantile lands within
            // rounding of an integer, which it does not here.
            let got = mcse_quantile(&chains, p);
            assert_eq!(got, nan(r.mcse_quantile[i]), "{name} mcse_quantile {p}");
        }
    }
    println!("largest relative difference from ArviZ {}: {worst:e}", f.provenance.arviz);
}

/// The fixture's cases cover what they are meant to: bad mixing shows, good mixing does not.
#[test]
fn cases_exercise_the_diagnostics() {
    let f = fixture();
    let get = |name: &str| f.cases.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("case {name}"));
    assert!(rhat(&refs(get("one_chain_shifted"))) > 1.01);
    assert!(rhat(&refs(get("iid_normal"))) < 1.01);
    assert!(ess_bulk(&refs(get("ar1_rho_0.99"))) < 100.0);
    let n = 2000.0;
    assert!(ess_bulk(&refs(get("antithetic_rho_-0.3"))) > n);
    // Split chains lose the middle draw of an odd-length chain.
    assert_eq!(get("odd_length_251").draws[0].len() % 2, 1);
}

/// Constant draws: posterior's definition (R-hat, ESS, MCSE undefined, NaN), not ArviZ's, which
/// reports the number of draws as the ESS and 0 as the MCSE of the mean and the quantiles.
#[test]
fn constant_draws_follow_posterior() {
    let f = fixture();
    let case = f.cases.iter().find(|c| c.name == "constant").expect("constant case");
    let chains = refs(case);
    let r = &case.reference;
    let total = case.draws.concat().len() as f64;
    // What ArviZ says, so that a change in its behaviour shows up here.
    assert!(r.rhat.is_none());
    assert_eq!((r.ess_bulk, r.ess_tail, r.ess_mean), (Some(total), Some(total), Some(total)));
    assert_eq!(r.mcse_mean, Some(0.0));
    // What snell says.
    for (what, v) in [
        ("rhat", rhat(&chains)),
        ("ess_bulk", ess_bulk(&chains)),
        ("ess_tail", ess_tail(&chains)),
        ("ess_mean", ess_mean(&chains)),
        ("mcse_mean", mcse_mean(&chains)),
        ("mcse_sd", mcse_sd(&chains)),
        ("mcse_quantile", mcse_quantile(&chains, 0.5)),
    ] {
        assert!(v.is_nan(), "constant {what}: {v}");
    }
    let all = case.draws.concat();
    assert_eq!(quantile(&all, 0.05), nan(r.quantiles[0]));
}

/// The summary table lays out row-major draws of several quantities and gives each the values
/// ArviZ gives it alone.
#[test]
fn summary_matches_arviz() {
    let f = fixture();
    let names = ["iid_normal", "ar1_rho_0.9", "student_t_df_3", "one_chain_shifted", "gamma_shape_2"];
    let cases: Vec<&Case> = names.iter().map(|n| f.cases.iter().find(|c| c.name == *n).unwrap()).collect();
    let (n_chains, n_draws) = (cases[0].draws.len(), cases[0].draws[0].len());
    let chains: Vec<Vec<f64>> = (0..n_chains)
        .map(|c| (0..n_draws).flat_map(|d| cases.iter().map(move |k| k.draws[c][d])).collect())
        .collect();
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let s = Summary::new(&names, &chains);
    assert_eq!((s.n_chains(), s.n_draws()), (n_chains, n_draws));
    let mut worst = 0.0;
    for case in &cases {
        let row = s.row(&case.name).unwrap();
        let r = &case.reference;
        let what = |w: &str| format!("summary {} {w}", case.name);
        check(row.mean, r.mean, 1e-12, &what("mean"), &mut worst);
        check(row.sd, r.sd, 1e-12, &what("sd"), &mut worst);
        check(row.q5, r.quantiles[0], 0.0, &what("q5"), &mut worst);
        check(row.q50, r.quantiles[1], 0.0, &what("q50"), &mut worst);
        check(row.q95, r.quantiles[2], 0.0, &what("q95"), &mut worst);
        check(row.mcse_mean, r.mcse_mean, REL, &what("mcse_mean"), &mut worst);
        check(row.mcse_sd, r.mcse_sd, REL, &what("mcse_sd"), &mut worst);
        check(row.ess_bulk, r.ess_bulk, REL, &what("ess_bulk"), &mut worst);
        check(row.ess_tail, r.ess_tail, REL, &what("ess_tail"), &mut worst);
        check(row.rhat, r.rhat, REL, &what("rhat"), &mut worst);
    }
    let warnings = s.warnings();
    // ar1_rho_0.9: ESS_bulk ≈ 111 < 400 and R-hat ≈ 1.025; one_chain_shifted: R-hat ≈ 1.022.
    assert!(warnings.iter().any(|w| w.starts_with("ar1_rho_0.9: R-hat")), "{warnings:?}");
    assert!(warnings.iter().any(|w| w.starts_with("ar1_rho_0.9: bulk ESS")), "{warnings:?}");
    assert!(warnings.iter().any(|w| w.starts_with("ar1_rho_0.9: tail ESS")), "{warnings:?}");
    assert!(warnings.iter().any(|w| w.starts_with("one_chain_shifted: R-hat")), "{warnings:?}");
    assert!(!warnings.iter().any(|w| w.starts_with("iid_normal") || w.starts_with("gamma")), "{warnings:?}");
    println!("{s}");
    for w in &warnings {
        println!("warning: {w}");
    }
}
