//! Stochastic gradients: targets whose likelihood is a sum over observations, evaluated on
//! minibatches ([`Target::logp_grad_minibatch`](crate::target::Target::logp_grad_minibatch)), and [`Batches`], the schedule that says which observations each step sees.
//!
//! A minibatch log density is `log prior + (N / B) · Σ_{i ∈ batch} log p(y_i | θ)`: unbiased for the
//! full one, so samplers that tolerate gradient noise (ray tracing, SGLD) can run on it.

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// How the observations are split into batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// A fresh random permutation every epoch (the default, as a data loader with `shuffle=True`).
    Shuffled,
    /// Observations in order, `0..B`, `B..2B`, … (for reproducing a fixed schedule).
    Sequential,
    /// Every batch drawn independently, with replacement.
    WithReplacement,
}

/// The batch schedule: batch `k` of an epoch holds observations `perm[kB..(k+1)B]`. An epoch that
/// does not divide evenly ends with a shorter batch, so every observation is seen once per epoch
/// (which makes the average over an epoch's batches equal to the full likelihood).
#[derive(Clone, Debug)]
pub struct Batches {
    n: usize,
    size: usize,
    order: Order,
    perm: Vec<usize>,
    pos: usize,
    epoch: usize,
    current: Vec<usize>,
}

impl Batches {
    /// Batches of `size` out of `n` observations; `size` must be in `1..=n`.
    pub fn new(n: usize, size: usize, order: Order) -> Result<Self, super::SamplerError> {
        if n == 0 || size == 0 || size > n {
            return Err(super::SamplerError::Setting { name: "batch_size", detail: format!("{size} for {n} observations: must be between 1 and the number of observations") });
        }
        Ok(Self { n, size, order, perm: (0..n).collect(), pos: n, epoch: 0, current: Vec::with_capacity(size) })
    }
    /// Observations per batch.
    pub fn size(&self) -> usize {
        self.size
    }
    /// Number of observations.
    pub fn n_obs(&self) -> usize {
        self.n
    }
    /// Completed epochs.
    pub fn epoch(&self) -> usize {
        self.epoch
    }
    /// The next batch, drawing a new permutation at the start of each epoch from `rng`.
    pub fn next(&mut self, rng: &mut ChaCha8Rng) -> &[usize] {
        use rand::Rng;
        self.current.clear();
        if self.order == Order::WithReplacement {
            self.current.extend((0..self.size).map(|_| rng.gen_range(0..self.n)));
            return &self.current;
        }
        if self.pos >= self.n {
            if self.order == Order::Shuffled {
                self.perm.shuffle(rng);
            }
            self.pos = 0;
        }
        let end = (self.pos + self.size).min(self.n);
        self.current.extend_from_slice(&self.perm[self.pos..end]);
        self.pos = end;
        if self.pos >= self.n {
            self.epoch += 1;
        }
        &self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_observation_once_per_epoch() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut b = Batches::new(10, 4, Order::Shuffled).unwrap();
        for epoch in 0..3 {
            let mut seen = Vec::new();
            let mut sizes = Vec::new();
            for _ in 0..3 {
                let batch = b.next(&mut rng).to_vec();
                sizes.push(batch.len());
                seen.extend(batch);
            }
            assert_eq!(sizes, [4, 4, 2]);
            seen.sort();
            assert_eq!(seen, (0..10).collect::<Vec<_>>());
            assert_eq!(b.epoch(), epoch + 1);
        }
    }

    #[test]
    fn epochs_differ_and_seed_reproduces() {
        let run = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut b = Batches::new(20, 20, Order::Shuffled).unwrap();
            (b.next(&mut rng).to_vec(), b.next(&mut rng).to_vec())
        };
        let (a1, a2) = run(1);
        assert_ne!(a1, a2);
        assert_eq!(run(1), (a1, a2));
    }

    #[test]
    fn bad_sizes_are_errors() {
        assert!(Batches::new(5, 0, Order::Shuffled).is_err());
        assert!(Batches::new(5, 6, Order::Sequential).is_err());
        assert!(Batches::new(0, 1, Order::Sequential).is_err());
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut b = Batches::new(5, 2, Order::Sequential).unwrap();
        assert_eq!(b.next(&mut rng), &[0, 1]);
        assert_eq!(b.next(&mut rng), &[2, 3]);
        assert_eq!(b.next(&mut rng), &[4]);
        assert_eq!(b.next(&mut rng), &[0, 1]);
        let mut w = Batches::new(5, 3, Order::WithReplacement).unwrap();
        assert!(w.next(&mut rng).iter().all(|&i| i < 5));
    }
}
