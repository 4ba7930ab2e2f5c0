//! Warmup of the step size towards a target mean change of direction per step `⟨Δφ⟩`, the
//! paper's own measure of the step. Unlike the acceptance rate it is observable with minibatch
//! gradients too, so it tunes `step_size` where dual averaging on acceptance cannot.

/// Stochastic approximation of `ln dt` towards `ln dt + ln(target / measured)`: exact in one step
/// where `⟨Δφ⟩ ∝ dt` (the Gaussian), with gains `min(1, 3/√k)` that average out the noise of
/// minibatch trajectories. The final `step_size` is the geometric mean over the second half of warmup.
#[derive(Clone, Debug)]
pub(crate) struct DphiTuner {
    target: f64,
    sum_ln_dt: f64,
    n: usize,
    /// The warmup iteration the gains count from (0, or where the metric last changed).
    since: usize,
}

impl DphiTuner {
    pub(crate) fn new(target: f64) -> Self {
        Self { target, sum_ln_dt: 0.0, n: 0, since: 0 }
    }

    /// The next `step_size` after a trajectory with step `step_size` turned by `measured` radians per step, at
    /// warmup iteration `iter` of `total`.
    pub(crate) fn learn(&mut self, dt: f64, measured: f64, iter: usize, total: usize) -> f64 {
        let next = if measured > 0.0 && measured.is_finite() {
            let gain = (3.0 / ((iter.saturating_sub(self.since) + 1) as f64).sqrt()).min(1.0);
            // a saturated or failing trajectory must not blow the step up or down by more than 4×
            (dt.ln() + gain * (self.target / measured).ln().clamp(-4f64.ln(), 4f64.ln())).exp()
        } else {
            dt * 0.5
        };
        if 2 * iter >= total {
            self.sum_ln_dt += next.ln();
            self.n += 1;
        }
        next
    }

    /// The geometric mean of the steps of the second half of warmup, if it has begun.
    pub(crate) fn final_step_size(&self) -> Option<f64> {
        (self.n > 0).then(|| (self.sum_ln_dt / self.n as f64).exp())
    }

    /// Starts again from full gains at warmup iteration `iter` and forgets the average (after
    /// the metric changes the coordinates, when `step_size` restarts from its initial value).
    pub(crate) fn restart(&mut self, iter: usize) {
        self.sum_ln_dt = 0.0;
        self.n = 0;
        self.since = iter + 1;
    }
}
