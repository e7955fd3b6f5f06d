//! Charts from CSV tables: pick an x column, one or more y columns and an optional grouping column.

use super::{Chart, PlotError, Series, SeriesStyle};
use std::path::Path;

/// Which columns of a CSV file to plot, and how.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CsvPlot {
    /// Column for the horizontal axis (numeric).
    pub x: String,
    /// Columns for the vertical axis (numeric); each gives its own series (per group).
    pub y: Vec<String>,
    /// Optional column whose distinct values split the rows into series, in order of first appearance
    /// (any text: a scheme name, a tolerance, ...).
    pub group: Option<String>,
    /// Logarithmic horizontal axis.
    pub log_x: bool,
    /// Logarithmic vertical axis.
    pub log_y: bool,
    /// Chart title; default `Y vs X`.
    pub title: Option<String>,
    /// Drawing style; default: line with markers for series of up to 60 points, plain line beyond.
    pub style: Option<SeriesStyle>,
}

/// Series with more points than this are drawn as plain lines by default.
const MAX_MARKED_POINTS: usize = 60;

/// Reads `path` and builds the chart described by `plot`. Each series is sorted by x. Rows whose x or
/// y cell is empty are skipped for that series; any other cell that is not a number is an error naming
/// the row (1-based, header excluded) and column.
pub fn chart_from_csv(path: impl AsRef<Path>, plot: &CsvPlot) -> Result<Chart, PlotError> {
    let path = path.as_ref();
    let table_error = |field: String, problem: String| PlotError::Table {
        path: path.to_path_buf(),
        field,
        problem,
    };
    if plot.y.is_empty() {
        return Err(table_error("--y".into(), "give at least one y column".into()));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| csv_error(path, e))?;
    let headers = reader.headers().map_err(|e| csv_error(path, e))?.clone();
    let column = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            let available: Vec<&str> = headers.iter().collect();
            table_error(
                name.to_string(),
                format!("no such column; columns: {}", available.join(", ")),
            )
        })
    };
    let x_col = column(&plot.x)?;
    let y_cols = plot.y.iter().map(|y| column(y)).collect::<Result<Vec<_>, _>>()?;
    let group_col = plot.group.as_deref().map(column).transpose()?;

    // Series keyed by (group value, y column index), in order of first appearance.
    let mut keys: Vec<(String, usize)> = Vec::new();
    let mut points: Vec<Vec<(f64, f64)>> = Vec::new();
    for (row_index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| csv_error(path, e))?;
        let row = row_index + 1;
        let cell = |col: usize| -> Result<Option<f64>, PlotError> {
            let text = record.get(col).unwrap_or("").trim();
            if text.is_empty() {
                return Ok(None);
            }
            text.parse::<f64>().map(Some).map_err(|_| {
                table_error(
                    format!("row {row}, column {}", &headers[col]),
                    format!("{text:?} is not a number"),
                )
            })
        };
        let Some(x) = cell(x_col)? else { continue };
        let group = group_col
            .map(|g| record.get(g).unwrap_or("").to_string())
            .unwrap_or_default();
        for (k, &y_col) in y_cols.iter().enumerate() {
            let Some(y) = cell(y_col)? else { continue };
            let key = (group.clone(), k);
            let index = match keys.iter().position(|existing| *existing == key) {
                Some(i) => i,
                None => {
                    keys.push(key);
                    points.push(Vec::new());
                    keys.len() - 1
                }
            };
            points[index].push((x, y));
        }
    }
    if keys.is_empty() {
        return Err(table_error(
            plot.y.join(", "),
            "no row has numbers in both the x and y columns".into(),
        ));
    }

    let y_title = plot.y.join(", ");
    let mut chart = Chart::new(
        plot.title
            .clone()
            .unwrap_or_else(|| format!("{y_title} vs {}", plot.x)),
    )
    .x_label(plot.x.as_str())
    .y_label(y_title)
    .log_x(plot.log_x)
    .log_y(plot.log_y);
    for ((group, k), mut pts) in keys.into_iter().zip(points) {
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let name = match (&plot.group, plot.y.len()) {
            (Some(g), 1) => format!("{g}={group}"),
            (Some(g), _) => format!("{}, {g}={group}", plot.y[k]),
            (None, _) => plot.y[k].clone(),
        };
        let style = plot.style.unwrap_or(if pts.len() <= MAX_MARKED_POINTS {
            SeriesStyle::LinePoints
        } else {
            SeriesStyle::Line
        });
        chart.series.push(Series::new(name, pts, style));
    }
    Ok(chart)
}

fn csv_error(path: &Path, e: csv::Error) -> PlotError {
    let field = e
        .position()
        .map(|p| format!("line {}", p.line()))
        .unwrap_or_default();
    match e.into_kind() {
        csv::ErrorKind::Io(source) => PlotError::Io {
            path: path.to_path_buf(),
            source,
        },
        kind => PlotError::Table {
            path: path.to_path_buf(),
            field,
            problem: format!("malformed CSV: {kind:?}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("uswim-plot-table-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn groups_become_sorted_series_in_order_of_appearance() {
        let path = write(
            "g.csv",
            "rows,scheme,t_ns\n256,ispp,40\n64,ispp,10\n64,fixed,30\n256,fixed,\n",
        );
        let plot = CsvPlot {
            x: "rows".into(),
            y: vec!["t_ns".into()],
            group: Some("scheme".into()),
            ..CsvPlot::default()
        };
        let chart = chart_from_csv(&path, &plot).unwrap();
        assert_eq!(chart.series.len(), 2);
        assert_eq!(chart.series[0].name, "scheme=ispp");
        assert_eq!(chart.series[0].points, vec![(64.0, 10.0), (256.0, 40.0)]);
        assert_eq!(chart.series[1].points, vec![(64.0, 30.0)]);
        assert_eq!(chart.title, "t_ns vs rows");
    }

    #[test]
    fn bad_columns_and_cells_are_named() {
        let path = write("b.csv", "a,b\n1,2\n3,x\n");
        let plot = |x: &str, y: &str| CsvPlot {
            x: x.into(),
            y: vec![y.into()],
            ..CsvPlot::default()
        };
        let err = chart_from_csv(&path, &plot("a", "c")).unwrap_err().to_string();
        assert!(err.contains("c: no such column; columns: a, b"), "{err}");
        let err = chart_from_csv(&path, &plot("a", "b")).unwrap_err().to_string();
        assert!(err.contains("row 2, column b") && err.contains("\"x\""), "{err}");
    }
}
