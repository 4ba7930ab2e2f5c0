//! CmdStan CSV output: what [`CsvWriter`] writes reads back ([`read_cmdstan_csv`]) to exactly the
//! draws the run returned, a run stopped early leaves a readable file of its finished draws,
//! malformed files are errors that name the file and the line, and a file written by CmdStan reads.
//!
//! The ecosystem check (cmdstanpy and ArviZ read every sampler's files) is
//! `scripts/check_cmdstan_csv.py`, run by `cmdstanpy_and_arviz_read_every_samplers_files` where
//! Python is at hand; the ignored test `write_csv_for_python_check` writes its input by hand.

use snell::output::{read_cmdstan_csv, CsvWriter};
use snell::prelude::*;
use snell::sampler::hmc::Hmc;
use snell::sampler::nuts::Nuts;
use snell::sampler::ray_tracing::{Integrator, RayTracing, Weighting};
use snell::sampler::{run, run_observed, Draws, Observer, Phase, RunConfig, SamplerError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

const Y: [f64; 8] = [28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0];
const SIGMA: [f64; 8] = [15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0];

#[model]
fn eight_schools(y: &[f64], sigma: &[f64]) {
    let mu = sample!(Normal(0.0, 5.0));
    let tau = sample!(HalfCauchy(5.0));
    let theta_raw = sample!([y.len()] ~ Normal(0.0, 1.0));
    observe!(y ~ Normal(mu + tau * theta_raw, sigma));
}

/// A fresh, empty folder for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("snell-output-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn short_run(seed: u64) -> RunConfig {
    RunConfig { chains: 3, warmup: 150, draws: 60, seed, init: None }
}

/// Runs with a [`CsvWriter`], reads the files back and checks they equal the returned draws.
fn round_trip(test: &str, sampler: &impl snell::sampler::Sampler, cfg: &RunConfig) -> (Draws, Vec<PathBuf>) {
    let dir = scratch(test);
    let m = EightSchools::new(&Y, &SIGMA).unwrap();
    let csv = CsvWriter::new(&dir, "eight_schools", "eight_schools_model");
    let draws = run_observed(sampler, &m, cfg, &[&csv]).unwrap();
    let paths = csv.paths(cfg.chains);
    let read = read_cmdstan_csv(&paths).unwrap();
    // field by field first, for readable failures
    assert_eq!(read.names, draws.names);
    assert_eq!(read.stat_names, draws.stat_names);
    assert_eq!((read.sampler.as_str(), read.warmup), (draws.sampler.as_str(), draws.warmup));
    assert_eq!(read.settings, draws.settings);
    for (c, (r, d)) in read.chains.iter().zip(&draws.chains).enumerate() {
        assert_eq!(r.step_size.to_bits(), d.step_size.to_bits(), "chain {c} step size");
        assert_eq!(r.inv_metric, d.inv_metric, "chain {c} inverse metric");
        assert_eq!(r.lp, d.lp, "chain {c} lp__");
        assert_eq!(r.stats, d.stats, "chain {c} statistics");
        assert_eq!(r.values, d.values, "chain {c} values");
    }
    assert_eq!(read, draws);
    (draws, paths)
}

/// Draws that exist already (SMC's weighted particles, variational draws) are written as the same
/// files and read back to themselves; a writer that has written once refuses a second time.
#[test]
fn smc_and_variational_draws_are_written_after_the_fact_and_read_back() {
    use snell::sampler::smc::{run_smc, Smc};
    use snell::vi::MeanFieldVi;
    let m = EightSchools::new(&Y, &SIGMA).unwrap();
    let smc = run_smc(&Smc { particles: 200, runs: 2, ..Smc::default() }, &m).unwrap().draws;
    let vi = MeanFieldVi { iterations: 2000, ..Default::default() }.fit(&m, 1).unwrap().draws(&m, 2, 100, 2).unwrap();
    assert!(smc.stat_names.iter().any(|s| s == "log_weight__"));
    for (name, draws) in [("smc", &smc), ("vi", &vi)] {
        let dir = scratch(&format!("after-{name}"));
        let csv = CsvWriter::new(&dir, name, "eight_schools_model");
        let paths = csv.write(draws, 7).unwrap();
        assert_eq!(paths.len(), draws.chains.len());
        let read = read_cmdstan_csv(&paths).unwrap();
        assert_eq!((&read.names, &read.stat_names, &read.sampler, &read.settings), (&draws.names, &draws.stat_names, &draws.sampler, &draws.settings), "{name}");
        for (c, (r, d)) in read.chains.iter().zip(&draws.chains).enumerate() {
            assert_eq!((&r.lp, &r.stats, &r.values), (&d.lp, &d.stats, &d.values), "{name}: chain {c}");
        }
        let again = csv.write(draws, 7).unwrap_err();
        assert!(matches!(&again, SamplerError::Io { detail, .. } if detail.contains("already written")), "{again}");
        clean(&dir);
    }
}

/// Removes a test's folder (left behind when the test fails, for a look).
fn clean(path: &Path) {
    let _ = std::fs::remove_dir_all(if path.extension().is_some() { path.parent().unwrap() } else { path });
}

#[test]
fn written_files_read_back_to_the_draws_of_the_run() {
    let cfg = short_run(1);
    let (draws, paths) = round_trip("nuts", &Nuts::default(), &cfg);
    assert_eq!(paths.iter().map(|p| p.file_name().unwrap().to_str().unwrap()).collect::<Vec<_>>(), ["eight_schools-1.csv", "eight_schools-2.csv", "eight_schools-3.csv"]);
    assert_eq!(draws.names.len(), 10);
    assert_eq!(draws.n_draws(), 60);

    let text = std::fs::read_to_string(&paths[1]).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for want in [
        "# stan_version_major = 2",
        "# model = eight_schools_model",
        "# method = sample (Default)",
        "#     num_samples = 60",
        "#     num_warmup = 150",
        "#     save_warmup = 0",
        "#       engaged = 1",
        "#     algorithm = hmc (Default)",
        "#         engine = nuts",
        "#             max_depth = 10",
        "#         metric = diag_e",
        "# id = 2",
        "#   seed = 1",
        "# Adaptation terminated",
        "# Diagonal elements of inverse mass matrix:",
        "#  Elapsed Time: ",
    ] {
        assert!(lines.iter().any(|l| l.starts_with(want)), "no line `{want}` in\n{text}");
    }
    let columns = lines.iter().find(|l| !l.starts_with('#')).unwrap();
    assert_eq!(
        *columns,
        "lp__,accept_stat__,stepsize__,treedepth__,n_leapfrog__,divergent__,energy__,mu,tau,theta_raw.1,theta_raw.2,theta_raw.3,theta_raw.4,theta_raw.5,theta_raw.6,theta_raw.7,theta_raw.8"
    );
    // integers as integers
    let row: Vec<&str> = lines.iter().filter(|l| !l.starts_with('#')).nth(1).unwrap().split(',').collect();
    assert_eq!(row.len(), 17);
    for s in &row[3..6] {
        assert!(s.parse::<u64>().is_ok(), "treedepth__, n_leapfrog__, divergent__ should be integers: {row:?}");
    }
    clean(&paths[0]);
}

#[test]
fn dense_metric_and_static_hmc_read_back() {
    let (draws, paths) = round_trip("dense", &Nuts::dense(), &short_run(2));
    assert_eq!(draws.chains[0].inv_metric.len(), 100);
    let text = std::fs::read_to_string(&paths[0]).unwrap();
    assert!(text.contains("#         metric = dense_e\n"));
    assert!(text.contains("# Elements of inverse mass matrix:\n"));
    assert_eq!(text.lines().filter(|l| l.starts_with("# ") && l.matches(", ").count() == 9).count(), 10, "ten rows of ten");
    clean(&paths[0]);

    let (draws, hmc_paths) = round_trip("hmc", &Hmc::new(5), &short_run(3));
    assert_eq!(draws.sampler, "hmc");
    assert!(!draws.stat_names.iter().any(|s| s == "treedepth__"));
    clean(&hmc_paths[0]);

    // no warmup: the adaptation block holds the initial step size and the unit metric
    let (_, paths) = round_trip("nowarmup", &Nuts::default(), &RunConfig { warmup: 0, ..short_run(4) });
    clean(&paths[0]);
}

/// The ray tracing sampler's per-draw statistics (acceptance, step size, steps per trajectory,
/// gradients, divergence, predicted change of ln L and the error of the prediction, measured
/// change of direction per step) are written as CmdStan-style
/// columns and read back unchanged; weighted rays add `log_weight__`.
#[test]
fn ray_tracing_statistics_read_back() {
    let rt = RayTracing { integrator: Integrator::Omelyan, ..RayTracing::new(0.3, 5) };
    let (draws, paths) = round_trip("ray_tracing", &rt, &short_run(5));
    assert_eq!(draws.sampler, "ray_tracing");
    let want = ["accept_stat__", "stepsize__", "n_steps__", "n_grad__", "divergent__", "dlnL_pred__", "dlnL_err__", "dphi__"];
    assert_eq!(draws.stat_names, want);
    let text = std::fs::read_to_string(&paths[0]).unwrap();
    let columns = text.lines().find(|l| !l.starts_with('#')).unwrap();
    assert!(columns.starts_with(&format!("lp__,{},mu,tau", want.join(","))), "{columns}");
    for setting in ["integrator = omelyan", "n_steps = 5", "metropolis = true"] {
        assert!(text.contains(setting), "no `{setting}` in the header");
    }
    // the values are those of the run: the adapted dt after warmup, 5 steps, 2 gradients per step
    let c = &draws.chains[0];
    assert!(draws.stat("stepsize__").unwrap()[0].iter().all(|s| *s == c.step_size));
    assert!(draws.stat("n_steps__").unwrap()[0].iter().all(|s| *s == 5.0));
    assert!(draws.stat("n_grad__").unwrap()[0].iter().all(|s| *s == 10.0));
    let acc = draws.stat("accept_stat__").unwrap().concat();
    assert!(acc.iter().all(|a| (0.0..=1.0).contains(a)) && acc.iter().any(|a| *a < 1.0));
    clean(&paths[0]);

    // weighted rays add log_weight__ (ln W of each draw), and the header names the weighting
    let micro = RayTracing { weighting: Weighting::Microcanonical, ..Default::default() };
    let (draws, paths) = round_trip("ray_tracing_weighted", &micro, &short_run(6));
    assert_eq!(draws.stat_names.last().map(String::as_str), Some("log_weight__"));
    let text = std::fs::read_to_string(&paths[0]).unwrap();
    assert!(text.contains("weighting = microcanonical"));
    // W = L^(1/D): log_weight__ = lp__ / D
    let (lw, lp) = (&draws.stat("log_weight__").unwrap()[0], &draws.chains[0].lp);
    assert!(lw.iter().zip(lp).all(|(w, l)| (w - l / 10.0).abs() < 1e-9 * (1.0 + l.abs())));
    clean(&paths[0]);
}

/// Stops each chain with an error at its sampling draw `k + 1`; put before the writer, which then
/// never sees that draw.
struct StopAfter {
    k: usize,
    seen: Vec<AtomicUsize>,
}

impl Observer for StopAfter {
    fn draw(&self, chain: usize, phase: Phase, _: f64, _: &[f64], _: &[f64], _: bool) -> Result<(), SamplerError> {
        if phase == Phase::Sampling && self.seen[chain].fetch_add(1, Ordering::SeqCst) == self.k {
            return Err(SamplerError::io("stop", "stopped on purpose"));
        }
        Ok(())
    }
}

#[test]
fn a_stopped_run_leaves_files_with_its_finished_draws() {
    let dir = scratch("stopped");
    let m = EightSchools::new(&Y, &SIGMA).unwrap();
    let cfg = short_run(5);
    let k = 17;
    let stop = StopAfter { k, seen: (0..cfg.chains).map(|_| AtomicUsize::new(0)).collect() };
    let csv = CsvWriter::new(&dir, "stopped", "eight_schools_model");
    let err = run_observed(&Nuts::default(), &m, &cfg, &[&stop, &csv]).unwrap_err();
    assert!(err.to_string().contains("stopped on purpose"), "{err}");

    let paths = csv.paths(cfg.chains);
    let text = std::fs::read_to_string(&paths[0]).unwrap();
    assert!(!text.contains("Elapsed Time"), "a stopped chain has no timing block");
    let read = read_cmdstan_csv(&paths).unwrap();
    // the same seed without the stop: the files hold its first k draws
    let full = run(&Nuts::default(), &m, &cfg).unwrap();
    let (d, s) = (full.names.len(), full.stat_names.len());
    for (c, (r, f)) in read.chains.iter().zip(&full.chains).enumerate() {
        assert_eq!(r.lp.len(), k, "chain {c}");
        assert_eq!(r.lp, f.lp[..k], "chain {c}");
        assert_eq!(r.stats, f.stats[..k * s], "chain {c}");
        assert_eq!(r.values, f.values[..k * d], "chain {c}");
        assert_eq!(r.step_size, f.step_size, "chain {c}");
    }

    // killed during warmup: a header and nothing else reads as a chain without draws
    std::fs::write(dir.join("warmup.csv"), text.split("# Adaptation terminated").next().unwrap()).unwrap();
    let read = read_cmdstan_csv(&[dir.join("warmup.csv")]).unwrap();
    assert_eq!(read.names, full.names);
    assert!(read.chains[0].lp.is_empty() && read.chains[0].inv_metric.is_empty());

    // a row cut off by the kill (no newline) is skipped
    let cut = &text[..text.trim_end().rfind('\n').unwrap() + 12];
    std::fs::write(dir.join("cut.csv"), cut).unwrap();
    assert_eq!(read_cmdstan_csv(&[dir.join("cut.csv")]).unwrap().chains[0].lp, full.chains[0].lp[..k - 1]);
    clean(&dir);
}

const GOOD: &str = "# model = m
# num_warmup = 10
# algorithm = hmc
# engine = nuts
lp__,accept_stat__,stepsize__,theta[1],theta[2],b[1,2]
# Adaptation terminated
# Step size = 0.5
# Diagonal elements of inverse mass matrix:
# 1, 2, 3
-1.5,0.9,0.5,1,2,3
-2,1,0.5,nan,-inf,1e-7
# 
#  Elapsed Time: 0.1 seconds (Warm-up)
";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn hand_written_files_with_brackets_read() {
    let dir = scratch("brackets");
    let draws = read_cmdstan_csv(&[write(&dir, "good.csv", GOOD)]).unwrap();
    assert_eq!(draws.names, ["theta.1", "theta.2", "b.1.2"]);
    assert_eq!(draws.stat_names, ["accept_stat__", "stepsize__"]);
    assert_eq!((draws.sampler.as_str(), draws.warmup), ("nuts", 10));
    let c = &draws.chains[0];
    assert_eq!((c.lp.as_slice(), c.step_size, c.inv_metric.as_slice()), ([-1.5, -2.0].as_slice(), 0.5, [1.0, 2.0, 3.0].as_slice()));
    assert_eq!(c.values[..3], [1.0, 2.0, 3.0]);
    assert!(c.values[3].is_nan() && c.values[4] == f64::NEG_INFINITY && c.values[5] == 1e-7);

    // saved warmup rows (before the adaptation block) are skipped
    let with_warmup = GOOD.replace("# Adaptation terminated", "-9,0.1,2,0,0,0\n-8,0.2,1,0,0,0\n# Adaptation terminated");
    let draws = read_cmdstan_csv(&[write(&dir, "warmup.csv", &with_warmup)]).unwrap();
    assert_eq!(draws.chains[0].lp, [-1.5, -2.0]);
    clean(&dir);
}

#[test]
fn malformed_files_are_errors_naming_file_and_line() {
    let dir = scratch("malformed");
    let cases: &[(&str, String, &str)] = &[
        ("no_columns.csv", "# model = m\n# comments only\n".into(), "no column line"),
        ("no_lp.csv", "a,b\n1,2\n".into(), "line 1: the column line has no `lp__`"),
        ("short_row.csv", GOOD.replace("-2,1,0.5,", "-2,1,"), "line 11: 5 values, the column line has 6 columns"),
        ("long_row.csv", GOOD.replace("-1.5,0.9,0.5,", "-1.5,0.9,0.5,7,"), "line 10: 7 values, the column line has 6 columns"),
        ("not_a_number.csv", GOOD.replace("0.9,0.5,1,", "0.9,0.5,x1,"), "line 10: column `theta.1`: `x1` is not a number"),
        ("bad_step.csv", GOOD.replace("Step size = 0.5", "Step size = big"), "line 7: step size `big` is not a number"),
        ("bad_metric.csv", GOOD.replace("# 1, 2, 3", "# 1, two, 3"), "line 9: inverse metric: `two` is not a number"),
        ("missing_metric.csv", GOOD.replace("# 1, 2, 3\n", ""), "line 9: expected the inverse metric"),
        (
            "ragged_dense.csv",
            GOOD.replace("# Diagonal elements of inverse mass matrix:\n# 1, 2, 3", "# Elements of inverse mass matrix:\n# 1, 0, 0\n# 0, 2\n# 0, 0, 3"),
            "line 10: inverse metric row 2 has 2 elements, the first has 3",
        ),
        ("twice.csv", GOOD.replace("theta[2]", "theta[1]"), "line 5: column `theta.1` appears twice"),
    ];
    for (name, text, want) in cases {
        let path = write(&dir, name, text);
        let err = read_cmdstan_csv(&[&path]).unwrap_err();
        let SamplerError::Io { path: p, detail, .. } = &err else { panic!("{name}: {err:?}") };
        assert_eq!(p, &path.display().to_string(), "{name}");
        assert!(detail.starts_with(want), "{name}: got `{detail}`, want `{want}…`");
        assert!(err.to_string().contains(name), "{err}");
    }

    // files whose columns differ
    let a = write(&dir, "a.csv", GOOD);
    let b = write(&dir, "b.csv", &GOOD.replace("b[1,2]", "c"));
    let err = read_cmdstan_csv(&[&a, &b]).unwrap_err().to_string();
    assert!(err.contains("b.csv") && err.contains("columns differ") && err.contains("a.csv"), "{err}");
    // no file, and no files
    let err = read_cmdstan_csv(&[dir.join("missing.csv")]).unwrap_err().to_string();
    assert!(err.contains("missing.csv"), "{err}");
    assert!(read_cmdstan_csv(&[] as &[PathBuf]).is_err());
    clean(&dir);
}

/// `tests/data/cmdstanpy-bern-1.csv` is `test/data/runset-good/bern-1.csv` of cmdstanpy
/// (https://github.com/stan-dev/cmdstanpy, BSD-3-Clause), written by CmdStan 2.37: the bernoulli
/// example, 100 draws of one chain.
#[test]
fn a_cmdstan_file_reads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cmdstanpy-bern-1.csv");
    let draws = read_cmdstan_csv(&[path]).unwrap();
    assert_eq!(draws.names, ["theta"]);
    assert_eq!(draws.stat_names, ["accept_stat__", "stepsize__", "treedepth__", "n_leapfrog__", "divergent__", "energy__"]);
    assert_eq!((draws.sampler.as_str(), draws.warmup, draws.n_draws()), ("nuts", 1000, 100));
    let settings: Vec<(&str, &str)> = draws.settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(settings, [("engine", "nuts"), ("max_depth", "10"), ("metric", "diag_e"), ("delta", "0.8")]);
    let c = &draws.chains[0];
    assert_eq!((c.step_size, c.inv_metric.as_slice()), (0.766137, [0.567537].as_slice()));
    assert_eq!((c.lp[0], c.values[0], c.values[99]), (-6.80017, 0.21115047, 0.070365832));
    assert_eq!(c.stats[..6], [0.96223506, 0.76613686, 2.0, 3.0, 0.0, 7.2971456]);
    assert_eq!(draws.divergences(), 0);
    let mean = draws.mean("theta").unwrap();
    assert!((0.2..0.3).contains(&mean), "{mean}");
}

/// cmdstanpy 1.3.2 and ArviZ 0.23.4 read the files of every sampler that runs through [`run`],
/// and ArviZ those of SMC and VI written by [`CsvWriter::write`] (`scripts/check_cmdstan_csv.py`:
/// shapes, names, every number bit for bit, step sizes and metrics), in a virtual environment
/// made under the build folder on first use. Skipped, saying
/// why, where `python3` cannot make one or `pip` cannot install the two packages (no network),
/// or when `SNELL_SKIP_PYTHON` is set.
#[test]
fn cmdstanpy_and_arviz_read_every_samplers_files() {
    use std::process::Command;
    if std::env::var_os("SNELL_SKIP_PYTHON").is_some() {
        eprintln!("skipped: SNELL_SKIP_PYTHON is set");
        return;
    }
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cmdstanpy-venv");
    let python = venv.join("bin").join("python");
    let ready = |python: &Path| Command::new(python).args(["-c", "import cmdstanpy, arviz"]).output().is_ok_and(|o| o.status.success());
    if !ready(&python) {
        let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).output();
        if !made.as_ref().is_ok_and(|o| o.status.success()) {
            eprintln!("skipped: `python3 -m venv` failed ({:?})", made.map(|o| String::from_utf8_lossy(&o.stderr).into_owned()));
            return;
        }
        let pip = Command::new(&python).args(["-m", "pip", "install", "-q", "cmdstanpy==1.3.2", "arviz==0.23.4"]).output();
        if !pip.as_ref().is_ok_and(|o| o.status.success()) || !ready(&python) {
            eprintln!("skipped: pip could not install cmdstanpy and arviz ({:?})", pip.map(|o| String::from_utf8_lossy(&o.stderr).into_owned()));
            return;
        }
    }
    let dir = scratch("python");
    write_every_sampler(&dir);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts").join("check_cmdstan_csv.py");
    let out = Command::new(&python).arg(&script).arg(&dir).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}");
    assert!(out.status.success() && text.contains("all checks passed"), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    for sampler in ["nuts", "hmc", "mala", "ray_tracing", "rwm", "baoab", "smc", "meanfield"] {
        assert!(text.contains(&format!(": {sampler}, 4 chains")), "{sampler} was not checked");
    }
    clean(&dir);
}

/// Writes eight-schools CSV files of every sampler that runs through [`run`] (NUTS with a
/// diagonal and a dense metric, static HMC, MALA, ray tracing, random-walk Metropolis, BAOAB, its
/// unadjusted form) and the draws as JSON for `scripts/check_cmdstan_csv.py`:
/// `SNELL_CSV_DIR=/tmp/snell-csv cargo test --release --test output -p snell-examples --
/// --ignored write_csv_for_python_check`.
#[test]
#[ignore = "writes input for scripts/check_cmdstan_csv.py"]
fn write_csv_for_python_check() {
    write_every_sampler(&PathBuf::from(std::env::var("SNELL_CSV_DIR").unwrap_or_else(|_| "/tmp/snell-csv".into())));
}

/// The files and JSON of every sampler's run into `dir`.
fn write_every_sampler(dir: &Path) {
    use snell::sampler::langevin::{Baoab, LangevinParams};
    use snell::sampler::mala::Mala;
    use snell::sampler::rwm::RandomWalkMetropolis;
    let m = EightSchools::new(&Y, &SIGMA).unwrap();
    write_run(dir, "eight_schools", &Nuts::default(), &m);
    write_run(dir, "eight_schools_dense", &Nuts::dense(), &m);
    write_run(dir, "eight_schools_hmc", &Hmc::new(10), &m);
    write_run(dir, "eight_schools_mala", &Mala::default(), &m);
    write_run(dir, "eight_schools_rays", &RayTracing::default(), &m);
    write_run(dir, "eight_schools_rwm", &RandomWalkMetropolis::default(), &m);
    write_run(dir, "eight_schools_baoab", &Baoab::default(), &m);
    write_run(dir, "eight_schools_baoab_unadjusted", &Baoab::constant(LangevinParams { step_size: 0.05, gamma: 1.0, mass: 1.0, beta: 1.0 }), &m);
    // SMC's particles (4 runs × 200) and variational draws, written after the fact; ArviZ reads
    // them, cmdstanpy 1.3.2 does not: it refuses num_warmup = 0 ("Must specify iter_warmup > 0
    // when adapt_engaged=True", whatever the file's adapt engaged says)
    let smc = snell::sampler::smc::run_smc(&snell::sampler::smc::Smc { particles: 200, runs: 4, ..Default::default() }, &m).unwrap().draws;
    write_draws(dir, "eight_schools_smc", &smc);
    let vi = snell::vi::MeanFieldVi { iterations: 2000, ..Default::default() }.fit(&m, 1).unwrap().draws(&m, 4, 200, 2).unwrap();
    write_draws(dir, "eight_schools_vi", &vi);
}

/// Draws written with [`CsvWriter::write`] and as JSON, for the Python check.
fn write_draws(dir: &Path, prefix: &str, draws: &Draws) {
    let files = CsvWriter::new(dir, prefix, "eight_schools_model").write(draws, 7).unwrap();
    write_json(dir, prefix, draws, files);
}

/// One run's CSV files and its draws as JSON, for the Python check.
fn write_run<S: snell::sampler::Sampler>(dir: &Path, prefix: &str, sampler: &S, m: &EightSchools) {
    let csv = CsvWriter::new(dir, prefix, "eight_schools_model");
    let cfg = RunConfig { chains: 4, warmup: 300, draws: 200, seed: 11, init: None };
    let draws = run_observed(sampler, m, &cfg, &[&csv]).unwrap();
    write_json(dir, prefix, &draws, csv.paths(cfg.chains));
}

/// What the Python check compares the files with.
fn write_json(dir: &Path, prefix: &str, draws: &Draws, files: Vec<PathBuf>) {
    let chains: Vec<_> = draws
        .chains
        .iter()
        .map(|c| serde_json::json!({"lp": c.lp, "stats": c.stats, "values": c.values, "step_size": c.step_size, "inv_metric": c.inv_metric}))
        .collect();
    let json = serde_json::json!({
        "sampler": draws.sampler,
        "warmup": draws.warmup,
        "files": files,
        "names": draws.names,
        "stat_names": draws.stat_names,
        "dense": prefix.ends_with("dense"),
        "chains": chains,
    });
    std::fs::write(dir.join(format!("{prefix}.json")), serde_json::to_string(&json).unwrap()).unwrap();
}
