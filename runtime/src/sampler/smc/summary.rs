//! What SMC's output says of itself: the weighted summary of its particles, its cost in gradients,
//! and the warnings that tell a collapsed particle system from a good one.
//!
//! SMC's draws are weighted particles of independent runs, not chains: their plain summary
//! (`draws.summary()`) ignores the weights, and R-hat and the ESS of autocorrelated draws mean
//! nothing for them. [`ParticleSummary`] weights every particle (each run counting equally), takes
//! the Monte Carlo standard error of a mean from the spread of the runs' own weighted means, and
//! reports the Kish ESS of the pooled weights.

use super::{SmcOutput, SmcRun};
use std::fmt;

/// Below this fraction of the particles, a stage's weights have collapsed onto a few particles:
/// the next target was too far from the current one.
pub const MIN_STAGE_ESS_FRACTION: f64 = 0.1;
/// A run whose moves accepted less than this on average barely moved its particles (steps too
/// large for the targets); more than [`MAX_MOVE_ACCEPTANCE`], its steps were too small to move
/// them far.
pub const MIN_MOVE_ACCEPTANCE: f64 = 0.1;
/// See [`MIN_MOVE_ACCEPTANCE`].
pub const MAX_MOVE_ACCEPTANCE: f64 = 0.98;
/// Fewer distinct particles than this fraction after a run: resampling duplicated a few particles
/// and the moves did not separate them again.
pub const MIN_DISTINCT_FRACTION: f64 = 0.5;

/// One value's weighted posterior summary.
#[derive(Clone, Debug, PartialEq)]
pub struct ParticleRow {
    /// The value's name.
    pub name: String,
    /// Weighted mean over all runs' particles.
    pub mean: f64,
    /// Monte Carlo standard error of the mean: the standard deviation of the runs' weighted means
    /// over √runs (`NaN` with one run).
    pub mcse_mean: f64,
    /// Weighted standard deviation (with the correction for reliability weights, `1 − Σw²`).
    pub sd: f64,
    /// Weighted 5% quantile.
    pub q5: f64,
    /// Weighted median.
    pub q50: f64,
    /// Weighted 95% quantile.
    pub q95: f64,
}

/// The weighted summary of SMC's particles ([`SmcOutput::summary`]); printing it gives the table.
#[derive(Clone, Debug, PartialEq)]
pub struct ParticleSummary {
    /// One row per recorded value.
    pub rows: Vec<ParticleRow>,
    /// Independent runs.
    pub runs: usize,
    /// Particles per run.
    pub particles: usize,
    /// Kish's effective sample size of the pooled weights.
    pub weight_ess: f64,
    /// ln Ẑ and its standard error.
    pub log_evidence: (f64, f64),
    /// Gradient evaluations of all runs together.
    pub gradients: usize,
}

impl ParticleSummary {
    /// The row of the value called `name`.
    pub fn row(&self, name: &str) -> Option<&ParticleRow> {
        self.rows.iter().find(|r| r.name == name)
    }
}

/// `Σ w x` and the reliability-weighted variance of values `x` with normalised weights `w`.
fn weighted_moments(x: &[f64], w: &[f64]) -> (f64, f64) {
    let mean: f64 = x.iter().zip(w).map(|(x, w)| x * w).sum();
    let ss: f64 = x.iter().zip(w).map(|(x, w)| w * (x - mean).powi(2)).sum();
    let w2: f64 = w.iter().map(|w| w * w).sum();
    (mean, if w2 < 1.0 { ss / (1.0 - w2) } else { f64::NAN })
}

/// The weighted quantile `p`: the smallest value whose cumulative weight reaches `p`, interpolated
/// between neighbours at the midpoints of their weights (so equal weights give the usual
/// interpolated quantile's centre).
pub(crate) fn weighted_quantile(x: &[f64], w: &[f64], p: f64) -> f64 {
    let mut pairs: Vec<(f64, f64)> = x.iter().copied().zip(w.iter().copied()).filter(|(_, w)| *w > 0.0).collect();
    if pairs.is_empty() || pairs.iter().any(|(x, _)| x.is_nan()) {
        return f64::NAN;
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = pairs.iter().map(|p| p.1).sum();
    // the midpoint of each value's weight on the cumulative scale
    let mut acc = 0.0;
    let mids: Vec<f64> = pairs
        .iter()
        .map(|&(_, w)| {
            let m = (acc + 0.5 * w) / total;
            acc += w;
            m
        })
        .collect();
    if p <= mids[0] {
        return pairs[0].0;
    }
    for k in 1..pairs.len() {
        if p <= mids[k] {
            let t = (p - mids[k - 1]) / (mids[k] - mids[k - 1]);
            return pairs[k - 1].0 + t * (pairs[k].0 - pairs[k - 1].0);
        }
    }
    pairs[pairs.len() - 1].0
}

/// The normalised weights of one run's particles.
fn run_weights(run: &SmcRun) -> Vec<f64> {
    run.log_weights.iter().map(|w| w.exp()).collect()
}

impl SmcOutput {
    /// The weighted summary of the particles: per value the weighted mean (with its Monte Carlo
    /// standard error from the runs), sd and 5/50/95% quantiles, with the weights' ESS, ln Ẑ and
    /// the gradients spent. This, not `draws.summary()`, is SMC's posterior summary.
    pub fn summary(&self) -> ParticleSummary {
        let weights = self.weights();
        let r = self.runs.len();
        let rows = self
            .draws
            .names
            .iter()
            .map(|name| {
                let per_run = self.draws.param(name).unwrap_or_default();
                let all: Vec<f64> = per_run.iter().flatten().copied().collect();
                let (mean, var) = weighted_moments(&all, &weights);
                let run_means: Vec<f64> = per_run.iter().zip(&self.runs).map(|(x, run)| weighted_moments(x, &run_weights(run)).0).collect();
                let mcse_mean = if r > 1 {
                    let m = run_means.iter().sum::<f64>() / r as f64;
                    (run_means.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (r - 1) as f64 / r as f64).sqrt()
                } else {
                    f64::NAN
                };
                ParticleRow {
                    name: name.clone(),
                    mean,
                    mcse_mean,
                    sd: var.sqrt(),
                    q5: weighted_quantile(&all, &weights, 0.05),
                    q50: weighted_quantile(&all, &weights, 0.5),
                    q95: weighted_quantile(&all, &weights, 0.95),
                }
            })
            .collect();
        ParticleSummary {
            rows,
            runs: r,
            particles: self.runs.first().map_or(0, |run| run.log_weights.len()),
            weight_ess: self.ess(),
            log_evidence: (self.log_evidence, self.log_evidence_se),
            gradients: self.gradients(),
        }
    }

    /// Gradient evaluations of all runs together (each particle's per move, and one per particle
    /// where the moves of a stage begin).
    pub fn gradients(&self) -> usize {
        self.runs.iter().map(|r| r.gradients).sum()
    }

    /// Warnings about the particle system, one sentence each: stages whose weights collapsed
    /// ([`MIN_STAGE_ESS_FRACTION`]), runs whose moves accepted almost nothing or almost everything
    /// ([`MIN_MOVE_ACCEPTANCE`], [`MAX_MOVE_ACCEPTANCE`]), runs left with few distinct particles
    /// ([`MIN_DISTINCT_FRACTION`]).
    pub(super) fn particle_warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, run) in self.runs.iter().enumerate() {
            let n = run.log_weights.len();
            if let Some((k, s)) = run.stages.iter().enumerate().find(|(_, s)| s.ess < MIN_STAGE_ESS_FRACTION * n as f64) {
                out.push(format!(
                    "run {}: at stage {} the weights collapsed onto {:.0} of {n} particles (ESS): the targets change too fast there; use the adaptive schedule or more stages",
                    i + 1,
                    k + 1,
                    s.ess
                ));
            }
            let acc: Vec<f64> = run.stages.iter().map(|s| s.acceptance).filter(|a| a.is_finite()).collect();
            if !acc.is_empty() {
                let mean = acc.iter().sum::<f64>() / acc.len() as f64;
                if mean < MIN_MOVE_ACCEPTANCE {
                    out.push(format!("run {}: the moves accepted {:.1}% of proposals on average: the particles barely moved; the posterior may be too narrow or curved for the moves (try Move::Hmc or more moves)", i + 1, 100.0 * mean));
                } else if mean > MAX_MOVE_ACCEPTANCE {
                    out.push(format!("run {}: the moves accepted {:.1}% of proposals on average: their steps are too small to move the particles far", i + 1, 100.0 * mean));
                }
            }
            let d = if n == 0 { 0 } else { run.particles.len() / n };
            if d > 0 {
                let mut rows: Vec<&[f64]> = run.particles.chunks(d).collect();
                rows.sort_by(|a, b| a.iter().zip(b.iter()).map(|(x, y)| x.total_cmp(y)).find(|o| o.is_ne()).unwrap_or(std::cmp::Ordering::Equal));
                rows.dedup();
                if (rows.len() as f64) < MIN_DISTINCT_FRACTION * n as f64 {
                    out.push(format!("run {}: only {} of {n} particles are distinct at the end: resampling duplicated a few and the moves did not separate them; use more moves", i + 1, rows.len()));
                }
            }
        }
        out
    }
}

impl fmt::Display for ParticleSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "SMC: {} runs × {} particles, weight ESS {:.0}, ln Z = {:.3} ± {:.3}, {} gradients",
            self.runs, self.particles, self.weight_ess, self.log_evidence.0, self.log_evidence.1, self.gradients
        )?;
        let width = self.rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
        writeln!(f, "{:>width$} {:>10} {:>9} {:>10} {:>10} {:>10} {:>10}", "", "Mean", "MCSE", "StdDev", "5%", "50%", "95%")?;
        for r in &self.rows {
            writeln!(f, "{:>width$} {:>10.4} {:>9.4} {:>10.4} {:>10.4} {:>10.4} {:>10.4}", r.name, r.mean, r.mcse_mean, r.sd, r.q5, r.q50, r.q95)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{weighted_moments, weighted_quantile};

    #[test]
    fn equal_weights_give_the_plain_moments_and_quantiles() {
        let x: Vec<f64> = (0..101).map(|i| i as f64).collect();
        let w = vec![1.0 / 101.0; 101];
        let (m, v) = weighted_moments(&x, &w);
        assert!((m - 50.0).abs() < 1e-12);
        let plain = x.iter().map(|x| (x - 50.0).powi(2)).sum::<f64>() / 100.0;
        assert!((v - plain).abs() < 1e-9, "{v} vs {plain}");
        assert!((weighted_quantile(&x, &w, 0.5) - 50.0).abs() < 1e-9);
        assert!((weighted_quantile(&x, &w, 0.05) - 5.0).abs() < 0.6);
        // one particle with all the weight is the whole distribution
        let mut point = vec![0.0; 101];
        point[7] = 1.0;
        assert_eq!(weighted_quantile(&x, &point, 0.05), 7.0);
        assert_eq!(weighted_quantile(&x, &point, 0.95), 7.0);
    }
}
