//! [`SmcTarget`]: what sequential Monte Carlo needs of a model — prior draws, and the log prior and
//! the *unscaled* log likelihood of some observations, separately, for a whole population at once.
//! Implemented for every [`Model`]; hand-written targets (e.g. a neural net written by hand)
//! implement it directly.

use crate::error::ModelError;
use crate::model::{default_backend, EvalOptions, Model};
use rand_chacha::ChaCha8Rng;

/// The two parts of a tempered log density `log prior + w · log likelihood`, per population member.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parts {
    /// Log prior density on the unconstrained scale (with the transforms' log Jacobian).
    pub log_prior: Vec<f64>,
    /// Log likelihood of the observations evaluated, not scaled.
    pub log_likelihood: Vec<f64>,
}

/// A Bayesian model as SMC sees it. All densities are on the unconstrained scale.
pub trait SmcTarget: Sync {
    /// Dimension D of the unconstrained space.
    fn dim(&self) -> usize;
    /// Number of observations (for data annealing), `None` when the likelihood is not indexed by
    /// observation.
    fn n_obs(&self) -> Option<usize>;
    /// Names of the constrained values, Stan style.
    fn names(&self) -> Vec<String>;
    /// Constrained values of an unconstrained point (in [`SmcTarget::names`] order).
    fn constrain(&self, q: &[f64]) -> Result<Vec<f64>, ModelError>;
    /// An exact draw from the prior, unconstrained. SMC starts from these, so the prior must be
    /// proper.
    fn sample_prior(&self, rng: &mut ChaCha8Rng) -> Result<Vec<f64>, ModelError>;
    /// For every row of `theta` (row-major `(P, D)`): the log prior and the unscaled log
    /// likelihood of the observations `obs` (all of them for `None`). With `grad`, also the
    /// gradient (row-major `(P, D)`) of `log prior + weight · log likelihood`.
    fn parts(&self, theta: &[f64], obs: Option<&[usize]>, weight: f64, grad: Option<&mut [f64]>) -> Result<Parts, ModelError>;
}

impl<M: Model> SmcTarget for M {
    fn dim(&self) -> usize {
        crate::model::LogDensity::dim(self)
    }
    fn n_obs(&self) -> Option<usize> {
        Model::n_obs(self)
    }
    fn names(&self) -> Vec<String> {
        self.layout().output_names()
    }
    fn constrain(&self, q: &[f64]) -> Result<Vec<f64>, ModelError> {
        self.constrain_outputs(q)
    }
    fn sample_prior(&self, rng: &mut ChaCha8Rng) -> Result<Vec<f64>, ModelError> {
        self.unconstrain_flat(&self.sample_prior_flat(rng)?)
    }
    fn parts(&self, theta: &[f64], obs: Option<&[usize]>, weight: f64, grad: Option<&mut [f64]>) -> Result<Parts, ModelError> {
        // `evaluate` scales a batch's likelihood by N / B; undo it so the weight applies to the
        // batch's own likelihood.
        let scale = match obs {
            Some(b) => {
                self.check_batch(b)?;
                b.len() as f64 / Model::n_obs(self).unwrap_or(b.len()) as f64
            }
            None => 1.0,
        };
        let e = self.evaluate(&default_backend(), theta, obs, EvalOptions { grad: grad.is_some(), jacobian: true, likelihood_weight: weight * scale })?;
        if let (Some(g), Some(eg)) = (grad, e.grad.as_deref()) {
            g.copy_from_slice(eg);
        }
        let log_prior = e.log_prior.iter().zip(&e.log_jacobian).map(|(p, j)| p + j).collect();
        Ok(Parts { log_prior, log_likelihood: e.log_likelihood })
    }
}
