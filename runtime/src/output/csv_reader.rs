//! [`read_cmdstan_csv`]: CmdStan sampler CSV files (CmdStan's own, or [`CsvWriter`](super::CsvWriter)'s)
//! back into [`Draws`].

use crate::sampler::{ChainDraws, Draws, SamplerError};
use std::path::Path;

/// Reads CmdStan sampler CSV files, one per chain, into [`Draws`].
///
/// * Column names become Stan-style names with dots: `theta.1` stays, `theta[1]` and
///   `theta[1,2]` become `theta.1` and `theta.1.2`.
/// * `lp__` goes to [`ChainDraws::lp`], the other columns ending in `__` (`accept_stat__`, …) to
///   [`Draws::stat_names`] and [`ChainDraws::stats`], the rest to [`Draws::names`] and
///   [`ChainDraws::values`].
/// * The step size and inverse metric (diagonal, or dense row-major) come from the adaptation
///   comments (`# Step size = …`); without them they stay `0` and empty.
/// * Warmup rows (`save_warmup = 1`: the rows before `# Adaptation terminated`) are skipped;
///   [`Draws::warmup`] is the header's `num_warmup`, [`Draws::sampler`] its sampler (`snell_sampler`,
///   or `engine`: `nuts`, `static` → `hmc`, or `algorithm`).
/// * [`Draws::settings`] are the header's `snell.<key> = <value>` lines (written by
///   [`CsvWriter`](super::CsvWriter)), or else CmdStan's `engine`, `max_depth`, `metric` and
///   `delta`, those present.
/// * A file may end early, as the file of a killed run does: it gives the draws it holds (chains
///   may then differ in length). A last row without its newline is a row cut off by the kill and
///   is skipped.
///
/// All files must have the same columns. Errors name the file and the line.
pub fn read_cmdstan_csv(paths: &[impl AsRef<Path>]) -> Result<Draws, SamplerError> {
    if paths.is_empty() {
        return Err(SamplerError::io(String::new(), "no CSV files given"));
    }
    let mut draws = Draws::default();
    let mut first: Option<(String, Vec<String>)> = None;
    for path in paths {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SamplerError::from_io(shown.clone(), e))?;
        let file = parse(&text).map_err(|detail| SamplerError::io(shown.clone(), detail))?;
        match &first {
            None => {
                draws.names = file.names.clone();
                draws.stat_names = file.stat_names.clone();
                draws.sampler = file.sampler.clone();
                draws.warmup = file.warmup;
                draws.settings = file.settings.clone();
                first = Some((shown, file.columns.clone()));
            }
            Some((first_path, columns)) if *columns != file.columns => {
                return Err(SamplerError::io(shown, format!("its columns differ from those of {first_path}")));
            }
            Some(_) => {}
        }
        draws.chains.push(file.chain);
    }
    Ok(draws)
}

/// One parsed file.
struct CsvFile {
    columns: Vec<String>,
    names: Vec<String>,
    stat_names: Vec<String>,
    sampler: String,
    warmup: usize,
    settings: Vec<(String, String)>,
    chain: ChainDraws,
}

/// What the column of a row goes to.
#[derive(Clone, Copy)]
enum Column {
    Lp,
    Stat,
    Value,
}

/// Where the parser is in the inverse metric after its heading.
enum Metric {
    None,
    Diagonal,
    /// Dense: rows read so far, and the size (the first row's length).
    Dense(usize, usize),
}

/// `theta[1,2]` → `theta.1.2`; other names unchanged.
fn dotted(name: &str) -> String {
    let name = name.trim();
    if !name.contains('[') {
        return name.to_string();
    }
    name.chars()
        .filter_map(|c| match c {
            '[' | ',' => Some('.'),
            ']' | ' ' => None,
            c => Some(c),
        })
        .collect()
}

/// Splits the column line at commas outside brackets (`theta[1,2]` is one column).
fn split_columns(line: &str) -> Vec<String> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in line.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(dotted(&line[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(dotted(&line[start..]));
    out
}

fn number(s: &str) -> Option<f64> {
    let s = s.trim();
    match s {
        "nan" | "NaN" | "-nan" | "NA" => Some(f64::NAN),
        "inf" | "Inf" | "+inf" | "infinity" => Some(f64::INFINITY),
        "-inf" | "-Inf" | "-infinity" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

fn numbers(s: &str, lineno: usize, what: &str) -> Result<Vec<f64>, String> {
    if s.trim().is_empty() {
        return Ok(Vec::new());
    }
    s.split(',').map(|v| number(v).ok_or_else(|| format!("line {lineno}: {what}: `{}` is not a number", v.trim()))).collect()
}

fn parse(text: &str) -> Result<CsvFile, String> {
    // a byte-order mark (written by some editors and spreadsheet programs) is not part of the header
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut config: Vec<(String, String)> = Vec::new();
    let mut header: Option<(Vec<String>, Vec<Column>)> = None;
    let mut chain = ChainDraws::default();
    let (mut saw_adaptation, mut metric) = (false, Metric::None);
    let lines: Vec<&str> = text.split('\n').collect();
    let n_lines = lines.len();
    for (i, raw) in lines.into_iter().enumerate() {
        let lineno = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let unterminated = i + 1 == n_lines; // the text after the last newline
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let comment = comment.trim();
            if header.is_none() {
                // configuration: `key = value`, with CmdStan's `(Default)` marks
                if let Some((k, v)) = comment.split_once('=') {
                    let v = v.trim();
                    config.push((k.trim().to_string(), v.strip_suffix("(Default)").unwrap_or(v).trim().to_string()));
                }
                continue;
            }
            match metric {
                Metric::Diagonal => {
                    chain.inv_metric = numbers(comment, lineno, "inverse metric")?;
                    metric = Metric::None;
                    continue;
                }
                Metric::Dense(rows, n) => {
                    let row = numbers(comment, lineno, "inverse metric")?;
                    let n = if rows == 0 { row.len() } else { n };
                    if row.len() != n {
                        return Err(format!("line {lineno}: inverse metric row {} has {} elements, the first has {n}", rows + 1, row.len()));
                    }
                    chain.inv_metric.extend(row);
                    metric = if rows + 1 >= n { Metric::None } else { Metric::Dense(rows + 1, n) };
                    continue;
                }
                Metric::None => {}
            }
            if comment.starts_with("Adaptation terminated") {
                saw_adaptation = true;
                // rows before this line were warmup iterations (save_warmup = 1)
                chain = ChainDraws::default();
            } else if let Some(v) = comment.strip_prefix("Step size") {
                let v = v.trim_start().strip_prefix('=').unwrap_or(v);
                chain.step_size = number(v).ok_or_else(|| format!("line {lineno}: step size `{}` is not a number", v.trim()))?;
            } else if comment.starts_with("Diagonal elements of inverse mass matrix") {
                metric = Metric::Diagonal;
            } else if comment.starts_with("Elements of inverse mass matrix") {
                metric = Metric::Dense(0, 0);
            }
            continue;
        }
        let Some((columns, kinds)) = &header else {
            let columns = split_columns(line);
            let mut kinds = Vec::with_capacity(columns.len());
            for c in &columns {
                kinds.push(if c == "lp__" {
                    Column::Lp
                } else if c.ends_with("__") {
                    Column::Stat
                } else {
                    Column::Value
                });
            }
            if !columns.iter().any(|c| c == "lp__") {
                return Err(format!("line {lineno}: the column line has no `lp__` (is this a sampler CSV file?): `{}`", shorten(line)));
            }
            if let Some(dup) = columns.iter().enumerate().find_map(|(j, c)| columns[..j].contains(c).then_some(c)) {
                return Err(format!("line {lineno}: column `{dup}` appears twice"));
            }
            header = Some((columns, kinds));
            continue;
        };
        if !matches!(metric, Metric::None) {
            return Err(format!("line {lineno}: expected the inverse metric, found `{}`", shorten(line)));
        }
        let fields: Vec<&str> = line.split(',').collect();
        if unterminated {
            // a row cut off by a kill: skip it
            break;
        }
        if fields.len() != columns.len() {
            return Err(format!("line {lineno}: {} values, the column line has {} columns", fields.len(), columns.len()));
        }
        for ((field, kind), name) in fields.iter().zip(kinds).zip(columns) {
            let x = number(field).ok_or_else(|| format!("line {lineno}: column `{name}`: `{}` is not a number", field.trim()))?;
            match kind {
                Column::Lp => chain.lp.push(x),
                Column::Stat => chain.stats.push(x),
                Column::Value => chain.values.push(x),
            }
        }
    }
    if let Metric::Diagonal | Metric::Dense(..) = metric {
        return Err("the file ends inside the inverse metric".into());
    }
    let Some((columns, kinds)) = header else {
        return Err("no column line (`lp__,…`) found".into());
    };
    let get = |key: &str| config.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let warmup = get("num_warmup").and_then(|v| v.parse().ok()).unwrap_or(0);
    let saved_warmup = matches!(get("save_warmup"), Some("1" | "true"));
    if !saw_adaptation && saved_warmup && warmup > 0 && get("algorithm") != Some("fixed_param") {
        // killed during warmup: all rows are warmup iterations
        chain = ChainDraws::default();
    }
    let sampler = match (get("snell_sampler"), get("algorithm"), get("engine")) {
        (Some(s), _, _) => s,
        (None, Some("hmc"), Some("static")) => "hmc",
        (None, Some("hmc"), Some(engine)) => engine,
        (None, Some(algorithm), _) => algorithm,
        (None, None, _) => "",
    }
    .to_string();
    let mut settings: Vec<(String, String)> = config.iter().filter_map(|(k, v)| Some((k.strip_prefix("snell.")?.to_string(), v.clone()))).collect();
    if settings.is_empty() {
        settings = ["engine", "max_depth", "metric", "delta"].iter().filter_map(|&k| Some((k.to_string(), get(k)?.to_string()))).collect();
    }
    let pick = |want: fn(&Column) -> bool| columns.iter().zip(&kinds).filter(|(_, k)| want(k)).map(|(c, _)| c.clone()).collect::<Vec<_>>();
    Ok(CsvFile {
        names: pick(|k| matches!(k, Column::Value)),
        stat_names: pick(|k| matches!(k, Column::Stat)),
        columns,
        sampler,
        warmup,
        settings,
        chain,
    })
}

/// A line cut to 80 characters for error messages.
fn shorten(line: &str) -> String {
    match line.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bracketed_names_get_dots() {
        assert_eq!(split_columns("lp__,theta[1],b[1, 2],c.3,d"), ["lp__", "theta.1", "b.1.2", "c.3", "d"]);
    }
}
