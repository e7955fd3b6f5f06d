//! Gantt charts of a programming run: one lane per programming channel, time across, one bar per array
//! coloured by its layer (from `arrays.csv`, with the layer names of the `layers.csv` beside it).

use super::PlotError;
use super::axis::{Axis, format_tick};
use super::draw::{PALETTE, Sizes};
use super::font::FAMILY;
use super::units::Quantity;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// One bar: an interval on a lane.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Lane (programming channel), from 0 at the top.
    pub lane: u32,
    /// Start, in the chart's time unit.
    pub start: f64,
    /// End, in the chart's time unit (>= start).
    pub end: f64,
    /// Index into [`Gantt::groups`]: the bar's colour and legend entry.
    pub group: usize,
}

/// Lanes against time with coloured bars.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Gantt {
    /// Title (may be empty).
    pub title: String,
    /// Label of the time axis, with its unit.
    pub time_label: String,
    /// What a lane is (e.g. `channel`).
    pub lane_label: String,
    /// Legend entries, by group index.
    pub groups: Vec<String>,
    /// The bars.
    pub bars: Vec<Bar>,
}

impl Gantt {
    /// Checks that the chart can be drawn: at least one bar, finite intervals with start <= end, known
    /// groups.
    pub fn validate(&self) -> Result<(), PlotError> {
        if self.bars.is_empty() {
            return Err(PlotError::EmptyData {
                chart: self.title.clone(),
                what: "no bars".into(),
            });
        }
        for (index, b) in self.bars.iter().enumerate() {
            let ok =
                b.start.is_finite() && b.end.is_finite() && b.start <= b.end && b.group < self.groups.len();
            if !ok {
                return Err(PlotError::EmptyData {
                    chart: self.title.clone(),
                    what: format!(
                        "bar {index} ({} to {}, group {}) is not an interval",
                        b.start, b.end, b.group
                    ),
                });
            }
        }
        Ok(())
    }

    fn lanes(&self) -> u32 {
        self.bars.iter().map(|b| b.lane + 1).max().unwrap_or(1)
    }
}

/// The Gantt chart of an `arrays.csv` (columns `channel`, `start_ns`, `end_ns`, `layer`): bars named by
/// its `layer_name` column, else by the layer names of `layers.csv` in the same folder when it is there
/// (`layer N` otherwise), time in the
/// unit that fits the run (ns, µs, ms or s).
pub fn gantt_from_arrays_csv(path: impl AsRef<Path>) -> Result<Gantt, PlotError> {
    let path = path.as_ref();
    let rows = read_table(path)?;
    let table_error = |field: &str, problem: String| PlotError::Table {
        path: path.to_path_buf(),
        field: field.to_string(),
        problem,
    };
    let (header, records) = rows;
    let column = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            table_error(
                name,
                format!(
                    "no such column (a Gantt chart reads the arrays.csv of `uswim program`); columns: {}",
                    header.join(", ")
                ),
            )
        })
    };
    let (channel, start, end, layer) = (
        column("channel")?,
        column("start_ns")?,
        column("end_ns")?,
        column("layer")?,
    );
    let names = layer_names(&path.with_file_name("layers.csv"));
    // The arrays' own layer names (`layer_name`) when arrays.csv has them, else those of layers.csv.
    let own_name = header.iter().position(|h| h == "layer_name");
    let mut raw = Vec::with_capacity(records.len());
    let mut max_ns: f64 = 0.0;
    for (i, r) in records.iter().enumerate() {
        let num = |col: usize| -> Result<f64, PlotError> {
            r[col].trim().parse::<f64>().map_err(|_| {
                table_error(
                    &format!("row {}, column {}", i + 1, header[col]),
                    format!("{:?} is not a number", r[col]),
                )
            })
        };
        let (lane, s, e, l) = (num(channel)?, num(start)?, num(end)?, num(layer)?);
        max_ns = max_ns.max(e.abs());
        let name = own_name
            .map(|c| r[c].trim().to_string())
            .filter(|n| !n.is_empty());
        raw.push((lane as u32, s, e, l as usize, name));
    }
    let scale = Quantity::TimeNs.scale(max_ns);
    let mut groups: Vec<String> = Vec::new();
    let mut layer_group: Vec<(usize, usize)> = Vec::new();
    let mut bars = Vec::with_capacity(raw.len());
    for (lane, s, e, l, name) in raw {
        let group = match layer_group.iter().find(|(layer, _)| *layer == l) {
            Some(&(_, g)) => g,
            None => {
                groups.push(
                    name.or_else(|| names.get(l).cloned())
                        .unwrap_or_else(|| format!("layer {l}")),
                );
                layer_group.push((l, groups.len() - 1));
                groups.len() - 1
            }
        };
        bars.push(Bar {
            lane,
            start: s * scale.factor,
            end: e * scale.factor,
            group,
        });
    }
    Ok(Gantt {
        title: String::new(),
        time_label: format!("time from the start of programming ({})", scale.unit),
        lane_label: "programming channel".into(),
        groups,
        bars,
    })
}

/// The header and rows of a CSV file.
fn read_table(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>), PlotError> {
    let io_error = |e: csv::Error| PlotError::Table {
        path: path.to_path_buf(),
        field: String::new(),
        problem: e.to_string(),
    };
    let mut reader = csv::Reader::from_path(path).map_err(io_error)?;
    let header = reader
        .headers()
        .map_err(io_error)?
        .iter()
        .map(str::to_string)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.map(|r| r.iter().map(str::to_string).collect()))
        .collect::<Result<_, _>>()
        .map_err(io_error)?;
    Ok((header, rows))
}

/// Layer names by index from a `layers.csv` (`layer`, `name` columns); empty if it cannot be read.
fn layer_names(path: &Path) -> Vec<String> {
    let Ok((header, rows)) = read_table(path) else {
        return Vec::new();
    };
    let (Some(index), Some(name)) = (
        header.iter().position(|h| h == "layer"),
        header.iter().position(|h| h == "name"),
    ) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for r in rows {
        if let Ok(i) = r[index].parse::<usize>() {
            if names.len() <= i {
                names.resize(i + 1, String::new());
            }
            names[i] = r[name].clone();
        }
    }
    names
}

/// Draws a validated Gantt chart.
pub(super) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    g: &Gantt,
    sizes: &Sizes,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let lanes = g.lanes();
    let t_max = g.bars.iter().map(|b| b.end).fold(0.0, f64::max);
    let x_axis = Axis::Linear {
        lo: 0.0,
        hi: if t_max > 0.0 { t_max * 1.02 } else { 1.0 },
    };
    // The legend sits in a strip above the lanes, so it never covers a bar: as many entries per row as
    // the longest name allows.
    let (width_px, _) = area.dim_in_pixel();
    let longest = g.groups.iter().map(|n| n.chars().count()).max().unwrap_or(1) as f64;
    let entry_px = (longest * 0.62 + 2.5) * sizes.tick;
    let per_row = ((0.85 * f64::from(width_px) / entry_px).floor() as usize).clamp(1, 8);
    let legend_rows = g.groups.len().div_ceil(per_row) as f64;
    let y_hi = f64::from(lanes) + 0.2 + 0.9 * legend_rows;
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(12)
        .margin_right(28)
        .x_label_area_size(sizes.x_label_area())
        .y_label_area_size(sizes.y_label_area(lanes.to_string().len().max(2)));
    if !g.title.is_empty() {
        builder.caption(&g.title, (FAMILY, sizes.title));
    }
    let y_axis = Axis::Linear { lo: -0.6, hi: y_hi };
    let mut ctx = builder.build_cartesian_2d(x_axis, y_axis).map_err(err)?;
    let lane_label = |v: &f64| {
        let lane = v.round();
        if (v - lane).abs() < 1e-6 && lane >= 0.0 && lane < f64::from(lanes) {
            format!("{}", lanes - 1 - lane as u32)
        } else {
            String::new()
        }
    };
    ctx.configure_mesh()
        .x_desc(g.time_label.as_str())
        .y_desc(g.lane_label.as_str())
        .x_labels(8)
        // A label per lane up to 16 lanes (ticks on whole numbers), every 2nd or 5th beyond.
        .y_labels((2 * lanes as usize + 4).min(40))
        .x_label_formatter(&|v: &f64| format_tick(*v))
        .y_label_formatter(&lane_label)
        .disable_y_mesh()
        .label_style((FAMILY, sizes.tick))
        .axis_desc_style((FAMILY, sizes.label))
        .bold_line_style(BLACK.mix(0.18))
        .light_line_style(BLACK.mix(0.06))
        .axis_style(BLACK.stroke_width(1))
        .draw()
        .map_err(err)?;
    // Lane 0 at the top.
    let y_of = |lane: u32| f64::from(lanes - 1 - lane);
    ctx.draw_series(g.bars.iter().map(|b| {
        let color = PALETTE[b.group % PALETTE.len()];
        let y = y_of(b.lane);
        Rectangle::new([(b.start, y - 0.38), (b.end, y + 0.38)], color.filled())
    }))
    .map_err(err)?;
    // Thin white edges separate back-to-back arrays.
    ctx.draw_series(g.bars.iter().map(|b| {
        let y = y_of(b.lane);
        Rectangle::new([(b.start, y - 0.38), (b.end, y + 0.38)], WHITE.stroke_width(1))
    }))
    .map_err(err)?;
    // Legend: swatches and names in rows above the lanes.
    let span = x_axis_span(&x_axis);
    for (i, name) in g.groups.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let row = (i / per_row) as f64;
        let col = (i % per_row) as f64;
        let x0 = span * (0.01 + col / per_row as f64);
        let y = f64::from(lanes) + 0.35 + 0.9 * (legend_rows - 1.0 - row);
        ctx.draw_series(std::iter::once(Rectangle::new(
            [(x0, y - 0.22), (x0 + span * 0.025, y + 0.22)],
            color.filled(),
        )))
        .map_err(err)?;
        ctx.draw_series(std::iter::once(Text::new(
            name.clone(),
            (x0 + span * 0.032, y + 0.25),
            (FAMILY, sizes.tick).into_font(),
        )))
        .map_err(err)?;
    }
    Ok(())
}

fn x_axis_span(axis: &Axis) -> f64 {
    match *axis {
        Axis::Linear { lo, hi } | Axis::Log { lo, hi } => hi - lo,
    }
}
