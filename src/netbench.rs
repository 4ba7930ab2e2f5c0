//! Timing ray tracing on neural-network models: steps and gradient evaluations per second, peak
//! memory, and the time per step beside the physical floors of the GPU the peers' figures come
//! from. Shared by `examples/network_benchmark.rs`, `examples/mlp_batch_bench.rs` and their smoke test.

use snell::sampler::ray_tracing::RayTracing;
use snell::target::Target;
use snell::backend::{Dfdx, DfdxElem, PointDevice};
use snell::sampler::{run, run_device, Draws, Lockstep, RunConfig, SamplerError, Select};
use std::fmt;
use std::time::Instant;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use snell::prelude::*;
use snell::Matrix;

/// Memory bandwidth used for the floor (bytes/s): an H100's HBM3, about 3 TB/s.
pub const FLOOR_BANDWIDTH: f64 = 3.0e12;
/// Arithmetic rate used for the floor (FLOP/s): an H100's f32 rate without tensor cores, 67 TFLOP/s
/// (dfdx's matmuls do not use tensor cores).
pub const FLOOR_FLOPS: f64 = 67.0e12;

/// The Langevin workflow's data: 50 points of 4 sin(x − 2) + sin(8x − 2) − 4x² + N(0, 0.5²) on [0, 1].
pub fn regression_data() -> (Matrix, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(50);
    let xs: Vec<f64> = (0..50).map(|_| rng.gen_range(0.0..1.0)).collect();
    let ys = xs.iter().map(|x| 4.0 * (x - 2.0f64).sin() + (8.0 * x - 2.0f64).sin() - 4.0 * x * x + 0.5 * rng.sample::<f64, _>(StandardNormal)).collect();
    (Matrix::new(50, 1, xs).expect("50 × 1"), ys)
}

/// Row (a) of the benchmark with a batched [`snell::nn::Mlp`]: N(0, 1) weights and a Gamma(2, 1)
/// noise scale, so that a population of chains is one batched evaluation.
#[model(observations(x, y))]
pub fn regression_net(net: &snell::nn::Mlp, x: &Matrix, y: &[f64]) {
    let w = sample!([net.len()] ~ Normal(0.0, 1.0));
    let sigma = sample!(Gamma(2.0, 1.0));
    observe!(y ~ Normal(net.forward(w, x), sigma));
}

/// One row of the benchmark.
#[derive(Clone, Debug)]
pub struct Row {
    /// What ran.
    pub name: String,
    /// Parameters of the network.
    pub params: usize,
    /// Chains run side by side.
    pub chains: usize,
    /// Integration steps (kick + drift, one gradient each) per second, all chains together.
    pub steps_per_s: f64,
    /// Gradient evaluations per second, all chains together.
    pub grads_per_s: f64,
    /// Wall time of one step in milliseconds: of one chain when chains run in parallel threads, of
    /// all chains together when they move in lockstep.
    pub ms_per_step: f64,
    /// Peak resident memory of the process so far, in MiB.
    pub peak_mib: f64,
    /// Device memory in use after the run, in MiB, for rows on a GPU (`None` elsewhere).
    pub device_mib: Option<f64>,
    /// Bytes moved per step (of `ms_per_step`: one chain's, or all chains' in lockstep) over the
    /// floor bandwidth, in milliseconds.
    pub floor_bandwidth_ms: f64,
    /// FLOPs per step (as `floor_bandwidth_ms`) over the floor rate, in milliseconds.
    pub floor_flops_ms: f64,
    /// The peers' time per step (PyTorch on an H100), if known, in milliseconds.
    pub peer_ms: Option<f64>,
}

impl Row {
    /// The table's header.
    pub fn header() -> String {
        format!("{:<36} {:>12} {:>6} {:>10} {:>10} {:>11} {:>9} {:>9} {:>10} {:>10} {:>10}", "network", "params", "chains", "steps/s", "grads/s", "ms/step", "peak MiB", "dev MiB", "floor BW", "floor FLOP", "peer ms")
    }
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let peer = self.peer_ms.map_or("-".to_string(), |p| format!("{p:.1}"));
        let device = self.device_mib.map_or("-".to_string(), |m| format!("{m:.0}"));
        write!(
            f,
            "{:<36} {:>12} {:>6} {:>10.1} {:>10.1} {:>11.3} {:>9.0} {:>9} {:>10.2e} {:>10.2e} {:>10}",
            self.name, self.params, self.chains, self.steps_per_s, self.grads_per_s, self.ms_per_step, self.peak_mib, device, self.floor_bandwidth_ms, self.floor_flops_ms, peer
        )
    }
}

/// Peak resident memory of this process (Linux `VmHWM`), in MiB; `NaN` where unknown.
pub fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// What one run measures.
pub struct Bench<'a> {
    /// Row label.
    pub name: &'a str,
    /// The sampler's settings (steps per trajectory, step size, minibatches).
    pub sampler: RayTracing,
    /// Chains.
    pub chains: usize,
    /// Trajectories per chain (no warmup: the step size is used as given).
    pub trajectories: usize,
    /// FLOPs of one gradient evaluation (≈ 6 × parameters × examples for dense layers).
    pub flops_per_grad: f64,
    /// Bytes per element of the device's parameters (4 for f32).
    pub bytes_per_param: f64,
    /// The peers' ms per step, if known.
    pub peer_ms: Option<f64>,
}

impl Bench<'_> {
    /// Runs ray tracing on `target` with each chain in its own thread, recording only its first
    /// output per draw (a large network's draws are not kept), and times it. `ms/step` is the wall
    /// time of one step of one chain.
    pub fn run(&self, target: &(dyn Target + Sync), seed: u64) -> Result<Row, SamplerError> {
        let first = target.names().into_iter().next().unwrap_or_default();
        let recorded = Select::new(target, &[first.as_str()])?;
        let threads = rayon::current_num_threads().min(self.chains).max(1) as f64;
        self.time(target.dim(), threads, 1.0, |cfg| run(&self.sampler, &recorded, cfg), seed, None)
    }

    /// As [`Bench::run`], with all chains in lockstep on one population evaluation per step
    /// (`snell::sampler::Lockstep`), starting from `init`. `ms/step` is the wall time of one
    /// step of all chains together.
    pub fn run_lockstep<T: Target + Sync>(&self, target: &T, seed: u64, init: Option<Vec<Vec<f64>>>) -> Result<Row, SamplerError> {
        let first = target.names().into_iter().next().unwrap_or_default();
        let recorded = Select::new(target, &[first.as_str()])?;
        self.time(target.dim(), self.chains as f64, self.chains as f64, |cfg| run(&Lockstep(self.sampler.clone()), &recorded, cfg), seed, init)
    }

    /// As [`Bench::run_lockstep`], with every chain's state on `backend`'s dfdx device
    /// ([`run_device`]), recording the target's first value only.
    pub fn run_device<E: DfdxElem, D: PointDevice<E>>(&self, target: &dyn Target, backend: &Dfdx<E, D>, seed: u64) -> Result<Row, SamplerError> {
        let first = target.names().into_iter().next().unwrap_or_default();
        let recorded = Select::new(target, &[first.as_str()])?;
        self.time(target.dim(), self.chains as f64, self.chains as f64, |cfg| run_device(&self.sampler, &recorded, backend, cfg), seed, None)
    }

    /// Times `sample`; `chains_per_step` chains share the wall time of a step, and a step (of
    /// `ms_per_step`) moves `members` chains, whose bytes and FLOPs the floors count.
    #[allow(clippy::too_many_arguments)]
    fn time(&self, d: usize, chains_per_step: f64, members: f64, sample: impl FnOnce(&RunConfig) -> Result<Draws, SamplerError>, seed: u64, init: Option<Vec<Vec<f64>>>) -> Result<Row, SamplerError> {
        let cfg = RunConfig { chains: self.chains, warmup: 0, draws: self.trajectories, seed, init };
        let t = Instant::now();
        let draws = sample(&cfg)?;
        let secs = t.elapsed().as_secs_f64();
        let grads: f64 = draws.stat("n_grad__").map_or(0.0, |g| g.iter().flatten().sum());
        let steps = (self.chains * self.trajectories * self.sampler.steps_for(self.sampler.step_size)) as f64;
        // per step: the update reads x, v, g and writes x, v; the gradient reads the weights twice
        // (forward, backward) and writes the gradient
        let bytes = 8.0 * d as f64 * self.bytes_per_param;
        Ok(Row {
            name: self.name.to_string(),
            params: d,
            chains: self.chains,
            steps_per_s: steps / secs,
            grads_per_s: grads / secs,
            ms_per_step: 1e3 * secs * chains_per_step / steps,
            peak_mib: peak_mib(),
            device_mib: None,
            floor_bandwidth_ms: 1e3 * members * bytes / FLOOR_BANDWIDTH,
            floor_flops_ms: 1e3 * members * self.flops_per_grad / FLOOR_FLOPS,
            peer_ms: self.peer_ms,
        })
    }
}
