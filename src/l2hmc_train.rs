//! Training for the `l2hmc_*` examples: train on a target with the paper's settings, print the
//! progress, save the kernel under `output/`, load it back (as a user of a saved kernel would),
//! and run the comparison of [`crate::l2hmc_study`].

use crate::energy_targets::Known;
use crate::l2hmc_study::{compare, plot, print, Budget, Paper};
use rand::SeedableRng;
use snell::sampler::l2hmc::{load_networks, Networks, TrainDevice, TrainSettings, Trainer};
use snell::sampler::SamplerError;

/// One reproduction: the kernel's shape and what to compare it with.
pub struct Reproduction<'a> {
    /// The target.
    pub known: &'a Known,
    /// File stem under `output/` for the kernel and the figure.
    pub stem: &'a str,
    /// Augmented leapfrog steps.
    pub n_steps: usize,
    /// Initial step size.
    pub step_size: f64,
    /// Training settings.
    pub settings: TrainSettings,
    /// HMC's step sizes.
    pub hmc_grid: &'a [f64],
    /// The paper's numbers.
    pub paper: Paper,
    /// Sampling budget of the comparison.
    pub budget: Budget,
    /// Lags in the autocorrelation figure.
    pub max_lag: usize,
}

/// The value after `flag` on the command line (e.g. `--iterations 2000`), else `default`.
pub fn arg<T: std::str::FromStr>(flag: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The iteration count from `--iterations N` on the command line, else `default`.
pub fn iterations_arg(default: usize) -> usize {
    arg("--iterations", default)
}

/// Trains (dimension `N`, width `H`), saves, reloads and compares. Trains on the CPU, or with
/// `--cuda` on the command line (and the `cuda` feature) on CUDA GPU 0; with `--load` it skips
/// training and compares the kernel an earlier run saved.
pub fn reproduce<const N: usize, const H: usize>(r: &Reproduction) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all("output")?;
    if std::env::args().any(|a| a == "--load") {
        let path = kernel_path(r);
        return compare_and_plot(r, &load_networks::<N, H>(&path)?, &path);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(r.settings.seed);
    let init = Networks::new(N, H, r.n_steps, r.step_size, &mut rng);
    #[cfg(feature = "cuda")]
    if std::env::args().any(|a| a == "--cuda") {
        return train_and_compare(r, Trainer::<N, H, _>::cuda(0, &init, r.settings.clone())?);
    }
    train_and_compare(r, Trainer::<N, H, _>::cpu(&init, r.settings.clone())?)
}

fn train_and_compare<const N: usize, const H: usize, D: TrainDevice>(r: &Reproduction, mut trainer: Trainer<N, H, D>) -> Result<(), Box<dyn std::error::Error>> {
    let t = std::time::Instant::now();
    let every = (r.settings.iterations / 10).max(1);
    let (mut loss, mut acc) = (0.0, 0.0);
    trainer.train(&r.known.density, |i, s| {
        loss += s.loss;
        acc += s.accept;
        if i % every == 0 {
            println!("  step {i:>5}: loss {:>10.4} accept {:.3} ε {:.4} ({:.0} s)", loss / every as f64, acc / every as f64, s.step_size, t.elapsed().as_secs_f64());
            (loss, acc) = (0.0, 0.0);
        }
    })?;
    let secs = t.elapsed().as_secs_f64();
    println!("{}: trained {} Adam steps (batch {}) in {secs:.1} s ({:.3} s per step)", r.known.name, r.settings.iterations, r.settings.batch, secs / r.settings.iterations.max(1) as f64);
    let path = kernel_path(r);
    trainer.save(&path)?;
    let networks = load_networks::<N, H>(&path)?;
    if networks != trainer.networks() {
        return Err(Box::new(SamplerError::io(path, "the kernel loaded back differs from the one saved")));
    }
    compare_and_plot(r, &networks, &path)
}

fn kernel_path(r: &Reproduction) -> String {
    format!("output/{}.safetensors", r.stem)
}

fn compare_and_plot(r: &Reproduction, networks: &Networks, path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let t = std::time::Instant::now();
    let lines = compare(r.known, networks, r.hmc_grid, &r.budget)?;
    print(r.known, &lines, r.paper);
    println!("(sampling took {:.1} s; kernel: {path})", t.elapsed().as_secs_f64());
    let fig = format!("output/{}_autocorrelation.svg", r.stem);
    plot(r.known, &lines, r.max_lag, &fig)?;
    println!("wrote {fig}");
    Ok(())
}
