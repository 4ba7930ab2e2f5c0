//! [`Adam`] (Kingma & Ba 2015), the optimiser behind variational inference and MAP estimates: it
//! climbs an objective from (possibly noisy) gradients with per-coordinate step sizes, which is what
//! stochastic objectives like the ELBO need.

/// Adam's settings and state for one parameter vector. [`Adam::ascend`] *increases* the objective
/// whose gradient it is given (log densities and ELBOs are maximised).
#[derive(Clone, Debug)]
pub struct Adam {
    /// Learning rate α.
    pub learning_rate: f64,
    /// Decay of the first moment, β₁ (0.9).
    pub beta1: f64,
    /// Decay of the second moment, β₂ (0.999).
    pub beta2: f64,
    /// ε in the denominator (1e-8).
    pub eps: f64,
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl Adam {
    /// Adam with learning rate `learning_rate` and the paper's other defaults.
    pub fn new(learning_rate: f64) -> Self {
        Self { learning_rate, beta1: 0.9, beta2: 0.999, eps: 1e-8, m: Vec::new(), v: Vec::new(), t: 0 }
    }

    /// One step of `x` along `grad` (the gradient of the objective to maximise).
    pub fn ascend(&mut self, x: &mut [f64], grad: &[f64]) {
        if self.m.len() != x.len() {
            self.m = vec![0.0; x.len()];
            self.v = vec![0.0; x.len()];
            self.t = 0;
        }
        self.t = self.t.saturating_add(1);
        let (b1, b2) = (self.beta1, self.beta2);
        let c1 = 1.0 - b1.powi(self.t);
        let c2 = 1.0 - b2.powi(self.t);
        for i in 0..x.len() {
            self.m[i] = b1 * self.m[i] + (1.0 - b1) * grad[i];
            self.v[i] = b2 * self.v[i] + (1.0 - b2) * grad[i] * grad[i];
            x[i] += self.learning_rate * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + self.eps);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn climbs_a_quadratic_to_its_top() {
        // f(x) = -(x0 - 3)^2 - 10 (x1 + 1)^2
        let mut x = vec![0.0, 0.0];
        let mut adam = Adam::new(0.05);
        for _ in 0..3000 {
            let g = [-2.0 * (x[0] - 3.0), -20.0 * (x[1] + 1.0)];
            adam.ascend(&mut x, &g);
        }
        assert!((x[0] - 3.0).abs() < 1e-3 && (x[1] + 1.0).abs() < 1e-3, "{x:?}");
    }

    #[test]
    fn first_step_has_the_learning_rate_as_length() {
        // bias correction: the first step is α·sign(g) whatever the gradient's scale
        let mut x = vec![0.0, 0.0];
        Adam::new(0.1).ascend(&mut x, &[1e-3, -50.0]);
        assert!((x[0] - 0.1).abs() < 1e-6 && (x[1] + 0.1).abs() < 1e-6, "{x:?}");
    }
}
