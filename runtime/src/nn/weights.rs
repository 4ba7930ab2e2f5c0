//! [`Weights`]: the prior and the initial scales of a network's weights, shared by [`Network`](super::Network),
//! [`Mlp`](super::Mlp) and [`SequenceNetwork`](super::SequenceNetwork).

use super::WeightPrior;
use crate::error::ModelError;
use rand_distr::{Distribution, StandardNormal};

/// Per-weight prior standard deviations and initial scales.
#[derive(Clone, Debug)]
pub(crate) struct Weights {
    /// The prior sd of each weight.
    sd: Vec<f64>,
    /// RMS of dfdx's initial values of each weight's tensor: the scale of initial points.
    init_scale: Vec<f64>,
}

impl Weights {
    /// From the tensors' sizes, dfdx's initial values and the prior; checks the prior.
    pub(crate) fn new(sizes: &[usize], init: &[f64], prior: &WeightPrior) -> Result<Self, ModelError> {
        let err = |detail: String| ModelError::Data { name: "prior".into(), detail };
        let sd = match prior.sd.len() {
            1 => vec![prior.sd[0]; sizes.len()],
            k if k == sizes.len() => prior.sd.clone(),
            k => return Err(err(format!("{k} standard deviations for a network of {} tensors", sizes.len()))),
        };
        if let Some(s) = sd.iter().find(|s| !(**s > 0.0 && s.is_finite())) {
            return Err(err(format!("sd {s} must be positive and finite")));
        }
        let (mut out, mut init_scale, mut at) = (Vec::new(), Vec::new(), 0);
        for (k, &n) in sizes.iter().enumerate() {
            let rms = (init[at..at + n].iter().map(|v| v * v).sum::<f64>() / n as f64).sqrt();
            out.extend(std::iter::repeat_n(sd[k], n));
            init_scale.extend(std::iter::repeat_n(if rms > 0.0 { rms } else { 0.1 }, n));
            at += n;
        }
        Ok(Self { sd: out, init_scale })
    }

    /// The prior sd of each weight.
    pub(crate) fn sd(&self) -> &[f64] {
        &self.sd
    }

    /// Initial weights at the scale of dfdx's initialisation of each tensor, from `rng`: Stan's
    /// uniform(−2, 2) would saturate every unit of a wide network.
    pub(crate) fn init(&self, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
        scaled_normals(&self.init_scale, rng)
    }
}

/// `scales[i] · z_i` with `z ~ N(0, I)` from `rng`.
fn scaled_normals(scales: &[f64], rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
    scales
        .iter()
        .map(|s| {
            let z: f64 = StandardNormal.sample(&mut *rng);
            s * z
        })
        .collect()
}
