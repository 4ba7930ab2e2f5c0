//! [`CsvWriter`]: CmdStan's sampler CSV, one file per chain, written while the chains run.

use crate::sampler::{ChainStart, Draws, Observer, Phase, RunConfig, SamplerError};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// Writes a run as CmdStan sampler CSV files, `<dir>/<prefix>-<chain+1>.csv` (CmdStan's
/// `output_1.csv`, …), readable by cmdstanpy (`from_csv`), ArviZ (`from_cmdstan`) and
/// [`read_cmdstan_csv`](super::read_cmdstan_csv) (`scripts/check_cmdstan_csv.py` checks the first
/// two).
///
/// Each file is opened when its chain starts, gets the configuration header and the column line
/// (`lp__`, the sampler's statistics, the values), then the adaptation block (`# Adaptation
/// terminated`, step size, inverse metric) after warmup, one row per draw, flushed as it is written
/// (a run that is killed keeps every finished draw), and the timing block at the end. Numbers are
/// written with the fewest digits that read back to the same `f64`. Warmup iterations are not
/// written (`save_warmup = 0`). Besides CmdStan's keys, the header holds `snell_version`,
/// `snell_sampler` and the sampler's settings as `snell.<key> = <value>`, so that the files read
/// back to the [`Draws`](crate::sampler::Draws) of the run. One writer serves one run: a second
/// run through it (at the same time or later) is refused, as it would overwrite the first's files.
///
/// ```no_run
/// # use snell::sampler::{run_observed, nuts::Nuts, RunConfig};
/// # use snell::target::FnDensity;
/// # use snell::output::CsvWriter;
/// # let target = FnDensity::new(2, |q: &[f64], g: &mut [f64]| { g[0] = -q[0]; g[1] = -q[1]; -0.5 * (q[0] * q[0] + q[1] * q[1]) });
/// let csv = CsvWriter::new("out", "normal", "normal_model");
/// let draws = run_observed(&Nuts::default(), &target, &RunConfig::default(), &[&csv])?;
/// // out/normal-1.csv … out/normal-4.csv
/// # Ok::<(), snell::sampler::SamplerError>(())
/// ```
pub struct CsvWriter {
    dir: PathBuf,
    prefix: String,
    model: String,
    files: RwLock<Vec<Mutex<Option<ChainFile>>>>,
    /// Chains whose file this writer has begun: a second run through the same writer (at the same
    /// time or later) would overwrite them, so it is refused.
    begun: Mutex<std::collections::BTreeSet<usize>>,
}

/// The open file of one chain.
struct ChainFile {
    path: PathBuf,
    out: BufWriter<File>,
    /// Columns of a row: `lp__`, statistics, values.
    n_stats: usize,
    n_values: usize,
    /// `metric = dense_e`: the inverse metric is written as a matrix.
    dense: bool,
    /// Reused row buffer.
    line: String,
}

impl CsvWriter {
    /// Files `<dir>/<prefix>-<chain+1>.csv` (the folder is created when the first chain starts),
    /// with `model = <model>` in their headers.
    pub fn new(dir: impl Into<PathBuf>, prefix: impl Into<String>, model: impl Into<String>) -> Self {
        Self { dir: dir.into(), prefix: prefix.into(), model: model.into(), files: RwLock::new(Vec::new()), begun: Mutex::new(Default::default()) }
    }

    /// Writes draws that exist already — SMC's particles, variational draws, a run read back —
    /// as the same files, one per chain; `seed` goes into the header (the draws do not keep it)
    /// and the timing block says zero seconds; draws without an adapted metric get no adaptation
    /// block. Returns the files' paths. Like a run, this uses the writer up: a second `write` or
    /// run through it is refused. ArviZ 0.23 (`from_cmdstan`) reads SMC's and VI's files, with
    /// `log_weight` among SMC's sample stats; cmdstanpy 1.3.2 does not, as it refuses any file with
    /// `num_warmup = 0`.
    ///
    /// ```no_run
    /// # use snell::sampler::smc::{run_smc, Smc};
    /// # use snell::target::FnDensity;
    /// # use snell::output::CsvWriter;
    /// # let target = FnDensity::new(2, |q: &[f64], g: &mut [f64]| { g[0] = -q[0]; g[1] = -q[1]; -0.5 * (q[0] * q[0] + q[1] * q[1]) });
    /// let smc = Smc::default();
    /// let out = run_smc(&smc, &target)?;
    /// // out/particles-1.csv …, one per run, each particle a row with its log_weight__
    /// CsvWriter::new("out", "particles", "normal_model").write(&out.draws, smc.seed)?;
    /// # Ok::<(), snell::sampler::SamplerError>(())
    /// ```
    pub fn write(&self, draws: &Draws, seed: u64) -> Result<Vec<PathBuf>, SamplerError> {
        let config = RunConfig { chains: draws.chains.len(), warmup: draws.warmup, draws: draws.n_draws(), seed, init: None };
        let stat_names: Vec<&str> = draws.stat_names.iter().map(String::as_str).collect();
        let (k, s) = (draws.names.len(), stat_names.len());
        for (c, chain) in draws.chains.iter().enumerate() {
            self.start_chain(&ChainStart { chain: c, sampler: &draws.sampler, settings: &draws.settings, config: &config, names: &draws.names, stat_names: &stat_names })?;
            // draws with no adapted metric (SMC's, VI's) get no adaptation block: ArviZ reads an
            // empty metric line as an error
            if !chain.inv_metric.is_empty() {
                self.adapted(c, chain.step_size, &chain.inv_metric)?;
            }
            for (i, &lp) in chain.lp.iter().enumerate() {
                let stats = chain.stats.get(i * s..(i + 1) * s).unwrap_or_default();
                let values = chain.values.get(i * k..(i + 1) * k).unwrap_or_default();
                self.draw(c, Phase::Sampling, lp, stats, values, false)?;
            }
            self.end_chain(c, 0.0, 0.0)?;
        }
        Ok(self.paths(draws.chains.len()))
    }

    /// The file of chain `chain` (0-based): `<dir>/<prefix>-<chain+1>.csv`.
    pub fn path(&self, chain: usize) -> PathBuf {
        self.dir.join(format!("{}-{}.csv", self.prefix, chain + 1))
    }

    /// The files of the first `chains` chains.
    pub fn paths(&self, chains: usize) -> Vec<PathBuf> {
        (0..chains).map(|c| self.path(c)).collect()
    }

    /// Runs `f` on the open file of `chain`.
    fn with_file(&self, chain: usize, f: impl FnOnce(&mut ChainFile) -> std::io::Result<()>) -> Result<(), SamplerError> {
        let files = self.files.read().unwrap_or_else(PoisonError::into_inner);
        let mut slot = match files.get(chain) {
            Some(slot) => slot.lock().unwrap_or_else(PoisonError::into_inner),
            None => return Err(not_started(&self.path(chain))),
        };
        let file = slot.as_mut().ok_or_else(|| not_started(&self.path(chain)))?;
        f(file).map_err(|e| io_error(&file.path, e))
    }
}

fn io_error(path: &Path, e: std::io::Error) -> SamplerError {
    SamplerError::from_io(path.display().to_string(), e)
}

fn not_started(path: &Path) -> SamplerError {
    SamplerError::io(path.display().to_string(), "the chain's file is not open (no `start_chain`, or the chain already ended)")
}

/// Appends `x` with the fewest digits that read back to the same `f64`: plain decimals for
/// magnitudes in `[1e-5, 1e16)` (integers without a point, as CmdStan writes `treedepth__`),
/// exponent notation otherwise, and `nan`, `inf`, `-inf` as C++ streams write them.
pub(crate) fn push_f64(out: &mut String, x: f64) {
    let a = x.abs();
    let _ = if x.is_nan() {
        write!(out, "nan")
    } else if x.is_infinite() {
        write!(out, "{}", if x > 0.0 { "inf" } else { "-inf" })
    } else if a == 0.0 || (1e-5..1e16).contains(&a) {
        write!(out, "{x}")
    } else {
        write!(out, "{x:e}")
    };
}

/// Seconds as CmdStan writes them: rounded to milliseconds.
fn seconds(s: f64) -> f64 {
    (s * 1000.0).round() / 1000.0
}

/// The current time as CmdStan's `start_datetime` (`2024-01-31 12:34:56 UTC`).
fn utc_now() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // civil date from days since 1970-01-01 (H. Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem / 60 % 60, rem % 60)
}

/// Settings that CmdStan writes in the `adapt` block.
const ADAPT_KEYS: [&str; 7] = ["gamma", "delta", "kappa", "t0", "init_buffer", "term_buffer", "window"];
/// Settings that CmdStan writes in the `hmc` block (the rest go under the engine).
const HMC_KEYS: [&str; 4] = ["metric", "metric_file", "stepsize", "stepsize_jitter"];

/// The configuration header, mimicking CmdStan 2.33's (cmdstanpy and ArviZ read it).
fn header(model: &str, start: &ChainStart<'_>, path: &Path) -> String {
    let cfg = start.config;
    let setting = |key: &str| start.settings.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let mut h = String::new();
    let mut line = |indent: usize, text: &str| {
        h.push('#');
        h.push_str(&" ".repeat(1 + 2 * indent));
        h.push_str(text);
        h.push('\n');
    };
    line(0, "stan_version_major = 2");
    line(0, "stan_version_minor = 33");
    line(0, "stan_version_patch = 0");
    line(0, &format!("model = {model}"));
    line(0, &format!("start_datetime = {}", utc_now()));
    line(0, "method = sample (Default)");
    line(1, "sample");
    line(2, &format!("num_samples = {}", cfg.draws));
    line(2, &format!("num_warmup = {}", cfg.warmup));
    line(2, "save_warmup = 0");
    line(2, "thin = 1");
    line(2, "adapt");
    line(3, &format!("engaged = {}", u8::from(cfg.warmup > 0)));
    for key in ADAPT_KEYS {
        if let Some(v) = setting(key) {
            line(3, &format!("{key} = {v}"));
        }
    }
    match setting("engine") {
        Some(engine) => {
            line(2, "algorithm = hmc (Default)");
            line(3, "hmc");
            line(4, &format!("engine = {engine}"));
            line(5, engine);
            for (k, v) in start.settings {
                if k != "engine" && !ADAPT_KEYS.contains(&k.as_str()) && !HMC_KEYS.contains(&k.as_str()) {
                    line(6, &format!("{k} = {v}"));
                }
            }
            line(4, &format!("metric = {}", setting("metric").unwrap_or("diag_e")));
            line(4, &format!("stepsize = {}", setting("stepsize").unwrap_or("1")));
        }
        None => {
            line(2, &format!("algorithm = {}", start.sampler));
            line(3, start.sampler);
            for (k, v) in start.settings {
                if !ADAPT_KEYS.contains(&k.as_str()) {
                    line(4, &format!("{k} = {v}"));
                }
            }
            // cmdstanpy reads every sampling run as one of Stan's: it needs a metric (the
            // adaptation block's inverse metric is diagonal) and a maximum tree depth (no tree
            // here, and no `treedepth__` column for it to count)
            if setting("metric").is_none() {
                line(4, "metric = diag_e");
            }
            if setting("max_depth").is_none() {
                line(4, "max_depth = 0");
            }
        }
    }
    line(2, &format!("num_chains = {}", cfg.chains));
    line(0, &format!("id = {}", start.chain + 1));
    line(0, "data");
    line(1, "file = ");
    line(0, if cfg.init.is_some() { "init = user" } else { "init = 2 (Default)" });
    line(0, "random");
    line(1, &format!("seed = {}", cfg.seed));
    line(0, "output");
    line(1, &format!("file = {}", path.display()));
    line(1, "sig_figs = 17");
    line(0, &format!("snell_version = {}", env!("CARGO_PKG_VERSION")));
    line(0, &format!("snell_sampler = {}", start.sampler));
    for (k, v) in start.settings {
        line(0, &format!("snell.{k} = {v}"));
    }
    let mut columns = String::from("lp__");
    for name in start.stat_names.iter().copied().chain(start.names.iter().map(String::as_str)) {
        columns.push(',');
        columns.push_str(name);
    }
    h.push_str(&columns);
    h.push('\n');
    h
}

impl Observer for CsvWriter {
    fn start_chain(&self, start: &ChainStart<'_>) -> Result<(), SamplerError> {
        let path = self.path(start.chain);
        if !self.begun.lock().unwrap_or_else(PoisonError::into_inner).insert(start.chain) {
            return Err(SamplerError::io(path.display().to_string(), format!("this CsvWriter has already written chain {} of a run; another run would overwrite it: use one writer per run (another prefix or directory)", start.chain)));
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| io_error(&self.dir, e))?;
        let file = File::create(&path).map_err(|e| io_error(&path, e))?;
        let mut out = BufWriter::new(file);
        let text = header(&self.model, start, &path);
        out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(|e| io_error(&path, e))?;
        let dense = start.settings.iter().any(|(k, v)| k == "metric" && v == "dense_e");
        let chain_file = ChainFile { path, out, n_stats: start.stat_names.len(), n_values: start.names.len(), dense, line: String::new() };
        {
            let mut files = self.files.write().unwrap_or_else(PoisonError::into_inner);
            let n = start.config.chains.max(start.chain + 1);
            if files.len() < n {
                files.resize_with(n, || Mutex::new(None));
            }
        }
        let files = self.files.read().unwrap_or_else(PoisonError::into_inner);
        *files[start.chain].lock().unwrap_or_else(PoisonError::into_inner) = Some(chain_file);
        Ok(())
    }

    fn adapted(&self, chain: usize, step_size: f64, inv_metric: &[f64]) -> Result<(), SamplerError> {
        self.with_file(chain, |f| {
            let mut s = String::from("# Adaptation terminated\n# Step size = ");
            push_f64(&mut s, step_size);
            s.push('\n');
            let n = (inv_metric.len() as f64).sqrt().round() as usize;
            let rows: Vec<&[f64]> = if f.dense && n * n == inv_metric.len() && n > 0 {
                s.push_str("# Elements of inverse mass matrix:\n");
                inv_metric.chunks(n).collect()
            } else {
                s.push_str("# Diagonal elements of inverse mass matrix:\n");
                vec![inv_metric]
            };
            for row in rows {
                s.push_str("# ");
                for (j, &v) in row.iter().enumerate() {
                    if j > 0 {
                        s.push_str(", ");
                    }
                    push_f64(&mut s, v);
                }
                s.push('\n');
            }
            f.out.write_all(s.as_bytes())?;
            f.out.flush()
        })
    }

    fn draw(&self, chain: usize, phase: Phase, lp: f64, stats: &[f64], values: &[f64], _divergent: bool) -> Result<(), SamplerError> {
        if phase != Phase::Sampling {
            return Ok(());
        }
        self.with_file(chain, |f| {
            if stats.len() != f.n_stats || values.len() != f.n_values {
                let detail = format!("a draw with {} statistics and {} values; the header has {} and {}", stats.len(), values.len(), f.n_stats, f.n_values);
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, detail));
            }
            f.line.clear();
            push_f64(&mut f.line, lp);
            for &x in stats.iter().chain(values) {
                f.line.push(',');
                push_f64(&mut f.line, x);
            }
            f.line.push('\n');
            f.out.write_all(f.line.as_bytes())?;
            f.out.flush()
        })
    }

    fn end_chain(&self, chain: usize, warmup_secs: f64, sampling_secs: f64) -> Result<(), SamplerError> {
        self.with_file(chain, |f| {
            let (w, s) = (seconds(warmup_secs), seconds(sampling_secs));
            let text = format!(
                "# \n#  Elapsed Time: {w} seconds (Warm-up)\n#                {s} seconds (Sampling)\n#                {} seconds (Total)\n# \n",
                seconds(w + s)
            );
            f.out.write_all(text.as_bytes())?;
            f.out.flush()
        })?;
        // close the file
        let files = self.files.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = files.get(chain) {
            slot.lock().unwrap_or_else(PoisonError::into_inner).take();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_back_exactly() {
        for x in [0.0, -0.0, 1.0, 3.0, -2.5, 0.1, 1.0 / 3.0, 1e-5, 9.99e-6, 1e-300, 5e-324, 1e16, 1.7976931348623157e308, -123456.789, f64::MIN_POSITIVE] {
            let mut s = String::new();
            push_f64(&mut s, x);
            assert_eq!(s.parse::<f64>().unwrap().to_bits(), x.to_bits(), "{x} -> {s}");
        }
        let mut s = String::new();
        push_f64(&mut s, 3.0);
        push_f64(&mut s, f64::NAN);
        push_f64(&mut s, f64::NEG_INFINITY);
        assert_eq!(s, "3nan-inf");
    }

    #[test]
    fn dates_are_civil() {
        let d = utc_now();
        assert_eq!(d.len(), "2024-01-31 12:34:56 UTC".len(), "{d}");
        assert!(d.starts_with("20"), "{d}");
    }
}

opaque_debug!(impl[] CsvWriter);
