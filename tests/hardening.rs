//! Inputs a user can give that used to panic or mislead: each ends in an error that names the
//! problem, or in a result that says what it is.

use snell::prelude::*;
use snell::sampler::mala::Mala;
use snell::sampler::metric::Metric;
use snell::sampler::nuts::Nuts;
use snell::sampler::smc::{run_smc, Smc};
use snell::sampler::ray_tracing::RayTracing;
use snell::sampler::{run, ChainDraws, Draws, RunConfig, SamplerError, MAX_CHAINS};

#[model]
fn normal_mean(y: &[f64]) {
    let mu = sample!(Normal(0.0, 5.0));
    observe!(y ~ Normal(mu, 1.0));
}

#[model]
fn no_parameters(y: &[f64]) {
    observe!(y ~ Normal(0.0, 1.0));
}

#[model]
fn binomial(k: &[f64], n: &[f64]) {
    let logit = sample!(Normal(0.0, 1.0));
    observe!(k ~ BinomialLogit(n, logit));
}

#[model]
fn sum_of_terms(k: usize) {
    let mu = sample!(Normal(0.0, 1.0));
    let terms: Vec<_> = (0..k).map(|i| mu * (i + 1) as f64).collect();
    factor!(terms.into_iter().sum::<Real<_>>());
}

#[test]
fn a_panic_in_the_model_code_is_an_error_naming_the_statement() {
    assert!(SumOfTerms::new(2).unwrap().log_density(&[0.5]).unwrap().is_finite());
    match SumOfTerms::new(0) {
        Err(ModelError::Panicked { site, message }) => assert!(message.contains("empty") && site.contains("after `mu`"), "{site}: {message}"),
        other => panic!("expected the empty sum to be reported, got {other:?}"),
    }
}

fn setting(e: SamplerError) -> &'static str {
    match e {
        SamplerError::Setting { name, .. } => name,
        e => panic!("expected a setting error, got {e}"),
    }
}

#[test]
fn draws_of_unequal_chains_are_summarised_with_a_warning() {
    // what reading the files of a run stopped part-way gives: chain 2 has fewer draws
    let chain = |n: usize| ChainDraws {
        lp: (0..n).map(|i| -(i as f64)).collect(),
        stats: vec![0.0; n],
        values: (0..n).map(|i| (i as f64 * 0.7).sin()).collect(),
        step_size: 0.5,
        inv_metric: vec![1.0],
    };
    let draws = Draws { names: vec!["mu".into()], stat_names: vec!["divergent__".into()], chains: vec![chain(6), chain(2)], ..Default::default() };
    let s = draws.summary();
    assert_eq!(s.n_draws(), 2);
    assert!(draws.warnings().iter().any(|w| w.contains("unequal lengths")), "{:?}", draws.warnings());
    // values shorter than their log densities (a draw cut in the middle) are not read past
    let mut cut = chain(4);
    cut.values.truncate(3);
    let draws = Draws { chains: vec![chain(4), cut], ..draws };
    assert_eq!(draws.summary().n_draws(), 3);
}

#[test]
fn a_count_of_another_length_than_the_data_is_a_shape_error() {
    let m = Binomial::new(&[1.0, 2.0, 3.0], &[5.0, 5.0]);
    let err = match m {
        Err(e) => e,
        Ok(m) => m.log_density(&[0.1]).unwrap_err(),
    };
    assert!(matches!(err, ModelError::Shape { .. }), "{err}");
    assert!(err.to_string().contains("2 values against 3 observations"), "{err}");
    // one count for all observations broadcasts
    let m = Binomial::new(&[1.0, 2.0, 3.0], &[5.0]).unwrap();
    assert!(m.log_density(&[0.1]).unwrap().is_finite());
}

#[test]
fn a_model_without_parameters_is_refused_by_name() {
    let m = NoParameters::new(&[0.3, -0.2]).unwrap();
    let cfg = RunConfig { chains: 2, warmup: 10, draws: 10, ..Default::default() };
    for err in [run(&Nuts::default(), &m, &cfg).unwrap_err(), run(&Mala::default(), &m, &cfg).unwrap_err()] {
        assert_eq!(setting(err.clone()), "dimension");
        assert!(err.to_string().contains("no parameters"), "{err}");
    }
    let err = run_smc(&Smc { particles: 10, runs: 1, ..Default::default() }, &m).unwrap_err();
    assert!(err.to_string().contains("no parameters"), "{err}");
}

#[test]
fn runs_too_large_for_memory_are_refused_before_they_start() {
    let m = NormalMean::new(&[0.3, -0.2]).unwrap();
    let huge = |cfg: RunConfig| setting(run(&Nuts::default(), &m, &cfg).unwrap_err());
    assert_eq!(huge(RunConfig { chains: usize::MAX, ..Default::default() }), "chains");
    assert_eq!(huge(RunConfig { chains: MAX_CHAINS + 1, ..Default::default() }), "chains");
    assert_eq!(huge(RunConfig { chains: 1, draws: usize::MAX, ..Default::default() }), "draws");
    assert_eq!(huge(RunConfig { chains: 1, warmup: usize::MAX, draws: 1, ..Default::default() }), "draws");
    let smc = Smc { particles: usize::MAX / 2, runs: 1, ..Default::default() };
    assert_eq!(setting(run_smc(&smc, &m).unwrap_err()), "particles");
}

#[test]
fn bad_metrics_are_refused() {
    assert!(Metric::dense(vec![1.0, 0.0, 0.0], 2).is_none(), "3 entries for a 2 × 2 matrix");
    assert!(Metric::dense(vec![1.0, 0.0, 0.0, 1.0], 2).is_some());
    let m = NormalMean::new(&[0.3, -0.2]).unwrap();
    let cfg = RunConfig { chains: 1, warmup: 0, draws: 10, ..Default::default() };
    for bad in [-1.0, 0.0, f64::NAN, f64::INFINITY] {
        let nuts = Nuts { init_metric: Some(Metric::Diag(vec![bad])), ..Default::default() };
        assert_eq!(setting(run(&nuts, &m, &cfg).unwrap_err()), "init_metric", "metric {bad}");
        assert_eq!(setting(run(&Nuts::resume(0.5, Metric::Diag(vec![bad])), &m, &cfg).unwrap_err()), "init_metric");
    }
    assert!(run(&Nuts::resume(0.5, Metric::Diag(vec![2.0])), &m, &cfg).is_ok());
}

#[model]
fn bounded(y: &[f64], lo: f64, hi: f64) {
    let s = sample!(Normal(0.0, 1.0), lower = lo, upper = hi);
    observe!(y ~ Normal(s, 1.0));
}

#[test]
fn bounds_that_leave_no_room_are_an_error_naming_the_parameter() {
    for (lo, hi) in [(1.0, 0.0), (0.5, 0.5)] {
        let err = Bounded::new(&[0.1], lo, hi).unwrap_err();
        assert!(matches!(err, ModelError::InvalidParameter { ref site, .. } if site == "s"), "{err}");
        assert!(err.to_string().contains("lower bound"), "{err}");
    }
    assert!(Bounded::new(&[0.1], 0.0, 1.0).is_ok());
}

#[test]
fn a_csv_with_a_byte_order_mark_reads_and_a_missing_kernel_file_says_so() {
    let dir = std::env::temp_dir().join(format!("snell-hardening-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let m = NormalMean::new(&[0.3, -0.2]).unwrap();
    let csv = snell::output::CsvWriter::new(&dir, "bom", "normal_mean");
    let cfg = RunConfig { chains: 1, warmup: 20, draws: 10, ..Default::default() };
    snell::sampler::run_observed(&Nuts::default(), &m, &cfg, &[&csv]).unwrap();
    let path = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|e| e == "csv")).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("\u{feff}{text}")).unwrap();
    let back = snell::output::read_cmdstan_csv(&[&path]).unwrap();
    assert_eq!(back.n_draws(), 10);
    std::fs::remove_dir_all(&dir).unwrap();
    let err = snell::sampler::l2hmc::load_networks::<2, 10>(dir.join("missing.safetensors")).unwrap_err();
    assert!(err.to_string().ends_with("no such file"), "{err}");
}

#[test]
fn an_l2hmc_kernel_without_hidden_units_is_refused() {
    use rand::SeedableRng;
    use snell::sampler::l2hmc::{L2hmc, Networks};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let nets = Networks::new(1, 0, 5, 0.1, &mut rng);
    let m = NormalMean::new(&[0.3, -0.2]).unwrap();
    let cfg = RunConfig { chains: 1, warmup: 0, draws: 5, ..Default::default() };
    assert_eq!(setting(run(&L2hmc::new(nets), &m, &cfg).unwrap_err()), "hidden");
}

#[test]
fn typed_parameters_from_values_of_another_length_are_a_dimension_error() {
    let m = NormalMean::new(&[0.3, -0.2]).unwrap();
    let n = m.param_names().len();
    let e = m.params_from_flat(&vec![0.5; n + 1]).unwrap_err();
    assert!(matches!(e, ModelError::Dimension { expected, got, .. } if expected == n && got == n + 1), "{e}");
    assert!(m.params_from_flat(&vec![0.5; n]).is_ok());
}

#[test]
fn a_csv_writer_serves_one_run_and_refuses_to_overwrite_it() {
    use snell::output::CsvWriter;
    use snell::sampler::{hmc::Hmc, run_observed};
    let m = NormalMean::new(&[0.3, -0.2]).unwrap();
    let dir = std::env::temp_dir().join(format!("snell-one-writer-{}", std::process::id()));
    let csv = CsvWriter::new(&dir, "normal", "normal_mean");
    assert!(format!("{csv:?}").contains("CsvWriter"), "public types print with Debug");
    let cfg = RunConfig { chains: 2, warmup: 10, draws: 10, seed: 1, init: None };
    run_observed(&Hmc::new(3), &m, &cfg, &[&csv]).unwrap();
    let first = std::fs::read_to_string(dir.join("normal-1.csv")).unwrap();
    let e = run_observed(&Hmc::new(3), &m, &RunConfig { seed: 2, ..cfg }, &[&csv]).unwrap_err();
    assert!(matches!(&e, SamplerError::Io { detail, .. } if detail.contains("one writer per run")), "{e}");
    assert_eq!(std::fs::read_to_string(dir.join("normal-1.csv")).unwrap(), first, "the first run's file is kept");
    std::fs::remove_dir_all(&dir).ok();
}

#[model]
fn improper(y: &[f64]) {
    let free = sample!(Flat());
    let mu = sample!(Normal(0.0, 1.0));
    observe!(y ~ Normal(mu, 1.0));
}

#[test]
fn variational_inference_warns_when_the_elbo_has_no_maximum() {
    use snell::vi::MeanFieldVi;
    let vi = MeanFieldVi { iterations: 4000, ..Default::default() };
    let bad = Improper::new(&[0.3, -0.2]).unwrap();
    let fit = vi.fit(&bad, 1).unwrap();
    let warnings = fit.warnings(&bad);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("free") && warnings[0].contains("proper"), "{}", warnings[0]);
    // a proper posterior: no warning
    let good = NormalMean::new(&[0.3, -0.2]).unwrap();
    let fit = vi.fit(&good, 1).unwrap();
    assert!(fit.warnings(&good).is_empty(), "{:?}", fit.warnings(&good));
}

#[test]
fn nutpie_on_an_improper_posterior_names_the_parameter() {
    use snell::sampler::nutpie::Nutpie;
    let m = Improper::new(&[0.3, -0.2]).unwrap();
    let e = run(&Nutpie::default(), &m, &RunConfig { chains: 1, warmup: 50, draws: 50, seed: 1, init: None }).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("free") && text.contains("improper"), "{text}");
}

#[model]
fn regression(x: &[f64], y: &[f64]) {
    let a = sample!(Normal(0.0, 10.0));
    let b = sample!(Normal(0.0, 10.0));
    let sigma = sample!(HalfNormal(2.0));
    observe!(y ~ Normal(a + b * x, sigma));
}

#[test]
fn an_unadjusted_sampler_says_its_draws_are_biased_and_a_stuck_chain_says_so() {
    use snell::sampler::langevin::{Baoab, LangevinParams};
    let x: Vec<f64> = (0..20).map(|i| i as f64 / 19.0).collect();
    let y: Vec<f64> = x.iter().map(|x| 1.0 + 2.0 * x + 0.1 * (7.0 * x).sin()).collect();
    let m = Regression::new(&x, &y).unwrap();
    let cfg = RunConfig { chains: 2, warmup: 200, draws: 200, seed: 1, init: None };
    let draws = run(&Baoab::workflow(), &m, &cfg).unwrap();
    assert!(draws.warnings().iter().any(|w| w.contains("without a Metropolis test") && w.contains("biased")), "{:?}", draws.warnings());
    // BAOAB's default is Metropolized, and its draws say nothing of the kind
    let adjusted = run(&Baoab::default(), &m, &cfg).unwrap();
    assert!(!adjusted.warnings().iter().any(|w| w.contains("without a Metropolis test")), "{:?}", adjusted.warnings());
    // ray tracing without its test says by how much: the acceptance the test would have had
    let rays = RayTracing { metropolis: false, ..RayTracing::new(0.8, 5) };
    let unadjusted = run(&rays, &m, &RunConfig { warmup: 0, ..cfg.clone() }).unwrap();
    let acc = unadjusted.stat("accept_stat__").unwrap().concat();
    let acc = 100.0 * acc.iter().sum::<f64>() / acc.len() as f64;
    assert!(acc < 99.0, "the check needs rejections the test would have made: {acc}%");
    let said = format!("would have accepted {acc:.1}% of these transitions");
    assert!(unadjusted.warnings().iter().any(|w| w.contains(&said)), "no `{said}` in {:?}", unadjusted.warnings());
    // exact samplers do not say so
    let exact = run(&Nuts::default(), &m, &cfg).unwrap();
    assert!(!exact.warnings().iter().any(|w| w.contains("without a Metropolis test")), "{:?}", exact.warnings());
    // a step so large that every transition diverges leaves the chains where they started
    let stuck = run(&Baoab::constant(LangevinParams { step_size: 1e6, gamma: 1.0, mass: 1.0, beta: 1.0 }), &m, &RunConfig { warmup: 0, ..cfg.clone() }).unwrap();
    assert!(stuck.warnings().iter().any(|w| w.contains("never moved")), "{:?}", stuck.warnings());
    assert!(!exact.warnings().iter().any(|w| w.contains("never moved")));
}

#[test]
fn a_missing_file_keeps_its_io_error_as_the_source() {
    use std::error::Error;
    let e = snell::output::read_cmdstan_csv(&[std::path::PathBuf::from("/nonexistent/snell/chain_1.csv")]).unwrap_err();
    let SamplerError::Io { source: Some(cause), .. } = &e else { panic!("{e:?}") };
    assert_eq!(cause.error().kind(), std::io::ErrorKind::NotFound);
    assert!(e.source().is_some(), "the error chain reaches the operating system's error");
}

#[test]
fn smc_on_data_whose_likelihood_overflows_stops_at_once_and_says_why() {
    let m = Regression::new(&[1.0, 2.0], &[1e300, 0.0]).unwrap();
    // (it used to run its 100,000 stages first, seconds, and then say only that λ stayed at 0)
    let e = run_smc(&Smc { particles: 8, runs: 1, ..Smc::default() }, &m).unwrap_err();
    assert!(matches!(&e, SamplerError::Setting { name: "schedule", detail } if detail.contains("cannot move λ") && detail.contains("8 of 8")), "{e}");
}

/// The native backend's buffers do not outlive the run that needed them: after a run, neither the
/// calling thread nor the threads that ran its chains keep any.
#[test]
fn a_run_frees_the_buffers_its_evaluations_kept() {
    use snell::backend::Native;
    use snell::target::FnDensity;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let y: Vec<f64> = (0..5000).map(|i| (i as f64 * 0.37).sin()).collect();
    let m = NormalMean::new(&y).unwrap();
    let mut g = vec![0.0; m.dim()];
    m.logp_grad(&[0.3], &mut g).unwrap();
    assert!(Native::kept_bytes() > 0, "the check needs an evaluation that keeps buffers");
    let cfg = RunConfig { chains: 4, warmup: 20, draws: 20, seed: 1, init: None };
    run(&Nuts::default(), &m, &cfg).unwrap();
    assert_eq!(Native::kept_bytes(), 0, "the calling thread");
    // a second run whose target evaluates nothing natively sees what the first run's threads kept
    let kept = AtomicUsize::new(0);
    let probe = FnDensity::new(1, |q: &[f64], g: &mut [f64]| {
        kept.fetch_max(Native::kept_bytes(), Ordering::Relaxed);
        g[0] = -q[0];
        -0.5 * q[0] * q[0]
    });
    run(&Nuts::default(), &probe, &cfg).unwrap();
    assert_eq!(kept.load(Ordering::Relaxed), 0, "bytes kept by a worker thread after the first run");
}
