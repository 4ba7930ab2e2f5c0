//! MCMC convergence diagnostics with the modern definitions of Vehtari, Gelman, Simpson, Carpenter
//! and Bürkner (2021), "Rank-normalization, folding, and localization: an improved R̂ for assessing
//! convergence of MCMC", as implemented by R's `posterior` package, ArviZ and CmdStan 2.33+.
//!
//! Why these and not the classic Gelman–Rubin R̂ and Geyer ESS: the classic versions are computed on
//! the raw draws, so they are blind to chains that agree in mean but not in scale or tails, and
//! meaningless for heavy-tailed quantities without a finite variance. Ranking the pooled draws and
//! mapping the ranks to normal scores ([rank normalisation](#how-the-definitions-fit-together))
//! makes R̂ and the bulk ESS work for any distribution, folding around the median makes R̂ see
//! differences in scale, and the tail ESS measures how well the 5% and 95% quantiles are estimated.
//!
//! Every function takes the draws of **one scalar quantity** as `chains: &[&[f64]]`: one slice per
//! chain, each in sampling order, all of the same length. [`Summary`] does this for every
//! parameter of a run and prints a table like CmdStan's `stansummary`.
//!
//! # How the definitions fit together
//!
//! - Chains are **split** in halves (a chain of odd length loses its middle draw), so that a chain
//!   that drifts looks like two chains that disagree.
//! - **Rank normalisation**: the pooled draws of all (split) chains are ranked (ties share their
//!   mean rank) and rank r of S becomes the normal score Φ⁻¹((r − 3/8) / (S + 1/4)) (Blom).
//! - **Folding**: |x − median| (the median of all split draws) turns a difference in scale into a
//!   difference in location.
//! - [`rhat`] = max([`rhat_bulk`], [`rhat_tail`]): split R̂ of the rank-normalised draws and of the
//!   rank-normalised folded draws.
//! - ESS uses FFT autocovariances of the split chains and Geyer's initial monotone sequence:
//!   [`ess_bulk`] on the rank-normalised draws, [`ess_mean`] on the draws themselves, and
//!   [`ess_tail`] = min over the 5% and 95% quantile indicators `x ≤ q` ([`ess_quantile`]).
//! - [`mcse_mean`] = sd / √ESS_mean, [`mcse_sd`] by the delta method, [`mcse_quantile`] from the
//!   quantile ESS and a Beta approximation of the quantile's rank.
//!
//! The test `tests/diagnostics.rs` checks all of these against ArviZ 0.23.4 on stored chains.
//!
//! # Degenerate input
//!
//! Nothing here panics on bad draws; a diagnostic that is not defined is `NaN` (posterior's `NA`),
//! so that it shows up as such in a table rather than as a plausible-looking number:
//!
//! - no chains, chains of different lengths, or fewer than [`MIN_DRAWS`] draws per chain: all
//!   diagnostics are `NaN` (ArviZ's rule; the split halves would be too short to say anything);
//! - any `NaN` or ±∞ among the draws: all diagnostics are `NaN` (posterior's rule; ArviZ ranks ±∞
//!   and would report a number);
//! - a constant quantity (all draws within `f64::EPSILON`, e.g. a fixed or deterministic one):
//!   R̂, ESS and MCSE are `NaN` as in posterior (ArviZ reports ESS = number of draws and
//!   MCSE = 0); an ESS computed on a derived quantity that happens to be constant (the indicator
//!   of the 95% quantile of a discrete parameter that sits at its maximum) is `NaN` likewise;
//! - one chain: the split halves act as two chains, so R̂ is defined, as in posterior and
//!   CmdStan (ArviZ's `rhat` demands two chains and gives `NaN`).

mod autocov;
mod chains;
mod ess;
mod known_moments;
mod mcse;
mod quantile;
mod rank;
mod rhat;
mod summary;

pub use ess::{ess_bulk, ess_mean, ess_quantile, ess_tail, TAIL_PROBS};
pub use known_moments::{autocorrelation_known_moments, ess_known_moments, KNOWN_MOMENTS_CUTOFF};
pub use mcse::{mcse_mean, mcse_quantile, mcse_sd};
pub use quantile::quantile;
pub use rhat::{rhat, rhat_bulk, rhat_tail};
pub use summary::{Summary, SummaryRow, MIN_ESS_PER_CHAIN, RHAT_THRESHOLD};

/// The fewest draws per chain for which diagnostics are computed (below it they are `NaN`).
///
/// Four, as in ArviZ: splitting leaves two draws per half, the least from which a variance and a
/// lag-1 autocorrelation can be formed at all.
pub const MIN_DRAWS: usize = 4;
