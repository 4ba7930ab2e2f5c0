//! The constraint transforms of every kind of support — lower bound, upper bound, interval with
//! constant bounds, interval with a bound that is itself a parameter, simplex (Dirichlet), positive
//! (HalfNormal and the other positive families) — against independent references:
//!
//! * constrained values against the transforms written by hand (Stan's conventions);
//! * round trips `unconstrain(constrain(θ)) = θ` at seeded random points;
//! * the log-Jacobian against `ln |det J|` of the map θ → constrained values, with `J` computed by
//!   central finite differences (for a simplex of length K its first K − 1 coordinates, Stan's
//!   convention);
//! * the log prior against statrs at the constrained values, and the gradient of the whole log
//!   density against finite differences.

mod common;

use common::*;
use snell::model::{default_backend, EvalOptions};
use snell::prelude::*;
use statrs::distribution::{self as sd, Continuous};

fn st_normal(x: f64, mu: f64, s: f64) -> f64 {
    sd::Normal::new(mu, s).unwrap().ln_pdf(x)
}

/// Checks a model's transforms at `n` seeded random points with coordinates in `[-r, r)`.
///
/// `expected(θ)`: the constrained values written by hand; `keep[i]`: whether constrained value `i`
/// is a coordinate of the transform (false for the last element of each simplex); `prior(x)`: the
/// log prior at constrained values `x`.
#[track_caller]
fn check_transform<M: Model>(
    m: &M,
    seed: u64,
    n: usize,
    r: f64,
    expected: impl Fn(&[f64]) -> Vec<f64>,
    keep: &[bool],
    prior: impl Fn(&[f64]) -> f64,
    what: &str,
) {
    let d = m.dim();
    assert_eq!(keep.len(), m.param_names().len(), "{what}: keep mask");
    assert_eq!(keep.iter().filter(|&&k| k).count(), d, "{what}: one kept coordinate per unconstrained value");
    let points = random_points(seed, n, d, r);
    for theta in &points {
        let at = format!("{what} at θ = {theta:?}");
        // constrained values
        let x = m.constrain_flat(theta).unwrap();
        assert_all_close(&x, &expected(theta), 1e-12, &format!("{at}: constrained values"));
        // round trips, flat and typed
        let back = m.unconstrain_flat(&x).unwrap();
        assert_all_close(&back, theta, 1e-9, &format!("{at}: unconstrain(constrain(θ))"));
        let typed = m.unconstrain(&m.constrain(theta).unwrap()).unwrap();
        assert_all_close(&typed, theta, 1e-9, &format!("{at}: typed round trip"));
        // log-Jacobian against ln |det J| by finite differences
        let kept = |t: &[f64]| -> Vec<f64> {
            m.constrain_flat(t).unwrap().into_iter().zip(keep).filter(|(_, &k)| k).map(|(v, _)| v).collect()
        };
        let (rows, jac) = fd_jacobian(kept, theta, 1e-6);
        assert_eq!(rows, d);
        let numeric = log_abs_det(&jac, d);
        let e = m.evaluate(&default_backend(), theta, None, EvalOptions { grad: false, ..Default::default() }).unwrap();
        assert_close(e.log_jacobian[0], numeric, 1e-7, &format!("{at}: log-Jacobian vs finite differences"));
        // log prior at the constrained values, and the total
        assert_close(e.log_prior[0], prior(&x), 1e-10, &format!("{at}: log prior"));
        assert_close(e.log_density[0], e.log_prior[0] + e.log_jacobian[0] + e.log_likelihood[0], 1e-12, &format!("{at}: total"));
        // without the Jacobian the target is the prior
        let nj = m.evaluate(&default_backend(), theta, None, EvalOptions { grad: false, jacobian: false, ..Default::default() }).unwrap();
        assert_close(nj.log_density[0], e.log_prior[0] + e.log_likelihood[0], 1e-12, &format!("{at}: target without Jacobian"));
    }
    check_grad(m, &points, what);

    // Far from the origin the log density and its gradient stay finite (no overflow, no NaN).
    for (seed, scale) in [(seed + 1, 12.0), (seed + 2, 25.0)] {
        for theta in random_points(seed, 3, d, scale) {
            let (lp, g) = m.log_density_and_grad(&theta).unwrap();
            assert!(!lp.is_nan() && lp < f64::INFINITY, "{what}: log density {lp} at θ = {theta:?}");
            assert!(g.iter().all(|v| v.is_finite()), "{what}: gradient {g:?} at θ = {theta:?}");
            let x = m.constrain_flat(&theta).unwrap();
            assert!(x.iter().all(|v| v.is_finite()), "{what}: constrained {x:?} at θ = {theta:?}");
        }
    }
}

// ---- lower bounds ---------------------------------------------------------------------------------

#[model]
fn lower_bounds(lo: &[f64]) {
    let a = sample!(Normal(0.0, 2.0), lower = 1.5);
    let b = sample!([3] ~ Normal(0.0, 2.0), lower = lo);
    let c = sample!(Normal(0.0, 3.0), lower = a);
    let d = sample!([2] ~ Normal(0.0, 3.0), lower = a - 1.0);
}

const LO: [f64; 3] = [-3.0, -1.0, 0.5];
const HI: [f64; 3] = [-2.0, 4.0, 0.75];

#[test]
fn lower_bound() {
    let m = LowerBounds::new(&LO).unwrap();
    assert_eq!(m.dim(), 7);
    let expected = |t: &[f64]| {
        let a = 1.5 + t[0].exp();
        let mut x = vec![a];
        x.extend((0..3).map(|i| LO[i] + t[1 + i].exp()));
        x.push(a + t[4].exp());
        x.extend((0..2).map(|j| a - 1.0 + t[5 + j].exp()));
        x
    };
    let prior = |x: &[f64]| x[..4].iter().map(|&v| st_normal(v, 0.0, 2.0)).sum::<f64>() + x[4..].iter().map(|&v| st_normal(v, 0.0, 3.0)).sum::<f64>();
    check_transform(&m, 1, 8, 2.5, expected, &[true; 7], prior, "lower bounds");
}

// ---- upper bounds ---------------------------------------------------------------------------------

#[model]
fn upper_bounds(hi: &[f64]) {
    let a = sample!(Normal(0.0, 2.0), upper = -0.5);
    let b = sample!([3] ~ Normal(0.0, 2.0), upper = hi);
    let c = sample!(Normal(0.0, 3.0), upper = a);
    let d = sample!([2] ~ Normal(0.0, 3.0), upper = 2.0 * a);
}

#[test]
fn upper_bound() {
    let m = UpperBounds::new(&HI).unwrap();
    assert_eq!(m.dim(), 7);
    let expected = |t: &[f64]| {
        let a = -0.5 - t[0].exp();
        let mut x = vec![a];
        x.extend((0..3).map(|i| HI[i] - t[1 + i].exp()));
        x.push(a - t[4].exp());
        x.extend((0..2).map(|j| 2.0 * a - t[5 + j].exp()));
        x
    };
    let prior = |x: &[f64]| x[..4].iter().map(|&v| st_normal(v, 0.0, 2.0)).sum::<f64>() + x[4..].iter().map(|&v| st_normal(v, 0.0, 3.0)).sum::<f64>();
    check_transform(&m, 2, 8, 2.5, expected, &[true; 7], prior, "upper bounds");
}

// ---- intervals with constant bounds ----------------------------------------------------------------

#[model]
fn constant_intervals(lo: &[f64], hi: &[f64]) {
    let a = sample!(Normal(0.0, 2.0), lower = -1.0, upper = 3.0);
    let b = sample!([3] ~ Normal(0.0, 2.0), lower = lo, upper = hi);
    let c = sample!([2] ~ Beta(2.0, 3.0));
    let d = sample!(Uniform(-2.0, 5.0));
    let e = sample!([2] ~ Uniform(lo[0], hi[2]));
}

#[test]
fn interval_with_constant_bounds() {
    let m = ConstantIntervals::new(&LO, &HI).unwrap();
    assert_eq!(m.dim(), 9);
    let expected = |t: &[f64]| {
        let mut x = vec![-1.0 + 4.0 * sigmoid(t[0])];
        x.extend((0..3).map(|i| LO[i] + (HI[i] - LO[i]) * sigmoid(t[1 + i])));
        x.extend((0..2).map(|j| sigmoid(t[4 + j])));
        x.push(-2.0 + 7.0 * sigmoid(t[6]));
        x.extend((0..2).map(|j| LO[0] + (HI[2] - LO[0]) * sigmoid(t[7 + j])));
        x
    };
    let prior = |x: &[f64]| {
        x[..4].iter().map(|&v| st_normal(v, 0.0, 2.0)).sum::<f64>()
            + x[4..6].iter().map(|&v| sd::Beta::new(2.0, 3.0).unwrap().ln_pdf(v)).sum::<f64>()
            + sd::Uniform::new(-2.0, 5.0).unwrap().ln_pdf(x[6])
            + x[7..].iter().map(|&v| sd::Uniform::new(LO[0], HI[2]).unwrap().ln_pdf(v)).sum::<f64>()
    };
    check_transform(&m, 3, 8, 2.5, expected, &[true; 9], prior, "constant intervals");
}

// ---- intervals with a bound that is a parameter -----------------------------------------------------

#[model]
fn parameter_intervals(lo: &[f64]) {
    let a = sample!(Normal(0.0, 1.0));
    let w = sample!(HalfNormal(1.0));
    let x = sample!([3] ~ Normal(0.0, 2.0), lower = a, upper = a + w);
    let y = sample!([3] ~ Normal(0.0, 2.0), lower = lo, upper = a + 3.0);
    let u = sample!(Uniform(a, a + 2.0 * w + 0.5));
    let z = sample!(Normal(0.0, 1.0), lower = -4.0, upper = a);
}

#[test]
fn interval_with_parameter_bounds() {
    let m = ParameterIntervals::new(&LO).unwrap();
    assert_eq!(m.dim(), 10);
    let expected = |t: &[f64]| {
        let (a, w) = (t[0], t[1].exp());
        let mut x = vec![a, w];
        x.extend((0..3).map(|i| a + w * sigmoid(t[2 + i])));
        x.extend((0..3).map(|i| LO[i] + (a + 3.0 - LO[i]) * sigmoid(t[5 + i])));
        x.push(a + (2.0 * w + 0.5) * sigmoid(t[8]));
        x.push(-4.0 + (a + 4.0) * sigmoid(t[9]));
        x
    };
    let prior = |x: &[f64]| {
        let (a, w) = (x[0], x[1]);
        st_normal(a, 0.0, 1.0)
            + ln_half_normal(w, 1.0)
            + x[2..8].iter().map(|&v| st_normal(v, 0.0, 2.0)).sum::<f64>()
            + sd::Uniform::new(a, a + 2.0 * w + 0.5).unwrap().ln_pdf(x[8])
            + st_normal(x[9], 0.0, 1.0)
    };
    // |a| < 2.5 keeps every interval non-empty
    check_transform(&m, 4, 8, 2.5, expected, &[true; 10], prior, "parameter intervals");
}

// ---- simplexes ------------------------------------------------------------------------------------

#[model]
fn simplexes() {
    let s = sample!(HalfNormal(1.0));
    let p = sample!(Dirichlet(&[1.5, 2.0, 0.7, 3.0]));
    let q = sample!(Dirichlet(&[0.8, 1.2]));
    let r = sample!(Dirichlet(&[1.0, 1.0, 1.0]));
    let t = sample!(Normal(0.0, 1.0));
}

#[test]
fn simplex() {
    let m = Simplexes::new().unwrap();
    assert_eq!(m.dim(), 1 + 3 + 1 + 2 + 1);
    assert_eq!(m.param_names().len(), 1 + 4 + 2 + 3 + 1);
    let expected = |t: &[f64]| {
        let mut x = vec![t[0].exp()];
        x.extend(stick_breaking(&t[1..4]));
        x.extend(stick_breaking(&t[4..5]));
        x.extend(stick_breaking(&t[5..7]));
        x.push(t[7]);
        x
    };
    let dir = |x: &[f64], a: &[f64]| sd::Dirichlet::new(a.to_vec()).unwrap().ln_pdf(&nalgebra::DVector::from_vec(x.to_vec()));
    let prior = |x: &[f64]| {
        ln_half_normal(x[0], 1.0) + dir(&x[1..5], &[1.5, 2.0, 0.7, 3.0]) + dir(&x[5..7], &[0.8, 1.2]) + dir(&x[7..10], &[1.0, 1.0, 1.0]) + st_normal(x[10], 0.0, 1.0)
    };
    let mut keep = vec![true; 11];
    for last in [4, 6, 9] {
        keep[last] = false;
    }
    check_transform(&m, 5, 8, 2.5, expected, &keep, prior, "simplexes");
    // y = 0 is the uniform simplex (Stan's centring)
    let x = m.constrain_flat(&[0.0; 8]).unwrap();
    assert_all_close(&x[1..5], &[0.25; 4], 1e-15, "simplex at y = 0");
    assert_all_close(&x[7..10], &[1.0 / 3.0; 3], 1e-15, "simplex at y = 0");
    // values sum to one, also far out
    for theta in random_points(6, 5, 8, 15.0) {
        let x = m.constrain_flat(&theta).unwrap();
        for (a, b) in [(1, 5), (5, 7), (7, 10)] {
            assert!((x[a..b].iter().sum::<f64>() - 1.0).abs() < 1e-12 && x[a..b].iter().all(|&v| v >= 0.0), "{x:?}");
        }
    }
}

// ---- positive parameters ------------------------------------------------------------------------------

#[model]
fn positives() {
    let a = sample!(HalfNormal(2.0));
    let b = sample!([3] ~ HalfNormal(1.0));
    let c = sample!(Exponential(1.5));
    let d = sample!([2] ~ Gamma(2.0, 1.0));
    let e = sample!(LogNormal(0.0, 1.0));
    let f = sample!(InverseGamma(3.0, 2.0));
    let g = sample!(HalfCauchy(1.0));
}

#[test]
fn positive() {
    let m = Positives::new().unwrap();
    assert_eq!(m.dim(), 10);
    let expected = |t: &[f64]| t.iter().map(|v| v.exp()).collect::<Vec<_>>();
    let prior = |x: &[f64]| {
        ln_half_normal(x[0], 2.0)
            + x[1..4].iter().map(|&v| ln_half_normal(v, 1.0)).sum::<f64>()
            + sd::Exp::new(1.5).unwrap().ln_pdf(x[4])
            + x[5..7].iter().map(|&v| sd::Gamma::new(2.0, 1.0).unwrap().ln_pdf(v)).sum::<f64>()
            + sd::LogNormal::new(0.0, 1.0).unwrap().ln_pdf(x[7])
            + sd::InverseGamma::new(3.0, 2.0).unwrap().ln_pdf(x[8])
            + ln_half_cauchy(x[9], 1.0)
    };
    check_transform(&m, 7, 8, 2.5, expected, &[true; 10], prior, "positives");
}

// ---- values outside the support are rejected by unconstrain ------------------------------------------

#[test]
fn unconstrain_rejects_values_outside_the_support() {
    use ModelError::Constraint as C;
    let m = LowerBounds::new(&LO).unwrap();
    let ok = m.constrain_flat(&[0.1; 7]).unwrap();
    assert!(m.unconstrain_flat(&ok).is_ok());
    let mut bad = ok.clone();
    bad[0] = 1.5; // on the bound
    assert_err!(m.unconstrain_flat(&bad), C { .. });
    let mut bad = ok.clone();
    bad[2] = -1.5; // below lo[1]
    assert_err!(m.unconstrain_flat(&bad), C { .. });
    let mut bad = ok.clone();
    bad[4] = ok[0] - 0.1; // below the parameter bound a
    assert_err!(m.unconstrain_flat(&bad), C { .. });
    let mut bad = ok.clone();
    bad[1] = f64::NAN;
    assert_err!(m.unconstrain_flat(&bad), C { .. });
    assert_err!(m.unconstrain_flat(&ok[..6]), ModelError::Dimension { .. });

    let m = UpperBounds::new(&HI).unwrap();
    let ok = m.constrain_flat(&[0.1; 7]).unwrap();
    let mut bad = ok.clone();
    bad[0] = 0.0;
    assert_err!(m.unconstrain_flat(&bad), C { .. });
    let mut bad = ok.clone();
    bad[4] = ok[0] + 0.1;
    assert_err!(m.unconstrain_flat(&bad), C { .. });

    let m = ParameterIntervals::new(&LO).unwrap();
    let ok = m.constrain_flat(&[0.1; 10]).unwrap();
    assert!(m.unconstrain_flat(&ok).is_ok());
    let mut bad = ok.clone();
    bad[2] = ok[0] + ok[1] + 0.01; // above a + w
    assert_err!(m.unconstrain_flat(&bad), C { .. });
    let mut bad = ok.clone();
    bad[1] = -0.5; // w is positive
    assert_err!(m.unconstrain_flat(&bad), C { .. });

    let m = Simplexes::new().unwrap();
    let ok = m.constrain_flat(&[0.1; 8]).unwrap();
    assert!(m.unconstrain_flat(&ok).is_ok());
    let mut bad = ok.clone();
    bad[1] += 0.01; // no longer sums to 1
    assert_err!(m.unconstrain_flat(&bad), C { .. });
    let mut bad = ok.clone();
    bad[5] = 1.2;
    bad[6] = -0.2; // sums to 1 but negative
    assert_err!(m.unconstrain_flat(&bad), C { .. });
}
