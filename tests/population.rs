//! Chains in lockstep on one batched evaluation give the draws of one chain per thread, for HMC
//! and for ray tracing with every setting.

use snell::prelude::*;
use snell::sampler::hmc::Hmc;
use snell::sampler::{run, Lockstep, RunConfig};
use snell::target::FnDensity;

#[model]
fn eight_schools(y: &[f64], sigma: &[f64]) {
    let mu = sample!(Normal(0.0, 5.0));
    let tau = sample!(HalfCauchy(5.0));
    let theta_raw = sample!([y.len()] ~ Normal(0.0, 1.0));
    observe!(y ~ Normal(mu + tau * theta_raw, sigma));
}

#[test]
fn lockstep_hmc_equals_threaded_hmc_on_a_model() {
    let m = EightSchools::new(&[28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0], &[15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0]).unwrap();
    let cfg = RunConfig { chains: 4, warmup: 300, draws: 200, seed: 5, init: None };
    let threaded = run(&Hmc::new(8), &m, &cfg).unwrap();
    let lockstep = run(&Lockstep(Hmc::new(8)), &m, &cfg).unwrap();
    assert_eq!(threaded.chains, lockstep.chains);
}

#[test]
fn lockstep_hmc_equals_threaded_hmc_with_divergences() {
    // Neal's funnel: divergent trajectories stop early in both drivers
    let target = FnDensity::new(3, |q: &[f64], g: &mut [f64]| {
        let v = q[0];
        let s2 = (v).exp();
        g[0] = -v / 9.0 + 0.5 * (q[1] * q[1] + q[2] * q[2]) / s2 - 1.0;
        g[1] = -q[1] / s2;
        g[2] = -q[2] / s2;
        -v * v / 18.0 - 0.5 * (q[1] * q[1] + q[2] * q[2]) / s2 - v
    });
    let cfg = RunConfig { chains: 3, warmup: 100, draws: 100, seed: 9, init: None };
    let threaded = run(&Hmc::new(10), &target, &cfg).unwrap();
    let lockstep = run(&Lockstep(Hmc::new(10)), &target, &cfg).unwrap();
    assert_eq!(threaded.chains, lockstep.chains);
    assert!(threaded.divergences() > 0, "the funnel should produce divergences");
}

mod rays {
    use super::*;
    use snell::sampler::ray_tracing::{Integrator, MinibatchSettings, RayTracing, Weighting};
    use snell::sampler::Sampler;

    fn correlated() -> FnDensity<impl Fn(&[f64], &mut [f64]) -> f64 + Sync> {
        FnDensity::new(6, |q: &[f64], g: &mut [f64]| {
            let mut lp = 0.0;
            for i in 0..6 {
                let s = 0.5 + 0.3 * i as f64;
                g[i] = -q[i] / (s * s);
                lp -= 0.5 * q[i] * q[i] / (s * s);
            }
            lp
        })
    }

    #[test]
    fn lockstep_rays_equal_threaded_rays() {
        let target = correlated();
        let cfg = RunConfig { chains: 4, warmup: 200, draws: 100, seed: 3, init: None };
        for integrator in [Integrator::Dkd, Integrator::Kdk, Integrator::Omelyan] {
            let rt = RayTracing { integrator, ..RayTracing::new(0.3, 5) };
            assert_eq!(run(&rt, &target, &cfg).unwrap().chains, run(&Lockstep(rt.clone()), &target, &cfg).unwrap().chains, "{integrator:?}");
        }
        let persistent = RayTracing { full_refresh: false, refresh_rate: 1.0, ..RayTracing::new(0.3, 5) };
        assert_eq!(run(&persistent, &target, &cfg).unwrap().chains, run(&Lockstep(persistent.clone()), &target, &cfg).unwrap().chains);
        let no_metropolis = RayTracing { metropolis: false, ..RayTracing::new(0.3, 5) };
        assert_eq!(run(&no_metropolis, &target, &cfg).unwrap().chains, run(&Lockstep(no_metropolis.clone()), &target, &cfg).unwrap().chains);
    }

    #[test]
    fn lockstep_rays_on_a_model_and_at_walls() {
        let m = EightSchools::new(&[28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0], &[15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0]).unwrap();
        let cfg = RunConfig { chains: 3, warmup: 100, draws: 100, seed: 4, init: None };
        let rt = RayTracing::new(0.3, 5);
        assert_eq!(run(&rt, &m, &cfg).unwrap().chains, run(&Lockstep(rt.clone()), &m, &cfg).unwrap().chains);
        // a wall: −∞ beyond x₀ > 1, so some trajectories stop early
        let wall = FnDensity::new(2, |q: &[f64], g: &mut [f64]| {
            g[0] = -q[0];
            g[1] = -q[1];
            if q[0] > 1.0 { f64::NEG_INFINITY } else { -0.5 * (q[0] * q[0] + q[1] * q[1]) }
        });
        let cfg = RunConfig { chains: 3, warmup: 50, draws: 100, seed: 6, init: Some(vec![vec![0.0, 0.0]]) };
        let a = run(&rt, &wall, &cfg).unwrap();
        assert_eq!(a.chains, run(&Lockstep(rt.clone()), &wall, &cfg).unwrap().chains);
        assert!(a.divergences() > 0);
        // RDKD picks each chain's integrator from its own stream, in lockstep too
        let rdkd = RayTracing { integrator: Integrator::Rdkd, ..rt };
        assert_eq!(run(&rdkd, &wall, &cfg).unwrap().chains, run(&Lockstep(rdkd.clone()), &wall, &cfg).unwrap().chains);
    }

    #[model(observations(y))]
    fn normal_obs(y: &[f64]) {
        let mu = sample!(Normal(0.0, 10.0));
        let sigma = sample!(HalfNormal(2.0));
        observe!(y ~ Normal(mu, sigma));
    }

    #[test]
    fn every_setting_runs_in_lockstep_with_the_draws_of_threads() {
        let target = correlated();
        let cfg = RunConfig { chains: 3, warmup: 150, draws: 50, seed: 8, init: None };
        let base = RayTracing::new(0.3, 5);
        let settings = [
            RayTracing { weighting: Weighting::Power(0.3), ..base.clone() },
            RayTracing { weighting: Weighting::Microcanonical, ..base.clone() },
            RayTracing { weighting: Weighting::Hmc, integrator: Integrator::Kdk, ..base.clone() },
            RayTracing { weighting: Weighting::Metropolis, ..base.clone() },
            RayTracing { metric: true, ..base.clone() },
            RayTracing { start_at_mode: true, ..base.clone() },
            RayTracing { target_dphi: Some(0.3), ..base.clone() },
        ];
        for rt in settings {
            let threads = run(&rt, &target, &cfg).unwrap();
            assert_eq!(threads.chains, run(&Lockstep(rt.clone()), &target, &cfg).unwrap().chains, "{:?}", rt.settings());
        }
        // minibatches: each chain's batches come from its own schedule
        let y: Vec<f64> = (0..40).map(|i| 1.0 + ((i as f64) * 0.7).sin()).collect();
        let m = NormalObs::new(&y).unwrap();
        let rt = RayTracing { metropolis: false, minibatch: Some(MinibatchSettings::new(8)), ..base };
        let threads = run(&rt, &m, &cfg).unwrap();
        assert_eq!(threads.chains, run(&Lockstep(rt), &m, &cfg).unwrap().chains);
    }
}
