//! PNG and SVG charts of results: x-y line and scatter charts, alone or as a grid of panels.
//!
//! Build a [`Chart`] of [`Series`], then call [`render`] (one chart) or [`render_panels`] (a grid of
//! charts in one figure). The output format follows the file extension (`.png` or `.svg`); the file is
//! rendered in memory and written atomically, so a failed render never leaves a partial file. Text uses
//! the embedded DejaVu Sans font, so no system font library is needed and output is identical on every
//! machine.
//!
//! ```no_run
//! use uswim::plot::{self, Chart, Series};
//!
//! let chart = Chart::new("Programming latency vs array size")
//!     .x_label("array rows")
//!     .y_label("programming time (ns)")
//!     .log_x(true)
//!     .log_y(true)
//!     .with_series(Series::line_points("ispp", vec![(64.0, 1.2e6), (256.0, 4.1e6), (1024.0, 1.6e7)]))
//!     .with_series(Series::points("fixed", vec![(64.0, 2.0e6), (256.0, 7.5e6), (1024.0, 3.1e7)]));
//! plot::render(&chart, "latency.png")?;
//! # Ok::<(), uswim::plot::PlotError>(())
//! ```
//!
//! Every problem is a [`PlotError`] naming the chart, series and point: an unsupported extension, a chart
//! with no data, a NaN, or a value <= 0 on a logarithmic axis.
//!
//! [`chart_from_csv`] turns numeric columns of any CSV (a sweep's results, a trace) into a chart, one
//! series per value of up to two grouping columns, with optional row filters, error columns and facets
//! (one panel per value of a column); column names become axis labels in words with scaled units
//! ([`units`]). [`Gantt`] charts show the arrays of `arrays.csv` on their programming channels over
//! time. `uswim plot` is built on both.
//!
//! Figures come in [`FigureSize`]s: the screen default and the one- and two-column widths of a paper.
//! Series may carry an interval per point ([`Series::with_band`]), drawn as a shaded band around a line
//! or as error bars on markers; [`share_axes`] gives a set of panels one axis range. The legend goes in
//! the corner that hides no data, or in a strip right of the plot if no corner is free: it never covers
//! data, and the axes keep the data's range.

mod axis;
mod draw;
mod error;
mod font;
mod gantt;
mod table;
pub mod units;

pub use axis::format_tick;
pub use error::PlotError;
pub use gantt::{Bar, Gantt, gantt_from_arrays_csv};
pub use table::{CsvPlot, Filter, Interval, chart_from_csv, charts_from_csv};

use plotters::prelude::*;
use std::path::Path;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeriesStyle {
    /// A line through the points in the order given (sort by x first for a curve).
    Line,
    /// A marker at each point, no line (a scatter plot).
    Points,
    /// A line with a marker at each point.
    #[default]
    LinePoints,
}

/// One named set of (x, y) points, drawn in one colour and shown in the legend.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Legend entry. Series with an empty name are drawn but not listed in the legend.
    pub name: String,
    /// The points, in drawing order. All must be finite (and > 0 on a logarithmic axis).
    pub points: Vec<(f64, f64)>,
    /// Line, markers, or both.
    pub style: SeriesStyle,
    /// An interval (low, high) of y per point, e.g. a 95% confidence interval: a shaded band for a line,
    /// error bars for markers. `None`: no interval.
    pub band: Option<Vec<(f64, f64)>>,
}

impl Series {
    /// A series drawn in `style`.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>, style: SeriesStyle) -> Self {
        Self {
            name: name.into(),
            points,
            style,
            band: None,
        }
    }

    /// Gives each point an interval (low, high) of y, in the order of the points.
    pub fn with_band(mut self, band: Vec<(f64, f64)>) -> Self {
        self.band = Some(band);
        self
    }

    /// A series drawn as a line.
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self::new(name, points, SeriesStyle::Line)
    }

    /// A series drawn as markers only.
    pub fn points(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self::new(name, points, SeriesStyle::Points)
    }

    /// A series drawn as a line with markers.
    pub fn line_points(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self::new(name, points, SeriesStyle::LinePoints)
    }
}

/// A chart: title, axis labels (put the unit in them, e.g. `time (ns)`), axis scales and series.
/// The axis ranges are fitted to the data, with a small margin.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chart {
    /// Title, drawn above the plot (may be empty).
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis.
    pub y_label: String,
    /// Logarithmic (base 10) horizontal axis; every x must then be > 0.
    pub log_x: bool,
    /// Logarithmic (base 10) vertical axis; every y must then be > 0.
    pub log_y: bool,
    /// The series, drawn in order (later ones on top), coloured from a fixed ten-colour palette.
    pub series: Vec<Series>,
    /// The x data range shown (before the margin); `None`: fitted to the data.
    pub x_range: Option<(f64, f64)>,
    /// The y data range shown (before the margin); `None`: fitted to the data.
    pub y_range: Option<(f64, f64)>,
}

impl Chart {
    /// An empty chart with a title; add labels and series with the builder methods.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            ..Self::default()
        }
    }

    /// Sets the horizontal axis label.
    pub fn x_label(mut self, label: impl Into<String>) -> Self {
        self.x_label = label.into();
        self
    }

    /// Sets the vertical axis label.
    pub fn y_label(mut self, label: impl Into<String>) -> Self {
        self.y_label = label.into();
        self
    }

    /// Makes the horizontal axis logarithmic (or linear).
    pub fn log_x(mut self, log: bool) -> Self {
        self.log_x = log;
        self
    }

    /// Makes the vertical axis logarithmic (or linear).
    pub fn log_y(mut self, log: bool) -> Self {
        self.log_y = log;
        self
    }

    /// Adds a series.
    pub fn with_series(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// The (min, max) of the x and y values of every point and interval; `None` without points.
    pub fn data_ranges(&self) -> Option<((f64, f64), (f64, f64))> {
        let mut x = (f64::INFINITY, f64::NEG_INFINITY);
        let mut y = x;
        for s in &self.series {
            for &(px, py) in &s.points {
                x = (x.0.min(px), x.1.max(px));
                y = (y.0.min(py), y.1.max(py));
            }
            for &(lo, hi) in s.band.iter().flatten() {
                y = (y.0.min(lo), y.1.max(hi));
            }
        }
        (x.0 <= x.1).then_some((x, y))
    }

    /// Checks that the chart can be drawn: at least one series, no empty series, every coordinate finite
    /// and > 0 on a logarithmic axis.
    pub fn validate(&self) -> Result<(), PlotError> {
        if self.series.is_empty() {
            return Err(PlotError::EmptyData {
                chart: self.title.clone(),
                what: "no series".to_string(),
            });
        }
        for s in &self.series {
            if s.points.is_empty() {
                return Err(PlotError::EmptyData {
                    chart: self.title.clone(),
                    what: format!("series {:?} has no points", s.name),
                });
            }
            if let Some(band) = &s.band
                && band.len() != s.points.len()
            {
                return Err(PlotError::EmptyData {
                    chart: self.title.clone(),
                    what: format!(
                        "series {:?} has {} points but {} intervals",
                        s.name,
                        s.points.len(),
                        band.len()
                    ),
                });
            }
            let intervals = s
                .band
                .iter()
                .flatten()
                .flat_map(|&(lo, hi)| [("y", lo), ("y", hi)]);
            let coordinates = s.points.iter().flat_map(|&(x, y)| [("x", x), ("y", y)]);
            for (k, (axis, value)) in coordinates.chain(intervals).enumerate() {
                let index = if k < 2 * s.points.len() {
                    k / 2
                } else {
                    (k - 2 * s.points.len()) / 2
                };
                let log = if axis == "x" { self.log_x } else { self.log_y };
                if !value.is_finite() {
                    return Err(PlotError::NonFinite {
                        chart: self.title.clone(),
                        series: s.name.clone(),
                        index,
                        axis,
                        value,
                    });
                }
                if log && value <= 0.0 {
                    return Err(PlotError::NonPositiveOnLogAxis {
                        chart: self.title.clone(),
                        series: s.name.clone(),
                        index,
                        axis,
                        value,
                    });
                }
            }
        }
        Ok(())
    }
}

/// Size in pixels of a single chart.
pub const CHART_SIZE: (u32, u32) = (1024, 720);
/// Size in pixels of one panel of [`render_panels`].
pub const PANEL_SIZE: (u32, u32) = (720, 520);

/// The size of a figure: for the screen, or the width of one or two columns of a two-column paper
/// (IEEE: 3.5 in and 7.16 in) with 8 pt tick labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FigureSize {
    /// [`CHART_SIZE`] for one chart, [`PANEL_SIZE`] per panel.
    #[default]
    Screen,
    /// 3.5 in wide, 2.6 in tall per row of panels.
    OneColumn,
    /// 7.16 in wide, 2.6 in tall per row of panels.
    TwoColumn,
}

/// Resolution of PNG paper figures, in dots per inch (SVG uses the CSS 96 px per inch).
const PAPER_PNG_DPI: f64 = 300.0;
/// Resolution of SVG paper figures: CSS pixels per inch.
const SVG_DPI: f64 = 96.0;

impl FigureSize {
    /// Pixel size of the whole figure of `rows` x `columns` panels, and the tick-label size in pixels.
    fn pixels(self, rows: usize, columns: usize, single: bool, format: Format) -> ((u32, u32), f64) {
        let dpi = match format {
            Format::Png => PAPER_PNG_DPI,
            Format::Svg => SVG_DPI,
        };
        let paper = |width_in: f64| {
            let w = (width_in * dpi).round() as u32;
            let h = (2.6 * dpi * rows as f64).round() as u32;
            ((w, h), 8.0 / 72.0 * dpi)
        };
        match self {
            FigureSize::Screen => {
                let (w, h) = if single { CHART_SIZE } else { PANEL_SIZE };
                let tick = 16.0 * (f64::from(h) / 720.0).sqrt().clamp(0.7, 1.6);
                ((w * columns as u32, h * rows as u32), tick)
            }
            FigureSize::OneColumn => paper(3.5),
            FigureSize::TwoColumn => paper(7.16),
        }
    }
}

/// Draws one chart into `path` (`.png` or `.svg`, case-insensitive), [`CHART_SIZE`] pixels.
pub fn render(chart: &Chart, path: impl AsRef<Path>) -> Result<(), PlotError> {
    render_panels(std::slice::from_ref(chart), 1, path)
}

/// Draws several charts as a grid of panels, `columns` wide and as many rows as needed, into `path`
/// (`.png` or `.svg`). Each panel is [`PANEL_SIZE`] pixels (a single chart gets [`CHART_SIZE`]).
/// Every chart is validated before anything is drawn.
pub fn render_panels(charts: &[Chart], columns: usize, path: impl AsRef<Path>) -> Result<(), PlotError> {
    render_panels_sized(charts, columns, FigureSize::Screen, path)
}

/// [`render_panels`] at a chosen [`FigureSize`].
pub fn render_panels_sized(
    charts: &[Chart],
    columns: usize,
    size: FigureSize,
    path: impl AsRef<Path>,
) -> Result<(), PlotError> {
    if charts.is_empty() || columns == 0 {
        return Err(PlotError::NoPanels {
            charts: charts.len(),
            columns,
        });
    }
    for chart in charts {
        chart.validate()?;
    }
    let columns = columns.min(charts.len());
    let rows = charts.len().div_ceil(columns);
    let figure = draw::Figure::Panels {
        charts,
        rows,
        columns,
    };
    render_figure(&figure, size, rows, columns, charts.len() == 1, path.as_ref())
}

/// Draws a [`Gantt`] chart into `path` (`.png` or `.svg`) at `size`.
pub fn render_gantt(gantt: &Gantt, size: FigureSize, path: impl AsRef<Path>) -> Result<(), PlotError> {
    gantt.validate()?;
    render_figure(&draw::Figure::Gantt(gantt), size, 1, 1, true, path.as_ref())
}

/// Gives every chart the union of their data ranges (points and intervals), so that panels side by side
/// share their axes.
pub fn share_axes(charts: &mut [Chart]) {
    let ranges: Vec<_> = charts.iter().filter_map(Chart::data_ranges).collect();
    if ranges.is_empty() {
        return;
    }
    let union = |a: (f64, f64), r: (f64, f64)| (a.0.min(r.0), a.1.max(r.1));
    let empty = (f64::INFINITY, f64::NEG_INFINITY);
    let x = ranges.iter().map(|r| r.0).fold(empty, union);
    let y = ranges.iter().map(|r| r.1).fold(empty, union);
    for chart in charts {
        chart.x_range = Some(x);
        chart.y_range = Some(y);
    }
}

fn render_figure(
    figure: &draw::Figure<'_>,
    size: FigureSize,
    rows: usize,
    columns: usize,
    single: bool,
    path: &Path,
) -> Result<(), PlotError> {
    let format = Format::of(path)?;
    font::ensure_registered().map_err(|message| PlotError::Draw {
        path: path.to_path_buf(),
        message,
    })?;
    let (pixels, tick_px) = size.pixels(rows, columns, single, format);
    let draw_error = |message: String| PlotError::Draw {
        path: path.to_path_buf(),
        message,
    };
    let bytes = match format {
        Format::Svg => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, pixels).into_drawing_area();
                draw::figure(&root, figure, tick_px).map_err(draw_error)?;
                root.present().map_err(|e| draw_error(e.to_string()))?;
            }
            text.into_bytes()
        }
        Format::Png => {
            let mut rgb = vec![0u8; pixels.0 as usize * pixels.1 as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, pixels).into_drawing_area();
                draw::figure(&root, figure, tick_px).map_err(draw_error)?;
                root.present().map_err(|e| draw_error(e.to_string()))?;
            }
            encode_png(&rgb, pixels).map_err(draw_error)?
        }
    };
    crate::trace::atomic::write_bytes(path, &bytes).map_err(|source| PlotError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Png,
    Svg,
}

impl Format {
    fn of(path: &Path) -> Result<Self, PlotError> {
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match extension.as_str() {
            "png" => Ok(Format::Png),
            "svg" => Ok(Format::Svg),
            _ => Err(PlotError::UnsupportedExtension {
                path: path.to_path_buf(),
                extension,
            }),
        }
    }
}

/// Encodes an 8-bit RGB buffer as PNG in memory.
fn encode_png(rgb: &[u8], (width, height): (u32, u32)) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Chart {
        Chart::new("t")
            .x_label("x")
            .y_label("y")
            .with_series(Series::line_points("a", vec![(1.0, 2.0), (2.0, 3.0)]))
    }

    #[test]
    fn validation_names_the_problem() {
        assert!(sample().validate().is_ok());
        let err = Chart::new("empty").validate().unwrap_err();
        assert!(err.to_string().contains("no series"), "{err}");
        let err = Chart::new("c")
            .with_series(Series::line("s", vec![]))
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("\"s\" has no points"), "{err}");
        let err = sample()
            .log_y(true)
            .with_series(Series::points("z", vec![(1.0, 0.0)]))
            .validate();
        let err = err.unwrap_err().to_string();
        assert!(err.contains("\"z\"") && err.contains("logarithmic y"), "{err}");
        let err = sample()
            .with_series(Series::points("n", vec![(f64::NAN, 1.0)]))
            .validate();
        assert!(err.unwrap_err().to_string().contains("x = NaN"));
    }

    #[test]
    fn format_follows_extension() {
        assert_eq!(Format::of(Path::new("a/b.PNG")).unwrap(), Format::Png);
        assert_eq!(Format::of(Path::new("b.svg")).unwrap(), Format::Svg);
        let err = Format::of(Path::new("b.jpg")).unwrap_err();
        assert!(err.to_string().contains("\"jpg\""), "{err}");
        assert!(Format::of(Path::new("noext")).is_err());
    }
}
