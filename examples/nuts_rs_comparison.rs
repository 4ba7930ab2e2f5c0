//! snell's NUTS against nuts-rs (the Rust core of nutpie) on the same models and the same
//! gradients (snell's native backend): wall time, minimum bulk ESS and ESS per second, in one run.
//! This is the measurement behind writing our own NUTS rather than wrapping nuts-rs.
//!
//! `cargo run --release --features nuts-rs --example nuts_rs_comparison`

use nuts_rs::{Chain as _, CpuLogpFunc, CpuMath, CpuMathError, DiagNutsSettings, HasDims, LogpError, Settings};
use snell::diagnostics::Summary;
use snell::prelude::*;
use snell::sampler::{nuts::Nuts, run, RunConfig, Target};
use snell_examples::peers::PeerModels;
use std::collections::HashMap;
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Failed(String);

impl LogpError for Failed {
    fn is_recoverable(&self) -> bool {
        true
    }
}

/// A snell model seen by nuts-rs.
struct Density<'m, M>(&'m M);

impl<M: Model> HasDims for Density<'_, M> {
    fn dim_sizes(&self) -> HashMap<String, u64> {
        [("unconstrained_parameter".to_string(), Target::dim(self.0) as u64)].into_iter().collect()
    }
}

impl<M: Model> CpuLogpFunc for Density<'_, M> {
    type LogpError = Failed;
    type ExpandedVector = Vec<f64>;
    type FlowParameters = ();

    fn dim(&self) -> usize {
        Target::dim(self.0)
    }
    fn logp(&mut self, position: &[f64], grad: &mut [f64]) -> Result<f64, Failed> {
        let lp = self.0.logp_grad(position, grad).map_err(|e| Failed(e.to_string()))?;
        if lp.is_finite() { Ok(lp) } else { Err(Failed("non-finite log density".into())) }
    }
    fn expand_vector<R: nuts_rs::rand::Rng + ?Sized>(&mut self, _rng: &mut R, position: &[f64]) -> Result<Vec<f64>, CpuMathError> {
        Ok(position.to_vec())
    }
}

/// nuts-rs with its default (nutpie) settings, 4 chains × 1000 + 1000 in 2 threads; returns the
/// wall time and the minimum bulk ESS of the constrained values.
fn nuts_rs<M: Model>(m: &M) -> (f64, f64) {
    let t = Instant::now();
    let chains: Vec<Vec<f64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|half| {
                scope.spawn(move || {
                    (0..2)
                        .map(|k| {
                            let chain = (2 * half + k) as u64;
                            let mut settings = DiagNutsSettings::default();
                            settings.num_tune = 1000;
                            settings.num_draws = 1000;
                            let mut rng = nuts_rs::rand::rng();
                            let mut sampler = settings.new_chain(chain, CpuMath::new(Density(m)), &mut rng).expect("settings");
                            let init = vec![0.1 * chain as f64; Target::dim(m)];
                            sampler.set_position(&init).expect("initial point");
                            let mut values = Vec::new();
                            for i in 0..2000 {
                                let (draw, _info) = sampler.draw().expect("draw");
                                if i >= 1000 {
                                    values.extend(Target::constrain(m, &draw).expect("constrain"));
                                }
                            }
                            values
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("thread")).collect()
    });
    let wall = t.elapsed().as_secs_f64();
    let s = Summary::new(&Target::names(m), &chains);
    (wall, s.rows().iter().map(|r| r.ess_bulk).fold(f64::INFINITY, f64::min))
}

fn snell_nuts<M: Model>(m: &M) -> (f64, f64) {
    let t = Instant::now();
    let d = run(&Nuts::default(), m, &RunConfig { chains: 4, warmup: 1000, draws: 1000, seed: 1, init: None }).expect("sampling");
    let wall = t.elapsed().as_secs_f64();
    (wall, d.summary().rows().iter().skip(1).map(|r| r.ess_bulk).fold(f64::INFINITY, f64::min))
}

fn compare<M: Model>(name: &str, m: &M) {
    let (w1, e1) = snell_nuts(m);
    let (w2, e2) = nuts_rs(m);
    println!("{name:<20} snell {w1:>6.3} s  ESS {e1:>6.0}  ESS/s {:>7.0}   nuts-rs {w2:>6.3} s  ESS {e2:>6.0}  ESS/s {:>7.0}", e1 / w1, e2 / w2);
}

fn main() -> Result<(), ModelError> {
    let peers = PeerModels::generate(20240611)?;
    compare("eight_schools", &peers.eight_schools);
    compare("linear_regression", &peers.linear_regression);
    compare("logistic_regression", &peers.logistic_regression);
    compare("hierarchical_normal", &peers.hierarchical_normal);
    Ok(())
}
