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
//! [`chart_from_csv`] turns two numeric columns of any CSV (a sweep's results, a trace) into a chart, one
//! series per value of an optional grouping column; `uswim plot` is built on it.

mod axis;
mod draw;
mod error;
mod font;
mod table;

pub use axis::format_tick;
pub use error::PlotError;
pub use table::{CsvPlot, chart_from_csv};

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
}

impl Series {
    /// A series drawn in `style`.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>, style: SeriesStyle) -> Self {
        Self {
            name: name.into(),
            points,
            style,
        }
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
            for (index, &(x, y)) in s.points.iter().enumerate() {
                for (axis, value, log) in [("x", x, self.log_x), ("y", y, self.log_y)] {
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
        }
        Ok(())
    }
}

/// Size in pixels of a single chart.
pub const CHART_SIZE: (u32, u32) = (1024, 720);
/// Size in pixels of one panel of [`render_panels`].
pub const PANEL_SIZE: (u32, u32) = (720, 520);

/// Draws one chart into `path` (`.png` or `.svg`, case-insensitive), [`CHART_SIZE`] pixels.
pub fn render(chart: &Chart, path: impl AsRef<Path>) -> Result<(), PlotError> {
    render_panels(std::slice::from_ref(chart), 1, path)
}

/// Draws several charts as a grid of panels, `columns` wide and as many rows as needed, into `path`
/// (`.png` or `.svg`). Each panel is [`PANEL_SIZE`] pixels (a single chart gets [`CHART_SIZE`]).
/// Every chart is validated before anything is drawn.
pub fn render_panels(charts: &[Chart], columns: usize, path: impl AsRef<Path>) -> Result<(), PlotError> {
    let path = path.as_ref();
    let format = Format::of(path)?;
    if charts.is_empty() || columns == 0 {
        return Err(PlotError::NoPanels {
            charts: charts.len(),
            columns,
        });
    }
    for chart in charts {
        chart.validate()?;
    }
    font::ensure_registered().map_err(|message| PlotError::Draw {
        path: path.to_path_buf(),
        message,
    })?;
    let columns = columns.min(charts.len());
    let rows = charts.len().div_ceil(columns);
    let (panel_w, panel_h) = if charts.len() == 1 { CHART_SIZE } else { PANEL_SIZE };
    let size = (panel_w * columns as u32, panel_h * rows as u32);
    let draw_error = |message: String| PlotError::Draw {
        path: path.to_path_buf(),
        message,
    };
    let bytes = match format {
        Format::Svg => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
                draw::grid(&root, charts, rows, columns).map_err(draw_error)?;
                root.present().map_err(|e| draw_error(e.to_string()))?;
            }
            text.into_bytes()
        }
        Format::Png => {
            let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
                draw::grid(&root, charts, rows, columns).map_err(draw_error)?;
                root.present().map_err(|e| draw_error(e.to_string()))?;
            }
            encode_png(&rgb, size).map_err(draw_error)?
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
