//! Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari and Gelman, 2018,
//! *Validating Bayesian inference algorithms with simulation-based calibration*, arXiv:1804.06788).
//!
//! If a sampler is correct, then for θ̃ drawn from the prior, data ỹ simulated from the likelihood at
//! θ̃, and `L` posterior draws θ₁ … θ_L given ỹ, the rank of θ̃ᵢ among the θ_{·,i} (the number of
//! draws below it) is uniform on `0..=L`, for every parameter `i`. [`sbc`] repeats this many times
//! and tests each parameter's ranks for uniformity with a χ² test over equal bins; a sampler that is
//! biased, too narrow or too wide shows up as a sloped, ∪- or ∩-shaped rank histogram (printed by the
//! report's `Display`) and a small p-value.
//!
//! Draws are thinned before ranking, as the paper recommends, since autocorrelated draws make the
//! ranks over-dispersed even for a correct sampler: keep `L` well below the effective sample size.
//!
//! ```no_run
//! use snell::prelude::*;
//! use snell::sampler::nuts::Nuts;
//! use snell::sbc::{sbc, SbcConfig};
//!
//! #[model]
//! fn normal_mean(y: &[f64]) {
//!     let mu = sample!(Normal(0.0, 1.0));
//!     let sigma = sample!(HalfNormal(1.0));
//!     observe!(y ~ Normal(mu, sigma));
//! }
//!
//! // the data only fix the shape of what is simulated (here: 10 observations)
//! let model = NormalMean::new(&[0.0; 10]).unwrap();
//! let cfg = SbcConfig { replications: 200, ..Default::default() };
//! let report = sbc(&model, |sim| NormalMean::new(sim.get("y").unwrap()), &Nuts::default(), &cfg).unwrap();
//! println!("{report}");
//! assert!(report.passes(0.01));
//! ```

use crate::error::ModelError;
use crate::model::{Model, Simulation};
use crate::sampler::{chain_rng, run, RunConfig, Sampler, SamplerError};
use rand::{Rng, RngCore};
use rayon::prelude::*;
use statrs::distribution::{ChiSquared, ContinuousCDF};
use std::fmt;

/// Settings of a simulation-based calibration.
#[derive(Clone, Debug)]
pub struct SbcConfig {
    /// Number of replications: prior draw, simulated data, fit (1000).
    pub replications: usize,
    /// Chains per fit (1).
    pub chains: usize,
    /// Warmup iterations per chain (500).
    pub warmup: usize,
    /// Draws per chain after warmup (1000).
    pub draws: usize,
    /// Keep every `thin`-th draw of each chain (10): `L = chains · (draws / thin)` draws are ranked.
    pub thin: usize,
    /// The one seed; replication `r` draws from stream `r` of it, so the result does not depend on
    /// the number of threads.
    pub seed: u64,
    /// Bins of the rank range `0..=L` for the χ² test and the histogram (20).
    pub bins: usize,
}

impl Default for SbcConfig {
    fn default() -> Self {
        Self { replications: 1000, chains: 1, warmup: 500, draws: 1000, thin: 10, seed: 0, bins: 20 }
    }
}

impl SbcConfig {
    /// `L`: the number of thinned posterior draws each prior draw is ranked among.
    pub fn posterior_draws(&self) -> usize {
        self.chains * (self.draws / self.thin.max(1))
    }

    fn validate(&self) -> Result<(), SamplerError> {
        let bad = |name, detail: String| Err(SamplerError::Setting { name, detail });
        if self.replications == 0 {
            return bad("replications", "must be at least 1".into());
        }
        if self.chains == 0 {
            return bad("chains", "must be at least 1".into());
        }
        if self.thin == 0 {
            return bad("thin", "must be at least 1".into());
        }
        if self.draws < self.thin {
            return bad("draws", format!("{} draws thinned by {} leave none", self.draws, self.thin));
        }
        let l = self.posterior_draws();
        if self.bins < 2 || self.bins > l + 1 {
            return bad("bins", format!("must be in 2..={} (the L + 1 possible ranks, L = {l}), got {}", l + 1, self.bins));
        }
        Ok(())
    }
}

/// The calibration of one parameter (one flat constrained value, Stan-style name).
#[derive(Clone, Debug, PartialEq)]
pub struct SbcParam {
    /// The value's name (`mu`, `theta.2`).
    pub name: String,
    /// Rank of the prior draw among the `L` thinned posterior draws, one per replication, in
    /// `0..=L`.
    pub ranks: Vec<usize>,
    /// Replications per bin.
    pub counts: Vec<usize>,
    /// Replications per bin expected under uniform ranks (proportional to the number of ranks in
    /// the bin, since the `L + 1` ranks need not split evenly).
    pub expected: Vec<f64>,
    /// Pearson's χ² statistic of `counts` against `expected`.
    pub chi2: f64,
    /// Its degrees of freedom: `bins − 1`.
    pub df: usize,
    /// `P(χ²_df ≥ chi2)`: small values reject uniform ranks.
    pub p_value: f64,
}

/// What [`sbc`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct SbcReport {
    /// One entry per flat constrained parameter, in [`Model::param_names`] order.
    pub params: Vec<SbcParam>,
    /// Number of replications.
    pub replications: usize,
    /// `L`: thinned posterior draws per replication.
    pub posterior_draws: usize,
    /// Number of bins.
    pub bins: usize,
    /// Divergent transitions after warmup, over all fits.
    pub divergences: usize,
}

impl SbcReport {
    /// `(name, p-value)` of every parameter.
    pub fn p_values(&self) -> Vec<(String, f64)> {
        self.params.iter().map(|p| (p.name.clone(), p.p_value)).collect()
    }

    /// Whether no parameter's ranks are rejected as non-uniform at level `alpha` (each parameter
    /// tested separately; with many parameters, consider a Bonferroni correction `alpha / k`).
    pub fn passes(&self, alpha: f64) -> bool {
        self.params.iter().all(|p| p.p_value > alpha)
    }

    /// The calibration of one parameter by name.
    pub fn param(&self, name: &str) -> Option<&SbcParam> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// The bin of rank `k` of `0..=l` among `bins` equal bins.
fn bin_of(k: usize, l: usize, bins: usize) -> usize {
    k * bins / (l + 1)
}

/// χ² test of `ranks` (in `0..=l`) for uniformity over `bins` bins.
fn chi2_test(name: String, ranks: Vec<usize>, l: usize, bins: usize) -> SbcParam {
    let mut counts = vec![0usize; bins];
    let mut width = vec![0usize; bins];
    for k in 0..=l {
        width[bin_of(k, l, bins)] += 1;
    }
    for &k in &ranks {
        counts[bin_of(k, l, bins)] += 1;
    }
    let n = ranks.len() as f64;
    let expected: Vec<f64> = width.iter().map(|&w| n * w as f64 / (l + 1) as f64).collect();
    let chi2: f64 = counts.iter().zip(&expected).map(|(&c, &e)| (c as f64 - e).powi(2) / e).sum();
    let df = bins - 1;
    let p_value = ChiSquared::new(df as f64).map_or(f64::NAN, |d| d.sf(chi2));
    SbcParam { name, ranks, counts, expected, chi2, df, p_value }
}

/// Rank of `x` among `draws`: the number of draws below it, ties broken uniformly at random.
fn rank<R: Rng>(x: f64, draws: &[f64], rng: &mut R) -> usize {
    let below = draws.iter().filter(|&&d| d < x).count();
    let ties = draws.iter().filter(|&&d| d == x).count();
    below + if ties > 0 { rng.gen_range(0..=ties) } else { 0 }
}

/// One replication: its ranks (in parameter order) and divergences.
fn replicate<M, S, F>(model: &M, rebuild: &F, sampler: &S, cfg: &SbcConfig, names: &[String], r: usize) -> Result<(Vec<usize>, usize), SamplerError>
where
    M: Model,
    S: Sampler,
    F: Fn(&Simulation) -> Result<M, ModelError>,
{
    let mut rng = chain_rng(cfg.seed, r);
    let truth = model.sample_prior_flat(&mut rng)?;
    let sim = model.simulate(&model.params_from_flat(&truth)?, &mut rng)?;
    let fitted = rebuild(&sim)?;
    let run_cfg = RunConfig { chains: cfg.chains, warmup: cfg.warmup, draws: cfg.draws, seed: rng.next_u64(), init: None };
    let draws = run(sampler, &fitted, &run_cfg)?;
    let mut ranks = Vec::with_capacity(names.len());
    for (name, &x) in names.iter().zip(&truth) {
        let per_chain = draws.param(name).ok_or_else(|| SamplerError::Setting {
            name: "rebuild",
            detail: format!("the rebuilt model has no parameter `{name}`"),
        })?;
        let thinned: Vec<f64> = per_chain.iter().flat_map(|c| c.iter().skip(cfg.thin - 1).step_by(cfg.thin).cloned()).collect();
        ranks.push(rank(x, &thinned, &mut rng));
    }
    Ok((ranks, draws.divergences()))
}

/// Simulation-based calibration of `sampler` on `model`.
///
/// For each of `cfg.replications` replications `r` (random stream `r` of `cfg.seed`): draws θ̃
/// from the prior, simulates data at θ̃ with [`Model::simulate`], builds the model on them with
/// `rebuild` (only the caller knows which data arguments are observed, e.g.
/// `|sim| NormalMean::new(sim.get("y").unwrap())`), fits it with `sampler`
/// (`cfg.chains × (cfg.warmup + cfg.draws)`), keeps every `cfg.thin`-th draw of each chain, and
/// ranks each θ̃ᵢ among those `L` draws. Replications run in parallel; the result depends on the
/// seed only.
///
/// `model` itself is only used for its prior and to simulate: its data fix the shape of the
/// simulated data (e.g. the number of observations) and any covariates.
///
/// Errors: invalid settings, and the first failed replication (in replication order).
pub fn sbc<M, S, F>(model: &M, rebuild: F, sampler: &S, cfg: &SbcConfig) -> Result<SbcReport, SamplerError>
where
    M: Model,
    S: Sampler,
    F: Fn(&Simulation) -> Result<M, ModelError> + Sync,
{
    cfg.validate()?;
    sampler.validate()?;
    let names = model.param_names();
    let results: Vec<Result<(Vec<usize>, usize), SamplerError>> =
        crate::sampler::threads::install(|| (0..cfg.replications).into_par_iter().map(|r| replicate(model, &rebuild, sampler, cfg, &names, r)).collect());
    let mut ranks = vec![Vec::with_capacity(cfg.replications); names.len()];
    let mut divergences = 0;
    for res in results {
        let (rs, div) = res?;
        for (per_param, k) in ranks.iter_mut().zip(rs) {
            per_param.push(k);
        }
        divergences += div;
    }
    let l = cfg.posterior_draws();
    let params = names.into_iter().zip(ranks).map(|(name, ranks)| chi2_test(name, ranks, l, cfg.bins)).collect();
    Ok(SbcReport { params, replications: cfg.replications, posterior_draws: l, bins: cfg.bins, divergences })
}

impl fmt::Display for SbcReport {
    /// One rank histogram per parameter: a row per bin with its rank range, a bar of `#` and the
    /// count; `|` marks the expected count when the bar falls short of it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const WIDTH: f64 = 50.0;
        let l = self.posterior_draws;
        writeln!(f, "simulation-based calibration: {} replications, ranks among L = {l} draws, {} bins", self.replications, self.bins)?;
        if self.divergences > 0 {
            writeln!(f, "warning: {} divergent transitions over all fits", self.divergences)?;
        }
        let digits = (l + 1).to_string().len();
        for p in &self.params {
            writeln!(f)?;
            if p.p_value >= 1e-3 {
                writeln!(f, "{}: chi2 = {:.2} ({} df), p = {:.4}", p.name, p.chi2, p.df, p.p_value)?;
            } else {
                writeln!(f, "{}: chi2 = {:.2} ({} df), p = {:.2e}", p.name, p.chi2, p.df, p.p_value)?;
            }
            let max = p.counts.iter().map(|&c| c as f64).chain(p.expected.iter().cloned()).fold(1.0, f64::max);
            let mut lo = 0;
            for (b, (&c, &e)) in p.counts.iter().zip(&p.expected).enumerate() {
                let mut hi = lo;
                while hi <= l && bin_of(hi, l, self.bins) == b {
                    hi += 1;
                }
                let bar = (c as f64 / max * WIDTH).round() as usize;
                let mark = (e / max * WIDTH).round() as usize;
                let mut row = "#".repeat(bar);
                if mark > bar {
                    row.push_str(&" ".repeat(mark - bar - 1));
                    row.push('|');
                }
                writeln!(f, "  [{lo:>digits$}, {hi:>digits$}) {row:<w$} {c}", w = WIDTH as usize + 1)?;
                lo = hi;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_counts_follow_uneven_bins() {
        // L = 100: 101 ranks in 20 bins, one bin gets 6 ranks
        let p = chi2_test("x".into(), (0..=100).collect(), 100, 20);
        assert_eq!(p.counts.iter().sum::<usize>(), 101);
        for (c, e) in p.counts.iter().zip(&p.expected) {
            assert!((*c as f64 - e).abs() < 1e-12);
        }
        assert!(p.chi2.abs() < 1e-12 && (p.p_value - 1.0).abs() < 1e-12);
    }

    #[test]
    fn piled_up_ranks_are_rejected() {
        let p = chi2_test("x".into(), vec![0; 100], 100, 10);
        assert!(p.p_value < 1e-10);
    }

    #[test]
    fn ties_are_broken_at_random() {
        let mut rng = chain_rng(1, 0);
        let draws = [1.0, 2.0, 2.0, 3.0];
        let ranks: Vec<usize> = (0..200).map(|_| rank(2.0, &draws, &mut rng)).collect();
        assert!(ranks.iter().all(|&k| (1..=3).contains(&k)));
        assert!((1..=3).all(|k| ranks.contains(&k)));
        assert_eq!(rank(0.5, &draws, &mut rng), 0);
        assert_eq!(rank(9.0, &draws, &mut rng), 4);
    }
}
