//! [`Draws`]: what a run returns — constrained values with Stan-style names, the log density and the
//! sampler's per-draw statistics, per chain.

/// The draws of one chain.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChainDraws {
    /// `lp__`: the log density (unconstrained, with Jacobian) of each draw.
    pub lp: Vec<f64>,
    /// Per-draw statistics, row-major `(draws, stat_names.len())`.
    pub stats: Vec<f64>,
    /// Constrained values, row-major `(draws, names.len())`.
    pub values: Vec<f64>,
    /// The adapted step size.
    pub step_size: f64,
    /// The adapted inverse metric (diagonal, or dense row-major).
    pub inv_metric: Vec<f64>,
}

/// Draws of all chains of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Draws {
    /// Names of the constrained values, Stan style (`theta.1`).
    pub names: Vec<String>,
    /// Names of the statistics, CmdStan style (`accept_stat__`, …).
    pub stat_names: Vec<String>,
    /// One entry per chain.
    pub chains: Vec<ChainDraws>,
    /// The sampler's name.
    pub sampler: String,
    /// Warmup iterations per chain (not stored).
    pub warmup: usize,
    /// The sampler's settings (`key`, `value`), as in output headers.
    pub settings: Vec<(String, String)>,
}

impl Draws {
    /// Draws per chain.
    pub fn n_draws(&self) -> usize {
        self.chains.first().map_or(0, |c| c.lp.len())
    }

    /// Index of a value by name.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The draws of one value, per chain.
    pub fn param(&self, name: &str) -> Option<Vec<Vec<f64>>> {
        let j = self.index(name)?;
        let k = self.names.len();
        Some(self.chains.iter().map(|c| c.values.iter().skip(j).step_by(k).cloned().collect()).collect())
    }

    /// The values of one statistic, per chain.
    pub fn stat(&self, name: &str) -> Option<Vec<Vec<f64>>> {
        let j = self.stat_names.iter().position(|n| n == name)?;
        let k = self.stat_names.len();
        Some(self.chains.iter().map(|c| c.stats.iter().skip(j).step_by(k).cloned().collect()).collect())
    }

    /// Number of divergent transitions after warmup.
    pub fn divergences(&self) -> usize {
        self.stat("divergent__").map_or(0, |s| s.iter().flatten().filter(|&&v| v != 0.0).count())
    }

    /// Pooled mean of a value over all chains.
    pub fn mean(&self, name: &str) -> Option<f64> {
        let all: Vec<f64> = self.param(name)?.into_iter().flatten().collect();
        Some(all.iter().sum::<f64>() / all.len() as f64)
    }
}
