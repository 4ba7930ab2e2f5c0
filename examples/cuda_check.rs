//! Evaluates a batch of eight-schools log densities and gradients on the GPU and on the CPU and
//! prints the largest differences (f64 and f32); then the networks' device evaluations (the
//! 1-50-50-1 `#[model]` with an `Mlp`, whose layers are the backend's own ops, and `#[model]`s
//! over dfdx modules: a regression, a classifier and a token model, all rows)
//! on CUDA against dfdx's CPU device in f32, and a short minibatch ray tracing run there; then
//! `#[model]`s in the device execution (eight schools, and the 1-50-50-1 network regression
//! written as a model with an `Mlp`), CUDA beside dfdx's CPU device in f64: the same evaluations,
//! and the posterior summaries of the same runs on both, for HMC and ray tracing through
//! `run_device` and for SMC through `run_smc_device`.
//!
//! Build without a GPU: `scripts/build-cuda.sh --release --features cuda --example cuda_check`
//! (see scripts/README.md), then run the binary on a machine with a CUDA 13 driver.

#[cfg(feature = "cuda")]
fn main() -> Result<(), snell::ModelError> {
    use snell::backend::{Cpu32, Cuda32, Cuda64};
    use snell::model::{default_backend, EvalOptions};
    use snell::prelude::*;
    use snell_examples::peers::EightSchools;

    let y = [28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0];
    let sigma = [15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0];
    let model = EightSchools::new(&y, &sigma)?;
    let p = 1024;
    let theta: Vec<f64> = (0..p * model.dim()).map(|i| ((i * 7919) % 1000) as f64 / 250.0 - 2.0).collect();
    let opts = EvalOptions::default();

    let max_diff = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).abs() / (1.0 + x.abs())).fold(0.0, f64::max);
    let cpu = model.evaluate(&default_backend(), &theta, None, opts)?;
    let cpu32 = model.evaluate(&Cpu32::default(), &theta, None, opts)?;
    let t = std::time::Instant::now();
    let gpu64 = Cuda64::cuda(0).expect("a CUDA device");
    let g64 = model.evaluate(&gpu64, &theta, None, opts)?;
    println!("cuda f64 (first call {:.2?}): max rel diff log density {:.3e}, gradient {:.3e}", t.elapsed(),
        max_diff(&cpu.log_density, &g64.log_density), max_diff(cpu.grad.as_deref().unwrap(), g64.grad.as_deref().unwrap()));
    let gpu32 = Cuda32::cuda(0).expect("a CUDA device");
    let g32 = model.evaluate(&gpu32, &theta, None, opts)?;
    println!("cuda f32: max rel diff vs cpu f32: log density {:.3e}, gradient {:.3e}",
        max_diff(&cpu32.log_density, &g32.log_density), max_diff(cpu32.grad.as_deref().unwrap(), g32.grad.as_deref().unwrap()));
    let t = std::time::Instant::now();
    for _ in 0..10 {
        model.evaluate(&gpu64, &theta, None, opts)?;
    }
    println!("cuda f64: {:.2?} per batched gradient of {p} members", t.elapsed() / 10);
    let ok = max_diff(&cpu.log_density, &g64.log_density) < 1e-9 && max_diff(cpu.grad.as_deref().unwrap(), g64.grad.as_deref().unwrap()) < 1e-9;
    println!("{}", if ok { "CUDA matches CPU" } else { "MISMATCH" });

    let networks_ok = networks::check().map_err(|e| snell::ModelError::Data { name: "device".into(), detail: e.to_string() })?;
    println!("{}", if networks_ok { "device networks: CUDA matches CPU" } else { "device networks: MISMATCH" });
    let models_ok = models::check().map_err(|e| snell::ModelError::Data { name: "device".into(), detail: e.to_string() })?;
    println!("{}", if models_ok { "device models: CUDA matches CPU" } else { "device models: MISMATCH" });
    Ok(())
}

/// The largest relative difference of two targets' device evaluations of `q` (`rows` rows), one
/// on dfdx's CPU device and one on CUDA, in element type `E`.
#[cfg(feature = "cuda")]
fn device_difference<E: snell::backend::DfdxElem>(cpu: &dyn snell::target::Target, gpu: &dyn snell::target::Target, cuda: &snell::nn::Cuda, q: &[f64], rows: usize) -> Result<f64, snell::ModelError>
where
    snell::nn::Cpu: snell::backend::PointDevice<E>,
    snell::nn::Cuda: snell::backend::PointDevice<E>,
{
    use snell::backend::DevicePoints;
    let (la, ga) = cpu.logp_grad_device(&DevicePoints::from_host::<E, _>(&snell::nn::Cpu::default(), q, rows)?)?;
    let (lb, gb) = gpu.logp_grad_device(&DevicePoints::from_host::<E, _>(cuda, q, rows)?)?;
    let rel = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(x, y)| (x - y).abs() / (1.0 + x.abs())).fold(0.0, f64::max);
    Ok(rel(&la, &lb).max(rel(&ga.to_host(), &gb.to_host())))
}

/// `#[model]`s in the device execution, CUDA beside dfdx's CPU device (f64).
#[cfg(feature = "cuda")]
mod models {
    use snell::backend::{Cpu64, Dfdx};
    use snell::nn::{Activation, Cuda, Mlp, WeightPrior};
    use snell::prelude::*;
    use snell::sampler::ray_tracing::RayTracing;
    use snell::sampler::hmc::Hmc;
    use snell::sampler::smc::{run_smc_device, Smc};
    use snell::sampler::{run_device, Draws, Kernel, RunConfig};
    use snell_examples::peers::EightSchools;
    use std::error::Error;

    /// The Langevin workflow's 1-50-50-1 regression: `y ~ N(f(x; w), σ)`, N(0, 1) weights, σ ~ Gamma(2, 1).
    #[model(observations(x, y))]
    fn bnn(net: &Mlp, x: &Matrix, y: &[f64]) {
        let sigma = sample!(Gamma(2.0, 1.0));
        let w = sample!([net.len()] ~ Normal(0.0, 1.0));
        observe!(y ~ Normal(net.forward(w, x), sigma));
    }

    /// The two devices' log densities and gradients of 64 points, then the same runs on both;
    /// prints the largest relative differences and the summaries of the first outputs.
    fn compare<M: Model>(what: &str, model: &M, gpu: &Cuda, rt: &RayTracing, cfg: &RunConfig) -> Result<f64, Box<dyn Error>> {
        let d = model.dim();
        let q: Vec<f64> = (0..64 * d).map(|i| 0.5 * (((i * 7919) % 1000) as f64 / 500.0 - 1.0)).collect();
        let worst = super::device_difference::<f64>(model, model, gpu, &q, 64)?;
        println!("{what}: 64 points, max rel diff of log densities and gradients {worst:.2e}");
        both(&format!("{what}, HMC (10 steps)"), &Hmc::new(10), model, gpu, cfg)?;
        both(&format!("{what}, ray tracing"), rt, model, gpu, cfg)?;
        // SMC's moves with the particles on each device, the model evaluated there
        let smc = Smc { particles: 1000, runs: 4, ..Smc::default() };
        let t = std::time::Instant::now();
        let on_cpu = run_smc_device(&smc, &model.on_backend(Cpu64::default()), &Cpu64::default())?;
        let cpu_time = t.elapsed();
        let cuda = Dfdx::<f64, Cuda>::new(gpu.clone());
        let t = std::time::Instant::now();
        let on_gpu = run_smc_device(&smc, &model.on_backend(cuda.clone()), &cuda)?;
        println!("{what}, SMC: {} particles × {} runs on the CPU device {cpu_time:.2?}, on CUDA {:.2?}", smc.particles, smc.runs, t.elapsed());
        println!("  ln Z cpu {:.4} ± {:.4}, cuda {:.4} ± {:.4}", on_cpu.log_evidence, on_cpu.log_evidence_se, on_gpu.log_evidence, on_gpu.log_evidence_se);
        for name in on_cpu.draws.names.iter().take(3) {
            println!("  {:<12} weighted mean cpu {:>9.4}, cuda {:>9.4}", name, on_cpu.weighted_mean(name).unwrap_or(f64::NAN), on_gpu.weighted_mean(name).unwrap_or(f64::NAN));
        }
        Ok(worst)
    }

    fn print_side_by_side(on_cpu: &Draws, on_gpu: &Draws) {
        let (sa, sb) = (on_cpu.summary(), on_gpu.summary());
        for (ra, rb) in sa.rows().iter().zip(sb.rows()).take(4) {
            println!("  {:<12} cpu {:>9.4} ± {:<8.4} cuda {:>9.4} ± {:<8.4} R-hat {:.3} / {:.3}", ra.name, ra.mean, ra.sd, rb.mean, rb.sd, ra.rhat, rb.rhat);
        }
    }

    /// `sampler` through `run_device` on both devices: times and summaries side by side.
    fn both<K: Kernel>(what: &str, sampler: &K, model: &impl Model, gpu: &Cuda, cfg: &RunConfig) -> Result<(), Box<dyn Error>> {
        let t = std::time::Instant::now();
        let on_cpu = run_device(sampler, model, &Cpu64::default(), cfg)?;
        let cpu_time = t.elapsed();
        let t = std::time::Instant::now();
        let on_gpu = run_device(sampler, model, &Dfdx::<f64, Cuda>::new(gpu.clone()), cfg)?;
        println!("{what}: {} chains × ({} + {}) on the CPU device {cpu_time:.2?}, on CUDA {:.2?}", cfg.chains, cfg.warmup, cfg.draws, t.elapsed());
        print_side_by_side(&on_cpu, &on_gpu);
        Ok(())
    }

    pub fn check() -> Result<bool, Box<dyn Error>> {
        let gpu = Cuda::try_build(0, 1).map_err(|e| format!("CUDA device 0: {e:?}"))?;
        let y = [28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0];
        let sigma = [15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0];
        let schools = EightSchools::new(&y, &sigma)?;
        let cfg = RunConfig { chains: 64, warmup: 500, draws: 500, seed: 1, init: None };
        let mut worst = compare("eight schools", &schools, &gpu, &RayTracing::default(), &cfg)?;
        let xs: Vec<f64> = (0..50).map(|i| i as f64 / 49.0).collect();
        let ys: Vec<f64> = xs.iter().map(|x| (6.0 * x).sin()).collect();
        let mlp = Mlp::new(&[1, 50, 50, 1], Activation::Tanh, WeightPrior::isotropic(1.0))?;
        let x = Matrix::new(50, 1, xs)?;
        let net = Bnn::new(&mlp, &x, &ys)?;
        let cfg = RunConfig { chains: 64, warmup: 100, draws: 100, seed: 1, init: None };
        worst = worst.max(compare("1-50-50-1 network model", &net, &gpu, &RayTracing { n_steps: Some(10), ..Default::default() }, &cfg)?);
        Ok(worst < 1e-9)
    }
}

/// Networks inside `#[model]`s evaluated on CUDA and on dfdx's CPU device, f32.
#[cfg(feature = "cuda")]
mod networks {
    use snell::backend::Dfdx;
    use snell::nn::layers::{Embedding, Linear, ReLU, Tanh, TransformerEncoder};
    use snell::nn::{Activation, Cuda, Mlp, Network, SequenceNetwork, WeightPrior};
    use snell::prelude::*;
    use snell::sampler::ray_tracing::{MinibatchSettings, RayTracing};
    use snell::sampler::{run_device, RunConfig, Select};
    use snell::target::Target;
    use std::error::Error;

    type Reg = (Linear<1, 50>, Tanh, Linear<50, 50>, Tanh, Linear<50, 1>);
    type Clf = (Linear<16, 64>, ReLU, Linear<64, 10>);
    type Lm = (Embedding<64, 32>, TransformerEncoder<32, 4, 64, 2>, Linear<32, 64>);

    #[model(observations(x, y))]
    fn regression(net: &Network<Reg, 1, 1>, x: &Matrix, y: &[f64]) {
        let w = sample!([net.len()] ~ Normal(0.0, 1.0));
        let sigma = sample!(Gamma(2.0, 1.0));
        observe!(y ~ Normal(net.forward(w, x), sigma));
    }

    #[model(observations(x, labels))]
    fn classifier(net: &Network<Clf, 16, 10>, x: &Matrix, labels: &[usize]) {
        let w = sample!([net.len()] ~ Normal(0.0, 1.0));
        observe!(labels ~ CategoricalLogitRows(net.forward(w, x), 10));
    }

    #[model(observations(inputs, next))]
    fn token_model(net: &SequenceNetwork<Lm, 64>, inputs: &[Vec<usize>], next: &[Vec<usize>]) {
        let w = sample!([net.len()] ~ Normal(0.0, 1.0));
        observe!(next ~ CategoricalLogitRows(net.forward(w, inputs), 64));
    }

    /// Largest relative difference of the log densities and gradients of `rows` points of
    /// `model` on the two devices; prints it under `what`.
    fn compare(what: &str, model: &dyn Target, cuda: &Cuda, rows: usize) -> Result<f64, Box<dyn Error>> {
        let d = model.dim();
        let q: Vec<f64> = (0..rows * d).map(|i| 0.3 * (((i * 7919) % 1000) as f64 / 500.0 - 1.0)).collect();
        let worst = super::device_difference::<f32>(model, model, cuda, &q, rows)?;
        println!("{what:<40} {rows:>5} rows: max rel diff of log densities and gradients {worst:.2e}");
        Ok(worst)
    }

    pub fn check() -> Result<bool, Box<dyn Error>> {
        let gpu = Cuda::try_build(0, 1).map_err(|e| format!("CUDA device 0: {e:?}"))?;
        let xs: Vec<f64> = (0..50).map(|i| i as f64 / 49.0).collect();
        let ys: Vec<f64> = xs.iter().map(|x| (6.0 * x).sin()).collect();
        let x = Matrix::new(50, 1, xs)?;
        let mut worst = 0.0f64;
        let mlp = Mlp::new(&[1, 50, 50, 1], Activation::Tanh, WeightPrior::isotropic(1.0))?;
        let model = snell_examples::netbench::RegressionNet::new(&mlp, &x, &ys)?;
        worst = worst.max(compare("#[model] + Mlp 1-50-50-1", &model, &gpu, 1000)?);
        let net = Network::<Reg, 1, 1>::new(WeightPrior::isotropic(1.0))?;
        let reg = Regression::new(&net, &x, &ys)?;
        worst = worst.max(compare("#[model] + Network 1-50-50-1", &reg, &gpu, 16)?);
        let xc = Matrix::new(256, 16, (0..256 * 16).map(|i| ((i * 31) % 17) as f64 / 17.0).collect())?;
        let labels: Vec<usize> = (0..256).map(|i| (i * 7) % 10).collect();
        let clf_net = Network::<Clf, 16, 10>::new(WeightPrior::isotropic(1.0))?;
        worst = worst.max(compare("classifier 16-64-10", &Classifier::new(&clf_net, &xc, &labels)?, &gpu, 4)?);
        let tokens: Vec<usize> = (0..8 * 32 + 1).map(|i| (i * 13) % 64).collect();
        let inputs: Vec<Vec<usize>> = (0..8).map(|i| tokens[32 * i..32 * i + 32].to_vec()).collect();
        let next: Vec<Vec<usize>> = (0..8).map(|i| tokens[32 * i + 1..32 * i + 33].to_vec()).collect();
        let lm_net = SequenceNetwork::<Lm, 64>::new(WeightPrior::isotropic(1.0))?;
        worst = worst.max(compare("token model, 2 blocks × 32", &TokenModel::new(&lm_net, &inputs, &next)?, &gpu, 2)?);
        // a short minibatch run on the GPU: the chains' batches, the threshold rule, recording
        let rt = RayTracing { metropolis: false, minibatch: Some(MinibatchSettings::new(10)), ..RayTracing::new(0.005, 10) };
        let t = std::time::Instant::now();
        let recorded = Select::new(&reg, &["w.1", "sigma"])?;
        let draws = run_device(&rt, &recorded, &Dfdx::<f32, Cuda>::new(gpu), &RunConfig { chains: 100, warmup: 0, draws: 20, seed: 1, init: None })?;
        println!("minibatch rays, 100 chains × 20 trajectories of 10 steps on CUDA: {:.2?}; mean sigma {:.3}", t.elapsed(), draws.mean("sigma").unwrap_or(f64::NAN));
        // f32 on two devices: summation orders differ
        Ok(worst < 1e-3)
    }
}

#[cfg(not(feature = "cuda"))]
fn main() {
    println!("built without the `cuda` feature: see scripts/README.md");
}
