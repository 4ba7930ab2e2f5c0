//! Eight schools (non-centred), the "hello world" of hierarchical models: build the model, evaluate
//! its log density and gradient at a point, and look at its parameters.
//!
//! Run with `cargo run --release --example quickstart`.

use snell::prelude::*;

/// Rubin's eight schools: treatment effects `y` with known standard errors `sigma`.
#[model]
fn eight_schools(y: &[f64], sigma: &[f64]) {
    let mu = sample!(Normal(0.0, 5.0));
    let tau = sample!(HalfCauchy(5.0)); // positive: sampled as ln(tau), Jacobian added
    let theta_raw = sample!([y.len()] ~ Normal(0.0, 1.0));
    let theta = mu + tau * theta_raw;
    observe!(y ~ Normal(theta, sigma));
}

fn main() -> Result<(), ModelError> {
    let y = [28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0];
    let sigma = [15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0];
    let model = EightSchools::new(&y, &sigma)?;

    println!("eight schools: {} unconstrained parameters", model.dim());
    println!("parameters: {}", model.param_names().join(", "));

    // A point on the unconstrained scale: mu = 1, ln(tau) = 0.5, theta_raw = 0.1 … 0.8
    let theta: Vec<f64> = [1.0, 0.5].into_iter().chain((1..=8).map(|i| i as f64 / 10.0)).collect();
    let (lp, grad) = model.log_density_and_grad(&theta)?;
    println!("log density: {lp:.6}");
    println!("gradient:    {:?}", grad.iter().map(|g| format!("{g:.4}")).collect::<Vec<_>>());

    let p: EightSchoolsParams = model.constrain(&theta)?;
    println!("constrained: mu = {:.3}, tau = {:.3}, theta_raw[0] = {:.3}", p.mu, p.tau, p.theta_raw[0]);
    println!("  log prior {:.4}, log likelihood {:.4}", model.log_prior(&theta)?, model.log_likelihood(&theta)?);

    // Four points at once: one population evaluation.
    let batch: Vec<f64> = (0..4).flat_map(|k| theta.iter().map(move |t| t + 0.1 * k as f64)).collect();
    let (lps, _grads) = model.log_density_and_grad_batch(&batch)?;
    println!("batched log densities: {:?}", lps.iter().map(|l| format!("{l:.4}")).collect::<Vec<_>>());
    Ok(())
}
