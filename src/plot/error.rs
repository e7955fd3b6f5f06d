//! The plotting error: what is wrong, with the chart, series, point or column it concerns.

use std::path::PathBuf;

/// A chart that cannot be drawn, or a file that cannot be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// The output path does not end in `.png` or `.svg`.
    #[error("{path}: unsupported output extension {extension:?}; use .png or .svg")]
    UnsupportedExtension {
        /// The output path as given.
        path: PathBuf,
        /// Its extension (empty if it has none).
        extension: String,
    },
    /// `render_panels` was given no chart, or zero columns.
    #[error(
        "a panel figure needs at least one chart and one column (got {charts} charts, {columns} columns)"
    )]
    NoPanels {
        /// Number of charts given.
        charts: usize,
        /// Number of columns asked for.
        columns: usize,
    },
    /// A chart has no series, or a series has no point.
    #[error("chart {chart:?}: {what}")]
    EmptyData {
        /// The chart's title.
        chart: String,
        /// Which part is empty (`no series`, or `series "x" has no points`).
        what: String,
    },
    /// A coordinate is NaN or infinite.
    #[error("chart {chart:?}, series {series:?}, point {index}: {axis} = {value} is not a finite number")]
    NonFinite {
        /// The chart's title.
        chart: String,
        /// The series' name.
        series: String,
        /// Index of the point in the series.
        index: usize,
        /// `x` or `y`.
        axis: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A coordinate on a logarithmic axis is zero or negative.
    #[error(
        "chart {chart:?}, series {series:?}, point {index}: {axis} = {value} cannot be shown on a \
         logarithmic {axis} axis (values must be > 0)"
    )]
    NonPositiveOnLogAxis {
        /// The chart's title.
        chart: String,
        /// The series' name.
        series: String,
        /// Index of the point in the series.
        index: usize,
        /// `x` or `y`.
        axis: &'static str,
        /// The offending value.
        value: f64,
    },
    /// The plotting backend failed while drawing.
    #[error("{path}: drawing failed: {message}")]
    Draw {
        /// The output path.
        path: PathBuf,
        /// The backend's message.
        message: String,
    },
    /// A table given to [`crate::plot::chart_from_csv`] is unusable (missing column, non-numeric cell...).
    #[error("{path}: {field}: {problem}")]
    Table {
        /// The CSV file.
        path: PathBuf,
        /// The column (and row, where relevant).
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl PlotError {
    /// Whether the error comes from bad input (data, column names, extension) rather than I/O or the backend.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, PlotError::Draw { .. } | PlotError::Io { .. })
    }
}
