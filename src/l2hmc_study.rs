//! The comparison of the L2HMC paper's Fig. 1c for one target: a trained L2HMC kernel against HMC
//! at each step size of a grid (same number of leapfrog steps, unit metric) and NUTS (Stan's
//! adaptation, diagonal metric), from exact draws (no burn-in), measured by the paper's known-moment
//! ESS per MH step and per gradient, beside snell's own bulk ESS; the table is printed next to the
//! paper's numbers and the autocorrelations are plotted.

use crate::energy_targets::{hmc_chains, Known};
use crate::plot::Plot;
use snell::diagnostics::{autocorrelation_known_moments, ess_bulk, KNOWN_MOMENTS_CUTOFF};
use snell::sampler::l2hmc::{L2hmc, Networks};
use snell::sampler::nuts::Nuts;
use snell::sampler::{run, RunConfig, SamplerError};

/// What the paper reports for a target (ESS per MH step, Fig. 1c of the ICLR version).
#[derive(Clone, Copy, Debug)]
pub struct Paper {
    /// L2HMC.
    pub l2hmc: f64,
    /// HMC (best of its grid); for the mixture an upper bound (`≪`).
    pub hmc: f64,
}

/// How much sampling the comparison does.
#[derive(Clone, Debug)]
pub struct Budget {
    /// Chains of L2HMC and HMC.
    pub chains: usize,
    /// Transitions per chain.
    pub draws: usize,
    /// NUTS chains (each with `nuts_warmup` warmup and `draws` draws).
    pub nuts_chains: usize,
    /// NUTS warmup.
    pub nuts_warmup: usize,
    /// Seed.
    pub seed: u64,
    /// A relative step-size jitter for a second L2HMC line (the same kernel with ε·(1 ± j) drawn
    /// per transition), or none.
    pub step_jitter: Option<f64>,
}

/// One sampler's line of the table.
#[derive(Clone, Debug)]
pub struct Line {
    /// The sampler and its settings.
    pub name: String,
    /// Known-moment ESS per MH step.
    pub ess_per_step: f64,
    /// Gradients per MH step.
    pub grads_per_step: f64,
    /// snell's bulk ESS (smallest over the coordinates) per MH step.
    pub bulk_per_step: f64,
    /// ρ_t of the known-moment estimator (for the figure).
    pub rho: Vec<f64>,
    /// Pooled E|x − μ|² of the draws (a check of what was sampled: Tr Σ if it is right).
    pub second_moment: f64,
}

impl Line {
    /// Known-moment ESS per gradient.
    pub fn ess_per_grad(&self) -> f64 {
        self.ess_per_step / self.grads_per_step
    }

    /// Known-moment ESS per MH step by the reference code's rule: every ρ_t below the cut-off is
    /// zeroed instead of the sum stopping at the first (lags up to half the chain). For antithetic
    /// chains (ρ₁ < 0, ρ₂ > 0) it is below the first-crossing value, which is then 1.
    pub fn ess_zeroed(&self) -> f64 {
        let acf: f64 = self.rho.iter().take(self.rho.len() / 2).skip(1).filter(|&&r| r >= KNOWN_MOMENTS_CUTOFF).sum();
        1.0 / (1.0 + 2.0 * acf)
    }
}

fn line(known: &Known, name: String, chains: &[Vec<f64>], grads_per_step: f64) -> Line {
    let d = known.mean.len();
    let total: usize = chains.iter().map(|c| c.len() / d).sum();
    let bulk = (0..d)
        .map(|i| {
            let coord: Vec<Vec<f64>> = chains.iter().map(|c| c.iter().skip(i).step_by(d).copied().collect()).collect();
            ess_bulk(&coord.iter().map(|c| c.as_slice()).collect::<Vec<_>>())
        })
        .fold(f64::INFINITY, f64::min);
    let rho = autocorrelation_known_moments(chains, &known.mean, known.trace);
    let ess = known.ess(chains);
    let second_moment = chains.iter().flat_map(|c| c.chunks(d)).map(|x| x.iter().zip(&known.mean).map(|(a, m)| (a - m).powi(2)).sum::<f64>()).sum::<f64>() / total as f64;
    Line { name, ess_per_step: if ess.is_finite() { ess } else { 0.0 }, grads_per_step, bulk_per_step: bulk / total as f64, rho, second_moment }
}

/// Runs the comparison: L2HMC with `networks`, HMC at each step size of `hmc_grid` with the same
/// number of leapfrog steps, and NUTS. Returns the lines, L2HMC first, then HMC's best, then NUTS,
/// then L2HMC with the step size jittered (where [`Budget::step_jitter`] asks for it), then the
/// rest of HMC's grid.
pub fn compare(known: &Known, networks: &Networks, hmc_grid: &[f64], budget: &Budget) -> Result<Vec<Line>, SamplerError> {
    let inits = known.inits(budget.chains, budget.seed);
    let m = networks.n_steps;
    let cfg = RunConfig { chains: budget.chains, warmup: 0, draws: budget.draws, seed: budget.seed + 1, init: Some(inits.clone()) };
    let l2hmc_line = |j: f64| -> Result<Line, SamplerError> {
        let out = run(&L2hmc::new(networks.clone()).with_step_jitter(j), &known.density, &cfg)?;
        let jitter = if j > 0.0 { format!(" × U(1 ± {j})") } else { String::new() };
        Ok(line(known, format!("L2HMC (M = {m}, ε = {:.3}{jitter})", networks.step_size()), &out.chains.iter().map(|c| c.values.clone()).collect::<Vec<_>>(), m as f64))
    };
    let l2 = l2hmc_line(0.0)?;
    let mut hmc = Vec::new();
    for &eps in hmc_grid {
        let chains = hmc_chains(&known.density, &inits, eps, m, budget.draws, budget.seed + 2)?;
        hmc.push(line(known, format!("HMC (M = {m}, ε = {eps})"), &chains, m as f64));
    }
    hmc.sort_by(|a, b| b.ess_per_step.total_cmp(&a.ess_per_step));
    let cfg = RunConfig { chains: budget.nuts_chains, warmup: budget.nuts_warmup, draws: budget.draws, seed: budget.seed + 3, init: Some(known.inits(budget.nuts_chains, budget.seed + 4)) };
    let nuts = run(&Nuts::default(), &known.density, &cfg)?;
    let leap = nuts.stat("n_leapfrog__").expect("NUTS records n_leapfrog__");
    let grads = leap.iter().flatten().sum::<f64>() / leap.iter().map(|c| c.len()).sum::<usize>() as f64;
    let nuts_line = line(known, "NUTS (adapted diagonal metric)".into(), &nuts.chains.iter().map(|c| c.values.clone()).collect::<Vec<_>>(), grads);
    let mut lines = vec![l2, hmc.remove(0), nuts_line];
    if let Some(j) = budget.step_jitter {
        lines.push(l2hmc_line(j)?);
    }
    lines.extend(hmc);
    Ok(lines)
}

/// Prints the table, the ratios, and the paper's numbers beside them.
pub fn print(known: &Known, lines: &[Line], paper: Paper) {
    let start = if known.has_exact_draws() { "chains start from exact draws" } else { "chains start from N(0, I), the target up to terms of order e^{-1/(2η²)}" };
    println!("\n{}: ESS from the known mean and covariance (paper App. C.2); {start}", known.name);
    println!("{:<40} {:>12} {:>12} {:>10} {:>14} {:>16} {:>12}", "sampler", "ESS/step", "ESS/grad", "grads/step", "ESS/step (ρ≥)", "bulk ESS/step", "E|x−μ|²");
    for l in lines {
        println!("{:<40} {:>12.3e} {:>12.3e} {:>10.1} {:>14.3e} {:>16.3e} {:>12.3}", l.name, l.ess_per_step, l.ess_per_grad(), l.grads_per_step, l.ess_zeroed(), l.bulk_per_step, l.second_moment);
    }
    println!("(E|x−μ|² of exact draws: Tr Σ = {:.3}; ESS/step (ρ≥): every ρ_t < {KNOWN_MOMENTS_CUTOFF} zeroed, as in the reference code; bulk ESS: snell's rank-normalised ESS, smallest over the coordinates)", known.trace);
    let (l2, hmc, nuts) = (&lines[0], &lines[1], &lines[2]);
    let ratio = l2.ess_per_step / hmc.ess_per_step.max(f64::MIN_POSITIVE);
    println!("L2HMC / best HMC, per step = per gradient: {ratio:.1}x   (paper: {:.3e} vs {:.3e}, {:.1}x)", paper.l2hmc, paper.hmc, paper.l2hmc / paper.hmc);
    println!("L2HMC / NUTS, per gradient: {:.2}x", l2.ess_per_grad() / nuts.ess_per_grad().max(f64::MIN_POSITIVE));
}

/// Writes the autocorrelation ρ_t of L2HMC, the best HMC and NUTS up to `max_lag` to `path` (SVG).
pub fn plot(known: &Known, lines: &[Line], max_lag: usize, path: &str) -> Result<(), crate::plot::PlotError> {
    let mut p = Plot::new(&format!("{}: autocorrelation (known moments)", known.name)).labels("lag (MH steps)", "ρ");
    for l in &lines[..3] {
        p = p.line(&l.name, l.rho.iter().take(max_lag + 1).enumerate().map(|(t, r)| (t as f64, *r)).collect());
    }
    p.save(path)
}
