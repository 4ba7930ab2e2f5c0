//! Progress bars, one per chain, with draws per second and divergences (indicatif). Drawn only when
//! standard error is a terminal, so logs and CI output stay clean.

use super::driver::{ChainStart, Observer};
use super::{Phase, SamplerError};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Per-chain progress bars.
pub struct Progress {
    multi: MultiProgress,
    bars: Mutex<Vec<Option<ProgressBar>>>,
    divergences: Vec<AtomicUsize>,
}

impl Progress {
    /// Bars for `chains` chains, drawn on standard error when it is a terminal.
    pub fn new(chains: usize) -> Self {
        Self::with_target(chains, ProgressDrawTarget::stderr())
    }

    /// Bars that are never drawn (for tests and when the user turns them off).
    pub fn hidden(chains: usize) -> Self {
        Self::with_target(chains, ProgressDrawTarget::hidden())
    }

    fn with_target(chains: usize, target: ProgressDrawTarget) -> Self {
        Self {
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::new(vec![None; chains]),
            divergences: (0..chains).map(|_| AtomicUsize::new(0)).collect(),
        }
    }

    fn bar(&self, chain: usize) -> Option<ProgressBar> {
        self.bars.lock().ok()?.get(chain).cloned().flatten()
    }
}

impl Observer for Progress {
    fn start_chain(&self, start: &ChainStart<'_>) -> Result<(), SamplerError> {
        let total = (start.config.warmup + start.config.draws) as u64;
        let bar = self.multi.add(ProgressBar::new(total));
        let style = ProgressStyle::with_template("chain {prefix} {bar:30} {pos:>5}/{len} {msg} [{elapsed_precise}, {per_sec}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix((start.chain + 1).to_string());
        bar.set_message("warmup");
        if let Ok(mut bars) = self.bars.lock() {
            if start.chain < bars.len() {
                bars[start.chain] = Some(bar);
            }
        }
        Ok(())
    }

    fn draw(&self, chain: usize, phase: Phase, _lp: f64, _stats: &[f64], _values: &[f64], divergent: bool) -> Result<(), SamplerError> {
        if let Some(bar) = self.bar(chain) {
            if divergent && phase == Phase::Sampling {
                let n = self.divergences[chain].fetch_add(1, Ordering::Relaxed) + 1;
                bar.set_message(format!("sampling, {n} divergent"));
            }
            bar.inc(1);
        }
        Ok(())
    }

    fn adapted(&self, chain: usize, _step_size: f64, _inv_metric: &[f64]) -> Result<(), SamplerError> {
        if let Some(bar) = self.bar(chain) {
            bar.set_message("sampling");
        }
        Ok(())
    }

    fn end_chain(&self, chain: usize, _warmup_secs: f64, _sampling_secs: f64) -> Result<(), SamplerError> {
        if let Some(bar) = self.bar(chain) {
            let n = self.divergences[chain].load(Ordering::Relaxed);
            bar.finish_with_message(if n > 0 { format!("done, {n} divergent") } else { "done".into() });
        }
        Ok(())
    }
}

opaque_debug!(impl[] Progress);
