//! The Langevin workflow's Bayesian neural net as a `#[model]` with a `1 + tanh` [`Mlp`]: its gradient against
//! central finite differences (full data, tempered parts for a population, minibatches), the
//! prior draws' moments, the parameter count of the 1-50-50-1 net, and bad input.

mod common;
use common::fd_grad;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use snell::nn::Mlp;
use snell::target::Target;
use snell_examples::bnn::{seed_net, toy_data, Bnn};

fn close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{what}[{i}]: {x} vs {y}");
    }
}

fn small_net() -> Mlp {
    seed_net(&[3, 4], 1.3).unwrap()
}

#[test]
fn gradients_match_finite_differences() {
    let net = small_net();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (x, y) = toy_data(7, &mut rng);
    let model = Bnn::new(&net, &x, &y, 2.0).unwrap();
    let d = model.dim();
    assert_eq!(d, 1 + (3 * 2) + (4 * 4) + 5);
    assert_eq!(model.names()[..2], ["sigma".to_string(), "w.1".to_string()]);
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for _ in 0..3 {
        let q = model.prior_draw(&mut rng).unwrap();
        let mut g = vec![0.0; d];
        let lp = model.logp_grad(&q, &mut g).unwrap();
        let f = |x: &[f64]| model.logp_grad(x, &mut vec![0.0; d]).unwrap();
        close(&g, &fd_grad(f, &q, 1e-5), 1e-5, "full gradient");
        // the parts: prior + weight · likelihood of some observations, population-batched
        let obs = [0usize, 3, 5];
        let q2: Vec<f64> = q.iter().chain(&model.prior_draw(&mut rng).unwrap()).cloned().collect();
        let mut g2 = vec![0.0; 2 * d];
        let parts = model.logp_parts(&q2, Some(&obs), 0.3, Some(&mut g2)).unwrap();
        for j in 0..2 {
            let qj = &q2[j * d..(j + 1) * d];
            let f = |x: &[f64]| {
                let p = model.logp_parts(x, Some(&obs), 0.3, None).unwrap();
                p.log_prior[0] + 0.3 * p.log_likelihood[0]
            };
            close(&g2[j * d..(j + 1) * d], &fd_grad(f, qj, 1e-5), 1e-5, "tempered gradient");
        }
        let all = model.logp_parts(&q, None, 1.0, None).unwrap();
        assert!((all.log_prior[0] + all.log_likelihood[0] - lp).abs() < 1e-9);
        // minibatch: prior + (N / B) · likelihood of the batch
        let mut gm = vec![0.0; d];
        let lm = model.logp_grad_minibatch(&q, &obs, &mut gm).unwrap();
        assert!((lm - (parts.log_prior[0] + 7.0 / 3.0 * parts.log_likelihood[0])).abs() < 1e-9);
        let f = |x: &[f64]| model.logp_grad_minibatch(x, &obs, &mut vec![0.0; d]).unwrap();
        close(&gm, &fd_grad(f, &q, 1e-5), 1e-5, "minibatch gradient");
    }
}

#[test]
fn prior_draws_and_sizes() {
    let net = small_net();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (x, y) = toy_data(7, &mut rng);
    let model = Bnn::new(&net, &x, &y, 2.0).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let draws: Vec<Vec<f64>> = (0..4000).map(|_| model.prior_draw(&mut rng).unwrap()).collect();
    // σ ~ Gamma(2, 1): mean 2; weights N(0, 1.3²)
    let n = draws.len() as f64;
    let sigma_mean = draws.iter().map(|q| q[0].exp()).sum::<f64>() / n;
    assert!((sigma_mean - 2.0).abs() < 4.0 * (2.0f64 / n).sqrt(), "σ mean {sigma_mean}");
    let w2 = draws.iter().map(|q| q[5] * q[5]).sum::<f64>() / n;
    assert!((w2 - 1.69).abs() < 4.0 * 1.69 * (2.0f64 / n).sqrt(), "weight variance {w2}");
    let big = seed_net(&[50, 50], 1.0).unwrap();
    assert_eq!(big.len(), 2701);
    assert!(seed_net(&[0], 1.0).is_err());
    assert!(seed_net(&[2], -1.0).is_err());
    assert!(Bnn::new(&net, &x, &y[..6], 1.0).is_err());
    assert!(model.logp_grad(&[0.0; 3], &mut [0.0; 3]).is_err());
}
