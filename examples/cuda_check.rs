//! Evaluates a batch of eight-schools log densities and gradients on the GPU and on the CPU and
//! prints the largest differences (f64 and f32).
//!
//! Build without a GPU: `scripts/build-cuda.sh --release --features cuda --example cuda_check`
//! (see scripts/README.md), then run the binary on a machine with a CUDA 13 driver.

#[cfg(feature = "cuda")]
fn main() -> Result<(), snell::ModelError> {
    use snell::backend::{Cpu32, Cuda32, Cuda64};
    use snell::model::{default_backend, EvalOptions};
    use snell::prelude::*;

    #[model]
    fn eight_schools(y: &[f64], sigma: &[f64]) {
        let mu = sample!(Normal(0.0, 5.0));
        let tau = sample!(HalfCauchy(5.0));
        let theta_raw = sample!([y.len()] ~ Normal(0.0, 1.0));
        observe!(y ~ Normal(mu + tau * theta_raw, sigma));
    }

    let y = [28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0];
    let sigma = [15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0];
    let model = EightSchools::new(&y, &sigma)?;
    let p = 1024;
    let theta: Vec<f64> = (0..p * snell::LogDensity::dim(&model)).map(|i| ((i * 7919) % 1000) as f64 / 250.0 - 2.0).collect();
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

    Ok(())
}

#[cfg(not(feature = "cuda"))]
fn main() {
    println!("built without the `cuda` feature: see scripts/README.md");
}
