//! What `sample!`, `observe!`, `deterministic!`, `log_prob!` and `factor!` become: the statements
//! of the model language, whose meaning depends on the evaluation's [`Mode`].

use super::{Ctx, Mode, ObsRecord, Order, SiteRecord, Term};
use crate::backend::Backend;
use crate::dist::{Dist, IntoDist, Support};
use crate::error::ModelError;
use crate::range::Range;
use crate::transform;
use crate::value::{Inner, IntoReal, Real};

impl<B: Backend> Ctx<B> {
    // ---- sample! and observe! ------------------------------------------------------------------

    /// Whether `support` is the positive half-line `(0, ∞)` (a constant lower bound of 0).
    fn lower_bound_zero(&self, support: &Support<'_, B>) -> bool {
        matches!(support, Support::Lower(a) if self.host_const(*a).is_some_and(|v| v.iter().all(|x| *x == 0.0)))
    }

    fn add_term(&self, kind: Term, x: Real<'_, B>) {
        let s = x.sum();
        self.terms.borrow_mut().push((kind, s.v));
    }

    /// Adds `x` (summed) to the log likelihood: Stan's `target +=`, for densities written by hand.
    pub fn factor<'c>(&'c self, x: Real<'c, B>) {
        self.add_term(Term::Likelihood, x);
    }

    /// A parameter: `name ~ dist`, optionally a vector of length `len`, optionally with explicit
    /// bounds (which replace the support of `dist` for the transform) or an order constraint.
    /// Returns the constrained value.
    pub fn param<'c, D: IntoDist<'c, B>>(
        &'c self,
        name: &'static str,
        len: Option<usize>,
        dist: D,
        lower: Option<Real<'c, B>>,
        upper: Option<Real<'c, B>>,
        order: Order,
    ) -> Real<'c, B> {
        self.site.set(name);
        let dist: Dist<'c, B> = dist.into_dist(self);
        if self.mode == Mode::Discover {
            if let Err(e) = dist.validate(name) {
                self.fail_with(e);
            }
        }
        let explicit = lower.is_some() || upper.is_some();
        if let (Some(a), Some(b)) = (lower, upper) {
            if let (Some(lo), Some(hi)) = (self.host_const(a), self.host_const(b)) {
                let n = lo.len().max(hi.len());
                let at = |v: &[f64], i: usize| v[if v.len() == 1 { 0 } else { i.min(v.len() - 1) }];
                if let Some(i) = (0..n).find(|&i| !(at(&lo, i) < at(&hi, i))) {
                    self.fail_with(ModelError::InvalidParameter {
                        site: name.to_string(),
                        dist: "bounds",
                        detail: format!("the lower bound {} is not below the upper bound {}", at(&lo, i), at(&hi, i)),
                    });
                    return Real::constant(self, 0.0);
                }
            }
        }
        let support = match (lower, upper) {
            (Some(a), Some(b)) => Support::Interval(a, b),
            (Some(a), None) => Support::Lower(a),
            (None, Some(b)) => Support::Upper(b),
            (None, None) => dist.support(),
        };
        let support = match order {
            Order::Any => support,
            Order::Increasing | Order::PositiveIncreasing if explicit || !(matches!(support, Support::Real) || self.lower_bound_zero(&support)) => {
                let keyword = if order == Order::Increasing { "ordered" } else { "positive_ordered" };
                let what = if explicit { "explicit bounds".to_string() } else { format!("{}, whose support is bounded", dist.name()) };
                self.fail_with(ModelError::InvalidParameter {
                    site: name.to_string(),
                    dist: "ordered",
                    detail: format!("`{keyword}` is its own constraint and takes no {what}: use a distribution on the real line (`ordered`), or on the positive half-line for positive increasing values (`positive_ordered`)"),
                });
                return Real::constant(self, 0.0);
            }
            Order::Increasing if !matches!(support, Support::Real) => {
                self.fail_with(ModelError::InvalidParameter {
                    site: name.to_string(),
                    dist: "ordered",
                    detail: format!("{} lives on the positive half-line: for positive increasing values write `positive_ordered`", dist.name()),
                });
                return Real::constant(self, 0.0);
            }
            Order::Increasing => Support::Ordered,
            Order::PositiveIncreasing => Support::PositiveOrdered,
        };
        if let Support::Discrete = support {
            self.fail_with(ModelError::Discrete { site: name.to_string(), dist: dist.name() });
            return Real::constant(self, 0.0);
        }
        let event = dist.event_len();
        let n = match (len, event) {
            (Some(_), Some(_)) => {
                return self.fail(format!("{} is multivariate: its length comes from its parameters, drop the `[..] ~`", dist.name()));
            }
            (Some(n), None) | (None, Some(n)) => n,
            (None, None) => 1,
        };
        if n == 0 {
            return self.fail("a parameter must have at least one element".into());
        }
        let vector = len.is_some() || event.is_some();
        let ulen = if matches!(support, Support::Simplex) { n.saturating_sub(1) } else { n };

        let (x, y_host) = match &self.mode {
            Mode::Density | Mode::Discover => {
                let y = if let Some(theta) = self.theta {
                    let off = self.offset.get();
                    let (_, d) = self.node_shape(theta);
                    if off + ulen > d {
                        self.fail_with(ModelError::Dimension { what: "unconstrained parameters".into(), expected: off + ulen, got: d });
                        return Real::constant(self, 0.0);
                    }
                    self.op_slice(Real::new(self, Inner::N(theta)), off, off + ulen)
                } else {
                    // Discover: the point y = 0. Like a slice of θ in `Mode::Density`, the node carries
                    // no host values and no range, so that a parameter is never mistaken for data:
                    // `validate` and `check_value` must not judge parameters by this arbitrary point
                    // (e.g. `Normal(0.0, s)` with `s` a real parameter, 0 here, is a valid model).
                    let t = self.backend.from_host(&vec![0.0; ulen], 1, ulen);
                    self.push(t, Range::ALL, None)
                };
                self.offset.set(self.offset.get() + ulen);
                let (x, log_jac) = transform::constrain(self, &support, y, n);
                self.add_term(Term::Jacobian, log_jac);
                let lp = dist.log_prob(x);
                let lp = if explicit { dist.guard_value(lp, x) } else { lp };
                self.add_term(Term::Prior, lp);
                let yh = if self.collect { Some(y.to_host()) } else { None };
                (x, yh)
            }
            Mode::Constrained(given) => {
                let off = self.given_offset.get();
                if off + n > given.len() {
                    self.fail_with(ModelError::Dimension { what: "constrained parameter values".into(), expected: off + n, got: given.len() });
                    return Real::constant(self, 0.0);
                }
                self.given_offset.set(off + n);
                let xs = given[off..off + n].to_vec();
                let y = match transform::unconstrain_host(self, &support, &xs) {
                    Ok(y) => y,
                    Err(detail) => {
                        self.fail_with(ModelError::Constraint { site: name.to_string(), detail });
                        return Real::constant(self, 0.0);
                    }
                };
                (self.data(xs), Some(y))
            }
            Mode::Prior => {
                let xs = {
                    let mut rng = self.rng.borrow_mut();
                    let rng = rng.as_mut().expect("prior draws need a random number generator");
                    dist.draw_within(rng, n, &support, self)
                };
                let xs = match xs {
                    // iid draws sorted are draws of the prior restricted to increasing vectors
                    Ok(mut xs) if matches!(support, Support::Ordered | Support::PositiveOrdered) => {
                        xs.sort_by(f64::total_cmp);
                        xs
                    }
                    Ok(xs) => xs,
                    Err(detail) => {
                        self.fail_with(ModelError::Draw { site: name.to_string(), detail });
                        return Real::constant(self, 0.0);
                    }
                };
                let y = transform::unconstrain_host(self, &support, &xs).unwrap_or_default();
                (self.data(xs), Some(y))
            }
        };
        if self.collect || self.mode == Mode::Discover {
            let constrained = if self.collect { x.to_host() } else { Vec::new() };
            let constrained = if constrained.len() == 1 && n > 1 { vec![constrained[0]; n] } else { constrained };
            self.sites.borrow_mut().push(SiteRecord {
                name,
                vector,
                len: n,
                ulen,
                dist: dist.name(),
                constrained,
                unconstrained: y_host.unwrap_or_default(),
            });
        }
        if x.len() != n && x.len() != 1 {
            return self.fail(format!("parameter has length {} but {n} was declared", x.len()));
        }
        if x.len() == 1 && n > 1 {
            return self.expand(x, x.shape().0, n);
        }
        x
    }

    /// A deterministic function of the parameters, recorded with every draw
    /// (`let theta = deterministic!(mu + tau * z);`).
    pub fn deterministic<'c>(&'c self, name: &'static str, x: Real<'c, B>) -> Real<'c, B> {
        if self.collect || self.mode == Mode::Discover {
            let values = if self.collect { self.expand(x, self.rows.max(x.shape().0), x.len()).to_host() } else { vec![0.0; x.len()] };
            self.derived.borrow_mut().push(ObsRecord { name, values });
        }
        x
    }

    /// The element-wise log density of `value` under `dist` (`log_prob!(x ~ Normal(mu, s))`).
    pub fn log_prob<'c, V: IntoReal<'c, B>, D: IntoDist<'c, B>>(&'c self, value: V, dist: D) -> Real<'c, B> {
        let dist: Dist<'c, B> = dist.into_dist(self);
        dist.log_prob(value.into_real(self))
    }

    /// An observation: `value ~ dist`. Scores `value` (or, when simulating, draws a new one).
    pub fn observe<'c, V: IntoReal<'c, B>, D: IntoDist<'c, B>>(&'c self, name: &'static str, value: V, dist: D) {
        self.site.set(name);
        let dist: Dist<'c, B> = dist.into_dist(self);
        let x = value.into_real(self);
        if self.mode == Mode::Discover {
            if let Err(e) = dist.validate(name) {
                self.fail_with(e);
            }
            if let Some(h) = self.host_const(x) {
                if let Err(detail) = dist.check_value(&h, self) {
                    self.fail_with(ModelError::OutOfSupport { site: name.to_string(), dist: dist.name(), detail });
                }
            } else {
                self.fail_with(ModelError::Shape { site: format!("`{name}`"), detail: "observed values must be data, not parameters".into() });
            }
        }
        if self.simulate {
            let n = dist.broadcast_len(x.len());
            let drawn = {
                let mut rng = self.rng.borrow_mut();
                let rng = rng.as_mut().expect("simulation needs a random number generator");
                dist.draw(rng, n, self)
            };
            match drawn {
                Ok(values) => self.observations.borrow_mut().push(ObsRecord { name, values }),
                Err(detail) => self.fail_with(ModelError::Draw { site: name.to_string(), detail }),
            }
            return;
        }
        let lp = dist.log_prob(x);
        if self.pointwise {
            let (r, c) = lp.shape();
            // A multivariate observation has one log density, not one per element of the vector.
            let cols = if dist.event_len().is_some() { c } else { c.max(x.len()) };
            let full = self.expand(lp, self.rows.max(r), cols);
            self.observations.borrow_mut().push(ObsRecord { name, values: full.to_host() });
        }
        self.add_term(Term::Likelihood, lp);
    }
}
