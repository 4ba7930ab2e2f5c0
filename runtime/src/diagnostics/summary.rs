//! [`Summary`]: the posterior summary table with convergence diagnostics, as CmdStan's
//! `stansummary` prints it.

use std::fmt;

use super::chains::{mean, pooled, var};
use super::quantile::quantile;
use super::{ess_bulk, ess_tail, mcse_mean, mcse_sd, rhat, MIN_DRAWS};

/// R-hat above this means the chains have not converged to a common distribution, and the draws
/// should not be used. 1.01 is the threshold recommended by Vehtari et al. (2021) and used by
/// posterior and CmdStan (the older 1.1 lets through chains that visibly disagree).
pub const RHAT_THRESHOLD: f64 = 1.01;

/// Bulk and tail ESS below this many per chain are too few to trust the R-hat and the MCSEs
/// themselves (Vehtari et al. 2021 recommend 100 per chain, i.e. 400 for four chains): the
/// autocorrelations that the ESS rests on are then estimated too poorly.
pub const MIN_ESS_PER_CHAIN: f64 = 100.0;

/// One quantity's row of a [`Summary`]. Definitions as in posterior's `summarise_draws` and
/// CmdStan 2.33+ `stansummary`; every diagnostic is `NaN` where it is undefined (see the
/// [module docs](super#degenerate-input)).
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    /// The quantity's name (Stan style, `theta.1`).
    pub name: String,
    /// Posterior mean of all draws pooled (CmdStan's `Mean`).
    pub mean: f64,
    /// Monte Carlo standard error of the mean, [`mcse_mean`] (CmdStan's `MCSE`).
    pub mcse_mean: f64,
    /// Posterior standard deviation, denominator n − 1 (CmdStan's `StdDev`).
    pub sd: f64,
    /// Monte Carlo standard error of the standard deviation, [`mcse_sd`].
    pub mcse_sd: f64,
    /// 5% quantile (numpy's and R's default, linear interpolation; CmdStan's `5%`).
    pub q5: f64,
    /// Median (CmdStan's `50%`).
    pub q50: f64,
    /// 95% quantile (CmdStan's `95%`).
    pub q95: f64,
    /// Bulk effective sample size, [`ess_bulk`] (CmdStan's `ESS_bulk`).
    pub ess_bulk: f64,
    /// Tail effective sample size, [`ess_tail`] (CmdStan's `ESS_tail`).
    pub ess_tail: f64,
    /// Rank-normalised split R-hat, [`rhat`] (CmdStan's `R_hat`).
    pub rhat: f64,
}

/// The posterior summary of a run: for each quantity its mean, standard deviation, 5/50/95%
/// quantiles, their Monte Carlo standard errors, bulk and tail ESS and R-hat.
///
/// Names and definitions follow CmdStan 2.33+ `stansummary` and R's posterior package
/// (`summarise_draws` with `default_summary_measures()` and `default_convergence_measures()`):
/// rank-normalised split R-hat, bulk and tail ESS (Vehtari et al. 2021), and `MCSE` the MCSE of
/// the mean. Displaying it (`{}`) prints the table; [`Summary::warnings`] says what in it is
/// cause for concern.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    rows: Vec<SummaryRow>,
    n_chains: usize,
    n_draws: usize,
    /// Non-finite draws per row, for [`Summary::warnings`].
    non_finite: Vec<usize>,
    /// The longest chain's complete draws when chains differ in length (only the common prefix
    /// of `n_draws` is summarised).
    longest: Option<usize>,
}

impl Summary {
    /// Summarises the draws of several chains: `chains[c]` holds chain c's draws row-major
    /// `(n_draws, names.len())`, draw by draw, as a sampler writes them (e.g. the `values` of a
    /// [`ChainDraws`](crate::sampler::ChainDraws)).
    ///
    /// Degenerate data do not panic: a quantity with non-finite draws, constant draws, or fewer
    /// than [`MIN_DRAWS`] draws per chain gets `NaN` diagnostics (and, for the first and last, a
    /// [warning](Summary::warnings)). Chains of unequal length (a run stopped part-way) are
    /// summarised on their common prefix of complete draws, and the warnings say so.
    pub fn new<N: AsRef<str>, C: AsRef<[f64]>>(names: &[N], chains: &[C]) -> Summary {
        let n_params = names.len();
        let n_chains = chains.len();
        let complete = |c: &C| c.as_ref().len().checked_div(n_params).unwrap_or(0);
        let n_draws = chains.iter().map(complete).min().unwrap_or(0);
        let most = chains.iter().map(complete).max().unwrap_or(0);
        let longest = (most > n_draws).then_some(most);
        let mut rows = Vec::with_capacity(n_params);
        let mut non_finite = Vec::with_capacity(n_params);
        for (j, name) in names.iter().enumerate() {
            let cols: Vec<Vec<f64>> = chains
                .iter()
                .map(|c| c.as_ref()[..n_draws * n_params].iter().skip(j).step_by(n_params).copied().collect())
                .collect();
            let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
            let all = pooled(&refs);
            non_finite.push(all.iter().filter(|x| !x.is_finite()).count());
            rows.push(SummaryRow {
                name: name.as_ref().to_string(),
                mean: mean(&all),
                mcse_mean: mcse_mean(&refs),
                sd: var(&all).sqrt(),
                mcse_sd: mcse_sd(&refs),
                q5: quantile(&all, 0.05),
                q50: quantile(&all, 0.5),
                q95: quantile(&all, 0.95),
                ess_bulk: ess_bulk(&refs),
                ess_tail: ess_tail(&refs),
                rhat: rhat(&refs),
            });
        }
        Summary { rows, n_chains, n_draws, non_finite, longest }
    }

    /// The rows, one per name, in the order given.
    pub fn rows(&self) -> &[SummaryRow] {
        &self.rows
    }

    /// The row of the quantity called `name`, if there is one.
    pub fn row(&self, name: &str) -> Option<&SummaryRow> {
        self.rows.iter().find(|r| r.name == name)
    }

    /// Number of chains summarised.
    pub fn n_chains(&self) -> usize {
        self.n_chains
    }

    /// Draws per chain.
    pub fn n_draws(&self) -> usize {
        self.n_draws
    }

    /// Plain-language warnings about the run, empty when nothing is amiss: R-hat above
    /// [`RHAT_THRESHOLD`], bulk or tail ESS below [`MIN_ESS_PER_CHAIN`] per chain, non-finite
    /// draws, and too few draws for any diagnostic. Constant quantities (R-hat and ESS `NaN` by
    /// definition) are not warned about: they are usually fixed or deterministic on purpose.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(most) = self.longest {
            out.push(format!(
                "the chains have unequal lengths (from {} to {most} complete draws: a run stopped \
                 part-way?); the summary uses the first {} draws of each chain",
                self.n_draws, self.n_draws
            ));
        }
        if !self.rows.is_empty() && (self.n_chains == 0 || self.n_draws < MIN_DRAWS) {
            out.push(format!(
                "{} chains of {} draws: at least {MIN_DRAWS} draws per chain are needed for \
                 R-hat, ESS and MCSE, which are NaN",
                self.n_chains, self.n_draws
            ));
        }
        let min_ess = MIN_ESS_PER_CHAIN * self.n_chains as f64;
        for (row, &bad) in self.rows.iter().zip(&self.non_finite) {
            let name = &row.name;
            if bad > 0 {
                out.push(format!(
                    "{name}: {bad} of {} draws are NaN or infinite; its diagnostics are NaN",
                    self.n_chains * self.n_draws
                ));
            }
            if row.rhat > RHAT_THRESHOLD {
                out.push(format!(
                    "{name}: R-hat {:.3} > {RHAT_THRESHOLD}: the chains have not mixed, so its \
                     estimates are unreliable; run longer or reparameterise",
                    row.rhat
                ));
            }
            for (what, ess) in [("bulk", row.ess_bulk), ("tail", row.ess_tail)] {
                if ess < min_ess {
                    out.push(format!(
                        "{name}: {what} ESS {ess:.0} < {min_ess:.0} ({MIN_ESS_PER_CHAIN:.0} per \
                         chain): too few effective draws to trust its {} estimates and R-hat",
                        if what == "bulk" { "mean and median" } else { "5% and 95% quantile" }
                    ));
                }
            }
        }
        out
    }
}

/// `x` to `sig` significant digits, C's `%.{sig}g` without dropping trailing zeros: the width
/// stays the same from row to row.
fn fmt_sig(x: f64, sig: usize) -> String {
    if !x.is_finite() {
        return fmt_nonfinite(x);
    }
    if x == 0.0 {
        return "0".into();
    }
    let sci = format!("{:.*e}", sig - 1, x);
    let exp: i32 = sci[sci.find('e').unwrap() + 1..].parse().unwrap();
    if exp < -4 || exp >= sig as i32 {
        c_exponent(&sci)
    } else {
        format!("{:.*}", (sig as i32 - 1 - exp).max(0) as usize, x)
    }
}

/// `x` in scientific notation with `digits` after the point, C style (`3.3e-02`), as CmdStan
/// prints the MCSE.
fn fmt_sci(x: f64, digits: usize) -> String {
    if !x.is_finite() {
        return fmt_nonfinite(x);
    }
    c_exponent(&format!("{:.*e}", digits, x))
}

/// Rust's `1.5e-3` as C's `1.5e-03`.
fn c_exponent(sci: &str) -> String {
    let (mantissa, exp) = sci.split_once('e').unwrap();
    let exp: i32 = exp.parse().unwrap();
    format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
}

fn fmt_nonfinite(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x > 0.0 {
        "inf".into()
    } else {
        "-inf".into()
    }
}

/// The table of `stansummary`: one line per quantity, right-aligned columns, after a line saying
/// how many draws it rests on.
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HEADERS: [&str; 9] =
            ["Mean", "MCSE", "StdDev", "5%", "50%", "95%", "ESS_bulk", "ESS_tail", "R_hat"];
        let ess = |x: f64| if x.is_finite() { format!("{x:.0}") } else { fmt_nonfinite(x) };
        let rhat = |x: f64| if x.is_finite() { format!("{x:.3}") } else { fmt_nonfinite(x) };
        let cells: Vec<[String; 9]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    fmt_sig(r.mean, 3),
                    fmt_sci(r.mcse_mean, 1),
                    fmt_sig(r.sd, 3),
                    fmt_sig(r.q5, 3),
                    fmt_sig(r.q50, 3),
                    fmt_sig(r.q95, 3),
                    ess(r.ess_bulk),
                    ess(r.ess_tail),
                    rhat(r.rhat),
                ]
            })
            .collect();
        let name_w = self.rows.iter().map(|r| r.name.chars().count()).max().unwrap_or(0);
        let mut widths = HEADERS.map(str::len);
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.len());
            }
        }
        writeln!(
            f,
            "{} chains, each with {} draws ({} in all)",
            self.n_chains,
            self.n_draws,
            self.n_chains * self.n_draws
        )?;
        writeln!(f)?;
        write!(f, "{:name_w$}", "")?;
        for (h, w) in HEADERS.iter().zip(widths) {
            write!(f, "  {h:>w$}")?;
        }
        writeln!(f)?;
        for (r, row) in self.rows.iter().zip(&cells) {
            write!(f, "{:name_w$}", r.name)?;
            for (c, w) in row.iter().zip(widths) {
                write!(f, "  {c:>w$}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::diagnostics::chains::uniforms;

    /// Two quantities, `a` well mixed and `b` whose chain 1 sits higher, interleaved row-major.
    fn two_params(n_chains: usize, n_draws: usize) -> Vec<Vec<f64>> {
        (0..n_chains)
            .map(|c| {
                let a = uniforms(c as u64 + 1, n_draws);
                let b = uniforms(c as u64 + 100, n_draws);
                let shift = if c == 1 { 1.0 } else { 0.0 };
                a.iter().zip(&b).flat_map(|(&a, &b)| [a, b + shift]).collect()
            })
            .collect()
    }

    #[test]
    fn rows_match_the_functions() {
        let chains = two_params(4, 300);
        let s = Summary::new(&["a".to_string(), "b".to_string()], &chains);
        assert_eq!((s.n_chains(), s.n_draws(), s.rows().len()), (4, 300, 2));
        let a: Vec<Vec<f64>> = chains.iter().map(|c| c.iter().step_by(2).copied().collect()).collect();
        let refs: Vec<&[f64]> = a.iter().map(Vec::as_slice).collect();
        let row = s.row("a").unwrap();
        assert_eq!(row.rhat, rhat(&refs));
        assert_eq!(row.ess_bulk, ess_bulk(&refs));
        assert_eq!(row.ess_tail, ess_tail(&refs));
        assert_eq!(row.mcse_mean, mcse_mean(&refs));
        assert_eq!(row.mcse_sd, mcse_sd(&refs));
        assert_eq!(row.q50, quantile(&pooled(&refs), 0.5));
        assert!((row.mean - 0.5).abs() < 0.03 && (row.sd - (1.0f64 / 12.0).sqrt()).abs() < 0.03);
        assert!(s.row("c").is_none());
    }

    #[test]
    fn warnings_flag_the_shifted_chain_only() {
        let s = Summary::new(&["a", "b"], &two_params(4, 300));
        let w = s.warnings();
        assert!(s.row("b").unwrap().rhat > RHAT_THRESHOLD);
        assert!(w.iter().any(|w| w.starts_with("b: R-hat")), "{w:?}");
        assert!(!w.iter().any(|w| w.starts_with("a:")), "{w:?}");
    }

    #[test]
    fn warnings_for_low_ess_and_bad_draws() {
        // A random walk mixes slowly; a NaN spoils a quantity's diagnostics.
        let walk: Vec<Vec<f64>> = (0..2)
            .map(|c| {
                uniforms(c + 7, 400)
                    .iter()
                    .scan(0.0, |s, u| {
                        *s += u - 0.5;
                        Some(*s)
                    })
                    .collect()
            })
            .collect();
        let mut chains: Vec<Vec<f64>> =
            walk.iter().map(|w| w.iter().flat_map(|&x| [x, x, 1.0]).collect()).collect();
        chains[1][3 * 17 + 1] = f64::NAN;
        let s = Summary::new(&["walk", "spoilt", "fixed"], &chains);
        let w = s.warnings();
        assert!(w.iter().any(|w| w.starts_with("walk: bulk ESS")), "{w:?}");
        assert!(w.iter().any(|w| w.starts_with("spoilt: 1 of 800 draws are NaN")), "{w:?}");
        let spoilt = s.row("spoilt").unwrap();
        assert!(spoilt.rhat.is_nan() && spoilt.ess_bulk.is_nan() && spoilt.mean.is_nan());
        // A constant is not a problem: NaN diagnostics, no warning.
        let fixed = s.row("fixed").unwrap();
        assert!(fixed.rhat.is_nan() && fixed.ess_bulk.is_nan() && fixed.mcse_mean.is_nan());
        assert_eq!((fixed.mean, fixed.sd, fixed.q5, fixed.q95), (1.0, 0.0, 1.0, 1.0));
        assert!(!w.iter().any(|w| w.starts_with("fixed")), "{w:?}");
    }

    #[test]
    fn too_few_draws_and_no_chains() {
        let s = Summary::new(&["x"], &[vec![1.0, 2.0, 3.0], vec![2.0, 3.0, 1.0]]);
        assert_eq!(s.n_draws(), 3);
        assert!(s.row("x").unwrap().rhat.is_nan());
        assert!(s.row("x").unwrap().mean == 2.0);
        assert!(s.warnings()[0].contains("at least 4 draws"), "{:?}", s.warnings());
        let empty = Summary::new(&["x"], &Vec::<Vec<f64>>::new());
        assert!(empty.row("x").unwrap().mean.is_nan());
        assert_eq!(empty.warnings().len(), 1);
        let nothing = Summary::new::<&str, Vec<f64>>(&[], &[vec![], vec![]]);
        assert!(nothing.rows().is_empty() && nothing.warnings().is_empty());
        let _ = nothing.to_string();
    }

    #[test]
    fn chains_of_unequal_length_are_summarised_on_their_common_prefix() {
        // chain 1 stopped after 4 complete draws and half of a fifth
        let a: Vec<f64> = (0..12).map(|i| i as f64).collect();
        let s = Summary::new(&["a", "b"], &[a.clone(), a[..9].to_vec()]);
        assert_eq!(s.n_draws(), 4);
        let first4: Vec<f64> = (0..4).map(|k| a[2 * k]).collect();
        let want = first4.iter().sum::<f64>() / 4.0;
        assert!((s.row("a").unwrap().mean - want).abs() < 1e-12, "mean of the common prefix");
        assert!(s.warnings().iter().any(|w| w.contains("unequal lengths") && w.contains("from 4 to 6")), "{:?}", s.warnings());
        let equal = Summary::new(&["a", "b"], &[a.clone(), a.clone()]);
        assert!(!equal.warnings().iter().any(|w| w.contains("unequal")));
    }

    #[test]
    fn display_is_a_table() {
        let s = Summary::new(&["alpha", "b"], &two_params(4, 300));
        let text = s.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "4 chains, each with 300 draws (1200 in all)");
        let header: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(header, ["Mean", "MCSE", "StdDev", "5%", "50%", "95%", "ESS_bulk", "ESS_tail", "R_hat"]);
        assert!(lines[3].starts_with("alpha  "));
        assert!(lines[4].starts_with("b      "));
        assert_eq!(lines[3].len(), lines[2].len());
        let cells: Vec<&str> = lines[3].split_whitespace().collect();
        assert_eq!(cells.len(), 10);
        assert!(cells[2].contains("e-0"), "{}", cells[2]);
    }

    #[test]
    fn number_formats() {
        assert_eq!(fmt_sig(0.123456, 3), "0.123");
        assert_eq!(fmt_sig(-12.345, 3), "-12.3");
        assert_eq!(fmt_sig(999.9, 3), "1.00e+03");
        assert_eq!(fmt_sig(123.4, 3), "123");
        assert_eq!(fmt_sig(0.00001234, 3), "1.23e-05");
        assert_eq!(fmt_sig(0.0, 3), "0");
        assert_eq!(fmt_sig(f64::NAN, 3), "NaN");
        assert_eq!(fmt_sci(0.0331, 1), "3.3e-02");
        assert_eq!(fmt_sci(f64::NEG_INFINITY, 1), "-inf");
    }
}
