//! The hand-written Bayesian neural network (`snell_examples::mlp`): its analytic gradient equals
//! central finite differences, its minibatch density is the prior plus `N/B` times the batch's
//! likelihood (so an epoch's batches average to the full density), and bad input is an error.

mod common;
use common::fd_grad;

use snell::target::Target;
use snell_examples::mlp::Mlp;

#[test]
fn gradient_matches_finite_differences() {
    let m = Mlp::simulate(6, 0.3, 40, 1);
    let mut rng = common::rng(2);
    for k in 0..5 {
        let q = common::uniform(&mut rng, m.dim(), -1.5, 1.5);
        let mut g = vec![0.0; m.dim()];
        let lp = m.logp_grad(&q, &mut g).unwrap();
        let fd = fd_grad(|p| m.logp_grad(p, &mut vec![0.0; p.len()]).unwrap(), &q, 1e-6);
        for i in 0..q.len() {
            assert!((g[i] - fd[i]).abs() < 1e-5 * (1.0 + g[i].abs()), "point {k}, d/dq[{i}]: analytic {} vs finite differences {}", g[i], fd[i]);
        }
        // the same through a minibatch of everything, and the batch gradient too
        let mut gb = vec![0.0; m.dim()];
        let all: Vec<usize> = (0..40).collect();
        assert!((m.logp_grad_minibatch(&q, &all, &mut gb).unwrap() - lp).abs() < 1e-9 * (1.0 + lp.abs()));
        let batch = [3usize, 17, 29];
        let mut gb = vec![0.0; m.dim()];
        m.logp_grad_minibatch(&q, &batch, &mut gb).unwrap();
        let fdb = fd_grad(|p| m.logp_grad_minibatch(p, &batch, &mut vec![0.0; p.len()]).unwrap(), &q, 1e-6);
        for i in 0..q.len() {
            assert!((gb[i] - fdb[i]).abs() < 1e-5 * (1.0 + gb[i].abs()), "batch, d/dq[{i}]");
        }
    }
}

#[test]
fn an_epoch_of_minibatches_averages_to_the_full_density() {
    let m = Mlp::simulate(4, 0.5, 30, 3);
    let q = common::uniform(&mut common::rng(4), m.dim(), -1.0, 1.0);
    let mut g = vec![0.0; m.dim()];
    let full = m.logp_grad(&q, &mut g).unwrap();
    let prior = -0.5 * q.iter().map(|w| w * w).sum::<f64>();
    // three batches of 10: prior + 3·lik_b each; their mean is prior + lik
    let mean: f64 = (0..3).map(|b| m.logp_grad_minibatch(&q, &(10 * b..10 * b + 10).collect::<Vec<_>>(), &mut g).unwrap()).sum::<f64>() / 3.0;
    assert!((mean - full).abs() < 1e-9 * full.abs(), "{mean} vs {full}");
    assert!(full < prior);
    assert_eq!(m.observations(), Some(30));
    assert!(m.observations().is_some());
}

#[test]
fn bad_input_is_an_error() {
    let m = Mlp::simulate(3, 0.5, 10, 5);
    let mut g = vec![0.0; 10];
    assert!(m.logp_grad(&[0.0; 9], &mut g).is_err());
    assert!(m.logp_grad_minibatch(&[0.0; 10], &[10], &mut g).is_err());
    assert!(m.logp_grad_minibatch(&[0.0; 10], &[], &mut g).is_err());
    assert!(Mlp::new(3, 0.5, vec![0.0; 4], vec![0.0; 3]).is_err());
}
