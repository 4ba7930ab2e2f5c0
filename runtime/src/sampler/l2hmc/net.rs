//! The six functions of L2HMC as plain f64 networks: what the sampler evaluates at every step.
//!
//! Two networks of the same shape, one for the momentum updates (inputs `x`, `∇U(x)`, time) and
//! one for the position updates (inputs `v`, masked `x`, time), each returning `(S, Q, T)`:
//!
//! ```text
//! h₁ = ReLU(W_a a + W_b b + W_τ τ + b₀),  h₂ = ReLU(W_h h₁ + b_h),
//! S = λ_s ⊙ tanh(W_s h₂ + b_s),  Q = λ_q ⊙ tanh(W_q h₂ + b_q),  T = W_t h₂ + b_t
//! ```
//!
//! with `λ = exp(log λ)` per dimension. Weights are stored row-major `(out, in)`, the layout of
//! dfdx's `Linear`, so the trainer copies them in and out without reshaping.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

/// One of the two networks: weights of `(a, b, τ) ↦ (S, Q, T)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Net {
    /// Dimension n of `a`, `b` and of each output.
    pub dim: usize,
    /// Width of the two hidden layers.
    pub hidden: usize,
    /// `W_a`, `(hidden, dim)`.
    pub w_a: Vec<f64>,
    /// `b₀`, `hidden`.
    pub b_a: Vec<f64>,
    /// `W_b`, `(hidden, dim)` (no bias of its own).
    pub w_b: Vec<f64>,
    /// `W_τ`, `(hidden, 2)` (no bias of its own).
    pub w_tau: Vec<f64>,
    /// `W_h`, `(hidden, hidden)`.
    pub w_h: Vec<f64>,
    /// `b_h`, `hidden`.
    pub b_h: Vec<f64>,
    /// `W_s`, `(dim, hidden)`.
    pub w_s: Vec<f64>,
    /// `b_s`, `dim`.
    pub b_s: Vec<f64>,
    /// `W_q`, `(dim, hidden)`.
    pub w_q: Vec<f64>,
    /// `b_q`, `dim`.
    pub b_q: Vec<f64>,
    /// `W_t`, `(dim, hidden)`.
    pub w_t: Vec<f64>,
    /// `b_t`, `dim`.
    pub b_t: Vec<f64>,
    /// `log λ_s`, `dim`.
    pub log_scale_s: Vec<f64>,
    /// `log λ_q`, `dim`.
    pub log_scale_q: Vec<f64>,
}

/// `out = W x (+ out)` for `W` of shape `(out.len(), x.len())`.
fn matvec_add(w: &[f64], x: &[f64], out: &mut [f64]) {
    let k = x.len();
    for (o, row) in out.iter_mut().zip(w.chunks_exact(k)) {
        *o += row.iter().zip(x).map(|(a, b)| a * b).sum::<f64>();
    }
}

/// He-style fan-in normal weights with variance `2·factor/fan_in` (the reference code's init).
fn he<R: Rng>(rng: &mut R, rows: usize, fan_in: usize, factor: f64) -> Vec<f64> {
    let sd = (2.0 * factor / fan_in as f64).sqrt();
    (0..rows * fan_in).map(|_| sd * rng.sample::<f64, _>(StandardNormal)).collect()
}

impl Net {
    /// A network with every weight, bias and log-scale zero: S = Q = T = 0 (plain HMC).
    pub fn zero(dim: usize, hidden: usize) -> Self {
        let z = |k: usize| vec![0.0; k];
        Self {
            dim,
            hidden,
            w_a: z(hidden * dim),
            b_a: z(hidden),
            w_b: z(hidden * dim),
            w_tau: z(hidden * 2),
            w_h: z(hidden * hidden),
            b_h: z(hidden),
            w_s: z(dim * hidden),
            b_s: z(dim),
            w_q: z(dim * hidden),
            b_q: z(dim),
            w_t: z(dim * hidden),
            b_t: z(dim),
            log_scale_s: z(dim),
            log_scale_q: z(dim),
        }
    }

    /// The reference initialisation: fan-in normal weights with factor 1/3 for the `a` and `τ`
    /// embeddings, `b_factor` for the `b` embedding, 1 for the hidden layer and `head_factor` for
    /// the three heads (0.001 in the reference code, so that training starts close to HMC); zero
    /// biases and unit scales.
    pub fn random<R: Rng>(dim: usize, hidden: usize, b_factor: f64, head_factor: f64, rng: &mut R) -> Self {
        let mut n = Self::zero(dim, hidden);
        n.w_a = he(rng, hidden, dim, 1.0 / 3.0);
        n.w_b = he(rng, hidden, dim, b_factor);
        n.w_tau = he(rng, hidden, 2, 1.0 / 3.0);
        n.w_h = he(rng, hidden, hidden, 1.0);
        n.w_s = he(rng, dim, hidden, head_factor);
        n.w_q = he(rng, dim, hidden, head_factor);
        n.w_t = he(rng, dim, hidden, head_factor);
        n
    }

    /// Every parameter array with its name, in a fixed order (for copying and checks).
    pub fn arrays(&self) -> [(&'static str, &Vec<f64>); 14] {
        [
            ("w_a", &self.w_a),
            ("b_a", &self.b_a),
            ("w_b", &self.w_b),
            ("w_tau", &self.w_tau),
            ("w_h", &self.w_h),
            ("b_h", &self.b_h),
            ("w_s", &self.w_s),
            ("b_s", &self.b_s),
            ("w_q", &self.w_q),
            ("b_q", &self.b_q),
            ("w_t", &self.w_t),
            ("b_t", &self.b_t),
            ("log_scale_s", &self.log_scale_s),
            ("log_scale_q", &self.log_scale_q),
        ]
    }

    /// Mutable access to the arrays, in [`Net::arrays`] order.
    pub fn arrays_mut(&mut self) -> [&mut Vec<f64>; 14] {
        [
            &mut self.w_a,
            &mut self.b_a,
            &mut self.w_b,
            &mut self.w_tau,
            &mut self.w_h,
            &mut self.b_h,
            &mut self.w_s,
            &mut self.b_s,
            &mut self.w_q,
            &mut self.b_q,
            &mut self.w_t,
            &mut self.b_t,
            &mut self.log_scale_s,
            &mut self.log_scale_q,
        ]
    }

    /// `(S, Q, T)` at `(a, b, τ)`, written to `out` = `[S | Q | T]` (3·dim values).
    pub fn eval(&self, a: &[f64], b: &[f64], tau: [f64; 2], out: &mut [f64]) {
        let (n, h) = (self.dim, self.hidden);
        let mut h1 = self.b_a.clone();
        matvec_add(&self.w_a, a, &mut h1);
        matvec_add(&self.w_b, b, &mut h1);
        matvec_add(&self.w_tau, &tau, &mut h1);
        h1.iter_mut().for_each(|v| *v = v.max(0.0));
        let mut h2 = self.b_h.clone();
        matvec_add(&self.w_h, &h1, &mut h2);
        h2.iter_mut().for_each(|v| *v = v.max(0.0));
        debug_assert_eq!(h2.len(), h);
        let (s, rest) = out.split_at_mut(n);
        let (q, t) = rest.split_at_mut(n);
        s.copy_from_slice(&self.b_s);
        matvec_add(&self.w_s, &h2, s);
        q.copy_from_slice(&self.b_q);
        matvec_add(&self.w_q, &h2, q);
        t.copy_from_slice(&self.b_t);
        matvec_add(&self.w_t, &h2, t);
        for i in 0..n {
            s[i] = self.log_scale_s[i].exp() * s[i].tanh();
            q[i] = self.log_scale_q[i].exp() * q[i].tanh();
        }
    }
}

/// Everything that defines an L2HMC kernel: the two networks, the step size, the number of
/// augmented leapfrog steps and their fixed binary masks.
#[derive(Clone, Debug, PartialEq)]
pub struct Networks {
    /// The momentum network `(x, ∇U(x), τ) ↦ (S_v, Q_v, T_v)`.
    pub v_net: Net,
    /// The position network `(v, masked x, τ) ↦ (S_x, Q_x, T_x)`.
    pub x_net: Net,
    /// `ln ε` (trained with the networks).
    pub log_step_size: f64,
    /// Augmented leapfrog steps M per proposal.
    pub n_steps: usize,
    /// Seed of the masks (they are a function of it, so a saved kernel stores only the seed).
    pub mask_seed: u64,
    /// The masks `m^t`, `t = 0…M−1`, each with exactly ⌊n/2⌋ ones.
    pub masks: Vec<Vec<f64>>,
}

/// The masks of `mask_seed`: for each of the `n_steps` steps, ⌊dim/2⌋ coordinates drawn without
/// replacement (the reference code's `permutation(n)[:n//2]`).
pub fn masks(dim: usize, n_steps: usize, mask_seed: u64) -> Vec<Vec<f64>> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(mask_seed);
    (0..n_steps)
        .map(|_| {
            let mut idx: Vec<usize> = (0..dim).collect();
            idx.shuffle(&mut rng);
            let mut m = vec![0.0; dim];
            idx[..dim / 2].iter().for_each(|&i| m[i] = 1.0);
            m
        })
        .collect()
}

impl Networks {
    /// The reference initialisation (heads scaled by 0.001, so the kernel starts close to HMC with
    /// step size `step_size`); masks drawn from a seed taken from `rng`.
    pub fn new<R: Rng>(dim: usize, hidden: usize, n_steps: usize, step_size: f64, rng: &mut R) -> Self {
        Self::random(dim, hidden, n_steps, step_size, 0.001, rng)
    }

    /// Like [`Networks::new`] with the heads' init factor `head_factor`: with a factor near 1 the
    /// untrained kernel is far from HMC (used to check that any network leaves the target invariant).
    pub fn random<R: Rng>(dim: usize, hidden: usize, n_steps: usize, step_size: f64, head_factor: f64, rng: &mut R) -> Self {
        let v_net = Net::random(dim, hidden, 1.0 / 3.0, head_factor, rng);
        let x_net = Net::random(dim, hidden, 2.0 / 3.0, head_factor, rng);
        let mask_seed = u64::from(rng.gen::<u32>());
        Self { v_net, x_net, log_step_size: step_size.ln(), n_steps, mask_seed, masks: masks(dim, n_steps, mask_seed) }
    }

    /// S = Q = T = 0: the kernel is plain HMC with `n_steps` leapfrog steps of size `step_size`.
    pub fn zero(dim: usize, n_steps: usize, step_size: f64) -> Self {
        Self { v_net: Net::zero(dim, 1), x_net: Net::zero(dim, 1), log_step_size: step_size.ln(), n_steps, mask_seed: 0, masks: masks(dim, n_steps, 0) }
    }

    /// Dimension of the target.
    pub fn dim(&self) -> usize {
        self.v_net.dim
    }

    /// The step size ε.
    pub fn step_size(&self) -> f64 {
        self.log_step_size.exp()
    }

    /// Checks that the parts fit together; names the first thing that does not.
    pub fn validate(&self) -> Result<(), super::SamplerError> {
        let bad = |name: &'static str, detail: String| Err(super::SamplerError::Setting { name, detail });
        if self.n_steps == 0 {
            return bad("n_steps", "must be at least 1".into());
        }
        if !self.log_step_size.is_finite() {
            return bad("step_size", format!("must be positive and finite, got {}", self.step_size()));
        }
        if self.masks.len() != self.n_steps || self.masks.iter().any(|m| m.len() != self.dim()) {
            return bad("masks", format!("need {} masks of length {}", self.n_steps, self.dim()));
        }
        for (which, net) in [("v_net", &self.v_net), ("x_net", &self.x_net)] {
            if net.hidden == 0 || net.dim == 0 {
                return bad("hidden", format!("{which} has dimension {} and hidden width {}: both must be at least 1", net.dim, net.hidden));
            }
            if net.dim != self.dim() {
                return bad("networks", format!("{which} has dimension {}, the v-net {}", net.dim, self.dim()));
            }
            let (n, h) = (net.dim, net.hidden);
            let sizes = [h * n, h, h * n, h * 2, h * h, h, n * h, n, n * h, n, n * h, n, n, n];
            for ((name, a), k) in net.arrays().iter().zip(sizes) {
                if a.len() != k {
                    return bad("networks", format!("{which}.{name} has {} values, expected {k}", a.len()));
                }
                if a.iter().any(|v| !v.is_finite()) {
                    return bad("networks", format!("{which}.{name} has non-finite values"));
                }
            }
        }
        Ok(())
    }
}
