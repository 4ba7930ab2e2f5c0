//! Conservative value ranges of evaluation nodes.
//!
//! Distributions must return `−∞` for invalid parameters (a negative scale, a probability above 1).
//! Checking costs several tensor ops per argument, which dominates small models, so each node carries
//! an interval that certainly contains its values: a scale computed as `exp(y)` or `a + exp(y)` with
//! `a ≥ 0` is known to be positive and needs no check.

/// An interval containing every value of a node; `pos` marks values that are strictly positive in
/// exact arithmetic (e.g. `exp(y)`, even where floating point may underflow to 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Range {
    pub lo: f64,
    pub hi: f64,
    pub pos: bool,
}

impl Range {
    pub const ALL: Range = Range { lo: f64::NEG_INFINITY, hi: f64::INFINITY, pos: false };
    pub const POSITIVE: Range = Range { lo: 0.0, hi: f64::INFINITY, pos: true };

    /// The tightest range of some host values.
    pub fn of(values: &[f64]) -> Range {
        let lo = values.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        if values.iter().any(|v| v.is_nan()) {
            return Range::ALL;
        }
        Range { lo, hi, pos: lo > 0.0 }
    }

    pub fn point(c: f64) -> Range {
        Range::of(&[c])
    }

    fn new(lo: f64, hi: f64) -> Range {
        if lo.is_nan() || hi.is_nan() {
            Range::ALL
        } else {
            Range { lo, hi, pos: lo > 0.0 }
        }
    }

    pub fn union(self, o: Range) -> Range {
        Range { lo: self.lo.min(o.lo), hi: self.hi.max(o.hi), pos: self.pos && o.pos }
    }

    pub fn positive(self) -> bool {
        self.pos || self.lo > 0.0
    }

    pub fn nonneg(self) -> bool {
        self.pos || self.lo >= 0.0
    }

    pub fn within(self, lo: f64, hi: f64) -> bool {
        self.lo >= lo && self.hi <= hi
    }

    pub fn add(self, o: Range) -> Range {
        let mut r = Range::new(self.lo + o.lo, self.hi + o.hi);
        r.pos |= (self.positive() && o.nonneg()) || (self.nonneg() && o.positive());
        r
    }

    pub fn neg(self) -> Range {
        Range::new(-self.hi, -self.lo)
    }

    pub fn sub(self, o: Range) -> Range {
        self.add(o.neg())
    }

    pub fn mul(self, o: Range) -> Range {
        let prods = [self.lo * o.lo, self.lo * o.hi, self.hi * o.lo, self.hi * o.hi];
        if prods.iter().any(|p| p.is_nan()) {
            // 0 × ∞: only the sign is certain
            return if self.nonneg() && o.nonneg() {
                Range { lo: 0.0, hi: f64::INFINITY, pos: self.positive() && o.positive() }
            } else {
                Range::ALL
            };
        }
        let mut r = Range::new(prods.iter().cloned().fold(f64::INFINITY, f64::min), prods.iter().cloned().fold(f64::NEG_INFINITY, f64::max));
        r.pos |= self.positive() && o.positive();
        r
    }

    pub fn recip(self) -> Range {
        if self.positive() {
            Range { lo: 1.0 / self.hi, hi: 1.0 / self.lo, pos: true }
        } else if self.hi < 0.0 {
            Range::new(1.0 / self.hi, 1.0 / self.lo)
        } else {
            Range::ALL
        }
    }

    pub fn div(self, o: Range) -> Range {
        self.mul(o.recip())
    }

    /// Image under a monotone increasing function that maps everything to positive values
    /// (`pos` = the function is strictly positive).
    pub fn increasing(self, f: fn(f64) -> f64, pos: bool) -> Range {
        let mut r = Range::new(f(self.lo), f(self.hi));
        r.pos |= pos;
        r
    }

    /// Range of a sum of `n` elements each in `self`.
    pub fn times(self, n: usize) -> Range {
        let n = n as f64;
        let mut r = Range::new(if self.lo == 0.0 { 0.0 } else { self.lo * n }, if self.hi == 0.0 { 0.0 } else { self.hi * n });
        r.pos |= self.positive();
        r
    }
}
