//! snell inside an application: runs do not start rayon's global thread pool (chains run on a
//! pool snell owns, or on the caller's), so the application can still configure it afterwards,
//! and the draws do not depend on which pool ran them.

use snell::prelude::*;
use snell::sampler::nuts::Nuts;
use snell::sampler::smc::{run_smc, Smc};
use snell::sampler::{run, RunConfig};

#[model]
fn normal_mean(y: &[f64]) {
    let mu = sample!(Normal(0.0, 5.0));
    observe!(y ~ Normal(mu, 1.0));
}

#[test]
fn runs_leave_the_global_thread_pool_to_the_application() {
    let m = NormalMean::new(&[0.3, -0.2, 0.8]).unwrap();
    let cfg = RunConfig { chains: 3, warmup: 100, draws: 100, seed: 4, init: None };
    let ours = run(&Nuts::default(), &m, &cfg).unwrap();
    run_smc(&Smc { particles: 100, runs: 2, ..Default::default() }, &m).unwrap();
    rayon::ThreadPoolBuilder::new().num_threads(3).build_global().expect("the global pool must still be free after snell's runs");
    // inside the application's pool, the same draws
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    assert_eq!(pool.install(|| run(&Nuts::default(), &m, &cfg).unwrap()), ours);
}
