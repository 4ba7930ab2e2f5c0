//! Property tests: random data (any length, NaN and ±∞ among the values) and random sampler
//! settings (zero, negative, NaN and huge among them) end in `Ok` or in an `Err`, never in a panic
//! — for `new`, for every sampler through `run` (threads and lockstep), for the device execution,
//! and for SMC. A few dozen cases per property keep the run to seconds.

use proptest::prelude::*;
use snell::backend::Cpu64;
use snell::prelude::*;
use snell::sampler::hmc::Hmc;
use snell::sampler::l2hmc::{L2hmc, Networks};
use snell::sampler::langevin::{Baoab, LangevinParams};
use snell::sampler::mala::Mala;
use snell::sampler::nuts::Nuts;
use snell::sampler::ray_tracing::{Integrator, MinibatchSettings, RayTracing};
use snell::sampler::rwm::RandomWalkMetropolis;
use snell::sampler::smc::{run_smc, Move, Smc};
use snell::sampler::{run, run_device, Lockstep, RunConfig, Sampler};

#[model(observations(x, y))]
fn regression(x: &[f64], y: &[f64]) {
    let a = sample!(Normal(0.0, 10.0));
    let b = sample!(Normal(0.0, 10.0));
    let sigma = sample!(HalfNormal(2.0));
    observe!(y ~ Normal(a + b * x, sigma));
}

/// Numbers a user might pass, the awkward ones included.
fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -5.0..5.0f64,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(0.0),
        1 => Just(-1.0),
        1 => Just(1e300),
    ]
}

/// Mostly a valid value from `valid`, sometimes an awkward number: most runs get past the
/// settings' checks and sample, the others must be refused cleanly.
fn or_awkward(valid: std::ops::Range<f64>) -> impl Strategy<Value = f64> {
    prop_oneof![6 => valid, 1 => number()]
}

fn config() -> impl Strategy<Value = RunConfig> {
    (prop_oneof![6 => 1usize..4, 1 => Just(0usize)], 0usize..12, 0usize..6, any::<u64>()).prop_map(|(chains, warmup, draws, seed)| RunConfig { chains, warmup, draws, seed, init: None })
}

fn good_model() -> Regression {
    let x: Vec<f64> = (0..8).map(|i| i as f64 / 7.0).collect();
    let y: Vec<f64> = x.iter().map(|x| 1.0 + 2.0 * x).collect();
    Regression::new(&x, &y).unwrap()
}

/// Runs `sampler` in threads and in lockstep (where it has a lockstep form), ignoring the result:
/// only a panic fails.
fn runs<S: Sampler + Clone>(sampler: S, cfg: &RunConfig) {
    let m = good_model();
    let _ = run(&sampler, &m, cfg);
    let _ = run(&Lockstep(sampler), &m, cfg);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_data_builds_a_model_or_names_what_is_wrong(x in prop::collection::vec(number(), 0..6), y in prop::collection::vec(number(), 0..6)) {
        if let Ok(m) = Regression::new(&x, &y) {
            let cfg = RunConfig { chains: 1, warmup: 5, draws: 3, seed: 1, init: None };
            let _ = run(&Nuts::default(), &m, &cfg);
            let _ = run_smc(&Smc { particles: 8, runs: 1, ..Smc::default() }, &m);
        }
    }

    #[test]
    fn hmc_mala_and_nuts_settings(n_steps in 0usize..4, accept in or_awkward(0.05..0.99), energy in or_awkward(1.0..2000.0), depth in 0usize..4, step in or_awkward(1e-3..3.0), cfg in config()) {
        let mut hmc = Hmc::new(n_steps);
        hmc.adapt.target_accept = accept;
        hmc.max_energy_error = energy;
        runs(hmc, &cfg);
        let mut mala = Mala::default();
        mala.adapt.target_accept = accept;
        runs(mala, &cfg);
        let _ = run(&Nuts { max_depth: depth, step_size: step, max_energy_error: energy, ..Nuts::default() }, &good_model(), &cfg);
    }

    #[test]
    fn ray_tracing_settings(step in or_awkward(1e-3..3.0), n_steps in prop::option::of(0usize..4), arc in or_awkward(0.1..3.0), mode in any::<bool>(), refresh in or_awkward(0.0..1.0), accept in or_awkward(0.05..0.99), metropolis in any::<bool>(), batch in prop::option::of(0usize..12), metric in any::<bool>(), rdkd in any::<bool>(), cfg in config()) {
        let rt = RayTracing {
            step_size: step,
            n_steps,
            arc,
            start_at_mode: mode,
            refresh_rate: refresh,
            target_accept: accept,
            metropolis,
            metric,
            integrator: if rdkd { Integrator::Rdkd } else { Integrator::Dkd },
            minibatch: batch.map(MinibatchSettings::new),
            ..RayTracing::default()
        };
        runs(rt.clone(), &cfg);
        let _ = run_device(&rt, &good_model(), &Cpu64::default(), &cfg);
    }

    #[test]
    fn langevin_random_walk_and_l2hmc_settings(dt in or_awkward(1e-3..1.0), gamma in or_awkward(0.0..10.0), mass in or_awkward(0.1..10.0), beta in or_awkward(0.1..4.0), scale in prop::option::of(or_awkward(0.01..5.0)), jitter in or_awkward(0.0..0.9), cfg in config()) {
        let params = LangevinParams { step_size: dt, gamma, mass, beta };
        runs(Baoab::constant(params), &cfg);
        let _ = run(&RandomWalkMetropolis { target_accept: None, step_size: scale }, &good_model(), &cfg);
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(cfg.seed);
        let nets = Networks::new(3, 4, 2, 0.1, &mut rng);
        runs(L2hmc::new(nets).with_step_jitter(jitter), &cfg);
    }

    #[test]
    fn smc_settings(particles in 0usize..12, runs in 0usize..3, moves in 0usize..3, ess in or_awkward(0.1..1.0), accept in or_awkward(0.05..0.99), leapfrog in 0usize..3, hmc in any::<bool>(), seed in any::<u64>()) {
        let smc = Smc { particles, runs, moves, ess_frac: ess, target_accept: accept, kernel: if hmc { Move::Hmc { leapfrog } } else { Move::Mala }, seed, ..Smc::default() };
        let _ = run_smc(&smc, &good_model());
    }
}
