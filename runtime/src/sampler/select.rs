//! [`Select`]: record only some of a target's outputs. A network with millions of weights cannot
//! keep every weight of every draw; wrapped in `Select`, the samplers still move all parameters
//! but the draws (and CSV files) hold only the chosen outputs.

use crate::target::Target;
use crate::error::ModelError;

/// A target whose recorded outputs are a named subset of another's.
pub struct Select<'a, T: ?Sized> {
    inner: &'a T,
    keep: Vec<usize>,
    names: Vec<String>,
}

impl<'a, T: Target + ?Sized> Select<'a, T> {
    /// Keeps the outputs named in `names` (in that order); an unknown name is an error that lists
    /// it.
    pub fn new(inner: &'a T, names: &[&str]) -> Result<Self, ModelError> {
        let all = inner.names();
        let mut keep = Vec::with_capacity(names.len());
        for n in names {
            match all.iter().position(|a| a == n) {
                Some(i) => keep.push(i),
                None => return Err(ModelError::Data { name: (*n).into(), detail: format!("is not an output of the target (it has {} outputs, e.g. {:?})", all.len(), &all[..all.len().min(3)]) }),
            }
        }
        Ok(Self { inner, keep, names: names.iter().map(|n| n.to_string()).collect() })
    }

    /// The target whose outputs are selected.
    pub fn inner(&self) -> &'a T {
        self.inner
    }

    /// Keeps every `step`-th output starting with the first (e.g. a sample of a network's
    /// weights).
    pub fn every(inner: &'a T, step: usize) -> Self {
        let all = inner.names();
        let keep: Vec<usize> = (0..all.len()).step_by(step.max(1)).collect();
        let names = keep.iter().map(|&i| all[i].clone()).collect();
        Self { inner, keep, names }
    }
}

impl<T: Target + ?Sized> Target for Select<'_, T> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn logp_grad_batch(&self, q: &[f64], lp: &mut [f64], grad: &mut [f64]) -> Result<(), ModelError> {
        self.inner.logp_grad_batch(q, lp, grad)
    }
    fn logp_grad(&self, q: &[f64], grad: &mut [f64]) -> Result<f64, ModelError> {
        self.inner.logp_grad(q, grad)
    }
    fn logp(&self, q: &[f64]) -> Result<f64, ModelError> {
        self.inner.logp(q)
    }
    fn names(&self) -> Vec<String> {
        self.names.clone()
    }
    fn output_values(&self, q: &[f64]) -> Result<Vec<f64>, ModelError> {
        let all = self.inner.output_values(q)?;
        Ok(self.keep.iter().map(|&i| all[i]).collect())
    }
    fn init(&self, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
        self.inner.init(rng)
    }
    fn observations(&self) -> Option<usize> {
        self.inner.observations()
    }
    fn logp_grad_minibatch(&self, q: &[f64], batch: &[usize], grad: &mut [f64]) -> Result<f64, ModelError> {
        self.inner.logp_grad_minibatch(q, batch, grad)
    }
    fn logp_grad_device(&self, q: &crate::backend::DevicePoints) -> Result<(Vec<f64>, crate::backend::DevicePoints), ModelError> {
        self.inner.logp_grad_device(q)
    }
    fn logp_grad_minibatch_device(&self, q: &crate::backend::DevicePoints, batches: &[&[usize]]) -> Result<(Vec<f64>, crate::backend::DevicePoints), ModelError> {
        self.inner.logp_grad_minibatch_device(q, batches)
    }
    fn prior_draw(&self, rng: &mut rand_chacha::ChaCha8Rng) -> Result<Vec<f64>, ModelError> {
        self.inner.prior_draw(rng)
    }
    fn logp_parts(&self, q: &[f64], obs: Option<&[usize]>, weight: f64, grad: Option<&mut [f64]>) -> Result<crate::target::Parts, ModelError> {
        self.inner.logp_parts(q, obs, weight, grad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::{hmc::Hmc, run, RunConfig};
    use crate::target::FnDensity;

    #[test]
    fn records_only_the_chosen_outputs_with_the_same_draws() {
        let t = FnDensity::new(4, |q: &[f64], g: &mut [f64]| {
            g.iter_mut().zip(q).for_each(|(g, q)| *g = -q);
            -0.5 * q.iter().map(|x| x * x).sum::<f64>()
        });
        let cfg = RunConfig { chains: 2, warmup: 50, draws: 20, seed: 1, init: None };
        let all = run(&Hmc::new(5), &t, &cfg).unwrap();
        let some = Select::new(&t, &["x.4", "x.2"]).unwrap();
        let part = run(&Hmc::new(5), &some, &cfg).unwrap();
        assert_eq!(part.names, ["x.4", "x.2"]);
        assert_eq!(part.chains[1].lp, all.chains[1].lp);
        let want: Vec<f64> = all.chains[1].values.chunks(4).flat_map(|v| [v[3], v[1]]).collect();
        assert_eq!(part.chains[1].values, want);
        assert_eq!(Select::every(&t, 3).names(), ["x.1", "x.4"]);
        assert!(matches!(Select::new(&t, &["y"]), Err(ModelError::Data { .. })));
    }
}

opaque_debug!(impl['a, T: ?Sized] Select<'a, T>);
