//! One kernel, three executions: one chain per thread, all chains in lockstep on the host, all
//! chains in lockstep on a dfdx device. The same seed gives the same draws: bit for bit between
//! threads and lockstep, and within 1e-9 (in fact bit for bit) between the device on dfdx's `Cpu`
//! in f64 and threads evaluating the model with the same arithmetic; SMC's moves give the same
//! particles and evidence on the host and on the device. On the device, eight schools passes its
//! posteriordb reference under HMC, ray tracing and SMC, and a network regression (an `Mlp`, there
//! the backend's own operations) its closed-form posterior.

mod common;

use snell::backend::Cpu64;
use snell::nn::{Activation, Mlp, WeightPrior};
use snell::prelude::*;
use rand::SeedableRng;
use snell::sampler::hmc::Hmc;
use snell::sampler::l2hmc::{L2hmc, Networks};
use snell::sampler::langevin::{Baoab, LangevinParams};
use snell::sampler::mala::Mala;
use snell::sampler::rwm::RandomWalkMetropolis;
use snell::sampler::sgld::{Sgld, StepSchedule};
use snell::sampler::Order;
use snell::sampler::nuts::Nuts;
use snell::sampler::smc::{run_smc, run_smc_device, Move, Smc, SmcOutput};
use snell::sampler::ray_tracing::{Integrator, RayTracing, Weighting};
use snell::sampler::{run, run_device, Draws, Kernel, Lockstep, RunConfig, SamplerError, Thin};
use snell_examples::peers::EightSchools;
use snell_examples::posteriordb::{assert_matches_reference, check_reference, reals, reference, references_available, EightSchoolsNoncentered};

/// Eight schools with the data written here, for the checks that need no reference posterior.
fn schools() -> EightSchools {
    EightSchools::new(&[28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0], &[15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0]).unwrap()
}

/// Eight schools with posteriordb's data, measurement errors scaled by `sigma_scale`.
fn eight_schools(sigma_scale: f64) -> EightSchoolsNoncentered {
    let r = reference("eight_schools-eight_schools_noncentered");
    let sigma: Vec<f64> = reals(&r["data"]["sigma"]).iter().map(|s| s * sigma_scale).collect();
    EightSchoolsNoncentered::new(&reals(&r["data"]["y"]), &sigma).unwrap()
}

/// The largest difference between two runs' log densities, statistics and values.
fn max_difference(a: &Draws, b: &Draws) -> f64 {
    assert_eq!(a.chains.len(), b.chains.len());
    let mut worst = 0.0f64;
    for (x, y) in a.chains.iter().zip(&b.chains) {
        for (u, v) in x.lp.iter().chain(&x.stats).chain(&x.values).zip(y.lp.iter().chain(&y.stats).chain(&y.values)) {
            assert_eq!(u.is_finite(), v.is_finite());
            if u.is_finite() {
                worst = worst.max((u - v).abs() / (1.0 + u.abs()));
            }
        }
        assert_eq!(x.lp.len(), y.lp.len());
    }
    worst
}

fn three_executions<K: Kernel + Clone>(sampler: &K, what: &str) {
    three_executions_on(sampler, &schools(), what);
}

/// The same chains of `sampler` on `m` one per thread, in lockstep and on dfdx's CPU device; the
/// threads' draws.
fn three_executions_on<K: Kernel + Clone, M: Model>(sampler: &K, m: &M, what: &str) -> Draws {
    let cfg = RunConfig { chains: 4, warmup: 300, draws: 200, seed: 11, init: None };
    let threads = run(sampler, m, &cfg).unwrap();
    let lockstep = run(&Lockstep(sampler.clone()), m, &cfg).unwrap();
    assert_eq!(threads.chains, lockstep.chains, "{what}: threads and lockstep");
    // the device evaluates the model on dfdx; so do these threads, for the same arithmetic (the
    // model's rounding on `Native` differs from dfdx's in the last bits, which chains amplify)
    let on_dfdx = run(sampler, &m.on_backend(Cpu64::default()), &cfg).unwrap();
    let device = run_device(sampler, m, &Cpu64::default(), &cfg).unwrap();
    let diff = max_difference(&on_dfdx, &device);
    assert!(diff < 1e-9, "{what}: the device's draws differ from the threads' by {diff:e}");
    assert_eq!(device.names, threads.names);
    assert!(max_difference(&threads, &on_dfdx).is_finite());
    threads
}

#[test]
fn hmc_runs_the_same_chains_in_every_execution() {
    three_executions(&Hmc::new(8), "HMC");
    three_executions(&Thin::new(Hmc::new(5), 3), "HMC keeping every third draw");
}

#[test]
fn mala_runs_the_same_chains_in_every_execution() {
    three_executions(&Mala::default(), "MALA");
}

#[test]
fn baoab_runs_the_same_chains_in_every_execution() {
    three_executions(&Baoab::default(), "BAOAB");
    three_executions(&Baoab::constant(LangevinParams { step_size: 0.05, gamma: 1.0, mass: 1.0, beta: 1.0 }), "BAOAB with a larger step");
}

#[test]
fn l2hmc_runs_the_same_chains_in_every_execution() {
    // untrained networks: the kernel is exact whatever they are
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
    let nets = Networks::new(10, 8, 4, 0.2, &mut rng);
    three_executions(&L2hmc::new(nets.clone()), "L2HMC");
    three_executions(&L2hmc::new(nets).with_step_jitter(0.3), "L2HMC with a jittered step");
}

#[test]
fn ray_tracing_runs_the_same_chains_in_every_execution() {
    three_executions(&RayTracing::default(), "ray tracing");
    three_executions(&RayTracing { integrator: Integrator::Rdkd, ..RayTracing::new(0.3, 5) }, "ray tracing with fixed steps, a metric and RDKD");
    three_executions(&RayTracing { weighting: Weighting::Microcanonical, refresh_rate: 1.0, ..Default::default() }, "microcanonical ray tracing with refreshes");
    // each chain its own number of steps (an arc over its own step size), with refreshes and RDKD
    three_executions(&RayTracing { arc: 2.0, refresh_rate: 0.5, integrator: Integrator::Rdkd, ..Default::default() }, "ray tracing with a fixed arc per chain");
    three_executions(&RayTracing { tune_arc: true, ..Default::default() }, "ray tracing choosing each chain's arc in warmup");
}

#[test]
fn random_walk_metropolis_runs_the_same_chains_in_every_execution() {
    three_executions(&RandomWalkMetropolis::default(), "random-walk Metropolis");
}

#[test]
fn sgld_runs_the_same_chains_in_every_execution() {
    // minibatches of 7 of 30 observations, each chain its own schedule; some steps diverge at
    // this step size, and a divergent step keeps its chain where it was in every execution
    let (x, y) = common::linear_network_data(30);
    let net = Mlp::new(&[2, 1], Activation::Tanh, WeightPrior::isotropic(2.0)).unwrap();
    let m = LinearNet::new(&net, &x, &y).unwrap();
    let calm = three_executions_on(&Sgld { batch_size: 7, order: Order::Shuffled, schedule: StepSchedule::Constant(2e-3) }, &m, "SGLD");
    assert_eq!(calm.divergences(), 0);
    let wild = three_executions_on(&Sgld { batch_size: 7, order: Order::Shuffled, schedule: StepSchedule::Constant(0.05) }, &m, "SGLD with divergent steps");
    assert!(wild.divergences() > 0, "the check needs divergent steps");
}

#[test]
fn smc_moves_the_same_particles_on_the_host_and_on_the_device() {
    let m = schools();
    // both evaluate the model on dfdx, for the same arithmetic
    let on_dfdx = m.on_backend(Cpu64::default());
    for kernel in [Move::Mala, Move::Hmc { leapfrog: 4 }] {
        let smc = Smc { particles: 200, runs: 2, seed: 3, kernel, ..Default::default() };
        let (host, device) = (run_smc(&smc, &on_dfdx).unwrap(), run_smc_device(&smc, &on_dfdx, &Cpu64::default()).unwrap());
        assert!((host.log_evidence - device.log_evidence).abs() < 1e-9, "{kernel:?}: ln Z {} vs {}", host.log_evidence, device.log_evidence);
        let diff = max_difference(&host.draws, &device.draws);
        assert!(diff < 1e-9, "{kernel:?}: the device's particles differ from the host's by {diff:e}");
        assert_eq!(host.runs[1].stages.len(), device.runs[1].stages.len());
    }
}

/// Per-run weighted means of `name`: their mean, and their spread over the runs as its standard
/// error.
fn weighted_mean_and_se(out: &SmcOutput, name: &str) -> (f64, f64) {
    let j = out.draws.names.iter().position(|n| n == name).unwrap();
    let d = out.draws.names.len();
    let means: Vec<f64> = out
        .draws
        .chains
        .iter()
        .zip(&out.runs)
        .map(|(c, run)| {
            let w: Vec<f64> = run.log_weights.iter().map(|w| w.exp()).collect();
            c.values.chunks(d).zip(&w).map(|(v, w)| w * v[j]).sum::<f64>() / w.iter().sum::<f64>()
        })
        .collect();
    let r = means.len() as f64;
    let mean = means.iter().sum::<f64>() / r;
    (mean, (means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (r - 1.0) / r).sqrt())
}

#[test]
fn eight_schools_under_smc_on_the_device_passes_its_reference() {
    if !references_available() {
        return;
    }
    let r = reference("eight_schools-eight_schools_noncentered");
    let smc = Smc { particles: 1000, runs: 8, seed: 6, ..Default::default() };
    let fails = |m: &EightSchoolsNoncentered| -> Vec<String> {
        let out = run_smc_device(&smc, m, &Cpu64::default()).unwrap();
        ["mu", "tau", "theta.1", "theta.8"]
            .iter()
            .filter_map(|name| {
                let (mean, se) = weighted_mean_and_se(&out, name);
                let p = &r["parameters"][name.replace(".1", "[1]").replace(".8", "[8]")];
                let (want, sd) = (p["mean"].as_f64().unwrap(), p["sd"].as_f64().unwrap());
                ((mean - want).abs() > 4.0 * se + 0.05 * sd).then(|| format!("{name}: {mean:.3} ± {se:.3} vs {want:.3}"))
            })
            .collect()
    };
    let wrong = fails(&eight_schools(1.0));
    assert!(wrong.is_empty(), "SMC on the device: {wrong:?}");
    // the check has power: the posterior of data with doubled measurement errors fails it
    assert!(!fails(&eight_schools(2.0)).is_empty(), "the posterior of other data must fail the check");
}

#[test]
fn eight_schools_under_ray_tracing_on_the_device_passes_its_reference() {
    if !references_available() {
        return;
    }
    let r = reference("eight_schools-eight_schools_noncentered");
    let cfg = RunConfig { chains: 8, warmup: 1000, draws: 2000, seed: 5, init: None };
    let m = eight_schools(1.0);
    let draws = run_device(&RayTracing::default(), &m, &Cpu64::default(), &cfg).unwrap();
    assert_matches_reference("ray tracing on the device: eight_schools_noncentered", &r, &draws);
}

#[test]
fn eight_schools_under_hmc_on_the_device_passes_its_reference() {
    if !references_available() {
        return;
    }
    let r = reference("eight_schools-eight_schools_noncentered");
    let cfg = RunConfig { chains: 8, warmup: 1000, draws: 2000, seed: 3, init: None };
    let m = eight_schools(1.0);
    let draws = run_device(&Hmc::new(10), &m, &Cpu64::default(), &cfg).unwrap();
    assert_matches_reference("HMC on the device: eight_schools_noncentered", &r, &draws);
    // the check has power: the posterior of data with doubled measurement errors fails it
    let wrong = eight_schools(2.0);
    let wrong_draws = run_device(&Hmc::new(10), &wrong, &Cpu64::default(), &cfg).unwrap();
    assert!(!check_reference("wrong data", &r, &wrong_draws).1.is_empty(), "the posterior of other data must fail the check");
}

/// A network regression whose network (one dense layer) is, on the device, the backend's own ops.
#[model(observations(x, y))]
fn linear_net(net: &Mlp, x: &Matrix, y: &[f64]) {
    let w = sample!([net.len()] ~ Normal(0.0, 2.0));
    observe!(y ~ Normal(net.forward(w, x), 0.4));
}

#[test]
fn a_network_regression_under_hmc_on_the_device_has_the_closed_form_posterior() {
    let (x, y) = common::linear_network_data(30);
    let net = Mlp::new(&[2, 1], Activation::Tanh, WeightPrior::isotropic(2.0)).unwrap();
    let m = LinearNet::new(&net, &x, &y).unwrap();
    let cfg = RunConfig { chains: 8, warmup: 1000, draws: 1000, seed: 4, init: None };
    // 5 steps: longer fixed trajectories resonate on this posterior (static HMC has no jitter;
    // threads show the same R-hat)
    let draws = run_device(&Hmc::new(5), &m, &Cpu64::default(), &cfg).unwrap();
    common::assert_linear_network_posterior(&draws, &x, &y, 0.4, 2.0);
}

#[test]
fn a_network_regression_under_smc_on_the_device_has_the_closed_form_posterior() {
    let (x, y) = common::linear_network_data(30);
    let net = Mlp::new(&[2, 1], Activation::Tanh, WeightPrior::isotropic(2.0)).unwrap();
    let m = LinearNet::new(&net, &x, &y).unwrap();
    let out = run_smc_device(&Smc { particles: 1000, runs: 8, seed: 9, ..Default::default() }, &m.on_backend(Cpu64::default()), &Cpu64::default()).unwrap();
    let (mean, sd) = common::linear_network_posterior(&x, &y, 0.4, 2.0);
    for j in 0..3 {
        let name = format!("w.{}", j + 1);
        let (m, se) = weighted_mean_and_se(&out, &name);
        assert!((m - mean[j]).abs() < 4.0 * se + 0.02 * sd[j], "{name}: {m} ± {se} vs {}", mean[j]);
        let s = out.weighted_cov(&name, &name).unwrap().sqrt();
        assert!((s / sd[j] - 1.0).abs() < 0.1, "{name}: sd {s} vs {}", sd[j]);
    }
}

#[test]
fn what_an_execution_cannot_do_is_refused_before_the_run() {
    let m = schools();
    let cfg = RunConfig { chains: 2, warmup: 10, draws: 10, seed: 1, init: None };
    // NUTS's trajectories differ in length from chain to chain
    let e = run(&Lockstep(Nuts::default()), &m, &cfg).unwrap_err();
    assert!(matches!(e, SamplerError::Setting { name: "execution", .. }), "{e}");
    // the device applies diagonal metrics only
    let mut dense = Hmc::new(5);
    dense.adapt.dense = true;
    let e = run_device(&dense, &m, &Cpu64::default(), &cfg).unwrap_err();
    assert!(matches!(e, SamplerError::Setting { name: "dense", .. }), "{e}");
    // every execution checks the run the same way
    let none = RunConfig { chains: 0, ..cfg.clone() };
    let e = run_device(&Hmc::new(5), &m, &Cpu64::default(), &none).unwrap_err();
    assert!(matches!(e, SamplerError::Setting { name: "chains", .. }), "{e}");
}

