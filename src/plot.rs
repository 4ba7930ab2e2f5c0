//! Figures for the examples, written as SVG with [plotters](https://docs.rs/plotters): lines,
//! points, shaded bands (credible intervals) and density-normalised histograms on one pair of axes.
//!
//! ```no_run
//! use snell_examples::plot::Plot;
//! let xs: Vec<f64> = (0..100).map(|i| i as f64 / 10.0).collect();
//! Plot::new("sin and a band")
//!     .labels("x", "y")
//!     .band("±0.2", xs.iter().map(|&x| (x, x.sin() - 0.2, x.sin() + 0.2)).collect())
//!     .line("sin x", xs.iter().map(|&x| (x, x.sin())).collect())
//!     .save("output/sin.svg")
//!     .unwrap();
//! ```

use plotters::prelude::*;
use std::path::Path;

/// What one series draws.
#[derive(Clone, Debug)]
enum Kind {
    Line(Vec<(f64, f64)>),
    Points(Vec<(f64, f64)>),
    /// `(x, lower, upper)`.
    Band(Vec<(f64, f64, f64)>),
    /// Raw values, drawn as a density-normalised step histogram.
    Histogram(Vec<f64>, usize),
}

#[derive(Clone, Debug)]
struct Series {
    name: String,
    kind: Kind,
}

/// One figure: a title, axis labels, and series drawn in the order they were added.
#[derive(Clone, Debug)]
pub struct Plot {
    title: String,
    x_label: String,
    y_label: String,
    series: Vec<Series>,
    size: (u32, u32),
    x_range: Option<(f64, f64)>,
    y_range: Option<(f64, f64)>,
}

/// Errors while writing a figure.
#[derive(Debug, thiserror::Error)]
#[error("writing {path}: {detail}")]
pub struct PlotError {
    path: String,
    detail: String,
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

impl Plot {
    /// An empty figure of 800 × 500 pixels.
    pub fn new(title: &str) -> Self {
        Self { title: title.into(), x_label: String::new(), y_label: String::new(), series: Vec::new(), size: (800, 500), x_range: None, y_range: None }
    }
    /// Axis labels.
    pub fn labels(mut self, x: &str, y: &str) -> Self {
        self.x_label = x.into();
        self.y_label = y.into();
        self
    }
    /// Size in pixels.
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = (width, height);
        self
    }
    /// Fixes the x range instead of fitting it to the data.
    pub fn x_range(mut self, lo: f64, hi: f64) -> Self {
        self.x_range = Some((lo, hi));
        self
    }
    /// Fixes the y range instead of fitting it to the data.
    pub fn y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }
    /// A polyline through `points`.
    pub fn line(mut self, name: &str, points: Vec<(f64, f64)>) -> Self {
        self.series.push(Series { name: name.into(), kind: Kind::Line(points) });
        self
    }
    /// Dots at `points`.
    pub fn points(mut self, name: &str, points: Vec<(f64, f64)>) -> Self {
        self.series.push(Series { name: name.into(), kind: Kind::Points(points) });
        self
    }
    /// A shaded band between `lower` and `upper` at each `x` (e.g. a 90% credible band).
    pub fn band(mut self, name: &str, band: Vec<(f64, f64, f64)>) -> Self {
        self.series.push(Series { name: name.into(), kind: Kind::Band(band) });
        self
    }
    /// A histogram of `values` in `bins` equal bins, scaled to integrate to one, so that it can be
    /// compared with a density drawn by [`Plot::line`].
    pub fn histogram(mut self, name: &str, values: Vec<f64>, bins: usize) -> Self {
        self.series.push(Series { name: name.into(), kind: Kind::Histogram(values, bins.max(1)) });
        self
    }

    /// Writes the figure as SVG to `path` (its folder is created).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), PlotError> {
        let path = path.as_ref();
        let err = |detail: String| PlotError { path: path.display().to_string(), detail };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        let hists: Vec<Vec<(f64, f64)>> = self.series.iter().map(|s| match &s.kind {
            Kind::Histogram(v, bins) => histogram_steps(v, *bins),
            _ => Vec::new(),
        }).collect();
        let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        let mut grow = |x: f64, y: f64| {
            if x.is_finite() && y.is_finite() {
                x_lo = x_lo.min(x);
                x_hi = x_hi.max(x);
                y_lo = y_lo.min(y);
                y_hi = y_hi.max(y);
            }
        };
        for (s, h) in self.series.iter().zip(&hists) {
            match &s.kind {
                Kind::Line(p) | Kind::Points(p) => p.iter().for_each(|&(x, y)| grow(x, y)),
                Kind::Band(b) => b.iter().for_each(|&(x, lo, hi)| {
                    grow(x, lo);
                    grow(x, hi)
                }),
                Kind::Histogram(..) => h.iter().for_each(|&(x, y)| grow(x, y)),
            }
        }
        if !x_lo.is_finite() {
            return Err(err("no finite values to plot".into()));
        }
        let pad = |lo: f64, hi: f64| {
            let w = if hi > lo { hi - lo } else { 1.0 };
            (lo - 0.03 * w, hi + 0.03 * w)
        };
        let (x_lo, x_hi) = self.x_range.unwrap_or_else(|| pad(x_lo, x_hi));
        let (y_lo, y_hi) = self.y_range.unwrap_or_else(|| pad(y_lo, y_hi));

        let root = SVGBackend::new(path, self.size).into_drawing_area();
        let draw = |e: DrawingAreaErrorKind<std::io::Error>| err(e.to_string());
        root.fill(&WHITE).map_err(draw)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)
            .map_err(draw)?;
        chart.configure_mesh().x_desc(&self.x_label).y_desc(&self.y_label).draw().map_err(draw)?;
        for (i, (s, h)) in self.series.iter().zip(&hists).enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let legend = match &s.kind {
                Kind::Line(p) => chart.draw_series(LineSeries::new(p.iter().copied(), color.stroke_width(2))).map_err(draw)?,
                Kind::Histogram(..) => chart.draw_series(LineSeries::new(h.iter().copied(), color.stroke_width(2))).map_err(draw)?,
                Kind::Points(p) => {
                    // points outside fixed axis ranges are left out rather than drawn on the frame
                    let inside = |&&(x, y): &&(f64, f64)| (x_lo..=x_hi).contains(&x) && (y_lo..=y_hi).contains(&y);
                    chart.draw_series(p.iter().filter(inside).map(|&(x, y)| Circle::new((x, y), 2, color.filled()))).map_err(draw)?
                }
                Kind::Band(b) => {
                    let upper = b.iter().map(|&(x, _, hi)| (x, hi));
                    let lower = b.iter().rev().map(|&(x, lo, _)| (x, lo));
                    chart.draw_series(std::iter::once(Polygon::new(upper.chain(lower).collect::<Vec<_>>(), color.mix(0.25).filled()))).map_err(draw)?
                }
            };
            if !s.name.is_empty() {
                legend.label(s.name.clone()).legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 14, y + 4)], color.filled()));
            }
        }
        if self.series.iter().any(|s| !s.name.is_empty()) {
            chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(draw)?;
        }
        root.present().map_err(draw)?;
        Ok(())
    }
}

/// The outline of a density-normalised histogram as a step polyline.
fn histogram_steps(values: &[f64], bins: usize) -> Vec<(f64, f64)> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return Vec::new();
    }
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let width = if hi > lo { (hi - lo) / bins as f64 } else { 1.0 };
    let mut counts = vec![0usize; bins];
    for v in &finite {
        counts[(((v - lo) / width) as usize).min(bins - 1)] += 1;
    }
    let scale = 1.0 / (finite.len() as f64 * width);
    let mut out = vec![(lo, 0.0)];
    for (b, &c) in counts.iter().enumerate() {
        let (x0, x1, y) = (lo + b as f64 * width, lo + (b + 1) as f64 * width, c as f64 * scale);
        out.push((x0, y));
        out.push((x1, y));
    }
    out.push((lo + bins as f64 * width, 0.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_integrates_to_one() {
        let v: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.7).sin()).collect();
        let steps = histogram_steps(&v, 20);
        let area: f64 = steps.windows(2).map(|w| (w[1].0 - w[0].0) * w[0].1.max(w[1].1) * ((w[1].0 - w[0].0) > 0.0) as u8 as f64).sum();
        assert!((area - 1.0).abs() < 1e-9, "area {area}");
    }

    #[test]
    fn writes_an_svg() {
        let dir = std::env::temp_dir().join("snell-plot-test");
        let path = dir.join("t.svg");
        Plot::new("t").labels("x", "y").line("a", vec![(0.0, 0.0), (1.0, 1.0)]).band("b", vec![(0.0, -1.0, 1.0), (1.0, 0.0, 2.0)]).histogram("h", vec![0.1, 0.2, 0.5], 3).points("p", vec![(0.5, 0.5)]).save(&path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("polyline") && svg.contains("\nt\n"));
        assert!(Plot::new("empty").save(dir.join("e.svg")).is_err());
    }
}
