//! [`HostRows`]: the population state in host vectors, evaluated by a [`Target`]. One chain per
//! thread is `P = 1`; all chains in lockstep is `P = chains`, one batched evaluation per step.

use super::rows::Rows;
use crate::sampler::metric::Metric;
use crate::sampler::SamplerError;
use crate::target::Target;

/// `(P, D)` arrays as row-major `Vec<f64>`s, evaluated by `target`.
pub struct HostRows<'t> {
    target: &'t dyn Target,
    p: usize,
}

impl<'t> HostRows<'t> {
    /// `p` rows of `target`'s dimension.
    pub fn new(target: &'t dyn Target, p: usize) -> Self {
        Self { target, p }
    }
}

impl Rows for HostRows<'_> {
    type Array = Vec<f64>;
    type Metric = Vec<Metric>;

    fn len(&self) -> usize {
        self.p
    }
    fn dim(&self) -> usize {
        self.target.dim()
    }
    fn upload(&self, values: &[f64]) -> Vec<f64> {
        values.to_vec()
    }
    fn download(&self, a: &Vec<f64>) -> Vec<f64> {
        a.clone()
    }
    fn axpy(&self, y: &mut Vec<f64>, a: &[f64], x: &Vec<f64>) {
        let d = self.dim();
        for ((yr, xr), a) in y.chunks_mut(d).zip(x.chunks(d)).zip(a).filter(|(_, a)| **a != 0.0) {
            for (y, x) in yr.iter_mut().zip(xr) {
                *y += a * x;
            }
        }
    }
    fn scale(&self, x: &mut Vec<f64>, a: &[f64]) {
        let d = self.dim();
        for (xr, a) in x.chunks_mut(d).zip(a).filter(|(_, a)| **a != 1.0) {
            xr.iter_mut().for_each(|x| *x *= a);
        }
    }
    fn row_dot(&self, a: &Vec<f64>, b: &Vec<f64>) -> Vec<f64> {
        let d = self.dim();
        a.chunks(d).zip(b.chunks(d)).map(|(a, b)| a.iter().zip(b).map(|(a, b)| a * b).sum()).collect()
    }
    fn select(&self, take: &[bool], a: &mut Vec<f64>, b: &Vec<f64>) {
        let d = self.dim();
        for ((ar, br), _) in a.chunks_mut(d).zip(b.chunks(d)).zip(take).filter(|(_, t)| **t) {
            ar.copy_from_slice(br);
        }
    }
    fn metric(&self, metrics: &[Metric]) -> Result<Vec<Metric>, SamplerError> {
        Ok(metrics.to_vec())
    }
    fn velocity(&self, metric: &Vec<Metric>, p: &Vec<f64>) -> Vec<f64> {
        let d = self.dim();
        let mut v = vec![0.0; p.len()];
        for ((vr, pr), m) in v.chunks_mut(d).zip(p.chunks(d)).zip(metric) {
            m.velocity(pr, vr);
        }
        v
    }
    fn evaluate(&self, q: &Vec<f64>, active: &[bool]) -> Result<(Vec<f64>, Vec<f64>), SamplerError> {
        let d = self.dim();
        let rows: Vec<usize> = (0..self.p).filter(|&r| active[r]).collect();
        let (mut lp, mut grad) = (vec![f64::NAN; self.p], vec![0.0; self.p * d]);
        if rows.is_empty() {
            return Ok((lp, grad));
        }
        if rows.len() == self.p {
            self.target.logp_grad_batch(q, &mut lp, &mut grad)?;
        } else {
            let packed: Vec<f64> = rows.iter().flat_map(|&r| q[r * d..(r + 1) * d].iter().copied()).collect();
            let (mut plp, mut pgrad) = (vec![0.0; rows.len()], vec![0.0; rows.len() * d]);
            self.target.logp_grad_batch(&packed, &mut plp, &mut pgrad)?;
            for (k, &r) in rows.iter().enumerate() {
                lp[r] = plp[k];
                grad[r * d..(r + 1) * d].copy_from_slice(&pgrad[k * d..(k + 1) * d]);
            }
        }
        non_finite_rows(&mut lp, &grad, d);
        Ok((lp, grad))
    }
    fn log_densities(&self, q: &Vec<f64>, active: &[bool]) -> Result<Vec<f64>, SamplerError> {
        let d = self.dim();
        let mut lp = vec![f64::NAN; self.p];
        for r in (0..self.p).filter(|&r| active[r]) {
            let l = self.target.logp(&q[r * d..(r + 1) * d])?;
            lp[r] = if l.is_finite() { l } else { f64::NEG_INFINITY };
        }
        Ok(lp)
    }
    fn observations(&self) -> Option<usize> {
        self.target.observations()
    }
    fn evaluate_minibatch(&self, q: &Vec<f64>, batches: &[Option<&[usize]>]) -> Result<(Vec<f64>, Vec<f64>), SamplerError> {
        let d = self.dim();
        let (mut lp, mut grad) = (vec![f64::NAN; self.p], vec![0.0; self.p * d]);
        for (r, batch) in batches.iter().enumerate() {
            if let Some(batch) = batch {
                lp[r] = self.target.logp_grad_minibatch(&q[r * d..(r + 1) * d], batch, &mut grad[r * d..(r + 1) * d])?;
            }
        }
        non_finite_rows(&mut lp, &grad, d);
        Ok((lp, grad))
    }
    fn host_target(&self) -> &dyn Target {
        self.target
    }
}

/// `−∞` as the log density of every row whose log density or gradient is not finite.
fn non_finite_rows(lp: &mut [f64], grad: &[f64], d: usize) {
    for (l, g) in lp.iter_mut().zip(grad.chunks(d)) {
        if !l.is_finite() || g.iter().any(|g| !g.is_finite()) {
            *l = f64::NEG_INFINITY;
        }
    }
}

opaque_debug!(impl['t] HostRows<'t>);
