//! Charts from CSV tables: pick an x column, one or more y columns, up to two grouping columns, row
//! filters, an interval (error) column and a facet column (one panel per value).

use super::units;
use super::{Chart, PlotError, Series, SeriesStyle};
use std::path::Path;
use std::str::FromStr;

/// Which columns of a CSV file to plot, and how.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CsvPlot {
    /// Column for the horizontal axis (numeric).
    pub x: String,
    /// Columns for the vertical axis (numeric); each gives its own series (per group).
    pub y: Vec<String>,
    /// Up to two columns whose distinct value combinations split the rows into series, in order of first
    /// appearance (any text: a scheme name, a tolerance, ...).
    pub group: Vec<String>,
    /// A column whose distinct values each get a panel (in order of first appearance).
    pub facet: Option<String>,
    /// Only rows matching every filter are plotted.
    pub filters: Vec<Filter>,
    /// The interval of each y value, drawn as a band (lines) or error bars (markers); one y column only.
    pub interval: Option<Interval>,
    /// Logarithmic horizontal axis.
    pub log_x: bool,
    /// Logarithmic vertical axis.
    pub log_y: bool,
    /// Chart title; default `Y vs X` (and the facet value).
    pub title: Option<String>,
    /// Drawing style; default: line with markers for series of up to 60 points, plain line beyond.
    pub style: Option<SeriesStyle>,
    /// Keep the column names and raw values on the axes; default: labels in words with scaled units
    /// ([`units::label`]).
    pub raw_units: bool,
}

/// A row filter `COLUMN=VALUE`: the cell equals VALUE as text, or as a number (`0.10` matches `0.1`).
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The column.
    pub column: String,
    /// The value the cell must have.
    pub value: String,
}

impl FromStr for Filter {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once('=') {
            Some((column, value)) if !column.trim().is_empty() => Ok(Filter {
                column: column.trim().to_string(),
                value: value.trim().to_string(),
            }),
            _ => Err(format!("`{text}` is not COLUMN=VALUE")),
        }
    }
}

impl Filter {
    fn matches(&self, cell: &str) -> bool {
        let cell = cell.trim();
        cell == self.value
            || matches!((cell.parse::<f64>(), self.value.parse::<f64>()), (Ok(a), Ok(b)) if a == b)
    }
}

/// Where the interval of each y value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Interval {
    /// A column holding the half width: y - w to y + w (e.g. `accuracy_ci95_pct`).
    HalfWidth(String),
    /// Two columns holding the low and high ends.
    Bounds(String, String),
}

/// A point read from a table: x, y and the interval of y, if any.
type TablePoint = (f64, f64, Option<(f64, f64)>);

/// Series with more points than this are drawn as plain lines by default.
const MAX_MARKED_POINTS: usize = 60;

/// Reads `path` and builds the chart described by `plot` (the first panel if it has a facet). See
/// [`charts_from_csv`].
pub fn chart_from_csv(path: impl AsRef<Path>, plot: &CsvPlot) -> Result<Chart, PlotError> {
    let mut charts = charts_from_csv(path, plot)?;
    Ok(charts.swap_remove(0))
}

/// Reads `path` and builds the charts described by `plot`: one per facet value (one without a facet),
/// sharing their axis ranges. Each series is sorted by x. Rows whose x or y cell is empty are skipped for
/// that series; any other cell that is not a number is an error naming the row (1-based, header
/// excluded) and column.
pub fn charts_from_csv(path: impl AsRef<Path>, plot: &CsvPlot) -> Result<Vec<Chart>, PlotError> {
    let path = path.as_ref();
    let table_error = |field: String, problem: String| PlotError::Table {
        path: path.to_path_buf(),
        field,
        problem,
    };
    if plot.y.is_empty() {
        return Err(table_error("--y".into(), "give at least one y column".into()));
    }
    if plot.group.len() > 2 {
        return Err(table_error(
            "--group".into(),
            format!("{} columns given; at most two", plot.group.len()),
        ));
    }
    if plot.interval.is_some() && plot.y.len() > 1 {
        return Err(table_error(
            "--err".into(),
            "an interval column goes with one y column".into(),
        ));
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
    let group_cols = plot
        .group
        .iter()
        .map(|g| column(g))
        .collect::<Result<Vec<_>, _>>()?;
    let facet_col = plot.facet.as_deref().map(column).transpose()?;
    let filter_cols = plot
        .filters
        .iter()
        .map(|f| column(&f.column))
        .collect::<Result<Vec<_>, _>>()?;
    let interval_cols = match &plot.interval {
        None => None,
        Some(Interval::HalfWidth(c)) => Some((column(c)?, None)),
        Some(Interval::Bounds(lo, hi)) => Some((column(lo)?, Some(column(hi)?))),
    };

    // Group, facet and series names in words (as the axes), unless raw units are asked for.
    let column_words = |name: &str| {
        if plot.raw_units {
            name.to_string()
        } else {
            units::words(name)
        }
    };
    let y_words = |name: &str| {
        if plot.raw_units {
            name.to_string()
        } else {
            units::words(units::Quantity::of(name).1)
        }
    };

    // Series keyed by (facet value, group values, y column index), in order of first appearance.
    let mut keys: Vec<(String, String, usize)> = Vec::new();
    let mut points: Vec<Vec<TablePoint>> = Vec::new();
    let mut rows_seen = 0usize;
    for (row_index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| csv_error(path, e))?;
        let row = row_index + 1;
        let text = |col: usize| record.get(col).unwrap_or("").trim();
        if !plot
            .filters
            .iter()
            .zip(&filter_cols)
            .all(|(f, &col)| f.matches(text(col)))
        {
            continue;
        }
        rows_seen += 1;
        let cell = |col: usize| -> Result<Option<f64>, PlotError> {
            let t = text(col);
            if t.is_empty() {
                return Ok(None);
            }
            t.parse::<f64>().map(Some).map_err(|_| {
                table_error(
                    format!("row {row}, column {}", &headers[col]),
                    format!("{t:?} is not a number"),
                )
            })
        };
        let Some(x) = cell(x_col)? else { continue };
        let group = plot
            .group
            .iter()
            .zip(&group_cols)
            .map(|(name, &col)| format!("{}={}", column_words(name), text(col)))
            .collect::<Vec<_>>()
            .join(", ");
        let facet = facet_col.map(|c| text(c).to_string()).unwrap_or_default();
        for (k, &y_col) in y_cols.iter().enumerate() {
            let Some(y) = cell(y_col)? else { continue };
            let interval = match interval_cols {
                None => None,
                Some((c, None)) => cell(c)?.map(|w| (y - w, y + w)),
                Some((lo, Some(hi))) => match (cell(lo)?, cell(hi)?) {
                    (Some(l), Some(h)) => Some((l, h)),
                    _ => None,
                },
            };
            let key = (facet.clone(), group.clone(), k);
            let index = match keys.iter().position(|existing| *existing == key) {
                Some(i) => i,
                None => {
                    keys.push(key);
                    points.push(Vec::new());
                    keys.len() - 1
                }
            };
            points[index].push((x, y, interval));
        }
    }
    if keys.is_empty() {
        let why = if rows_seen == 0 && !plot.filters.is_empty() {
            "no row matches the filters".to_string()
        } else {
            "no row has numbers in both the x and y columns".to_string()
        };
        return Err(table_error(plot.y.join(", "), why));
    }

    // Axis labels and unit scales from the column names and the largest values.
    let max_abs = |values: &mut dyn Iterator<Item = f64>| values.fold(0.0f64, |m, v| m.max(v.abs()));
    // Several y columns share one axis: scaled only if they hold the same quantity.
    let same_quantity = plot
        .y
        .iter()
        .all(|y| units::Quantity::of(y).0 == units::Quantity::of(&plot.y[0]).0);
    let (x_label, x_factor, y_label, y_factor) = if plot.raw_units {
        (plot.x.clone(), 1.0, plot.y.join(", "), 1.0)
    } else if !same_quantity {
        let x_max = max_abs(&mut points.iter().flatten().map(|p| p.0));
        let (x_label, x_factor) = units::label(&plot.x, x_max);
        (x_label, x_factor, plot.y.join(", "), 1.0)
    } else {
        let x_max = max_abs(&mut points.iter().flatten().map(|p| p.0));
        let y_max = max_abs(
            &mut points
                .iter()
                .flatten()
                .flat_map(|p| [p.1].into_iter().chain(p.2.map(|i| i.1))),
        );
        let (x_label, x_factor) = units::label(&plot.x, x_max);
        let (first, y_factor) = units::label(&plot.y[0], y_max);
        let y_label = if plot.y.len() == 1 {
            first
        } else {
            let unit = first.rfind(" (").map(|i| &first[i..]).unwrap_or("");
            let stems: Vec<String> = plot
                .y
                .iter()
                .map(|y| units::words(units::Quantity::of(y).1))
                .collect();
            format!("{}{unit}", stems.join(", "))
        };
        (x_label, x_factor, y_label, y_factor)
    };

    let mut facets: Vec<String> = Vec::new();
    for (facet, _, _) in &keys {
        if !facets.contains(facet) {
            facets.push(facet.clone());
        }
    }
    let mut charts: Vec<Chart> = facets
        .iter()
        .map(|facet| {
            let base = plot
                .title
                .clone()
                .unwrap_or_else(|| format!("{y_label} vs {x_label}"));
            let title = match &plot.facet {
                Some(f) => format!("{base}, {}={facet}", column_words(f)),
                None => base,
            };
            Chart::new(title)
                .x_label(x_label.as_str())
                .y_label(y_label.as_str())
                .log_x(plot.log_x)
                .log_y(plot.log_y)
        })
        .collect();
    for ((facet, group, k), mut pts) in keys.into_iter().zip(points) {
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let name = match (group.is_empty(), plot.y.len()) {
            (false, 1) => group,
            (false, _) => format!("{}, {group}", y_words(&plot.y[k])),
            (true, _) => y_words(&plot.y[k]),
        };
        let style = plot.style.unwrap_or(if pts.len() <= MAX_MARKED_POINTS {
            SeriesStyle::LinePoints
        } else {
            SeriesStyle::Line
        });
        let xy = pts.iter().map(|p| (p.0 * x_factor, p.1 * y_factor)).collect();
        let mut series = Series::new(name, xy, style);
        if plot.interval.is_some() {
            let band = pts
                .iter()
                .map(|p| {
                    let (lo, hi) = p.2.unwrap_or((p.1, p.1));
                    (lo * y_factor, hi * y_factor)
                })
                .collect();
            series = series.with_band(band);
        }
        let panel = facets.iter().position(|f| *f == facet).expect("facet listed");
        charts[panel].series.push(series);
    }
    if charts.len() > 1 {
        super::share_axes(&mut charts);
    }
    Ok(charts)
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
            group: vec!["scheme".into()],
            raw_units: true,
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
