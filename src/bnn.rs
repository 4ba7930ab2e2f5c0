//! A Bayesian neural net for 1-D regression, written by hand (snell's model language has no
//! parameter matrices yet): a fully connected net `1 → H → … → 1` with hidden activation
//! `1 + tanh` (as the Langevin neural-net workflow uses), Gaussian noise σ, iid N(0, s²) priors on
//! every weight and bias, and σ ~ Gamma(shape a, scale 1), sampled as ln σ with its Jacobian.
//!
//! The forward and backward passes are vectorised over the observations, one parameter vector
//! at a time; [`Bnn`] implements [`Target`], [`MinibatchTarget`] and [`SmcTarget`], so BAOAB,
//! SGLD, MALA and SMC all run on it. The unconstrained vector is `[ln σ, W₁, b₁, W₂, b₂, …]`
//! with each `W` row-major `(out, in)`.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, StandardNormal};
use snell::sampler::smc::{Parts, SmcTarget};
use snell::sampler::{MinibatchTarget, Target};
use snell::ModelError;

const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// The net, its priors and its data.
#[derive(Clone, Debug)]
pub struct Bnn {
    widths: Vec<usize>,
    x: Vec<f64>,
    y: Vec<f64>,
    /// Prior standard deviation s of every weight and bias.
    pub weight_scale: f64,
    /// Shape a of σ's Gamma(a, 1) prior.
    pub noise_shape: f64,
}

/// Per-layer activations of one forward pass over `n` observations.
struct Forward {
    /// `acts[l]`: input of layer l, row-major `(n, widths[l])`; `acts[0]` is x.
    acts: Vec<Vec<f64>>,
    /// Output f(x), length n.
    out: Vec<f64>,
}

impl Bnn {
    /// A net with `hidden` layer widths (e.g. `[50, 50]`) on data `(x, y)`.
    pub fn new(hidden: &[usize], x: Vec<f64>, y: Vec<f64>, weight_scale: f64, noise_shape: f64) -> Result<Self, ModelError> {
        if x.len() != y.len() || x.is_empty() {
            return Err(ModelError::Data { name: "y".into(), detail: format!("{} outputs for {} inputs (need the same, at least one)", y.len(), x.len()) });
        }
        if hidden.contains(&0) {
            return Err(ModelError::Data { name: "hidden".into(), detail: "every layer needs at least one unit".into() });
        }
        if !(weight_scale > 0.0 && noise_shape > 0.0) {
            return Err(ModelError::Data { name: "prior".into(), detail: format!("weight scale {weight_scale} and noise shape {noise_shape} must be positive") });
        }
        let mut widths = vec![1];
        widths.extend_from_slice(hidden);
        widths.push(1);
        Ok(Self { widths, x, y, weight_scale, noise_shape })
    }

    /// Number of weights and biases (the dimension is one more, for ln σ).
    pub fn n_weights(&self) -> usize {
        self.widths.windows(2).map(|w| w[1] * (w[0] + 1)).sum()
    }

    /// Offsets of `(W, b)` of each layer in the parameter vector.
    fn offsets(&self) -> Vec<(usize, usize)> {
        let mut at = 1;
        self.widths
            .windows(2)
            .map(|w| {
                let o = (at, at + w[0] * w[1]);
                at += w[1] * (w[0] + 1);
                o
            })
            .collect()
    }

    fn forward(&self, theta: &[f64], x: &[f64]) -> Forward {
        let n = x.len();
        let layers = self.widths.len() - 1;
        let mut acts = vec![x.to_vec()];
        let mut out = Vec::new();
        for (l, (ow, ob)) in self.offsets().into_iter().enumerate() {
            let (win, wout) = (self.widths[l], self.widths[l + 1]);
            let w = &theta[ow..ow + win * wout];
            let b = &theta[ob..ob + wout];
            let a = &acts[l];
            let mut z = vec![0.0; n * wout];
            for i in 0..n {
                let ai = &a[i * win..(i + 1) * win];
                for o in 0..wout {
                    let wo = &w[o * win..(o + 1) * win];
                    z[i * wout + o] = b[o] + ai.iter().zip(wo).map(|(p, q)| p * q).sum::<f64>();
                }
            }
            if l + 1 == layers {
                out = z;
            } else {
                z.iter_mut().for_each(|v| *v = 1.0 + v.tanh());
                acts.push(z);
            }
        }
        Forward { acts, out }
    }

    /// The net's outputs f(x) at the unconstrained parameters `theta`.
    pub fn predict(&self, theta: &[f64], x: &[f64]) -> Vec<f64> {
        self.forward(theta, x).out
    }

    /// Log prior (with the Jacobian of σ = e^{ln σ}) and its gradient, added to `grad`.
    fn log_prior(&self, theta: &[f64], grad: Option<&mut [f64]>) -> f64 {
        let s2 = self.weight_scale * self.weight_scale;
        let (ls, a) = (theta[0], self.noise_shape);
        // Gamma(a, 1) density of σ times the Jacobian σ: a·ln σ − σ − lnΓ(a)
        let mut lp = a * ls - ls.exp() - snell::special::lgamma(a);
        let nw = theta.len() - 1;
        lp += -(nw as f64) * (HALF_LN_2PI + self.weight_scale.ln()) - theta[1..].iter().map(|w| w * w).sum::<f64>() / (2.0 * s2);
        if let Some(g) = grad {
            g[0] += a - ls.exp();
            for (g, w) in g[1..].iter_mut().zip(&theta[1..]) {
                *g -= w / s2;
            }
        }
        lp
    }

    /// Log likelihood of the observations `obs` (all for `None`), unscaled; with `grad`, adds
    /// `weight ×` its gradient.
    fn log_lik(&self, theta: &[f64], obs: Option<&[usize]>, weight: f64, grad: Option<&mut [f64]>) -> f64 {
        let (x, y): (Vec<f64>, Vec<f64>) = match obs {
            Some(b) => (b.iter().map(|&i| self.x[i]).collect(), b.iter().map(|&i| self.y[i]).collect()),
            None => (self.x.clone(), self.y.clone()),
        };
        let n = x.len();
        let fw = self.forward(theta, &x);
        let ls = theta[0];
        let inv_s2 = (-2.0 * ls).exp();
        let r: Vec<f64> = y.iter().zip(&fw.out).map(|(y, f)| y - f).collect();
        let ss: f64 = r.iter().map(|r| r * r).sum();
        let ll = -(n as f64) * (HALF_LN_2PI + ls) - 0.5 * ss * inv_s2;
        let Some(g) = grad else { return ll };
        g[0] += weight * (-(n as f64) + ss * inv_s2);
        // backward: dℓ/df = r / σ²
        let mut delta: Vec<f64> = r.iter().map(|r| weight * r * inv_s2).collect();
        let offsets = self.offsets();
        for l in (0..self.widths.len() - 1).rev() {
            let (win, wout) = (self.widths[l], self.widths[l + 1]);
            let (ow, ob) = offsets[l];
            let a = &fw.acts[l];
            for i in 0..n {
                let ai = &a[i * win..(i + 1) * win];
                for o in 0..wout {
                    let d = delta[i * wout + o];
                    g[ob + o] += d;
                    for (gw, av) in g[ow + o * win..ow + (o + 1) * win].iter_mut().zip(ai) {
                        *gw += d * av;
                    }
                }
            }
            if l == 0 {
                break;
            }
            let w = &theta[ow..ow + win * wout];
            let mut prev = vec![0.0; n * win];
            for i in 0..n {
                let pi = &mut prev[i * win..(i + 1) * win];
                for o in 0..wout {
                    let d = delta[i * wout + o];
                    for (p, wv) in pi.iter_mut().zip(&w[o * win..(o + 1) * win]) {
                        *p += d * wv;
                    }
                }
                // activation 1 + tanh: derivative 1 − tanh² = 1 − (a − 1)²
                for (p, av) in pi.iter_mut().zip(&a[i * win..(i + 1) * win]) {
                    *p *= 1.0 - (av - 1.0) * (av - 1.0);
                }
            }
            delta = prev;
        }
        ll
    }

    fn check(&self, theta: &[f64]) -> Result<(), ModelError> {
        if theta.len() != Target::dim(self) {
            return Err(ModelError::Dimension { what: "net parameters".into(), expected: Target::dim(self), got: theta.len() });
        }
        Ok(())
    }
}

impl Target for Bnn {
    fn dim(&self) -> usize {
        1 + self.n_weights()
    }
    fn logp_grad(&self, q: &[f64], grad: &mut [f64]) -> Result<f64, ModelError> {
        self.check(q)?;
        grad.iter_mut().for_each(|g| *g = 0.0);
        let lp = self.log_prior(q, Some(grad));
        Ok(lp + self.log_lik(q, None, 1.0, Some(grad)))
    }
    fn names(&self) -> Vec<String> {
        std::iter::once("sigma".to_string()).chain((1..=self.n_weights()).map(|i| format!("w.{i}"))).collect()
    }
    fn constrain(&self, q: &[f64]) -> Result<Vec<f64>, ModelError> {
        self.check(q)?;
        let mut out = q.to_vec();
        out[0] = q[0].exp();
        Ok(out)
    }
    /// Draws from the prior (Stan's uniform(−2, 2) would start the net far out in its tails).
    fn init(&self, rng: &mut ChaCha8Rng) -> Vec<f64> {
        SmcTarget::sample_prior(self, rng).unwrap_or_else(|_| vec![0.0; Target::dim(self)])
    }
    fn as_minibatch(&self) -> Option<&dyn MinibatchTarget> {
        Some(self)
    }
}

impl MinibatchTarget for Bnn {
    fn n_obs(&self) -> Option<usize> {
        Some(self.x.len())
    }
    fn logp_grad_minibatch(&self, q: &[f64], batch: &[usize], grad: &mut [f64]) -> Result<f64, ModelError> {
        self.check(q)?;
        let n = self.x.len();
        if batch.is_empty() || batch.iter().any(|&i| i >= n) {
            return Err(ModelError::Data { name: "batch".into(), detail: format!("needs indices in 0..{n}, at least one") });
        }
        let scale = n as f64 / batch.len() as f64;
        grad.iter_mut().for_each(|g| *g = 0.0);
        let lp = self.log_prior(q, Some(grad));
        Ok(lp + scale * self.log_lik(q, Some(batch), scale, Some(grad)))
    }
}

impl SmcTarget for Bnn {
    fn dim(&self) -> usize {
        Target::dim(self)
    }
    fn n_obs(&self) -> Option<usize> {
        Some(self.x.len())
    }
    fn names(&self) -> Vec<String> {
        Target::names(self)
    }
    fn constrain(&self, q: &[f64]) -> Result<Vec<f64>, ModelError> {
        Target::constrain(self, q)
    }
    fn sample_prior(&self, rng: &mut ChaCha8Rng) -> Result<Vec<f64>, ModelError> {
        let gamma = Gamma::new(self.noise_shape, 1.0).map_err(|e| ModelError::Data { name: "noise_shape".into(), detail: e.to_string() })?;
        let sigma: f64 = gamma.sample(rng);
        let mut q = vec![sigma.max(1e-300).ln()];
        q.extend((0..self.n_weights()).map(|_| self.weight_scale * rng.sample::<f64, _>(StandardNormal)));
        Ok(q)
    }
    fn parts(&self, theta: &[f64], obs: Option<&[usize]>, weight: f64, mut grad: Option<&mut [f64]>) -> Result<Parts, ModelError> {
        let d = Target::dim(self);
        if theta.is_empty() || !theta.len().is_multiple_of(d) {
            return Err(ModelError::Dimension { what: "net parameters (a multiple of D)".into(), expected: d, got: theta.len() });
        }
        if let Some(b) = obs {
            if b.iter().any(|&i| i >= self.x.len()) {
                return Err(ModelError::Data { name: "batch".into(), detail: format!("index out of range for {} observations", self.x.len()) });
            }
        }
        let p = theta.len() / d;
        let mut parts = Parts { log_prior: Vec::with_capacity(p), log_likelihood: Vec::with_capacity(p) };
        for j in 0..p {
            let q = &theta[j * d..(j + 1) * d];
            let g = grad.as_deref_mut().map(|g| {
                let gj = &mut g[j * d..(j + 1) * d];
                gj.iter_mut().for_each(|v| *v = 0.0);
                gj
            });
            match g {
                Some(gj) => {
                    parts.log_prior.push(self.log_prior(q, Some(&mut *gj)));
                    parts.log_likelihood.push(self.log_lik(q, obs, weight, Some(gj)));
                }
                None => {
                    parts.log_prior.push(self.log_prior(q, None));
                    parts.log_likelihood.push(self.log_lik(q, obs, weight, None));
                }
            }
        }
        Ok(parts)
    }
}

/// The seed's regression data: `n` points of `y = 4 sin(x − 2) + sin(8x − 2) − 4x² + N(0, 0.5²)`
/// at x uniform on [0, 1].
pub fn toy_data(n: usize, rng: &mut ChaCha8Rng) -> (Vec<f64>, Vec<f64>) {
    let x: Vec<f64> = (0..n).map(|_| rng.gen_range(0.0..1.0)).collect();
    let y = x.iter().map(|&x| truth(x) + 0.5 * rng.sample::<f64, _>(StandardNormal)).collect();
    (x, y)
}

/// The noiseless curve `4 sin(x − 2) + sin(8x − 2) − 4x²`.
pub fn truth(x: f64) -> f64 {
    4.0 * (x - 2.0).sin() + (8.0 * x - 2.0).sin() - 4.0 * x * x
}
