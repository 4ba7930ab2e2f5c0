//! The pure-Rust backend `Native` against dfdx (`Cpu64`): log densities and gradients of models that
//! exercise every backend primitive, for populations of 1 and 5, and direct tests of the tricky
//! cases (the same tensor on both sides of an op, broadcasts, guards at −∞/NaN, repeated gather
//! indices, −∞ rows of log-sum-exp, slopes outside a function's domain).
//!
//! dfdx 0.13's CPU `slice` backward *assigns* the output gradient to the input's gradient instead of
//! adding it (`view[i] = g` in `tensor_ops/slice/cpu_kernel.rs`); the dfdx backend therefore slices
//! by gather when it records a tape, and `overlapping_slices_have_the_right_gradient_on_both_backends`
//! checks both backends on finite differences where that matters (the `ordered` transform).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use snell::backend::{Backend, Binary, Cpu64, Native, Scalar, Unary};
use snell::model::{EvalOptions, Evaluation};
use snell::prelude::*;

const TOL: f64 = 1e-12;


fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn uniform(r: &mut ChaCha8Rng, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n).map(|_| r.gen_range(lo..hi)).collect()
}

/// Equal to `TOL` relative to the larger magnitude (absolute below 1), or the same non-finite value.
fn same(a: f64, b: f64, scale: f64) -> bool {
    if !a.is_finite() || !b.is_finite() {
        return a == b || (a.is_nan() && b.is_nan());
    }
    (a - b).abs() <= TOL * a.abs().max(b.abs()).max(scale).max(1.0)
}

#[track_caller]
fn assert_same(want: &[f64], got: &[f64], scale: f64, what: &str) {
    assert_eq!(want.len(), got.len(), "{what}: lengths");
    for (i, (&a, &b)) in want.iter().zip(got).enumerate() {
        assert!(same(a, b, scale), "{what}[{i}]: dfdx {a} vs native {b} (|diff| = {:e})", (a - b).abs());
    }
}

fn compare_evaluations(want: &Evaluation, got: &Evaluation, d: usize, what: &str) {
    assert_same(&want.log_density, &got.log_density, 0.0, &format!("{what} log density"));
    assert_same(&want.log_prior, &got.log_prior, 0.0, &format!("{what} log prior"));
    assert_same(&want.log_jacobian, &got.log_jacobian, 0.0, &format!("{what} log Jacobian"));
    assert_same(&want.log_likelihood, &got.log_likelihood, 0.0, &format!("{what} log likelihood"));
    match (&want.grad, &got.grad) {
        (Some(gw), Some(gg)) => {
            // An entry of a gradient is a sum of terms that may cancel: compare it at the scale of
            // the member's largest entry.
            for (i, (rw, rg)) in gw.chunks(d.max(1)).zip(gg.chunks(d.max(1))).enumerate() {
                let scale = rw.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                assert_same(rw, rg, scale, &format!("{what} gradient of member {i}"));
            }
        }
        (None, None) => {}
        _ => panic!("{what}: one backend returned a gradient, the other not"),
    }
}

/// Evaluates `model` on dfdx and Native at random points (uniform in (−2, 2), as Stan initialises)
/// for P = 1 and P = 5, with and without gradient, with and without the Jacobian: everything
/// against `Cpu64`, values also against plain `Cpu64`.
fn check<M: Model>(model: &M, seed: u64) {
    let d = model.dim();
    let mut finite = 0;
    for p in [1usize, 5] {
        let mut r = rng(seed + p as u64);
        let theta: Vec<f64> = (0..p).flat_map(|_| model.init(&mut r)).collect();
        for opts in [
            EvalOptions::default(),
            EvalOptions { grad: false, ..Default::default() },
            EvalOptions { jacobian: false, likelihood_weight: 0.7, ..Default::default() },
        ] {
            let what = format!("{} P = {p} {opts:?}", model.name());
            let want = model.evaluate(&Cpu64::default(), &theta, None, opts).expect("dfdx evaluation");
            let got = model.evaluate(&Native, &theta, None, opts).expect("native evaluation");
            compare_evaluations(&want, &got, d, &what);
            let plain = model.evaluate(&Cpu64::default(), &theta, None, EvalOptions { grad: false, ..opts }).expect("dfdx evaluation");
            assert_same(&plain.log_density, &got.log_density, 0.0, &format!("{what} log density vs Cpu64"));
            finite += want.log_density.iter().filter(|v| v.is_finite()).count();
        }
    }
    assert!(finite > 0, "{}: no point with a finite density; the comparison says little", model.name());
}

// ---- models ------------------------------------------------------------------------------------

/// slice (theta), exp (lower bound), broadcast (P,1) → (P,n) and (1,n) → (P,n), mul, add, div,
/// square, ln, ln_1p (map), sum.
#[model]
fn eight_schools(y: &[f64], sigma: &[f64]) {
    let mu = sample!(Normal(0.0, 5.0));
    let tau = sample!(HalfCauchy(5.0));
    let theta_raw = sample!([y.len()] ~ Normal(0.0, 1.0));
    observe!(y ~ Normal(mu + tau * theta_raw, sigma));
}

/// matmul by a data matrix (`matvec`).
#[model]
fn regression(x: &Matrix, y: &[f64]) {
    let alpha = sample!(Normal(0.0, 10.0));
    let beta = sample!([x.cols()] ~ Normal(0.0, 2.5));
    let sigma = sample!(HalfNormal(5.0));
    observe!(y ~ Normal(alpha + x.matvec(beta), sigma));
}

/// softplus (map) on a long vector.
#[model]
fn logistic(x: &Matrix, k: &[f64]) {
    let alpha = sample!(Normal(0.0, 2.5));
    let beta = sample!([x.cols()] ~ Normal(0.0, 2.5));
    observe!(k ~ BernoulliLogit(alpha + x.matvec(beta)));
}

/// gather with repeated indices.
#[model]
fn hierarchical(y: &[f64], group: &[usize], n_groups: usize) {
    let mu = sample!(Normal(0.0, 5.0));
    let tau = sample!(HalfNormal(2.5));
    let eta = sample!([n_groups] ~ Normal(0.0, 1.0));
    let sigma = sample!(HalfNormal(2.5));
    observe!(y ~ Normal((mu + tau * eta).gather(group), sigma));
}

/// ordered (concat of a running sum), interval transform (sigmoid, log_sigmoid), log_prob!,
/// concat of scalars and log_sum_exp, `1 − θ` (scalar ops).
#[model]
fn mixture(y: &[f64]) {
    let mu = sample!([2] ~ Normal(0.0, 2.0), ordered);
    let sigma = sample!([2] ~ HalfNormal(2.0));
    let theta = sample!(Beta(5.0, 5.0));
    let a = theta.ln() + log_prob!(y ~ Normal(mu.at(0), sigma.at(0)));
    let b = (1.0 - theta).ln() + log_prob!(y ~ Normal(mu.at(1), sigma.at(1)));
    for i in 0..y.len() {
        factor!(concat(&[a.at(i), b.at(i)]).log_sum_exp());
    }
    // The same, vectorised: a (P, 2n) concat and a log-sum-exp over it.
    factor!(0.1 * concat(&[a, b]).log_sum_exp());
}

/// A simplex (stick-breaking) with a Dirichlet prior whose concentration is a parameter (lgamma of
/// a vector parameter, guards), categorical data (gather, log_sum_exp).
#[model]
fn simplex(labels: &[usize]) {
    let alpha = sample!([4] ~ Gamma(2.0, 1.0));
    let w = sample!(Dirichlet(alpha));
    observe!(labels ~ CategoricalLogit(w.ln()));
}

/// Bounds that are parameters: the interval transform differentiates through them; Uniform's
/// guards compare parameters.
#[model]
fn bounded(x: &[f64]) {
    let lo = sample!(Normal(0.0, 1.0));
    let width = sample!(Exponential(1.0));
    let v = sample!(Uniform(-100.0, 100.0), lower = lo, upper = lo + width);
    let u = sample!([2] ~ Normal(0.0, 1.0), upper = v);
    factor!(-0.5 * (x - v).square().sum() - 0.5 * (u - v).square().sum());
    observe!(x ~ Uniform(lo - 3.0, v + 3.0));
}

/// Distributions with lgamma, ln_1p and abs, with scalar and vector parameters.
#[model]
fn shapes(y: &[f64], pos: &[f64], unit: &[f64]) {
    let nu = sample!(Gamma(2.0, 0.1));
    let mu = sample!(Normal(0.0, 1.0));
    let sigma = sample!(LogNormal(0.0, 1.0));
    observe!(y ~ StudentT(nu, mu, sigma));
    let a = sample!(Exponential(1.0));
    let b = sample!(InverseGamma(3.0, 2.0));
    observe!(pos ~ Gamma(a, b));
    observe!(pos ~ InverseGamma(a, b));
    observe!(unit ~ Beta(a, b));
    let sc = sample!([y.len()] ~ Gamma(a, b));
    observe!(y ~ Laplace(mu, sc));
    observe!(y ~ Cauchy(mu, sc));
    observe!(y ~ StudentT(sc, mu, sigma));
    observe!(pos ~ LogNormal(mu, sc));
    observe!(unit ~ Beta(sc, b));
}

/// Count data: Poisson (lgamma of data), PoissonLog, BinomialLogit, Bernoulli with a parameter.
#[model]
fn counts(k: &[i64], n: &[i64], bits: &[f64]) {
    let lr = sample!([k.len()] ~ Normal(0.0, 1.0));
    observe!(k ~ Poisson(lr.exp()));
    observe!(k ~ PoissonLog(lr));
    observe!(k ~ BinomialLogit(n, lr));
    let p = sample!(Beta(2.0, 2.0));
    observe!(bits ~ Bernoulli(p));
}

/// MultivariateNormal: a matmul of a parameter by a data matrix, as prior and as likelihood.
#[model]
fn mvn(l: &Matrix, x: &[f64]) {
    let mu = sample!([3] ~ Normal(0.0, 1.0));
    observe!(x ~ MultivariateNormal(mu, l));
    let _z = sample!(MultivariateNormal([0.0, 0.5, 0.0].as_slice(), l));
}

/// Every unary op, c / x, powf, the same value on both sides of an operator, mean, dot, slices,
/// gather, matmul of a population of vectors, and the special functions of `map`.
#[model]
fn elementwise(x: &[f64], m: &Matrix) {
    let u = sample!([x.len()] ~ Normal(0.0, 1.0));
    let s = sample!(HalfNormal(1.0));
    let pos = u.exp() + s;
    let alias = pos; // the same value on both sides of `/`
    let t = pos.sqrt() + u.abs() + u.tanh() + u.sin() + u.cos() + pos.powf(1.7) + 2.0 / pos + u.sigmoid() + (-u).square();
    factor!(-0.01 * t.sum());
    factor!(-0.1 * (u * u).sum() - (u / pos).mean() + 0.01 * u.dot(x) + 0.1 * (u - u * 0.5).sum() + (pos / alias).sum() + (u + u).sum());
    factor!(0.01 * (u.softplus().sum() + u.log_sigmoid().sum() + pos.ln_1p().sum() + (u * 0.1).exp_m1().sum() + pos.lgamma().sum()));
    factor!(0.1 * (u.gather(&[0, 0, 2, 1, 2, 4]) * u.slice(1, 4).gather(&[0, 1, 2, 2, 1, 0])).sum());
    factor!(-0.05 * u.matmul(m).square().sum() + s.digamma() * 0.0);
    let scale = [2.0];
    factor!(-0.01 * (u * &scale[..]).square().sum());
}

fn data_matrix(n: usize, k: usize, seed: u64) -> Matrix {
    let mut r = rng(seed);
    Matrix::new(n, k, uniform(&mut r, n * k, -1.0, 1.0)).unwrap()
}

#[test]
fn eight_schools_agrees() {
    let m = EightSchools::new(&[28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0], &[15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0]).unwrap();
    check(&m, 1);
}

#[test]
fn regressions_agree() {
    let x = data_matrix(200, 6, 2);
    let mut r = rng(3);
    let y = uniform(&mut r, 200, -3.0, 3.0);
    check(&Regression::new(&x, &y).unwrap(), 4);
    let k: Vec<f64> = (0..200).map(|_| f64::from(u8::from(r.gen_bool(0.4)))).collect();
    check(&Logistic::new(&x, &k).unwrap(), 5);
}

#[test]
fn hierarchical_gather_agrees() {
    let mut r = rng(6);
    let group: Vec<usize> = (0..50).map(|_| r.gen_range(0..7)).collect();
    let y = uniform(&mut r, 50, -4.0, 4.0);
    check(&Hierarchical::new(&y, &group, 7).unwrap(), 7);
}

#[test]
fn mixture_agrees() {
    check(&Mixture::new(&[-1.0, 0.5, 2.0, 2.5, -0.3]).unwrap(), 8);
}

#[test]
fn simplex_agrees() {
    check(&Simplex::new(&[0, 2, 2, 1, 3, 0, 2]).unwrap(), 9);
}

#[test]
fn parameter_bounds_agree() {
    check(&Bounded::new(&[0.2, 0.4]).unwrap(), 10);
}

#[test]
fn lgamma_distributions_agree() {
    let mut r = rng(11);
    let y = uniform(&mut r, 6, -3.0, 3.0);
    let pos = uniform(&mut r, 6, 0.1, 4.0);
    let unit = uniform(&mut r, 6, 0.05, 0.95);
    check(&Shapes::new(&y, &pos, &unit).unwrap(), 12);
}

#[test]
fn count_distributions_agree() {
    check(&Counts::new(&[0, 3, 1, 7], &[2, 5, 1, 9], &[1.0, 0.0, 0.0, 1.0, 1.0]).unwrap(), 13);
}

#[test]
fn multivariate_normal_agrees() {
    let l = Matrix::from_rows(&[vec![1.0, 0.0, 0.0], vec![0.6, 0.8, 0.0], vec![-0.3, 0.2, 0.7]]).unwrap();
    check(&Mvn::new(&l, &[0.5, -1.0, 0.3]).unwrap(), 14);
}

#[test]
fn elementwise_ops_agree() {
    check(&Elementwise::new(&[0.5, -1.0, 2.0, 0.1, -0.7], &data_matrix(5, 3, 15)).unwrap(), 16);
}

/// Points far out, where densities are −∞ for some members: both backends agree on which, and
/// the other members' values and gradients are unaffected.
#[test]
fn far_points_agree() {
    let m = Shapes::new(&[0.5, -1.0, 2.0], &[0.3, 1.0, 2.0], &[0.2, 0.5, 0.9]).unwrap();
    let d = m.dim();
    let mut r = rng(17);
    let theta = uniform(&mut r, 5 * d, -40.0, 40.0);
    let want = m.evaluate(&Cpu64::default(), &theta, None, EvalOptions::default()).unwrap();
    let got = m.evaluate(&Native, &theta, None, EvalOptions::default()).unwrap();
    compare_evaluations(&want, &got, d, "far points");
    assert!(got.grad.as_ref().unwrap().iter().all(|v| !v.is_nan()), "no NaN in gradients");
    for i in 0..5 {
        assert_eq!(want.log_density[i].is_finite(), got.log_density[i].is_finite(), "member {i}");
    }
    let b = m.evaluate(&Cpu64::default(), &theta, None, EvalOptions { grad: false, ..Default::default() }).unwrap();
    let n = m.evaluate(&Native, &theta, None, EvalOptions { grad: false, ..Default::default() }).unwrap();
    assert_same(&b.log_density, &n.log_density, 0.0, "far points, no gradient");
}

// ---- the primitives directly -------------------------------------------------------------------

type T = <Native as Backend>::Tensor;

fn host(x: &T) -> Vec<f64> {
    Native.to_host(x)
}

/// Runs `$body` (an expression in backend `b`, tape `t` and input `x`, built from `$data` with
/// `$shape`) on dfdx and on Native: `((value, ∂Σ/∂x) on dfdx, (value, ∂Σ/∂x) on Native)`.
macro_rules! on_both {
    (|$b:ident, $tape:ident, $x:ident| $body:expr, $data:expr, $shape:expr) => {{
        fn run<B: Backend>($b: &B, data: &[f64], shape: (usize, usize)) -> (Vec<f64>, Vec<f64>) {
            let mut tape = Some($b.new_tape());
            let $x = $b.from_host(data, shape.0, shape.1);
            let $tape = &mut tape;
            let out = $body;
            let value = $b.to_host(&out);
            let grad = $b.gradient(tape.take().unwrap(), &out, &$x);
            (value, grad)
        }
        (run(&Cpu64::default(), &$data, $shape), run(&Native, &$data, $shape))
    }};
}

/// `(values, ∂Σ/∂x)`.
type ValueGrad = (Vec<f64>, Vec<f64>);

#[track_caller]
fn agree(pair: (ValueGrad, ValueGrad), what: &str) -> ValueGrad {
    let ((vw, gw), (vg, gg)) = pair;
    assert_same(&vw, &vg, 0.0, &format!("{what}: value"));
    assert_same(&gw, &gg, 0.0, &format!("{what}: gradient"));
    (vg, gg)
}

#[test]
fn the_same_tensor_on_both_sides_of_an_op() {
    let x = [1.5, -2.0, 0.25];
    let (v, g) = agree(on_both!(|b, t, x| b.binary(t, Binary::Mul, &x, &x), x, (1, 3)), "x * x");
    assert_eq!(v, [2.25, 4.0, 0.0625]);
    assert_eq!(g, [3.0, -4.0, 0.5]);
    let (_, g) = agree(on_both!(|b, t, x| b.binary(t, Binary::Add, &x, &x), x, (1, 3)), "x + x");
    assert_eq!(g, [2.0; 3]);
    let (v, g) = agree(on_both!(|b, t, x| b.binary(t, Binary::Sub, &x, &x), x, (1, 3)), "x - x");
    assert_eq!((v, g), (vec![0.0; 3], vec![0.0; 3]));
    let (v, g) = agree(on_both!(|b, t, x| b.binary(t, Binary::Div, &x, &x), x, (1, 3)), "x / x");
    assert_eq!(v, [1.0; 3]);
    assert!(g.iter().all(|v| v.abs() < 1e-15));
    // (x · x) · x with the product used twice more
    let (_, g) = agree(
        on_both!(
            |b, t, x| {
                let sq = b.binary(t, Binary::Mul, &x, &x);
                let cube = b.binary(t, Binary::Mul, &sq, &x);
                b.binary(t, Binary::Add, &cube, &sq)
            },
            x,
            (1, 3)
        ),
        "x³ + x²",
    );
    assert_same(&g, &x.iter().map(|v| 3.0 * v * v + 2.0 * v).collect::<Vec<_>>(), 0.0, "x³ + x²");
}

#[test]
fn broadcasts_sum_over_the_expanded_dimensions() {
    let w: Vec<f64> = (0..12).map(|i| 0.5 + i as f64).collect();
    // (1, 1) → (3, 4)
    let pair = on_both!(
        |b, t, x| {
            let e = b.broadcast(t, &x, 3, 4);
            let w: Vec<f64> = (0..12).map(|i| 0.5 + i as f64).collect();
            let w = b.from_host(&w, 3, 4);
            b.binary(t, Binary::Mul, &e, &w)
        },
        [2.0],
        (1, 1)
    );
    let (_, g) = agree(pair, "(1,1) → (3,4)");
    assert_eq!(g, [w.iter().sum::<f64>()]);
    // (1, 4) → (3, 4)
    let pair = on_both!(
        |b, t, x| {
            let e = b.broadcast(t, &x, 3, 4);
            let w: Vec<f64> = (0..12).map(|i| 0.5 + i as f64).collect();
            let w = b.from_host(&w, 3, 4);
            b.binary(t, Binary::Mul, &e, &w)
        },
        [1.0, 2.0, 3.0, 4.0],
        (1, 4)
    );
    let (_, g) = agree(pair, "(1,4) → (3,4)");
    assert_eq!(g, (0..4).map(|j| w[j] + w[4 + j] + w[8 + j]).collect::<Vec<_>>());
    // (3, 1) → (3, 4)
    let pair = on_both!(
        |b, t, x| {
            let e = b.broadcast(t, &x, 3, 4);
            let w: Vec<f64> = (0..12).map(|i| 0.5 + i as f64).collect();
            let w = b.from_host(&w, 3, 4);
            b.binary(t, Binary::Mul, &e, &w)
        },
        [1.0, 2.0, 3.0],
        (3, 1)
    );
    let (_, g) = agree(pair, "(3,1) → (3,4)");
    assert_eq!(g, (0..3).map(|i| w[4 * i..4 * i + 4].iter().sum::<f64>()).collect::<Vec<_>>());
    // an identity broadcast is the same tensor
    let x = Native.from_host(&[1.0, 2.0], 1, 2);
    let y = Native.broadcast(&mut None, &x, 1, 2);
    assert_eq!(host(&y), [1.0, 2.0]);
}

#[test]
fn guards_pass_gradients_only_where_valid_and_never_nan() {
    // The guarded lp is the input: −∞, NaN and +∞ where x is outside, so that a product of the
    // gradient with 0 would give NaN.
    let ninf = f64::NEG_INFINITY;
    let lp = [0.5, ninf, f64::NAN, 2.0, f64::INFINITY, 1.0];
    for closed in [false, true] {
        let pair = if closed {
            on_both!(
                |b, t, x| {
                    let at = b.from_host(&[1.0, 0.0, -1.0, 2.0, f64::NAN, 3.0], 2, 3);
                    let sq = b.unary(t, Unary::Square, &x);
                    let g = b.guard(t, &x, &at, 0.0, 2.0, true);
                    b.binary(t, Binary::Add, &g, &sq)
                },
                lp,
                (2, 3)
            )
        } else {
            on_both!(
                |b, t, x| {
                    let at = b.from_host(&[1.0, 0.0, -1.0, 2.0, f64::NAN, 3.0], 2, 3);
                    let sq = b.unary(t, Unary::Square, &x);
                    let g = b.guard(t, &x, &at, 0.0, 2.0, false);
                    b.binary(t, Binary::Add, &g, &sq)
                },
                lp,
                (2, 3)
            )
        };
        let ((wv, wg), (v, g)) = pair;
        let inf = f64::INFINITY;
        // −∞ + ∞ where lp is −∞ inside the bounds or +∞ outside them
        let nan = f64::NAN;
        let want_v = if closed { [0.75, nan, nan, 6.0, nan, ninf] } else { [0.75, nan, nan, ninf, nan, ninf] };
        // ∂/∂lp of guard(lp) + lp²: 1 + 2 lp where valid, 2 lp elsewhere
        let want_g = if closed { [2.0, ninf, nan, 5.0, inf, 2.0] } else { [2.0, ninf, nan, 4.0, inf, 2.0] };
        for i in 0..6 {
            assert!(same(v[i], want_v[i], 0.0) && same(wv[i], want_v[i], 0.0), "closed = {closed}: value {i}: {} {}", v[i], wv[i]);
            assert!(same(g[i], want_g[i], 0.0) && same(wg[i], want_g[i], 0.0), "closed = {closed}: gradient {i}: {} {}", g[i], wg[i]);
        }
        // exp overflows where the guard is invalid: its gradient there is 0 (dfdx: 0 · ∞ = NaN)
        let (_, (_, g)) = on_both!(
            |b, t, x| {
                let at = b.from_host(&[1.0, 0.0, -1.0, 2.0, f64::NAN, 3.0], 2, 3);
                let e = b.unary(t, Unary::Exp, &x);
                b.guard(t, &e, &at, 0.0, 2.0, false)
            },
            [0.5, 1000.0, f64::NAN, 2.0, 800.0, 1.0],
            (2, 3)
        );
        assert_eq!(g, [0.5f64.exp(), 0.0, 0.0, 0.0, 0.0, 0.0]);
    }
}

#[test]
fn gather_with_repeated_indices_scatter_adds() {
    let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let pair = on_both!(
        |b, t, x| {
            let gth = b.gather_cols(t, &x, &[0, 2, 2, 1, 0, 2]);
            let w = b.from_host(&[1.0, 10.0, 100.0, 1000.0, 1e4, 1e5, 2.0, 20.0, 200.0, 2000.0, 2e4, 2e5], 2, 6);
            b.binary(t, Binary::Mul, &gth, &w)
        },
        x,
        (2, 3)
    );
    let (v, g) = agree(pair, "gather");
    assert_eq!(v, [1.0, 30.0, 300.0, 2000.0, 1e4, 3e5, 8.0, 120.0, 1200.0, 10000.0, 8e4, 1.2e6]);
    assert_eq!(g, [10001.0, 1000.0, 100110.0, 20002.0, 2000.0, 200220.0]);
}

#[test]
fn log_sum_exp_of_minus_infinity_rows() {
    let ninf = f64::NEG_INFINITY;
    let x = [ninf, ninf, ninf, 1.0, 2.0, ninf, 1000.0, 1000.0, -5.0];
    let (v, g) = on_both!(|b, t, x| b.logsumexp_cols(t, &x), x, (3, 3)).1;
    assert_eq!(v[0], ninf);
    let want1 = 2.0 + (1.0 + (-1f64).exp()).ln();
    assert!((v[1] - want1).abs() < 1e-15);
    assert!((v[2] - (1000.0 + 2f64.ln())).abs() < 1e-12);
    assert_eq!(&g[0..3], &[0.0; 3]);
    assert!((g[3] - (1.0 - want1).exp()).abs() < 1e-15 && (g[4] - (2.0 - want1).exp()).abs() < 1e-15 && g[5] == 0.0);
    assert!((g[6] - 0.5).abs() < 1e-15 && (g[7] - 0.5).abs() < 1e-15 && g[8] < 1e-200, "{:?}", &g[6..]);
    // finite rows agree with dfdx
    let x = [0.3, -1.2, 2.5, 0.0, 7.0, -3.0];
    agree(on_both!(|b, t, x| b.logsumexp_cols(t, &x), x, (2, 3)), "logsumexp");
}

#[test]
fn map_slopes_outside_the_domain_are_zero() {
    fn lgamma(x: f64) -> f64 {
        snell::special::lgamma(x)
    }
    fn digamma(x: f64) -> f64 {
        snell::special::digamma(x)
    }
    let x = [0.0, 1.5, -2.0, 3.0];
    let (v, g) = on_both!(|b, t, x| b.map(t, &x, lgamma, digamma), x, (1, 4)).1;
    assert_eq!(v[0], f64::INFINITY);
    assert_eq!(v[1], lgamma(1.5));
    assert_eq!(g[1], digamma(1.5));
    assert_eq!(g[3], digamma(3.0));
    assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
    let x = [0.5, 1.5, 2.5, 3.0];
    agree(on_both!(|b, t, x| b.map(t, &x, lgamma, digamma), x, (2, 2)), "lgamma");
}

#[test]
fn every_unary_and_scalar_op_agrees() {
    let mut r = rng(20);
    let x = uniform(&mut r, 12, 0.1, 2.0);
    macro_rules! un {
        ($op:expr) => {
            agree(on_both!(|b, t, x| b.unary(t, $op, &x), x, (3, 4)), stringify!($op))
        };
    }
    un!(Unary::Neg);
    un!(Unary::Exp);
    un!(Unary::Ln);
    un!(Unary::Sqrt);
    un!(Unary::Square);
    un!(Unary::Abs);
    un!(Unary::Tanh);
    un!(Unary::Sigmoid);
    un!(Unary::Sin);
    un!(Unary::Cos);
    macro_rules! sc {
        ($op:expr) => {
            agree(on_both!(|b, t, x| b.scalar(t, $op, &x), x, (3, 4)), stringify!($op))
        };
    }
    sc!(Scalar::Add(1.5));
    sc!(Scalar::Mul(-2.5));
    sc!(Scalar::DivInto(3.0));
    sc!(Scalar::Powf(2.3));
    sc!(Scalar::Powf(-0.5));
    // abs at 0 has slope 0, like dfdx
    let (_, g) = agree(on_both!(|b, t, x| b.unary(t, Unary::Abs, &x), [0.0, -1.0, 2.0], (1, 3)), "abs");
    assert_eq!(g, [0.0, -1.0, 1.0]);
}

#[test]
fn reductions_slices_concat_and_matmul_agree() {
    let mut r = rng(21);
    let x = uniform(&mut r, 12, -2.0, 2.0);
    let w = uniform(&mut r, 20, -1.0, 1.0);
    agree(on_both!(|b, t, x| b.sum_cols(t, &x), x, (3, 4)), "sum_cols");
    agree(on_both!(|b, t, x| b.slice_cols(t, &x, 1, 3), x, (3, 4)), "slice_cols");
    agree(
        on_both!(
            |b, t, x| {
                let s = b.slice_cols(t, &x, 2, 4);
                let e = b.unary(t, Unary::Exp, &x);
                let c = b.concat_cols(t, &[s.clone(), x.clone(), e, s]);
                let w = b.from_host(&(0..36).map(|i| i as f64 * 0.1).collect::<Vec<_>>(), 3, 12);
                b.binary(t, Binary::Mul, &c, &w)
            },
            x,
            (3, 4)
        ),
        "concat",
    );
    // both operands of a matmul differentiable (the same product, once as a and once as b)
    let (_, g) = agree(
        on_both!(
            |b, t, x| {
                let m = b.from_host(&(0..20).map(|i| (i as f64 * 0.37).sin()).collect::<Vec<_>>(), 4, 5);
                let p = b.matmul(t, &x, &m);
                let sq = b.unary(t, Unary::Square, &p);
                let xt = b.from_host(&(0..15).map(|i| (i as f64 * 0.7).cos()).collect::<Vec<_>>(), 5, 3);
                let q = b.matmul(t, &sq, &xt);
                let xx = b.matmul(t, &q, &x);
                b.sum_cols(t, &xx)
            },
            x,
            (3, 4)
        ),
        "matmul",
    );
    assert!(g.iter().all(|v| v.is_finite()));
    let _ = w;
}

#[test]
fn gradients_without_a_path_and_of_the_input_itself() {
    let b = Native;
    let x = b.from_host(&[1.0, 2.0], 1, 2);
    let y = b.from_host(&[3.0, 4.0], 1, 2);
    let mut tape = Some(b.new_tape());
    let out = b.unary(&mut tape, Unary::Exp, &y);
    assert_eq!(b.gradient(tape.take().unwrap(), &out, &x), [0.0, 0.0], "out does not depend on x");
    let tape = b.new_tape();
    assert_eq!(b.gradient(tape, &x, &x), [1.0, 1.0], "∂Σx/∂x");
    // a tensor used on a second tape gets a new id there
    let mut tape = Some(b.new_tape());
    let sq = b.binary(&mut tape, Binary::Mul, &x, &y);
    assert_eq!(b.gradient(tape.take().unwrap(), &sq, &x), [3.0, 4.0]);
    let mut tape = Some(b.new_tape());
    let e = b.scalar(&mut tape, Scalar::Mul(2.0), &y);
    let sq = b.binary(&mut tape, Binary::Mul, &e, &x);
    assert_eq!(b.gradient(tape.take().unwrap(), &sq, &x), [6.0, 8.0]);
    assert_eq!(b.gradient(b.new_tape(), &sq, &x), [0.0, 0.0], "a fresh tape knows nothing of sq");
}

#[test]
fn no_tape_records_nothing_and_computes_the_same_values() {
    let b = Native;
    let x = b.from_host(&[0.5, 1.5, -0.5, 2.0], 2, 2);
    let mut none = None;
    let mut some = Some(b.new_tape());
    for tape in [&mut none, &mut some] {
        let e = b.unary(tape, Unary::Exp, &x);
        let s = b.sum_cols(tape, &e);
        let l = b.logsumexp_cols(tape, &x);
        let d = b.binary(tape, Binary::Div, &s, &l);
        assert_eq!(b.to_host(&d).len(), 2);
    }
    let g = b.gradient(some.unwrap(), &b.from_host(&[1.0], 1, 1), &x);
    assert_eq!(g, [0.0; 4]);
}

/// The ordered transform slices its input twice over the same column (`y.at(1)` for the values and
/// `y.slice(1, 2)` for the Jacobian): dfdx's slice backward overwrites one contribution.
#[model]
fn ordered_pair() {
    let _mu = sample!([2] ~ Normal(0.0, 2.0), ordered);
}

#[test]
fn overlapping_slices_have_the_right_gradient_on_both_backends() {
    let m = OrderedPair::new().unwrap();
    let theta = [0.3, -0.5];
    let fd: Vec<f64> = (0..2)
        .map(|j| {
            let (mut p, mut q) = (theta, theta);
            p[j] += 1e-6;
            q[j] -= 1e-6;
            let f = |t: &[f64]| m.evaluate(&Native, t, None, EvalOptions { grad: false, ..Default::default() }).unwrap().log_density[0];
            (f(&p) - f(&q)) / 2e-6
        })
        .collect();
    let native = m.evaluate(&Native, &theta, None, EvalOptions::default()).unwrap().grad.unwrap();
    let dfdx = m.evaluate(&Cpu64::default(), &theta, None, EvalOptions::default()).unwrap().grad.unwrap();
    for j in 0..2 {
        assert!((native[j] - fd[j]).abs() < 1e-6, "native {native:?} vs finite differences {fd:?}");
        assert!((dfdx[j] - fd[j]).abs() < 1e-6, "dfdx {dfdx:?} vs finite differences {fd:?}");
    }
}

/// Tensors dropped in the middle of a recording give their storage to new tensors of the same
/// tape: the ids on the tape must stay those of the values recorded.
#[test]
fn recycled_tensors_keep_the_tape_consistent() {
    let x = [0.3, -1.2, 0.8, 2.0];
    let pair = on_both!(
        |b, t, x| {
            let mut acc = b.scalar(t, Scalar::Mul(0.5), &x);
            for i in 0..40 {
                // `s` and the previous `acc` are dropped at the end of each iteration (the tape
                // keeps sin's input, not its output).
                let s = b.unary(t, Unary::Sin, &acc);
                let w = b.scalar(t, Scalar::Mul(1.0 + 0.01 * i as f64), &s);
                acc = b.binary(t, Binary::Add, &w, &x);
            }
            acc
        },
        x,
        (2, 2)
    );
    agree(pair, "a chain of dropped temporaries");
}

/// Zero-length vectors (e.g. empty data) flow through every op without panicking.
#[test]
fn empty_tensors() {
    let b = Native;
    let mut tape = Some(b.new_tape());
    let x = b.from_host(&[1.0, 2.0], 2, 1);
    let e = b.from_host(&[], 1, 0);
    let xe = b.broadcast(&mut tape, &x, 2, 0);
    let ee = b.broadcast(&mut tape, &e, 2, 0);
    let s = b.binary(&mut tape, Binary::Mul, &xe, &ee);
    let l = b.logsumexp_cols(&mut tape, &s);
    let sum = b.sum_cols(&mut tape, &s);
    let sl = b.slice_cols(&mut tape, &s, 0, 0);
    let m = b.matmul(&mut tape, &s, &b.from_host(&[], 0, 3));
    assert_eq!(b.to_host(&l), [f64::NEG_INFINITY; 2]);
    assert_eq!(b.to_host(&sum), [0.0; 2]);
    assert_eq!(Native::shape(&sl), (2, 0));
    assert_eq!(b.to_host(&m), [0.0; 6]);
    let total = b.binary(&mut tape, Binary::Add, &sum, &x);
    let c = b.concat_cols(&mut tape, &[total.clone(), sl, m]);
    let out = b.sum_cols(&mut tape, &c);
    assert_eq!(b.gradient(tape.take().unwrap(), &out, &x), [1.0, 1.0]);
}
