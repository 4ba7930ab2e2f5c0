//! The warnings a Stan user expects after sampling: divergences, saturated tree depth, low E-BFMI,
//! and the summary's own (R-hat, ESS); and two a Stan user never needs: a chain that never moved,
//! and draws of a sampler without a Metropolis test, which are biased.

use super::draws::Draws;

/// E-BFMI below this suggests the momentum resampling explores the energy poorly (Betancourt 2016).
pub const EBFMI_THRESHOLD: f64 = 0.3;

/// A one-gradient-per-draw sampler (MALA) whose bulk ESS per draw falls below this needs more than
/// 20 gradients per effective draw, more than NUTS or the Metropolized BAOAB spend on most
/// posteriors (`BENCHMARKS.md`, posteriordb): worth saying.
pub const MIN_ESS_PER_DRAW: f64 = 0.05;

/// Energy Bayesian fraction of missing information of one chain's `energy__` values.
pub fn ebfmi(energy: &[f64]) -> f64 {
    let n = energy.len() as f64;
    if energy.len() < 2 {
        return f64::NAN;
    }
    let mean = energy.iter().sum::<f64>() / n;
    let num: f64 = energy.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum::<f64>() / n;
    let den: f64 = energy.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / n;
    num / den
}

impl Draws {
    /// Sampler diagnostics as sentences: divergences, tree depth saturation, low E-BFMI, chains
    /// that never moved, and the bias of samplers without a Metropolis test.
    pub fn sampler_warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.settings.iter().any(|(k, v)| k == "metropolis" && v == "false") {
            // how much: with exact densities, the mean acceptance the test would have had
            let minibatched = self.settings.iter().any(|(k, _)| k == "batch_size");
            let would_accept = match (self.stat("accept_stat__"), minibatched) {
                (Some(a), false) => {
                    let a: Vec<f64> = a.concat();
                    (!a.is_empty()).then(|| format!(" (a Metropolis test would have accepted {:.1}% of these transitions on average: the further below 100%, the larger the bias)", 100.0 * a.iter().sum::<f64>() / a.len() as f64))
                }
                _ if self.sampler == "sgld" => self.langevin_inflation(),
                _ => None,
            };
            out.push(format!("{} ran without a Metropolis test: its draws are biased by the time discretisation, more so for larger steps{}; compare with a smaller step_size or an exact sampler (NUTS, MALA, HMC)", self.sampler, would_accept.unwrap_or_default()));
        }
        if self.is_weighted() {
            out.push("these draws are weighted particles (SMC): their plain summary ignores the weights, and R-hat and ESS do not apply to them; use the SMC output's `summary()`".into());
            return out;
        }
        let k = self.names.len();
        for (c, chain) in self.chains.iter().enumerate() {
            let n = if k == 0 { 0 } else { chain.values.len() / k };
            if n >= 2 && chain.values.chunks(k).all(|v| v == &chain.values[..k]) {
                out.push(format!("chain {} never moved after warmup ({n} draws at one point): every transition was rejected or divergent; the step size may be far too large or the chain stuck in a region of the posterior it cannot leave", c + 1));
            }
        }
        let total: usize = self.chains.iter().map(|c| c.lp.len()).sum();
        let div = self.divergences();
        if div > 0 {
            out.push(format!(
                "{div} of {total} transitions after warmup were divergent ({:.1}%): the posterior has regions the sampler cannot explore; raise target_accept or reparametrise (e.g. non-centred)",
                100.0 * div as f64 / total as f64
            ));
        }
        let max_depth = self.settings.iter().find(|(k, _)| k == "max_depth").and_then(|(_, v)| v.parse::<f64>().ok());
        if let (Some(depths), Some(max)) = (self.stat("treedepth__"), max_depth) {
            let hit = depths.iter().flatten().filter(|&&d| d >= max).count();
            if hit > 0 {
                out.push(format!("{hit} of {total} transitions hit the maximum tree depth {max}: consider a dense metric or a larger max_depth"));
            }
        }
        if let Some(energy) = self.stat("energy__") {
            for (c, e) in energy.iter().enumerate() {
                let b = ebfmi(e);
                if b < EBFMI_THRESHOLD {
                    out.push(format!("chain {}: E-BFMI {b:.3} is below {EBFMI_THRESHOLD}: the posterior may have heavy tails the sampler explores poorly", c + 1));
                }
            }
        }
        out
    }

    /// SGLD's bias from its step alone: on a Gaussian posterior with variance σ², unadjusted
    /// Langevin steps of size ε sample the variance `v = σ² / (1 − ε/(4σ²))`, so the variance
    /// `v` the draws show gives `σ² = (v + √(v² − εv)) / 2` and the inflation `v/σ²`; the largest
    /// over the recorded values (on their own scale) with ε the mean step after warmup. The
    /// minibatch noise inflates the variance further (by about `ε·V_g/4` per unit of precision).
    fn langevin_inflation(&self) -> Option<String> {
        let steps: Vec<f64> = self.stat("stepsize__")?.concat();
        let eps = steps.iter().sum::<f64>() / steps.len() as f64;
        let summary = self.summary();
        let mut worst: Option<(f64, String)> = None;
        for row in summary.rows().iter().filter(|r| r.name != "lp__") {
            let v = row.sd * row.sd;
            if !(v > 0.0 && eps.is_finite()) {
                continue;
            }
            let inflation = if v * v > eps * v { v / (0.5 * (v + (v * v - eps * v).sqrt())) } else { f64::INFINITY };
            if worst.as_ref().is_none_or(|(w, _)| inflation > *w) {
                worst = Some((inflation, row.name.clone()));
            }
        }
        let (inflation, name) = worst?;
        Some(if inflation.is_finite() {
            format!(" (its mean step ε = {eps:.3e} alone inflates a Gaussian posterior's variance of {name} by {:.1}%, the minibatch noise more)", 100.0 * (inflation - 1.0))
        } else {
            format!(" (its mean step ε = {eps:.3e} exceeds the variance of {name} its draws show: the chain is far from the posterior)")
        })
    }

    /// The stansummary-style table of `lp__` and every value.
    pub fn summary(&self) -> crate::diagnostics::Summary {
        let mut names = vec!["lp__".to_string()];
        names.extend(self.names.iter().cloned());
        let k = self.names.len();
        let chains: Vec<Vec<f64>> = self
            .chains
            .iter()
            .map(|c| {
                // a chain of a stopped run may hold fewer values than log densities: complete draws only
                let n = if k == 0 { c.lp.len() } else { c.lp.len().min(c.values.len() / k) };
                c.lp[..n].iter().enumerate().flat_map(|(i, lp)| std::iter::once(*lp).chain(c.values[i * k..(i + 1) * k].iter().cloned())).collect()
            })
            .collect();
        crate::diagnostics::Summary::new(&names, &chains)
    }

    /// Every warning: the sampler's and the summary's (for weighted particles, only that they
    /// are such: the summary's R-hat and ESS do not apply).
    pub fn warnings(&self) -> Vec<String> {
        let mut w = self.sampler_warnings();
        if !self.is_weighted() {
            let summary = self.summary();
            if self.sampler == "mala" {
                let draws = (summary.n_chains() * summary.n_draws()) as f64;
                let worst = summary.rows().iter().filter(|r| r.ess_bulk.is_finite()).map(|r| (r.ess_bulk, r.name.clone())).min_by(|a, b| a.0.total_cmp(&b.0));
                if let Some((ess, name)) = worst.filter(|(ess, _)| draws > 0.0 && *ess / draws < MIN_ESS_PER_DRAW) {
                    w.push(format!(
                        "MALA's draws are strongly autocorrelated: bulk ESS of {name} is {ess:.0} of {draws:.0} draws ({:.3} per draw, one gradient each); NUTS or Baoab::default() reach the same ESS with fewer gradients, or run MALA for many more draws",
                        ess / draws
                    ));
                }
            }
            w.extend(summary.warnings());
        }
        w
    }

    /// Whether the draws are weighted particles (they carry `log_weight__`, as SMC's do).
    fn is_weighted(&self) -> bool {
        self.stat_names.iter().any(|s| s == "log_weight__")
    }
}

#[cfg(test)]
mod tests {
    use super::ebfmi;

    #[test]
    fn ebfmi_of_independent_energies_is_near_two_and_of_a_random_walk_small() {
        // alternating values: successive differences large relative to the spread
        let alt: Vec<f64> = (0..1000).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
        assert!((ebfmi(&alt) - 4.0).abs() < 0.01);
        let walk: Vec<f64> = (0..1000).map(|i| i as f64 * 0.01).collect();
        assert!(ebfmi(&walk) < 0.01);
    }
}
