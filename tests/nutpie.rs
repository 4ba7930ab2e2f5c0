//! NUTS with nutpie's adaptation (nuts-rs behind snell's sampler interface): invariance from exact
//! draws, seeded reproducibility across thread counts, statistics and output, errors. Its recovery
//! of posteriordb references is in `tests/posteriordb.rs`.

mod common;
use common::{check_invariance, check_thread_reproducibility, diag_gaussian, exact_inits, std_normal};
use snell::output::{read_cmdstan_csv, CsvWriter};
use snell::sampler::nutpie::Nutpie;
use snell::sampler::{run, run_observed, RunConfig, SamplerError};
use snell::target::FnDensity;
use snell::ModelError;

#[test]
fn nutpie_leaves_a_100d_standard_normal_invariant() {
    let (d, chains) = (100, 64);
    let target = std_normal(d);
    let cfg = RunConfig { chains, warmup: 0, draws: 20, seed: 3, init: Some(exact_inits(chains, d, 4)) };
    let draws = run(&Nutpie::default(), &target, &cfg).unwrap();
    check_invariance(&draws, d);
}

#[test]
fn nutpie_adapts_to_an_ill_conditioned_gaussian() {
    // variances 0.01 … 100: the adapted inverse metric must follow them, the moments must be right
    let d = 5;
    let var: Vec<f64> = (0..d).map(|i| 10f64.powf(-2.0 + i as f64)).collect();
    let target = diag_gaussian(var.clone());
    let draws = run(&Nutpie::default(), &target, &RunConfig { chains: 4, warmup: 1000, draws: 1000, seed: 9, init: None }).unwrap();
    let summary = draws.summary();
    for (i, row) in summary.rows().iter().skip(1).enumerate() {
        let sd = var[i].sqrt();
        assert!(row.mean.abs() < 4.0 * row.mcse_mean + 0.02 * sd, "{}: mean {} (mcse {})", row.name, row.mean, row.mcse_mean);
        assert!((row.sd / sd - 1.0).abs() < 0.1, "{}: sd {} vs {sd}", row.name, row.sd);
        assert!(row.rhat < 1.01, "{}: R-hat {}", row.name, row.rhat);
    }
    let m = &draws.chains[0].inv_metric;
    for i in 0..d {
        assert!((m[i] / var[i]).ln().abs() < 0.5f64.ln().abs(), "inverse metric {m:?} does not follow the variances {var:?}");
    }
    let depth = draws.stat("treedepth__").unwrap().concat();
    assert!(depth.iter().sum::<f64>() / (depth.len() as f64) < 4.0, "adapted trees should be short");
}

#[test]
fn same_seed_same_draws_whatever_the_thread_count() {
    check_thread_reproducibility(&Nutpie::default());
}

#[test]
fn statistics_have_cmdstan_names_and_reach_the_csv() {
    let target = std_normal(3);
    let cfg = RunConfig { chains: 2, warmup: 200, draws: 100, seed: 4, init: None };
    let dir = std::env::temp_dir().join("snell-nutpie-csv");
    let csv = CsvWriter::new(&dir, "std_normal", "std_normal");
    let draws = run_observed(&Nutpie::default(), &target, &cfg, &[&csv]).unwrap();
    assert_eq!(draws.stat_names, ["accept_stat__", "stepsize__", "treedepth__", "n_leapfrog__", "divergent__", "energy__"]);
    for name in &draws.stat_names {
        assert!(draws.stat(name).unwrap().concat().iter().all(|v| v.is_finite()), "{name} has non-finite values");
    }
    let accept = draws.stat("accept_stat__").unwrap().concat();
    assert!(accept.iter().all(|a| (0.0..=1.0).contains(a)));
    let back = read_cmdstan_csv(&csv.paths(cfg.chains)).unwrap();
    assert_eq!(back.chains[1].values, draws.chains[1].values);
    assert_eq!(back.stat("n_leapfrog__"), draws.stat("n_leapfrog__"));
    assert_eq!(back.sampler, "nutpie");
}

#[test]
fn divergences_are_counted_not_fatal() {
    // a density that is -inf on half the plane: the steps that leave it are divergent
    let target = FnDensity::new(2, |q: &[f64], g: &mut [f64]| {
        g[0] = -q[0];
        g[1] = -q[1];
        if q[0] > 1.5 { f64::NEG_INFINITY } else { -0.5 * (q[0] * q[0] + q[1] * q[1]) }
    });
    let draws = run(&Nutpie::default(), &target, &RunConfig { chains: 1, warmup: 200, draws: 300, seed: 2, init: Some(vec![vec![0.3, -0.2]]) }).unwrap();
    assert!(draws.chains[0].values.chunks(2).all(|x| x[0] <= 1.5));
    assert!(draws.divergences() > 0);
}

#[test]
fn bad_settings_and_model_errors_are_errors() {
    let target = std_normal(2);
    let cfg = RunConfig { chains: 1, warmup: 10, draws: 10, ..Default::default() };
    let bad = Nutpie { target_accept: 1.0, ..Default::default() };
    assert!(matches!(run(&bad, &target, &cfg), Err(SamplerError::Setting { name: "target_accept", .. })));
    let bad = Nutpie { max_depth: 0, ..Default::default() };
    assert!(matches!(run(&bad, &target, &cfg), Err(SamplerError::Setting { name: "max_depth", .. })));
    // a model error raised while sampling reaches the caller as it is
    struct Failing;
    impl snell::target::Target for Failing {
        fn dim(&self) -> usize {
            2
        }
        fn logp_grad_batch(&self, q: &[f64], lp: &mut [f64], grad: &mut [f64]) -> Result<(), ModelError> {
        snell::target::logp_grad_rows(self.dim(), q, lp, grad, |q, g| self.logp_grad(q, g))
    }
    fn logp_grad(&self, q: &[f64], g: &mut [f64]) -> Result<f64, ModelError> {
            if q[0].abs() > 0.5 {
                return Err(ModelError::Data { name: "x".into(), detail: "out of range".into() });
            }
            g.iter_mut().zip(q).for_each(|(g, q)| *g = -q);
            Ok(-0.5 * (q[0] * q[0] + q[1] * q[1]))
        }
        fn names(&self) -> Vec<String> {
            vec!["a".into(), "b".into()]
        }
        fn output_values(&self, q: &[f64]) -> Result<Vec<f64>, ModelError> {
            Ok(q.to_vec())
        }
    }
    let r = run(&Nutpie::default(), &Failing, &RunConfig { chains: 1, warmup: 100, draws: 100, seed: 1, init: Some(vec![vec![0.1, -0.2]]) });
    assert!(matches!(r, Err(SamplerError::Model(ModelError::Data { .. }))), "{r:?}");
}
