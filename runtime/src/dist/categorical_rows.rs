//! [`CategoricalLogitRows`](super::CategoricalLogitRows): a categorical likelihood with one row of
//! logits per label, the likelihood of a classifier network (`n` rows of `K` outputs) or of a
//! next-token model (one row of `V` logits per position).

use super::Dist;
use crate::backend::Backend;
use crate::value::Real;

impl<'c, B: Backend> Dist<'c, B> {
    /// The number of classes `K` (the constant second argument) and of rows of logits.
    pub(crate) fn logit_rows(&self) -> Result<(usize, usize), String> {
        let k = match self.ctx.host_const(self.args[1]) {
            Some(v) if v.len() == 1 => v[0],
            _ => return Err("classes must be a constant, the number of classes K".into()),
        };
        if !(k >= 1.0 && k.fract() == 0.0 && k.is_finite()) {
            return Err(format!("classes must be a positive integer, got {k}"));
        }
        let k = k as usize;
        let len = self.args[0].len();
        if !len.is_multiple_of(k) {
            return Err(format!("logits has length {len}, not a multiple of the {k} classes (one row of {k} logits per label)"));
        }
        Ok((k, len / k))
    }

    /// `K` and the rows, checked against the labels: one label per row, each in `0..K`.
    pub(crate) fn check_labels(&self, labels: &[f64]) -> Result<usize, String> {
        let (k, rows) = self.logit_rows()?;
        if labels.len() != rows {
            return Err(format!("{} labels for {rows} rows of {k} logits (the logits have length {})", labels.len(), rows * k));
        }
        match labels.iter().enumerate().find(|(_, &v)| !(v >= 0.0 && v.fract() == 0.0 && v < k as f64)) {
            Some((i, v)) => Err(format!("element {i} is {v}, must be a label in 0..{k}")),
            None => Ok(k),
        }
    }

    /// `logits[i·K + yᵢ] − ln Σₖ exp(logits[i·K + k])` for each label `yᵢ`, per population member.
    /// The logits are gathered once into class-major order (class `k` of every row side by side),
    /// shifted by each row's maximum (a constant, so the gradient is exact) so that large logits do
    /// not overflow, exponentiated at once and summed over classes by halving: `O(log K)` slices
    /// and additions of shrinking size, so that the reverse pass stays `O(n · K)` too.
    pub(crate) fn log_prob_rows(&self, x: Real<'c, B>) -> Real<'c, B> {
        let ctx = self.ctx;
        let labels = x.to_host();
        let k = match self.check_labels(&labels) {
            Ok(k) => k,
            Err(detail) => return ctx.fail(detail),
        };
        let n = labels.len();
        let (p, len) = self.args[0].shape();
        let logits = ctx.expand(self.args[0], p, len);
        let max: Vec<f64> = logits
            .to_host()
            .chunks_exact(k)
            .map(|row| row.iter().copied().fold(f64::NEG_INFINITY, f64::max))
            .map(|m| if m.is_finite() { m } else { 0.0 })
            .collect();
        let by_class: Vec<usize> = (0..k).flat_map(|c| (0..n).map(move |i| i * k + c)).collect();
        let shift_by_class: Vec<f64> = max.chunks_exact(n).flat_map(|m| std::iter::repeat_n(m, k).flatten().copied()).collect();
        let shifted = logits.gather(&by_class) - ctx.constant_rows(shift_by_class, p, len);
        let total = sum_classes(shifted.exp(), k, n);
        let picked: Vec<usize> = labels.iter().enumerate().map(|(i, &y)| i * k + y as usize).collect();
        logits.gather(&picked) - (total.ln() + ctx.constant_rows(max, p, n))
    }
}

/// `Σₖ z[k·n .. (k + 1)·n]`: the sum over the `k` classes of class-major values `z`, by halving.
fn sum_classes<'c, B: Backend>(z: Real<'c, B>, k: usize, n: usize) -> Real<'c, B> {
    if k == 1 {
        return z;
    }
    let h = k / 2;
    let pairs = sum_classes(z.slice(0, h * n) + z.slice(h * n, 2 * h * n), h, n);
    if !k.is_multiple_of(2) {
        pairs + z.slice(2 * h * n, k * n)
    } else {
        pairs
    }
}
