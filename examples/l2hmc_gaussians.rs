//! L2HMC on the paper's two Gaussians (Levy, Hoffman & Sohl-Dickstein 2018, §5.1, Fig. 1c): the
//! strongly correlated 2-d Gaussian (variances 10² and 10⁻² rotated by π/4) and the 50-d
//! ill-conditioned Gaussian (variances log-spaced 10⁻²…10²). For each: train the networks with
//! Adam on the paper's loss (λ_b = 0), save the kernel to `output/`, load it back, and compare its
//! ESS per MH step and per gradient with HMC on a grid of step sizes (the same M) and with NUTS,
//! next to the paper's numbers; the autocorrelations go to `output/l2hmc_*_autocorrelation.svg`.
//!
//! Run with `cargo run --release --example l2hmc_gaussians` (a few minutes on two cores);
//! `-- --cuda` trains on CUDA GPU 0 (built with `scripts/build-cuda.sh --release --features cuda`);
//! `-- --iterations N` changes the number of Adam steps (5000 for the 2-d Gaussian as in the paper;
//! 1000 with batch 100 for the 50-d one, whose networks are 100 wide, to keep the run short — the
//! paper trains 5000 steps with batch 200); `-- --only scg` or `-- --only icg` runs one of the two;
//! `-- --scale λ²` sets the loss's length scale for the 50-d one (0.1).
//!
//! Measured: the 2-d reproduction matches the paper (L2HMC 0.61 vs HMC 4.6·10⁻³ ESS per step,
//! 133×; paper 106×); the 50-d one does not (L2HMC below HMC after 1000 or 3000 steps).

use snell::sampler::l2hmc::TrainSettings;
use snell_examples::energy_targets::{correlated_gaussian, ill_conditioned_gaussian};
use snell_examples::l2hmc_study::{Budget, Paper};
use snell_examples::l2hmc_train::{arg, iterations_arg, reproduce, Reproduction};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let only: String = arg("--only", String::new());
    if only.is_empty() || only == "scg" {
        let scg = correlated_gaussian();
        reproduce::<2, 10>(&Reproduction {
            known: &scg,
            stem: "l2hmc_scg",
            n_steps: 10,
            step_size: 0.1,
            settings: TrainSettings { iterations: iterations_arg(5000), seed: 1, ..Default::default() },
            hmc_grid: &[0.1, 0.15, 0.2],
            paper: Paper { l2hmc: 4.97e-1, hmc: 4.69e-3 },
            budget: Budget { chains: 200, draws: 2000, nuts_chains: 20, nuts_warmup: 1000, seed: 11 },
            max_lag: 300,
        })?;
    }
    if only.is_empty() || only == "icg" {
        let icg = ill_conditioned_gaussian(50);
        reproduce::<50, 100>(&Reproduction {
            known: &icg,
            stem: "l2hmc_icg",
            n_steps: 10,
            step_size: 0.1,
            settings: TrainSettings { iterations: iterations_arg(1000), batch: 100, seed: 2, scale: arg("--scale", 0.1), ..Default::default() },
            // the leapfrog is unstable above ε = 2σ_min = 0.2; the paper's grid is 0.225–0.275
            hmc_grid: &[0.1, 0.15, 0.19, 0.225, 0.25, 0.275],
            paper: Paper { l2hmc: 7.83e-1, hmc: 1.65e-2 },
            budget: Budget { chains: 50, draws: 1000, nuts_chains: 10, nuts_warmup: 1000, seed: 12 },
            max_lag: 200,
        })?;
    }
    Ok(())
}
