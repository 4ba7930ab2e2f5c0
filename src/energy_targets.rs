//! The four targets of the L2HMC paper (Levy, Hoffman & Sohl-Dickstein 2018, §5.1) as hand-written
//! densities with their known moments and, where they exist, exact draws; and the baselines the
//! paper compares with (HMC on a grid of step sizes, NUTS), measured by the known-moment ESS.
//! Shared by the `l2hmc_*` examples and `tests/l2hmc.rs`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use snell::diagnostics::ess_known_moments;
use snell::sampler::hmc::transition as hmc_transition;
use snell::sampler::metric::Metric;
use snell::sampler::phase_space::{Point, TransitionParams};
use snell::sampler::SamplerError;
use snell::target::{FnDensity, Target};

/// A density `f(q, grad) -> ln p(q)`.
pub type Density = FnDensity<Box<dyn Fn(&[f64], &mut [f64]) -> f64 + Send + Sync>>;

/// A test target with what is known about it.
pub struct Known {
    /// Short name.
    pub name: &'static str,
    /// The density.
    pub density: Density,
    /// Its mean.
    pub mean: Vec<f64>,
    /// The trace of its covariance.
    pub trace: f64,
    /// Exact draws (`None` where only an approximation is known; then N(0, I) is used).
    exact: Option<Box<dyn Fn(&mut ChaCha8Rng) -> Vec<f64> + Send + Sync>>,
}

impl Known {
    /// A draw from the target (exact where [`Known::has_exact_draws`], else from N(0, I)).
    pub fn draw(&self, rng: &mut ChaCha8Rng) -> Vec<f64> {
        match &self.exact {
            Some(f) => f(rng),
            None => (0..self.mean.len()).map(|_| rng.sample(StandardNormal)).collect(),
        }
    }
    /// Whether [`Known::draw`] is exact.
    pub fn has_exact_draws(&self) -> bool {
        self.exact.is_some()
    }
    /// `n` draws, one per chain, from seed `seed`.
    pub fn inits(&self, n: usize, seed: u64) -> Vec<Vec<f64>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| self.draw(&mut rng)).collect()
    }
    /// The paper's ESS per MH step of chains given as row-major `(T, n)` draws.
    pub fn ess(&self, chains: &[Vec<f64>]) -> f64 {
        ess_known_moments(chains, &self.mean, self.trace)
    }
}

fn density(dim: usize, f: impl Fn(&[f64], &mut [f64]) -> f64 + Send + Sync + 'static) -> Density {
    FnDensity::new(dim, Box::new(f) as Box<dyn Fn(&[f64], &mut [f64]) -> f64 + Send + Sync>)
}

/// A zero-mean Gaussian with diagonal variances `var` in the basis rotated by `angle` (2-d) or
/// unrotated (any dimension, `angle = None`).
fn gaussian(name: &'static str, var: Vec<f64>, angle: Option<f64>) -> Known {
    let n = var.len();
    let trace = var.iter().sum();
    let (c, s) = angle.map_or((1.0, 0.0), |a| (a.cos(), a.sin()));
    let rot = angle.is_some();
    let v = var.clone();
    // rotated coordinates: y = Rᵀx, x = R y with R = [[c, −s], [s, c]]
    let f = move |x: &[f64], g: &mut [f64]| {
        if rot {
            let y = [c * x[0] + s * x[1], -s * x[0] + c * x[1]];
            let gy = [-y[0] / v[0], -y[1] / v[1]];
            g[0] = c * gy[0] - s * gy[1];
            g[1] = s * gy[0] + c * gy[1];
            0.5 * (y[0] * gy[0] + y[1] * gy[1])
        } else {
            let mut lp = 0.0;
            for i in 0..x.len() {
                g[i] = -x[i] / v[i];
                lp += 0.5 * x[i] * g[i];
            }
            lp
        }
    };
    let sd: Vec<f64> = var.iter().map(|v| v.sqrt()).collect();
    let exact = move |rng: &mut ChaCha8Rng| {
        let y: Vec<f64> = sd.iter().map(|s| s * rng.sample::<f64, _>(StandardNormal)).collect();
        if rot {
            vec![c * y[0] - s * y[1], s * y[0] + c * y[1]]
        } else {
            y
        }
    };
    Known { name, density: density(n, f), mean: vec![0.0; n], trace, exact: Some(Box::new(exact)) }
}

/// The 50-d ill-conditioned Gaussian: variances log-spaced from 10⁻² to 10².
pub fn ill_conditioned_gaussian(dim: usize) -> Known {
    let var = (0..dim).map(|i| 10f64.powf(-2.0 + 4.0 * i as f64 / (dim - 1).max(1) as f64)).collect();
    gaussian("50-d ICG", var, None)
}

/// The strongly correlated 2-d Gaussian: variances 10² and 10⁻² rotated by π/4, Σ = [[50.005, −49.995], [−49.995, 50.005]].
pub fn correlated_gaussian() -> Known {
    gaussian("2-d SCG", vec![100.0, 0.01], Some(-std::f64::consts::FRAC_PI_4))
}

/// The mixture of two isotropic 2-d Gaussians with variance 0.1 at (±2, 0), equal weights.
pub fn mixture() -> Known {
    let s2 = 0.1;
    let f = move |x: &[f64], g: &mut [f64]| {
        let la = -((x[0] - 2.0).powi(2) + x[1] * x[1]) / (2.0 * s2);
        let lb = -((x[0] + 2.0).powi(2) + x[1] * x[1]) / (2.0 * s2);
        let m = la.max(lb);
        let (wa, wb) = ((la - m).exp(), (lb - m).exp());
        let (pa, pb) = (wa / (wa + wb), wb / (wa + wb));
        g[0] = -(pa * (x[0] - 2.0) + pb * (x[0] + 2.0)) / s2;
        g[1] = -x[1] / s2;
        m + (wa + wb).ln() - (2.0f64).ln() - (2.0 * std::f64::consts::PI * s2).ln()
    };
    let exact = move |rng: &mut ChaCha8Rng| {
        let c = if rng.gen::<bool>() { 2.0 } else { -2.0 };
        vec![c + s2.sqrt() * rng.sample::<f64, _>(StandardNormal), s2.sqrt() * rng.sample::<f64, _>(StandardNormal)]
    };
    Known { name: "MoG", density: density(2, f), mean: vec![0.0, 0.0], trace: 2.0 * s2 + 4.0, exact: Some(Box::new(exact)) }
}

/// The rough well `U(x) = ½xᵀx + η Σ cos(x_i/η)` (the paper's form) in `dim` dimensions. Its
/// mean is 0 and its covariance is I up to terms of order e^{−1/(2η²)} (the cosine averages out
/// against the Gaussian), so N(0, I) draws serve as initial points.
pub fn rough_well(dim: usize, eta: f64) -> Known {
    let f = move |x: &[f64], g: &mut [f64]| {
        let mut lp = 0.0;
        for i in 0..x.len() {
            lp -= 0.5 * x[i] * x[i] + eta * (x[i] / eta).cos();
            g[i] = -x[i] + (x[i] / eta).sin();
        }
        lp
    };
    Known { name: "Rough Well", density: density(dim, f), mean: vec![0.0; dim], trace: dim as f64, exact: None }
}

/// Draws of `chains` HMC chains (unit metric, `n_steps` leapfrog steps of size `step_size`, no
/// adaptation) started from `inits`, `draws` transitions each, as row-major `(draws, n)` per chain.
pub fn hmc_chains(target: &dyn Target, inits: &[Vec<f64>], step_size: f64, n_steps: usize, draws: usize, seed: u64) -> Result<Vec<Vec<f64>>, SamplerError> {
    let d = target.dim();
    let params = TransitionParams { step_size, metric: Metric::unit(d), max_depth: 0, max_energy_error: 1000.0 };
    inits
        .iter()
        .enumerate()
        .map(|(c, q)| {
            let mut rng = snell::sampler::chain_rng(seed, c);
            let mut z = Point::new(target, q.clone())?;
            let mut out = Vec::with_capacity(draws * d);
            for _ in 0..draws {
                z = hmc_transition(target, &mut rng, &z, &params, n_steps)?.0;
                out.extend_from_slice(&z.q);
            }
            Ok(out)
        })
        .collect()
}

/// HMC at each step size of `grid`: `(step size, ESS per MH step)`, and the best of them.
pub fn hmc_grid(known: &Known, inits: &[Vec<f64>], grid: &[f64], n_steps: usize, draws: usize, seed: u64) -> Result<(Vec<(f64, f64)>, (f64, f64)), SamplerError> {
    let mut rows = Vec::new();
    for &eps in grid {
        let chains = hmc_chains(&known.density, inits, eps, n_steps, draws, seed)?;
        let e = known.ess(&chains);
        rows.push((eps, if e.is_finite() { e } else { 0.0 }));
    }
    let best = rows.iter().copied().fold((f64::NAN, -1.0), |b, r| if r.1 > b.1 { r } else { b });
    Ok((rows, best))
}
