//! L2HMC: the augmented leapfrog reduces to HMC, inverts exactly, has the log-Jacobian of a
//! numerical determinant; any network leaves the target invariant (with a power check that drops
//! the log-Jacobian), also with a jittered step size, which moves coordinates that a whole period
//! freezes; the dfdx training dynamics equal the f64 kernel; save/load round-trips; a short
//! training beats tuned HMC on the strongly correlated Gaussian; the training gradient is exact.

mod common;

use common::{check_invariance, exact_inits, fd_jacobian, log_abs_det, std_normal};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use snell::sampler::l2hmc::dynamics::{backward_step, forward_step};
use snell::sampler::l2hmc::net::masks;
use snell::sampler::l2hmc::{load_networks, propose, L2hmc, Networks, State, TrainSettings, Trainer};
use snell::sampler::metric::Metric;
use snell::sampler::phase_space::Point;
use snell::sampler::{run, RunConfig, SamplerError};
use snell::target::{FnDensity, Target};
use snell_examples::energy_targets::{correlated_gaussian, hmc_grid, ill_conditioned_gaussian};

fn normals(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.sample(StandardNormal)).collect()
}

fn close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{what}: {a:?} vs {b:?}");
    }
}

#[test]
fn zero_networks_are_plain_hmc_step_for_step() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for (target, eps) in [(correlated_gaussian().density, 0.18), (ill_conditioned_gaussian(5).density, 0.18)] {
        let d = target.dim();
        let nets = Networks::zero(d, 7, eps);
        let (x0, v0) = (normals(&mut rng, d), normals(&mut rng, d));
        for forward in [true, false] {
            let mut s = State::new(&target, x0.clone(), v0.clone()).unwrap();
            let mut p = Point::new(&target, x0.clone()).unwrap();
            p.p = v0.clone();
            let mut scratch = vec![0.0; d];
            for k in 0..nets.n_steps {
                let lj = if forward { forward_step(&nets, &target, &mut s, k).unwrap() } else { backward_step(&nets, &target, &mut s, nets.n_steps - 1 - k).unwrap() };
                p.leapfrog(&target, &Metric::unit(d), if forward { eps } else { -eps }, &mut scratch).unwrap();
                assert_eq!(lj, 0.0);
                close(&s.x, &p.q, 1e-13, "position");
                close(&s.v, &p.p, 1e-13, "momentum");
            }
            let start = State::new(&target, x0.clone(), v0.clone()).unwrap();
            let prop = propose(&nets, &target, &start, forward).unwrap();
            let mut h = Point::new(&target, x0.clone()).unwrap();
            h.p = v0.clone();
            let want = (h.hamiltonian(&Metric::unit(d)) - p.hamiltonian(&Metric::unit(d))).min(0.0).exp();
            assert!((prop.accept_prob - want).abs() < 1e-12, "acceptance {} vs HMC {want}", prop.accept_prob);
            let dh = h.hamiltonian(&Metric::unit(d)) - p.hamiltonian(&Metric::unit(d));
            assert!(want > 0.1 && dh.abs() > 1e-4, "a non-trivial energy error ({dh})");
        }
    }
}

#[test]
fn backward_step_inverts_forward_step_and_the_log_jacobians_cancel() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let target = ill_conditioned_gaussian(5).density;
    let nets = Networks::random(5, 8, 3, 0.3, 1.0, &mut rng);
    for t in 0..3 {
        let s0 = State::new(&target, normals(&mut rng, 5), normals(&mut rng, 5)).unwrap();
        let mut s = s0.clone();
        let lf = forward_step(&nets, &target, &mut s, t).unwrap();
        assert!(s.x.iter().zip(&s0.x).any(|(a, b)| (a - b).abs() > 1e-3) && lf.abs() > 1e-3, "the step moves and has a non-zero log-Jacobian");
        let lb = backward_step(&nets, &target, &mut s, t).unwrap();
        close(&s.x, &s0.x, 1e-10, "position after forward then backward");
        close(&s.v, &s0.v, 1e-10, "momentum after forward then backward");
        assert!((lf + lb).abs() < 1e-10, "log-Jacobians {lf} and {lb}");
    }
    // whole trajectories: the backward proposal from the forward proposal returns to the start
    let s0 = State::new(&target, normals(&mut rng, 5), normals(&mut rng, 5)).unwrap();
    let fwd = propose(&nets, &target, &s0, true).unwrap();
    let back = propose(&nets, &target, &fwd.state, false).unwrap();
    close(&back.state.x, &s0.x, 1e-10, "trajectory round trip");
    assert!((fwd.log_jacobian + back.log_jacobian).abs() < 1e-10);
}

#[test]
fn log_jacobian_equals_a_numerical_log_determinant() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let n = 3; // odd: the two halves of the masks differ in size
    let target = ill_conditioned_gaussian(n).density;
    let nets = Networks::random(n, 6, 4, 0.4, 1.0, &mut rng);
    let z0: Vec<f64> = normals(&mut rng, 2 * n);
    for forward in [true, false] {
        for t in [0, 2] {
            let step = |z: &[f64]| {
                let mut s = State::new(&target, z[..n].to_vec(), z[n..].to_vec()).unwrap();
                let lj = if forward { forward_step(&nets, &target, &mut s, t) } else { backward_step(&nets, &target, &mut s, t) }.unwrap();
                (s, lj)
            };
            let (_, lj) = step(&z0);
            let (m, jac) = fd_jacobian(|z| { let (s, _) = step(z); [s.x, s.v].concat() }, &z0, 1e-5);
            assert_eq!(m, 2 * n);
            let num = log_abs_det(&jac, 2 * n);
            assert!((lj - num).abs() < 1e-6, "forward {forward}, t = {t}: analytic {lj}, numerical {num}");
            assert!(lj.abs() > 1e-2, "a non-trivial Jacobian ({lj})");
        }
    }
}

#[test]
fn masks_have_half_ones_and_are_a_function_of_their_seed() {
    for dim in [1, 2, 7, 50] {
        let m = masks(dim, 10, 17);
        assert_eq!(m.len(), 10);
        for row in &m {
            assert_eq!(row.iter().filter(|&&v| v == 1.0).count(), dim / 2);
            assert!(row.iter().all(|&v| v == 0.0 || v == 1.0));
        }
        assert_eq!(m, masks(dim, 10, 17));
    }
    let nets = Networks::new(7, 10, 5, 0.1, &mut ChaCha8Rng::seed_from_u64(4));
    assert_eq!(nets.masks, masks(7, 5, nets.mask_seed));
    assert!(nets.masks.windows(2).any(|w| w[0] != w[1]), "masks differ between steps");
    // one dimension: the first half-update moves nothing, the second everything
    let one = std_normal(1);
    let nets = Networks::random(1, 4, 3, 0.3, 1.0, &mut ChaCha8Rng::seed_from_u64(5));
    let draws = run(&L2hmc::new(nets), &one, &RunConfig { chains: 2, warmup: 0, draws: 50, seed: 1, init: None }).unwrap();
    assert!(draws.chains.iter().all(|c| c.values.iter().all(|v| v.is_finite())));
}

/// Final states of 4000 chains started from exact N(0, I) draws after `steps` transitions of
/// `kernel` (which returns the next state).
fn final_states(nets: &Networks, target: &dyn Target, steps: usize, mut kernel: impl FnMut(&Networks, &dyn Target, &mut ChaCha8Rng, State) -> State) -> Vec<f64> {
    let inits = exact_inits(4000, 2, 11);
    let mut out = Vec::new();
    for (c, x) in inits.into_iter().enumerate() {
        let mut rng = snell::sampler::chain_rng(12, c);
        let mut s = State::new(target, x, vec![0.0; 2]).unwrap();
        for _ in 0..steps {
            s = kernel(nets, target, &mut rng, s);
        }
        out.extend(s.x);
    }
    out
}

fn moments(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (m, v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0))
}

#[test]
fn an_untrained_random_network_leaves_the_target_invariant() {
    let target = std_normal(2);
    let mut nets = Networks::random(2, 10, 5, 0.3, 1.0, &mut ChaCha8Rng::seed_from_u64(6));
    // biases that make the position updates expand volume: wrong without the log-Jacobian
    nets.x_net.b_s = vec![0.5, 0.5];
    nets.v_net.b_s = vec![0.3, 0.3];
    // through the common driver: 4000 chains from exact draws, 10 transitions each
    let cfg = RunConfig { chains: 4000, warmup: 0, draws: 10, seed: 12, init: Some(exact_inits(4000, 2, 11)) };
    let draws = run(&L2hmc::new(nets.clone()), &target, &cfg).unwrap();
    check_invariance(&draws, 2);
    // the same seed gives the same draws
    let again = run(&L2hmc::new(nets.clone()), &target, &RunConfig { chains: 8, init: Some(exact_inits(8, 2, 11)), ..cfg.clone() }).unwrap();
    assert!(again.chains.iter().zip(&draws.chains).all(|(a, b)| a.values == b.values));
    let stat = draws.stat("accept_stat__").unwrap();
    let accept = stat.iter().flatten().sum::<f64>() / (stat.len() * stat[0].len()) as f64;
    assert!(accept > 0.1 && accept < 0.95, "the random kernel moves, and is not HMC (acceptance {accept})");
    // with the step size jittered per transition, still exact
    let jittered = run(&L2hmc::new(nets.clone()).with_step_jitter(0.5), &target, &cfg).unwrap();
    check_invariance(&jittered, 2);
    let eps: Vec<f64> = jittered.stat("stepsize__").unwrap().into_iter().flatten().collect();
    let (lo, hi) = eps.iter().fold((f64::INFINITY, 0.0f64), |(a, b), &e| (a.min(e), b.max(e)));
    assert!(lo >= 0.15 && hi <= 0.45 && lo < 0.16 && hi > 0.44, "ε drawn from 0.3·(1 ± 0.5): range {lo}…{hi}");
    // power: the same proposals accepted without the log-Jacobian give the wrong distribution
    let wrong = final_states(&nets, &target, 10, |nets, target, rng, mut s| {
        s.v = normals(rng, 2);
        let p = propose(nets, target, &s, rng.gen()).unwrap();
        let a = if p.divergent { 0.0 } else { (s.hamiltonian() - p.state.hamiltonian()).min(0.0).exp() };
        if rng.gen::<f64>() < a { p.state } else { s }
    });
    let (m, var) = moments(&wrong);
    let n = wrong.len() as f64;
    assert!(m.abs() > 4.0 / n.sqrt() || (var - 1.0).abs() > 4.0 * (2.0 / n).sqrt(), "dropping the log-Jacobian must be detected: mean {m}, variance {var}");
}

#[test]
fn a_jittered_step_size_moves_a_coordinate_that_a_whole_period_freezes() {
    // zero networks on N(0, I) with ε = 2 sin(π/10): each leapfrog step turns the phase plane by
    // 2π/10, so 10 steps are a whole period and every proposal returns to its start exactly, the
    // way a trained kernel freezes some coordinates of the ill-conditioned Gaussian
    let target = std_normal(2);
    let eps = 2.0 * (std::f64::consts::PI / 10.0).sin();
    let nets = Networks::zero(2, 10, eps);
    let cfg = RunConfig { chains: 4000, warmup: 0, draws: 10, seed: 5, init: Some(exact_inits(4000, 2, 6)) };
    let jump = |d: &snell::sampler::Draws| {
        let (mut sum, mut n) = (0.0, 0.0);
        for c in &d.chains {
            for (a, b) in c.values.chunks(2).zip(c.values.chunks(2).skip(1)) {
                sum += (a[0] - b[0]).powi(2);
                n += 1.0;
            }
        }
        sum / n
    };
    let frozen = run(&L2hmc::new(nets.clone()), &target, &cfg).unwrap();
    assert!(jump(&frozen) < 1e-12, "a whole period: E(x′ − x)² = {}", jump(&frozen));
    let jittered = run(&L2hmc::new(nets).with_step_jitter(0.3), &target, &cfg).unwrap();
    check_invariance(&jittered, 2);
    assert!(jump(&jittered) > 0.5, "jittered: E(x′ − x)² = {} (2 for independent draws)", jump(&jittered));
}

#[test]
fn the_dfdx_training_dynamics_equal_the_f64_kernel() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let known = correlated_gaussian();
    let nets = Networks::random(2, 10, 4, 0.05, 1.0, &mut rng);
    let trainer = Trainer::<2, 10, _>::cpu(&nets, TrainSettings { batch: 4, ..Default::default() }).unwrap();
    assert_eq!(trainer.networks(), nets, "weights copied into dfdx and back unchanged");
    let (x0, v0) = (normals(&mut rng, 12), normals(&mut rng, 12));
    for forward in [true, false] {
        let (xs, acc) = trainer.proposals_of(&known.density, &x0, &v0, forward).unwrap();
        for i in 0..6 {
            let s = State::new(&known.density, x0[2 * i..2 * i + 2].to_vec(), v0[2 * i..2 * i + 2].to_vec()).unwrap();
            let p = propose(&nets, &known.density, &s, forward).unwrap();
            close(&xs[2 * i..2 * i + 2], &p.state.x, 1e-10, "proposal");
            assert!((acc[i] - p.accept_prob).abs() < 1e-10, "acceptance {} vs {}", acc[i], p.accept_prob);
        }
    }
}

#[test]
fn a_saved_trainer_loads_back_to_the_same_kernel() {
    let known = correlated_gaussian();
    let nets = Networks::new(2, 10, 4, 0.1, &mut ChaCha8Rng::seed_from_u64(8));
    let mut trainer = Trainer::<2, 10, _>::cpu(&nets, TrainSettings { batch: 16, iterations: 5, ..Default::default() }).unwrap();
    trainer.train(&known.density, |_, _| {}).unwrap();
    let trained = trainer.networks();
    assert_ne!(trained, nets, "training changed the weights");
    let path = std::env::temp_dir().join(format!("snell-l2hmc-{}.safetensors", std::process::id()));
    trainer.save(&path).unwrap();
    let loaded = load_networks::<2, 10>(&path).unwrap();
    assert_eq!(loaded, trained);
    assert!(matches!(load_networks::<3, 10>(&path), Err(SamplerError::Io { .. })), "a file of another shape is an error");
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(load_networks::<2, 10>(&path), Err(SamplerError::Io { .. })));
}

#[test]
fn bad_settings_and_bad_densities_are_errors_or_counted_divergences() {
    let nets = Networks::new(2, 10, 4, 0.1, &mut ChaCha8Rng::seed_from_u64(9));
    let bad = |r: Result<Trainer<2, 10, _>, SamplerError>, name: &str| match r {
        Err(SamplerError::Setting { name: n, .. }) => assert_eq!(n, name),
        other => panic!("expected a setting error naming {name}, got {:?}", other.err()),
    };
    bad(Trainer::cpu(&nets, TrainSettings { batch: 0, ..Default::default() }), "batch");
    bad(Trainer::cpu(&nets, TrainSettings { scale: -1.0, ..Default::default() }), "scale");
    bad(Trainer::cpu(&nets, TrainSettings { learning_rate: f64::NAN, ..Default::default() }), "learning_rate");
    assert!(matches!(Trainer::<3, 10, _>::cpu(&nets, TrainSettings::default()), Err(SamplerError::Setting { name: "networks", .. })));
    let three = std_normal(3);
    assert!(matches!(run(&L2hmc::new(nets.clone()), &three, &RunConfig::default()), Err(SamplerError::Setting { name: "networks", .. })));
    let mut broken = nets.clone();
    broken.n_steps = 0;
    assert!(matches!(run(&L2hmc::new(broken), &std_normal(2), &RunConfig::default()), Err(SamplerError::Setting { name: "n_steps", .. })));
    for j in [-0.1, 1.0, f64::NAN] {
        assert!(matches!(run(&L2hmc::new(nets.clone()).with_step_jitter(j), &std_normal(2), &RunConfig::default()), Err(SamplerError::Setting { name: "step_jitter", .. })));
    }
    // NaN beyond x₀ > 1: such proposals are rejected and counted as divergent
    let cut = FnDensity::new(2, |q: &[f64], g: &mut [f64]| {
        g.iter_mut().zip(q).for_each(|(g, q)| *g = -q);
        if q[0] > 1.0 { f64::NAN } else { -0.5 * q.iter().map(|x| x * x).sum::<f64>() }
    });
    let draws = run(&L2hmc::new(nets), &cut, &RunConfig { chains: 2, warmup: 0, draws: 300, seed: 3, init: Some(vec![vec![0.0, 0.0]]) }).unwrap();
    assert!(draws.divergences() > 0);
    assert!(draws.chains.iter().all(|c| c.values.chunks(2).all(|v| v[0] <= 1.0)));
}

#[test]
fn a_short_training_beats_tuned_hmc_on_the_correlated_gaussian() {
    let known = correlated_gaussian();
    let (m, draws, chains) = (10, 400, 50);
    let nets = Networks::new(2, 10, m, 0.1, &mut ChaCha8Rng::seed_from_u64(10));
    let settings = TrainSettings { iterations: 1500, batch: 100, seed: 1, ..Default::default() };
    let mut trainer = Trainer::<2, 10, _>::cpu(&nets, settings).unwrap();
    let stats = trainer.train(&known.density, |_, _| {}).unwrap();
    assert!(stats.iter().all(|s| !s.skipped));
    let inits = known.inits(chains, 20);
    let cfg = RunConfig { chains, warmup: 0, draws, seed: 21, init: Some(inits.clone()) };
    let out = run(&L2hmc::new(trainer.networks()), &known.density, &cfg).unwrap();
    let l2 = known.ess(&out.chains.iter().map(|c| c.values.clone()).collect::<Vec<_>>());
    let (_, (eps, hmc)) = hmc_grid(&known, &inits, &[0.1, 0.15, 0.2], m, draws, 21).unwrap();
    println!("ESS per MH step: L2HMC {l2:.4} (ε = {:.3}), HMC {hmc:.4} (ε = {eps})", trainer.networks().step_size());
    // both spend M gradients per transition, so the ratio is the ratio per gradient
    assert!(l2 > 2.0 * hmc, "L2HMC {l2} vs HMC {hmc}");
    // and it samples the right distribution: variance along the long axis 100 ± 4 MCSE
    let long: Vec<Vec<f64>> = out.chains.iter().map(|c| c.values.chunks(2).map(|v| (v[0] - v[1]) / 2f64.sqrt()).collect()).collect();
    let sq: Vec<&[f64]> = long.iter().map(|c| c.as_slice()).collect();
    let pooled: Vec<f64> = long.iter().flatten().map(|y| y * y).collect();
    let var = pooled.iter().sum::<f64>() / pooled.len() as f64;
    let ess = snell::diagnostics::ess_mean(&sq.iter().map(|c| c.iter().map(|y| y * y).collect::<Vec<f64>>()).collect::<Vec<_>>().iter().map(|c| c.as_slice()).collect::<Vec<_>>());
    let mcse = (2.0f64).sqrt() * 100.0 / ess.sqrt();
    assert!((var - 100.0).abs() < 4.0 * mcse + 1.0, "long-axis variance {var} (MCSE {mcse})");
}

/// The shape of the kernel whose training gradient [`gradient_error`] checks.
struct Shape {
    n_steps: usize,
    step_size: f64,
    head_factor: f64,
}

/// The training gradient of the loss of 4 proposals from 4 draws of `start` (M, ε and the heads'
/// init from `shape`) against central differences of the loss, at ten parameters; returns the
/// largest relative error.
fn gradient_error<const N: usize, const H: usize, T: Target>(target: &T, shape: &Shape, start: impl Fn(&mut ChaCha8Rng) -> Vec<f64>, curvature: bool, forward: bool) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let nets = Networks::random(N, H, shape.n_steps, shape.step_size, shape.head_factor, &mut rng);
    let x0: Vec<f64> = (0..4).flat_map(|_| start(&mut rng)).collect();
    let v0 = normals(&mut rng, 4 * N);
    let settings = TrainSettings { curvature, ..Default::default() };
    let loss = |n: &Networks| Trainer::<N, H, _>::cpu(n, settings.clone()).unwrap().loss_and_gradient(target, &x0, &v0, forward).unwrap();
    let (value, grad) = loss(&nets);
    assert!(value.is_finite());
    let h = 1e-6;
    let fd = |f: &dyn Fn(&mut Networks, f64)| {
        let (mut a, mut b) = (nets.clone(), nets.clone());
        f(&mut a, h);
        f(&mut b, -h);
        (loss(&a).0 - loss(&b).0) / (2.0 * h)
    };
    let checks: Vec<(f64, f64)> = vec![
        (grad.log_step_size, fd(&|n, d| n.log_step_size += d)),
        (grad.v_net.w_a[0], fd(&|n, d| n.v_net.w_a[0] += d)),
        (grad.v_net.w_b[1], fd(&|n, d| n.v_net.w_b[1] += d)),
        (grad.v_net.b_t[2], fd(&|n, d| n.v_net.b_t[2] += d)),
        (grad.v_net.log_scale_q[0], fd(&|n, d| n.v_net.log_scale_q[0] += d)),
        (grad.x_net.w_s[4], fd(&|n, d| n.x_net.w_s[4] += d)),
        (grad.x_net.w_tau[3], fd(&|n, d| n.x_net.w_tau[3] += d)),
        (grad.x_net.b_q[1], fd(&|n, d| n.x_net.b_q[1] += d)),
        (grad.x_net.log_scale_s[2], fd(&|n, d| n.x_net.log_scale_s[2] += d)),
        (grad.x_net.w_h[7], fd(&|n, d| n.x_net.w_h[7] += d)),
    ];
    checks.iter().map(|(got, want)| (got - want).abs() / (1.0 + want.abs())).fold(0.0, f64::max)
}

#[test]
fn the_training_gradient_is_exact_where_the_curvature_is_known() {
    // ln π(x) = c·x: ∇U is constant, so even the stop-gradient training gradient is exact
    let c = [0.7, -0.4, 0.2];
    let lin = FnDensity::new(3, move |q: &[f64], g: &mut [f64]| {
        g.copy_from_slice(&c);
        q.iter().zip(&c).map(|(x, c)| x * c).sum::<f64>()
    });
    // a Gaussian: ∇U is linear, so the finite-difference Hessians are exact and so is the gradient
    let gauss = ill_conditioned_gaussian(3).density;
    let small = Shape { n_steps: 3, step_size: 0.3, head_factor: 0.5 };
    let start = |rng: &mut ChaCha8Rng| normals(rng, 3);
    for forward in [true, false] {
        for curvature in [true, false] {
            let e = gradient_error::<3, 5, _>(&lin, &small, start, curvature, forward);
            assert!(e < 1e-5, "linear ln π, curvature {curvature}, forward {forward}: relative error {e}");
        }
        let e = gradient_error::<3, 5, _>(&gauss, &small, start, true, forward);
        assert!(e < 1e-4, "Gaussian with curvature, forward {forward}: relative error {e}");
        // power: without the curvature the gradient is visibly off
        let e = gradient_error::<3, 5, _>(&gauss, &small, start, false, forward);
        assert!(e > 1e-2, "Gaussian without curvature, forward {forward}: relative error only {e}");
    }
}

#[test]
fn the_training_gradient_is_exact_on_the_50d_ill_conditioned_gaussian() {
    // the example's kernel (width 100, M = 10, ε = 0.1) from exact draws: the finite-difference
    // Hessians stay exact with 50 coordinates whose curvatures span four orders of magnitude
    let icg = ill_conditioned_gaussian(50);
    let shape = Shape { n_steps: 10, step_size: 0.1, head_factor: 0.01 };
    for forward in [true, false] {
        let e = gradient_error::<50, 100, _>(&icg.density, &shape, |rng| icg.draw(rng), true, forward);
        assert!(e < 1e-4, "50-d ICG with curvature, forward {forward}: relative error {e}");
        let e = gradient_error::<50, 100, _>(&icg.density, &shape, |rng| icg.draw(rng), false, forward);
        assert!(e > 1e-2, "50-d ICG without curvature, forward {forward}: relative error only {e}");
    }
}

#[test]
fn the_paper_targets_have_consistent_gradients_and_draws() {
    use snell_examples::energy_targets::{mixture, rough_well};
    for known in [correlated_gaussian(), ill_conditioned_gaussian(6), mixture(), rough_well(3, 1e-2)] {
        let d = known.mean.len();
        for x in known.inits(3, 1) {
            let mut g = vec![0.0; d];
            known.density.logp_grad(&x, &mut g).unwrap();
            let fd = common::fd_grad(|q| known.density.logp_grad(q, &mut vec![0.0; d]).unwrap(), &x, 1e-6);
            close(&g, &fd, 1e-5, known.name);
        }
        if known.has_exact_draws() {
            // the pooled second moment of exact draws matches the trace (4 standard errors)
            let draws = known.inits(20_000, 2);
            let sq: Vec<f64> = draws.iter().map(|x| x.iter().zip(&known.mean).map(|(a, m)| (a - m).powi(2)).sum()).collect();
            let (m, var) = moments(&sq);
            assert!((m - known.trace).abs() < 4.0 * (var / sq.len() as f64).sqrt(), "{}: E|x − μ|² = {m}, trace {}", known.name, known.trace);
        }
    }
    // the correlated Gaussian's covariance is [[50.005, −49.995], [−49.995, 50.005]]
    let draws = correlated_gaussian().inits(40_000, 3);
    let cov = draws.iter().map(|x| x[0] * x[1]).sum::<f64>() / draws.len() as f64;
    assert!((cov + 49.995).abs() < 4.0 * 100.0 / (draws.len() as f64).sqrt(), "covariance {cov}");
    // the rough well's normalised ln π: ∫ over a fine grid of exp(lp) is about the same as N(0, 1)'s
    let well = rough_well(1, 1e-2);
    let h = 1e-4;
    let mass: f64 = (-80_000..80_000).map(|i| (well.density.logp_grad(&[i as f64 * h], &mut [0.0]).unwrap()).exp() * h).sum();
    let var: f64 = (-80_000..80_000).map(|i| { let x = i as f64 * h; x * x * (well.density.logp_grad(&[x], &mut [0.0]).unwrap()).exp() * h }).sum::<f64>() / mass;
    assert!((var - 1.0).abs() < 1e-3, "rough-well variance {var}");
}
