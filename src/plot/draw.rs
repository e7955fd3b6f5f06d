//! Drawing validated charts onto a plotters drawing area (any backend: bitmap or SVG).

use super::axis::{Axis, format_tick};
use super::font::FAMILY;
use super::{Chart, SeriesStyle};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{BoldPoints, Ranged};
use plotters::element::{Drawable, PointCollection};
use plotters::prelude::*;
use plotters_backend::{BackendCoord, DrawingErrorKind};

/// Series colours: the ten-colour "tab10" palette, distinguishable and print-safe.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
];

/// Maximum number of labelled ticks per axis.
const MAX_LABELS: usize = 8;

/// Fills the area white and draws `charts` in a `rows` x `columns` grid, row by row.
pub(super) fn grid<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    charts: &[Chart],
    rows: usize,
    columns: usize,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let panels = root.split_evenly((rows, columns));
    for (chart, area) in charts.iter().zip(&panels) {
        one(area, chart)?;
    }
    Ok(())
}

/// Text and mark sizes, scaled with the panel height.
struct Sizes {
    title: f64,
    label: f64,
    tick: f64,
    stroke: u32,
    marker: i32,
}

impl Sizes {
    fn for_height(height: u32) -> Self {
        // Text shrinks more slowly than the panel, so that small panels stay legible.
        let s = (f64::from(height) / 720.0).sqrt().clamp(0.7, 1.6);
        Self {
            title: 26.0 * s,
            label: 20.0 * s,
            tick: 16.0 * s,
            stroke: (2.0 * s).round().max(1.0) as u32,
            marker: (5.0 * s).round().max(2.0) as i32,
        }
    }
}

fn one<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, chart: &Chart) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let (x_axis, y_axis) = fit_axes(chart);
    let (_, height) = area.dim_in_pixel();
    let sizes = Sizes::for_height(height);
    // Room for the widest y tick label (DejaVu digits are 0.64 em wide) plus the rotated axis label.
    let widest_y = y_axis
        .key_points(BoldPoints(MAX_LABELS))
        .iter()
        .map(|v| format_tick(*v).chars().count())
        .max()
        .unwrap_or(1) as f64;
    let y_area = (widest_y * 0.64 * sizes.tick + 2.0 * sizes.label + 12.0).round() as u32;
    let x_area = (sizes.tick + 2.2 * sizes.label + 12.0).round() as u32;

    let mut builder = ChartBuilder::on(area);
    builder
        .margin(12)
        .margin_right(28)
        .x_label_area_size(x_area)
        .y_label_area_size(y_area);
    if !chart.title.is_empty() {
        builder.caption(&chart.title, (FAMILY, sizes.title));
    }
    let mut ctx = builder.build_cartesian_2d(x_axis, y_axis).map_err(err)?;
    let formatter = |v: &f64| format_tick(*v);
    ctx.configure_mesh()
        .x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .x_labels(MAX_LABELS)
        .y_labels(MAX_LABELS)
        .x_label_formatter(&formatter)
        .y_label_formatter(&formatter)
        .label_style((FAMILY, sizes.tick))
        .axis_desc_style((FAMILY, sizes.label))
        .bold_line_style(BLACK.mix(0.18))
        .light_line_style(BLACK.mix(0.06))
        .axis_style(BLACK.stroke_width(1))
        .draw()
        .map_err(err)?;

    for (i, series) in chart.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let shape = Shape::ALL[i % Shape::ALL.len()];
        let line_style = color.stroke_width(sizes.stroke);
        let glyph = LegendGlyph {
            at: (0, 0),
            style: series.style,
            shape,
            color,
            size: sizes.marker,
            stroke: sizes.stroke,
        };
        if series.style != SeriesStyle::Points {
            let line = LineSeries::new(series.points.iter().copied(), line_style);
            if series.style == SeriesStyle::Line {
                let annotation = ctx.draw_series(line).map_err(err)?;
                if !series.name.is_empty() {
                    annotation
                        .label(series.name.as_str())
                        .legend(move |at| LegendGlyph { at, ..glyph });
                }
                continue;
            }
            ctx.draw_series(line).map_err(err)?;
        }
        // Markers are drawn after (on top of) the line.
        let markers = series
            .points
            .iter()
            .map(|&at| Marker::new(at, shape, color, sizes.marker));
        let annotation = ctx.draw_series(markers).map_err(err)?;
        if !series.name.is_empty() {
            annotation
                .label(series.name.as_str())
                .legend(move |at| LegendGlyph { at, ..glyph });
        }
    }

    if chart.series.iter().any(|s| !s.name.is_empty()) {
        ctx.configure_series_labels()
            .position(legend_position(chart, &x_axis, &y_axis))
            .margin(10)
            .legend_area_size((3.0 * sizes.marker as f64 + 16.0) as u32)
            .background_style(WHITE.mix(0.88))
            .border_style(BLACK.mix(0.4))
            .label_font((FAMILY, sizes.tick))
            .draw()
            .map_err(err)?;
    }
    Ok(())
}

/// The axes fitted to all points of the (validated) chart.
fn fit_axes(chart: &Chart) -> (Axis, Axis) {
    let points = chart.series.iter().flat_map(|s| s.points.iter());
    let (mut x_min, mut x_max, mut y_min, mut y_max) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points {
        x_min = x_min.min(x);
        x_max = x_max.max(x);
        y_min = y_min.min(y);
        y_max = y_max.max(y);
    }
    (
        Axis::fit(x_min, x_max, chart.log_x),
        Axis::fit(y_min, y_max, chart.log_y),
    )
}

/// The corner of the plot where the legend hides the fewest data points and line segments.
fn legend_position(chart: &Chart, x: &Axis, y: &Axis) -> SeriesLabelPosition {
    let named = chart.series.iter().filter(|s| !s.name.is_empty()).count();
    let height = (0.08 + 0.055 * named as f64).min(0.7);
    let width = 0.4;
    let mut samples = Vec::new();
    for s in &chart.series {
        let f: Vec<(f64, f64)> = s
            .points
            .iter()
            .map(|&(px, py)| (x.fraction(px), y.fraction(py)))
            .collect();
        samples.extend(f.iter().copied());
        if s.style != SeriesStyle::Points {
            for pair in f.windows(2) {
                for k in 1..16 {
                    let t = k as f64 / 16.0;
                    samples.push((
                        pair[0].0 + t * (pair[1].0 - pair[0].0),
                        pair[0].1 + t * (pair[1].1 - pair[0].1),
                    ));
                }
            }
        }
    }
    let corners = [
        (SeriesLabelPosition::UpperRight, 1.0 - width, 1.0 - height),
        (SeriesLabelPosition::UpperLeft, 0.0, 1.0 - height),
        (SeriesLabelPosition::LowerRight, 1.0 - width, 0.0),
        (SeriesLabelPosition::LowerLeft, 0.0, 0.0),
    ];
    let mut best = (usize::MAX, SeriesLabelPosition::UpperRight);
    for (position, x0, y0) in corners {
        let hidden = samples
            .iter()
            .filter(|&&(fx, fy)| fx >= x0 && fx <= x0 + width && fy >= y0 && fy <= y0 + height)
            .count();
        if hidden < best.0 {
            best = (hidden, position);
        }
    }
    best.1
}

/// Marker shapes, cycled through by series so that series stay distinguishable in grey scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Circle,
    Square,
    Triangle,
    Diamond,
}

impl Shape {
    const ALL: [Shape; 4] = [Shape::Circle, Shape::Square, Shape::Triangle, Shape::Diamond];

    fn draw<DB: DrawingBackend>(
        self,
        (x, y): BackendCoord,
        r: i32,
        color: RGBColor,
        backend: &mut DB,
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        let style = color.filled();
        match self {
            Shape::Circle => backend.draw_circle((x, y), r as u32, &style, true),
            Shape::Square => backend.draw_rect((x - r, y - r), (x + r, y + r), &style, true),
            Shape::Triangle => {
                let points = [(x, y - r - 1), (x - r - 1, y + r), (x + r + 1, y + r)];
                backend.fill_polygon(points, &style)
            }
            Shape::Diamond => {
                let r = r + 1;
                backend.fill_polygon([(x, y - r), (x + r, y), (x, y + r), (x - r, y)], &style)
            }
        }
    }
}

/// A data-point marker: one shape at one data coordinate.
struct Marker {
    at: (f64, f64),
    shape: Shape,
    color: RGBColor,
    size: i32,
}

impl Marker {
    fn new(at: (f64, f64), shape: Shape, color: RGBColor, size: i32) -> Self {
        Self {
            at,
            shape,
            color,
            size,
        }
    }
}

impl<'a> PointCollection<'a, (f64, f64)> for &'a Marker {
    type Point = &'a (f64, f64);
    type IntoIter = std::iter::Once<&'a (f64, f64)>;

    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.at)
    }
}

impl<DB: DrawingBackend> Drawable<DB> for Marker {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut pos: I,
        backend: &mut DB,
        _: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        match pos.next() {
            Some(at) => self.shape.draw(at, self.size, self.color, backend),
            None => Ok(()),
        }
    }
}

/// A legend entry's sample: a short line, a marker, or both, as the series is drawn.
#[derive(Clone, Copy)]
struct LegendGlyph {
    at: BackendCoord,
    style: SeriesStyle,
    shape: Shape,
    color: RGBColor,
    size: i32,
    stroke: u32,
}

impl<'a> PointCollection<'a, BackendCoord> for &'a LegendGlyph {
    type Point = &'a BackendCoord;
    type IntoIter = std::iter::Once<&'a BackendCoord>;

    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.at)
    }
}

impl<DB: DrawingBackend> Drawable<DB> for LegendGlyph {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut pos: I,
        backend: &mut DB,
        _: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        let Some((x, y)) = pos.next() else {
            return Ok(());
        };
        let half = 1 + 3 * self.size / 2;
        let center = (x + half, y);
        if self.style != SeriesStyle::Points {
            let style = self.color.stroke_width(self.stroke);
            backend.draw_line((x, y), (x + 2 * half, y), &style)?;
        }
        if self.style != SeriesStyle::Line {
            self.shape.draw(center, self.size, self.color, backend)?;
        }
        Ok(())
    }
}
