//! Special functions on the host, used as values and slopes of differentiable ops (see
//! [`crate::backend::Backend::map`]) and by distributions' normalising constants.

/// `ln Γ(x)`; `+∞` at non-positive integers, NaN for NaN.
pub fn lgamma(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 && x == x.floor() {
        return f64::INFINITY;
    }
    statrs::function::gamma::ln_gamma(x)
}

/// The digamma function ψ(x) = d/dx ln Γ(x).
pub fn digamma(x: f64) -> f64 {
    statrs::function::gamma::digamma(x)
}

/// Logistic sigmoid, without overflow for large |x|.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `ln(1 + eˣ)`, without overflow for large x and without loss for very negative x.
pub fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// `ln σ(x) = −softplus(−x)`.
pub fn log_sigmoid(x: f64) -> f64 {
    -softplus(-x)
}

/// `ln C(n, k)` for real `n ≥ k ≥ 0`.
pub fn ln_choose(n: f64, k: f64) -> f64 {
    lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0)
}

/// `logit(p) = ln(p / (1 − p))`.
pub fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lgamma_known_values() {
        assert!((lgamma(1.0)).abs() < 1e-14);
        assert!((lgamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
        assert!((lgamma(10.0) - 362880f64.ln()).abs() < 1e-12);
        assert_eq!(lgamma(0.0), f64::INFINITY);
    }

    #[test]
    fn digamma_is_derivative_of_lgamma() {
        for &x in &[0.3, 1.0, 2.5, 17.0] {
            let h = 1e-6;
            let fd = (lgamma(x + h) - lgamma(x - h)) / (2.0 * h);
            assert!((digamma(x) - fd).abs() < 1e-7, "x = {x}");
        }
    }

    #[test]
    fn softplus_is_stable() {
        assert_eq!(softplus(1000.0), 1000.0);
        assert!(softplus(-1000.0) >= 0.0);
        assert!((softplus(0.0) - 2f64.ln()).abs() < 1e-15);
        assert!((sigmoid(-800.0)) >= 0.0);
    }
}
