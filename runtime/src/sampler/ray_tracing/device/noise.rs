//! [`Noise`]: the device ray tracer's random numbers — velocities and Metropolis uniforms — drawn
//! from counter-addressed ChaCha streams of the run's seed, in parallel chunks, then uploaded.
//!
//! dfdx 0.13 draws a device's random numbers on the host from one sequential generator (its `Cuda`
//! device too), so a refresh of P × D velocities costs P × D draws on one core before the upload.
//! Here chunk `j` of the `c`-th request is drawn from the ChaCha stream `c` of the seed, starting
//! at word `j · 2³²`: the chunks are independent of each other and of the thread that draws them,
//! so they are drawn on all cores and the draws depend on the seed alone — not on the thread
//! count, and not on the device's own seed.

use super::ops::{Column, Rows};
use crate::backend::DfdxElem;
use dfdx::tensor_ops::Device;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

/// Numbers per chunk: large enough to amortise a stream's setup, small enough to spread over
/// cores.
const CHUNK: usize = 1 << 15;

/// The first stream of the noise; the chains' own streams (`chain_rng`) are the first ones, and
/// the device driver's batch schedules start at `1 << 62`.
const NOISE_STREAMS: u64 = 1 << 61;

/// A source of standard normals and uniforms for device tensors.
pub struct Noise {
    seed: u64,
    /// Requests so far: request `c` reads stream `NOISE_STREAMS + c`.
    requests: u64,
}

impl Noise {
    /// The noise of `seed`.
    pub fn new(seed: u64) -> Self {
        Self { seed, requests: 0 }
    }

    /// `n` values of `draw`, chunk by chunk in parallel, from the next request's stream.
    fn fill<E: DfdxElem + Send>(&mut self, n: usize, draw: impl Fn(&mut ChaCha8Rng) -> f64 + Sync) -> Vec<E> {
        let stream = NOISE_STREAMS + self.requests;
        self.requests += 1;
        let mut out = vec![E::of_f64(0.0); n];
        crate::sampler::threads::install(|| {
        out.par_chunks_mut(CHUNK).enumerate().for_each(|(j, chunk)| {
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
            rng.set_stream(stream);
            rng.set_word_pos((j as u128) << 32);
            chunk.iter_mut().for_each(|v| *v = E::of_f64(draw(&mut rng)));
        });
        });
        out
    }

    /// `(p, d)` standard normals on `dev`.
    pub fn normals<E: DfdxElem + Send, D: Device<E>>(&mut self, dev: &D, p: usize, d: usize) -> Rows<E, D> {
        dev.tensor_from_vec(self.fill(p * d, |r| r.sample(StandardNormal)), (p, d))
    }

    /// `p` uniforms on `[0, 1)` on `dev`.
    pub fn uniforms<E: DfdxElem + Send, D: Device<E>>(&mut self, dev: &D, p: usize) -> Column<E, D> {
        dev.tensor_from_vec(self.fill(p, |r| r.gen::<f64>()), (p,))
    }
}

opaque_debug!(impl[] Noise);
